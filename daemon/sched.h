/* SPDX-License-Identifier: MIT */
/*
 * The scheduler of one queue: claims due jobs with the claim script (no
 * more than the free slots), arms a timer for the next due time the script
 * returns, re-arms when a wake message announces an earlier job, polls every
 * poll_interval as a safety net, and reaps expired leases periodically.
 */
#ifndef DEFERD_SCHED_H
#define DEFERD_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct deferd;
struct sched;

/* The names of a queue's keys (docs/keys.md). */
struct queue_keys {
	char	*prefix;	/* "ns:{Q}:" */
	char	*delayed;
	char	*active;
	char	*dead;
	char	*wake;		/* the wake channel */
};

/* The owner takes a claimed job (borrowed from the claim's reply). */
struct store_run;
typedef void	(*sched_claimed_cb)(struct sched *, const struct store_run *,
		    void *arg);
/*
 * A claim may carry a PUBLISH of its owner's (the subscriber's liveness
 * probe): take gives one (channel, message; true) or none; done gets its
 * answer, the subscribers reached, or -1 when the claim failed.
 */
typedef bool	(*sched_carry_take_cb)(const char **channel,
		    const char **message, void *arg);
typedef void	(*sched_carry_done_cb)(long long subscribers, void *arg);

/*
 * A scheduler for queue index of d's config (copied; d->scheds[index]
 * once made); idle until sched_start. Each job it claims goes to
 * claimed(arg).
 */
struct sched	*sched_new(struct deferd *d, size_t index,
		    sched_claimed_cb claimed, void *arg);
/* Let s's claims carry what take gives (NULL: nothing). */
void		 sched_carry(struct sched *, sched_carry_take_cb take,
		    sched_carry_done_cb done, void *arg);
/* Redis is ready: claim now, start the poll and reap timers. */
void		 sched_start(struct sched *);
/* Stop claiming (drain or Redis down); timers are disarmed. */
void		 sched_stop(struct sched *);
/* Claim soon (coalesced): a job may be due. */
void		 sched_kick(struct sched *);
/*
 * A concurrency slot (pooled: room in a persistent pool) became free:
 * claim, batching slots that free together.
 */
void		 sched_slot_freed(struct sched *, bool pooled);
/* The poll interval or lease changed (reload). */
void		 sched_reconfigure(struct sched *);
const char	*sched_queue(const struct sched *);
/*
 * A job of this queue took (+1) or gave back (-1) one of the shared
 * concurrency slots: the count that weighted queues share by.
 */
void		 sched_hold(struct sched *, int delta);
/*
 * The owner's count of s's outcome calls in flight, moved by delta (0 to
 * read it): job.c sends a queue's next outcomes when the last one is answered.
 */
int		 sched_outcome_calls(struct sched *, int delta);
/* The owner's count of s's outcomes queued for its next call, likewise. */
int		 sched_outcomes_waiting(struct sched *, int delta);
/*
 * A script dropped dead jobs of this queue: by_max_jobs over dead.max_jobs,
 * by_ttl over dead.ttl. Counted and logged (dead_trim.c).
 */
void		 sched_trimmed(struct sched *, int64_t by_max_jobs, int64_t by_ttl);
/* Redis's clock now, estimated from the last claim reply (ms since the epoch). */
int64_t		 sched_redis_now_ms(const struct sched *);
/* The key names of this queue (owned by the scheduler). */
const struct queue_keys *sched_keys(const struct sched *);
/* Free; NULL is a no-op. */
void		 sched_free(struct sched *);

#endif
