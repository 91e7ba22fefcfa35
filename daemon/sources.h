/* SPDX-License-Identifier: MIT */
/*
 * The sources of docs/architecture.md beyond the delayed queue: key expirations
 * (expire.c), plain zsets (source_zset.c), lists (source_list.c) and
 * channels (source_channel.c), started and stopped together by sources.c.
 * Every source but the channel turns what it sees into a job of a queue,
 * by a Lua script, so the one pipeline (claim, lease, retry, dead, lock)
 * gives it the same guarantees; channel messages run handlers directly.
 * A reload whose rules or sources changed replaces the whole set of
 * source instances (sources_reload); the old set is stopped and kept until
 * exit, since replies in flight may still name it.
 */
#ifndef DEFERD_SOURCES_H
#define DEFERD_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "rconn.h"

struct deferd;
struct event;
struct subs;
struct expire;
struct sources;
struct zsrc;
struct lsrc;
struct csrc;

/* The owner's callback: a check that holds READY=1 back passed. */
typedef void	(*sources_ready_cb)(void *arg);
/* A list source's heir: the running list source reading key, or NULL. */
typedef struct lsrc *(*lsrc_heir_cb)(const char *key, void *arg);

/* sources.c */
/* All sources of d's config; idle until sources_start. */
struct sources	*sources_new(struct deferd *d, sources_ready_cb ready_cb,
		    void *arg);
/* Start connecting the sources' own connections (from deferd_run). */
void		 sources_start(struct sources *);
/*
 * d->cfg was just replaced by a reload (old is retired, still valid): when
 * the expirations or sources sections (or the database) differ, stop the
 * running instances and start new ones from d->cfg; else change nothing.
 */
void		 sources_reload(struct sources *, const struct config *old);
/* READY=1 may go out: no expiration rules, or their check passed. */
bool		 sources_ready(const struct sources *);
/* Free everything, after d's connections were freed; NULL is a no-op. */
void		 sources_free(struct sources *);

/* expire.c */
/*
 * The expiration source of d->cfg, or NULL when there are no rules; it
 * subscribes through subs, and calls ready(arg) once its first
 * notify-keyspace-events check is done. With startup, missing flags stop
 * the daemon (exit 1); after a reload they are logged every minute instead.
 */
struct expire	*expire_new(struct deferd *d, struct subs *subs, bool startup,
		    sources_ready_cb ready, void *arg);
/* The command connection is up / down. */
void		 expire_up(struct expire *);
void		 expire_down(struct expire *);
/* The subscriber connection is up / down (outage windows). */
void		 expire_sub_event(struct expire *, enum rconn_event);
/* The notify-keyspace-events check passed (or the flags were set). */
bool		 expire_ready(const struct expire *);
/*
 * Stop for good: timers disarmed, replies still in flight ignored. Keep
 * the memory until exit (expire_free).
 */
void		 expire_stop(struct expire *);
/*
 * Move the expirations from holds (held while Redis was unreachable) to
 * to, matched against to's rules; to may be NULL (they are dropped, logged).
 */
void		 expire_handover(struct expire *to, struct expire *from);
/* Free (pending expirations are dropped); NULL is a no-op. */
void		 expire_free(struct expire *);

/* source_zset.c */
/* A plain zset source; idle until zsrc_up. */
struct zsrc	*zsrc_new(struct deferd *d, const struct source *src);
/* The command connection is up: move due members now, then by timer and poll. */
void		 zsrc_up(struct zsrc *);
/* The command connection is down (or the source stopped): stop the timers. */
void		 zsrc_down(struct zsrc *);
/* Free; NULL is a no-op. */
void		 zsrc_free(struct zsrc *);

/* source_list.c */
/*
 * A list source with its own blocking connection (number index in its
 * name); heir(arg) names the source that takes its items when it stops.
 */
struct lsrc	*lsrc_new(struct deferd *d, const struct source *src, size_t index,
		    lsrc_heir_cb heir, void *arg);
/* Start connecting the blocking connection. */
void		 lsrc_start(struct lsrc *);
/* The command connection is up: heartbeat, recover, take leftovers, block. */
void		 lsrc_up(struct lsrc *);
/* The command connection is down: stop the heartbeat. */
void		 lsrc_down(struct lsrc *);
/* The list key this source reads. */
const char	*lsrc_key(const struct lsrc *);
/*
 * Stop for good: no new BLMOVE; once the one in flight (if any) answered,
 * what our processing list holds goes to the running source of the same
 * key (it takes it), or back to the head of the list when there is none;
 * then the blocking connection is closed. Memory stays until lsrc_free.
 */
void		 lsrc_stop(struct lsrc *);
/* Whether a stopped source is done: its list handed over, its connection closed. */
bool		 lsrc_stopped(const struct lsrc *);
/* Close the blocking connection and free; NULL is a no-op. */
void		 lsrc_free(struct lsrc *);

/* source_channel.c */
/* A channel source, subscribed on d's subscriber connection through subs. */
struct csrc	*csrc_new(struct deferd *d, struct subs *subs, const struct source *src);
/* Free (runs still going are forgotten: runner_free kills them); NULL is a no-op. */
void		 csrc_free(struct csrc *);
/* Whether no run of the source's messages is going on. */
bool		 csrc_idle(const struct csrc *);

#endif
