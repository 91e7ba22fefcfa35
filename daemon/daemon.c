/* SPDX-License-Identifier: MIT */
/*
 * The daemon's lifecycle: create the loop, connections, runner and
 * schedulers; start claiming once Redis is ready; reload on SIGHUP (a bad
 * file keeps the running config); drain on SIGTERM/SIGINT (stop claiming,
 * let handlers finish up to shutdown_timeout, then stop them and requeue
 * their jobs without spending an attempt); stop at once on a second signal.
 * Tells systemd (sdnotify.c) about each step: READY=1 once Redis is reached
 * and the sources are ready (with expiration rules: the notify-keyspace-
 * events check passed), STATUS= with live counts, WATCHDOG=1 from a loop
 * timer, RELOADING=1 then READY=1 around a reload, STOPPING=1 on the first
 * stop signal. A reload that changed expiration rules or sources restarts
 * the sources (sources_reload); schedules follow every reload
 * (schedules_reload).
 */
#include <event2/event.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_subs.h"
#include "dashboard.h"
#include "deferd.h"
#include "faillog.h"
#include "failpoint.h"
#include "handler.h"
#include "hold.h"
#include "missing.h"
#include "job.h"
#include "kill_channel.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "rconn.h"
#include "runner.h"
#include "sched.h"
#include "pace.h"
#include "slots.h"
#include "schedules.h"
#include "sentinel.h"
#include "sources.h"
#include "subcheck.h"
#include "sdnotify.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define HARD_STOP_EXTRA_MS	5000	/* beyond shutdown_timeout + kill_grace */
#define SECOND_SIGNAL_MS	2000	/* to record outcomes after a second signal */
#define STATUS_INTERVAL_MS	2000	/* STATUS= refresh, sent only when it changed */

static void	deferd_finish(struct deferd *, const char *why);
static void	deferd_status_text(const struct deferd *, char *, size_t);
static void	deferd_notify_status(struct deferd *, bool force);
static void	deferd_check_ready(struct deferd *);

/*
 * A job's slot (pooled: its room in a persistent pool) is free, its
 * outcome on the way: start waiting jobs, claim.
 */
static void
deferd_slot_freed(void *arg, bool pooled)
{
	struct deferd	*d = arg;

	if (d->draining)
		return;
	job_start_waiting(d);
	for (size_t i = 0; i < d->nscheds; i++)
		sched_slot_freed(d->scheds[i], pooled);
}

/* A job or a channel run left: start waiting jobs, claim, or end the drain. */
static void
deferd_job_gone(void *arg, bool pooled)
{
	struct deferd	*d = arg;

	if (d->draining) {
		if (slots_jobs(d->slots) == 0)
			deferd_finish(d, "all jobs recorded");
		return;
	}
	deferd_slot_freed(d, pooled);
}

/* Whether handlers cannot start now (hold.c): then nothing is claimed. */
static bool
deferd_held(void *arg)
{
	struct deferd	*d = arg;

	return (d->hold != NULL && hold_reason(d->hold) != NULL);
}

/* The hold's check: whether handlers.dir is usable again. */
static int
deferd_hold_check(char *err, size_t errlen, void *arg)
{
	struct deferd		*d = arg;
	enum handler_fault	 fault;

	return (handler_check_dir(d->cfg->handlers.dir, err, errlen, &fault));
}

