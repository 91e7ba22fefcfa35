/* SPDX-License-Identifier: MIT */
/*
 * Periodic jobs at run time; see schedules.h. One struct sch per schedule:
 * a timer, and one script call in flight at a time. A step reads the
 * schedule's state (Redis time, the latest tick enqueued, the fingerprint
 * of the definition that enqueued it), plans (schedule_ticks.c) and
 * enqueues the ticks due within the lookahead, the missed ones the policy
 * runs first; then the timer waits for the next tick to come into the
 * lookahead window (at most STEP_MAX_MS, so a clock step in Redis or a
 * change by another daemon is seen within a minute).
 *
 * A definition that differs from the one stored in Redis replaces it
 * (pending ticks cancelled, counting starts at now) when this daemon has
 * just started or reloaded; later differences come from another daemon
 * with another config and are only logged. A schedule removed by a
 * reload has its pending ticks cancelled and its hash deleted. Removed
 * schedules' structs stay until exit: replies in flight still name them.
 */
#include <event2/event.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deferd.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "rconn.h"
#include "schedule_ticks.h"
#include "schedules.h"
#include "store.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define STEP_MAX_MS	60000	/* longest wait between two steps */
#define RETRY_MS	1000	/* after a failed script call */
#define WARN_EVERY_MS	60000

enum sch_call {
	CALL_NONE,
	CALL_STATE,
	CALL_ENQUEUE,
	CALL_REPLACE,
	CALL_REMOVE,
};

struct sch {
	struct schedules	*owner;
	const struct schedule	*sc;		/* in d->cfg; NULL once removed */
	char			*name;
	char			*queue;
	char			*key;		/* NS:{Q}:schedule:NAME */
	char			*prefix;	/* NS:{Q}: */
	char			*k_delayed;
	char			*k_wake;
	char			 fp[17];	/* schedule_fingerprint */
	bool			 running;	/* steps may be sent */
	bool			 removed;	/* gone from the config */
	bool			 check_spec;	/* replace a different stored one */
	bool			 force_replace;	/* a reload changed the definition */
	enum sch_call		 inflight;
	bool			 again;		/* step once the call returns */
	struct event		*timer;
	struct log_limit	 warn_limit;
	struct tick_plan	 plan;
};

struct schedules {
	struct deferd	 *d;
	struct sch	**all;		/* current, then removed ones */
	size_t		  nall;
	bool		  up;
};

static void	sch_step(struct sch *);

/* Timer: plan again. */
static void
sch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sch_step(arg);
}

/* Wait delay_ms (capped at STEP_MAX_MS) before the next step. */
static void
sch_arm(struct sch *s, int64_t delay_ms)
{
	if (!s->running || s->removed)
		return;
	if (delay_ms < 0 || delay_ms > STEP_MAX_MS)
		delay_ms = STEP_MAX_MS;
	timer_after(s->timer, delay_ms);
}

/* Start a schedule.lua call of mode for s. */
static void
sch_begin(struct sch *s, enum store_schedule_mode mode, struct store_call *c)
{
	struct store_schedule_ref	ref;

	ref.key = s->key;
	ref.k_delayed = s->k_delayed;
	ref.prefix = s->prefix;
	ref.name = s->name;
	ref.fp = s->fp;
	store_schedule(c, mode, &ref);
}

/* Send c (built by sch_begin) as call; -1 when Redis is not connected. */
static int
sch_send(struct sch *s, enum sch_call call, struct store_call *c,
    rconn_reply_cb cb)
{
	if (store_send(s->owner->d->cmd, c, cb, s) == -1)
		return (-1);
	s->inflight = call;
	return (0);
}

/* Send a call of mode that takes nothing more (state, replace, remove). */
static int
sch_call(struct sch *s, enum sch_call call, enum store_schedule_mode mode,
    rconn_reply_cb cb)
{
	struct store_call	c;

	sch_begin(s, mode, &c);
	return (sch_send(s, call, &c, cb));
}

