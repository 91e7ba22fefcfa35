/* SPDX-License-Identifier: MIT */
/*
 * Per-queue scheduling without busy polling. A claim asks the claim script
 * for at most the free slots; its reply carries Redis's "now" and the next
 * due time, so the timer is armed for exactly (next_due - now) on the
 * monotonic clock, whatever this host's wall clock says. Wake messages carry
 * a due time and re-arm the timer when it is earlier; the poll timer only
 * catches producers that enqueue without publishing a wake. Redis's "now"
 * between claims is estimated from the monotonic clock plus the offset seen
 * in the last claim reply, never from the wall clock, which may jump.
 */
#include <event2/event.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dead_trim.h"
#include "deferd.h"
#include "keys.h"
#include "log.h"
#include "pace.h"
#include "rconn.h"
#include "runner.h"
#include "sched.h"
#include "slots.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"
#include "timer.h"

#define SCAN_EXTRA	64	/* candidates looked at beyond the limit (capped handlers) */
#define REAP_LIMIT	100
#define CLAIM_MAX	1024	/* jobs one claim takes at most (Redis time, reply size) */
#define CLAIM_FIRST	32	/* nor more than this, or twice the jobs held */
#define CLAIMS_MAX	2	/* claims in flight at once (a second needs CLAIM_FIRST of room) */
/*
 * A persistent handler's jobs claimed beyond its pool (processes x
 * inflight, or its max_concurrency): what the pool got through in
 * POOL_AHEAD_MS lately (pace.c), at least the pool's size, at most
 * POOL_AHEAD_MAX. They wait here, leased, so that a process that answers
 * gets its next job at once instead of after a claim's round trip, and a
 * fast pool is fed by claims of many jobs (with inflight 1 the round trip
 * was most of each job's time). Measured in time, the wait stays short
 * for slow pools and fast ones alike: other daemons are not kept from
 * jobs this one cannot start soon.
 */
#define POOL_AHEAD_MS	10
#define POOL_AHEAD_MAX	1024
#define COALESCE_SLOTS	4	/* claim at once when this many slots are free */
#define COALESCE_MS	2	/* else wait this long for more */
#define LOST_MAX	8	/* lost claims remembered; older ones wait for the reaper */
#define LOST_MARGIN_MS	2000	/* clock estimate slack when looking for their jobs */

/* Pool room that a claim in flight reserved for one persistent handler. */
struct sched_reserved {
	char	*handler;	/* owned: the config may be reloaded meanwhile */
	int	 n;
};

/*
 * A claim in flight. Replies come in the order the claims went out (one
 * connection), so the oldest record is the one a reply answers.
 */
struct sched_inflight {
	char		 nonce[33];
	int64_t		 min_score;	/* lowest active score it can give */
	int		 shared;	/* free slots it reserved (and offered) */
	int		 total;		/* its limit */
	struct sched_reserved *pool;	/* pool room it reserved, per handler */
	size_t		 npool;
	int64_t		 sent_mono;
	bool		 carried;	/* it carries the owner's PUBLISH */
};

