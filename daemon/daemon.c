/* SPDX-License-Identifier: MIT */
/*
 * The daemon's lifecycle: create the loop, connections, runner and
 * schedulers; start claiming once Redis is ready; reload on SIGHUP (a bad
 * file keeps the running config); drain on SIGTERM/SIGINT (stop claiming,
 * let handlers finish up to shutdown_timeout, then stop them and requeue
 * their jobs without spending an attempt); stop at once on a second signal.
 */
#include <event2/event.h>

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "deferd.h"
#include "job.h"
#include "log.h"
#include "rconn.h"
#include "runner.h"
#include "sched.h"
#include "util.h"
#include "xmalloc.h"

#define HARD_STOP_EXTRA_MS	5000	/* beyond shutdown_timeout + kill_grace */
#define SECOND_SIGNAL_MS	2000	/* to record outcomes after a second signal */

static void	deferd_finish(struct deferd *, const char *why);

/* Arm ev to fire once after ms. */
static void
deferd_after(struct event *ev, int64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

int
deferd_free_slots(const struct deferd *d)
{
	int	n = d->cfg->concurrency - (int)d->njobs - d->reserved;

	return (n > 0 ? n : 0);
}

void
deferd_job_gone(struct deferd *d)
{
	if (d->draining) {
		if (d->njobs == 0)
			deferd_finish(d, "all jobs recorded");
		return;
	}
	job_start_waiting(d);
	for (size_t i = 0; i < d->nscheds; i++)
		sched_kick(d->scheds[i]);
}

/* Leave the loop now. */
static void
deferd_finish(struct deferd *d, const char *why)
{
	log_info("stopping: %s", why);
	event_base_loopexit(d->base, NULL);
}

/* Events of the command connection: start or stop claiming. */
static void
deferd_cmd_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	struct deferd	*d = arg;

	(void)rc;
	switch (ev) {
	case RCONN_UP:
		if (!d->ready)
			log_info("ready: %zu queue(s), concurrency %d, handlers in %s",
			    d->nscheds, d->cfg->concurrency, d->cfg->handlers.dir);
		d->ready = true;
		job_resend_reports(d);
		job_extend_leases(d);
		if (d->draining)
			break;
		for (size_t i = 0; i < d->nscheds; i++)
			sched_start(d->scheds[i]);
		break;
	case RCONN_DOWN:
		for (size_t i = 0; i < d->nscheds; i++)
			sched_stop(d->scheds[i]);
		break;
	case RCONN_REFUSED:
		d->exit_code = 1;
		event_base_loopbreak(d->base);
		break;
	}
}

/* Persistent timer: extend leases every lease/3. */
static void
deferd_extend_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	job_extend_leases(arg);
}

/* shutdown_timeout passed: stop the handlers still running. */
static void
deferd_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct deferd	*d = arg;

	(void)fd;
	(void)what;
	log_warnx("shutdown_timeout passed with %zu handler(s) running; "
	    "stopping them", runner_count(d->runner));
	runner_kill_all(d->runner, "stopped by daemon shutdown");
}

/* Last resort: outcomes could not be recorded (Redis down); leases will expire. */
static void
deferd_hard_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct deferd	*d = arg;

	(void)fd;
	(void)what;
	log_errorx("exiting with %zu job(s) whose outcome is not recorded; "
	    "their leases will expire and they will run again", d->njobs);
	event_base_loopexit(d->base, NULL);
}

/* First SIGTERM/SIGINT: drain. Second: stop handlers now and exit soon. */
static void
deferd_stop_signal(struct deferd *d, int sig)
{
	const struct config	*cfg = d->cfg;

	if (d->draining) {
		log_warnx("%s again: stopping handlers now", strsignal(sig));
		d->stopping_now = true;
		runner_kill_all(d->runner, "stopped by daemon shutdown");
		deferd_after(d->hard_stop_timer, SECOND_SIGNAL_MS + cfg->handlers.kill_grace_ms);
		return;
	}
	log_info("%s: draining %zu job(s), at most %" PRId64 "ms", strsignal(sig),
	    d->njobs, cfg->shutdown_timeout_ms);
	d->draining = true;
	for (size_t i = 0; i < d->nscheds; i++)
		sched_stop(d->scheds[i]);
	job_requeue_waiting(d);
	if (d->njobs == 0) {
		deferd_finish(d, "no jobs running");
		return;
	}
	deferd_after(d->drain_timer, cfg->shutdown_timeout_ms);
	deferd_after(d->hard_stop_timer, cfg->shutdown_timeout_ms +
	    cfg->handlers.kill_grace_ms + HARD_STOP_EXTRA_MS);
}

/* (Re)arm the persistent lease-extension timer at lease/3. */
static void
deferd_arm_extend(struct deferd *d)
{
	int64_t		ms = d->cfg->lease_ms / 3;
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(d->extend_timer, &tv);
}

