/* SPDX-License-Identifier: MIT */
/*
 * Liveness of the subscriber connection. A subscribed connection sends
 * nothing, so a half-open one (the server or a middlebox forgot it, the
 * socket did not notice) would silently stop wake messages and expiration
 * events; and PING on a subscribed context is broken in hiredis 0.14. So
 * the daemon subscribes to a channel of its own and, every interval,
 * publishes a sequence number on it through the command connection: no
 * subscriber on the server, or the message not back within the command
 * timeout, and the subscriber connection is reset.
 */
#ifndef DEFERD_SUBCHECK_H
#define DEFERD_SUBCHECK_H

#include <stdint.h>

struct event_base;
struct rconn;
struct subcheck;

/*
 * Check sub by publishing on channel (copied) through cmd every interval_ms;
 * a message not back within timeout_ms resets sub. Starts at once.
 */
struct subcheck	*subcheck_new(struct event_base *, struct rconn *cmd,
		    struct rconn *sub, const char *channel, int64_t interval_ms,
		    int64_t timeout_ms);
/* New interval and timeout (reload). */
void		 subcheck_set(struct subcheck *, int64_t interval_ms,
		    int64_t timeout_ms);
/* Free; NULL is a no-op. Call after freeing the connections (their last
 * callbacks still reach it). */
void		 subcheck_free(struct subcheck *);

#endif
