/* SPDX-License-Identifier: MIT */
/*
 * List source (docs/architecture.md): `RPUSH KEY item` becomes a job, never
 * lost. On its own connection (a blocking command would stall the others)
 * the daemon waits with `BLMOVE KEY NS:proc:KEY:HOST:PID LEFT RIGHT 5`; the
 * listtake script then turns the processing list's items (and a batch more
 * from KEY) into jobs in one atomic step. An item is therefore always in
 * KEY, in one processing list, or in a job. A lost BLMOVE reply (CLIENT
 * KILL, idle timeout) leaves the item in our processing list, and listtake
 * runs again before the next BLMOVE. A daemon that died leaves its
 * processing list registered in NS:procs:KEY with its liveness key
 * NS:alive:HOST:PID expired; any daemon's listrecover moves such lists back
 * to the head of KEY. Not for Redis Cluster (KEY and the queue's keys live
 * in different slots).
 *
 * A reload that replaces the sources stops this instance (lsrc_stop): it
 * sends no new BLMOVE and waits for the one in flight, so nothing can move
 * an item into the processing list afterwards; then the list's new
 * instance (same key: the same processing list) takes what is there, or,
 * when the source was removed, the items go back to the head of KEY.
 */
#include <event2/event.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deferd.h"
#include "keys.h"
#include "log.h"
#include "rconn.h"
#include "sources.h"
#include "store.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define LSRC_BLOCK_S		"5"	/* BLMOVE timeout, well under command_timeout */
#define LSRC_BLOCK_MS		5000
#define LSRC_BATCH		100	/* items taken from KEY per listtake beyond our own */
#define LSRC_ALIVE_MS		10000	/* liveness key TTL */
#define LSRC_BEAT_MS		3000	/* refresh it (and recover others) this often */

enum lsrc_state {
	LSRC_IDLE,	/* nothing in flight */
	LSRC_BLOCKING,	/* BLMOVE sent */
	LSRC_TAKING,	/* listtake sent */
};

struct lsrc {
	struct deferd	*d;
	lsrc_heir_cb	 heir;		/* who takes our items when we stop */
	void		*heir_arg;
	char		*key;
	char		*handler;
	char		*prefix;
	char		*k_delayed;
	char		*k_wake;
	char		*owner;		/* HOST:PID */
	char		*k_proc;	/* NS:proc:KEY:OWNER */
	char		*proc_prefix;	/* NS:proc:KEY: */
	char		*k_registry;	/* NS:procs:KEY */
	char		*alive_prefix;	/* NS:alive: */
	char		*k_alive;	/* NS:alive:OWNER */
	struct rconn	*rc;		/* dedicated, for BLMOVE only */
	enum lsrc_state	 state;
	bool		 take_first;	/* items may wait in k_proc */
	bool		 closing;	/* stopped by a reload, or being freed */
	bool		 freeing;
	struct event	*step_ev;
	struct event	*final_ev;	/* stopped: hand k_proc over, close rc */
	struct event	*beat_timer;
	uint64_t	 taken;
};

static void	lsrc_step(struct lsrc *);
static void	lsrc_final_cb(evutil_socket_t, short, void *);
static void	lsrc_adopt(struct lsrc *);

/* Zero-delay event: take the next step. */
static void
lsrc_step_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lsrc_step(arg);
}

/* Do the next step soon (next loop turn). */
static void
lsrc_kick(struct lsrc *l)
{
	if (!l->closing)
		timer_after(l->step_ev, 0);
}

/* Reply of listtake: {now, made}. */
static void
lsrc_take_reply(redisReply *reply, void *priv)
{
	struct lsrc		*l = priv;
	struct store_listtaken	 t;
	char			 err[256];

	l->state = LSRC_IDLE;
	if (reply == NULL || l->closing)
		return;		/* still take_first: again after the reconnect */
	if (store_listtake_reply(reply, &t, err, sizeof(err)) == -1) {
		log_errorx("list source %s (handler %s): making jobs failed: %s; "
		    "the items stay in %s", l->key, l->handler, err, l->k_proc);
		timer_after(l->step_ev, 1000);
		return;
	}
	l->take_first = false;
	l->taken += (uint64_t)t.created;
	if (t.created > 0)
		log_debug("list source %s: %" PRId64 " item(s) made into jobs",
		    l->key, t.created);
	lsrc_kick(l);
}

/* Turn what is in our processing list (and a batch from KEY) into jobs. */
static void
lsrc_take(struct lsrc *l)
{
	struct store_call	c;
	char			nonce[33];

	util_random_hex(nonce, 16);
	store_listtake(&c, l->k_proc, l->key, l->k_delayed, l->prefix,
	    l->handler, nonce, LSRC_BATCH, l->k_wake, l->d->events_chan);
	if (store_send(l->d->cmd, &c, lsrc_take_reply, l) == 0)
		l->state = LSRC_TAKING;
}

