/* SPDX-License-Identifier: MIT */
/* Unit tests of minutes.c: the last hour's per-minute counts. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "json.h"
#include "minutes.h"

#define MIN	60000LL
#define T0	(29000000LL * MIN)	/* an epoch minute, 0 in the ring */

/* The JSON of mn at now, without the outer braces' caller. */
static char *
render(const struct minutes *mn, int64_t now)
{
	struct json_out	o;

	json_out_init(&o);
	json_obj_begin(&o, NULL);
	minutes_json(mn, now, &o);
	json_obj_end(&o);
	return (json_out_take(&o));
}

/* The value at index i (oldest first) of array key in s. */
static long long
at(const char *s, const char *key, int i)
{
	char		 want[64];
	const char	*p;

	snprintf(want, sizeof(want), "\"%s\":[", key);
	p = strstr(s, want);
	ck_assert_ptr_nonnull(p);
	p += strlen(want);
	while (i-- > 0) {
		p = strchr(p, ',');
		ck_assert_ptr_nonnull(p);
		p++;
	}
	return (strtoll(p, NULL, 10));
}

/*
 * Counts land in their minute, the p99 keeps the worst window, the hour
 * ends with now's minute, and a slot an hour old reads as empty.
 */
START_TEST(counts_by_minute_for_an_hour)
{
	struct minutes	 mn;
	char		*s;

	minutes_init(&mn);
	minutes_count(&mn, T0 + 5, MINUTES_DONE);
	minutes_count(&mn, T0 + 59999, MINUTES_DONE);
	minutes_count(&mn, T0 + MIN, MINUTES_FAILED);
	minutes_p99(&mn, T0 + 10, 7);
	minutes_p99(&mn, T0 + 20, 3);
	s = render(&mn, T0 + MIN + 1);
	ck_assert_msg(h_json_ok(s), "%s", s);
	ck_assert(strstr(s, "{\"minutes\":{\"end\":29000001,") == s);
	ck_assert_int_eq(at(s, "done", 58), 2);
	ck_assert_int_eq(at(s, "done", 59), 0);
	ck_assert_int_eq(at(s, "failed", 59), 1);
	ck_assert_int_eq(at(s, "start_p99_ms", 58), 7);
	ck_assert_int_eq(at(s, "start_p99_ms", 59), -1);
	ck_assert_int_eq(at(s, "done", 0), 0);
	free(s);
	/* An hour later the same slot holds the new minute only. */
	minutes_count(&mn, T0 + 60 * MIN, MINUTES_DONE);
	s = render(&mn, T0 + 60 * MIN);
	ck_assert_int_eq(at(s, "done", 59), 1);
	ck_assert_int_eq(at(s, "start_p99_ms", 59), -1);
	ck_assert_int_eq(at(s, "failed", 0), 1);	/* T0 + 1 min, still in the hour */
	ck_assert_int_eq(at(s, "done", 58), 0);
	free(s);
	/* Read two hours on: all of it has gone. */
	s = render(&mn, T0 + 180 * MIN);
	for (int i = 0; i < MINUTES_N; i++)
		ck_assert_int_eq(at(s, "done", i), 0);
	free(s);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("minutes");
	TCase	*tc = tcase_create("minutes");

	tcase_add_test(tc, counts_by_minute_for_an_hour);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
