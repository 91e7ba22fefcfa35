/* SPDX-License-Identifier: MIT */
/*
 * The metrics registry and the Prometheus text exposition (format 0.0.4),
 * plus deferd's own families and the hooks that feed them. One registry per
 * process, used only from the event loop's thread. A family holds its
 * series in insertion order and in an open-addressing hash keyed by the
 * label values, so a hook costs one lookup. Histograms keep per-bucket
 * counts and make them cumulative only when rendered. Not responsible for
 * HTTP (metrics_http.c).
 */
#include <event2/buffer.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "util.h"
#include "version.h"
#include "xmalloc.h"

#define LATENESS_SAMPLES	4096	/* per kind, for the stats summary */

struct mseries {
	char		**values;
	uint64_t	  hash;
	double		  value;	/* counter, gauge */
	uint64_t	 *buckets;	/* histogram: per bucket, not cumulative; +Inf last */
	double		  sum;
	uint64_t	  count;
};

struct mfamily {
	struct mfamily	 *next;
	enum mtype	  type;
	char		 *name, *help;
	size_t		  nlabels;
	char		**labels;
	double		 *bounds;
	size_t		  nbounds;
	struct mseries	**list;		/* insertion order */
	size_t		  n;
	struct mseries	**tab;		/* hash; size a power of two */
	size_t		  tabsize;
};

static struct mfamily	*families, **families_tail = &families;

/* Latency samples for the deferctl stats summary (a ring per kind). */
struct ring {
	int64_t	v[LATENESS_SAMPLES];
	size_t	n;		/* samples since the last take (may exceed the ring) */
	int64_t	max;		/* of all of them */
};

/* deferd's families; NULL until metrics_init. */
static struct {
	bool		 ready;
	struct mfamily	*claimed, *done, *retried, *dead, *conflicts;
	struct mfamily	*running, *concurrency, *duration;
	struct mfamily	*late_claim, *late_start;
	struct mfamily	*redis_up, *reconnects, *rtt;
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
} m;

/* FNV-1a over the label values, each ended by 0xff. */
static uint64_t
metrics_hash(size_t n, const char *const *values)
{
	uint64_t	h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)values[i];
		    *p != '\0'; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return (h);
}

struct mfamily *
metrics_family(enum mtype type, const char *name, const char *help,
    size_t nlabels, const char *const *labels, const double *bounds,
    size_t nbounds)
{
	struct mfamily	*f = xcalloc(1, sizeof(*f));

	f->type = type;
	f->name = xstrdup(name);
	f->help = xstrdup(help);
	f->nlabels = nlabels;
	f->labels = xcalloc(nlabels + 1, sizeof(*f->labels));
	for (size_t i = 0; i < nlabels; i++)
		f->labels[i] = xstrdup(labels[i]);
	if (type == MTYPE_HISTOGRAM) {
		f->nbounds = nbounds;
		f->bounds = xcalloc(nbounds + 1, sizeof(*f->bounds));
		memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
	}
	*families_tail = f;
	families_tail = &f->next;
	return (f);
}

/* Put s into f's hash table (which has room). */
static void
metrics_tab_insert(struct mfamily *f, struct mseries *s)
{
	size_t	i = s->hash & (f->tabsize - 1);

	while (f->tab[i] != NULL)
		i = (i + 1) & (f->tabsize - 1);
	f->tab[i] = s;
}

/* The series of f with these label values, created when absent. */
static struct mseries *
metrics_series(struct mfamily *f, const char *const *values)
{
	uint64_t	 h = metrics_hash(f->nlabels, values);
	struct mseries	*s;
	size_t		 i;

	for (i = f->tabsize ? h & (f->tabsize - 1) : 0;
	    f->tabsize > 0 && (s = f->tab[i]) != NULL;
	    i = (i + 1) & (f->tabsize - 1)) {
		size_t k;

		if (s->hash != h)
			continue;
		for (k = 0; k < f->nlabels && strcmp(s->values[k], values[k]) == 0; k++)
			;
		if (k == f->nlabels)
			return (s);
	}
	s = xcalloc(1, sizeof(*s));
	s->hash = h;
	s->values = xcalloc(f->nlabels + 1, sizeof(*s->values));
	for (size_t k = 0; k < f->nlabels; k++)
		s->values[k] = xstrdup(values[k]);
	if (f->type == MTYPE_HISTOGRAM)
		s->buckets = xcalloc(f->nbounds + 1, sizeof(*s->buckets));
	f->list = xreallocarray(f->list, f->n + 1, sizeof(*f->list));
	f->list[f->n++] = s;
	if (2 * f->n > f->tabsize) {
		f->tabsize = f->tabsize == 0 ? 16 : f->tabsize * 2;
		free(f->tab);
		f->tab = xcalloc(f->tabsize, sizeof(*f->tab));
		for (size_t k = 0; k < f->n; k++)
			metrics_tab_insert(f, f->list[k]);
	} else
		metrics_tab_insert(f, s);
	return (s);
}

void
metrics_add(struct mfamily *f, const char *const *values, double v)
{
	if (f != NULL)
		metrics_series(f, values)->value += v;
}

void
metrics_set(struct mfamily *f, const char *const *values, double v)
{
	if (f != NULL)
		metrics_series(f, values)->value = v;
}

