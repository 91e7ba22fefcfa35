/* SPDX-License-Identifier: MIT */
/*
 * deferd's own metric families and the hooks the daemon's modules call
 * (job.c, sched.c, rconn.c, expire.c, metrics_http.c): they only count,
 * never do I/O, and do nothing before metrics_init. Also the bound on
 * handler label values, the per-role connection state behind /healthz, and
 * the lateness samples behind the deferctl stats summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "minutes.h"
#include "util.h"
#include "version.h"
#include "xmalloc.h"

#define LATENESS_SAMPLES	4096	/* per kind, for the stats summary */

/* Latency samples for the deferctl stats summary (a ring per kind). */
struct ring {
	int64_t	v[LATENESS_SAMPLES];
	size_t	n;		/* samples since the last take (may exceed the ring) */
	int64_t	max;		/* of all of them */
};

/* deferd's families; NULL until metrics_init. */
static struct {
	bool		 ready;
	struct mfamily	*claimed, *done, *retried, *dead, *conflicts, *missing;
	struct mfamily	*trimmed, *sched_enqueued, *sched_missed;
	struct mfamily	*running, *concurrency, *duration;
	struct mfamily	*late_claim, *late_start;
	struct mfamily	*redis_up, *reconnects, *rtt, *wait_short;
	struct mfamily	*exp_events, *exp_created, *exp_tracked, *exp_outage;
	struct mfamily	*queue_jobs, *build;
	char		**handlers;		/* label values seen */
	size_t		 nhandlers;
	struct {
		char	*role;
		bool	 up, ever_up;
		int64_t	 down_since;	/* monotonic ms */
	}		*roles;
	size_t		 nroles;
	struct ring	 claim_ring, start_ring;
	struct minutes	 minutes;	/* the last hour's counts, for the summary */
} m;

/* Lateness buckets in seconds: 1ms .. 10s. */
static const double	late_bounds[] = { 0.001, 0.002, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
/* Handler durations in seconds: 5ms .. 10min. */
static const double	dur_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1, 2.5, 5, 10, 30, 60, 300, 600 };
/* Redis round trips in seconds: 50us .. 1s. */
static const double	rtt_bounds[] = { 0.00005, 0.0001, 0.00025, 0.0005,
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1 };

#define L(...)	(const char *const []){ __VA_ARGS__ }
#define NL(a)	(sizeof(a) / sizeof((a)[0]))

