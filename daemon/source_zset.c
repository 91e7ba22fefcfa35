/* SPDX-License-Identifier: MIT */
/*
 * Plain zset source (docs/architecture.md): the classic delay queue, `ZADD KEY
 * <unix-seconds> <task>`. The zsetmove script moves due members into jobs
 * of the queue atomically and returns the next score, so a timer fires at
 * exactly that time; poll_interval is the safety net for members added
 * earlier than the timer (plain producers publish nothing). Not for Redis
 * Cluster: the zset and the queue's keys are in different slots.
 */
#include <event2/event.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deferd.h"
#include "keys.h"
#include "log.h"
#include "rconn.h"
#include "sources.h"
#include "store.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define ZSRC_LIMIT	500	/* members moved per script call */

struct zsrc {
	struct deferd	*d;
	char		*key;
	char		*handler;
	char		*prefix;
	char		*k_delayed;
	char		*k_wake;
	int64_t		 unit_ms;
	bool		 running;
	bool		 moving;
	bool		 again;
	int64_t		 due_at_mono;	/* -1: unarmed */
	struct event	*kick_ev;
	struct event	*due_timer;
	struct event	*poll_timer;
	uint64_t	 moved;
};

static void	zsrc_move(struct zsrc *);

/* Kick and poll timer: move now. */
static void
zsrc_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	zsrc_move(arg);
}

/* The due timer fired: the earliest member's time has come. */
static void
zsrc_due_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zsrc	*z = arg;

	(void)fd;
	(void)what;
	z->due_at_mono = -1;
	zsrc_move(z);
}

/* Arm the due timer for delay_ms unless it fires earlier. */
static void
zsrc_arm(struct zsrc *z, int64_t delay_ms)
{
	int64_t	at = util_mono_ms() + delay_ms;

	if (!z->running || (z->due_at_mono != -1 && z->due_at_mono <= at))
		return;
	z->due_at_mono = at;
	timer_after(z->due_timer, delay_ms);
}

/* Reply of zsetmove: {now, next_due, moved}. */
static void
zsrc_move_reply(redisReply *reply, void *priv)
{
	struct zsrc		*z = priv;
	struct store_zsetmoved	 m;
	char			 err[256];
	long long		 now, next, moved;

	z->moving = false;
	if (reply == NULL || !z->running)
		return;
	if (store_zsetmove_reply(reply, &m, err, sizeof(err)) == -1) {
		log_errorx("zset source %s (handler %s): moving members failed: %s",
		    z->key, z->handler, err);
		return;
	}
	now = m.now_ms;
	next = m.next_due_ms;
	moved = m.moved;
	z->moved += (uint64_t)moved;
	if (moved > 0)
		log_debug("zset source %s: %lld member(s) moved into jobs", z->key,
		    moved);
	if (z->again || moved >= ZSRC_LIMIT || (next >= 0 && next <= now)) {
		z->again = false;
		timer_after(z->kick_ev, 0);
	} else if (next > now)
		zsrc_arm(z, next - now);
}

/* Move the due members into jobs. */
static void
zsrc_move(struct zsrc *z)
{
	struct store_call	c;

	if (!z->running || !rconn_ready(z->d->cmd))
		return;
	if (z->moving) {
		z->again = true;
		return;
	}
	store_zsetmove(&c, z->key, z->k_delayed, z->prefix, z->handler,
	    z->unit_ms, ZSRC_LIMIT, z->k_wake, z->d->events_chan);
	if (store_send(z->d->cmd, &c, zsrc_move_reply, z) == 0)
		z->moving = true;
}

struct zsrc *
zsrc_new(struct deferd *d, const struct source *src)
{
	struct zsrc	*z = xcalloc(1, sizeof(*z));
	const char	*ns = d->cfg->namespace;
	const char	*q = config_queue(d->cfg, src->queue);

	z->d = d;
	z->key = xstrdup(src->name);
	z->handler = xstrdup(src->handler);
	z->unit_ms = src->score_unit_ms > 0 ? src->score_unit_ms : 1000;
	z->prefix = keys_prefix(ns, q);
	z->k_delayed = keys_queue(ns, q, "delayed");
	z->k_wake = keys_queue(ns, q, "wake");
	z->due_at_mono = -1;
	z->kick_ev = evtimer_new(d->base, zsrc_kick_cb, z);
	z->due_timer = evtimer_new(d->base, zsrc_due_cb, z);
	z->poll_timer = event_new(d->base, -1, EV_PERSIST, zsrc_kick_cb, z);
	if (z->kick_ev == NULL || z->due_timer == NULL || z->poll_timer == NULL)
		fatalx("zset source %s: cannot create timers", z->key);
	return (z);
}

void
zsrc_up(struct zsrc *z)
{
	z->running = true;
	timer_after(z->poll_timer, z->d->cfg->poll_interval_ms);
	timer_after(z->kick_ev, 0);
}

void
zsrc_down(struct zsrc *z)
{
	z->running = false;
	z->again = false;
	evtimer_del(z->kick_ev);
	evtimer_del(z->due_timer);
	event_del(z->poll_timer);
	z->due_at_mono = -1;
}

void
zsrc_free(struct zsrc *z)
{
	if (z == NULL)
		return;
	event_free(z->kick_ev);
	event_free(z->due_timer);
	event_free(z->poll_timer);
	free(z->key);
	free(z->handler);
	free(z->prefix);
	free(z->k_delayed);
	free(z->k_wake);
	free(z);
}
