/* SPDX-License-Identifier: MIT */
/*
 * The observability server on the daemon's loop: httpd.c on metrics.listen
 * with GET/HEAD /metrics (text format 0.0.4) and /healthz; every other
 * path is 404, every other method 405 (HEAD gets the headers of GET and
 * no body). It never blocks the loop; it holds at most
 * metrics.max_connections, each for at most metrics.request_timeout, and
 * caps the request head. Also: a refresh of the per-queue gauges (three
 * ZCARDs per queue every REFRESH_MS on the command connection, never a
 * scan) while /metrics is being scraped, and, whether or not
 * metrics.listen is set, every STATS_MS when there are new samples a small
 * JSON summary of lateness for deferctl stats, stored in ns:stats:HOST:PID
 * (PX STATS_TTL_MS) and indexed in the zset ns:stats. An idle daemon sends
 * neither.
 *
 * Reload: a changed metrics.listen is bound anew and the old socket closed;
 * if the new address cannot be bound, the old server keeps serving and
 * the error is logged.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deferd.h"
#include "hold.h"
#include "httpd.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "missing.h"
#include "rconn.h"
#include "runner.h"
#include "timer.h"
#include "util.h"
#include "version.h"
#include "xmalloc.h"

#define HTTP_MAX_HEAD		8192	/* request line and headers */
#define REFRESH_MS		5000
#define STATS_MS		10000
#define STATS_TTL_MS		3600000	/* written only when there are samples */
#define STATS_INDEX_KEEP_MS	3600000	/* index entries older than this are dropped */
#define SCRAPED_RECENTLY_MS	60000	/* refresh gauges only while someone scrapes */
#define HEARTBEAT_MS		1000
#define STALL_MS		3000	/* loop late by this much: unhealthy */

struct metrics_http {
	struct deferd		*d;
	struct httpd		*http;		/* NULL when metrics.listen is off */
	char			*listen;
	struct event		*refresh_timer;
	struct event		*stats_timer;
	struct event		*heartbeat;
	int64_t			 last_beat;	/* monotonic ms */
	int64_t			 stall_ms;	/* the last lateness of the heartbeat */
	char			*k_stats_index;	/* ns:stats (keys_stats_index) */
	char			*k_stats;	/* ns:stats:HOST:PID (keys_stats) */
	char			*member;	/* HOST:PID */
	int64_t			 scraped_ms;	/* monotonic ms of the last /metrics */
	int64_t			 started_ms;	/* epoch ms: the daemon's start, for its uptime */
};

/* One ZCARD of the refresh: which gauge it feeds. */
struct refresh_req {
	char		*queue;		/* NULL: the expiration tracker */
	const char	*state;
};

/* A short text reply. */
static void
http_text(struct httpd_reply *r, int status, const char *reason,
    const char *text)
{
	r->status = status;
	r->reason = reason;
	evbuffer_add(r->body, text, strlen(text));
}

