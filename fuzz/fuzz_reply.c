/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: replies from Redis. The input is fed to the hiredis reader
 * (the parser behind every reply deferd gets) in chunks whose size comes
 * from the first byte, as a socket delivers them; each complete reply is
 * walked the way our callbacks read them: reply_int on every node, and
 * every array decoded as a claim entry of the claim script ([ok, id,
 * token, field, value, ...] or a packed job's [ok, id, token, body]): its
 * elements from the fourth on by job_fields_parse, the decoder job.c uses.
 * A crash inside hiredis itself is hiredis's bug, not ours.
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

#include "fuzz.h"
#include "job_fields.h"
#include "reply.h"

static void	walk(const redisReply *r, int depth);

/* Decode an array as a claim entry, with the decoder job.c uses. */
static void
claim_entry(const redisReply *e)
{
	struct job_fields	f;

	if (e->elements < 3 || e->element[1]->type != REDIS_REPLY_STRING ||
	    e->element[2]->type != REDIS_REPLY_STRING)
		return;
	job_fields_parse(&f, (const redisReply *const *)e->element + 3,
	    e->elements - 3);
	FUZZ_ASSERT(f.handler != NULL && f.attempt >= 1);
	FUZZ_ASSERT(f.max_attempts >= 0 && f.timeout_ms >= -1 && f.due_ms >= 0);
	FUZZ_ASSERT(f.payload != NULL || f.payload_len == 0);
	FUZZ_ASSERT(f.resource == NULL || f.resource[0] != '\0');
	FUZZ_ASSERT(f.source == NULL || f.source[0] != '\0');
	for (size_t i = 0; i < f.nenv; i++)
		FUZZ_ASSERT(f.env[i].name != NULL && f.env[i].value != NULL &&
		    strncmp(f.env[i].name, "DEFERD_", 7) == 0);
	job_fields_free(&f);
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
