/* SPDX-License-Identifier: MIT */
/* Building calls and reading replies, for the store_*.c files (store_call.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_call.h"

/* Start call for script with its keys (NULL-terminated). */
void
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
void
store_arg(struct store_call *c, const char *s)
{
	c->argv[c->argc++] = s;
}

/* Append an integer argument (formatted into the call). */
void
store_arg_int(struct store_call *c, int i, int64_t v)
{
	snprintf(c->num[i], sizeof(c->num[i]), "%" PRId64, v);
	store_arg(c, c->num[i]);
}

/* Why r is not the reply expected: Redis's error or "unexpected reply". */
int
store_bad_reply(const redisReply *r, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", r->type == REDIS_REPLY_ERROR ? r->str :
	    "unexpected reply");
	return (-1);
}

/* An integer element, or one given as digits (Redis may send either). */
bool
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
store_ints(const redisReply *r, size_t n, int64_t *v, char *err,
    size_t errlen)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < n)
		return (store_bad_reply(r, err, errlen));
	for (size_t i = 0; i < n; i++)
		if (!store_int(r->element[i], &v[i]))
			return (store_bad_reply(r, err, errlen));
	return (0);
}
