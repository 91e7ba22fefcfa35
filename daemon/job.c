/* SPDX-License-Identifier: MIT */
/*
 * Claimed jobs: from the claim reply through the handler run to the outcome
 * recorded in Redis. The job owns copies of everything it needs (id, token,
 * handler, payload) so a reload never pulls strings from under it. A job is
 * unlinked only when Redis acknowledged its outcome (or said the lease was
 * lost); until then it holds its concurrency slot and its lease is extended.
 *
 * A job with a resource runs only while this daemon holds the resource's
 * lock (lock.c): it is taken before the handler starts (on conflict the
 * locks.on_conflict policy decides), and released when the run ends, with
 * any outcome. If the lock is lost while the handler runs, the handler is
 * stopped and the run counts as a failed attempt.
 *
 * The same holds for the job's own lease: a handler whose lease Redis says
 * is lost, or that could not be extended for half a lease (Redis out of
 * memory, unreachable or refusing), is stopped before the lease ends, so
 * that a daemon that reaps the job never runs it beside this one.
 */
#include <event2/event.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deferd.h"
#include "faillog.h"
#include "failpoint.h"
#include "hold.h"
#include "job.h"
#include "history.h"
#include "job_fields.h"
#include "keys.h"
#include "lock.h"
#include "log.h"
#include "metrics.h"
#include "missing.h"
#include "pace.h"
#include "rconn.h"
#include "runner.h"
#include "sched.h"
#include "slots.h"
#include "store.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define REPORT_RETRY_MS	1000	/* after an error reply to an outcome */
#define UNSTARTED_DELAY_MS 1000	/* a job this host could not start waits */
#define OUTCOME_BATCH_MAX 500	/* jobs per outcome.lua call */
/*
 * outcome.lua calls in flight per queue. The outcomes that come while one
 * is in flight wait for its answer and go in one call then: under load a
 * call carries the jobs finished during a round trip, not one turn's
 * worth, and each call's fixed cost in Redis (the call itself, TIME, the
 * history trim) is shared by more jobs. An idle queue's outcome still
 * goes at once.
 */
#define OUTCOME_CALLS_MAX 1

/* The outcome of a run, as outcome.lua records it. */
enum job_outcome {
	OUTCOME_DONE,	/* "complete": the result is kept, the job deleted */
	OUTCOME_RETRY,	/* "retry": back to delayed after the backoff */
	OUTCOME_DEAD,	/* "bury": into the dead set */
	OUTCOME_CANCELLED, /* "cancel": deferctl cancel --kill; removed */
};

enum job_state {
	JOB_WAITING,	/* claimed; its handler is at max_concurrency */
	JOB_LOCKING,	/* taking its resource's lock (policy wait: maybe for a while) */
	JOB_RUNNING,
	JOB_REPORTING,	/* outcome sent or waiting to be sent */
};

struct job {
	TAILQ_ENTRY(job)	 entry;
	TAILQ_ENTRY(job)	 wait_entry;	/* in d->waiting while JOB_WAITING */
	struct deferd		*d;
	struct sched		*s;
	enum job_state		 state;
	char			*id;
	char			*token;
	char			*handler;
	char			*resource;
	char			*source;
	struct env_var		*env;		/* DEFERD_EXPIRED_KEY etc. from the hash */
	size_t			 nenv;
	char			*payload;
	size_t			 payload_len;
	int			 attempt;
	int			 max_attempts;
	int64_t			 timeout_ms;
	int64_t			 due_ms;	/* max(due, enqueued): lateness counts from it */
	int64_t			 enqueued_ms;	/* 0: unknown */
	int64_t			 started_ms;	/* Redis time the handler started; 0: not run */
	struct run		*run;
	struct lock		*lock;		/* JOB_LOCKING and JOB_RUNNING with a resource */
	bool			 lock_lost;	/* the handler is being stopped for it */
	int64_t			 lease_ok_ms;	/* monotonic: the lease lasts lease_ms from here */
	bool			 lease_lost;	/* Redis said so, or it was not extended in time */
	bool			 kill_asked;	/* deferctl cancel --kill: never run, or stopped */
	uint64_t		 extend_seq;	/* the last extend batch it was in */
	size_t			 extend_idx;	/* its place in that batch's reply */
	bool			 extend_unconfirmed; /* that batch failed or is unanswered */

	/* The outcome to record. */
	enum job_outcome	 report;	/* what outcome.lua is to record */
	char			*error;
	char			*result;
	size_t			 result_len;
	int64_t			 delay_ms;
	bool			 refund;
	bool			 conflict;	/* retry/bury for a locked resource */
	bool			 unstarted;	/* sent back unrun: not a retry (metrics) */
	int64_t			 duration_ms;	/* of the run; -1: did not run */
	int			 exit_code;	/* of the run; -1: none */
	int			 term_signal;	/* of the run; 0: none */
	bool			 timed_out;
	char			*record;	/* history record, built once when sent */
	bool			 report_in_flight;
	bool			 reply_lost;	/* an outcome went out, its reply did not come */
	bool			 queued;	/* in d->outbox, for the next batch */
	bool			 slot_given;	/* counted as reporting in d->slots */
	bool			 pooled;	/* persistent handler: no concurrency slot */
	TAILQ_ENTRY(job)	 out_entry;
	struct event		*report_timer;
};

