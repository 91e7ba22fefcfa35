/* SPDX-License-Identifier: MIT */
#ifndef DEFERD_JOB_FIELDS_H
#define DEFERD_JOB_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config.h"

/*
 * The job hash fields of one claim entry, decoded without trusting them:
 * whatever is in Redis (a producer's HSET, garbage) ends up here as owned
 * copies or as "unset" values, never as a crash.
 */
struct job_fields {
	char		*handler;	/* "" when absent */
	char		*payload;	/* NULL when absent (payload_len 0) */
	size_t		 payload_len;
	char		*resource;	/* NULL when absent or empty */
	char		*source;	/* NULL when absent or empty */
	struct env_var	*env;		/* DEFERD_EXPIRED_KEY, DEFERD_TICK etc. */
	size_t		 nenv;
	int		 attempt;	/* >= 1 */
	int		 max_attempts;	/* 0: unset, the config decides */
	int64_t		 timeout_ms;	/* -1: unset, the config decides */
	int64_t		 due_ms;	/* 0: unknown */
	int64_t		 enqueued_ms;	/* 0: unknown */
};

/*
 * Decode the n fields of a claimed job (store_run) into f, which the
 * caller owns and frees with job_fields_free (or takes the strings from):
 * a hash job's field/value pairs, or a packed job's body alone
 * (job_body.h).
 */
void	job_fields_parse(struct job_fields *f, const redisReply *const *fields,
	    size_t n);
/* Free an env array of job_fields_parse (names and values); NULL is a no-op. */
void	job_fields_env_free(struct env_var *env, size_t n);
/* Free what job_fields_parse allocated in f. */
void	job_fields_free(struct job_fields *f);

#endif
