/* SPDX-License-Identifier: MIT */
/* The typed calls of the lock scripts (lua/lock_*.lua); see store.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* Start call for script with its keys (NULL-terminated). */
static void
store_begin(struct store_call *c, enum script_id script, int nkeys,
    const char *const *keys)
{
	memset(c, 0, sizeof(*c));
	c->script = script;
	c->nkeys = nkeys;
	for (int i = 0; i < nkeys; i++)
		c->argv[c->argc++] = keys[i];
}

/* Append a string argument. */
static void
store_arg(struct store_call *c, const char *s)
{
	c->argv[c->argc++] = s;
}

/* Append an integer argument (formatted into the call). */
static void
store_arg_int(struct store_call *c, int i, int64_t v)
{
	snprintf(c->num[i], sizeof(c->num[i]), "%" PRId64, v);
	store_arg(c, c->num[i]);
}

void
store_lock_acquire(struct store_call *c, const char *k_lock,
    const char *k_fence, const char *token, int64_t lease_ms)
{
	store_begin(c, SCRIPT_LOCK_ACQUIRE, 2, (const char *[]){ k_lock,
	    k_fence });
	store_arg(c, token);
	store_arg_int(c, 0, lease_ms);
}

void
store_lock_extend(struct store_call *c, const char *k_lock, const char *token,
    int64_t lease_ms)
{
	store_begin(c, SCRIPT_LOCK_EXTEND, 1, (const char *[]){ k_lock });
	store_arg(c, token);
	store_arg_int(c, 0, lease_ms);
}

void
store_lock_release(struct store_call *c, const char *k_lock, const char *token)
{
	store_begin(c, SCRIPT_LOCK_RELEASE, 1, (const char *[]){ k_lock });
	store_arg(c, token);
}

/* Why r is not the reply expected: Redis's error or "unexpected reply". */
static int
store_bad_reply(const redisReply *r, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", r->type == REDIS_REPLY_ERROR ? r->str :
	    "unexpected reply");
	return (-1);
}

/* An integer element, or one given as digits (Redis may send either). */
static bool
store_int(const redisReply *r, int64_t *v)
{
	char	*end;

	if (r->type == REDIS_REPLY_INTEGER) {
		*v = r->integer;
		return (true);
	}
	if (r->type != REDIS_REPLY_STRING || r->len == 0)
		return (false);
	*v = strtoll(r->str, &end, 10);
	return (*end == '\0');
}

int
store_lock_acquire_reply(const redisReply *r, struct store_lock_acquired *out,
    char *err, size_t errlen)
{
	int64_t	flag, v;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    !store_int(r->element[0], &flag) || !store_int(r->element[1], &v))
		return (store_bad_reply(r, err, errlen));
	out->held = flag == 1;
	out->fence = out->held ? v : 0;
	out->pttl = out->held ? -1 : v;
	return (0);
}

int
store_lock_token_reply(const redisReply *r, bool *ok, char *err, size_t errlen)
{
	if (r->type != REDIS_REPLY_INTEGER)
		return (store_bad_reply(r, err, errlen));
	*ok = r->integer == 1;
	return (0);
}