/* An outcome batch in flight: the jobs of one outcome.lua call, in order. */
struct outcome_batch {
	struct sched	*s;
	size_t		 n;
	struct job	*jobs[];
};

static void	job_start(struct job *);
static void	job_run_handler(struct job *);
static void	job_lock_cb(struct lock *, enum lock_event, const char *, void *);
static void	job_send_report(struct job *);
static void	job_outbox_cb(evutil_socket_t, short, void *);
static void	job_outcome_reply(redisReply *, void *);
static void	job_report_timer_cb(evutil_socket_t, short, void *);
static void	job_count_outcome(const struct job *);
static void	job_cancelled(struct job *);
static bool	job_has_room(const struct deferd *, const char *);
static void	job_report_unrun(struct job *, enum job_outcome, bool, int64_t,
		    char *);

/* Free a job's memory (it must be unlinked). */
static void
job_free(struct job *j)
{
	if (j->report_timer != NULL)
		event_free(j->report_timer);
	lock_abandon(j->lock);
	free(j->id);
	free(j->token);
	free(j->handler);
	free(j->resource);
	free(j->source);
	job_fields_env_free(j->env, j->nenv);
	free(j->payload);
	free(j->error);
	free(j->result);
	free(j->record);
	free(j);
}

static bool	job_state_busy(enum job_state);

/* Put j's outcome in the outbox / take it out, counted per queue. */
static void
job_outbox_add(struct job *j)
{
	j->queued = true;
	TAILQ_INSERT_TAIL(&j->d->outbox, j, out_entry);
	sched_outcomes_waiting(j->s, 1);
}

static void
job_outbox_remove(struct job *j)
{
	TAILQ_REMOVE(&j->d->outbox, j, out_entry);
	j->queued = false;
	sched_outcomes_waiting(j->s, -1);
}

/* Unlink and free j, then let the daemon use the free slot. */
static void
job_gone(struct job *j)
{
	struct deferd	*d = j->d;

	bool		 reporting = j->slot_given, pooled = j->pooled;

	TAILQ_REMOVE(&d->jobs, j, entry);
	if (j->queued)
		job_outbox_remove(j);
	if (job_state_busy(j->state))
		slots_handler_stop(d->slots, j->handler);
	else if (j->state == JOB_WAITING) {
		slots_handler_unwait(d->slots, j->handler);
		TAILQ_REMOVE(&d->waiting, j, wait_entry);
	}
	if (!reporting && !pooled)
		sched_hold(j->s, -1);
	job_free(j);
	slots_job_remove(d->slots, pooled, reporting);
}

/* The delay before attempt+1: backoff * 2^(attempt-1), capped, with jitter. */
static int64_t
job_backoff_ms(int64_t backoff_ms, int64_t backoff_max_ms, int attempt)
{
	int64_t	delay = backoff_ms;

	for (int i = 1; i < attempt && delay < backoff_max_ms; i++)
		delay *= 2;
	if (delay > backoff_max_ms)
		delay = backoff_max_ms;
	/* Equal jitter: at least half the delay, at most all of it. */
	return (delay / 2 + util_random_below(delay / 2 + 1));
}

/* Take the decoded fields of a claimed job into j, config defaults applied. */
static void
job_take_fields(struct job *j, const struct store_run *run)
{
	const struct config	*cfg = j->d->cfg;
	struct job_fields	 f;

	job_fields_parse(&f, run->fields, run->nfields);
	j->handler = f.handler;		/* the strings move to j */
	j->payload = f.payload;
	j->payload_len = f.payload_len;
	j->resource = f.resource;
	j->source = f.source;
	j->env = f.env;
	j->nenv = f.nenv;
	j->attempt = f.attempt;
	j->max_attempts = f.max_attempts > 0 ? f.max_attempts :
	    config_handler_max_attempts(cfg, j->handler);
	j->timeout_ms = f.timeout_ms > 0 ? f.timeout_ms :
	    config_handler_timeout_ms(cfg, j->handler);
	/*
	 * Lateness counts from when the job could first run: a job enqueued
	 * with a due time already past is not late at enqueue.
	 */
	j->due_ms = f.due_ms > 0 && f.enqueued_ms > f.due_ms ? f.enqueued_ms :
	    f.due_ms;
	j->enqueued_ms = f.enqueued_ms;
}

/*
 * The ID of claimed job j (id, as Redis sent it) breaks the ID rules: bury
 * it unrun. The claim script checks a hash job's ID (it names a key); a
 * packed job's is checked here, where it costs Redis nothing (a pattern
 * over every ID was 2,400 of the claim's instructions per job). An ID
 * with a NUL byte cannot be named back: its lease runs out and the reaper
 * buries it once its attempts are spent.
 */
static void
job_bury_bad_id(struct job *j, const redisReply *id)
{
	char	 shown[128], *err;

	util_escape(id->str, id->len, shown, sizeof(shown));
	if (memchr(id->str, '\0', id->len) != NULL) {
		log_errorx("queue %s: job \"%s\": its ID has a NUL byte; left to "
		    "the reaper", sched_queue(j->s), shown);
		job_gone(j);
		return;
	}
	xasprintf(&err, "job ID breaks the ID rules (1-200 bytes of "
	    "[A-Za-z0-9_.:@-]): \"%s\"", shown);
	log_errorx("queue %s: job \"%s\": dead: %s", sched_queue(j->s), shown,
	    err);
	job_report_unrun(j, OUTCOME_DEAD, false, 0, err);
}

