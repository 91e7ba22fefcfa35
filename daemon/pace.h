/* SPDX-License-Identifier: MIT */
/*
 * How fast each persistent handler's pool gets through its jobs lately:
 * jobs answered per second over the last full window. The scheduler
 * claims ahead of a pool what it finishes in a few milliseconds
 * (sched.c), so a fast pool is fed by claims of many jobs and a slow one
 * holds no more jobs than it can run. Names come from the config's
 * persistent handlers; an entry unused for a while is dropped.
 */
#ifndef DEFERD_PACE_H
#define DEFERD_PACE_H

#include <stdint.h>

struct pace;

struct pace	*pace_new(void);
/* One job of handler was answered at now_ms (monotonic). */
void		 pace_count(struct pace *, const char *handler, int64_t now_ms);
/* handler's jobs answered per second in the last window; 0 if idle since. */
int		 pace_per_s(const struct pace *, const char *handler,
		    int64_t now_ms);
/* NULL is a no-op. */
void		 pace_free(struct pace *);

#endif