/* GET /metrics: refresh the scrape-time gauges, render everything. */
static void
http_metrics(struct metrics_http *mh, struct httpd_reply *r)
{
	mh->scraped_ms = util_mono_ms();
	metrics_set_running(runner_count(mh->d->runner), mh->d->cfg->concurrency);
	metrics_render(r->body);
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/*
 * GET /healthz: 200 "ok" while Redis is reachable, the loop turns and
 * claiming is not held (handlers.dir unusable, out of descriptors).
 */
static void
http_healthz(struct metrics_http *mh, struct httpd_reply *r)
{
	int64_t		 down, late;
	const char	*held;
	char		 why[640];

	late = util_mono_ms() - mh->last_beat - HEARTBEAT_MS;
	if (mh->stall_ms > late)
		late = mh->stall_ms;
	if (!rconn_ready(mh->d->cmd)) {
		down = metrics_redis_down_ms("cmd");
		if (down < 0 || !mh->d->ready)
			snprintf(why, sizeof(why), "redis not connected yet\n");
		else
			snprintf(why, sizeof(why), "redis disconnected for %.1fs\n",
			    (double)down / 1000);
		http_text(r, 503, "Service Unavailable", why);
	} else if (late >= STALL_MS) {
		snprintf(why, sizeof(why), "event loop stalled for %.1fs\n",
		    (double)late / 1000);
		http_text(r, 503, "Service Unavailable", why);
	} else if ((held = hold_reason(mh->d->hold)) != NULL) {
		snprintf(why, sizeof(why), "not claiming jobs: %s\n", held);
		http_text(r, 503, "Service Unavailable", why);
	} else
		http_text(r, 200, "OK", mh->d->draining ? "ok draining\n" : "ok\n");
}

/* Every request: GET and HEAD of /metrics and /healthz, else 404 or 405. */
void
metrics_http_route(const struct httpd_req *req, struct httpd_reply *r,
    void *arg)
{
	struct metrics_http	*mh = arg;

	if (strcmp(req->method, "GET") != 0 && !req->head) {
		r->allow = "GET, HEAD";
		http_text(r, 405, "Method Not Allowed", "method not allowed\n");
	} else if (strcmp(req->path, "/metrics") == 0)
		http_metrics(mh, r);
	else if (strcmp(req->path, "/healthz") == 0)
		http_healthz(mh, r);
	else
		http_text(r, 404, "Not Found", "not found\n");
}

/*
 * "missing_handlers": the handlers missing on this host now, joined by
 * commas (names cannot hold one), for deferctl stats; absent when none.
 */
static void
http_stats_missing(const struct metrics_http *mh, struct json_out *o)
{
	const struct missing	*ms = mh->d->missing;
	char			 list[1024];
	size_t			 len = 0;

	list[0] = '\0';
	for (size_t i = 0; i < missing_count(ms) && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
		    i > 0 ? "," : "", missing_at(ms, i));
	if (list[0] != '\0')
		json_add_cstr(o, "missing_handlers", list);
}

/* Persistent timer: the loop is turning; remember how late it was. */
static void
http_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_http	*mh = arg;
	int64_t			 now = util_mono_ms();

	(void)fd;
	(void)what;
	mh->stall_ms = now - mh->last_beat - HEARTBEAT_MS;
	mh->last_beat = now;
}

/* The limits of the HTTP server, from the config. */
static void
http_opts(const struct metrics_http *mh, struct httpd_opts *o)
{
	o->max_connections = mh->d->cfg->metrics.max_connections;
	o->request_timeout_ms = mh->d->cfg->metrics.request_timeout_ms;
	o->max_head = HTTP_MAX_HEAD;
	o->max_body = 0;	/* GET and HEAD only */
	o->stream_closed = NULL;
	o->name = "metrics";
}

/* An HTTP server on addr on d's loop, or NULL with err set. */
static struct httpd *
http_server_new(struct metrics_http *mh, const char *addr, char *err,
    size_t errlen)
{
	struct httpd		*http;
	struct httpd_opts	 o;
	int			 fd;

	if ((fd = httpd_listen_socket("metrics.listen", addr, err, errlen)) == -1)
		return (NULL);
	http_opts(mh, &o);
	if ((http = httpd_new(mh->d->base, fd, &o, metrics_http_route, mh)) ==
	    NULL)
		snprintf(err, errlen, "metrics.listen %s: cannot start the HTTP "
		    "server", addr);
	return (http);
}

/* Reply of one refresh ZCARD. */
static void
http_refresh_reply(redisReply *reply, void *priv)
{
	struct refresh_req	*q = priv;

	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) {
		if (q->queue != NULL)
			metrics_queue_size(q->queue, q->state, reply->integer);
		else
			metrics_expire_tracked(reply->integer);
	}
	free(q->queue);
	free(q);
}

/* Send ZCARD key for the gauge (queue, state); queue NULL: the tracker. */
static void
http_refresh_one(struct metrics_http *mh, const char *key, const char *queue,
    const char *state)
{
	struct refresh_req	*q = xcalloc(1, sizeof(*q));
	const char		*argv[2] = { "ZCARD", key };

	q->queue = queue != NULL ? xstrdup(queue) : NULL;
	q->state = state;
	if (rconn_command(mh->d->cmd, http_refresh_reply, q, 2, argv, NULL) == -1) {
		free(q->queue);
		free(q);
	}
}