void
job_claimed(struct deferd *d, struct sched *s, const struct store_run *run)
{
	struct job	*j;

	j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->s = s;
	j->id = xstrndup(run->id->str, run->id->len);
	j->token = xstrndup(run->token->str, run->token->len);
	j->duration_ms = -1;
	j->exit_code = -1;
	job_take_fields(j, run);
	metrics_job_claimed(sched_queue(s), j->handler, j->due_ms > 0,
	    sched_redis_now_ms(s) - j->due_ms);
	TAILQ_INSERT_TAIL(&d->jobs, j, entry);
	j->pooled = config_handler_persistent(d->cfg, j->handler);
	slots_job_add(d->slots, j->pooled);
	if (!j->pooled)
		sched_hold(s, 1);
	j->lease_ok_ms = util_mono_ms();
	j->state = JOB_WAITING;
	slots_handler_wait(d->slots, j->handler);
	TAILQ_INSERT_TAIL(&d->waiting, j, wait_entry);
	if (!util_valid_job_id(run->id->str, run->id->len)) {
		job_bury_bad_id(j, run->id);
		return;
	}
	log_debug("job %s (%s): claimed from queue %s, attempt %d/%d", j->id,
	    j->handler, sched_queue(s), j->attempt, j->max_attempts);
	failpoint_crash("after_claim");	/* leased to us, nothing spawned */
	if (d->draining) {
		job_requeue_waiting(d);
		return;
	}
	if (job_has_room(d, j->handler))
		job_start(j);
}

/* Whether state counts against the handler's max_concurrency. */
static bool
job_state_busy(enum job_state state)
{
	return (state == JOB_LOCKING || state == JOB_RUNNING);
}

/*
 * Move j to state, counting its handler in d->slots while it waits, locks
 * or runs.
 */
static void
job_set_state(struct job *j, enum job_state state)
{
	if (j->state == JOB_WAITING && state != JOB_WAITING) {
		slots_handler_unwait(j->d->slots, j->handler);
		TAILQ_REMOVE(&j->d->waiting, j, wait_entry);
	}
	if (j->pooled && j->state == JOB_RUNNING && state != JOB_RUNNING)
		pace_count(j->d->pace, j->handler, util_mono_ms());
	if (job_state_busy(state) && !job_state_busy(j->state))
		slots_handler_start(j->d->slots, j->handler);
	else if (!job_state_busy(state) && job_state_busy(j->state))
		slots_handler_stop(j->d->slots, j->handler);
	j->state = state;
}

/* Whether handler is one of the n names in names. */
static bool
job_handler_in(const char *handler, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], handler) == 0)
			return (true);
	return (false);
}

/* Whether handler is below its max_concurrency (if it has one). */
static bool
job_has_room(const struct deferd *d, const char *handler)
{
	int	max = config_handler_max_concurrency(d->cfg, handler);

	return (max <= 0 || slots_handler_running(d->slots, handler) < max);
}

/*
 * Start the waiting jobs whose handler has room, oldest first. A pass
 * stops once every handler with jobs waiting was found full: a freed
 * slot costs the jobs it starts, not a look at each job held (a fast
 * pool holds a thousand waiting).
 */
void
job_start_waiting(struct deferd *d)
{
	const char	*full[16];	/* handlers found full in this pass */
	size_t		 nfull = 0;
	int		 handlers = slots_handlers_waiting(d->slots);
	struct job	*j, *next;

	if (d->draining)
		return;
	TAILQ_FOREACH_SAFE(j, &d->waiting, wait_entry, next) {
		if (job_handler_in(j->handler, full, nfull))
			continue;
		if (job_has_room(d, j->handler)) {
			job_start(j);
			continue;
		}
		if (nfull == sizeof(full) / sizeof(full[0]))
			continue;	/* no early stop: still right */
		full[nfull++] = j->handler;
		if ((int)nfull >= handlers)
			break;
	}
}

