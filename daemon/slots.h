/* SPDX-License-Identifier: MIT */
/*
 * Concurrency slots: the one place that counts what occupies the daemon's
 * `concurrency` (claimed jobs, channel runs, claims in flight), each
 * handler's `max_concurrency` (its jobs locking or running and its channel
 * runs together) and each persistent handler's pool (its jobs, which take
 * no `concurrency` slot: the pool's processes x inflight bounds them), and
 * the one free-slot formula for each. The owner (daemon.c)
 * hands down callbacks: freed when a job gave up its slot (its outcome is
 * on the way), gone when a job or a channel run left, held to say that no
 * handler can start now (no claims).
 */
#ifndef DEFERD_SLOTS_H
#define DEFERD_SLOTS_H

#include <stdbool.h>

struct slots;

struct slots_cbs {
	/* A job's slot (or its room in a pool: pooled) is free, outcome sent. */
	void	(*freed)(void *arg, bool pooled);
	/* A job (of a pool: pooled) or a channel run left. */
	void	(*gone)(void *arg, bool pooled);
	bool	(*held)(void *arg);	/* handlers cannot start: claim nothing */
	void	 *arg;
};

/* Slots for concurrency; cbs is copied. */
struct slots	*slots_new(int concurrency, const struct slots_cbs *cbs);
/* A reload changed concurrency. */
void		 slots_set_concurrency(struct slots *, int concurrency);
/*
 * Slots free for a claim: concurrency - (jobs - reporting) - runs - claims,
 * never < 0, 0 while held, and never so many that more than twice the
 * concurrency would be held.
 */
int		 slots_free(const struct slots *);
/*
 * Whether a channel run may start: the same count without the slots that
 * claims in flight reserved (a broadcast is not dropped for a claim that
 * may bring nothing; at worst one round trip's messages run beyond it).
 */
bool		 slots_run_fits(const struct slots *);
/* A claim of up to n jobs was sent / answered. */
void		 slots_claim_begin(struct slots *, int n);
void		 slots_claim_end(struct slots *, int n);
/*
 * Room for cap jobs of handler's persistent pool: cap - its jobs waiting,
 * locking or running - what claims in flight reserved for it; never < 0,
 * 0 while held. (The caller counts the jobs it lets wait for the pool in
 * cap: see sched.c.)
 */
int		 slots_pool_free(const struct slots *, const char *handler,
		    int cap);
/* A claim reserved / gave back n jobs of room in handler's pool. */
void		 slots_pool_claim_begin(struct slots *, const char *handler,
		    int n);
void		 slots_pool_claim_end(struct slots *, const char *handler, int n);
/*
 * A claimed job arrived; its outcome was sent (calls freed); it left
 * (gone). pooled: its handler is persistent, so it takes no concurrency
 * slot (the same value at all three calls for one job).
 */
void		 slots_job_add(struct slots *, bool pooled);
void		 slots_job_reporting(struct slots *, bool pooled);
void		 slots_job_remove(struct slots *, bool pooled, bool was_reporting);
/* A channel run started / ended (ended calls gone); counts for handler too. */
void		 slots_run_start(struct slots *, const char *handler);
void		 slots_run_end(struct slots *, const char *handler);
/* A job of handler began to lock or run / stopped doing so. */
void		 slots_handler_start(struct slots *, const char *handler);
void		 slots_handler_stop(struct slots *, const char *handler);
/* A claimed job of handler began / stopped waiting to start. */
void		 slots_handler_wait(struct slots *, const char *handler);
void		 slots_handler_unwait(struct slots *, const char *handler);
/* Jobs of handler locking or running plus its channel runs. */
int		 slots_handler_running(const struct slots *, const char *handler);
/* Handlers with claimed jobs waiting to start (slots_handler_wait). */
int		 slots_handlers_waiting(const struct slots *);
/* Claimed jobs held now (running, waiting or reporting), pooled or not. */
int		 slots_jobs(const struct slots *);
/* Every job was dropped at exit (job_free_all). */
void		 slots_forget_jobs(struct slots *);
/* Free; NULL is a no-op. */
void		 slots_free_all(struct slots *);

#endif
