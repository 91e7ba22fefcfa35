/* SPDX-License-Identifier: MIT */
/*
 * Cron expressions: parsing and next run times; see cron.h.
 *
 * The next run is found in two steps. First the next matching local wall
 * time (year, month, day, hour, minute, second) is found by plain calendar
 * arithmetic, which no time zone can disturb. Then that wall time becomes
 * an instant in the time zone: the earliest instant that shows it, or, if
 * none does (a spring-forward gap), the first instant after the gap. An
 * instant not after the previous run is skipped, which is what makes the
 * second occurrence of a fall-back hour, and the wall times of a gap after
 * the first, run nothing.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cron.h"
#include "util.h"
#include "xmalloc.h"

#define CRON_YEARS	5		/* how far cron_next looks */
#define ZONEINFO	"/usr/share/zoneinfo"

/* One field of an expression. */
struct cron_field {
	const char		*name;
	int			 lo, hi;
	const char *const	*names;		/* 3-letter names, or NULL */
	int			 first;		/* value of names[0] */
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr",
    "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const day_names[] = { "sun", "mon", "tue", "wed", "thu",
    "fri", "sat", NULL };

static const struct cron_field fields[] = {
	{ "second", 0, 59, NULL, 0 },
	{ "minute", 0, 59, NULL, 0 },
	{ "hour", 0, 23, NULL, 0 },
	{ "day of month", 1, 31, NULL, 0 },
	{ "month", 1, 12, month_names, 1 },
	{ "day of week", 0, 7, day_names, 0 },
};

/* The macros and what they stand for (with the seconds field). */
static const struct {
	const char	*name;
	const char	*expr;
} macros[] = {
	{ "@yearly", "0 0 0 1 1 *" }, { "@annually", "0 0 0 1 1 *" },
	{ "@monthly", "0 0 0 1 * *" }, { "@weekly", "0 0 0 * * 0" },
	{ "@daily", "0 0 0 * * *" }, { "@midnight", "0 0 0 * * *" },
	{ "@hourly", "0 0 * * * *" },
};

/* A local wall time. */
struct wall {
	int	y, mo, d, h, mi, s;
};

/*
 * One value of field f from the len bytes at s: a number or a name.
 * Returns 0, or -1 with the reason in err.
 */
static int
cron_value(const struct cron_field *f, const char *s, size_t len, int *v,
    char *err, size_t errlen)
{
	char	buf[16];
	long	n;
	char	*end;

	if (len == 0 || len >= sizeof(buf)) {
		snprintf(err, errlen, "expected a value");
		return (-1);
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (int i = 0; f->names != NULL && f->names[i] != NULL; i++)
		if (strcasecmp(buf, f->names[i]) == 0) {
			*v = f->first + i;
			return (0);
		}
	errno = 0;
	n = strtol(buf, &end, 10);
	if (!isdigit((unsigned char)buf[0]) || *end != '\0' || errno != 0) {
		snprintf(err, errlen, "'%s' is not a number%s", buf,
		    f->names != NULL ? " or a name" : "");
		return (-1);
	}
	if (n < f->lo || n > f->hi) {
		snprintf(err, errlen, "%ld is not within %d-%d", n, f->lo, f->hi);
		return (-1);
	}
	*v = (int)n;
	return (0);
}

/*
 * One item of a list: *, a, a-b, each optionally /step (a/step runs from
 * a to the top). Sets its bits in *bits.
 */
static int
cron_item(const struct cron_field *f, const char *s, size_t len,
    uint64_t *bits, char *err, size_t errlen)
{
	const char	*slash = memchr(s, '/', len), *dash;
	size_t		 rlen = slash != NULL ? (size_t)(slash - s) : len;
	int		 lo = f->lo, hi = f->hi, step = 1;
	char		 sbuf[16];
	long		 n;
	char		*end;

	if (slash != NULL) {
		size_t slen = len - rlen - 1;

		if (slen == 0 || slen >= sizeof(sbuf)) {
			snprintf(err, errlen, "expected a step after '/'");
			return (-1);
		}
		memcpy(sbuf, slash + 1, slen);
		sbuf[slen] = '\0';
		n = strtol(sbuf, &end, 10);
		if (!isdigit((unsigned char)sbuf[0]) || *end != '\0' || n < 1 ||
		    n > f->hi) {
			snprintf(err, errlen, "step '%s' is not within 1-%d", sbuf,
			    f->hi);
			return (-1);
		}
		step = (int)n;
	}
	if (!(rlen == 1 && s[0] == '*')) {
		dash = memchr(s + 1, '-', rlen > 0 ? rlen - 1 : 0);
		if (cron_value(f, s, dash != NULL ? (size_t)(dash - s) : rlen, &lo,
		    err, errlen) == -1)
			return (-1);
		hi = slash != NULL ? f->hi : lo;
		if (dash != NULL && cron_value(f, dash + 1,
		    rlen - (size_t)(dash + 1 - s), &hi, err, errlen) == -1)
			return (-1);
		if (hi < lo) {
			snprintf(err, errlen, "range %d-%d goes backwards", lo, hi);
			return (-1);
		}
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= UINT64_C(1) << v;
	return (0);
}

/* A whole field: a comma-separated list of items. */
static int
cron_field_parse(const struct cron_field *f, const char *s, size_t len,
    uint64_t *bits, char *err, size_t errlen)
{
	const char	*end = s + len, *comma;

	*bits = 0;
	for (const char *p = s; p <= end; p = comma + 1) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL)
			comma = end;
		if (cron_item(f, p, (size_t)(comma - p), bits, err, errlen) == -1)
			return (-1);
	}
	return (0);
}