/* Decide the outcome to record from a run result. */
static void
job_decide(struct job *j, const struct run_result *r)
{
	const struct config	*cfg = j->d->cfg;
	char			*err;

	free(j->error);
	j->error = NULL;
	j->duration_ms = r->duration_ms;
	if (r->outcome != RUN_MISSING && r->outcome != RUN_UNSTARTED)
		missing_found(j->d->missing, j->handler);	/* it ran */
	if (r->outcome == RUN_DONE) {
		j->report = OUTCOME_DONE;
		j->result = xmemdup(r->output, r->output_len);
		j->result_len = r->output_len;
		/* One line per success only at debug: at thousands of jobs/s
		 * an info line each floods the journal (/metrics counts them). */
		log_msg(r->output_truncated ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG,
		    "job %s (%s): done in %" PRId64 "ms%s", j->id, j->handler,
		    r->duration_ms, r->output_truncated ? " (output truncated)" : "");
		return;
	}
	if (r->outcome == RUN_MISSING && cfg->handlers.missing == MISSING_WAIT) {
		j->report = OUTCOME_RETRY;
		j->refund = true;
		j->unstarted = true;
		j->delay_ms = missing_seen(j->d->missing, sched_queue(j->s),
		    j->handler, r->error, cfg->handlers.missing_retry_ms);
		j->error = xstrdup(r->error);
		metrics_job_missing(j->handler);
		return;
	}
	if (r->outcome == RUN_UNSTARTED) {
		j->report = OUTCOME_RETRY;
		j->refund = true;
		j->delay_ms = UNSTARTED_DELAY_MS;
		j->unstarted = true;
		j->error = xstrdup(r->error);
		log_warnx("job %s (%s): not started: %s; back to delayed "
		    "without spending an attempt", j->id, j->handler, r->error);
		hold_set(j->d->hold, r->error);
		return;
	}
	if (r->killed && j->d->draining && !j->lock_lost) {
		j->report = OUTCOME_RETRY;
		j->refund = true;
		j->delay_ms = 0;
		j->error = xstrdup("stopped by daemon shutdown");
		log_warnx("job %s (%s): stopped by shutdown; requeued", j->id,
		    j->handler);
		return;
	}
	if (r->outcome == RUN_DEAD || r->outcome == RUN_MISSING ||
	    j->attempt >= j->max_attempts) {
		j->report = OUTCOME_DEAD;
		if (r->outcome != RUN_RETRY)
			j->error = xstrdup(r->error);
		else
			xasprintf(&j->error, "%s (attempt %d of %d)", r->error,
			    j->attempt, j->max_attempts);
		log_limited(faillog_limit(j->d->faillog, j->handler,
		    FAILLOG_DEAD), FAILLOG_INTERVAL_MS, LOG_LEVEL_ERROR,
		    "job %s (%s): dead: %s", j->id, j->handler, j->error);
		return;
	}
	j->report = OUTCOME_RETRY;
	j->delay_ms = job_backoff_ms(cfg->retry.backoff_ms,
	    cfg->retry.backoff_max_ms, j->attempt);
	xasprintf(&err, "%s", r->error);
	j->error = err;
	log_limited(faillog_limit(j->d->faillog, j->handler, FAILLOG_RETRY),
	    FAILLOG_INTERVAL_MS, LOG_LEVEL_WARNING, "job %s (%s): attempt %d/%d "
	    "failed: %s; retry in %" PRId64 "ms", j->id, j->handler, j->attempt,
	    j->max_attempts, j->error, j->delay_ms);
}

/* deferctl cancel --kill asked for j: record "cancelled", whatever the run did. */
static void
job_cancelled(struct job *j)
{
	log_info("job %s (%s): cancelled (deferctl cancel --kill)", j->id,
	    j->handler);
	j->report = OUTCOME_CANCELLED;
	free(j->error);
	j->error = xstrdup("cancelled by deferctl cancel --kill");
}

/* Runner callback: the handler finished; record the outcome. */
static void
job_run_done(const struct run_result *r, void *arg)
{
	struct job	*j = arg;

	j->run = NULL;
	lock_release(j->lock);
	j->lock = NULL;
	j->exit_code = r->exit_code;
	j->term_signal = r->term_signal;
	j->timed_out = r->timed_out;
	if (j->kill_asked) {
		j->duration_ms = r->duration_ms;
		job_cancelled(j);
	} else
		job_decide(j, r);
	if (j->report == OUTCOME_DONE)
		failpoint_crash("before_complete");	/* ran, not recorded */
	job_set_state(j, JOB_REPORTING);
	job_send_report(j);
}

/* The on_conflict policy of handler: its override, else locks.on_conflict. */
static enum conflict_policy
job_conflict_policy(const struct config *cfg, const char *handler)
{
	const struct handler_override	*o = config_override(cfg, handler);

	if (o != NULL && o->on_conflict != CONFLICT_INHERIT)
		return (o->on_conflict);
	return (cfg->locks.on_conflict);
}

/* Give up the lock (if any) and record the outcome of a job that did not run. */
static void
job_report_unrun(struct job *j, enum job_outcome report, bool refund,
    int64_t delay_ms, char *error)
{
	lock_release(j->lock);
	j->lock = NULL;
	free(j->error);
	j->error = error;
	job_set_state(j, JOB_REPORTING);
	j->report = report;
	j->refund = refund;
	j->delay_ms = delay_ms;
	if (j->kill_asked)
		job_cancelled(j);	/* not sent back to run: it is cancelled */
	job_send_report(j);
}

/* Back to delayed after requeue_delay (+ up to half of it), no attempt spent. */
static void
job_lock_requeue(struct job *j, const char *why)
{
	int64_t	delay = j->d->cfg->locks.requeue_delay_ms;
	char	*err;

	delay += util_random_below(delay / 2 + 1);
	xasprintf(&err, "%s", why);
	job_report_unrun(j, OUTCOME_RETRY, true, delay, err);
}

/* The resource is locked by someone else: apply the job's policy. */
static void
job_conflict(struct job *j)
{
	const struct config	*cfg = j->d->cfg;
	enum conflict_policy	 p = job_conflict_policy(cfg, j->handler);
	char			*err;
	int64_t			 delay;

	j->conflict = true;
	metrics_job_lock_conflict(sched_queue(j->s), j->handler);

	if (p == CONFLICT_REQUEUE) {
		log_info("job %s (%s): resource %s is locked; requeued without "
		    "spending an attempt", j->id, j->handler, j->resource);
		job_lock_requeue(j, "resource locked");
		return;
	}
	xasprintf(&err, "resource %s is locked%s (attempt %d of %d)", j->resource,
	    p == CONFLICT_WAIT ? " after waiting locks.wait_timeout" : "",
	    j->attempt, j->max_attempts);
	if (j->attempt >= j->max_attempts) {
		log_errorx("job %s (%s): dead: %s", j->id, j->handler, err);
		job_report_unrun(j, OUTCOME_DEAD, false, 0, err);
		return;
	}
	delay = job_backoff_ms(cfg->retry.backoff_ms, cfg->retry.backoff_max_ms,
	    j->attempt);
	log_warnx("job %s (%s): %s; retry in %" PRId64 "ms", j->id, j->handler,
	    err, delay);
	job_report_unrun(j, OUTCOME_RETRY, false, delay, err);
}

