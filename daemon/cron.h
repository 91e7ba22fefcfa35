/* SPDX-License-Identifier: MIT */
/*
 * Cron expressions and their next run times (cron.c), for periodic jobs.
 * Five fields (minute hour day-of-month month day-of-week) or six with a
 * leading seconds field; each a '*', a value, a range a-b, a step (*, a-b
 * or a followed by /n) or a comma-separated list of those; months and
 * weekdays also by name (JAN, MON); day-of-week 0 and 7 are Sunday; the
 * macros @yearly (@annually), @monthly, @weekly, @daily (@midnight) and
 * @hourly. As in cron(8), when both day-of-month and day-of-week are
 * restricted (neither starts with '*'), a day matching either runs.
 *
 * Times are local to an IANA time zone, read with the system's tzdata. A
 * local time that does not exist (spring forward) runs once, at the first
 * valid instant after it; a local time that occurs twice (fall back) runs
 * once, at its first occurrence.
 */
#ifndef DEFERD_CRON_H
#define DEFERD_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A parsed expression: one bit per allowed value of each field. */
struct cron {
	uint64_t	sec;		/* bits 0-59 */
	uint64_t	min;		/* bits 0-59 */
	uint32_t	hour;		/* bits 0-23 */
	uint32_t	dom;		/* bits 1-31 */
	uint16_t	month;		/* bits 1-12 */
	uint8_t		dow;		/* bits 0-6, Sunday 0 */
	bool		dom_any;	/* day-of-month started with '*' */
	bool		dow_any;	/* day-of-week started with '*' */
};

/*
 * Parse expr into *c. Returns 0, or -1 with a message naming the field in
 * err, e.g. "field 3 (day of month): 32 is not within 1-31".
 */
int	cron_parse(const char *expr, struct cron *c, char *err, size_t errlen);
/*
 * Whether tz names a time zone of the system's tzdata ("UTC" always does);
 * else -1 with the reason in err.
 */
int	cron_check_tz(const char *tz, char *err, size_t errlen);
/*
 * The first run time of c strictly after after_s (seconds since the
 * epoch) in time zone tz (NULL: UTC), within five years; -1 if none (an
 * expression such as 0 0 30 2 * never matches).
 */
int64_t	cron_next(const struct cron *c, const char *tz, int64_t after_s);

/*
 * Format instant t (seconds) as local time in tz: "2026-12-06 19:00:00
 * CET" into buf; returns buf.
 */
char	*cron_format_local(int64_t t, const char *tz, char *buf, size_t len);

/*
 * Instant t as ISO 8601 local time of tz: "2026-03-29T03:00:00" into buf
 * and its UTC offset "+02:00" into off; returns buf.
 */
char	*cron_format_iso(int64_t t, const char *tz, char *buf, size_t len,
	    char *off, size_t offlen);

#endif