/* Parse a reply of mode; false (logged) when it is not one. */
static bool
sch_reply_ok(struct sch *s, const redisReply *r, enum store_schedule_mode mode,
    const char *what, struct store_scheduled *out)
{
	char	err[256];

	if (r != NULL && store_schedule_reply(r, mode, out, err,
	    sizeof(err)) == 0)
		return (true);
	log_limited(&s->warn_limit, WARN_EVERY_MS, LOG_LEVEL_ERROR,
	    "schedule %s (key %s): %s failed: %s", s->name, s->key, what,
	    r == NULL ? "connection lost" : err);
	return (false);
}

/* The call returned: go on with what waits, or retry after a failure. */
static void
sch_call_done(struct sch *s, bool ok)
{
	s->inflight = CALL_NONE;
	if (s->again || !ok) {
		s->again = false;
		if (ok)
			sch_step(s);
		else
			sch_arm(s, RETRY_MS);
	}
}

/* Log what the plan found missed and what of it runs. */
static void
sch_log_missed(const struct sch *s, int64_t last, const struct tick_plan *p)
{
	static const char *const policy[] = { "skip", "once", "all" };
	char	at[40];

	util_iso_ms(last, at, sizeof(at));
	log_warnx("schedule %s: %s%" PRIu64 " tick(s) missed since %s "
	    "(no daemon enqueued them in time); missed: %s runs %zu of them",
	    s->name, p->missed_more ? "at least " : "", p->missed, at,
	    policy[s->sc->missed], p->nrun_missed);
}

/* Reply of enqueue: {now, last, created}; then wait for the next tick. */
static void
sch_enqueue_reply(redisReply *r, void *priv)
{
	struct sch		*s = priv;
	struct store_scheduled	 x;
	bool			 ok = s->running && sch_reply_ok(s, r,
				    STORE_SCHEDULE_ENQUEUE, "enqueueing ticks", &x);

	if (ok) {
		metrics_schedule_ticks(s->name, (uint64_t)x.count, 0);
		if (!s->again)
			sch_arm(s, s->plan.wake_ms < 0 ? -1 :
			    s->plan.wake_ms - x.now_ms);
	}
	sch_call_done(s, ok || !s->running);
}

/* Enqueue the planned ticks: tick, due (with jitter) and text each. */
static void
sch_enqueue(struct sch *s)
{
	const struct schedule	*sc = s->sc;
	struct deferd		*d = s->owner->d;
	struct store_call	 c;
	char			 text[48];

	sch_begin(s, STORE_SCHEDULE_ENQUEUE, &c);
	store_schedule_job(&c, sc->handler, sc->payload, sc->resource,
	    s->k_wake, d->events_chan);
	for (size_t i = 0; i < s->plan.nticks; i++) {
		int64_t	tick = s->plan.ticks[i];
		int64_t	due = tick + (sc->jitter_ms > 0 ?
			    util_random_below(sc->jitter_ms + 1) : 0);

		schedule_tick_text(sc, tick, text, sizeof(text));
		store_schedule_tick(&c, tick, due, text);
	}
	if (sch_send(s, CALL_ENQUEUE, &c, sch_enqueue_reply) == -1)
		sch_arm(s, RETRY_MS);
}

/* Reply of replace: {now, last, cancelled}; then plan with the new one. */
static void
sch_replace_reply(redisReply *r, void *priv)
{
	struct sch		*s = priv;
	struct store_scheduled	 x;
	bool			 ok = s->running && sch_reply_ok(s, r,
				    STORE_SCHEDULE_REPLACE,
				    "replacing the definition", &x);

	if (ok) {
		log_info("schedule %s: definition changed, counting from now; "
		    "%lld pending tick(s) cancelled", s->name,
		    (long long)x.count);
		s->force_replace = false;
		s->check_spec = false;
		s->again = true;	/* plan with the new definition */
	}
	sch_call_done(s, ok || !s->running);
}

