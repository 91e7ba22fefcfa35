/* SPDX-License-Identifier: MIT */
/*
 * The daemon's one Redis connection layer: hiredis async on libevent, with a
 * connect timeout, a reply deadline, reconnect with capped exponential backoff
 * and jitter after any disconnect, an AUTH/SELECT/SETNAME handshake (and
 * ROLE when it follows a master that Sentinel names), the Lua
 * scripts loaded with SCRIPT LOAD and called with EVALSHA (EVAL again on
 * NOSCRIPT) and, with wait_replicas, a WAIT after each one that makes or
 * settles jobs (scripts_durable), and subscriptions that are renewed after every reconnect.
 * Works with hiredis 0.14 (which has no async timeouts) and 1.x.
 */
#ifndef DEFERD_RCONN_H
#define DEFERD_RCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redisurl.h"
#include "scripts.h"

struct event_base;
struct rconn;

enum rconn_event {
	RCONN_UP,	/* handshake done: commands may be sent */
	RCONN_DOWN,	/* the connection was lost; reconnecting */
	RCONN_REFUSED,	/* Redis is unsuitable (eviction policy) on the first connect */
	RCONN_FAILED,	/* an attempt to connect failed; the next one follows a backoff */
};

struct rconn_opts {
	const char	*name;			/* role in logs and CLIENT SETNAME: "cmd", "sub" */
	bool		 subscriber;		/* only (P)SUBSCRIBE after the handshake */
	bool		 load_scripts;		/* SCRIPT LOAD every script in the handshake */
	bool		 check_eviction;	/* check maxmemory-policy in the handshake */
	bool		 allow_eviction;	/* redis.allow_eviction */
	int64_t		 connect_timeout_ms;
	int64_t		 command_timeout_ms;
	int		 wait_replicas;		/* > 0: WAIT after each durable script */
	int64_t		 wait_timeout_ms;
};

/* Called for every reply; reply is NULL when the connection went away first. */
typedef void (*rconn_reply_cb)(redisReply *reply, void *priv);
typedef void (*rconn_event_cb)(struct rconn *, enum rconn_event, void *arg);

/*
 * Where connections report, for metrics and /healthz: state(role, up) on
 * every change, rtt(role, us) for every reply. One hook for the process,
 * set by the owner before connecting; unset, nothing is reported.
 */
struct rconn_stats {
	void	(*state)(const char *role, bool up);
	void	(*rtt)(const char *role, int64_t us);
	/* A WAIT after a durable script saw fewer replicas than wait_replicas. */
	void	(*wait_short)(const char *role);
};
void		 rconn_set_stats(const struct rconn_stats *);

/*
 * A routed connection has no socket of its own: its owner hands down how
 * to send (e.g. to the master of a Redis Cluster slot, cluster.c) and
 * says when it is up or down with rconn_routed_event. Every call of this
 * API works on it; rconn_start, rconn_reset and rconn_set_target do
 * nothing.
 */
struct rconn_router {
	bool	(*ready)(void *arg);
	int	(*script)(void *arg, enum script_id, rconn_reply_cb cb, void *priv,
		    int nkeys, int argc, const char **argv, const size_t *lens);
	/* Routed by argv[1] when there is one (the key of most commands). */
	int	(*command)(void *arg, rconn_reply_cb cb, void *priv, int argc,
		    const char **argv, const size_t *lens);
	void	(*fence)(void *arg, void (*cb)(void *), void *cbarg);
	void	*arg;
};
struct rconn	*rconn_new_routed(struct event_base *, const char *name,
		    const struct rconn_router *, rconn_event_cb, void *arg);
/* The owner of a routed connection: it is up (RCONN_UP) or down (RCONN_DOWN). */
void		 rconn_routed_event(struct rconn *, enum rconn_event);

/* A connection to t (copied); nothing happens until rconn_start. */
struct rconn	*rconn_new(struct event_base *, const struct redis_target *t,
		    const struct rconn_opts *, rconn_event_cb, void *arg);
/* Start connecting (and keep reconnecting until rconn_free). */
void		 rconn_start(struct rconn *);
/* Connected and handshake done. */
bool		 rconn_ready(const struct rconn *);
/*
 * Send a command. Returns 0 when queued (cb is then called exactly once,
 * with NULL if the connection is lost first), or -1 when not ready (cb is not
 * called). lens may be NULL for NUL-terminated arguments.
 */
int		 rconn_command(struct rconn *, rconn_reply_cb cb, void *priv,
		    int argc, const char **argv, const size_t *lens);
/* Run a script (EVALSHA, EVAL on NOSCRIPT): argv holds nkeys keys, then args. As rconn_command. */
int		 rconn_script(struct rconn *, enum script_id, rconn_reply_cb cb, void *priv,
		    int nkeys, int argc, const char **argv, const size_t *lens);
/*
 * Subscribe to channel (or pattern) now and after every reconnect. cb gets
 * each message's payload (channel: the channel it came on); it is never
 * called with NULL. confirmed, if not NULL, is called each time Redis
 * confirms the subscription: messages published before that were missed.
 */
typedef void (*rconn_message_cb)(const char *channel, const char *payload,
		    size_t len, void *priv);
typedef void (*rconn_confirm_cb)(void *priv);
void		 rconn_subscribe(struct rconn *, const char *channel, bool pattern,
		    rconn_message_cb cb, rconn_confirm_cb confirmed, void *priv);
/*
 * Also tell cb about RCONN_UP and RCONN_DOWN of this connection, after the
 * owner's callback (for modules that ride on a connection they do not own,
 * e.g. the expiration source on the subscriber). Observers stay until
 * rconn_free.
 */
void		 rconn_observe(struct rconn *, rconn_event_cb cb, void *arg);
/*
 * Call cb(arg) from the loop once every command sent on rc before this
 * call has had its callback run (replied, or failed with a lost
 * connection); a script re-sent after NOSCRIPT still counts as sent
 * before. Lets an owner free what those callbacks point to. Not called
 * when rc is freed first.
 */
void		 rconn_fence(struct rconn *, void (*cb)(void *), void *arg);
/* Drop the connection (logged with why) and reconnect, e.g. when a liveness
 * check failed. A no-op while not connected. */
void		 rconn_reset(struct rconn *, const char *why);
/* The target it connects to (owned by rc; NULL for a routed connection). */
const struct redis_target *rconn_target(const struct rconn *);
/* Use a new target from now on; reconnects if it differs. */
void		 rconn_set_target(struct rconn *, const struct redis_target *t);
/*
 * Sentinel mode. A connection whose target names no server (no host, no
 * socket: redis.sentinel) follows the master: it waits until the master's
 * address is set here, connects to it, checks with ROLE in the handshake
 * that the node is the master, and moves when the address changes.
 * suspect(why, arg) is called (from the loop) each time such a connection
 * failed or was lost, so that the owner asks the sentinels again. The
 * address is forgotten when the last follower is freed.
 */
void		 rconn_set_master(const char *host, int port);
void		 rconn_set_master_hook(void (*suspect)(const char *why, void *arg),
		    void *arg);
/* When (monotonic ms) the last reply or subscription message arrived. */
int64_t		 rconn_progress_ms(const struct rconn *);
/* Close and free; pending callbacks get NULL. NULL is a no-op. */
void		 rconn_free(struct rconn *);

#endif
