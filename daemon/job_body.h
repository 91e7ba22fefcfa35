/* SPDX-License-Identifier: MIT */
/*
 * Packed jobs (docs/keys.md, "Packed jobs"): a job stored as one value of
 * the hash NS:{Q}:jobs instead of a hash of its own. The body is
 *	"J1 ATTEMPTS LEASE HANDLER\n" "NAME=VALUE\n"... "\n" PAYLOAD
 * with "%" and newlines in HANDLER and each VALUE written %25 and %0A.
 * The Lua side (daemon/lua/lib.lua) writes bodies; this reads them.
 */
#ifndef DEFERD_JOB_BODY_H
#define DEFERD_JOB_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

/* One field of a body, as a job hash would hold it (value decoded). */
typedef void	(*job_body_field_fn)(const char *name, const char *value,
		    size_t len, void *arg);

/* Whether the len bytes at b start as a body ("J1 "). */
bool	job_body_is(const char *b, size_t len);
/*
 * Call fn for each field of body b (len bytes) under its job hash name:
 * "handler", the named fields in order, "payload" (when not empty),
 * "lease" (when set) and "attempts" last. Values live until fn returns
 * and are NUL-terminated copies, except the payload's, which points into
 * b. Returns 0, or -1 when b is not a well-formed body (fn may have been
 * called for fields before the fault).
 */
int	job_body_each(const char *b, size_t len, job_body_field_fn fn,
	    void *arg);

/*
 * Body b (len bytes) as the HGETALL reply of the same job kept as a hash
 * (an array of name, value strings in job_body_each's order), for readers
 * that show a job whatever its form. A body that is not well-formed comes
 * back as one field, "malformed_body", holding it whole. The caller frees
 * the reply with freeReplyObject (it is built with malloc, as hiredis's).
 */
redisReply	*job_body_reply(const char *b, size_t len);
/* The value of field name in such an array reply (its last), or NULL. */
const redisReply *job_reply_field(const redisReply *hash, const char *name);

#endif