/* The lock's answer: run, apply the conflict policy, or stop a run that lost it. */
static void
job_lock_cb(struct lock *l, enum lock_event ev, const char *why, void *arg)
{
	struct job	*j = arg;
	char		*reason;

	switch (ev) {
	case LOCK_ACQUIRED:
		log_debug("job %s (%s): resource %s locked, fencing token %s",
		    j->id, j->handler, j->resource, lock_fence(l));
		job_run_handler(j);
		break;
	case LOCK_BUSY:
		job_conflict(j);
		break;
	case LOCK_ERROR:
		log_errorx("job %s (%s): resource %s: %s; requeued without "
		    "spending an attempt", j->id, j->handler, j->resource, why);
		job_lock_requeue(j, why);
		break;
	case LOCK_LOST:
		log_errorx("job %s (%s): lock on resource %s lost: %s; stopping "
		    "the handler so that two handlers never run for one resource",
		    j->id, j->handler, j->resource, why);
		j->lock_lost = true;
		xasprintf(&reason, "lock on resource %s lost: %s", j->resource,
		    why);
		if (j->run != NULL)
			runner_kill(j->run, reason);
		free(reason);
		break;
	}
}

/* Start a waiting job: take its resource's lock first if it has one. */
static void
job_start(struct job *j)
{
	const struct config	*cfg = j->d->cfg;
	int64_t			 wait = 0;

	if (j->resource == NULL) {
		job_run_handler(j);
		return;
	}
	if (job_conflict_policy(cfg, j->handler) == CONFLICT_WAIT)
		wait = cfg->locks.wait_timeout_ms;
	job_set_state(j, JOB_LOCKING);
	j->lock = lock_new(j->d->base, j->d->cmd, cfg->namespace, j->resource,
	    cfg->redis.cluster.nodes.n > 0, cfg->locks.lease_ms, job_lock_cb, j);
	lock_acquire(j->lock, wait);
}

/* Start the handler (the lock, if any, is held). */
static void
job_run_handler(struct job *j)
{
	struct run_spec	spec;

	if (j->kill_asked) {
		job_report_unrun(j, OUTCOME_CANCELLED, false, 0, NULL);
		return;
	}
	if (j->lease_lost) {
		log_warnx("job %s (%s): lease lost before its handler started; "
		    "not started", j->id, j->handler);
		job_report_unrun(j, OUTCOME_RETRY, true, 0,
		    xstrdup("lease lost before the handler started"));
		return;
	}
	memset(&spec, 0, sizeof(spec));
	spec.job_id = j->id;
	spec.queue = sched_queue(j->s);
	spec.handler = j->handler;
	spec.payload = j->payload;	/* given to the runner: not held twice */
	spec.payload_len = j->payload_len;
	spec.payload_give = true;
	j->payload = NULL;
	j->payload_len = 0;
	spec.attempt = j->attempt;
	spec.max_attempts = j->max_attempts;
	spec.timeout_ms = j->timeout_ms;
	spec.source = j->source;
	spec.resource = j->resource;
	spec.extra_env = j->env;
	spec.nextra_env = j->nenv;
	if (j->lock != NULL)
		spec.fencing_token = lock_fence(j->lock);
	job_set_state(j, JOB_RUNNING);
	j->started_ms = sched_redis_now_ms(j->s);
	metrics_job_started(sched_queue(j->s), j->handler, j->due_ms > 0,
	    sched_redis_now_ms(j->s) - j->due_ms);
	if (j->due_ms > 0)
		log_debug("job %s (%s): starting %" PRId64 "ms after due", j->id,
		    j->handler, util_real_ms() - j->due_ms);
	j->run = runner_start(j->d->runner, &spec, job_run_done, j);
}

/* Timer: send an outcome again after an error reply. */
static void
job_report_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	job_send_report(arg);
}

/*
 * Redis answered j's outcome: 1 recorded; 0 or 2 not (2: no claim holds
 * the job, which after a lost reply, while our lease ran, means the first
 * copy was recorded); an error: try again later.
 */
static void
job_report_answer(struct job *j, enum store_lease answer, const char *why)
{
	if (answer == STORE_LEASE_OK) {
		job_count_outcome(j);
		job_gone(j);
		return;
	}
	if (answer == STORE_LEASE_NONE && j->reply_lost &&
	    util_mono_ms() < j->lease_ok_ms + j->d->cfg->lease_ms) {
		/* No one else could have taken it while our lease ran. */
		log_info("job %s (%s): outcome already recorded (the reply to "
		    "the first copy was lost)", j->id, j->handler);
		job_count_outcome(j);
		job_gone(j);
		return;
	}
	if (answer != STORE_LEASE_UNKNOWN) {
		log_warnx("job %s (%s): lease lost before the outcome was recorded "
		    "(%s; another attempt may run)", j->id, j->handler,
		    answer == STORE_LEASE_NONE ? "no claim holds it: finished "
		    "or requeued" : "another claim holds it");
		job_gone(j);
		return;
	}
	log_errorx("job %s (%s): recording the outcome failed: %s; trying again",
	    j->id, j->handler, why);
	if (j->report_timer == NULL)
		j->report_timer = evtimer_new(j->d->base, job_report_timer_cb, j);
	timer_after(j->report_timer, REPORT_RETRY_MS);
}