struct sched {
	struct deferd	*d;
	sched_claimed_cb claimed;	/* the owner takes each claimed job */
	void		*claimed_arg;
	sched_carry_take_cb carry_take;	/* what a claim may carry */
	sched_carry_done_cb carry_done;
	void		*carry_arg;
	char		*queue;
	struct queue_keys keys;		/* owned */
	struct dead_trim *trim;		/* reports dead-set trims */
	struct event	*kick_ev;	/* zero-delay: coalesces kicks */
	struct event	*due_timer;	/* next due job */
	struct event	*poll_timer;	/* safety net: poll_interval after the last claim */
	struct event	*reap_timer;	/* only when no claim reaped for a while */
	bool		 running;
	struct sched_inflight claims[CLAIMS_MAX]; /* in flight, oldest first */
	int		 nclaims;
	bool		 again;		/* kicked while a claim was in flight */
	bool		 reaping;
	/*
	 * The last claim that offered free slots left some unused while it
	 * skipped due jobs (a full pool's, a capped handler's): claims that
	 * follow a pool's freed room offer none, so they stop at the pool's
	 * room instead of reading skipped jobs again, until an exec slot
	 * frees or fresh work may be there (wake, due timer, poll: fresh).
	 */
	bool		 shared_blocked;
	bool		 fresh;
	/*
	 * The last claim found nothing due now: a freed slot is no reason to
	 * claim again (the due timer, a wake or the poll is). Without it an
	 * empty queue claims at every freed slot, and its claims in flight
	 * hold the room that a queue with due jobs needs. Whatever may have
	 * made work due (the due timer, a wake, a start) clears it, since its
	 * claim may find no room and leave the job to the next freed slot.
	 */
	bool		 nothing_due;
	bool		 paused;	/* a claim found it paused, none claimed since */
	size_t		 index;		/* in d->scheds and cfg->queues */
	int		 held;		/* shared slots its jobs hold (sched_hold) */
	int		 outcome_calls;	/* outcome.lua calls in flight (job.c) */
	int		 outcomes_waiting; /* outcomes queued for the next call (job.c) */
	int64_t		 due_at_mono;	/* when due_timer fires; -1 unarmed */
	int64_t		 claimed_at_mono; /* when the last claim (which reaps) was sent */
	int64_t		 skew_ms;	/* Redis time minus local monotonic clock */
	bool		 skew_known;	/* a claim reply has set skew_ms */
	/* Claims whose reply was lost: given back by the unclaim script. */
	char		 lost[LOST_MAX][33];
	int		 nlost;
	int		 unclaim_sent;	/* nonces in the unclaim in flight; 0 = none */
	int64_t		 lost_min_score;
};

static void	sched_claim(struct sched *);
static void	sched_unclaim(struct sched *);
static void	sched_claim_lost(struct sched *, const struct sched_inflight *);
static int	sched_room(struct sched *, struct store_claim_cap *, size_t *);
static bool	sched_busy(struct sched *);
static void	sched_release(struct sched *, struct sched_inflight *);

/* libevent adapters. */
static void
sched_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched	*s = arg;

	(void)fd;
	(void)what;
	sched_claim(s);
}

static void
sched_due_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched	*s = arg;

	(void)fd;
	(void)what;
	s->due_at_mono = -1;
	s->fresh = true;
	s->nothing_due = false;	/* a job is due: until a claim says otherwise */
	sched_claim(s);
}

static void	sched_reap(struct sched *);
static void	sched_arm_poll(struct sched *);

/* The safety-net poll: claim, and come back after poll_interval. */
static void
sched_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched	*s = arg;

	(void)fd;
	(void)what;
	s->fresh = true;
	sched_claim(s);
	if (s->nclaims == 0)
		sched_arm_poll(s);	/* else re-armed by the claim's reply */
}

/* Every claim reaps expired leases; reap alone only if none went out lately. */
static void
sched_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched	*s = arg;

	(void)fd;
	(void)what;
	if (util_mono_ms() - s->claimed_at_mono >= s->d->cfg->timing.reap_ms)
		sched_reap(s);
}

/* Arm the due timer for delay_ms from now unless it is armed earlier. */
static void
sched_arm(struct sched *s, int64_t delay_ms)
{
	int64_t		at = util_mono_ms() + delay_ms;

	if (!s->running)
		return;
	if (s->due_at_mono != -1 && s->due_at_mono <= at)
		return;
	s->due_at_mono = at;
	timer_after(s->due_timer, delay_ms);
}

/* A wake message: a job due at the given epoch ms was enqueued. */
static void
sched_wake_cb(const char *channel, const char *payload, size_t len, void *priv)
{
	struct sched	*s = priv;
	char		 buf[32];
	char		*end;
	long long	 due;

	(void)channel;
	if (len == 0 || len >= sizeof(buf))
		return;
	memcpy(buf, payload, len);
	buf[len] = '\0';
	due = strtoll(buf, &end, 10);
	if (*end != '\0') {
		sched_kick(s);
		return;
	}
	if (!s->skew_known) {
		sched_kick(s);		/* its reply arms the due timer */
		return;
	}
	due -= util_mono_ms() + s->skew_ms;
	if (due <= 0)
		sched_kick(s);
	else
		sched_arm(s, due);
}