/* The hold was lifted: start the waiting jobs and claim. */
static void
deferd_hold_release(void *arg)
{
	struct deferd	*d = arg;

	if (d->draining)
		return;
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

/* One line for STATUS=: connection, drain, counts and a failed reload. */
static void
deferd_status_text(const struct deferd *d, char *buf, size_t len)
{
	size_t		 running = runner_count(d->runner);
	size_t		 njobs = (size_t)slots_jobs(d->slots);
	size_t		 waiting = njobs > running ? njobs - running : 0;
	const char	*conn;

	if (!d->ready)
		conn = d->cmd_up_once ? "checking notify-keyspace-events" :
		    "connecting to Redis";
	else if (rconn_ready(d->cmd))
		conn = "Redis connected";
	else
		conn = "Redis unreachable, reconnecting";
	snprintf(buf, len, "%s%s; %zu running, %zu waiting, %zu claimed%s%s",
	    d->draining ? "draining; " : "", conn, running, waiting, njobs,
	    d->reload_error != NULL ? "; last reload failed: " : "",
	    d->reload_error != NULL ? d->reload_error : "");
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* Send STATUS= when it changed since the last one (or always, with force). */
static void
deferd_notify_status(struct deferd *d, bool force)
{
	char	buf[sizeof(d->status)];

	if (d->status_timer == NULL)
		return;
	deferd_status_text(d, buf, sizeof(buf));
	if (!force && strcmp(buf, d->status) == 0)
		return;
	memcpy(d->status, buf, sizeof(buf));
	if (sdnotify_sendf("STATUS=%s", buf) == -1)
		log_debug("sd_notify STATUS: %s", strerror(errno));
}

/* Startup or reload done: READY=1 with a fresh STATUS= in one datagram. */
static void
deferd_notify_ready(struct deferd *d)
{
	deferd_status_text(d, d->status, sizeof(d->status));
	if (sdnotify_sendf("READY=1\nSTATUS=%s", d->status) == -1)
		log_warn("sd_notify READY=1");
}

/* Persistent timer: refresh STATUS= (cheap; sends only on change). */
static void
deferd_status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	deferd_notify_status(arg, false);
}

/*
 * Persistent timer at WATCHDOG_USEC/2: the keep-alive. It fires only while
 * the loop turns, so a wedged loop stops the pings and systemd restarts us.
 * A Redis that stopped answering is not our fault to restart for: rconn
 * drops such a connection after command_timeout and reconnects.
 */
static void
deferd_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (sdnotify_send("WATCHDOG=1") == -1)
		log_debug("sd_notify WATCHDOG=1: %s", strerror(errno));
}

/* Create and arm the notification timers when systemd listens. */
static void
deferd_notify_start(struct deferd *d)
{
	uint64_t	usec = sdnotify_watchdog_usec();
	struct timeval	tv;

	if (!sdnotify_enabled())
		return;
	d->status_timer = event_new(d->base, -1, EV_PERSIST, deferd_status_cb, d);
	if (d->status_timer == NULL)
		fatalx("cannot create timers");
	timer_after(d->status_timer, STATUS_INTERVAL_MS);
	deferd_notify_status(d, true);
	if (usec == 0)
		return;
	usec = usec / 2 > 1000 ? usec / 2 : 1000;
	d->watchdog_timer = event_new(d->base, -1, EV_PERSIST, deferd_watchdog_cb, d);
	if (d->watchdog_timer == NULL)
		fatalx("cannot create timers");
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	event_add(d->watchdog_timer, &tv);
	log_debug("watchdog: WATCHDOG=1 every %" PRIu64 "us", usec);
	deferd_watchdog_cb(-1, 0, d);
}

/* Events of the command connection: start or stop claiming. */
static void
deferd_cmd_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	struct deferd	*d = arg;

	(void)rc;
	switch (ev) {
	case RCONN_UP:
		d->cmd_up_once = true;
		deferd_check_ready(d);
		job_resend_reports(d);
		job_extend_leases(d);
		deferd_notify_status(d, false);
		if (d->draining)
			break;
		for (size_t i = 0; i < d->nscheds; i++)
			sched_start(d->scheds[i]);
		schedules_up(d->schedules);
		break;
	case RCONN_DOWN:
		schedules_down(d->schedules);
		for (size_t i = 0; i < d->nscheds; i++)
			sched_stop(d->scheds[i]);
		deferd_notify_status(d, false);
		break;
	case RCONN_FAILED:
		break;
	case RCONN_REFUSED:
		d->exit_code = 1;
		sdnotify_send("STATUS=refused: Redis is unsuitable, see the log");
		event_base_loopbreak(d->base);
		break;
	}
}

