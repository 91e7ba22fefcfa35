/* SPDX-License-Identifier: MIT */
/* The typed calls of schedule.lua (periodic jobs); see store.h. */
#include <stdint.h>
#include <string.h>

#include "store.h"
#include "store_call.h"

void
store_schedule(struct store_call *c, enum store_schedule_mode mode,
    const struct store_schedule_ref *ref)
{
	static const char *const modes[] = {
		[STORE_SCHEDULE_STATE] = "state",
		[STORE_SCHEDULE_ENQUEUE] = "enqueue",
		[STORE_SCHEDULE_REPLACE] = "replace",
		[STORE_SCHEDULE_REMOVE] = "remove",
	};

	store_begin(c, SCRIPT_SCHEDULE, 2, (const char *[]){ ref->key,
	    ref->k_delayed });
	store_arg(c, modes[mode]);
	store_arg(c, ref->prefix);
	store_arg(c, ref->name);
	store_arg(c, ref->fp);
}

void
store_schedule_job(struct store_call *c, const char *handler,
    const char *payload, const char *resource, const char *wake,
    const char *events)
{
	store_arg(c, handler);
	store_arg(c, payload != NULL ? payload : "");
	store_arg(c, resource != NULL ? resource : "");
	store_arg(c, wake);
	store_arg(c, events);
}

void
store_schedule_tick(struct store_call *c, int64_t tick_ms, int64_t due_ms,
    const char *text)
{
	store_arg_int(c, tick_ms);
	store_arg_int(c, due_ms);
	store_arg_copy(c, text);
}

/* {now, last, spec} for state, {now, last, count} otherwise. */
int
store_schedule_reply(const redisReply *r, enum store_schedule_mode mode,
    struct store_scheduled *out, char *err, size_t errlen)
{
	int64_t	v[2];

	memset(out, 0, sizeof(*out));
	out->spec = "";
	if (store_ints(r, 2, v, err, errlen) == -1 || r->elements < 3)
		return (store_bad_reply(r, err, errlen));
	out->now_ms = v[0];
	out->last_ms = v[1];
	if (mode == STORE_SCHEDULE_STATE) {
		if (r->element[2]->type == REDIS_REPLY_STRING)
			out->spec = r->element[2]->str;
	} else if (!store_int(r->element[2], &out->count))
		return (store_bad_reply(r, err, errlen));
	return (0);
}
