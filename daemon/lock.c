/* SPDX-License-Identifier: MIT */
/*
 * Resource locks on the daemon's command connection (see lock.h). This file
 * owns the lock's timers (retry backoff, extension, validity deadline) and
 * the three lock scripts' calls; it does not know jobs or handlers: the
 * caller decides what a busy, failed or lost lock means.
 *
 * Every reply callback holds a reference, so a lock released by its owner
 * lives on, silent, until Redis has answered everything it was sent.
 */
#include <event2/event.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "lock.h"
#include "log.h"
#include "rconn.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"
#include "timer.h"

#define LOCK_TOKEN_BYTES	16	/* 128 random bits */
#define LOCK_BACKOFF_MIN_MS	25
#define LOCK_BACKOFF_MAX_MS	500

enum lock_state {
	LOCK_IDLE,
	LOCK_ACQUIRING,		/* acquire script sent */
	LOCK_WAITING,		/* busy; retry timer armed */
	LOCK_HELD,
	LOCK_GONE,		/* busy, failed or lost: nothing runs */
};

struct lock {
	struct event_base	*base;
	struct rconn		*rc;
	lock_cb			 cb;
	void			*arg;
	char			*resource;
	char			*key;		/* ns:lock:RESOURCE */
	char			*fence_key;	/* ns:fence:RESOURCE */
	char			 token[2 * LOCK_TOKEN_BYTES + 1];
	char			 fence[24];
	int64_t			 lease_ms;
	enum lock_state		 state;
	int			 refs;		/* the owner's + one per reply awaited */
	bool			 released;	/* by the owner: no more callbacks */
	bool			 maybe_held;	/* an acquire reply was lost */
	bool			 extend_in_flight;
	int64_t			 wait_until;	/* monotonic ms */
	int64_t			 backoff_ms;
	int64_t			 acquire_sent;	/* monotonic ms */
	int64_t			 extend_sent;	/* monotonic ms */
	char			 why[256];	/* reason of a deferred LOCK_ERROR */
	struct event		*retry_ev;	/* backoff, or a deferred error */
	struct event		*extend_ev;	/* every lease/3 while held */
	struct event		*expire_ev;	/* validity deadline while held */
};

static void	lock_send_acquire(struct lock *);
static void	lock_lost(struct lock *, const char *);

/* Drop one reference; the last one frees the lock. */
static void
lock_unref(struct lock *l)
{
	if (--l->refs > 0)
		return;
	event_free(l->retry_ev);
	event_free(l->extend_ev);
	event_free(l->expire_ev);
	free(l->resource);
	free(l->key);
	free(l->fence_key);
	free(l);
}

/* Stop every timer of l. */
static void
lock_stop_timers(struct lock *l)
{
	evtimer_del(l->retry_ev);
	event_del(l->extend_ev);
	evtimer_del(l->expire_ev);
}

/* Tell the owner, unless it has released the lock. */
static void
lock_notify(struct lock *l, enum lock_event ev, const char *why)
{
	if (!l->released)
		l->cb(l, ev, why, l->arg);
}

/* The lock is busy, failed or lost: stop and tell the owner. */
static void
lock_end(struct lock *l, enum lock_event ev, const char *why)
{
	l->state = LOCK_GONE;
	lock_stop_timers(l);
	lock_notify(l, ev, why);
}

/* Timer: retry after a backoff, or report an error found synchronously. */
static void
lock_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lock	*l = arg;

	(void)fd;
	(void)what;
	if (l->state == LOCK_GONE)
		lock_end(l, LOCK_ERROR, l->why);
	else
		lock_send_acquire(l);
}

/* Report an error from outside a reply callback: from the loop, later. */
static void
lock_error_later(struct lock *l, const char *why)
{
	snprintf(l->why, sizeof(l->why), "%s", why);
	l->state = LOCK_GONE;
	timer_after(l->retry_ev, 0);
}

/* Timer: the validity deadline passed with no successful extension. */
static void
lock_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lock	*l = arg;
	char		 why[128];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "no successful extension within the lease "
	    "(%" PRId64 "ms); Redis unreachable?", l->lease_ms);
	lock_lost(l, why);
}

