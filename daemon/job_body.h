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

#endif