/*
 * The wake subscription is (again) in place: wakes published while it was
 * not were missed, so claim now; the reply arms the due timer.
 */
static void
sched_wake_confirmed(void *priv)
{
	sched_kick(priv);
}

struct sched *
sched_new(struct deferd *d, size_t index, sched_claimed_cb claimed,
    void *arg)
{
	struct sched	*s = xcalloc(1, sizeof(*s));
	const char	*ns = d->cfg->namespace;
	const char	*queue = d->cfg->queues[index];

	s->d = d;
	s->index = index;
	s->claimed = claimed;
	s->claimed_arg = arg;
	s->queue = xstrdup(queue);
	s->keys.prefix = keys_prefix(ns, queue);
	s->keys.delayed = keys_queue(ns, queue, "delayed");
	s->keys.active = keys_queue(ns, queue, "active");
	s->keys.dead = keys_queue(ns, queue, "dead");
	s->keys.wake = keys_queue(ns, queue, "wake");
	s->due_at_mono = -1;
	s->trim = dead_trim_new(d->base, queue);
	s->kick_ev = evtimer_new(d->base, sched_kick_cb, s);
	s->due_timer = evtimer_new(d->base, sched_due_cb, s);
	s->poll_timer = evtimer_new(d->base, sched_poll_cb, s);
	s->reap_timer = event_new(d->base, -1, EV_PERSIST, sched_reap_cb, s);
	if (s->kick_ev == NULL || s->due_timer == NULL || s->poll_timer == NULL ||
	    s->reap_timer == NULL)
		fatalx("queue %s: cannot create timers", queue);
	rconn_subscribe(d->sub, s->keys.wake, false, sched_wake_cb,
	    sched_wake_confirmed, s);
	return (s);
}

const char *
sched_queue(const struct sched *s)
{
	return (s->queue);
}

int64_t
sched_redis_now_ms(const struct sched *s)
{
	return (util_mono_ms() + s->skew_ms);
}

const struct queue_keys *
sched_keys(const struct sched *s)
{
	return (&s->keys);
}

/* Arm the poll poll_interval from now (after every claim). */
static void
sched_arm_poll(struct sched *s)
{
	int64_t		ms = s->d->cfg->poll_interval_ms;

	if (!s->running)
		return;
	timer_after(s->poll_timer, ms);
}

/* Re-arm the poll and the reap timer (every max(1s, min(lease/2, 30s))). */
void
sched_reconfigure(struct sched *s)
{
	int64_t		reap = s->d->cfg->timing.reap_ms;

	if (!s->running)
		return;
	sched_arm_poll(s);
	timer_after(s->reap_timer, reap);
}

void
sched_start(struct sched *s)
{
	s->running = true;
	sched_reconfigure(s);
	sched_unclaim(s);	/* sent before the claim: same connection, in order */
	sched_kick(s);		/* the claim reaps too */
}

void
sched_stop(struct sched *s)
{
	s->running = false;
	s->again = false;
	evtimer_del(s->kick_ev);
	evtimer_del(s->due_timer);
	event_del(s->poll_timer);
	event_del(s->reap_timer);
	s->due_at_mono = -1;
}

/* Claim soon; fresh: new work may be due (the claim offers every slot). */
static void
sched_kick_more(struct sched *s, bool fresh)
{
	if (!s->running)
		return;
	if (fresh) {
		s->fresh = true;
		s->nothing_due = false;	/* unknown until the claim */
	}
	if (sched_busy(s)) {
		s->again = true;
		return;
	}
	timer_after(s->kick_ev, 0);
}

void
sched_kick(struct sched *s)
{
	sched_kick_more(s, true);
}

/*
 * A slot became free. While handlers are still running and only a few
 * slots are free, wait COALESCE_MS for more to free up so that one claim
 * carries several jobs (each claim costs Redis a script call): in a burst
 * this cuts claims per job; an idle daemon claims at once.
 */
