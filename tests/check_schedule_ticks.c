/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the clock of periodic jobs (schedule_ticks.c). Ticks of
 * every: counted from the epoch; the lookahead (the gap to the next tick,
 * within 1-10 s); the plan after an outage under missed: skip, once and
 * all (capped at 100, the latest ones); the ISO 8601 text of a tick with
 * its zone's offset across a DST change; fingerprints that follow what a
 * pending tick depends on.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "harness.h"
#include "schedule_ticks.h"

#define SEC	INT64_C(1000)
/* 2026-12-06T19:00:00Z */
#define T0	INT64_C(1796583600000)

/* A schedule every every_ms ms, or of cron expr in tz. */
static struct schedule
sched(int64_t every_ms, const char *expr, const char *tz, enum missed_policy m)
{
	struct schedule	sc;
	char		err[256];

	memset(&sc, 0, sizeof(sc));
	sc.name = "t";
	sc.handler = "h";
	sc.every_ms = every_ms;
	sc.missed = m;
	sc.timezone = (char *)tz;
	if (expr != NULL) {
		sc.cron_expr = (char *)expr;
		ck_assert_msg(cron_parse(expr, &sc.cron, err, sizeof(err)) == 0,
		    "%s", err);
	}
	return (sc);
}

START_TEST(every_counts_from_the_epoch)
{
	struct schedule	sc = sched(7 * SEC, NULL, NULL, MISSED_SKIP);

	ck_assert_int_eq(schedule_next_tick(&sc, 0), 7000);
	ck_assert_int_eq(schedule_next_tick(&sc, 6999), 7000);
	ck_assert_int_eq(schedule_next_tick(&sc, 7000), 14000);
	ck_assert_int_eq(schedule_next_tick(&sc, T0 + 1) % 7000, 0);
	ck_assert_int_eq(schedule_lookahead_ms(&sc, T0), 7000);
	sc = sched(3600 * SEC, NULL, NULL, MISSED_SKIP);
	ck_assert_int_eq(schedule_lookahead_ms(&sc, T0), 10000);
	sc = sched(0, "0 12 * * *", NULL, MISSED_SKIP);
	ck_assert_int_eq(schedule_next_tick(&sc, T0), T0 + 17 * 3600 * SEC);
	sc = sched(0, "* * * * * *", NULL, MISSED_SKIP);
	ck_assert_int_eq(schedule_lookahead_ms(&sc, T0), 1000);
}
END_TEST

/* No outage: the ticks within the lookahead, and when to look again. */
START_TEST(plan_ahead)
{
	struct schedule		sc = sched(SEC, NULL, NULL, MISSED_ALL);
	struct tick_plan	p;

	schedule_plan(&sc, -1, T0 + 400, &p);
	ck_assert_int_eq(p.nticks, 1);
	ck_assert_int_eq(p.ticks[0], T0 + 1000);
	ck_assert_int_eq(p.missed, 0);
	ck_assert_int_eq(p.wake_ms, T0 + 1000);	/* T0+2s comes into the window */
	schedule_plan(&sc, T0 + 1000, T0 + 1000, &p);
	ck_assert_int_eq(p.nticks, 1);
	ck_assert_int_eq(p.ticks[0], T0 + 2000);
	ck_assert_int_eq(p.missed, 0);
	sc = sched(5 * 60 * SEC, NULL, NULL, MISSED_SKIP);
	schedule_plan(&sc, T0, T0 + 60 * SEC, &p);
	ck_assert_int_eq(p.nticks, 0);
	ck_assert_int_eq(p.wake_ms, T0 + 300 * SEC - 10 * SEC);
}
END_TEST

