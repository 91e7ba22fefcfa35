/* SPDX-License-Identifier: MIT */
/*
 * Reporting dead-set trims (dead_trim.c): the scripts that bury jobs also
 * drop the oldest dead ones beyond dead.max_jobs or older than dead.ttl,
 * and say how many. Trimmed jobs are gone, so each trim is counted in
 * deferd_dead_trimmed_total{queue,reason} and logged: at once after a
 * quiet spell, then at most once every 10 s with the sum, never a line
 * per job.
 */
#ifndef DEFERD_DEAD_TRIM_H
#define DEFERD_DEAD_TRIM_H

#include <stdint.h>

struct event_base;
struct dead_trim;

/* A reporter for queue (copied). */
struct dead_trim *dead_trim_new(struct event_base *, const char *queue);
/*
 * A script removed by_max_jobs entries over max_jobs and by_ttl older
 * than ttl_ms (the limits in force, for the log line).
 */
void		  dead_trim_note(struct dead_trim *, long long by_max_jobs,
		    long long by_ttl, int64_t max_jobs, int64_t ttl_ms);
/* Free (a sum not yet logged is logged now); NULL is a no-op. */
void		  dead_trim_free(struct dead_trim *);

#endif
