/* SPDX-License-Identifier: MIT */
/*
 * The record a finished job leaves for results.ttl (results.history): what
 * happened, after the job hash is gone. The daemon writes it as a JSON
 * object, whole, and outcome.lua keeps it as it is in NS:{Q}:history
 * beside the lists NS:{Q}:done and NS:{Q}:failed (docs/keys.md); deferctl
 * show and list read it.
 */
#ifndef DEFERD_HISTORY_H
#define DEFERD_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

/* One finished run, as the daemon saw it. */
struct history_run {
	const char	*status;	/* "done", "dead" or "cancelled" */
	const char	*handler;
	int		 attempt;	/* the run's attempt number */
	int64_t		 enqueued_ms;	/* 0: unknown */
	int64_t		 started_ms;	/* Redis time at the start; 0: not run */
	int64_t		 finished_ms;	/* Redis time of the outcome; 0: unknown */
	int64_t		 duration_ms;	/* < 0: not run */
	int		 exit_code;	/* -1: none (signalled, not run) */
	int		 term_signal;	/* 0: none */
	bool		 timed_out;
	const char	*error;		/* why it failed; NULL: none */
	const char	*daemon;	/* "HOST:PID" of the daemon that ran it */
};

/* The record of r as a JSON object (unknown fields left out); caller frees. */
char	*history_record(const struct history_run *r);

struct json_out;
/*
 * Add the members of record rec (NUL-terminated, read back from Redis, so
 * untrusted) to the object being written in o: strings as strings,
 * numbers and booleans only when they are ones, members over 4 KiB cut.
 * The one way deferctl and the dashboard show a record as JSON.
 */
void	history_record_members(struct json_out *o, const char *rec);

#endif
