/* SPDX-License-Identifier: MIT */
/*
 * The clock of a periodic job (schedules[] of the config): which ticks to
 * enqueue now, which were missed, and when to look again. Pure functions
 * of a schedule, the latest tick already enqueued and Redis time, so that
 * every daemon computes the same ticks; schedules.c does the Redis part.
 *
 * A tick is enqueued ahead of its time, by the gap to the tick after it
 * but at least 1 s and at most 10 s (SCHEDULE_LOOKAHEAD_MAX_MS), so that
 * the job waits in delayed and is claimed at its time. A tick that no
 * daemon enqueued before its time (all of them were down) is missed:
 * missed: skip runs none of them, once the latest, all the latest
 * SCHEDULE_MISSED_MAX.
 */
#ifndef DEFERD_SCHEDULE_TICKS_H
#define DEFERD_SCHEDULE_TICKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SCHEDULE_LOOKAHEAD_MIN_MS	INT64_C(1000)
#define SCHEDULE_LOOKAHEAD_MAX_MS	INT64_C(10000)
#define SCHEDULE_AHEAD_MAX		16	/* ticks enqueued ahead at once */
#define SCHEDULE_PLAN_MAX		(SCHEDULE_MISSED_MAX + SCHEDULE_AHEAD_MAX)

/* What to do for one schedule at one moment. */
struct tick_plan {
	int64_t		ticks[SCHEDULE_PLAN_MAX];	/* ascending, ms */
	size_t		nticks;
	size_t		nrun_missed;	/* the first of ticks: missed ones run now */
	uint64_t	missed;		/* ticks in (last, now] found */
	bool		missed_more;	/* ... and there may be more before them */
	int64_t		wake_ms;	/* Redis time to plan again; -1: never */
};

/* The tick of sc strictly after after_ms, or -1 when there is none. */
int64_t	schedule_next_tick(const struct schedule *sc, int64_t after_ms);
/* How long before its time a tick is enqueued, seen at now_ms. */
int64_t	schedule_lookahead_ms(const struct schedule *sc, int64_t now_ms);
/*
 * Plan sc at Redis time now_ms, last_ms being the latest tick enqueued
 * (-1: none yet, nothing can have been missed).
 */
void	schedule_plan(const struct schedule *sc, int64_t last_ms, int64_t now_ms,
	    struct tick_plan *p);
/*
 * tick_ms as ISO 8601 local time of sc's zone, with its offset
 * ("2026-03-29T03:00:00+02:00"; "...Z" in UTC) into buf; returns buf.
 */
char	*schedule_tick_text(const struct schedule *sc, int64_t tick_ms,
	    char *buf, size_t len);
/*
 * A fingerprint of what sc's ticks are (when, with which job fields) in
 * queue, as 16 hex digits into buf (>= 17 bytes): differs when a reload
 * changed the schedule in a way its pending ticks must follow.
 */
void	schedule_fingerprint(const struct schedule *sc, const char *queue,
	    char *buf, size_t len);

#endif
