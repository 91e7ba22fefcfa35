/* SPDX-License-Identifier: MIT */
/*
 * Proof that key expiration events arrive (docs/reliability.md P5). CONFIG
 * GET of notify-keyspace-events may be denied (managed Redis, a
 * least-privilege ACL user) and even when it says Ex the subscription may
 * be broken. So a canary key is set with a 50 ms TTL, touched after 100 ms
 * (which expires it at once if Redis has not), and its "expired" event must
 * arrive within a second. The owner is told the outcome; after a failure
 * the canary checks again every few seconds until events arrive.
 */
#ifndef DEFERD_CANARY_H
#define DEFERD_CANARY_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct rconn;
struct canary;

/* ok: the canary's expired event arrived; else it did not within a second. */
typedef void (*canary_result_cb)(bool ok, void *arg);

/* A canary on cmd with keys NS:canary:RANDOM in database db. */
struct canary	*canary_new(struct event_base *, struct rconn *cmd,
		    const char *ns, int db, canary_result_cb cb, void *arg);
/* Start a probe now unless one is under way or cmd is not ready. */
void		 canary_probe(struct canary *);
/* An expired event of key in db: true if it was the canary's (consumed). */
bool		 canary_event(struct canary *, int db, const char *key,
		    size_t len);
/* No more probes or results (the owner is stopping). */
void		 canary_stop(struct canary *);
/* Free; NULL is a no-op. Call after the cmd connection is freed. */
void		 canary_free(struct canary *);

#endif
