/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of the finished-job history (results.history): real
 * deferd processes and handler scripts against a private redis-server;
 * deferctl show and list read what the daemon recorded after the jobs
 * themselves are gone.
 */
#include <sys/wait.h>

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "history.h"

#define Q	"deferd:{default}:"

static struct h_world	 W;
static char		 outbuf[1 << 16];

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

/* A config for the test Redis; extra YAML is appended at the top level. */
static const char *
config_text(const char *extra)
{
	static char	buf[4096];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "concurrency: 8\n"
	    "retry: {max_attempts: 3, backoff: 100ms, backoff_max: 200ms}\n"
	    "%s"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 10s\n"
	    "  kill_grace: 200ms\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "  overrides: {hang: {timeout: 1s, max_attempts: 1}}\n",
	    W.r.url, extra ? extra : "", W.hdir, W.out);
	return (buf);
}

/*
 * Run deferctl -c CONFIG with up to four more arguments (NULL ends them);
 * stdout in outbuf. Returns the exit status.
 */
static int
ctl(const struct h_daemon *d, const char *a, const char *b, const char *c,
    const char *e)
{
	const char	*argv[] = { h_bin("deferctl"), "-c", d->config, a, b, c,
			    e, NULL };
	int		 status = h_run(argv, NULL, outbuf, sizeof(outbuf));

	return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Whether deferctl show ID prints a line "NAME VALUE..." (name padded). */
static bool
show_has(const struct h_daemon *d, const char *id, const char *name,
    const char *value)
{
	char	line[256];

	ck_assert_int_eq(ctl(d, "show", id, NULL, NULL), 0);
	snprintf(line, sizeof(line), "\n%-12s %s", name, value);
	return (strstr(outbuf, line) != NULL);
}

/* The first word of each line of outbuf, joined by spaces. */
static const char *
first_words(void)
{
	static char	 words[1024];
	size_t		 n = 0, w;
	const char	*p = outbuf;

	words[0] = '\0';
	while (*p != '\0' && n + 2 < sizeof(words)) {
		w = strcspn(p, " \n");
		if (w > sizeof(words) - n - 2)
			w = sizeof(words) - n - 2;
		n += (size_t)snprintf(words + n, sizeof(words) - n, "%s%.*s",
		    n > 0 ? " " : "", (int)w, p);
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return (words);
}

/*
 * Jobs that end done (at once, or after a retry), dead (exit 65), timed
 * out (killed by a signal) and cancelled with --kill each leave a record
 * that show prints after the job is gone; list done and list failed give
 * them newest first. An ID run again moves from failed to done.
 */
START_TEST(finished_jobs_leave_a_record)
{
	struct h_daemon	 d;
	char		 pidtext[32];

	h_write_file(W.hdir, "ok", "#!/bin/sh\necho fine\n", 0755);
	h_write_file(W.hdir, "flaky", "#!/bin/sh\n"
	    "if [ \"$DEFERD_ATTEMPT\" = 1 ]; then echo first >&2; exit 1; fi\n"
	    "echo second\n", 0755);
	h_write_file(W.hdir, "bad", "#!/bin/sh\nexit 65\n", 0755);
	h_write_file(W.hdir, "hang", "#!/bin/sh\nexec sleep 60\n", 0755);
	h_write_file(W.hdir, "slow", "#!/bin/sh\necho $$ > \"$OUT/pid\"\n"
	    "exec sleep 60\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));

	h_enqueue(W.c, "ok-1", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD " Q "done") == 1, 10000));
	h_enqueue(W.c, "flaky-1", "flaky", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD " Q "done") == 2,
	    10000 * SLOW));
	h_enqueue(W.c, "bad-1", "bad", "", 0, 0);
	h_enqueue(W.c, "hang-1", "hang", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD " Q "failed") == 2,
	    10000 * SLOW));
	h_enqueue(W.c, "slow-1", "slow", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(h_world_out(&W, "pid")) == 1,
	    10000));
	ck_assert_int_eq(ctl(&d, "cancel", "--kill", "slow-1", NULL), 0);
	ck_assert_msg(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD " Q "failed") == 3,
	    10000 * SLOW), "%lld failed records",
	    h_cmd_int(W.c, "ZCARD " Q "failed"));

	/* Done: gone from Redis but for the result and the record. */
	ck_assert_int_eq(h_job_exists(W.c, Q "job:ok-1"), 0);
	ck_assert(show_has(&d, "ok-1", "state", "finished"));
	ck_assert(show_has(&d, "ok-1", "status", "done"));
	ck_assert(show_has(&d, "ok-1", "handler", "ok"));
	ck_assert(show_has(&d, "ok-1", "attempts", "1"));
	ck_assert(show_has(&d, "ok-1", "exit", "0"));
	ck_assert(strstr(outbuf, "\nenqueued_ms ") != NULL);
	ck_assert(strstr(outbuf, "\nstarted_ms ") != NULL);
	ck_assert(strstr(outbuf, "\nfinished_ms ") != NULL);
	ck_assert(strstr(outbuf, "\nduration_ms ") != NULL);
	ck_assert(strstr(outbuf, "\nerror ") == NULL);
	snprintf(pidtext, sizeof(pidtext), ":%ld\n", (long)d.pid);
	ck_assert_msg(strstr(outbuf, pidtext) != NULL, "no daemon %s in: %s",
	    pidtext, outbuf);
	ck_assert(show_has(&d, "flaky-1", "attempts", "2"));
	ck_assert(show_has(&d, "flaky-1", "status", "done"));

	/* Failed: dead with its exit status, killed by the timeout, cancelled. */
	ck_assert(show_has(&d, "bad-1", "state", "dead"));
	ck_assert(show_has(&d, "bad-1", "status", "dead"));
	ck_assert(show_has(&d, "bad-1", "exit", "65"));
	ck_assert_msg(strstr(outbuf, "\nerror        exit status 65\n") != NULL,
	    "%s", outbuf);
	ck_assert(show_has(&d, "hang-1", "signal", "15"));
	ck_assert(show_has(&d, "hang-1", "timed_out", "true"));
	ck_assert(show_has(&d, "hang-1", "status", "dead"));
	ck_assert(show_has(&d, "slow-1", "state", "finished"));
	ck_assert(show_has(&d, "slow-1", "status", "cancelled"));

	ck_assert_int_eq(ctl(&d, "list", "done", NULL, NULL), 0);
	ck_assert_str_eq(first_words(), "flaky-1 ok-1");
	ck_assert(strstr(outbuf, " flaky 2 done ") != NULL);
	ck_assert_int_eq(ctl(&d, "list", "--limit", "1", "done"), 0);
	ck_assert_str_eq(first_words(), "flaky-1");
	ck_assert_int_eq(ctl(&d, "list", "failed", NULL, NULL), 0);
	ck_assert_str_eq(first_words(), "slow-1 hang-1 bad-1");
	ck_assert_msg(strstr(outbuf, " bad 1 dead ") != NULL &&
	    strstr(outbuf, "ms exit status 65\n") != NULL, "%s", outbuf);
	ck_assert_int_eq(ctl(&d, "--json", "list", "failed", NULL), 0);
	ck_assert_msg(h_json_ok(outbuf), "%s", outbuf);
	ck_assert(strstr(outbuf, "\"status\":\"cancelled\"") != NULL);
	ck_assert(strstr(outbuf, "\"exit\":65") != NULL);
	ck_assert_int_eq(ctl(&d, "--json", "show", "hang-1", NULL), 0);
	ck_assert_msg(h_json_ok(outbuf), "%s", outbuf);
	ck_assert(strstr(outbuf, "\"last_run\":{\"status\":\"dead\"") != NULL);
	ck_assert(strstr(outbuf, "\"timed_out\":true") != NULL);

	/* The same ID run again: its latest record only, in done. */
	ck_assert_int_eq(ctl(&d, "purge", "bad-1", NULL, NULL), 0);
	h_enqueue(W.c, "bad-1", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD " Q "done") == 3, 10000));
	ck_assert_int_eq(h_cmd_int(W.c, "ZCARD " Q "failed"), 2);
	ck_assert(show_has(&d, "bad-1", "status", "done"));
	ck_assert_int_eq(h_cmd_int(W.c, "HLEN " Q "history"), 5);
	h_daemon_stop(&d);
}
END_TEST

/*
 * results.history bounds each list by count, and results.ttl by age, as
 * jobs finish; results.history: 0 keeps no record at all.
 */
START_TEST(history_is_trimmed_by_count_and_age)
{
	struct h_daemon	 d;
	char		 id[16];
	int64_t		 last;

	h_write_file(W.hdir, "ok", "#!/bin/sh\necho fine\n", 0755);
	h_daemon_start(&d, W.work, config_text("results: {ttl: 2s, "
	    "history: 3}\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (int i = 1; i <= 5; i++) {
		snprintf(id, sizeof(id), "n%d", i);
		h_enqueue(W.c, id, "ok", "", 0, 0);
		ck_assert(H_WAIT_UNTIL(h_job_exists(W.c, Q "job:%s",
		    id) == 0, 10000));
	}
	ck_assert_int_eq(h_cmd_int(W.c, "ZCARD " Q "done"), 3);
	ck_assert_int_eq(h_cmd_int(W.c, "HLEN " Q "history"), 3);
	ck_assert_int_eq(ctl(&d, "list", "done", NULL, NULL), 0);
	ck_assert_str_eq(first_words(), "n5 n4 n3");
	last = (int64_t)h_cmd_int(W.c, "ZSCORE " Q "done n5");

	/* Past the age limit (Redis time), the next finish drops the rest. */
	ck_assert(H_WAIT_UNTIL(h_redis_now_ms(W.c) > last + 2000, 10000));
	h_enqueue(W.c, "n6", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_job_exists(W.c, Q "job:n6") == 0,
	    10000));
	ck_assert_int_eq(h_cmd_int(W.c, "ZCARD " Q "done"), 1);
	ck_assert_int_eq(h_cmd_int(W.c, "HLEN " Q "history"), 1);
	h_daemon_stop(&d);

	h_daemon_start(&d, W.work, config_text("results: {history: 0}\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	h_enqueue(W.c, "n7", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS " Q "result:n7") == 1,
	    10000));
	ck_assert_int_eq(h_cmd_int(W.c, "ZSCORE " Q "done n7"), -1);
	ck_assert_int_eq(h_cmd_int(W.c, "HEXISTS " Q "history n7"), 0);
	h_daemon_stop(&d);
}
END_TEST

