/* SPDX-License-Identifier: MIT */
/*
 * The typed calls of the sources' scripts: zsetmove.lua (plain zsets),
 * listtake.lua, listrecover.lua and listreturn.lua (lists), touch.lua, expjob.lua and
 * track.lua (expirations); see store.h.
 */
#include <stdint.h>
#include <string.h>

#include "store.h"
#include "store_call.h"

void
store_zsetmove(struct store_call *c, const char *zset, const char *delayed,
    const char *prefix, const char *handler, int64_t unit_ms, int64_t limit,
    const char *wake, const char *events)
{
	store_begin(c, SCRIPT_ZSETMOVE, 2, (const char *[]){ zset, delayed });
	store_arg(c, prefix);
	store_arg(c, handler);
	store_arg_int(c, unit_ms);
	store_arg_int(c, limit);
	store_arg(c, wake);
	store_arg(c, events);
}

int
store_zsetmove_reply(const redisReply *r, struct store_zsetmoved *out,
    char *err, size_t errlen)
{
	int64_t	v[3];

	if (store_ints(r, 3, v, err, errlen) == -1)
		return (-1);
	out->now_ms = v[0];
	out->next_due_ms = v[1];
	out->moved = v[2];
	return (0);
}

void
store_listtake(struct store_call *c, const char *proc, const char *main,
    const char *delayed, const char *prefix, const char *handler,
    const char *nonce, int64_t batch, const char *wake, const char *events)
{
	store_begin(c, SCRIPT_LISTTAKE, 3, (const char *[]){ proc, main,
	    delayed });
	store_arg(c, prefix);
	store_arg(c, handler);
	store_arg(c, nonce);
	store_arg_int(c, batch);
	store_arg(c, wake);
	store_arg(c, events);
}

int
store_listtake_reply(const redisReply *r, struct store_listtaken *out,
    char *err, size_t errlen)
{
	int64_t	v[2];

	if (store_ints(r, 2, v, err, errlen) == -1)
		return (-1);
	out->now_ms = v[0];
	out->created = v[1];
	return (0);
}

void
store_listrecover(struct store_call *c, const char *registry, const char *main,
    const char *proc_prefix, const char *alive_prefix, const char *me)
{
	store_begin(c, SCRIPT_LISTRECOVER, 2, (const char *[]){ registry,
	    main });
	store_arg(c, proc_prefix);
	store_arg(c, alive_prefix);
	store_arg(c, me);
}

int
store_listrecover_reply(const redisReply *r, struct store_listrecovered *out,
    char *err, size_t errlen)
{
	int64_t	v[2];

	if (store_ints(r, 2, v, err, errlen) == -1)
		return (-1);
	out->moved = v[0];
	out->owners = v[1];
	return (0);
}

void
store_touch(struct store_call *c, const char *watch, const char *db,
    int64_t limit)
{
	store_begin(c, SCRIPT_TOUCH, 1, (const char *[]){ watch });
	store_arg(c, db);
	store_arg_int(c, limit);
}

int
store_touch_reply(const redisReply *r, struct store_touched *out, char *err,
    size_t errlen)
{
	int64_t	v[4];

	if (store_ints(r, 4, v, err, errlen) == -1)
		return (-1);
	out->now_ms = v[0];
	out->first_ms = v[1];
	out->touched = v[2];
	out->removed = v[3];
	return (0);
}

void
store_listreturn(struct store_call *c, const char *proc, const char *main)
{
	store_begin(c, SCRIPT_LISTRETURN, 2, (const char *[]){ proc, main });
}

void
store_expjob(struct store_call *c, const struct store_expjob_args *a)
{
	store_begin(c, SCRIPT_EXPJOB, 1, (const char *[]){ a->k_delayed });
	store_arg(c, a->prefix);
	store_arg_int(c, a->db);
	store_arg_bin(c, a->key, a->key_len);
	store_arg(c, a->handler);
	store_arg(c, a->resource);
	store_arg(c, a->pattern);
	store_arg_int(c, a->marker_ttl_ms);
	store_arg(c, a->wake);
	store_arg(c, a->events);
}

/* {1 or 0, id} */
int
store_expjob_reply(const redisReply *r, struct store_expjobbed *out,
    char *err, size_t errlen)
{
	int64_t	v;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    !store_int(r->element[0], &v) ||
	    r->element[1]->type != REDIS_REPLY_STRING)
		return (store_bad_reply(r, err, errlen));
	out->created = v == 1;
	out->id = r->element[1]->str;
	return (0);
}

void
store_track(struct store_call *c, const char *watch, const char *db,
    char *const *keys, const size_t *lens, size_t n)
{
	store_begin(c, SCRIPT_TRACK, 1, (const char *[]){ watch });
	store_arg(c, db);
	for (size_t i = 0; i < n; i++)
		store_arg_bin(c, keys[i], lens[i]);
}

/* {now, first or -1, tracked} */
int
store_track_reply(const redisReply *r, struct store_tracked *out,
    char *err, size_t errlen)
{
	int64_t	v[3];

	if (store_ints(r, 3, v, err, errlen) == -1)
		return (-1);
	out->now_ms = v[0];
	out->first_ms = v[1];
	out->tracked = v[2];
	return (0);
}