/*
 * Persistent timer: refresh the queue-size gauges (cheap: ZCARD only), and
 * only while /metrics is being scraped, so an idle daemon that nobody
 * watches sends Redis nothing but its safety poll. A scrape after a quiet
 * spell shows values up to one refresh period old.
 */
static void
http_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	static const char	*states[] = { "delayed", "active", "dead" };
	struct metrics_http	*mh = arg;
	const struct config	*cfg = mh->d->cfg;
	char			*key;

	(void)fd;
	(void)what;
	if ((mh->http == NULL && !config_dashboard_serves_metrics(cfg)) ||
	    util_mono_ms() - mh->scraped_ms > SCRAPED_RECENTLY_MS ||
	    !rconn_ready(mh->d->cmd))
		return;
	for (size_t i = 0; i < cfg->nqueues; i++)
		for (size_t k = 0; k < 3; k++) {
			key = keys_queue(cfg->namespace, cfg->queues[i], states[k]);
			http_refresh_one(mh, key, cfg->queues[i], states[k]);
			free(key);
		}
	/* Of the rules now (a reload may add them); a cluster's is per slot. */
	if (cfg->expirations.nrules > 0 && mh->d->cluster == NULL) {
		key = keys_exp_watch(cfg->namespace);
		http_refresh_one(mh, key, NULL, NULL);
		free(key);
	}
}

/* Replies to the stats writes are not needed. */
static void
http_ignore_reply(redisReply *reply, void *priv)
{
	(void)reply;
	(void)priv;
}

/* Add {"p50":..,"p99":..,"max":..} as key. */
static void
http_stats_triple(struct json_out *o, const char *key, int64_t p50, int64_t p99,
    int64_t max)
{
	json_obj_begin(o, key);
	json_add_int(o, "p50", p50);
	json_add_int(o, "p99", p99);
	json_add_int(o, "max", max);
	json_obj_end(o);
}

/*
 * Persistent timer: write the lateness summary for deferctl stats when
 * there are new samples. An idle daemon writes nothing (its summary keeps
 * the time it was written, ts_ms); so idle Redis traffic is the poll alone.
 */
static void
http_stats_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_http	*mh = arg;
	struct lateness_summary	 s;
	struct json_out		 o;
	char			 ttl[24], now[24], old[32];
	int64_t			 t = util_real_ms();

	(void)fd;
	(void)what;
	metrics_lateness_take(&s);
	if (!rconn_ready(mh->d->cmd))
		return;
	if (s.n_claim == 0 && s.n_start == 0)
		return;
	json_out_init(&o);
	json_obj_begin(&o, NULL);
	json_add_cstr(&o, "daemon", mh->member);
	json_add_cstr(&o, "version", DEFERD_VERSION);
	json_add_int(&o, "ts_ms", t);
	json_add_int(&o, "started_ms", mh->started_ms);
	json_add_int(&o, "window_ms", STATS_MS);
	json_add_int(&o, "running", (int64_t)runner_count(mh->d->runner));
	json_add_int(&o, "concurrency", mh->d->cfg->concurrency);
	json_add_int(&o, "claimed", (int64_t)s.n_claim);
	json_add_int(&o, "started", (int64_t)s.n_start);
	http_stats_missing(mh, &o);
	http_stats_triple(&o, "claim_lateness_ms", s.claim_p50, s.claim_p99,
	    s.claim_max);
	http_stats_triple(&o, "start_lateness_ms", s.start_p50, s.start_p99,
	    s.start_max);
	metrics_minutes_json(&o);
	json_obj_end(&o);
	snprintf(ttl, sizeof(ttl), "%d", STATS_TTL_MS);
	snprintf(now, sizeof(now), "%" PRId64, t);
	snprintf(old, sizeof(old), "(%" PRId64, t - STATS_INDEX_KEEP_MS);
	rconn_command(mh->d->cmd, http_ignore_reply, NULL, 5, (const char *[]){
	    "SET", mh->k_stats, json_out_str(&o), "PX", ttl }, NULL);
	rconn_command(mh->d->cmd, http_ignore_reply, NULL, 4, (const char *[]){
	    "ZADD", mh->k_stats_index, now, mh->member }, NULL);
	rconn_command(mh->d->cmd, http_ignore_reply, NULL, 4, (const char *[]){
	    "ZREMRANGEBYSCORE", mh->k_stats_index, "-inf", old }, NULL);
	json_out_free(&o);
}