/* Reply of remove: {now, -1, cancelled}. Nothing follows. */
static void
sch_remove_reply(redisReply *r, void *priv)
{
	struct sch		*s = priv;
	struct store_scheduled	 x;

	s->inflight = CALL_NONE;
	if (sch_reply_ok(s, r, STORE_SCHEDULE_REMOVE, "removing it", &x))
		log_info("schedule %s: removed; %lld pending tick(s) cancelled",
		    s->name, (long long)x.count);
}

/* Reply of state: {now, last, spec}: replace, or plan and enqueue. */
static void
sch_state_reply(redisReply *r, void *priv)
{
	struct sch		*s = priv;
	struct store_scheduled	 x;
	int64_t			 now, last;

	if (!s->running || !sch_reply_ok(s, r, STORE_SCHEDULE_STATE,
	    "reading its state", &x)) {
		sch_call_done(s, !s->running);
		return;
	}
	s->inflight = CALL_NONE;
	now = x.now_ms;
	last = x.last_ms;
	if (*x.spec != '\0' && strcmp(x.spec, s->fp) != 0) {
		if (s->check_spec) {
			s->force_replace = true;
			sch_step(s);
			return;
		}
		log_limited(&s->warn_limit, WARN_EVERY_MS, LOG_LEVEL_WARNING,
		    "schedule %s: another daemon enqueues it with a different "
		    "definition; give every daemon the same schedules", s->name);
	}
	s->check_spec = false;
	schedule_plan(s->sc, last, now, &s->plan);
	if (s->plan.missed > 0) {
		metrics_schedule_ticks(s->name, 0, s->plan.missed);
		sch_log_missed(s, last, &s->plan);
	}
	if (s->again) {
		s->again = false;
		sch_step(s);
	} else if (s->plan.nticks > 0)
		sch_enqueue(s);
	else
		sch_arm(s, s->plan.wake_ms < 0 ? -1 : s->plan.wake_ms - now);
}

/* One step: replace a changed definition, else read the state and plan. */
static void
sch_step(struct sch *s)
{
	struct deferd	*d = s->owner->d;

	if (!s->running || s->removed || !rconn_ready(d->cmd))
		return;
	if (s->inflight != CALL_NONE) {
		s->again = true;
		return;
	}
	if (s->force_replace) {
		if (sch_call(s, CALL_REPLACE, STORE_SCHEDULE_REPLACE,
		    sch_replace_reply) == -1)
			sch_arm(s, RETRY_MS);
		return;
	}
	if (sch_call(s, CALL_STATE, STORE_SCHEDULE_STATE, sch_state_reply) == -1)
		sch_arm(s, RETRY_MS);
}

/* A runtime for sc of d's config; its definition is checked at the first step. */
static struct sch *
sch_new(struct schedules *o, const struct schedule *sc)
{
	struct deferd	*d = o->d;
	struct sch	*s = xcalloc(1, sizeof(*s));
	const char	*q = config_queue(d->cfg, sc->queue);
	char		*suffix;

	s->owner = o;
	s->sc = sc;
	s->name = xstrdup(sc->name);
	s->queue = xstrdup(q);
	xasprintf(&suffix, "schedule:%s", sc->name);
	s->key = keys_queue(d->cfg->namespace, q, suffix);
	free(suffix);
	s->prefix = keys_prefix(d->cfg->namespace, q);
	s->k_delayed = keys_queue(d->cfg->namespace, q, "delayed");
	s->k_wake = keys_queue(d->cfg->namespace, q, "wake");
	schedule_fingerprint(sc, q, s->fp, sizeof(s->fp));
	s->check_spec = true;
	if ((s->timer = evtimer_new(d->base, sch_timer_cb, s)) == NULL)
		fatalx("schedule %s: cannot create a timer", s->name);
	return (s);
}

