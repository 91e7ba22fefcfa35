/* SPDX-License-Identifier: MIT */
/*
 * The persistent-handler protocol (README "Writing a persistent handler"):
 * one JSON object per line in each direction. deferd writes a job,
 *   {"id":…,"queue":…,"handler":…,"attempt":1,"max_attempts":5,
 *    "source":"delayed","payload":"…","deadline_ms":…}
 * ("resource" and "fence" when the job holds a lock; a payload that is not
 * UTF-8 goes as "payload_base64" instead of "payload"), and the handler
 * answers each job once, in any order,
 *   {"id":…,"status":"done"|"retry"|"dead","result":"…","error":"…"}.
 * This file only encodes and decodes lines; pool.c runs the processes.
 */
#ifndef DEFERD_PROTO_H
#define DEFERD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "runner.h"

#define PROTO_ID_MAX	256	/* job IDs are at most 200 bytes */

/* One decoded reply line. result and error are owned (NULL when absent). */
struct proto_reply {
	char			 id[PROTO_ID_MAX];
	enum run_outcome	 status;
	char			*result;
	size_t			 result_len;
	char			*error;
};

/*
 * The job line for spec, '\n'-terminated, its length in *len; the caller
 * frees it. deadline_ms is the wall-clock time (ms since the epoch) by
 * which the answer must be in.
 */
char	*proto_job_line(const struct run_spec *spec, int64_t deadline_ms,
	    size_t *len);
/*
 * Decode one reply line (without its '\n'). Returns 0 with *r filled (free
 * it with proto_reply_free), or -1 with the reason in err and nothing to
 * free.
 */
int	proto_parse_reply(const char *line, size_t len, struct proto_reply *r,
	    char *err, size_t errlen);
/* Free what r owns; r may then be reused. */
void	proto_reply_free(struct proto_reply *r);

#endif
