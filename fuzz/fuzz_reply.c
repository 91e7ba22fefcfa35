/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: replies from Redis. The input is fed to the hiredis reader
 * (the parser behind every reply deferd gets) in chunks whose size comes
 * from the first byte, as a socket delivers them; each complete reply is
 * walked the way our callbacks read them: reply_int on every node, and an
 * array read like a claim entry of the claim script ([ok, id, token,
 * field, value, ...], see job.c) down to source_extra_env. A crash inside
 * hiredis itself is hiredis's bug, not ours.
 *
 * hiredis allocates the element array a multi-bulk header announces before
 * any element arrives: "*2147483647\r\n" is a 16 GiB calloc in 0.14 (1.x
 * allows up to 2^32-1 elements). That is a known property of hiredis, not
 * fuzzed further: the reader here refuses arrays larger than
 * REPLY_MAX_ELEMENTS as out of memory, as deferd's own connections do
 * (reply_cap_reader).
 * Checks: strings are NUL-terminated at their length, arrays have their
 * elements, and the fields that become handler environment variables get
 * DEFERD_ names.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "fuzz.h"
#include "reply.h"
#include "sources.h"

static void	walk(const redisReply *r, int depth);

/* Read an array as a claim entry: the id and token, then field/value pairs. */
static void
claim_entry(const redisReply *e)
{
	struct env_var	*env = NULL;
	size_t		 nenv = 0;

	if (e->elements < 3 || e->element[1]->type != REDIS_REPLY_STRING ||
	    e->element[2]->type != REDIS_REPLY_STRING)
		return;
	for (size_t i = 3; i + 1 < e->elements; i += 2) {
		const redisReply *f = e->element[i], *v = e->element[i + 1];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(f->str, "attempts") == 0 ||
		    strcmp(f->str, "timeout_ms") == 0)
			(void)reply_int(v, -1);
		else
			source_extra_env(&env, &nenv, f->str, v->str, v->len);
	}
	for (size_t i = 0; i < nenv; i++)
		FUZZ_ASSERT(env[i].name != NULL && env[i].value != NULL &&
		    strncmp(env[i].name, "DEFERD_", 7) == 0);
	source_env_free(env, nenv);
}

/* Visit every node of a reply. */
static void
walk(const redisReply *r, int depth)
{
	FUZZ_ASSERT(r != NULL && depth < 64);
	(void)reply_int(r, -1);
	switch (r->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		FUZZ_ASSERT(r->str != NULL && r->str[r->len] == '\0');
		break;
	case REDIS_REPLY_ARRAY:
		FUZZ_ASSERT(r->elements == 0 || r->element != NULL);
		for (size_t i = 0; i < r->elements; i++)
			walk(r->element[i], depth + 1);
		claim_entry(r);
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader	*rd;
	void		*reply;
	size_t		 chunk = size > 0 && data[0] % 8 != 0 ? data[0] % 8 : size;
	size_t		 off = 0;
	int		 ok = 1;

	if ((rd = redisReaderCreate()) == NULL)
		abort();
	reply_cap_reader(rd);
	while (ok && off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (redisReaderFeed(rd, (const char *)data + off, n) != REDIS_OK)
			break;
		off += n;
		for (;;) {
			reply = NULL;
			if (redisReaderGetReply(rd, &reply) != REDIS_OK) {
				FUZZ_ASSERT(rd->errstr[0] != '\0');
				ok = 0;
				break;
			}
			if (reply == NULL)
				break;
			walk(reply, 0);
			freeReplyObject(reply);
		}
	}
	redisReaderFree(rd);
	return (0);
}