/* The lock is no longer ours: stop extending and tell the owner. */
static void
lock_lost(struct lock *l, const char *why)
{
	if (l->state != LOCK_HELD)
		return;
	lock_end(l, LOCK_LOST, why);
}

/* Reply to an extension: 1 pushes the deadline, 0 means lost. */
static void
lock_extend_reply(redisReply *reply, void *priv)
{
	struct lock	*l = priv;
	char		 err[256];
	bool		 ok = false;
	int		 rc = -1;

	l->extend_in_flight = false;
	if (reply == NULL)
		snprintf(err, sizeof(err), "connection lost");
	else
		rc = store_lock_token_reply(reply, &ok, err, sizeof(err));
	if (l->released || l->state != LOCK_HELD)
		;
	else if (rc == 0 && ok) {
		timer_after(l->expire_ev, l->extend_sent + l->lease_ms -
		    util_mono_ms());
	} else if (rc == 0)
		lock_lost(l, "the lock key expired or holds another token "
		    "(deleted by hand, or Redis was unreachable longer than "
		    "the lease)");
	else
		log_warnx("resource %s: extending the lock failed: %s; trying "
		    "again in %" PRId64 "ms", l->resource, err, l->lease_ms / 3);
	lock_unref(l);
}

/* Timer (every lease/3 while held): send a compare-and-extend. */
static void
lock_extend_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lock		*l = arg;
	struct store_call	 c;

	(void)fd;
	(void)what;
	if (l->state != LOCK_HELD || l->extend_in_flight)
		return;
	store_lock_extend(&c, l->key, l->token, l->lease_ms);
	l->extend_sent = util_mono_ms();
	if (store_send(l->rc, &c, lock_extend_reply, l) == -1)
		return;		/* Redis down: the deadline decides */
	l->extend_in_flight = true;
	l->refs++;
}

/* The acquire script said the lock is ours with this fencing token. */
static void
lock_held(struct lock *l, int64_t fence)
{
	l->state = LOCK_HELD;
	snprintf(l->fence, sizeof(l->fence), "%" PRId64, fence);
	timer_after(l->expire_ev, l->acquire_sent + l->lease_ms - util_mono_ms());
	timer_after(l->extend_ev, l->lease_ms / 3 > 0 ? l->lease_ms / 3 : 1);
	lock_notify(l, LOCK_ACQUIRED, "");
}

/* Busy: retry after a jittered backoff while the wait lasts, else report. */
static void
lock_busy(struct lock *l)
{
	int64_t	left = l->wait_until - util_mono_ms(), delay;

	if (left <= 0) {
		lock_end(l, LOCK_BUSY, "");
		return;
	}
	delay = l->backoff_ms / 2 + util_random_below(l->backoff_ms / 2 + 1);
	if (delay > left)
		delay = left;
	l->backoff_ms *= 2;
	if (l->backoff_ms > LOCK_BACKOFF_MAX_MS)
		l->backoff_ms = LOCK_BACKOFF_MAX_MS;
	l->state = LOCK_WAITING;
	timer_after(l->retry_ev, delay);
}

/* Send compare-and-delete for a released lock that is or may be ours. */
static void lock_send_release(struct lock *);

/* Reply to the acquire script: {1, fence} held, {0, pttl} busy. */
static void
lock_acquire_reply(redisReply *reply, void *priv)
{
	struct lock			*l = priv;
	struct store_lock_acquired	 a;
	char				 err[200], why[256];
	int				 rc = -1;

	if (reply == NULL)
		snprintf(err, sizeof(err), "connection to Redis lost");
	else
		rc = store_lock_acquire_reply(reply, &a, err, sizeof(err));
	if (rc == 0) {
		l->maybe_held = false;
		if (a.held) {
			if (l->released)
				lock_send_release(l);
			else
				lock_held(l, a.fence);
		} else if (!l->released)
			lock_busy(l);
	} else if (!l->released) {
		l->maybe_held = reply == NULL;
		snprintf(why, sizeof(why), "acquiring the lock failed: %s", err);
		lock_end(l, LOCK_ERROR, why);
	}
	lock_unref(l);
}