void
sched_slot_freed(struct sched *s, bool pooled)
{
	const struct deferd	*d = s->d;
	int			 enough = d->cfg->concurrency < COALESCE_SLOTS ?
				    d->cfg->concurrency : COALESCE_SLOTS;

	if (!s->running)
		return;
	if (!pooled)
		s->shared_blocked = false;	/* its handler may take more */
	if (s->nothing_due)
		return;
	if (sched_busy(s)) {
		s->again = true;
		return;
	}
	if (slots_jobs(d->slots) == 0 || sched_room(s, NULL, NULL) >= enough) {
		sched_kick_more(s, false);
		return;
	}
	if (!evtimer_pending(s->kick_ev, NULL))
		timer_after(s->kick_ev, COALESCE_MS);
}

/* After a claim: arm the timer for the next due job, or claim again now. */
static void
sched_after_claim(struct sched *s, long long now, long long next_due,
    size_t entries)
{
	s->nothing_due = next_due < 0 || next_due > now;
	if (next_due < 0)
		return;		/* nothing delayed: the poll timer is the net */
	if (next_due > now) {
		sched_arm(s, next_due - now);
		return;
	}
	/* Due jobs remain: go on if this claim made progress and slots are free. */
	if (entries > 0 && sched_room(s, NULL, NULL) > 0)
		s->again = true;
}

/* Log jobs whose lease expired (their worker was lost) that were reaped. */
static void
sched_log_reaped(struct sched *s, long long requeued, long long buried)
{
	if (requeued > 0 || buried > 0)
		log_warnx("queue %s: %lld job(s) whose lease expired requeued, "
		    "%lld buried (worker lost)", s->queue, requeued, buried);
}

void
sched_trimmed(struct sched *s, int64_t by_max_jobs, int64_t by_ttl)
{
	const struct config	*cfg = s->d->cfg;

	dead_trim_note(s->trim, by_max_jobs, by_ttl, cfg->dead.max_jobs,
	    cfg->dead.ttl_ms);
}

/* Log a job the claim script buried because its data was bad. */
static void
sched_log_buried(struct sched *s, const struct store_entry *e)
{
	char	id[256], why[512];

	util_escape(e->id, e->id_len, id, sizeof(id));
	util_escape(e->reason, e->reason_len, why, sizeof(why));
	log_errorx("queue %s: job %s buried: %s", s->queue, id, why);
}

/*
 * Say when a claim found the queue paused (deferctl pause) with jobs due,
 * and when one took jobs from it again: once each, not at every claim.
 */
static void
sched_note_paused(struct sched *s, bool paused, size_t entries)
{
	if (paused && !s->paused)
		log_info("queue %s: paused (deferctl pause); its jobs wait until "
		    "deferctl resume", s->queue);
	else if (!paused && s->paused && entries > 0)
		log_info("queue %s: resumed; claiming again", s->queue);
	else
		return;
	s->paused = paused;
}

void
sched_carry(struct sched *s, sched_carry_take_cb take, sched_carry_done_cb done,
    void *arg)
{
	s->carry_take = take;
	s->carry_done = done;
	s->carry_arg = arg;
}

/* Claim rec's carried PUBLISH got its answer (-1: none); once per claim. */
static void
sched_carried(struct sched *s, struct sched_inflight *rec, long long n)
{
	if (!rec->carried)
		return;
	rec->carried = false;
	s->carry_done(n, s->carry_arg);
}

/*
 * Hand the jobs of claim entry e (RUN or RUNS) to the owner; returns how
 * many the entry held. One that is malformed is left to its lease.
 */
static size_t
sched_take_runs(struct sched *s, const struct store_entry *e)
{
	struct store_run	run;

	for (size_t i = 0; i < e->nruns; i++) {
		if (store_entry_run(e, i, &run) == -1) {
			log_errorx("queue %s: malformed claim entry ignored "
			    "(its lease will expire and it will be retried)",
			    s->queue);
			continue;
		}
		s->claimed(s, &run, s->claimed_arg);
	}
	return (e->nruns);
}

