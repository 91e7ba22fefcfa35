/* SPDX-License-Identifier: MIT */
/*
 * The dead set never drops a job silently (issue "Nothing lost, leaked or
 * flooded"): a trim by dead.max_jobs is logged with its count and reason
 * and counted in deferd_dead_trimmed_total; dead.max_jobs: 0 keeps every
 * dead job. Before, trims were silent: 90,000 jobs went without a line.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define DEATHS	12

static struct h_world	 W;
static int		 PORT;

static void
setup(void)
{
	h_world_setup(&W, NULL);
}

static void
teardown(void)
{
	h_world_teardown(&W);
}

/* Start deferd with dead.max_jobs max_jobs and /metrics on PORT. */
static void
start(struct h_daemon *d, int max_jobs)
{
	char	cfg[2048];

	PORT = h_free_port();
	snprintf(cfg, sizeof(cfg),
	    "redis: {url: \"%s\"}\n"
	    "poll_interval: 100ms\n"
	    "dead: {max_jobs: %d}\n"
	    "handlers: {dir: %s}\n"
	    "metrics: {listen: \"127.0.0.1:%d\"}\n",
	    W.r.url, max_jobs, W.hdir, PORT);
	h_write_file(W.hdir, "baddata", "#!/bin/sh\nexit 65\n", 0755);
	h_daemon_start(d, W.work, cfg);
	ck_assert(h_daemon_log_has(d, "ready", 15000));
}

/* Bury DEATHS jobs (exit 65) and wait until the dead set holds want. */
static void
bury_all(long long want)
{
	char	id[32];

	for (int i = 0; i < DEATHS; i++) {
		snprintf(id, sizeof(id), "d-%02d", i);
		h_enqueue(W.c, id, "baddata", "", 0, 0);
	}
	ck_assert_msg(H_WAIT_UNTIL(h_zcard(W.c, "delayed") == 0 &&
	    h_zcard(W.c, "active") == 0 && h_zcard(W.c, "dead") == want,
	    30000 * SLOW), "dead set holds %lld, not %lld", h_zcard(W.c, "dead"),
	    want);
}

/* The value of deferd_dead_trimmed_total for reason max_jobs (0 if none). */
static long long
trimmed_metric(void)
{
	static const char series[] =
	    "deferd_dead_trimmed_total{queue=\"default\",reason=\"max_jobs\"} ";
	char		*body = NULL, *p;
	long long	 v = 0;

	if (h_http(PORT, "GET", "/metrics", &body) == 200 && body != NULL &&
	    (p = strstr(body, series)) != NULL)
		v = strtoll(p + strlen(series), NULL, 10);
	free(body);
	return (v);
}

/* Twelve deaths, dead.max_jobs 5: seven trimmed, and each is accounted for. */
START_TEST(trims_are_logged_and_counted)
{
	struct h_daemon	d;

	start(&d, 5);
	bury_all(5);
	ck_assert_msg(H_WAIT_UNTIL(trimmed_metric() == DEATHS - 5, 15000),
	    "deferd_dead_trimmed_total is %lld", trimmed_metric());
	ck_assert(h_daemon_log_has(&d, "dead set over dead.max_jobs (5)", 15000));
	/* The oldest went: the last five to die are the ones kept. */
	ck_assert_int_eq(h_job_exists(W.c, "deferd:{default}:job:d-00"), 0);
	h_daemon_stop(&d);
}
END_TEST

/* dead.max_jobs: 0 is no cap: every dead job stays. */
START_TEST(max_jobs_0_keeps_every_dead_job)
{
	struct h_daemon	d;

	start(&d, 0);
	bury_all(DEATHS);
	ck_assert_int_eq(trimmed_metric(), 0);
	ck_assert_int_eq(h_log_count(&d, "dead set over"), 0);
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("deadset");
	TCase	*tc = tcase_create("trim");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, trims_are_logged_and_counted);
	tcase_add_test(tc, max_jobs_0_keeps_every_dead_job);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
