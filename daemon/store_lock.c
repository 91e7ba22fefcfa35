/* SPDX-License-Identifier: MIT */
/* The typed calls of the lock scripts (lua/lock_*.lua); see store.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_call.h"

void
store_lock_acquire(struct store_call *c, const char *k_lock,
    const char *k_fence, const char *token, int64_t lease_ms)
{
	store_begin(c, SCRIPT_LOCK_ACQUIRE, 2, (const char *[]){ k_lock,
	    k_fence });
	store_arg(c, token);
	store_arg_int(c, lease_ms);
}

void
store_lock_extend(struct store_call *c, const char *k_lock, const char *token,
    int64_t lease_ms)
{
	store_begin(c, SCRIPT_LOCK_EXTEND, 1, (const char *[]){ k_lock });
	store_arg(c, token);
	store_arg_int(c, lease_ms);
}

void
store_lock_release(struct store_call *c, const char *k_lock, const char *token)
{
	store_begin(c, SCRIPT_LOCK_RELEASE, 1, (const char *[]){ k_lock });
	store_arg(c, token);
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
