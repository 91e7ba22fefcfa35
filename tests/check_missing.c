/* SPDX-License-Identifier: MIT */
/*
 * Missing handlers (issue "Nothing lost, leaked or flooded"): a job whose
 * handler is not on this host goes back to delayed without spending an
 * attempt (handlers.missing: wait, the default), the log says so once a
 * minute per handler, and installing the handler runs every job once.
 * Before, 100,000 jobs for a mistyped handler were dead a minute later and
 * dead.max_jobs trimmed 90,000 of them away.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define JOBS		100

static struct h_world	 W;

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

/*
 * Whether any of the JOBS jobs was buried or spent an attempt: attempts
 * above 0 while not claimed (read in one script, so a claim or a refund
 * between the two reads cannot fool it).
 */
static bool
any_lost_or_charged(void)
{
	static const char charged[] =
	    "for i = 0, tonumber(ARGV[1]) - 1 do "
	    "local id = 'w-' .. i "
	    "local b = redis.call('HGET', 'deferd:{default}:jobs', id) "
	    "local a = b and string.match(b, '^J1 (%d+) ') or "
	    "redis.call('HGET', 'deferd:{default}:job:' .. id, 'attempts') "
	    "if a and tonumber(a) > 0 and not redis.call('ZSCORE', "
	    "'deferd:{default}:active', id) then return 1 end "
	    "end return 0";

	return (h_zcard(W.c, "dead") > 0 ||
	    h_cmd_int(W.c, "EVAL %s 0 %d", charged, JOBS) != 0);
}

/* Whether "deferctl -c CONFIG ARGS" (a shell line) prints text. */
static bool
ctl_says(const struct h_daemon *d, const char *args, const char *text)
{
	const char	*argv[4];
	char		 line[1024], out[8192];

	snprintf(line, sizeof(line), "%s -c %s %s", h_bin("deferctl"),
	    d->config, args);
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = line;
	argv[3] = NULL;
	h_run(argv, NULL, out, sizeof(out));
	return (strstr(out, text) != NULL);
}

/* How many of the JOBS jobs still exist (hash present). */
static int
jobs_left(void)
{
	int	n = 0;

	for (int i = 0; i < JOBS; i++)
		n += (int)h_job_exists(W.c, "deferd:{default}:job:w-%d", i);
	return (n);
}

/*
 * 100 jobs for a handler that is not installed, dead.max_jobs 10: ten
 * seconds later all 100 still exist, none has spent an attempt, and the
 * log has at most 5 lines about the handler; once it is installed, each
 * job runs exactly once, on its first attempt.
 */
START_TEST(missing_handler_loses_nothing)
{
	struct h_daemon	d;
	char		cfg[2048], id[32], *runs;

	snprintf(cfg, sizeof(cfg),
	    "redis: {url: \"%s\"}\n"
	    "poll_interval: 100ms\n"
	    "dead: {max_jobs: 10}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  missing_retry: 1s\n"
	    "  environment: {OUT: \"%s\"}\n",
	    W.r.url, W.hdir, W.out);
	h_daemon_start(&d, W.work, cfg);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (int i = 0; i < JOBS; i++) {
		snprintf(id, sizeof(id), "w-%d", i);
		h_enqueue(W.c, id, "warm-cache", "", 0, 0);
	}
	ck_assert(h_daemon_log_has(&d, "handler warm-cache: handler "
	    "'warm-cache' not found", 15000));
	ck_assert_msg(!H_WAIT_UNTIL(any_lost_or_charged(), 10000),
	    "a job of the missing handler was buried or charged an attempt");
	ck_assert_int_eq(jobs_left(), JOBS);
	ck_assert_int_le(h_log_count(&d, "warm-cache"), 5);
	ck_assert_msg(H_WAIT_UNTIL(ctl_says(&d, "stats", "missing handlers "
	    "(their jobs wait): warm-cache"), 15000), "deferctl stats does not "
	    "list warm-cache as missing");
	/* deferctl warns of a typo when it can see handlers.dir. */
	ck_assert(ctl_says(&d, "enqueue --in 1h warm-cach x 2>&1", "handler "
	    "'warm-cach' not found"));

	h_write_file(W.hdir, "warm-cache", "#!/bin/sh\n"
	    "echo \"$DEFERD_JOB_ID $DEFERD_ATTEMPT\" >> \"$OUT/runs\"\n", 0755);
	ck_assert_msg(H_WAIT_UNTIL(jobs_left() == 0, 30000 * SLOW),
	    "%d jobs left after the handler was installed", jobs_left());
	ck_assert_int_eq(h_count_lines(h_world_out(&W, "runs")), JOBS);
	runs = h_read_file(h_world_out(&W, "runs"));
	for (int i = 0; i < JOBS; i++) {
		snprintf(id, sizeof(id), "w-%d 1\n", i);
		ck_assert_msg(strstr(runs, id) != NULL, "no first-attempt run: %s",
		    id);
	}
	free(runs);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert(h_log_count(&d, "handler warm-cache: found again") == 1);
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("missing");
	TCase	*tc = tcase_create("handlers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, missing_handler_loses_nothing);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