/* Reply of the claim script (store_claim_reply). */
static void
sched_claim_reply(redisReply *reply, void *priv)
{
	struct sched		*s = priv;
	struct sched_inflight	 rec = s->claims[0];
	struct store_claimed	 c;
	struct store_entry	 e;
	size_t			 entries = 0;
	bool			 paused = false;
	char			 err[256];

	memmove(&s->claims[0], &s->claims[1],
	    sizeof(s->claims[0]) * (size_t)--s->nclaims);
	sched_release(s, &rec);
	if (reply == NULL) {
		sched_carried(s, &rec, -1);
		sched_claim_lost(s, &rec);
		return;		/* restarted, and unclaimed, on RCONN_UP */
	}
	sched_arm_poll(s);
	if (store_claim_reply(reply, &c, err, sizeof(err)) == -1) {
		log_errorx("queue %s: claim failed: %s", s->queue, err);
		sched_carried(s, &rec, -1);
		return;
	}
	s->skew_ms = c.now_ms - util_mono_ms();
	s->skew_known = true;
	sched_log_reaped(s, c.requeued, c.buried);
	for (size_t i = 0; i < c.nentries; i++) {
		store_entry_parse(c.entries[i], &e);
		if (e.kind == STORE_ENTRY_RUN || e.kind == STORE_ENTRY_RUNS)
			entries += sched_take_runs(s, &e);
		else if (e.kind == STORE_ENTRY_BURIED)
			sched_log_buried(s, &e);
		else if (e.kind == STORE_ENTRY_TRIMMED)
			sched_trimmed(s, e.trimmed_max, e.trimmed_ttl);
		else if (e.kind == STORE_ENTRY_PAUSED)
			paused = true;
		else if (e.kind == STORE_ENTRY_PROBE)
			sched_carried(s, &rec, e.subscribers);
		if (e.kind == STORE_ENTRY_BURIED)
			entries++;
	}
	sched_carried(s, &rec, -1);	/* no answer in the reply */
	sched_note_paused(s, paused, entries);
	log_debug("queue %s: claim of up to %d (%d exec) took %zu job(s) and "
	    "skipped %lld in %lldms", s->queue, rec.total, rec.shared,
	    entries, (long long)c.skipped,
	    (long long)(util_mono_ms() - rec.sent_mono));
	if (!s->running)
		return;
	if (rec.shared > 0)
		s->shared_blocked = c.skipped > 0 && entries < (size_t)rec.total;
	sched_after_claim(s, c.now_ms, c.next_due_ms, entries);
	if (s->again) {
		s->again = false;
		sched_kick_more(s, false);
	}
}

/*
 * Claim rec lost its reply: it may have leased jobs that nobody will run.
 * Remember its nonce so that sched_unclaim gives them back after the
 * reconnect instead of leaving them to the reaper for a whole lease.
 */
static void
sched_claim_lost(struct sched *s, const struct sched_inflight *rec)
{
	if (s->nlost == LOST_MAX) {
		memmove(s->lost[0], s->lost[1], sizeof(s->lost[0]) * (LOST_MAX - 1));
		s->nlost--;
		if (s->unclaim_sent > 0)
			s->unclaim_sent--;
	}
	if (s->nlost == 0 || rec->min_score < s->lost_min_score)
		s->lost_min_score = rec->min_score;
	memcpy(s->lost[s->nlost++], rec->nonce, sizeof(s->lost[0]));
}

/* Reply of the unclaim script: the number of jobs given back. */
static void
sched_unclaim_reply(redisReply *reply, void *priv)
{
	struct sched	*s = priv;
	int		 sent = s->unclaim_sent;
	int64_t		 given = 0;
	char		 err[256];

	s->unclaim_sent = 0;
	if (reply == NULL)
		return;		/* sent again on the next RCONN_UP */
	if (store_unclaim_reply(reply, &given, err, sizeof(err)) == -1)
		log_errorx("queue %s: unclaim failed: %s (the reaper will "
		    "requeue those jobs when their lease expires)", s->queue,
		    err);
	else if (given > 0)
		log_warnx("queue %s: %lld job(s) of a claim whose reply was lost "
		    "given back", s->queue, (long long)given);
	memmove(s->lost[0], s->lost[sent], sizeof(s->lost[0]) * (s->nlost - sent));
	s->nlost -= sent;
	if (given > 0)
		sched_kick(s);
}