/* Arm a persistent timer every ms. */
static struct event *
http_every(struct metrics_http *mh, int64_t ms, event_callback_fn cb)
{
	struct event	*ev = event_new(mh->d->base, -1, EV_PERSIST, cb, mh);

	if (ev == NULL)
		fatalx("metrics: cannot create timers");
	timer_after(ev, ms);
	return (ev);
}

struct metrics_http *
metrics_http_new(struct deferd *d, const char *addr, char *err, size_t errlen)
{
	struct metrics_http	*mh = xcalloc(1, sizeof(*mh));

	mh->d = d;
	metrics_init();
	if (addr != NULL) {
		if ((mh->http = http_server_new(mh, addr, err, errlen)) == NULL) {
			free(mh);
			return (NULL);
		}
		mh->listen = xstrdup(addr);
		log_info("metrics: serving /metrics and /healthz on %s", addr);
	}
	mh->member = util_host_pid();
	mh->k_stats_index = keys_stats_index(d->cfg->namespace,
	    d->cluster != NULL);
	mh->k_stats = keys_stats(d->cfg->namespace, mh->member,
	    d->cluster != NULL);
	mh->last_beat = util_mono_ms();
	mh->started_ms = util_real_ms();
	mh->scraped_ms = INT64_MIN / 2;	/* never */
	mh->heartbeat = http_every(mh, HEARTBEAT_MS, http_heartbeat_cb);
	mh->refresh_timer = http_every(mh, REFRESH_MS, http_refresh_cb);
	mh->stats_timer = http_every(mh, STATS_MS, http_stats_cb);
	return (mh);
}

void
metrics_http_reconfigure(struct metrics_http *mh)
{
	const char		*want = config_dashboard_serves_metrics(mh->d->cfg) ?
				    NULL : mh->d->cfg->metrics.listen;
	struct httpd		*http = NULL;
	struct httpd_opts	 o;
	char			 err[512];

	if (mh->http != NULL) {
		http_opts(mh, &o);
		httpd_set_opts(mh->http, &o);
	}
	if ((want == NULL && mh->listen == NULL) ||
	    (want != NULL && mh->listen != NULL && strcmp(want, mh->listen) == 0))
		return;
	if (want != NULL && (http = http_server_new(mh, want, err,
	    sizeof(err))) == NULL) {
		log_errorx("reload: %s; still serving metrics on %s", err,
		    mh->listen != NULL ? mh->listen : "nothing (off)");
		return;
	}
	if (mh->http != NULL)
		httpd_free(mh->http);
	mh->http = http;
	free(mh->listen);
	mh->listen = want != NULL ? xstrdup(want) : NULL;
	if (want != NULL)
		log_info("metrics: now serving on %s", want);
	else if (config_dashboard_serves_metrics(mh->d->cfg))
		log_info("metrics: now served by the dashboard's server on %s",
		    mh->d->cfg->metrics.listen);
	else
		log_info("metrics: metrics.listen removed; HTTP server stopped");
}

void
metrics_http_free(struct metrics_http *mh)
{
	if (mh == NULL)
		return;
	if (mh->http != NULL)
		httpd_free(mh->http);
	event_free(mh->heartbeat);
	event_free(mh->refresh_timer);
	event_free(mh->stats_timer);
	free(mh->listen);
	free(mh->k_stats_index);
	free(mh->k_stats);
	free(mh->member);
	free(mh);
}
