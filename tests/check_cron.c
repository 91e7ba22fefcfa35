/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: cron expressions (cron.c). A table of expressions, time
 * zones and start times with the run times they must give, worked out
 * independently (Python's zoneinfo): steps, leap days, macros, seconds,
 * the day-of-month / day-of-week rule of cron(8), and the DST gaps and
 * overlaps of Europe/Berlin and America/New_York in 2026. Then a table of
 * bad expressions and the message for each.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "harness.h"

/* An expression, a zone, a start and the next run times after it. */
struct next_case {
	const char	*expr;
	const char	*tz;		/* NULL: UTC */
	const char	*after;		/* ISO 8601, UTC */
	const char	*runs[6];	/* ISO 8601, UTC; NULL-terminated; "never" */
};

static const struct next_case next_cases[] = {
	{ "*/15 * * * *", NULL, "2026-01-01T00:07:00Z",
	  { "2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z",
	    "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z", NULL } },
	{ "*/20 * * * * *", NULL, "2026-01-01T00:00:00Z",
	  { "2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z",
	    "2026-01-01T00:01:00Z", NULL } },
	/* Leap days only. */
	{ "0 0 29 2 *", NULL, "2026-03-01T00:00:00Z",
	  { "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", NULL } },
	{ "@yearly", NULL, "2026-06-01T00:00:00Z",
	  { "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", NULL } },
	{ "@hourly", NULL, "2026-06-01T10:59:59Z",
	  { "2026-06-01T11:00:00Z", "2026-06-01T12:00:00Z", NULL } },
	/* Both day fields restricted: the 13th or any Friday. */
	{ "0 12 13 * FRI", NULL, "2026-02-01T00:00:00Z",
	  { "2026-02-06T12:00:00Z", "2026-02-13T12:00:00Z",
	    "2026-02-20T12:00:00Z", "2026-02-27T12:00:00Z",
	    "2026-03-06T12:00:00Z", NULL } },
	/* Only the weekday restricted; 7 is Sunday too; names. */
	{ "0 9 * jan-mar 0,7", NULL, "2026-01-01T00:00:00Z",
	  { "2026-01-04T09:00:00Z", "2026-01-11T09:00:00Z", NULL } },
	/* Spring forward in Berlin: 02:30 does not exist on 03-29. */
	{ "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
	  { "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", NULL } },
	/* Fall back in Berlin: 02:30 happens twice on 10-25; once. */
	{ "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
	  { "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", NULL } },
	{ "0 * * * *", "Europe/Berlin", "2026-10-24T23:30:00Z",
	  { "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z",
	    "2026-10-25T03:00:00Z", NULL } },
	/* New York: spring forward 03-08, fall back 11-01. */
	{ "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
	  { "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", NULL } },
	{ "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
	  { "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z", NULL } },
	/* Never: February 30th. */
	{ "0 0 30 2 *", NULL, "2026-01-01T00:00:00Z", { "never", NULL } },
};

/* A bad expression and its message. */
struct bad_case {
	const char	*expr;
	const char	*msg;
};

static const struct bad_case bad_cases[] = {
	{ "* * * *", "expected 5 fields (minute hour day-of-month month "
	  "day-of-week), 6 with seconds first, or a macro such as @daily; got 4" },
	{ "* * * * * * *", "expected 5 fields (minute hour day-of-month month "
	  "day-of-week), 6 with seconds first, or a macro such as @daily; got 7" },
	{ "60 * * * *", "field 1 (minute): 60 is not within 0-59" },
	{ "* 24 * * *", "field 2 (hour): 24 is not within 0-23" },
	{ "* * 32 * *", "field 3 (day of month): 32 is not within 1-31" },
	{ "* * 0 * *", "field 3 (day of month): 0 is not within 1-31" },
	{ "* * * FOO *", "field 4 (month): 'FOO' is not a number or a name" },
	{ "* * * * 8", "field 5 (day of week): 8 is not within 0-7" },
	{ "*/0 * * * *", "field 1 (minute): step '0' is not within 1-59" },
	{ "5-1 * * * *", "field 1 (minute): range 5-1 goes backwards" },
	{ "1,,2 * * * *", "field 1 (minute): expected a value" },
	{ "61 * * * * *", "field 1 (second): 61 is not within 0-59" },
	{ "@often", "expected 5 fields (minute hour day-of-month month "
	  "day-of-week), 6 with seconds first, or a macro such as @daily; got 1" },
};

/* Seconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ". */
static int64_t
iso(const char *s)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	ck_assert_ptr_nonnull(strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm));
	return ((int64_t)timegm(&tm));
}

START_TEST(next_runs)
{
	const struct next_case	*c = &next_cases[_i];
	struct cron		 cr;
	char			 err[256];
	int64_t			 t = iso(c->after), next;

	ck_assert_msg(cron_parse(c->expr, &cr, err, sizeof(err)) == 0, "%s: %s",
	    c->expr, err);
	for (int i = 0; c->runs[i] != NULL; i++) {
		next = cron_next(&cr, c->tz, t);
		if (strcmp(c->runs[i], "never") == 0) {
			ck_assert_int_eq(next, -1);
			break;
		}
		ck_assert_msg(next == iso(c->runs[i]), "%s (%s) after %lld: "
		    "%lld, want %s", c->expr, c->tz != NULL ? c->tz : "UTC",
		    (long long)t, (long long)next, c->runs[i]);
		t = next;
	}
}
END_TEST

START_TEST(bad_expressions)
{
	const struct bad_case	*b = &bad_cases[_i];
	struct cron		 cr;
	char			 err[256];

	ck_assert_msg(cron_parse(b->expr, &cr, err, sizeof(err)) == -1,
	    "accepted: %s", b->expr);
	ck_assert_str_eq(err, b->msg);
}
END_TEST

/* Zones are checked against the system's tzdata, and names stay names. */
START_TEST(time_zones)
{
	char	err[256];

	ck_assert_int_eq(cron_check_tz("UTC", err, sizeof(err)), 0);
	ck_assert_int_eq(cron_check_tz("Europe/Berlin", err, sizeof(err)), 0);
	ck_assert_int_eq(cron_check_tz("Mars/Olympus_Mons", err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown time zone"));
	ck_assert_int_eq(cron_check_tz("../../etc/passwd", err, sizeof(err)),
	    -1);
	ck_assert_int_eq(cron_check_tz("/etc/localtime", err, sizeof(err)), -1);
	/* TZ is put back as it was. */
	setenv("TZ", "America/New_York", 1);
	{
		struct cron	cr;

		ck_assert_int_eq(cron_parse("@daily", &cr, err, sizeof(err)), 0);
		cron_next(&cr, "Europe/Berlin", 0);
	}
	ck_assert_str_eq(getenv("TZ"), "America/New_York");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cron");
	TCase	*tc = tcase_create("expressions");

	tcase_add_loop_test(tc, next_runs, 0,
	    (int)(sizeof(next_cases) / sizeof(next_cases[0])));
	tcase_add_loop_test(tc, bad_expressions, 0,
	    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, time_zones);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