/* Reply of BLMOVE: an item (now in our processing list) or nil (timeout). */
static void
lsrc_block_reply(redisReply *reply, void *priv)
{
	struct lsrc	*l = priv;

	l->state = LSRC_IDLE;
	if (l->closing) {
		/* Stopped: no BLMOVE in flight any more; hand the list over. */
		if (!l->freeing)
			timer_after(l->final_ev, 0);
		return;
	}
	if (reply == NULL) {
		l->take_first = true;	/* it may have moved an item */
		return;			/* the list connection's UP resumes */
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		log_errorx("list source %s: BLMOVE failed: %s", l->key, reply->str);
		timer_after(l->step_ev, 1000);
		return;
	}
	if (reply->type == REDIS_REPLY_STRING)
		l->take_first = true;
	lsrc_kick(l);
}

/* Block for the next item. */
static void
lsrc_block(struct lsrc *l)
{
	if (rconn_command(l->rc, lsrc_block_reply, l, 6, (const char *[]){
	    "BLMOVE", l->key, l->k_proc, "LEFT", "RIGHT", LSRC_BLOCK_S },
	    NULL) == 0)
		l->state = LSRC_BLOCKING;
}

/* The loop: listtake when items may wait in our list, else BLMOVE. */
static void
lsrc_step(struct lsrc *l)
{
	if (l->closing || l->state != LSRC_IDLE)
		return;
	if (l->take_first) {
		if (rconn_ready(l->d->cmd))
			lsrc_take(l);
		return;		/* else: the command connection's UP resumes */
	}
	if (l->d->draining || !rconn_ready(l->rc) || !rconn_ready(l->d->cmd))
		return;
	lsrc_block(l);
}

/* Reply of listrecover: {moved back, owners}. */
static void
lsrc_recover_reply(redisReply *reply, void *priv)
{
	struct lsrc			*l = priv;
	struct store_listrecovered	 rec;
	char				 err[256];

	if (reply == NULL || l->closing)
		return;
	if (store_listrecover_reply(reply, &rec, err, sizeof(err)) == -1) {
		log_errorx("list source %s: recovering processing lists failed: %s",
		    l->key, err);
		return;
	}
	if (rec.moved > 0 || rec.owners > 0)
		log_warnx("list source %s: %" PRId64 " item(s) of %" PRId64
		    " stopped daemon(s) moved back to the list", l->key,
		    rec.moved, rec.owners);
}

/* Reply callback for the liveness commands. */
static void
lsrc_ignore_reply(redisReply *reply, void *priv)
{
	(void)reply;
	(void)priv;
}

/* Heartbeat: register, refresh our liveness key, recover dead daemons' items. */
static void
lsrc_beat(struct lsrc *l)
{
	struct store_call	c;
	char			ttl[24];

	if (!rconn_ready(l->d->cmd))
		return;
	snprintf(ttl, sizeof(ttl), "%d", LSRC_ALIVE_MS);
	rconn_command(l->d->cmd, lsrc_ignore_reply, l, 5, (const char *[]){
	    "SET", l->k_alive, "1", "PX", ttl }, NULL);
	rconn_command(l->d->cmd, lsrc_ignore_reply, l, 3, (const char *[]){
	    "SADD", l->k_registry, l->owner }, NULL);
	store_listrecover(&c, l->k_registry, l->key, l->proc_prefix,
	    l->alive_prefix, l->owner);
	store_send(l->d->cmd, &c, lsrc_recover_reply, l);
}

/* Persistent timer: heartbeat. */
static void
lsrc_beat_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lsrc_beat(arg);
}

/* Events of the list connection: resume after every reconnect. */
static void
lsrc_conn_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	struct lsrc	*l = arg;

	(void)rc;
	if (ev == RCONN_UP)
		lsrc_kick(l);
}

/* Reply of the return script: items moved back to the list. */
static void
lsrc_return_reply(redisReply *reply, void *priv)
{
	struct lsrc	*l = priv;
	int64_t		 moved;
	char		 err[256];

	if (reply == NULL) {
		log_warnx("list source %s (removed by reload): Redis went away; "
		    "items left in %s stay there until this daemon stops (then "
		    "any daemon reading the list recovers them)", l->key, l->k_proc);
		return;
	}
	if (store_count_reply(reply, &moved, err, sizeof(err)) == -1)
		log_errorx("list source %s (removed by reload): moving %s back "
		    "failed: %s", l->key, l->k_proc, err);
	else if (moved > 0)
		log_info("list source %s (removed by reload): %lld item(s) moved "
		    "back to the list", l->key, (long long)moved);
}

/* Send listreturn: our processing list back to the head of the list. */
static int
lsrc_return(struct lsrc *l)
{
	struct store_call	c;

	store_listreturn(&c, l->k_proc, l->key);
	return (store_send(l->d->cmd, &c, lsrc_return_reply, l));
}

