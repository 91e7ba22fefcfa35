/* SPDX-License-Identifier: MIT */
/*
 * A handler process's stderr in deferd's log, the same for exec runs and
 * persistent processes (proc.c feeds it): split into lines (a line
 * longer than STDERR_LINE_MAX bytes is logged in pieces), escaped,
 * prefixed with who wrote it, and within one budget per process: at most
 * STDERR_BUDGET bytes per STDERR_WINDOW_MS. What is over the budget is
 * counted and reported in one line when the window ends or the process's
 * stderr does, so a flood costs the log a bounded amount (P24).
 */
#ifndef DEFERD_STDERR_LOG_H
#define DEFERD_STDERR_LOG_H

#include <stddef.h>
#include <stdint.h>

#define STDERR_LINE_MAX		1024		/* bytes of one logged line */
#define STDERR_BUDGET		(64 * 1024)	/* bytes logged per window */
#define STDERR_WINDOW_MS	10000

struct stderr_log {
	char	 line[STDERR_LINE_MAX];	/* the line being collected */
	size_t	 line_len;
	int64_t	 window_ms;		/* monotonic start of the window */
	size_t	 logged;		/* bytes logged in the window */
	size_t	 dropped;		/* bytes over the budget, not yet reported */
};

/* A fresh log for a process starting now. */
void	stderr_log_init(struct stderr_log *);
/* len bytes of stderr from who ("job ID (handler)", "handler H (pid P)"). */
void	stderr_log_feed(struct stderr_log *, const char *who, const char *buf,
	    size_t len);
/* stderr ended: log the partial line and report what was dropped. */
void	stderr_log_end(struct stderr_log *, const char *who);

#endif