/* Apply a newly loaded config; the old one is kept for runs that use it. */
static void
deferd_apply(struct deferd *d, struct config *cfg)
{
	struct config	*old = d->cfg;
	bool		 same_queues = old->nqueues == cfg->nqueues &&
			    strcmp(old->namespace, cfg->namespace) == 0;

	for (size_t i = 0; same_queues && i < cfg->nqueues; i++)
		same_queues = strcmp(old->queues[i], cfg->queues[i]) == 0;
	if (!same_queues) {
		log_errorx("reload: namespace and queues cannot change while "
		    "running; restart deferd to apply them. Keeping the current "
		    "configuration");
		config_free(cfg);
		return;
	}
	d->retired = xreallocarray(d->retired, d->nretired + 1,
	    sizeof(*d->retired));
	d->retired[d->nretired++] = old;
	d->cfg = cfg;
	log_set_level(cfg->log.level);
	log_set_format(cfg->log.format);
	runner_set_config(d->runner, cfg);
	rconn_set_target(d->cmd, &cfg->redis.target);
	rconn_set_target(d->sub, &cfg->redis.target);
	for (size_t i = 0; i < d->nscheds; i++) {
		sched_reconfigure(d->scheds[i]);
		sched_kick(d->scheds[i]);
	}
	deferd_arm_extend(d);
	job_start_waiting(d);
	log_info("reloaded %s: concurrency %d, %zu handler override(s)",
	    cfg->path, cfg->concurrency, cfg->handlers.noverrides);
}

/* SIGHUP: load the file again; a bad file is reported and changes nothing. */
static void
deferd_reload(struct deferd *d)
{
	char		 err[1024];
	struct config	*cfg = config_load(d->cfg->path, err, sizeof(err));

	if (cfg == NULL) {
		log_errorx("reload failed, keeping the current configuration: %s",
		    err);
		return;
	}
	deferd_apply(d, cfg);
}

static void
deferd_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	if (sig == SIGHUP)
		deferd_reload(arg);
	else
		deferd_stop_signal(arg, (int)sig);
}

/* The two connections, each with its role. */
static void
deferd_connect(struct deferd *d)
{
	const struct config	*cfg = d->cfg;
	struct rconn_opts	 o;

	memset(&o, 0, sizeof(o));
	o.connect_timeout_ms = cfg->redis.connect_timeout_ms;
	o.command_timeout_ms = cfg->redis.command_timeout_ms;
	o.allow_eviction = cfg->redis.allow_eviction;
	o.name = "cmd";
	o.load_scripts = true;
	o.check_eviction = true;
	d->cmd = rconn_new(d->base, &cfg->redis.target, &o, deferd_cmd_event, d);
	o.name = "sub";
	o.load_scripts = false;
	o.check_eviction = false;
	o.subscriber = true;
	d->sub = rconn_new(d->base, &cfg->redis.target, &o, NULL, d);
}

struct deferd *
deferd_new(struct config *cfg)
{
	struct deferd		*d = xcalloc(1, sizeof(*d));
	struct event_config	*ec = event_config_new();
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP };

	d->cfg = cfg;
	TAILQ_INIT(&d->jobs);
	if (ec == NULL)
		fatalx("cannot create the event loop");
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	d->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (d->base == NULL)
		fatalx("cannot create the event loop");
	signal(SIGPIPE, SIG_IGN);
	d->runner = runner_new(d->base, cfg);
	deferd_connect(d);
	d->scheds = xcalloc(cfg->nqueues, sizeof(*d->scheds));
	for (size_t i = 0; i < cfg->nqueues; i++)
		d->scheds[d->nscheds++] = sched_new(d, cfg->queues[i]);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		d->signals[i] = evsignal_new(d->base, sigs[i], deferd_signal_cb, d);
		if (d->signals[i] == NULL || event_add(d->signals[i], NULL) == -1)
			fatalx("cannot handle signal %d", sigs[i]);
	}
	d->extend_timer = event_new(d->base, -1, EV_PERSIST, deferd_extend_cb, d);
	d->drain_timer = evtimer_new(d->base, deferd_drain_timeout_cb, d);
	d->hard_stop_timer = evtimer_new(d->base, deferd_hard_stop_cb, d);
	if (d->extend_timer == NULL || d->drain_timer == NULL ||
	    d->hard_stop_timer == NULL)
		fatalx("cannot create timers");
	return (d);
}

int
deferd_run(struct deferd *d)
{
	deferd_arm_extend(d);
	log_info("starting: config %s, event method %s", d->cfg->path,
	    event_base_get_method(d->base));
	rconn_start(d->cmd);
	rconn_start(d->sub);
	event_base_dispatch(d->base);
	return (d->exit_code);
}

void
deferd_free(struct deferd *d)
{
	if (d == NULL)
		return;
	runner_free(d->runner);
	rconn_free(d->cmd);
	rconn_free(d->sub);
	job_free_all(d);
	for (size_t i = 0; i < d->nscheds; i++)
		sched_free(d->scheds[i]);
	free(d->scheds);
	for (size_t i = 0; i < sizeof(d->signals) / sizeof(d->signals[0]); i++)
		if (d->signals[i] != NULL)
			event_free(d->signals[i]);
	event_free(d->extend_timer);
	event_free(d->drain_timer);
	event_free(d->hard_stop_timer);
	event_base_free(d->base);
	for (size_t i = 0; i < d->nretired; i++)
		config_free(d->retired[i]);
	free(d->retired);
	config_free(d->cfg);
	free(d);
}
