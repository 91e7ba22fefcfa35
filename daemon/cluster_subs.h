/* SPDX-License-Identifier: MIT */
/*
 * A subscriber connection on every master of a Redis Cluster, for the
 * messages a node publishes only to its own subscribers: key events
 * (`__keyevent@0__:expired` comes from the node that held the key). The
 * owner hands down the masters each time the slot map names others
 * (cluster_subs_set); a master that left is unsubscribed by closing its
 * connection, a new one gets every subscription of the router. The
 * connections are one subscriber as seen from above: up while every
 * master's connection is ready.
 */
#ifndef DEFERD_CLUSTER_SUBS_H
#define DEFERD_CLUSTER_SUBS_H

#include <stdbool.h>
#include <stddef.h>

#include "rconn.h"
#include "redisurl.h"

struct event_base;
struct subs;
struct cluster_subs;

/* Told when the subscriptions went down (a master's connection) or up (all). */
typedef void	(*cluster_subs_event_cb)(enum rconn_event, void *arg);

/* No connection until cluster_subs_set; opts (copied) are a subscriber's. */
struct cluster_subs	*cluster_subs_new(struct event_base *,
			    const struct rconn_opts *opts);
/* The router to subscribe through (owned by cs). */
struct subs		*cluster_subs_router(struct cluster_subs *);
/* Also tell cb about every up and down (as rconn_observe). */
void			 cluster_subs_observe(struct cluster_subs *,
			    cluster_subs_event_cb cb, void *arg);
/* Every master is subscribed on a ready connection. */
bool			 cluster_subs_ready(const struct cluster_subs *);
/* The masters now (copied): connect to new ones, close the others. */
void			 cluster_subs_set(struct cluster_subs *,
			    const struct redis_target *masters, size_t n);
/* Close every connection and free; NULL is a no-op. */
void			 cluster_subs_free(struct cluster_subs *);

#endif
