/* SPDX-License-Identifier: MIT */
/*
 * Liveness of the subscriber connection. A subscribed connection sends
 * nothing, so a half-open one (the server or a middlebox forgot it, the
 * socket did not notice) would silently stop wake messages and expiration
 * events; and PING on a subscribed context is broken in hiredis 0.14. So
 * the daemon subscribes to a channel of its own and, every interval,
 * publishes a sequence number on it through the command connection: no
 * subscriber on the server, or the message not back within the command
 * timeout, and the subscriber connection is reset. With a carrier
 * (subcheck_set_carrier), the probe rides on the owner's next command of
 * its own (deferd: the first queue's claim) instead of one of its own,
 * and goes alone only when none took it within the grace.
 */
#ifndef DEFERD_SUBCHECK_H
#define DEFERD_SUBCHECK_H

#include <stdbool.h>
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
/*
 * Let a carrier publish the probes: one due waits up to grace_ms for
 * subcheck_take before it is published alone (0: no carrier).
 */
void		 subcheck_set_carrier(struct subcheck *, int64_t grace_ms);
/*
 * The carrier's next command can carry the probe: when one is due, set
 * the channel and message to PUBLISH (valid until the answer) and return
 * true; subcheck_carried then gets the PUBLISH's answer.
 */
bool		 subcheck_take(struct subcheck *, const char **channel,
		    const char **message);
/* The carried probe's subscribers, or -1 when its command failed. */
void		 subcheck_carried(struct subcheck *, long long subscribers);
/* Free; NULL is a no-op. Call after freeing the connections (their last
 * callbacks still reach it). */
void		 subcheck_free(struct subcheck *);

#endif