/*
 * Send READY=1 (once) when Redis was reached and the sources are ready
 * (sources_ready: the expiration check passed); each side calls it.
 */
static void
deferd_check_ready(struct deferd *d)
{
	if (d->ready || !d->cmd_up_once || d->sources == NULL ||
	    !sources_ready(d->sources))
		return;
	log_info("ready: %zu queue(s), concurrency %d, handlers in %s",
	    d->nscheds, d->cfg->concurrency, d->cfg->handlers.dir);
	d->ready = true;
	if (!d->draining)
		deferd_notify_ready(d);
	deferd_notify_status(d, false);
}

/*
 * Probe the subscriber connection every timing.subcheck_ms on a
 * channel of this daemon's own (NS:ping:RANDOM); see subcheck.h.
 */
static void
deferd_subcheck(struct deferd *d)
{
	const struct config	*cfg = d->cfg;
	int64_t			 every = cfg->timing.subcheck_ms;
	char			 id[17], *channel;

	if (d->subcheck != NULL) {
		subcheck_set(d->subcheck, every, cfg->redis.command_timeout_ms);
		return;
	}
	util_random_hex(id, 8);
	xasprintf(&channel, "%s:ping:%s", cfg->namespace, id);
	d->subcheck = subcheck_new(d->base, d->cmd, d->sub, channel, every,
	    cfg->redis.command_timeout_ms);
	free(channel);
}

/* The first queue's next claim carries the due liveness probe, if any. */
static bool
deferd_probe_take(const char **channel, const char **message, void *arg)
{
	struct deferd	*d = arg;

	return (subcheck_take(d->subcheck, channel, message));
}

/* The answer of the probe a claim carried. */
static void
deferd_probe_done(long long subscribers, void *arg)
{
	struct deferd	*d = arg;

	subcheck_carried(d->subcheck, subscribers);
}

/*
 * Let the first queue's claims carry the subscriber's liveness probe: an
 * idle queue's poll then sends nothing besides its claim. A probe waits
 * for a claim up to a poll interval (and a margin), at most its own
 * interval; then it goes alone (a full or draining daemon claims nothing).
 * Not with redis.cluster: a PUBLISH counts the subscribers of the node
 * it runs on, and the queue's node need not be the subscriber's.
 */
static void
deferd_probe_carrier(struct deferd *d)
{
	const struct config	*cfg = d->cfg;
	int64_t			 grace = cfg->poll_interval_ms + 250;

	if (d->nscheds == 0 || d->subcheck == NULL || d->cluster != NULL)
		return;
	if (grace > cfg->timing.subcheck_ms)
		grace = cfg->timing.subcheck_ms;
	subcheck_set_carrier(d->subcheck, grace);
	sched_carry(d->scheds[0], deferd_probe_take, deferd_probe_done, d);
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
	log_errorx("exiting with %d job(s) whose outcome is not recorded; "
	    "their leases will expire and they will run again",
	    slots_jobs(d->slots));
	event_base_loopexit(d->base, NULL);
}

