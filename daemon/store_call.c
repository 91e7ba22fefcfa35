/* SPDX-License-Identifier: MIT */
/* Building calls and reading replies, for the store_*.c files (store_call.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rconn.h"
#include "store.h"
#include "store_call.h"
#include "xmalloc.h"

/* Start call for script with its keys. */
void
store_begin(struct store_call *c, enum script_id script, int nkeys,
    const char *const *keys)
{
	memset(c, 0, sizeof(*c));
	c->script = script;
	c->argv = c->inline_argv;
	c->cap = STORE_ARGS_INLINE;
	for (int i = 0; i < nkeys; i++)
		store_arg(c, keys[i]);
	c->nkeys = nkeys;
}

void
store_call_free(struct store_call *c)
{
	if (c->argv != c->inline_argv)
		free(c->argv);
	free(c->lens);
	for (int i = 0; i < c->nowned; i++)
		free(c->owned[i]);
	free(c->owned);
	c->argv = c->inline_argv;
	c->lens = NULL;
	c->owned = NULL;
	c->argc = c->nowned = 0;
}

int
store_send(struct rconn *rc, struct store_call *c, rconn_reply_cb cb,
    void *priv)
{
	int	rv;

	rv = rconn_script(rc, c->script, cb, priv, c->nkeys, c->argc, c->argv,
	    c->lens);
	store_call_free(c);
	return (rv);
}

/* Room for one more argument (and its length, when lens is kept). */
static void
store_grow(struct store_call *c)
{
	int	cap = c->cap * 2;

	if (c->argc < c->cap)
		return;
	if (c->argv == c->inline_argv) {
		c->argv = xreallocarray(NULL, (size_t)cap, sizeof(*c->argv));
		memcpy(c->argv, c->inline_argv, sizeof(c->inline_argv));
	} else
		c->argv = xreallocarray(c->argv, (size_t)cap, sizeof(*c->argv));
	if (c->lens != NULL)
		c->lens = xreallocarray(c->lens, (size_t)cap, sizeof(*c->lens));
	c->cap = cap;
}

/* Append an argument of len bytes. */
static void
store_arg_len(struct store_call *c, const char *s, size_t len)
{
	store_grow(c);
	if (c->lens != NULL)
		c->lens[c->argc] = len;
	c->argv[c->argc++] = s;
}

void
store_arg(struct store_call *c, const char *s)
{
	store_arg_len(c, s, strlen(s));
}

void
store_arg_bin(struct store_call *c, const void *buf, size_t len)
{
	if (c->lens == NULL) {
		c->lens = xreallocarray(NULL, (size_t)c->cap, sizeof(*c->lens));
		for (int i = 0; i < c->argc; i++)
			c->lens[i] = strlen(c->argv[i]);
	}
	store_arg_len(c, buf, len);
}

/* Keep s (malloc'd) until the call is freed. */
static const char *
store_own(struct store_call *c, char *s)
{
	c->owned = xreallocarray(c->owned, (size_t)c->nowned + 1,
	    sizeof(*c->owned));
	c->owned[c->nowned++] = s;
	return (s);
}

void
store_arg_copy(struct store_call *c, const char *s)
{
	store_arg(c, store_own(c, xstrdup(s)));
}

void
store_arg_int(struct store_call *c, int64_t v)
{
	char	 text[UTIL_INT_TEXT];

	if (c->nnum == STORE_NUMS_INLINE) {
		util_int_text(text, v);
		store_arg_copy(c, text);
		return;
	}
	util_int_text(c->num[c->nnum], v);
	store_arg(c, c->num[c->nnum++]);
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