/* Send the acquire script once. */
static void
lock_send_acquire(struct lock *l)
{
	struct store_call	c;

	store_lock_acquire(&c, l->key, l->fence_key, l->token, l->lease_ms);
	l->state = LOCK_ACQUIRING;
	l->acquire_sent = util_mono_ms();
	if (store_send(l->rc, &c, lock_acquire_reply, l) == -1) {
		lock_error_later(l, "acquiring the lock failed: not connected "
		    "to Redis");
		return;
	}
	l->refs++;
}

/* A new lock on ns:lock:RESOURCE, not yet asked for. */
struct lock *
lock_new(struct event_base *base, struct rconn *rc, const char *ns,
    const char *resource, bool tagged, int64_t lease_ms, lock_cb cb, void *arg)
{
	struct lock	*l = xcalloc(1, sizeof(*l));

	l->base = base;
	l->rc = rc;
	l->cb = cb;
	l->arg = arg;
	l->resource = xstrdup(resource);
	l->key = keys_lock(ns, resource, tagged);
	l->fence_key = keys_fence(ns, resource, tagged);
	l->lease_ms = lease_ms > 0 ? lease_ms : 1;
	l->refs = 1;
	util_random_hex(l->token, LOCK_TOKEN_BYTES);
	l->retry_ev = evtimer_new(base, lock_retry_cb, l);
	l->extend_ev = event_new(base, -1, EV_PERSIST, lock_extend_cb, l);
	l->expire_ev = evtimer_new(base, lock_expire_cb, l);
	if (l->retry_ev == NULL || l->extend_ev == NULL || l->expire_ev == NULL)
		fatalx("cannot create lock timers");
	return (l);
}

/* Start acquiring: one try now, more with backoff until wait_ms pass. */
void
lock_acquire(struct lock *l, int64_t wait_ms)
{
	if (l->state != LOCK_IDLE)
		return;
	l->wait_until = util_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
	l->backoff_ms = LOCK_BACKOFF_MIN_MS;
	lock_send_acquire(l);
}

/* The fencing token of the current hold, "" before. */
const char *
lock_fence(const struct lock *l)
{
	return (l->fence);
}

/* Reply to compare-and-delete: 0 means the key was not ours any more. */
static void
lock_release_reply(redisReply *reply, void *priv)
{
	struct lock	*l = priv;
	char		 err[256];
	bool		 ok = false;
	int		 rc = -1;

	if (reply == NULL)
		snprintf(err, sizeof(err), "connection lost");
	else
		rc = store_lock_token_reply(reply, &ok, err, sizeof(err));
	if (rc == 0 && !ok && l->state == LOCK_HELD)
		log_warnx("resource %s: the lock had expired or was taken "
		    "before it was released", l->resource);
	else if (rc == -1)
		log_warnx("resource %s: releasing the lock failed (%s); it "
		    "expires by itself within %" PRId64 "ms", l->resource,
		    err, l->lease_ms);
	lock_unref(l);
}

/* Send compare-and-delete (see the prototype). */
static void
lock_send_release(struct lock *l)
{
	struct store_call	c;

	store_lock_release(&c, l->key, l->token);
	if (store_send(l->rc, &c, lock_release_reply, l) == 0)
		l->refs++;
	else
		log_warnx("resource %s: not connected to Redis, the lock "
		    "expires by itself within %" PRId64 "ms", l->resource,
		    l->lease_ms);
}

/* Give the lock up and free it when Redis has answered. */
void
lock_release(struct lock *l)
{
	if (l == NULL || l->released)
		return;
	l->released = true;
	event_del(l->extend_ev);
	evtimer_del(l->expire_ev);
	evtimer_del(l->retry_ev);
	if (l->state == LOCK_HELD || l->maybe_held)
		lock_send_release(l);
	/* LOCK_ACQUIRING: the acquire reply releases if it won. */
	lock_unref(l);
}

/* Free without telling Redis; pending replies still hold references. */
void
lock_abandon(struct lock *l)
{
	if (l == NULL || l->released)
		return;
	l->released = true;
	lock_stop_timers(l);
	lock_unref(l);
}