/* Reply of an outcome batch: one integer per job, in order. */
static void
job_outcome_reply(redisReply *reply, void *priv)
{
	struct outcome_batch	*b = priv;
	struct deferd		*d = b->jobs[0]->d;
	struct store_outcomes	 o;
	char			 why[256];

	sched_outcome_calls(b->s, -1);
	if (!TAILQ_EMPTY(&d->outbox))
		event_active(d->outbox_ev, 0, 0);
	for (size_t i = 0; i < b->n; i++)
		b->jobs[i]->report_in_flight = false;
	if (reply != NULL && !b->jobs[0]->reply_lost &&
	    failpoint_hit("lose_outcome_reply")) {
		/* As if the connection dropped after Redis ran it. */
		for (size_t i = 0; i < b->n; i++)
			b->jobs[i]->reply_lost = true;
		free(b);
		job_resend_reports(d);
		return;
	}
	if (reply == NULL) {	/* resent by job_resend_reports after the reconnect */
		for (size_t i = 0; i < b->n; i++)
			b->jobs[i]->reply_lost = true;
		free(b);
		return;
	}
	snprintf(why, sizeof(why), "unexpected reply");
	if (store_outcome_reply(reply, b->n, &o, why, sizeof(why)) == 0)
		sched_trimmed(b->s, o.trimmed_max, o.trimmed_ttl);
	for (size_t i = 0; i < b->n; i++)
		job_report_answer(b->jobs[i], store_lease_answer(o.answers, o.n,
		    i), why);
	free(b);
}

/* Count a recorded outcome in the metrics (lock-conflict requeues only as conflicts). */
static void
job_count_outcome(const struct job *j)
{
	const char	*q = sched_queue(j->s);

	if (j->report == OUTCOME_DONE)
		metrics_job_done(q, j->handler, j->duration_ms);
	else if (j->report == OUTCOME_DEAD)
		metrics_job_dead(q, j->handler, j->duration_ms);
	else if (j->report == OUTCOME_CANCELLED)
		return;
	else if (!(j->conflict && j->refund) && !j->unstarted)
		metrics_job_retried(q, j->handler, j->duration_ms);
}

/*
 * Queue j's outcome for the next batch (job_outbox_cb, later in this turn
 * of the loop, or when its queue's outcome call in flight is answered); if
 * Redis is down it is sent after the reconnect. The first time, the job
 * gives its concurrency slot to a new claim: the outcomes waiting are
 * those finished within one round trip, so they stay few.
 */
static void
job_send_report(struct job *j)
{
	struct deferd	*d = j->d;

	if (j->report_in_flight || j->queued || !rconn_ready(d->cmd))
		return;
	if (d->outbox_ev == NULL) {
		TAILQ_INIT(&d->outbox);
		d->outbox_ev = event_new(d->base, -1, 0, job_outbox_cb, d);
		if (d->outbox_ev == NULL)
			fatalx("cannot create the outcome batch event");
	}
	job_outbox_add(j);
	/* A queue with its call in flight sends when that call is answered. */
	if (sched_outcome_calls(j->s, 0) < OUTCOME_CALLS_MAX)
		event_active(d->outbox_ev, 0, 0);
	if (!j->slot_given) {
		j->slot_given = true;
		slots_job_reporting(d->slots, j->pooled);
		if (!j->pooled)
			sched_hold(j->s, -1);
	}
}

/*
 * The history record of j's final outcome (results.history), built the
 * first time it is sent; NULL for a retry or with history off.
 */
static const char *
job_history_record(struct job *j)
{
	static const char *const status[] = {
		[OUTCOME_DONE] = "done",
		[OUTCOME_DEAD] = "dead",
		[OUTCOME_CANCELLED] = "cancelled",
	};
	struct history_run	 r;

	if (j->record != NULL || j->report == OUTCOME_RETRY ||
	    j->d->cfg->results.history == 0)
		return (j->record);
	memset(&r, 0, sizeof(r));
	r.status = status[j->report];
	r.handler = j->handler;
	r.attempt = j->attempt;
	r.enqueued_ms = j->enqueued_ms;
	r.started_ms = j->started_ms;
	r.finished_ms = sched_redis_now_ms(j->s);
	r.duration_ms = j->duration_ms;
	r.exit_code = j->exit_code;
	r.term_signal = j->term_signal;
	r.timed_out = j->timed_out;
	r.error = j->report != OUTCOME_DONE ? j->error : NULL;
	r.daemon = j->d->host_pid;
	j->record = history_record(&r);
	return (j->record);
}