/* First SIGTERM/SIGINT: drain. Second: stop handlers now and exit soon. */
static void
deferd_stop_signal(struct deferd *d, int sig)
{
	const struct config	*cfg = d->cfg;

	if (d->draining) {
		log_warnx("%s again: stopping handlers now", strsignal(sig));
		sdnotify_send("STATUS=stopping handlers now");
		d->stopping_now = true;
		runner_kill_all(d->runner, "stopped by daemon shutdown");
		timer_after(d->hard_stop_timer, SECOND_SIGNAL_MS + cfg->handlers.kill_grace_ms);
		return;
	}
	log_info("%s: draining %d job(s), at most %" PRId64 "ms", strsignal(sig),
	    slots_jobs(d->slots), cfg->shutdown_timeout_ms);
	d->draining = true;
	deferd_status_text(d, d->status, sizeof(d->status));
	if (sdnotify_sendf("STOPPING=1\nSTATUS=%s", d->status) == -1)
		log_warn("sd_notify STOPPING=1");
	for (size_t i = 0; i < d->nscheds; i++)
		sched_stop(d->scheds[i]);
	schedules_down(d->schedules);
	job_requeue_waiting(d);
	if (slots_jobs(d->slots) == 0) {
		deferd_finish(d, "no jobs running");
		return;
	}
	timer_after(d->drain_timer, cfg->shutdown_timeout_ms);
	timer_after(d->hard_stop_timer, cfg->shutdown_timeout_ms +
	    cfg->handlers.kill_grace_ms + HARD_STOP_EXTRA_MS);
}

/* (Re)arm the persistent lease-extension timer at lease/3. */
static void
deferd_arm_extend(struct deferd *d)
{
	timer_after(d->extend_timer, d->cfg->timing.extend_ms);
}

/* The events channel of the current config: "ns:events", or "" when off. */
static void
deferd_set_events(struct deferd *d)
{
	free(d->events_chan);
	d->events_chan = d->cfg->events ? keys_events(d->cfg->namespace) :
	    xstrdup("");
}

/*
 * Apply a newly loaded config (ownership passes here); the old one is
 * released, and freed unless a source set built from it still uses it.
 * Returns 0, or -1 when cfg cannot be applied while running (it is freed
 * and the current one stays).
 */
static int
deferd_apply(struct deferd *d, struct config *cfg)
{
	struct config	*old = d->cfg;
	bool		 same_queues = old->nqueues == cfg->nqueues &&
			    strcmp(old->namespace, cfg->namespace) == 0;

	for (size_t i = 0; same_queues && i < cfg->nqueues; i++)
		same_queues = strcmp(old->queues[i], cfg->queues[i]) == 0;
	if (!same_queues || !config_same_sentinel(old, cfg) ||
	    !config_same_cluster(old, cfg)) {
		log_errorx("reload: namespace, queues, redis.sentinel and "
		    "redis.cluster cannot change while running; restart deferd to "
		    "apply them. Keeping the current configuration");
		config_free(cfg);
		return (-1);
	}
	d->cfg = cfg;
	log_set_level(cfg->log.level);
	log_set_format(cfg->log.format);
	runner_set_config(d->runner, cfg);
	slots_set_concurrency(d->slots, cfg->concurrency);
	rconn_set_target(d->cmd, &cfg->redis.target);	/* routed: no-op */
	if (d->cluster == NULL)
		rconn_set_target(d->sub, &cfg->redis.target);
	deferd_subcheck(d);
	deferd_probe_carrier(d);
	for (size_t i = 0; i < d->nscheds; i++) {
		sched_reconfigure(d->scheds[i]);
		sched_kick(d->scheds[i]);
	}
	deferd_arm_extend(d);
	deferd_set_events(d);
	/* Whoever gives up a shared address goes first: the other binds it. */
	if (config_dashboard_serves_metrics(old)) {
		dashboard_reconfigure(d->dashboard);
		metrics_http_reconfigure(d->http);
	} else {
		metrics_http_reconfigure(d->http);
		dashboard_reconfigure(d->dashboard);
	}
	sources_reload(d->sources, old);
	schedules_reload(d->schedules, old);
	config_unref(old);	/* a source set built from it keeps its own */
	hold_check_now(d->hold);
	job_start_waiting(d);
	log_info("reloaded %s: concurrency %d, %zu handler override(s)",
	    cfg->path, cfg->concurrency, cfg->handlers.noverrides);
	return (0);
}