/* Give back the jobs of the claims whose reply was lost (sched_claim_lost). */
static void
sched_unclaim(struct sched *s)
{
	struct store_call	 c;
	const char		*nonces[LOST_MAX];

	if (s->nlost == 0 || s->unclaim_sent > 0 || !rconn_ready(s->d->cmd))
		return;
	for (int i = 0; i < s->nlost; i++)
		nonces[i] = s->lost[i];
	store_unclaim(&c, s->keys.active, s->keys.delayed, s->keys.prefix,
	    s->lost_min_score, s->d->cfg->lease_ms, s->keys.wake,
	    s->d->events_chan, nonces, (size_t)s->nlost);
	if (store_send(s->d->cmd, &c, sched_unclaim_reply, s) == 0)
		s->unclaim_sent = s->nlost;
}

void
sched_hold(struct sched *s, int delta)
{
	s->held += delta;
}

int
sched_outcome_calls(struct sched *s, int delta)
{
	s->outcome_calls += delta;
	return (s->outcome_calls);
}

int
sched_outcomes_waiting(struct sched *s, int delta)
{
	s->outcomes_waiting += delta;
	return (s->outcomes_waiting);
}

/* Whether q wants slots: it runs and its last claim left jobs due. */
static bool
sched_wants(const struct sched *q)
{
	return (q->running && !q->nothing_due);
}

/*
 * How many of free shared slots queue s may claim now. A queue alone in
 * wanting them takes them all. Among several, with queues_order strict,
 * only the first in the config's order; weighted, each up to its share
 * of the concurrency (its weight over the wanting queues' total, rounded
 * up), counting the slots its jobs hold and its claims in flight.
 */
static int
sched_share(const struct sched *s, int free)
{
	const struct deferd	*d = s->d;
	const struct config	*cfg = d->cfg;
	int64_t			 total = cfg->queue_weights[s->index], quota;
	bool			 others = false;

	if (d->nscheds == 1)
		return (free);
	for (size_t i = 0; i < d->nscheds; i++) {
		const struct sched *q = d->scheds[i];

		if (q == s || !sched_wants(q))
			continue;
		if (cfg->queues_order == QUEUES_STRICT && q->index < s->index)
			return (0);
		others = true;
		total += cfg->queue_weights[q->index];
	}
	if (!others || cfg->queues_order == QUEUES_STRICT)
		return (free);
	quota = ((int64_t)cfg->concurrency * cfg->queue_weights[s->index] +
	    total - 1) / total;
	quota -= s->held;
	for (int i = 0; i < s->nclaims; i++)
		quota -= s->claims[i].shared;
	return (quota <= 0 ? 0 : quota < free ? (int)quota : free);
}

/* The free concurrency slots a claim offers (see shared_blocked, sched_share). */
static int
sched_shared_free(const struct sched *s)
{
	if (s->shared_blocked && !s->fresh)
		return (0);
	return (sched_share(s, slots_free(s->d->slots)));
}

/* How many jobs of persistent handler o this daemon may hold: see POOL_AHEAD_MS. */
static int
sched_pool_claimable(const struct sched *s, const struct handler_override *o)
{
	int	size = config_override_max_concurrency(s->d->cfg, o);
	int64_t	ahead = (int64_t)pace_per_s(s->d->pace, o->name,
		    util_mono_ms()) * POOL_AHEAD_MS / 1000;

	if (ahead < size)
		ahead = size;
	if (ahead > POOL_AHEAD_MAX)
		ahead = POOL_AHEAD_MAX;
	return (size + (int)ahead);
}

/*
 * What a claim may take now: the free concurrency slots plus each
 * persistent handler's room in its pool. With caps (room for
 * cfg->handlers.noverrides entries) it also lists the handlers whose jobs
 * the claim must cap, in *ncaps: every persistent handler, and any other
 * whose max_concurrency leaves it fewer than the free slots.
 */