static void
sch_free(struct sch *s)
{
	event_free(s->timer);
	free(s->name);
	free(s->queue);
	free(s->key);
	free(s->prefix);
	free(s->k_delayed);
	free(s->k_wake);
	free(s);
}

struct schedules *
schedules_new(struct deferd *d)
{
	struct schedules	*o = xcalloc(1, sizeof(*o));

	o->d = d;
	o->all = xcalloc(d->cfg->nschedules + 1, sizeof(*o->all));
	for (size_t i = 0; i < d->cfg->nschedules; i++)
		o->all[o->nall++] = sch_new(o, &d->cfg->schedules[i]);
	return (o);
}

void
schedules_up(struct schedules *o)
{
	o->up = true;
	for (size_t i = 0; i < o->nall; i++) {
		if (o->all[i]->removed)
			continue;
		o->all[i]->running = true;
		sch_step(o->all[i]);
	}
}

void
schedules_down(struct schedules *o)
{
	o->up = false;
	for (size_t i = 0; i < o->nall; i++) {
		o->all[i]->running = false;
		o->all[i]->again = false;
		evtimer_del(o->all[i]->timer);
	}
}

/* The running sch named name, or NULL. */
static struct sch *
schedules_find(struct schedules *o, const char *name)
{
	for (size_t i = 0; i < o->nall; i++)
		if (!o->all[i]->removed && strcmp(o->all[i]->name, name) == 0)
			return (o->all[i]);
	return (NULL);
}

/* Whether s runs sc's queue; a schedule that moved is removed and added. */
static bool
sch_same_queue(struct sch *s, const struct schedule *sc)
{
	return (strcmp(s->queue, config_queue(s->owner->d->cfg, sc->queue)) ==
	    0);
}

/*
 * A schedule left the config: cancel its pending ticks, delete its hash.
 * Replies of calls still in flight find it stopped and change nothing,
 * but one may have enqueued a tick just before: the remove script, sent
 * after it on the same connection, cancels that one too.
 */
static void
sch_remove(struct sch *s)
{
	s->removed = true;
	s->sc = NULL;		/* its config may be freed */
	s->running = false;
	s->again = false;
	evtimer_del(s->timer);
	if (!rconn_ready(s->owner->d->cmd) ||
	    sch_call(s, CALL_REMOVE, STORE_SCHEDULE_REMOVE,
	    sch_remove_reply) == -1)
		log_warnx("schedule %s: removed while Redis is unreachable; "
		    "its pending ticks (at most 10 s ahead) still run", s->name);
}

void
schedules_reload(struct schedules *o, const struct config *old)
{
	const struct config	*cfg = o->d->cfg;
	struct sch		*s;
	char			 fp[17];

	(void)old;
	const struct schedule	*sc;

	for (size_t i = 0; i < o->nall; i++)
		if (!o->all[i]->removed &&
		    ((sc = config_schedule(cfg, o->all[i]->name)) == NULL ||
		    !sch_same_queue(o->all[i], sc)))
			sch_remove(o->all[i]);
	o->all = xreallocarray(o->all, o->nall + cfg->nschedules + 1,
	    sizeof(*o->all));
	for (size_t i = 0; i < cfg->nschedules; i++) {
		sc = &cfg->schedules[i];
		if ((s = schedules_find(o, sc->name)) == NULL) {
			s = o->all[o->nall++] = sch_new(o, sc);
			s->running = o->up;
			sch_step(s);
			continue;
		}
		s->sc = sc;
		schedule_fingerprint(sc, config_queue(o->d->cfg, sc->queue), fp,
		    sizeof(fp));
		if (strcmp(fp, s->fp) == 0)
			continue;
		memcpy(s->fp, fp, sizeof(fp));
		s->force_replace = true;
		evtimer_del(s->timer);
		sch_step(s);
	}
}

void
schedules_free(struct schedules *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->nall; i++)
		sch_free(o->all[i]);
	free(o->all);
	free(o);
}