/*
 * SIGHUP: load the file again; a bad file is reported (log and STATUS=)
 * and changes nothing. systemd hears RELOADING=1 before and READY=1 after,
 * but only once we were ready: before that READY=1 would end the startup
 * early. A reload during the drain is ignored.
 */
static void
deferd_reload(struct deferd *d)
{
	char		 err[1024];
	struct config	*cfg;

	if (d->draining) {
		log_info("SIGHUP while draining: ignored");
		return;
	}
	if (d->ready)
		sdnotify_sendf("RELOADING=1\nMONOTONIC_USEC=%" PRIu64
		    "\nSTATUS=reloading %s", sdnotify_monotonic_usec(), d->cfg->path);
	free(d->reload_error);
	d->reload_error = NULL;
	if ((cfg = config_load(d->cfg->path, err, sizeof(err))) == NULL) {
		log_errorx("reload failed, keeping the current configuration: %s",
		    err);
		d->reload_error = xstrdup(err);
	} else if (deferd_apply(d, cfg) == -1)
		d->reload_error = xstrdup("namespace or queues changed; restart to apply");
	if (d->ready)
		deferd_notify_ready(d);
	else
		deferd_notify_status(d, true);
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

/* A queue's scheduler claimed a job: job.c takes it. */
static void
deferd_claimed(struct sched *s, const struct store_run *run, void *arg)
{
	job_claimed(arg, s, run);
}

/* The sources' check that holds READY=1 back passed. */
static void
deferd_sources_ready(void *arg)
{
	deferd_check_ready(arg);
}

/* The sentinels named the master (again): every follower goes there. */
static void
deferd_master_found(const char *host, int port, void *arg)
{
	(void)arg;
	rconn_set_master(host, port);
}

/* A connection to the master failed: the sentinels may know better. */
static void
deferd_master_suspect(const char *why, void *arg)
{
	struct deferd	*d = arg;

	if (d->sentinel != NULL)
		sentinel_ask(d->sentinel, why);
}

/* No sentinel knows the master's name: a configuration error. */
static void
deferd_master_unknown(const char *why, void *arg)
{
	struct deferd	*d = arg;

	log_errorx("redis.sentinel.master: %s; check the name", why);
	d->exit_code = 1;
	sdnotify_send("STATUS=refused: no sentinel knows redis.sentinel.master");
	event_base_loopbreak(d->base);
}

/* With redis.sentinel: the watcher that tells the connections where the master is. */
static void
deferd_sentinel(struct deferd *d)
{
	const struct config	*cfg = d->cfg;
	struct sentinel_cbs	 cbs = { deferd_master_found,
				    deferd_master_unknown, d };

	if (cfg->redis.sentinel.master == NULL)
		return;
	d->sentinel = sentinel_new(d->base, cfg->redis.sentinel.master,
	    cfg->redis.sentinel.nodes.v, cfg->redis.sentinel.nodes.n,
	    cfg->redis.connect_timeout_ms, cfg->redis.command_timeout_ms, &cbs);
	rconn_set_master_hook(deferd_master_suspect, d);
}

/* The cluster serves every slot (again): claiming may go on. */
static void
deferd_cluster_up(void *arg)
{
	struct deferd	*d = arg;

	rconn_routed_event(d->cmd, RCONN_UP);
}

/* A seed is not a cluster node: a configuration error. */
static void
deferd_cluster_refused(const char *why, void *arg)
{
	struct deferd	*d = arg;

	log_errorx("redis.cluster: %s; is the node started with "
	    "cluster-enabled yes?", why);
	d->exit_code = 1;
	sdnotify_send("STATUS=refused: a redis.cluster node is not in cluster mode");
	event_base_loopbreak(d->base);
}

/*
 * The map names other masters: listen to their key events, and move the
 * subscriber for wakes to a master when its node is not one any more
 * (e.g. it failed and its replica took over).
 */
static void
deferd_cluster_masters(void *arg)
{
	struct deferd		*d = arg;
	struct redis_target	*v;
	size_t			 n = 0;

	v = xcalloc(cluster_masters(d->cluster) + 1, sizeof(*v));
	while (cluster_master(d->cluster, n, &v[n]))
		n++;
	cluster_subs_set(d->keysubs, v, n);
	if (n > 0 && !redisurl_listed(rconn_target(d->sub), v, n))
		rconn_set_target(d->sub, &v[0]);
	for (size_t i = 0; i < n; i++)
		redisurl_clear(&v[i]);
	free(v);
}

/* A slot has no connected master: the command connection is down. */
static void
deferd_cluster_down(void *arg)
{
	struct deferd	*d = arg;

	rconn_routed_event(d->cmd, RCONN_DOWN);
}

/*
 * With redis.cluster: the commands go through a cluster of one connection
 * per master (cmd is routed there); the subscriber starts on the first
 * seed, as a cluster forwards PUBLISH to every node, and moves to a master
 * when that node is not one any more; key events, which a node publishes
 * only to its own subscribers, come from one more subscriber on every
 * master (keysubs).
 */
static void
deferd_connect_cluster(struct deferd *d, const struct rconn_opts *cmd_opts,
    const struct rconn_opts *sub_opts)
{
	const struct config	*cfg = d->cfg;
	struct cluster_cbs	 cbs = { .up = deferd_cluster_up,
				    .down = deferd_cluster_down,
				    .refused = deferd_cluster_refused,
				    .masters = deferd_cluster_masters, .arg = d };
	struct rconn_router	 router;

	d->cluster = cluster_new(d->base, cfg->redis.cluster.nodes.v,
	    cfg->redis.cluster.nodes.n, cmd_opts, &cbs);
	cluster_router(d->cluster, &router);
	d->cmd = rconn_new_routed(d->base, "cmd", &router, deferd_cmd_event, d);
	d->sub = rconn_new(d->base, &cfg->redis.cluster.nodes.v[0], sub_opts,
	    NULL, d);
	d->keysubs = cluster_subs_new(d->base, sub_opts);
	deferd_subcheck(d);
}

/* deferctl cancel --kill asks for a job: stop it if this daemon holds it. */
static void
deferd_kill(const char *queue, const char *id, void *arg)
{
	struct deferd	*d = arg;

	(void)job_kill(d, queue, id);
}

/* The two connections, each with its role. */
static void
deferd_connect(struct deferd *d)
{
	const struct config	*cfg = d->cfg;
	struct rconn_opts	 o, s;

	memset(&o, 0, sizeof(o));
	o.connect_timeout_ms = cfg->redis.connect_timeout_ms;
	o.command_timeout_ms = cfg->redis.command_timeout_ms;
	o.allow_eviction = cfg->redis.allow_eviction;
	o.wait_replicas = cfg->redis.wait_replicas;
	o.wait_timeout_ms = cfg->redis.wait_timeout_ms;
	o.name = "cmd";
	o.load_scripts = true;
	o.check_eviction = true;
	s = o;
	s.name = "sub";
	s.load_scripts = false;
	s.check_eviction = false;
	s.subscriber = true;
	s.wait_replicas = 0;
	if (cfg->redis.cluster.nodes.n > 0) {
		deferd_connect_cluster(d, &o, &s);
		return;
	}
	d->cmd = rconn_new(d->base, &cfg->redis.target, &o, deferd_cmd_event, d);
	d->sub = rconn_new(d->base, &cfg->redis.target, &s, NULL, d);
	deferd_subcheck(d);
}

struct deferd *
deferd_new(struct config *cfg)
{
	struct deferd		*d = xcalloc(1, sizeof(*d));
	struct event_config	*ec = event_config_new();
	struct slots_cbs	 cbs = { deferd_slot_freed, deferd_job_gone,
				    deferd_held, d };
	struct rconn_stats	 stats = { metrics_redis_state, metrics_redis_rtt,
				    metrics_redis_wait_short };
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP };

	d->cfg = cfg;
	d->host_pid = util_host_pid();
	TAILQ_INIT(&d->jobs);
	TAILQ_INIT(&d->waiting);
	d->slots = slots_new(cfg->concurrency, &cbs);
	d->pace = pace_new();
	if (ec == NULL)
		fatalx("cannot create the event loop");
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	d->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (d->base == NULL)
		fatalx("cannot create the event loop");
	signal(SIGPIPE, SIG_IGN);
	deferd_set_events(d);
	metrics_init();
	rconn_set_stats(&stats);
	d->runner = runner_new(d->base, cfg);
	deferd_sentinel(d);
	deferd_connect(d);
	d->kill = kill_channel_new(d->sub, cfg->namespace, deferd_kill, d);
	d->scheds = xcalloc(cfg->nqueues, sizeof(*d->scheds));
	for (size_t i = 0; i < cfg->nqueues; i++)
		d->scheds[d->nscheds++] = sched_new(d, i, deferd_claimed, d);
	deferd_probe_carrier(d);
	d->sources = sources_new(d, deferd_sources_ready, d);
	d->schedules = schedules_new(d);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		d->signals[i] = evsignal_new(d->base, sigs[i], deferd_signal_cb, d);
		if (d->signals[i] == NULL || event_add(d->signals[i], NULL) == -1)
			fatalx("cannot handle signal %d", sigs[i]);
	}
	d->hold = hold_new(d->base, deferd_hold_check, deferd_hold_release, d);
	d->missing = missing_new();
	d->faillog = faillog_new();
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
	char	err[512];

	/* With one address for both, the dashboard's server serves /metrics. */
	if ((d->http = metrics_http_new(d, config_dashboard_serves_metrics(d->cfg) ?
	    NULL : d->cfg->metrics.listen, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if ((d->dashboard = dashboard_new(d, metrics_http_route, d->http, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	deferd_arm_extend(d);
	log_info("starting: config %s, event method %s", d->cfg->path,
	    event_base_get_method(d->base));
	failpoint_init();
	hold_check_now(d->hold);
	deferd_notify_start(d);
	if (d->sentinel != NULL)
		sentinel_start(d->sentinel);
	if (d->cluster != NULL)
		cluster_start(d->cluster);
	rconn_start(d->cmd);
	rconn_start(d->sub);
	sources_start(d->sources);
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
	cluster_free(d->cluster);	/* its calls in flight get NULL */
	d->cluster = NULL;
	rconn_free(d->sub);
	cluster_subs_free(d->keysubs);
	d->keysubs = NULL;
	rconn_set_master_hook(NULL, NULL);
	sentinel_free(d->sentinel);
	d->sentinel = NULL;
	subcheck_free(d->subcheck);	/* after: their last callbacks reach it */
	kill_channel_free(d->kill);
	sources_free(d->sources);
	schedules_free(d->schedules);
	metrics_http_free(d->http);
	dashboard_free(d->dashboard);
	free(d->events_chan);
	job_free_all(d);
	free(d->host_pid);
	for (size_t i = 0; i < d->nscheds; i++)
		sched_free(d->scheds[i]);
	free(d->scheds);
	for (size_t i = 0; i < sizeof(d->signals) / sizeof(d->signals[0]); i++)
		if (d->signals[i] != NULL)
			event_free(d->signals[i]);
	event_free(d->extend_timer);
	event_free(d->drain_timer);
	event_free(d->hard_stop_timer);
	hold_free(d->hold);
	slots_free_all(d->slots);
	pace_free(d->pace);
	missing_free(d->missing);
	faillog_free(d->faillog);
	if (d->watchdog_timer != NULL)
		event_free(d->watchdog_timer);
	if (d->status_timer != NULL)
		event_free(d->status_timer);
	event_base_free(d->base);
	sdnotify_close();
	free(d->reload_error);
	config_unref(d->cfg);
	free(d);
}
