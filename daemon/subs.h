/* SPDX-License-Identifier: MIT */
/*
 * Pub/sub routing for the sources: one entry per channel (or pattern),
 * subscribed on the subscriber connection once and kept until exit, to
 * which sources register their callbacks (subs_add) and from which a
 * stopped source removes them (subs_remove), so that a message never
 * reaches a stopped instance. There is no UNSUBSCRIBE: in hiredis 0.14 an
 * UNSUBSCRIBE followed by a SUBSCRIBE of the same channel (a channel kept
 * across a reload) would let the late unsubscribe confirmation delete the
 * new callback. A channel removed by a reload stays subscribed, and its
 * messages are ignored, until exit.
 */
#ifndef DEFERD_SUBS_H
#define DEFERD_SUBS_H

#include <stdbool.h>

#include "rconn.h"

struct subs;

/*
 * A router on conn (a subscriber connection it does not own), or, with
 * NULL, on the connections attached later (one per Redis Cluster master,
 * for the events a node publishes only to its own subscribers).
 */
struct subs	*subs_new(struct rconn *conn);
/* Subscribe every entry on conn too, now and for entries added later. */
void		 subs_attach(struct subs *, struct rconn *conn);
/* Forget conn (before its owner frees it). */
void		 subs_detach(struct subs *, const struct rconn *conn);
/* Route channel's (or pattern's) messages, from every connection, to cb with priv too. */
void		 subs_add(struct subs *, const char *channel, bool pattern,
		    rconn_message_cb cb, void *priv);
/* Route nothing more to priv. */
void		 subs_remove(struct subs *, const void *priv);
/* Free, after the connection was freed; NULL is a no-op. */
void		 subs_free(struct subs *);

#endif