static int
sched_room(struct sched *s, struct store_claim_cap *caps, size_t *ncaps)
{
	const struct config	*cfg = s->d->cfg;
	int			 shared = sched_shared_free(s), total = shared;
	size_t			 n = 0;

	for (size_t i = 0; i < cfg->handlers.noverrides; i++) {
		const struct handler_override *o = &cfg->handlers.overrides[i];
		bool	pool = o->mode == HANDLER_PERSISTENT;
		bool	rated = o->rate.n > 0;	/* the script keeps its bucket */
		int	room;

		if (pool) {
			room = slots_pool_free(s->d->slots, o->name,
			    sched_pool_claimable(s, o));
			total += room;
		} else if (o->max_concurrency > 0) {
			room = o->max_concurrency -
			    slots_handler_running(s->d->slots, o->name);
			if (room >= shared && !rated)
				continue;	/* no tighter than the slots */
		} else if (rated)
			room = shared;
		else
			continue;
		if (caps != NULL) {
			caps[n].handler = o->name;
			caps[n].cap = room > 0 ? room : 0;
			caps[n].pool = pool;
			caps[n].rate_n = o->rate.n;
			caps[n].rate_period_ms = o->rate.period_ms;
		}
		n++;
	}
	if (ncaps != NULL)
		*ncaps = n;
	return (total);
}

/* How many of room a claim takes now (see sched_claim). */
static int
sched_claim_size(const struct sched *s, int room)
{
	int	max = 2 * slots_jobs(s->d->slots);

	if (max < CLAIM_FIRST)
		max = CLAIM_FIRST;
	if (max > CLAIM_MAX)
		max = CLAIM_MAX;
	return (room < max ? room : max);
}

/* Hold the room claim rec may fill until its reply (sched_release). */
static void
sched_reserve(struct sched *s, struct sched_inflight *rec,
    const struct store_claim_cap *caps, size_t ncaps)
{
	slots_claim_begin(s->d->slots, rec->shared);
	rec->pool = xcalloc(ncaps > 0 ? ncaps : 1, sizeof(*rec->pool));
	rec->npool = 0;
	for (size_t i = 0; i < ncaps; i++) {
		struct sched_reserved *r;

		if (!caps[i].pool || caps[i].cap == 0)
			continue;
		r = &rec->pool[rec->npool++];
		r->handler = xstrdup(caps[i].handler);
		r->n = (int)caps[i].cap;
		slots_pool_claim_begin(s->d->slots, r->handler, r->n);
	}
}

/* Claim rec was answered (or lost): give its room back. */
static void
sched_release(struct sched *s, struct sched_inflight *rec)
{
	slots_claim_end(s->d->slots, rec->shared);
	for (size_t i = 0; i < rec->npool; i++) {
		slots_pool_claim_end(s->d->slots, rec->pool[i].handler,
		    rec->pool[i].n);
		free(rec->pool[i].handler);
	}
	free(rec->pool);
	rec->pool = NULL;
	rec->npool = 0;
}

/*
 * Whether no claim may go out now: CLAIMS_MAX are in flight, or one is and
 * the room left is too small to be worth a second script call.
 */
static bool
sched_busy(struct sched *s)
{
	return (s->nclaims >= CLAIMS_MAX ||
	    (s->nclaims > 0 && sched_room(s, NULL, NULL) < CLAIM_FIRST));
}

/*
 * Claim due jobs of this queue: up to the free slots, plus the room in
 * the persistent handlers' pools for their jobs. A claim takes at most
 * CLAIM_FIRST jobs, or twice as many as the daemon holds, up to CLAIM_MAX:
 * the first jobs of a burst wait for a short claim, not for a thousand.
 */