/* j's outcome for outcome.lua; its strings stay j's. */
static void
job_outcome_of(const struct job *j, struct store_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = j->report == OUTCOME_DONE ? STORE_COMPLETE :
	    j->report == OUTCOME_RETRY ? STORE_RETRY :
	    j->report == OUTCOME_DEAD ? STORE_BURY : STORE_CANCEL;
	o->id = j->id;
	o->token = j->token;
	if (j->report == OUTCOME_DONE) {
		o->text = j->result;
		o->text_len = j->result != NULL ? j->result_len : 0;
	} else {
		o->text = j->error;
		o->text_len = j->error != NULL ? strlen(j->error) : 0;
	}
	o->delay_ms = j->delay_ms;
	o->refund = j->refund;
	o->conflict = j->conflict;
	o->duration_ms = j->duration_ms;
	o->record = j->record;
}

/* Send one outcome.lua call for up to OUTCOME_BATCH_MAX queued jobs of s. */
static void
job_send_batch(struct deferd *d, struct sched *s)
{
	const struct config		*cfg = d->cfg;
	struct store_outcome_args	 a;
	struct store_outcome		 o;
	struct store_call		 c;
	struct outcome_batch		*b;
	struct job			*j, *next;
	size_t				 n = (size_t)sched_outcomes_waiting(s, 0);

	if (n > OUTCOME_BATCH_MAX)
		n = OUTCOME_BATCH_MAX;
	b = xcalloc(1, sizeof(*b) + n * sizeof(b->jobs[0]));
	b->s = s;
	memset(&a, 0, sizeof(a));
	a.k_active = sched_keys(s)->active;
	a.k_delayed = sched_keys(s)->delayed;
	a.k_dead = sched_keys(s)->dead;
	a.prefix = sched_keys(s)->prefix;
	a.result_ttl_ms = cfg->results.ttl_ms;
	a.dead_max = cfg->dead.max_jobs;
	a.dead_ttl_ms = cfg->dead.ttl_ms;
	a.wake = sched_keys(s)->wake;
	a.events = d->events_chan;
	a.history_max = cfg->results.history;
	a.history_ttl_ms = cfg->results.ttl_ms;
	store_outcome_begin(&c, &a);
	TAILQ_FOREACH_SAFE(j, &d->outbox, out_entry, next) {
		if (b->n == n)
			break;
		if (j->s != s)
			continue;
		job_outbox_remove(j);
		job_history_record(j);
		job_outcome_of(j, &o);
		store_outcome_add(&c, &o);
		b->jobs[b->n++] = j;
	}
	if (store_send(d->cmd, &c, job_outcome_reply, b) == 0) {
		sched_outcome_calls(s, 1);
		for (size_t i = 0; i < b->n; i++)
			b->jobs[i]->report_in_flight = true;
	} else
		free(b);	/* Redis went down: resent after the reconnect */
}

/*
 * Zero-delay event: send the queued outcomes, one call per queue, but for
 * the queues with a call in flight (their answer sends them). Queues are
 * few; the outbox may hold thousands, so it is not searched.
 */
static void
job_outbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct deferd	*d = arg;
	struct job	*j;

	(void)fd;
	(void)what;
	if (!rconn_ready(d->cmd)) {	/* resent after the reconnect */
		while ((j = TAILQ_FIRST(&d->outbox)) != NULL)
			job_outbox_remove(j);
		return;
	}
	for (size_t i = 0; i < d->nscheds; i++) {
		struct sched	*s = d->scheds[i];

		if (sched_outcomes_waiting(s, 0) > 0 &&
		    sched_outcome_calls(s, 0) < OUTCOME_CALLS_MAX)
			job_send_batch(d, s);
	}
}

void
job_resend_reports(struct deferd *d)
{
	struct job	*j, *next;

	TAILQ_FOREACH_SAFE(j, &d->jobs, entry, next)
		if (j->state == JOB_REPORTING && !j->report_in_flight)
			job_send_report(j);
}

void
job_requeue_waiting(struct deferd *d)
{
	struct job	*j, *next;

	TAILQ_FOREACH_SAFE(j, &d->jobs, entry, next) {
		if (j->state != JOB_WAITING && j->state != JOB_LOCKING)
			continue;
		lock_release(j->lock);
		j->lock = NULL;
		job_set_state(j, JOB_REPORTING);
		j->report = OUTCOME_RETRY;
		j->refund = true;
		j->delay_ms = 0;
		j->error = xstrdup("not started before daemon shutdown");
		job_send_report(j);
	}
}

/* A batch extend in flight: its jobs carry seq and their place in the reply. */
struct extend_batch {
	struct deferd	*d;
	uint64_t	 seq;
	int64_t		 sent_ms;	/* monotonic */
};

/*
 * j's lease is lost or about to end unextended: stop its handler within
 * grace_ms (SIGKILL at the latest then), so that it has stopped before a
 * reap hands the job to another daemon. A job not started yet never
 * starts (job_run_handler).
 */
static void
job_lease_lost(struct job *j, const char *why, int64_t grace_ms)
{
	char	*reason;

	if (j->lease_lost)
		return;
	j->lease_lost = true;
	if (j->state != JOB_RUNNING || j->run == NULL || runner_exited(j->run))
		return;		/* nothing runs: its outcome will be refused */
	log_errorx("job %s (%s): %s; stopping the handler within %" PRId64
	    "ms so that the job never runs twice at once", j->id, j->handler,
	    why, grace_ms);
	xasprintf(&reason, "lease lost: %s", why);
	runner_kill_within(j->run, reason, grace_ms);
	free(reason);
}