void
metrics_observe(struct mfamily *f, const char *const *values, double v)
{
	struct mseries	*s;
	size_t		 b;

	if (f == NULL)
		return;
	s = metrics_series(f, values);
	for (b = 0; b < f->nbounds && v > f->bounds[b]; b++)
		;
	s->buckets[b]++;
	s->sum += v;
	s->count++;
}

double
metrics_value(struct mfamily *f, const char *const *values)
{
	struct mseries	*s;

	if (f == NULL)
		return (0);
	s = metrics_series(f, values);
	return (f->type == MTYPE_HISTOGRAM ? (double)s->count : s->value);
}

/* Append v in the exposition's float syntax. */
static void
metrics_put_number(struct evbuffer *out, double v)
{
	if (isnan(v))
		evbuffer_add(out, "NaN", 3);
	else if (isinf(v))
		evbuffer_add_printf(out, "%sInf", v > 0 ? "+" : "-");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		evbuffer_add_printf(out, "%.0f", v);
	else
		evbuffer_add_printf(out, "%.17g", v);
}

/* Append text with the escapes of HELP (\\ and \n) or of a label value (also "). */
static void
metrics_put_escaped(struct evbuffer *out, const char *s, bool label)
{
	const char	*run = s;

	for (; *s != '\0'; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" :
		    (label && *s == '"') ? "\\\"" : NULL;

		if (esc == NULL)
			continue;
		evbuffer_add(out, run, (size_t)(s - run));
		evbuffer_add(out, esc, 2);
		run = s + 1;
	}
	evbuffer_add(out, run, (size_t)(s - run));
}

/* Append {k="v",...} (with le="bound" last when le is not NULL); nothing when empty. */
static void
metrics_put_labels(struct evbuffer *out, const struct mfamily *f,
    const struct mseries *s, const char *le)
{
	if (f->nlabels == 0 && le == NULL)
		return;
	evbuffer_add(out, "{", 1);
	for (size_t i = 0; i < f->nlabels; i++) {
		evbuffer_add_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
		metrics_put_escaped(out, s->values[i], true);
		evbuffer_add(out, "\"", 1);
	}
	if (le != NULL)
		evbuffer_add_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
	evbuffer_add(out, "}", 1);
}

/* Append the _bucket, _sum and _count lines of one histogram series. */
static void
metrics_put_histogram(struct evbuffer *out, const struct mfamily *f,
    const struct mseries *s)
{
	uint64_t	cum = 0;
	char		le[32];

	for (size_t b = 0; b <= f->nbounds; b++) {
		cum += s->buckets[b];
		if (b < f->nbounds)
			snprintf(le, sizeof(le), "%.17g", f->bounds[b]);
		else
			snprintf(le, sizeof(le), "+Inf");
		evbuffer_add_printf(out, "%s_bucket", f->name);
		metrics_put_labels(out, f, s, le);
		evbuffer_add_printf(out, " %llu\n", (unsigned long long)cum);
	}
	evbuffer_add_printf(out, "%s_sum", f->name);
	metrics_put_labels(out, f, s, NULL);
	evbuffer_add(out, " ", 1);
	metrics_put_number(out, s->sum);
	evbuffer_add_printf(out, "\n%s_count", f->name);
	metrics_put_labels(out, f, s, NULL);
	evbuffer_add_printf(out, " %llu\n", (unsigned long long)s->count);
}

void
metrics_render(struct evbuffer *out)
{
	static const char	*types[] = { "counter", "gauge", "histogram" };

	for (struct mfamily *f = families; f != NULL; f = f->next) {
		evbuffer_add_printf(out, "# HELP %s ", f->name);
		metrics_put_escaped(out, f->help, false);
		evbuffer_add_printf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
		for (size_t i = 0; i < f->n; i++) {
			const struct mseries *s = f->list[i];

			if (f->type == MTYPE_HISTOGRAM) {
				metrics_put_histogram(out, f, s);
				continue;
			}
			evbuffer_add(out, f->name, strlen(f->name));
			metrics_put_labels(out, f, s, NULL);
			evbuffer_add(out, " ", 1);
			metrics_put_number(out, s->value);
			evbuffer_add(out, "\n", 1);
		}
	}
}

/* Free one family and its series. */
static void
metrics_family_free(struct mfamily *f)
{
	for (size_t i = 0; i < f->n; i++) {
		for (size_t k = 0; k < f->nlabels; k++)
			free(f->list[i]->values[k]);
		free(f->list[i]->values);
		free(f->list[i]->buckets);
		free(f->list[i]);
	}
	for (size_t k = 0; k < f->nlabels; k++)
		free(f->labels[k]);
	free(f->labels);
	free(f->list);
	free(f->tab);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void
metrics_reset(void)
{
	struct mfamily	*f, *next;

	for (f = families; f != NULL; f = next) {
		next = f->next;
		metrics_family_free(f);
	}
	families = NULL;
	families_tail = &families;
	for (size_t i = 0; i < m.nhandlers; i++)
		free(m.handlers[i]);
	free(m.handlers);
	for (size_t i = 0; i < m.nroles; i++)
		free(m.roles[i].role);
	free(m.roles);
	memset(&m, 0, sizeof(m));
}

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
metrics_init(void)
{
	if (m.ready)
		return;
	m.ready = true;
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

int64_t
metrics_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
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
}
