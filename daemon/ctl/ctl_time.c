/* SPDX-License-Identifier: MIT */
/*
 * deferctl's time formats: milliseconds since the epoch to ISO 8601 UTC for
 * display, and the --at argument (ISO 8601 with a zone, or @EPOCH_SECONDS)
 * to milliseconds. Pure calendar arithmetic: the local time zone and the
 * local clock are never consulted.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "util.h"

#define CTL_MAX_EPOCH_S	253402300799LL	/* 9999-12-31T23:59:59Z */

static int	ctl_digits(const char **p, int n);
static int	ctl_parse_epoch(const char *, int64_t *ms);
static int	ctl_parse_zone(const char *, int64_t *offset_ms);

/* Read exactly n decimal digits at *p and advance; -1 if they are not there. */
static int
ctl_digits(const char **p, int n)
{
	int	v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return (-1);
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return (v);
}

/* Parse "@SECONDS" (non-negative, up to year 9999). */
static int
ctl_parse_epoch(const char *s, int64_t *ms)
{
	int64_t	v = 0;

	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > CTL_MAX_EPOCH_S)
			return (-1);
		v = v * 10 + (*s - '0');
	}
	if (v > CTL_MAX_EPOCH_S)
		return (-1);
	*ms = v * 1000;
	return (0);
}

/* Parse the zone at the end of an ISO time: "Z" or "+HH:MM" / "-HH:MM". */
static int
ctl_parse_zone(const char *s, int64_t *offset_ms)
{
	int	sign, hh, mm;

	if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
		*offset_ms = 0;
		return (0);
	}
	if (s[0] != '+' && s[0] != '-')
		return (-1);
	sign = s[0] == '-' ? -1 : 1;
	s++;
	if ((hh = ctl_digits(&s, 2)) < 0 || *s++ != ':' ||
	    (mm = ctl_digits(&s, 2)) < 0 || *s != '\0' || hh > 23 || mm > 59)
		return (-1);
	*offset_ms = sign * ((int64_t)hh * 3600 + mm * 60) * 1000;
	return (0);
}

/*
 * Parse a --at value: "YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]" (the zone is
 * required, so a time never depends on the machine's) or "@EPOCH_SECONDS".
 * Stores ms since the epoch. Returns 0, or -1 if s is not such a time.
 */
int
ctl_parse_at(const char *s, int64_t *ms)
{
	int	y, mo, d, h, mi, sec, frac = 0, scale = 100;
	int64_t	off;

	if (s[0] == '@')
		return (ctl_parse_epoch(s + 1, ms));
	if ((y = ctl_digits(&s, 4)) < 0 || *s++ != '-' ||
	    (mo = ctl_digits(&s, 2)) < 0 || *s++ != '-' ||
	    (d = ctl_digits(&s, 2)) < 0 || (*s != 'T' && *s != 't'))
		return (-1);
	s++;
	if ((h = ctl_digits(&s, 2)) < 0 || *s++ != ':' ||
	    (mi = ctl_digits(&s, 2)) < 0 || *s++ != ':' ||
	    (sec = ctl_digits(&s, 2)) < 0)
		return (-1);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > util_days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return (-1);
	if (*s == '.' || *s == ',') {
		if (s[1] < '0' || s[1] > '9')
			return (-1);
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	if (ctl_parse_zone(s, &off) == -1)
		return (-1);
	*ms = ((util_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    sec) * 1000) + frac - off;
	if (*ms < 0)
		*ms = 0;
	return (0);
}
