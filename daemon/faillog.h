/* SPDX-License-Identifier: MIT */
/*
 * Job failure lines, rate-limited per handler (faillog.c). A handler that
 * fails every job (a bad deploy, a dependency down) would otherwise write
 * a line per job and attempt: 100,000 jobs, 200,000 lines. Each handler
 * gets one limit for its retried attempts and one for its dead jobs
 * (log_limited, FAILLOG_INTERVAL_MS): the first line of a spell is
 * written, the next after the interval says how many were left out. The
 * dead set, the events and /metrics keep every failure.
 */
#ifndef DEFERD_FAILLOG_H
#define DEFERD_FAILLOG_H

#include "log.h"

#define FAILLOG_INTERVAL_MS	10000
#define FAILLOG_HANDLERS	256	/* handlers with limits of their own */

struct faillog;

enum faillog_kind {
	FAILLOG_RETRY,		/* an attempt failed, the job is retried */
	FAILLOG_DEAD,		/* the job is dead */
};

struct faillog	*faillog_new(void);
/*
 * The limit for handler's lines of kind (FAILLOG_HANDLERS handlers get
 * their own; beyond them, handler names from Redis share one).
 */
struct log_limit *faillog_limit(struct faillog *, const char *handler,
		    enum faillog_kind);
/* Free; NULL is a no-op. */
void		 faillog_free(struct faillog *);

#endif