/* Split expr into at most 6 fields; returns how many (7: too many). */
static int
cron_split(const char *expr, const char *start[6], size_t len[6])
{
	int	n = 0;

	for (const char *p = expr; *p != '\0';) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (n == 6)
			return (7);
		start[n] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		len[n] = (size_t)(p - start[n]);
		n++;
	}
	return (n);
}

int
cron_parse(const char *expr, struct cron *c, char *err, size_t errlen)
{
	const char	*start[6];
	size_t		 len[6];
	uint64_t	 bits[6];
	char		 why[128];
	int		 n, skip;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
		if (strcasecmp(expr, macros[i].name) == 0)
			return (cron_parse(macros[i].expr, c, err, errlen));
	if ((n = cron_split(expr, start, len)) != 5 && n != 6) {
		snprintf(err, errlen, "expected 5 fields (minute hour day-of-month "
		    "month day-of-week), 6 with seconds first, or a macro such "
		    "as @daily; got %d", n > 6 ? 7 : n);
		return (-1);
	}
	skip = 6 - n;		/* 5 fields: no seconds */
	bits[0] = 1;		/* second 0 */
	for (int i = 0; i < n; i++) {
		const struct cron_field *f = &fields[i + skip];

		if (cron_field_parse(f, start[i], len[i], &bits[i + skip], why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "field %d (%s): %s", i + 1, f->name,
			    why);
			return (-1);
		}
	}
	c->sec = bits[0];
	c->min = bits[1];
	c->hour = (uint32_t)bits[2];
	c->dom = (uint32_t)bits[3];
	c->month = (uint16_t)bits[4];
	c->dow = (uint8_t)((bits[5] | bits[5] >> 7) & 0x7f);	/* 7 is Sunday */
	c->dom_any = start[3 - skip][0] == '*';
	c->dow_any = start[5 - skip][0] == '*';
	return (0);
}

int
cron_check_tz(const char *tz, char *err, size_t errlen)
{
	char		path[512];
	struct stat	st;
	const char	*dir = getenv("TZDIR");

	if (strcmp(tz, "UTC") == 0)
		return (0);
	if (*tz == '\0' || *tz == '/' || strstr(tz, "..") != NULL ||
	    strlen(tz) > 200) {
		snprintf(err, errlen, "'%s' is not a time zone name (like "
		    "Europe/Berlin)", tz);
		return (-1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir != NULL && *dir != '\0' ?
	    dir : ZONEINFO, tz);
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "unknown time zone '%s' (not in the "
		    "system's tzdata: apt-get install tzdata)", tz);
		return (-1);
	}
	return (0);
}

/* Whether the day of w runs, by the cron(8) rule for day and weekday. */
static bool
cron_day_ok(const struct cron *c, const struct wall *w)
{
	int64_t	days = util_days_from_civil(w->y, w->mo, w->d);
	int	wday = (int)(((days % 7) + 11) % 7);	/* 1970-01-01: Thursday */
	bool	dom = (c->dom >> w->d) & 1, dow = (c->dow >> wday) & 1;

	if (c->dom_any || c->dow_any)
		return (dom && dow);
	return (dom || dow);
}

/* Carry seconds into minutes, minutes into hours, hours into days. */
static void
wall_carry(struct wall *w)
{
	if (w->s > 59) {
		w->s = 0;
		w->mi++;
	}
	if (w->mi > 59) {
		w->mi = 0;
		w->h++;
	}
	if (w->h > 23) {
		w->h = 0;
		w->d++;
	}
}

/* Move w to the first second of the next month. */
static void
wall_next_month(struct wall *w)
{
	w->d = 1;
	w->h = w->mi = w->s = 0;
	if (++w->mo > 12) {
		w->mo = 1;
		w->y++;
	}
}

/*
 * Move w to the first wall time at or after it that c matches; false when
 * there is none before the year last.
 */
