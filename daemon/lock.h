/* SPDX-License-Identifier: MIT */
/*
 * Per-resource locks for the daemon (README: Locks, docs/reliability.md
 * P3), async on the command connection. One struct lock is one wish to hold
 * one resource: acquire (SET NX PX with a random 128-bit token, plus INCR
 * of the fencing counter, in one script), optionally re-tried with backoff
 * for a while, then extended every lease/3 by compare-and-extend, and
 * finally released by compare-and-delete. A lock whose extension is
 * refused, or that has no successful extension for a whole lease on the
 * monotonic clock, is reported lost: its holder must stop the work at once.
 */
#ifndef DEFERD_LOCK_H
#define DEFERD_LOCK_H

#include <stdint.h>

struct event_base;
struct lock;
struct rconn;

enum lock_event {
	LOCK_ACQUIRED,	/* held: lock_fence() is valid, extension runs */
	LOCK_BUSY,	/* held by another token (still, after the wait) */
	LOCK_ERROR,	/* Redis unreachable or an error reply; not held */
	LOCK_LOST,	/* was held; the work must stop now */
};

/* why is a short reason (LOCK_ERROR, LOCK_LOST), "" otherwise; valid during the call. */
typedef void (*lock_cb)(struct lock *, enum lock_event, const char *why,
		    void *arg);

/*
 * A lock on ns:lock:RESOURCE (tagged: ns:lock:{RESOURCE}, keys_lock) with
 * the given lease, not yet asked for. rc is
 * borrowed and must outlive the lock (or rconn_free must run first, see
 * lock_abandon). cb is called from the loop, never from a lock_* call.
 */
struct lock	*lock_new(struct event_base *, struct rconn *rc, const char *ns,
		    const char *resource, bool tagged, int64_t lease_ms, lock_cb cb,
		    void *arg);
/*
 * Try to take the lock; if it is busy, try again with backoff (25 ms
 * doubling to 500 ms, with jitter) until wait_ms have passed on the
 * monotonic clock. wait_ms 0: one try. Ends with LOCK_ACQUIRED, LOCK_BUSY
 * or LOCK_ERROR.
 */
void		 lock_acquire(struct lock *, int64_t wait_ms);
/* The fencing token of the current hold as decimal text ("" before it is held). */
const char	*lock_fence(const struct lock *);
/*
 * Give the lock up: stop extending, compare-and-delete it in Redis (only our
 * token is deleted; sent after an acquire still in flight if that one
 * succeeds), and free it once Redis has answered. No callback is called
 * after this. NULL is a no-op.
 */
void		 lock_release(struct lock *);
/* Free without telling Redis (exit, after rconn_free): the key expires after its lease. NULL is a no-op. */
void		 lock_abandon(struct lock *);

#endif