/* Register the job families. */
static void
metrics_init_jobs(void)
{
	static const char *const qh[] = { "queue", "handler" };

	m.claimed = metrics_family(MTYPE_COUNTER, "deferd_jobs_claimed_total",
	    "Jobs claimed by this daemon.", 2, qh, NULL, 0);
	m.done = metrics_family(MTYPE_COUNTER, "deferd_jobs_done_total",
	    "Jobs whose handler succeeded (exit 0).", 2, qh, NULL, 0);
	m.retried = metrics_family(MTYPE_COUNTER, "deferd_jobs_retried_total",
	    "Jobs put back into delayed for another attempt (failures and "
	    "shutdown requeues; not lock conflicts).", 2, qh, NULL, 0);
	m.dead = metrics_family(MTYPE_COUNTER, "deferd_jobs_dead_total",
	    "Jobs moved to the dead set by this daemon.", 2, qh, NULL, 0);
	m.conflicts = metrics_family(MTYPE_COUNTER,
	    "deferd_jobs_lock_conflicts_total", "Jobs whose resource was locked "
	    "by someone else (requeued or retried per locks.on_conflict).", 2,
	    qh, NULL, 0);
	m.missing = metrics_family(MTYPE_COUNTER,
	    "deferd_jobs_missing_handler_total", "Jobs sent back to delayed, "
	    "no attempt spent, because their handler is missing, not executable "
	    "or unsafe on this host (handlers.missing: wait).", 1, L("handler"),
	    NULL, 0);
	m.trimmed = metrics_family(MTYPE_COUNTER, "deferd_dead_trimmed_total",
	    "Dead jobs removed for good by dead.max_jobs or dead.ttl.", 2,
	    L("queue", "reason"), NULL, 0);
	m.sched_enqueued = metrics_family(MTYPE_COUNTER,
	    "deferd_schedule_ticks_enqueued_total", "Ticks of periodic jobs "
	    "this daemon enqueued (the first daemon to get there enqueues a "
	    "tick).", 1, L("schedule"), NULL, 0);
	m.sched_missed = metrics_family(MTYPE_COUNTER,
	    "deferd_schedule_ticks_missed_total", "Ticks of periodic jobs no "
	    "daemon enqueued before their time, found by this daemon (run or "
	    "not per schedules[].missed).", 1, L("schedule"), NULL, 0);
	m.running = metrics_family(MTYPE_GAUGE, "deferd_handlers_running",
	    "Handler processes running now.", 0, NULL, NULL, 0);
	m.concurrency = metrics_family(MTYPE_GAUGE, "deferd_concurrency_limit",
	    "The concurrency setting.", 0, NULL, NULL, 0);
	m.duration = metrics_family(MTYPE_HISTOGRAM,
	    "deferd_handler_duration_seconds", "Run time of handlers, by handler.",
	    1, L("handler"), dur_bounds, NL(dur_bounds));
	m.late_claim = metrics_family(MTYPE_HISTOGRAM,
	    "deferd_claim_lateness_seconds", "Claim time minus due time (Redis "
	    "clock).", 1, L("queue"), late_bounds, NL(late_bounds));
	m.late_start = metrics_family(MTYPE_HISTOGRAM,
	    "deferd_start_lateness_seconds", "Handler start minus due time "
	    "(Redis clock, via the skew estimate).", 1, L("queue"), late_bounds,
	    NL(late_bounds));
	m.queue_jobs = metrics_family(MTYPE_GAUGE, "deferd_queue_jobs",
	    "Jobs in a queue's delayed, active and dead sets (refreshed every "
	    "5s).", 2, L("queue", "state"), NULL, 0);
}

void
metrics_hooks_reset(void)
{
	for (size_t i = 0; i < m.nhandlers; i++)
		free(m.handlers[i]);
	free(m.handlers);
	for (size_t i = 0; i < m.nroles; i++)
		free(m.roles[i].role);
	free(m.roles);
	memset(&m, 0, sizeof(m));
	metrics_reset();
}

void
metrics_init(void)
{
	if (m.ready)
		return;
	m.ready = true;
	minutes_init(&m.minutes);
	m.build = metrics_family(MTYPE_GAUGE, "deferd_build_info",
	    "Always 1; the version is a label.", 1, L("version"), NULL, 0);
	metrics_set(m.build, L(DEFERD_VERSION), 1);
	metrics_init_jobs();
	m.redis_up = metrics_family(MTYPE_GAUGE, "deferd_redis_connected",
	    "1 when the connection of this role is ready, else 0.", 1,
	    L("role"), NULL, 0);
	m.reconnects = metrics_family(MTYPE_COUNTER,
	    "deferd_redis_reconnects_total", "Connections ready again after a "
	    "loss.", 1, L("role"), NULL, 0);
	m.wait_short = metrics_family(MTYPE_COUNTER,
	    "deferd_redis_replica_wait_short_total", "Writes that reached "
	    "fewer replicas than redis.wait_replicas within redis.wait_timeout.",
	    1, L("role"), NULL, 0);
	m.rtt = metrics_family(MTYPE_HISTOGRAM,
	    "deferd_redis_command_duration_seconds", "Round trip of commands "
	    "and scripts, send to reply.", 1, L("role"), rtt_bounds,
	    NL(rtt_bounds));
	m.exp_events = metrics_family(MTYPE_COUNTER,
	    "deferd_expirations_received_total", "Expired-key events that "
	    "matched a rule.", 0, NULL, NULL, 0);
	m.exp_created = metrics_family(MTYPE_COUNTER,
	    "deferd_expiration_jobs_created_total", "Jobs made from expired "
	    "keys by this daemon.", 0, NULL, NULL, 0);
	m.exp_tracked = metrics_family(MTYPE_GAUGE,
	    "deferd_expiration_tracked_keys", "Keys in the expiration tracker "
	    "(ns:{exp}:watch).", 0, NULL, NULL, 0);
	m.exp_outage = metrics_family(MTYPE_COUNTER,
	    "deferd_expiration_outage_seconds_total", "Time the key event "
	    "subscription was down (events in it may be lost).", 0, NULL, NULL, 0);
	metrics_add(m.exp_events, NULL, 0);
	metrics_add(m.exp_created, NULL, 0);
	metrics_add(m.exp_outage, NULL, 0);
}