/* Reply to a batch extend: one integer per job, 0 = lease lost. */
static void
job_extend_reply(redisReply *reply, void *priv)
{
	struct extend_batch	*b = priv;
	struct deferd		*d = b->d;
	struct store_extended	 x;
	struct job		*j;

	if (reply == NULL)
		snprintf(d->extend_error, sizeof(d->extend_error),
		    "Redis did not answer");
	if (reply == NULL || store_extend_reply(reply, &x, d->extend_error,
	    sizeof(d->extend_error)) == -1) {
		log_limited(&d->extend_limit, 10000, LOG_LEVEL_ERROR,
		    "extending leases failed: %s", d->extend_error);
		free(b);
		return;
	}
	d->extend_error[0] = '\0';
	TAILQ_FOREACH(j, &d->jobs, entry) {
		if (j->extend_seq != b->seq || j->extend_idx >= x.n)
			continue;
		if (store_lease_answer(x.answers, x.n, j->extend_idx) ==
		    STORE_LEASE_OK) {
			j->extend_unconfirmed = false;
			if (b->sent_ms > j->lease_ok_ms)
				j->lease_ok_ms = b->sent_ms;
		} else
			job_lease_lost(j, "Redis says the lease was taken over "
			    "(Redis unreachable longer than the lease?)", 0);
	}
	free(b);
}

/*
 * Stop the handlers whose last extension failed or is still unanswered
 * when less than half their lease is left: what is left of it is split
 * between SIGTERM and SIGKILL, so the handler is gone before Redis lets
 * another daemon reap the job. (Extensions go out every lease/3, so this
 * is the last tick before the lease ends; a late tick alone, with Redis
 * answering, stops nothing.)
 */
static void
job_stop_unextended(struct deferd *d)
{
	int64_t		 lease = d->cfg->lease_ms, now = util_mono_ms(), left;
	struct job	*j;
	char		 why[384];

	TAILQ_FOREACH(j, &d->jobs, entry) {
		if (j->state != JOB_RUNNING || j->lease_lost ||
		    !j->extend_unconfirmed)
			continue;
		left = j->lease_ok_ms + lease - now;
		if (left >= lease / 2)
			continue;
		snprintf(why, sizeof(why), "lease not extended for %" PRId64
		    "ms (%s)", now - j->lease_ok_ms, d->extend_error[0] != '\0' ?
		    d->extend_error : "no answer from Redis yet");
		job_lease_lost(j, why, left / 2);
	}
}

/*
 * Whether j of queue s still needs its lease extended: not once its outcome
 * is on the way (Redis runs it before a later extend, which would then find
 * the job gone and look like a lost lease).
 */
static bool
job_needs_lease(const struct job *j, const struct sched *s)
{
	return (j->s == s && !j->report_in_flight && !j->lease_lost);
}

/* Extend the leases of this daemon's jobs of one queue in one call. */
static void
job_extend_queue(struct deferd *d, struct sched *s)
{
	struct extend_batch	*b;
	struct store_call	 c;
	struct job		*j;
	size_t			 n = 0;

	TAILQ_FOREACH(j, &d->jobs, entry)
		if (job_needs_lease(j, s))
			n++;
	if (n == 0)
		return;
	b = xcalloc(1, sizeof(*b));
	b->d = d;
	b->seq = ++d->extend_seq;
	b->sent_ms = util_mono_ms();
	store_extend_begin(&c, sched_keys(s)->active, sched_keys(s)->prefix,
	    d->cfg->lease_ms);
	n = 0;
	TAILQ_FOREACH(j, &d->jobs, entry) {
		if (!job_needs_lease(j, s))
			continue;
		j->extend_seq = b->seq;
		j->extend_idx = n++;
		j->extend_unconfirmed = true;
		store_extend_add(&c, j->id, j->token);
	}
	if (store_send(d->cmd, &c, job_extend_reply, b) == -1)
		job_extend_reply(NULL, b);
}

void
job_extend_leases(struct deferd *d)
{
	job_stop_unextended(d);
	for (size_t i = 0; i < d->nscheds; i++)
		job_extend_queue(d, d->scheds[i]);
}

void
job_free_all(struct deferd *d)
{
	struct job	*j;

	while ((j = TAILQ_FIRST(&d->jobs)) != NULL) {
		TAILQ_REMOVE(&d->jobs, j, entry);
		job_free(j);
	}
	slots_forget_jobs(d->slots);
	if (d->outbox_ev != NULL)
		event_free(d->outbox_ev);
	d->outbox_ev = NULL;
}

bool
job_kill(struct deferd *d, const char *queue, const char *id)
{
	struct job	*j;

	TAILQ_FOREACH(j, &d->jobs, entry)
		if (strcmp(j->id, id) == 0 &&
		    strcmp(sched_queue(j->s), queue) == 0)
			break;
	if (j == NULL || j->state == JOB_REPORTING || j->kill_asked)
		return (false);
	j->kill_asked = true;
	log_info("job %s (%s): deferctl cancel --kill: stopping it", j->id,
	    j->handler);
	if (j->state == JOB_RUNNING && j->run != NULL)
		runner_kill(j->run, "cancelled by deferctl cancel --kill");
	else if (j->state == JOB_WAITING)
		job_report_unrun(j, OUTCOME_CANCELLED, false, 0, NULL);
	/* JOB_LOCKING: job_run_handler or the conflict path sees kill_asked. */
	return (true);
}
