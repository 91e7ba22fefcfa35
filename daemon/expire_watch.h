/* SPDX-License-Identifier: MIT */
/*
 * The precise-expiry watch of the expiration source (docs/architecture.md).
 * Redis publishes `expired` only when it deletes a key, which its sampling
 * may do minutes late; so the keys that match a tracked rule are kept in a
 * watch zset by expiry time (from `expire` events and a SCAN after every
 * connect), and a timer at the earliest deadline runs the touch script,
 * which makes Redis expire the due keys, and publish, at once.
 *
 * One server: one watch, NS:{exp}:watch. A Redis Cluster: one watch per
 * slot, NS:{exp-N}:watch, N the first number that puts the watch in that
 * slot, so that the track and touch scripts read only keys of their own
 * slot (and a migrated slot takes its watch along); the SCAN goes to every
 * master.
 */
#ifndef DEFERD_EXPIRE_WATCH_H
#define DEFERD_EXPIRE_WATCH_H

#include <stddef.h>

struct deferd;
struct expire_watch;

/*
 * A watch for the keys of d's database that match patterns[0..n) (the
 * tracked rules'; copied), using d's command connection and cluster.
 * Idle until expire_watch_up.
 */
struct expire_watch	*expire_watch_new(struct deferd *d,
			    const char *const *patterns, size_t npatterns);
/* An `expire` event: (re)track key. */
void			 expire_watch_track(struct expire_watch *,
			    const char *key, size_t len);
/* A `del` or `expired` event: key needs no watching any more. */
void			 expire_watch_forget(struct expire_watch *,
			    const char *key, size_t len);
/* The command connection is up: SCAN, touch, and touch every second. */
void			 expire_watch_up(struct expire_watch *);
/* It is down: no timers until it is up again. */
void			 expire_watch_down(struct expire_watch *);
/* `expire` events may have been missed: SCAN again. */
void			 expire_watch_rescan(struct expire_watch *);
/* Stop for good; replies still in flight are ignored (and freed). */
void			 expire_watch_stop(struct expire_watch *);
/* Free, once no reply can arrive; NULL is a no-op. */
void			 expire_watch_free(struct expire_watch *);

#endif