const char *
metrics_handler_label(const char *handler)
{
	if (handler == NULL || !util_valid_handler_name(handler, strlen(handler)))
		return ("other");
	for (size_t i = 0; i < m.nhandlers; i++)
		if (strcmp(m.handlers[i], handler) == 0)
			return (m.handlers[i]);
	if (m.nhandlers >= METRICS_MAX_HANDLERS || strcmp(handler, "other") == 0)
		return ("other");
	m.handlers = xreallocarray(m.handlers, m.nhandlers + 1, sizeof(*m.handlers));
	m.handlers[m.nhandlers] = xstrdup(handler);
	return (m.handlers[m.nhandlers++]);
}

/* Add one sample to a lateness ring. */
static void
metrics_ring_add(struct ring *r, int64_t ms)
{
	r->v[r->n % LATENESS_SAMPLES] = ms;
	r->n++;
	if (ms > r->max)
		r->max = ms;
}

/* Count a job event of (queue, handler) in f. */
static void
metrics_count(struct mfamily *f, const char *queue, const char *handler)
{
	if (m.ready)
		metrics_add(f, L(queue, metrics_handler_label(handler)), 1);
}

void
metrics_job_claimed(const char *queue, const char *handler, bool late_known,
    int64_t late_ms)
{
	if (!m.ready)
		return;
	metrics_count(m.claimed, queue, handler);
	if (!late_known)
		return;
	if (late_ms < 0)
		late_ms = 0;
	metrics_observe(m.late_claim, L(queue), (double)late_ms / 1000);
	metrics_ring_add(&m.claim_ring, late_ms);
}

void
metrics_job_started(const char *queue, const char *handler, bool late_known,
    int64_t late_ms)
{
	(void)handler;
	if (!m.ready || !late_known)
		return;
	if (late_ms < 0)
		late_ms = 0;
	metrics_observe(m.late_start, L(queue), (double)late_ms / 1000);
	metrics_ring_add(&m.start_ring, late_ms);
}

/* Observe a handler's run time (ms >= 0). */
static void
metrics_duration(const char *handler, int64_t ms)
{
	if (ms >= 0)
		metrics_observe(m.duration, L(metrics_handler_label(handler)),
		    (double)ms / 1000);
}

void
metrics_job_done(const char *queue, const char *handler, int64_t ms)
{
	if (!m.ready)
		return;
	metrics_count(m.done, queue, handler);
	metrics_duration(handler, ms);
	minutes_count(&m.minutes, util_real_ms(), MINUTES_DONE);
}

void
metrics_job_retried(const char *queue, const char *handler, int64_t ms)
{
	if (!m.ready)
		return;
	metrics_count(m.retried, queue, handler);
	metrics_duration(handler, ms);
}

void
metrics_job_dead(const char *queue, const char *handler, int64_t ms)
{
	if (!m.ready)
		return;
	metrics_count(m.dead, queue, handler);
	metrics_duration(handler, ms);
	minutes_count(&m.minutes, util_real_ms(), MINUTES_FAILED);
}

void
metrics_dead_trimmed(const char *queue, const char *reason, long long n)
{
	if (m.ready)
		metrics_add(m.trimmed, L(queue, reason), (double)n);
}

void
metrics_schedule_ticks(const char *schedule, uint64_t enqueued,
    uint64_t missed)
{
	if (!m.ready)
		return;
	if (enqueued > 0)
		metrics_add(m.sched_enqueued, L(schedule), (double)enqueued);
	if (missed > 0)
		metrics_add(m.sched_missed, L(schedule), (double)missed);
}

void
metrics_job_missing(const char *handler)
{
	if (!m.ready)
		return;
	metrics_add(m.missing, L(metrics_handler_label(handler)), 1);
}