/*
 * Zero-delay event of a stopped source, once no BLMOVE is in flight:
 * the running source of the same key takes what our processing list holds
 * (it is its processing list too), else it goes back to the list. Then
 * close the blocking connection (here, outside any hiredis callback).
 */
static void
lsrc_final_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lsrc	*l = arg;
	struct lsrc	*heir = l->heir(l->key, l->heir_arg);

	(void)fd;
	(void)what;
	if (heir != NULL && heir != l)
		lsrc_adopt(heir);
	else if (lsrc_return(l) == -1)
		log_warnx("list source %s (removed by reload): Redis is "
		    "unreachable; items left in %s stay there until this daemon "
		    "stops (then any daemon reading the list recovers them)",
		    l->key, l->k_proc);
	rconn_free(l->rc);
	l->rc = NULL;
}

bool
lsrc_stopped(const struct lsrc *l)
{
	return (l->closing && l->rc == NULL);
}

void
lsrc_stop(struct lsrc *l)
{
	l->closing = true;
	evtimer_del(l->step_ev);
	event_del(l->beat_timer);
	if (l->state != LSRC_BLOCKING)
		timer_after(l->final_ev, 0);
}

/* Items may wait in our processing list: take them soon. */
static void
lsrc_adopt(struct lsrc *l)
{
	if (l->closing)
		return;
	l->take_first = true;
	lsrc_kick(l);
}

const char *
lsrc_key(const struct lsrc *l)
{
	return (l->key);
}

void
lsrc_up(struct lsrc *l)
{

	if (l->closing)
		return;
	timer_after(l->beat_timer, LSRC_BEAT_MS);
	lsrc_beat(l);
	l->take_first = true;	/* leftovers of a lost reply */
	lsrc_kick(l);
}

void
lsrc_down(struct lsrc *l)
{
	event_del(l->beat_timer);
}

struct lsrc *
lsrc_new(struct deferd *d, const struct source *src, size_t index,
    lsrc_heir_cb heir, void *arg)
{
	const struct config	*cfg = d->cfg;
	struct lsrc		*l = xcalloc(1, sizeof(*l));
	const char		*q = config_queue(d->cfg, src->queue);
	struct rconn_opts	 o;
	char			 name[32];

	l->d = d;
	l->heir = heir;
	l->heir_arg = arg;
	l->key = xstrdup(src->name);
	l->handler = xstrdup(src->handler);
	l->prefix = keys_prefix(cfg->namespace, q);
	l->k_delayed = keys_queue(cfg->namespace, q, "delayed");
	l->k_wake = keys_queue(cfg->namespace, q, "wake");
	l->owner = util_host_pid();
	xasprintf(&l->proc_prefix, "%s:proc:%s:", cfg->namespace, l->key);
	xasprintf(&l->k_proc, "%s%s", l->proc_prefix, l->owner);
	xasprintf(&l->k_registry, "%s:procs:%s", cfg->namespace, l->key);
	xasprintf(&l->alive_prefix, "%s:alive:", cfg->namespace);
	xasprintf(&l->k_alive, "%s%s", l->alive_prefix, l->owner);
	memset(&o, 0, sizeof(o));
	snprintf(name, sizeof(name), "list%zu", index);
	o.name = name;
	o.connect_timeout_ms = cfg->redis.connect_timeout_ms;
	o.command_timeout_ms = cfg->redis.command_timeout_ms + LSRC_BLOCK_MS;
	o.allow_eviction = true;
	o.wait_replicas = cfg->redis.wait_replicas;
	o.wait_timeout_ms = cfg->redis.wait_timeout_ms;
	l->rc = rconn_new(d->base, &cfg->redis.target, &o, lsrc_conn_event, l);
	l->step_ev = evtimer_new(d->base, lsrc_step_cb, l);
	l->final_ev = evtimer_new(d->base, lsrc_final_cb, l);
	l->beat_timer = event_new(d->base, -1, EV_PERSIST, lsrc_beat_cb, l);
	if (l->step_ev == NULL || l->final_ev == NULL || l->beat_timer == NULL)
		fatalx("list source %s: cannot create timers", l->key);
	return (l);
}

void
lsrc_start(struct lsrc *l)
{
	rconn_start(l->rc);
}

void
lsrc_free(struct lsrc *l)
{
	if (l == NULL)
		return;
	l->closing = true;
	l->freeing = true;
	rconn_free(l->rc);
	event_free(l->step_ev);
	event_free(l->final_ev);
	event_free(l->beat_timer);
	free(l->key);
	free(l->handler);
	free(l->prefix);
	free(l->k_delayed);
	free(l->k_wake);
	free(l->owner);
	free(l->k_proc);
	free(l->proc_prefix);
	free(l->k_registry);
	free(l->alive_prefix);
	free(l->k_alive);
	free(l);
}