/* Five ticks missed (T0+1s..T0+5s): skip none, once the latest, all five. */
START_TEST(plan_after_outage)
{
	static const enum missed_policy	policies[] = {
		MISSED_SKIP, MISSED_ONCE, MISSED_ALL
	};
	static const size_t		runs[] = { 0, 1, 5 };
	struct tick_plan		p;

	for (size_t i = 0; i < 3; i++) {
		struct schedule	sc = sched(SEC, NULL, NULL, policies[i]);

		schedule_plan(&sc, T0, T0 + 5500, &p);
		ck_assert_int_eq(p.missed, 5);
		ck_assert(!p.missed_more);
		ck_assert_int_eq(p.nrun_missed, runs[i]);
		ck_assert_int_eq(p.nticks, runs[i] + 1);
		for (size_t k = 0; k < runs[i]; k++)
			ck_assert_int_eq(p.ticks[k], T0 + (int64_t)(6 - runs[i] + k) * SEC);
		ck_assert_int_eq(p.ticks[p.nticks - 1], T0 + 6000);
	}
}
END_TEST

/* A day down with a one-second schedule: the latest 100, found quickly. */
START_TEST(plan_after_long_outage)
{
	struct schedule		sc = sched(SEC, NULL, NULL, MISSED_ALL);
	struct tick_plan	p;
	int64_t			now = T0 + 86400 * SEC;

	schedule_plan(&sc, T0, now, &p);
	ck_assert_int_eq(p.nrun_missed, SCHEDULE_MISSED_MAX);
	ck_assert(p.missed >= SCHEDULE_MISSED_MAX);
	ck_assert(p.missed_more);
	ck_assert_int_eq(p.ticks[0], now - 99 * SEC);
	ck_assert_int_eq(p.ticks[99], now);
	ck_assert_int_eq(p.ticks[100], now + SEC);
	/* A yearly schedule down for three years: widening reaches last. */
	sc = sched(0, "@yearly", NULL, MISSED_ONCE);
	schedule_plan(&sc, T0, T0 + INT64_C(3) * 366 * 86400 * SEC, &p);
	ck_assert_int_eq(p.missed, 3);
	ck_assert(!p.missed_more);
	ck_assert_int_eq(p.nrun_missed, 1);
}
END_TEST

/* DEFERD_TICK: the local time with the offset in force at that tick. */
START_TEST(tick_text)
{
	struct schedule	utc = sched(SEC, NULL, NULL, MISSED_SKIP);
	struct schedule	berlin = sched(0, "0 3 * * *", "Europe/Berlin", MISSED_SKIP);
	char		buf[64];

	ck_assert_str_eq(schedule_tick_text(&utc, T0, buf, sizeof(buf)),
	    "2026-12-06T19:00:00Z");
	ck_assert_str_eq(schedule_tick_text(&berlin, T0, buf, sizeof(buf)),
	    "2026-12-06T20:00:00+01:00");
	/* 2026-03-29T01:00:00Z is 03:00 CEST, the first instant after the gap. */
	ck_assert_str_eq(schedule_tick_text(&berlin, INT64_C(1774746000000), buf,
	    sizeof(buf)), "2026-03-29T03:00:00+02:00");
}
END_TEST

/* The fingerprint changes with what a pending tick carries, not with missed. */
START_TEST(fingerprints)
{
	struct schedule	a = sched(SEC, NULL, NULL, MISSED_SKIP), b = a;
	char		fa[17], fb[17];

	schedule_fingerprint(&a, "default", fa, sizeof(fa));
	b.missed = MISSED_ALL;
	schedule_fingerprint(&b, "default", fb, sizeof(fb));
	ck_assert_str_eq(fa, fb);
	b.payload = "x";
	schedule_fingerprint(&b, "default", fb, sizeof(fb));
	ck_assert_str_ne(fa, fb);
	b = a;
	b.handler = "g";
	schedule_fingerprint(&b, "default", fb, sizeof(fb));
	ck_assert_str_ne(fa, fb);
	schedule_fingerprint(&a, "mail", fb, sizeof(fb));
	ck_assert_str_ne(fa, fb);
	b = a;
	b.every_ms = 2 * SEC;
	schedule_fingerprint(&b, "default", fb, sizeof(fb));
	ck_assert_str_ne(fa, fb);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("schedule_ticks");
	TCase	*tc = tcase_create("ticks");

	tcase_add_test(tc, every_counts_from_the_epoch);
	tcase_add_test(tc, plan_ahead);
	tcase_add_test(tc, plan_after_outage);
	tcase_add_test(tc, plan_after_long_outage);
	tcase_add_test(tc, tick_text);
	tcase_add_test(tc, fingerprints);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