static bool
cron_next_wall(const struct cron *c, struct wall *w, int last)
{
	while (w->y <= last) {
		if (w->d > util_days_in_month(w->y, w->mo) ||
		    !((c->month >> w->mo) & 1))
			wall_next_month(w);
		else if (!cron_day_ok(c, w)) {
			w->d++;
			w->h = w->mi = w->s = 0;
		} else if (!((c->hour >> w->h) & 1)) {
			w->h++;
			w->mi = w->s = 0;
			wall_carry(w);
		} else if (!((c->min >> w->mi) & 1)) {
			w->mi++;
			w->s = 0;
			wall_carry(w);
		} else if (!((c->sec >> w->s) & 1)) {
			w->s++;
			wall_carry(w);
		} else
			return (true);
	}
	return (false);
}

/* w compared with the local wall time of tm: <0, 0, >0. */
static int
wall_cmp_tm(const struct wall *w, const struct tm *tm)
{
	const int	a[] = { w->y, w->mo, w->d, w->h, w->mi, w->s };
	const int	b[] = { tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
			    tm->tm_hour, tm->tm_min, tm->tm_sec };

	for (int i = 0; i < 6; i++)
		if (a[i] != b[i])
			return (a[i] < b[i] ? -1 : 1);
	return (0);
}

/* The local wall time of instant t (TZ set). */
static void
wall_of(int64_t t, struct wall *w)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	localtime_r(&tt, &tm);
	w->y = tm.tm_year + 1900;
	w->mo = tm.tm_mon + 1;
	w->d = tm.tm_mday;
	w->h = tm.tm_hour;
	w->mi = tm.tm_min;
	w->s = tm.tm_sec;
}

/*
 * The earliest instant whose local wall time (TZ set) is w; if none shows
 * it (a gap), the first instant after w.
 */
static int64_t
wall_instant(const struct wall *w)
{
	struct tm	tm, lt;
	int64_t		best = -1, lo, hi, guess = 0;
	time_t		t;

	for (int isdst = 0; isdst <= 1; isdst++) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = w->y - 1900;
		tm.tm_mon = w->mo - 1;
		tm.tm_mday = w->d;
		tm.tm_hour = w->h;
		tm.tm_min = w->mi;
		tm.tm_sec = w->s;
		tm.tm_isdst = isdst;
		if ((t = mktime(&tm)) == (time_t)-1)
			continue;
		guess = t;
		localtime_r(&t, &lt);
		if (wall_cmp_tm(w, &lt) == 0 && (best == -1 || t < best))
			best = t;
	}
	if (best != -1)
		return (best);
	/* A gap: the smallest instant whose wall time is past w. */
	lo = guess - 6 * 3600;
	hi = guess + 6 * 3600;
	while (hi - lo > 1) {
		int64_t		mid = lo + (hi - lo) / 2;
		time_t		mt = (time_t)mid;

		localtime_r(&mt, &lt);
		if (wall_cmp_tm(w, &lt) < 0)
			hi = mid;
		else
			lo = mid;
	}
	return (hi);
}

/* Set TZ to tz (NULL: UTC); returns the old value (to restore), or NULL. */
static char *
tz_push(const char *tz)
{
	const char	*old = getenv("TZ");
	char		*saved = old != NULL ? xstrdup(old) : NULL;

	setenv("TZ", tz != NULL ? tz : "UTC", 1);
	tzset();
	return (saved);
}

/* Put TZ back as tz_push found it. */
static void
tz_pop(char *saved)
{
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

char *
cron_format_local(int64_t t, const char *tz, char *buf, size_t len)
{
	char		*saved = tz_push(tz);
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	localtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm);
	tz_pop(saved);
	return (buf);
}

char *
cron_format_iso(int64_t t, const char *tz, char *buf, size_t len, char *off,
    size_t offlen)
{
	char		*saved = tz_push(tz);
	time_t		 tt = (time_t)t;
	struct tm	 tm;
	long		 g;

	localtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	g = tm.tm_gmtoff;
	snprintf(off, offlen, "%c%02ld:%02ld", g < 0 ? '-' : '+',
	    labs(g) / 3600, labs(g) % 3600 / 60);
	tz_pop(saved);
	return (buf);
}

int64_t
cron_next(const struct cron *c, const char *tz, int64_t after_s)
{
	char		*saved = tz_push(tz);
	struct wall	 w;
	int64_t		 t = -1;
	int		 last;

	wall_of(after_s, &w);
	last = w.y + CRON_YEARS;
	w.s++;
	wall_carry(&w);
	while (cron_next_wall(c, &w, last)) {
		if ((t = wall_instant(&w)) > after_s)
			break;
		t = -1;		/* a second occurrence, or a gap run already */
		w.s++;
		wall_carry(&w);
	}
	tz_pop(saved);
	return (t);
}