static void
sched_claim(struct sched *s)
{
	struct deferd		*d = s->d;
	const struct config	*cfg = d->cfg;
	struct store_claim_args	 a;
	struct store_claim_cap	*caps;
	struct store_call	 c;
	struct sched_inflight	*rec;
	size_t			 ncaps;
	int			 room;

	if (!s->running || d->draining || !rconn_ready(d->cmd))
		return;
	if (s->nclaims >= CLAIMS_MAX) {
		s->again = true;
		return;
	}
	/*
	 * The room once (sched_busy would compute it again): none, or too
	 * little for a second claim, waits for a slot to free or the reply.
	 */
	caps = xcalloc(cfg->handlers.noverrides + 1, sizeof(*caps));
	room = sched_room(s, caps, &ncaps);
	if (room <= 0 || (s->nclaims > 0 && room < CLAIM_FIRST)) {
		free(caps);
		if (s->nclaims > 0)
			s->again = true;
		return;
	}
	rec = &s->claims[s->nclaims];
	memset(rec, 0, sizeof(*rec));
	util_random_hex(rec->nonce, 16);
	rec->min_score = s->skew_known ?
	    util_mono_ms() + s->skew_ms + cfg->lease_ms - LOST_MARGIN_MS : 0;
	memset(&a, 0, sizeof(a));
	a.k_delayed = s->keys.delayed;
	a.k_active = s->keys.active;
	a.k_dead = s->keys.dead;
	a.prefix = s->keys.prefix;
	a.limit = sched_claim_size(s, room);
	a.lease_ms = cfg->lease_ms;
	a.nonce = rec->nonce;
	a.max_payload = cfg->handlers.max_payload;
	a.dead_max = cfg->dead.max_jobs;
	a.dead_ttl_ms = cfg->dead.ttl_ms;
	a.reap_limit = REAP_LIMIT;
	a.max_attempts = cfg->retry.max_attempts;
	a.events = d->events_chan;
	a.shared_limit = sched_shared_free(s);
	a.caps = caps;
	a.ncaps = ncaps;
	/* Nothing capped: look at no more than we take. */
	a.scan = ncaps > 0 ? a.limit + SCAN_EXTRA : a.limit;
	rec->carried = s->carry_take != NULL && s->carry_take(&a.probe_channel,
	    &a.probe_message, s->carry_arg);
	store_claim(&c, &a);
	if (store_send(d->cmd, &c, sched_claim_reply, s) == 0) {
		s->nclaims++;
		s->fresh = false;
		s->claimed_at_mono = rec->sent_mono = util_mono_ms();
		rec->shared = (int)a.shared_limit;
		rec->total = (int)a.limit;
		sched_reserve(s, rec, caps, ncaps);
	} else
		sched_carried(s, rec, -1);
	free(caps);
}

/* Reply of the reap script (store_reap_reply). */
static void
sched_reap_reply(redisReply *reply, void *priv)
{
	struct sched		*s = priv;
	struct store_reaped	 r;
	char			 err[256];

	s->reaping = false;
	if (reply == NULL)
		return;
	if (store_reap_reply(reply, &r, err, sizeof(err)) == -1) {
		log_errorx("queue %s: reap failed: %s", s->queue, err);
		return;
	}
	sched_log_reaped(s, r.requeued, r.buried);
	sched_trimmed(s, r.trimmed_max, r.trimmed_ttl);
	if (r.requeued > 0)
		sched_kick(s);
}

/* Move jobs whose lease deadline passed from active back to delayed. */
static void
sched_reap(struct sched *s)
{
	const struct config	*cfg = s->d->cfg;
	struct store_reap_args	 a;
	struct store_call	 c;

	if (!s->running || s->reaping || !rconn_ready(s->d->cmd))
		return;
	memset(&a, 0, sizeof(a));
	a.k_active = s->keys.active;
	a.k_delayed = s->keys.delayed;
	a.k_dead = s->keys.dead;
	a.prefix = s->keys.prefix;
	a.limit = REAP_LIMIT;
	a.wake = s->keys.wake;
	a.dead_max = cfg->dead.max_jobs;
	a.dead_ttl_ms = cfg->dead.ttl_ms;
	a.max_attempts = cfg->retry.max_attempts;
	a.events = s->d->events_chan;
	store_reap(&c, &a);
	if (store_send(s->d->cmd, &c, sched_reap_reply, s) == 0)
		s->reaping = true;
}

void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	event_free(s->kick_ev);
	event_free(s->due_timer);
	event_free(s->poll_timer);
	event_free(s->reap_timer);
	dead_trim_free(s->trim);
	for (int i = 0; i < s->nclaims; i++)
		sched_release(s, &s->claims[i]);
	free(s->queue);
	free(s->keys.prefix);
	free(s->keys.delayed);
	free(s->keys.active);
	free(s->keys.dead);
	free(s->keys.wake);
	free(s);
}