/*
 * The record the daemon writes: the fields it knows, none it does not,
 * and always valid JSON whatever the error text holds.
 */
START_TEST(record_is_json_with_the_known_fields)
{
	struct history_run	 r;
	char			*rec;

	memset(&r, 0, sizeof(r));
	r.status = "dead";
	r.handler = "bill";
	r.attempt = 3;
	r.enqueued_ms = 1000;
	r.started_ms = 2000;
	r.duration_ms = 15;
	r.finished_ms = 2016;
	r.exit_code = -1;
	r.term_signal = 9;
	r.timed_out = true;
	r.error = "quote \" newline \n bad \xff";
	r.daemon = "host:42";
	rec = history_record(&r);
	ck_assert_msg(h_json_ok(rec), "%s", rec);
	ck_assert_str_eq(rec, "{\"status\":\"dead\",\"handler\":\"bill\","
	    "\"attempts\":3,\"enqueued_ms\":1000,\"started_ms\":2000,"
	    "\"duration_ms\":15,\"signal\":9,\"timed_out\":true,"
	    "\"error\":\"quote \\\" newline \\u000a bad \xef\xbf\xbd\","
	    "\"daemon\":\"host:42\",\"finished_ms\":2016}");
	free(rec);

	memset(&r, 0, sizeof(r));
	r.status = "cancelled";
	r.handler = "h";
	r.attempt = 1;
	r.duration_ms = -1;
	r.exit_code = -1;
	r.daemon = "d:1";
	rec = history_record(&r);
	ck_assert_str_eq(rec, "{\"status\":\"cancelled\",\"handler\":\"h\","
	    "\"attempts\":1,\"daemon\":\"d:1\"}");
	free(rec);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("history");
	TCase	*tc = tcase_create("history");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, finished_jobs_leave_a_record);
	tcase_add_test(tc, history_is_trimmed_by_count_and_age);
	suite_add_tcase(s, tc);
	tc = tcase_create("record");
	tcase_add_test(tc, record_is_json_with_the_known_fields);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
