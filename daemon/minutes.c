/* SPDX-License-Identifier: MIT */
/* The last hour, minute by minute; see minutes.h. */
#include <stdbool.h>
#include <string.h>

#include "json.h"
#include "minutes.h"

/* The slot of epoch minute m, emptied first when it held an older minute. */
static int
minutes_slot(struct minutes *mn, int64_t m)
{
	int	i = (int)(m % MINUTES_N);

	if (mn->stamp[i] != m) {
		mn->stamp[i] = m;
		mn->done[i] = mn->failed[i] = 0;
		mn->p99[i] = -1;
	}
	return (i);
}

void
minutes_init(struct minutes *mn)
{
	memset(mn, 0, sizeof(*mn));
	for (int i = 0; i < MINUTES_N; i++)
		mn->p99[i] = -1;
}

void
minutes_count(struct minutes *mn, int64_t now_ms, enum minutes_kind kind)
{
	int	i = minutes_slot(mn, now_ms / 60000);

	if (kind == MINUTES_DONE)
		mn->done[i]++;
	else
		mn->failed[i]++;
}

void
minutes_p99(struct minutes *mn, int64_t now_ms, int64_t p99)
{
	int	i = minutes_slot(mn, now_ms / 60000);

	if (p99 > mn->p99[i])
		mn->p99[i] = p99;
}

/* One series as an array, oldest minute first. */
static void
minutes_series(const struct minutes *mn, int64_t end, const char *key,
    int which, struct json_out *o)
{
	json_arr_begin(o, key);
	for (int64_t m = end - MINUTES_N + 1; m <= end; m++) {
		int	i = (int)(m % MINUTES_N);
		bool	live = mn->stamp[i] == m;

		if (which == 0)
			json_add_int(o, NULL, live ? mn->done[i] : 0);
		else if (which == 1)
			json_add_int(o, NULL, live ? mn->failed[i] : 0);
		else
			json_add_int(o, NULL, live ? mn->p99[i] : -1);
	}
	json_arr_end(o);
}

void
minutes_json(const struct minutes *mn, int64_t now_ms, struct json_out *o)
{
	int64_t	end = now_ms / 60000;

	json_obj_begin(o, "minutes");
	json_add_int(o, "end", end);
	minutes_series(mn, end, "done", 0, o);
	minutes_series(mn, end, "failed", 1, o);
	minutes_series(mn, end, "start_p99_ms", 2, o);
	json_obj_end(o);
}
