/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the pools' pace (pace.c): jobs per second over the last
 * full window, a gap read as idle, entries per handler, stale ones gone.
 */
#include <check.h>

#include "pace.h"
#include "harness.h"

/* n jobs of handler answered evenly from start_ms over span_ms. */
static void
count_evenly(struct pace *p, const char *handler, int n, int64_t start_ms,
    int64_t span_ms)
{
	for (int i = 0; i < n; i++)
		pace_count(p, handler, start_ms + span_ms * i / n);
}

/* The rate is the last full window's; the window being counted is not. */
START_TEST(rate_of_the_last_full_window)
{
	struct pace	*p = pace_new();

	ck_assert_int_eq(pace_per_s(p, "po", 1000), 0);
	count_evenly(p, "po", 500, 1000, 100);	/* 500 in 100 ms */
	ck_assert_int_eq(pace_per_s(p, "po", 1099), 0);
	pace_count(p, "po", 1100);		/* closes the window */
	ck_assert_int_eq(pace_per_s(p, "po", 1100), 5000);
	count_evenly(p, "po", 19, 1101, 99);	/* 20 in the next window */
	pace_count(p, "po", 1200);
	ck_assert_int_eq(pace_per_s(p, "po", 1250), 200);
	pace_free(p);
}
END_TEST

/* A pool that answered nothing for two windows is idle, whatever it did before. */
START_TEST(a_gap_reads_as_idle)
{
	struct pace	*p = pace_new();

	count_evenly(p, "po", 300, 0, 100);
	pace_count(p, "po", 100);
	ck_assert_int_eq(pace_per_s(p, "po", 150), 3000);
	ck_assert_int_eq(pace_per_s(p, "po", 299), 3000);
	ck_assert_int_eq(pace_per_s(p, "po", 300), 0);
	/* The first job after the gap closes a window that was mostly gap. */
	pace_count(p, "po", 900);
	ck_assert_int_eq(pace_per_s(p, "po", 900), 0);
	pace_free(p);
}
END_TEST

/* Each handler has its own pace; one unused for 10 s goes when another comes. */
START_TEST(handlers_apart_and_stale_ones_dropped)
{
	struct pace	*p = pace_new();

	count_evenly(p, "a", 100, 0, 100);
	pace_count(p, "a", 100);
	count_evenly(p, "b", 10, 0, 100);
	pace_count(p, "b", 100);
	ck_assert_int_eq(pace_per_s(p, "a", 120), 1000);
	ck_assert_int_eq(pace_per_s(p, "b", 120), 100);
	ck_assert_int_eq(pace_per_s(p, "c", 120), 0);
	/* Much later a new handler comes: a and b are dropped, c counts. */
	count_evenly(p, "c", 50, 20000, 100);
	pace_count(p, "c", 20100);
	ck_assert_int_eq(pace_per_s(p, "c", 20100), 500);
	ck_assert_int_eq(pace_per_s(p, "a", 20100), 0);
	/* a starts again from nothing. */
	pace_count(p, "a", 20100);
	pace_count(p, "a", 20200);
	ck_assert_int_eq(pace_per_s(p, "a", 20200), 10);
	pace_free(p);
	pace_free(NULL);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("pace");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, rate_of_the_last_full_window);
	tcase_add_test(tc, a_gap_reads_as_idle);
	tcase_add_test(tc, handlers_apart_and_stale_ones_dropped);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
