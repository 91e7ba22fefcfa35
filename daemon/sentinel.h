/* SPDX-License-Identifier: MIT */
/*
 * Redis Sentinel for the daemon: asks the sentinels where the master named
 * in redis.sentinel is (SENTINEL get-master-addr-by-name), one node at a
 * time until one answers, follows +switch-master on a subscription to the
 * same sentinel, and asks again whenever the owner says the master it was
 * given failed. What to do with an address is the owner's (rconn's
 * followers); this module only finds it. Two connections of its own, made
 * with rconn: "sentinel" for the question, "sentinel-watch" for the news.
 */
#ifndef DEFERD_SENTINEL_H
#define DEFERD_SENTINEL_H

#include <stddef.h>
#include <stdint.h>

#include "redisurl.h"

struct event_base;
struct sentinel;

struct sentinel_cbs {
	/* The master is (now) at host:port; called again when it moves. */
	void	(*master)(const char *host, int port, void *arg);
	/* Every sentinel said it monitors no master of that name, before
	 * any master was found (a configuration error). */
	void	(*unknown)(const char *why, void *arg);
	void	*arg;
};

/* Sentinels nodes[0..nnodes) (copied) watching master name; idle until started. */
struct sentinel	*sentinel_new(struct event_base *, const char *name,
		    const struct redis_target *nodes, size_t nnodes,
		    int64_t connect_timeout_ms, int64_t command_timeout_ms,
		    const struct sentinel_cbs *);
/* Connect and ask. */
void		 sentinel_start(struct sentinel *);
/* Ask again (once, soon): the master given may be gone; why is for the debug log. */
void		 sentinel_ask(struct sentinel *, const char *why);
/* Close and free; NULL is a no-op. */
void		 sentinel_free(struct sentinel *);

#endif
