/* SPDX-License-Identifier: MIT */
/*
 * A job claimed by this daemon, from the claim reply to the recorded
 * outcome: it waits for a handler slot, runs, then its outcome (complete,
 * retry with backoff, bury) is sent to Redis. An outcome that cannot be sent
 * (Redis down) is kept and sent again after the reconnect: a claimed job is
 * never forgotten. Leases are extended for all claimed jobs every lease/3.
 */
#ifndef DEFERD_JOB_H
#define DEFERD_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct deferd;
struct sched;

/*
 * Take a job of a claim reply (store.h) into a new job of d, linked into
 * d->jobs, and start it when its handler has room.
 */
struct store_run;
void	job_claimed(struct deferd *d, struct sched *s,
	    const struct store_run *run);
/* Start waiting jobs whose handler now has room. */
void	job_start_waiting(struct deferd *d);
/* Send again every outcome that Redis did not take (after a reconnect). */
void	job_resend_reports(struct deferd *d);
/* Extend the leases of all claimed jobs (one script call per queue). */
void	job_extend_leases(struct deferd *d);
/* Drain: give waiting jobs back at once (attempt refunded). */
void	job_requeue_waiting(struct deferd *d);
/*
 * deferctl cancel --kill: job id of queue, if this daemon holds it and has
 * not decided its outcome, is cancelled: its handler is stopped (its
 * process group: SIGTERM, SIGKILL after kill_grace; a persistent handler's
 * process, whose other jobs are retried), a job not started never starts,
 * and the outcome recorded removes it. Whether this daemon held it.
 */
bool	job_kill(struct deferd *d, const char *queue, const char *id);
/* Free a job that is no longer linked (exit). */
void	job_free_all(struct deferd *d);

#endif