void
metrics_job_lock_conflict(const char *queue, const char *handler)
{
	metrics_count(m.conflicts, queue, handler);
}

/* The state record of role, created (down since now) when new. */
static size_t
metrics_role(const char *role)
{
	for (size_t i = 0; i < m.nroles; i++)
		if (strcmp(m.roles[i].role, role) == 0)
			return (i);
	m.roles = xreallocarray(m.roles, m.nroles + 1, sizeof(*m.roles));
	memset(&m.roles[m.nroles], 0, sizeof(*m.roles));
	m.roles[m.nroles].role = xstrdup(role);
	m.roles[m.nroles].down_since = util_mono_ms();
	metrics_set(m.redis_up, L(role), 0);
	metrics_add(m.reconnects, L(role), 0);
	return (m.nroles++);
}

void
metrics_redis_state(const char *role, bool up)
{
	size_t	i;

	if (!m.ready)
		return;
	i = metrics_role(role);
	if (up && !m.roles[i].up && m.roles[i].ever_up)
		metrics_add(m.reconnects, L(role), 1);
	if (!up && m.roles[i].up)
		m.roles[i].down_since = util_mono_ms();
	m.roles[i].up = up;
	m.roles[i].ever_up |= up;
	metrics_set(m.redis_up, L(role), up ? 1 : 0);
}

int64_t
metrics_redis_down_ms(const char *role)
{
	for (size_t i = 0; i < m.nroles; i++)
		if (strcmp(m.roles[i].role, role) == 0)
			return (m.roles[i].up ? -1 :
			    util_mono_ms() - m.roles[i].down_since);
	return (-1);
}

void
metrics_redis_wait_short(const char *role)
{
	if (m.ready)
		metrics_add(m.wait_short, L(role), 1);
}

void
metrics_redis_rtt(const char *role, int64_t us)
{
	if (m.ready)
		metrics_observe(m.rtt, L(role), (double)us / 1e6);
}

void
metrics_expire_event(void)
{
	metrics_add(m.exp_events, NULL, 1);
}

void
metrics_expire_created(void)
{
	metrics_add(m.exp_created, NULL, 1);
}

void
metrics_expire_tracked(long long keys)
{
	metrics_set(m.exp_tracked, NULL, (double)keys);
}

void
metrics_expire_outage(double seconds)
{
	metrics_add(m.exp_outage, NULL, seconds);
}

void
metrics_queue_size(const char *queue, const char *state, long long n)
{
	if (m.ready)
		metrics_set(m.queue_jobs, L(queue, state), (double)n);
}

void
metrics_set_running(size_t running, int limit)
{
	metrics_set(m.running, NULL, (double)running);
	metrics_set(m.concurrency, NULL, limit);
}

/* qsort order of int64_t. */
static int
metrics_cmp64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * p50 and p99 of the ring's window (the last LATENESS_SAMPLES samples) and
 * the max of all samples since the last take; reset it.
 */
static size_t
metrics_ring_take(struct ring *r, int64_t *p50, int64_t *p99, int64_t *max)
{
	size_t	n = r->n < LATENESS_SAMPLES ? r->n : LATENESS_SAMPLES, total = r->n;

	*p50 = *p99 = 0;
	*max = r->max;
	r->n = 0;
	r->max = 0;
	if (n == 0)
		return (0);
	qsort(r->v, n, sizeof(r->v[0]), metrics_cmp64);
	*p50 = r->v[(n - 1) / 2];
	*p99 = r->v[(n - 1) * 99 / 100];
	return (total);
}

void
metrics_lateness_take(struct lateness_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->n_claim = metrics_ring_take(&m.claim_ring, &s->claim_p50,
	    &s->claim_p99, &s->claim_max);
	s->n_start = metrics_ring_take(&m.start_ring, &s->start_p50,
	    &s->start_p99, &s->start_max);
	if (s->n_start > 0)
		minutes_p99(&m.minutes, util_real_ms(), s->start_p99);
}

void
metrics_minutes_json(struct json_out *o)
{
	minutes_json(&m.minutes, util_real_ms(), o);
}
