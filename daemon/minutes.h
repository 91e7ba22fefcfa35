/* SPDX-License-Identifier: MIT */
/*
 * The last hour, minute by minute (minutes.c): how many jobs this daemon
 * finished done and failed (dead) each minute, and the worst start
 * lateness p99 of each minute's 10-second windows. Kept in memory, a
 * ring of MINUTES_N slots stamped with their epoch minute, so that a
 * stale slot reads as zero; written into the daemon's summary for
 * deferctl stats and the dashboard, which adds the daemons up.
 */
#ifndef DEFERD_MINUTES_H
#define DEFERD_MINUTES_H

#include <stdint.h>

#define MINUTES_N	60

enum minutes_kind { MINUTES_DONE, MINUTES_FAILED };

struct minutes {
	int64_t		 stamp[MINUTES_N];	/* epoch minute of the slot; 0: empty */
	uint32_t	 done[MINUTES_N];
	uint32_t	 failed[MINUTES_N];
	int64_t		 p99[MINUTES_N];	/* -1: no window that minute */
};

struct json_out;

void	minutes_init(struct minutes *);
/* Count one job of kind finished at now_ms (epoch). */
void	minutes_count(struct minutes *, int64_t now_ms, enum minutes_kind);
/* A 10-second window's start lateness p99 (ms), at now_ms. */
void	minutes_p99(struct minutes *, int64_t now_ms, int64_t p99);
/*
 * Add "minutes": {"end": M, "done": [...], "failed": [...],
 * "start_p99_ms": [...]} to o: MINUTES_N values each, oldest first,
 * ending with epoch minute M (the one of now_ms); p99 -1 for none.
 */
void	minutes_json(const struct minutes *, int64_t now_ms, struct json_out *);

#endif
