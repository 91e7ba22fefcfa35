/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of deferd: a private redis-server, real deferd processes
 * and real handler scripts that record what they saw in an output directory.
 * Every wait polls a condition with a deadline; the deadlines are generous
 * because the tests must pass on a busy 2-core machine.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proxy.h"

static struct h_world	 W;	/* Redis, client, handlers/out/work dirs */
static const char *const AOF[] = { "--appendonly", "yes", "--appendfsync", "always", NULL };

static void
setup(void)
{
	h_world_setup(&W, NULL);
}

/* Redis with an AOF, for the restart test. */
static void
setup_aof(void)
{
	h_world_setup(&W, AOF);
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
	static char	buf[8192];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "concurrency: 8\n"
	    "retry: {max_attempts: 3, backoff: 100ms, backoff_max: 2s}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 10s\n"
	    "  kill_grace: 500ms\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "%s",
	    W.r.url, W.hdir, W.out, extra ? extra : "");
	return (buf);
}

/* Enqueue into the default queue (max_attempts from the config). */
static void
enqueue(const char *id, const char *handler, const char *payload, size_t len,
    int64_t delay_ms)
{
	h_enqueue(W.c, id, handler, payload, len, delay_ms);
}

/* Path of a file in OUT. */
static const char *
out(const char *name)
{
	return (h_world_out(&W, name));
}

START_TEST(runs_once_when_due_with_payload_and_env)
{
	struct h_daemon	d;
	char		buf[4096], *env, *stdin_copy;
	int64_t		enq, start;
	static const char payload[] = "hello\0world 'quoted'; $(rm -rf x)";

	h_write_file(W.hdir, "record",
	    "#!/bin/sh\n"
	    "date +%s%3N >> \"$OUT/starts\"\n"
	    "cat > \"$OUT/stdin\"\n"
	    "env | sort > \"$OUT/env\"\n"
	    "echo \"result of $DEFERD_JOB_ID\"\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	enq = h_redis_now_ms(W.c);
	enqueue("job-1", "record", payload, sizeof(payload) - 1, 1000);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:{default}:result:job-1") == 1, 15000));
	ck_assert_int_eq(h_count_lines(out("starts")), 1);
	env = h_read_file(out("starts"));
	start = strtoll(env, NULL, 10);
	free(env);
	ck_assert_msg(start >= enq + 1000, "started %" PRId64 "ms early",
	    enq + 1000 - start);
	stdin_copy = h_read_file(out("stdin"));
	ck_assert_ptr_nonnull(stdin_copy);
	ck_assert_mem_eq(stdin_copy, payload, sizeof(payload) - 1);
	free(stdin_copy);
	env = h_read_file(out("env"));
	ck_assert_ptr_nonnull(env);
	ck_assert(strstr(env, "DEFERD_JOB_ID=job-1\n") != NULL);
	ck_assert(strstr(env, "DEFERD_QUEUE=default\n") != NULL);
	ck_assert(strstr(env, "DEFERD_HANDLER=record\n") != NULL);
	ck_assert(strstr(env, "DEFERD_ATTEMPT=1\n") != NULL);
	ck_assert(strstr(env, "DEFERD_MAX_ATTEMPTS=3\n") != NULL);
	ck_assert(strstr(env, "DEFERD_SOURCE=delayed\n") != NULL);
	ck_assert(strstr(env, "DEFERD_CONFIG=") != NULL);
	ck_assert(strstr(env, "PATH=") != NULL);
	ck_assert(strstr(env, "DEFERD_RESOURCE") == NULL);
	ck_assert(strstr(env, "NOTIFY_SOCKET") == NULL);
	free(env);
	h_cmd_str(W.c, buf, sizeof(buf), "GET deferd:{default}:result:job-1");
	ck_assert_str_eq(buf, "result of job-1\n");
	ck_assert_int_gt(h_cmd_int(W.c, "PTTL deferd:{default}:result:job-1"), 0);
	ck_assert_int_eq(h_job_exists(W.c, "deferd:{default}:job:job-1"), 0);
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(retries_with_growing_delay_then_dead)
{
	struct h_daemon	d;
	char		buf[1024], *starts, *p;
	int64_t		t[3];

	h_write_file(W.hdir, "tempfail",
	    "#!/bin/sh\ndate +%s%3N >> \"$OUT/starts\"\necho failing >&2\nexit 75\n",
	    0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	enqueue("r1", "tempfail", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 1, 20000));
	ck_assert_int_eq(h_count_lines(out("starts")), 3);
	starts = h_read_file(out("starts"));
	p = starts;
	for (int i = 0; i < 3; i++)
		t[i] = strtoll(p, &p, 10);
	free(starts);
	/* backoff 100ms: delays are in [50,100] then [100,200] ms. */
	ck_assert_int_ge(t[1] - t[0], 50);
	ck_assert_int_ge(t[2] - t[1], 100);
	ck_assert_int_eq(h_job_int(W.c, "deferd:{default}:job:r1 attempts"), 3);
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:r1 last_error");
	ck_assert_msg(strstr(buf, "exit status 75") != NULL, "last_error: %s", buf);
	ck_assert(h_daemon_log_has(&d, "job r1 (tempfail): stderr: failing", 5000) ||
	    h_daemon_log_has(&d, "failing", 1000));
	h_daemon_stop(&d);
}
END_TEST

START_TEST(exit_65_is_dead_at_once)
{
	struct h_daemon	d;
	char		buf[1024];

	h_write_file(W.hdir, "baddata", "#!/bin/sh\nexit 65\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	enqueue("d1", "baddata", "x", 1, 0);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 1, 15000));
	ck_assert_int_eq(h_job_int(W.c, "deferd:{default}:job:d1 attempts"), 1);
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:d1 last_error");
	ck_assert_msg(strstr(buf, "65") != NULL, "last_error: %s", buf);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(timeout_kills_the_whole_tree_and_retries)
{
	struct h_daemon	d;
	char		buf[1024], *pids, *p;

	h_write_file(W.hdir, "hang",
	    "#!/bin/sh\nsleep 1000 &\necho $! >> \"$OUT/pids\"\necho $$ >> \"$OUT/pids\"\n"
	    "sleep 1000\n", 0755);
	h_daemon_start(&d, W.work, config_text(
	    "  overrides: {hang: {timeout: 300ms, max_attempts: 2}}\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	enqueue("t1", "hang", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 1, 20000));
	ck_assert_int_eq(h_job_int(W.c, "deferd:{default}:job:t1 attempts"), 2);
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:t1 last_error");
	ck_assert_msg(strstr(buf, "timed out") != NULL, "last_error: %s", buf);
	pids = h_read_file(out("pids"));
	ck_assert_ptr_nonnull(pids);
	p = pids;
	for (int i = 0; i < 4; i++) {
		pid_t pid = (pid_t)strtol(p, &p, 10);

		ck_assert_int_gt(pid, 0);
		ck_assert_msg(H_WAIT_UNTIL(h_pid_gone(pid), 5000),
		    "process %d of the handler's tree survived", (int)pid);
	}
	free(pids);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(unsafe_or_missing_handlers_are_dead_and_daemon_goes_on)
{
	static const struct { const char *id, *handler, *why; } cases[] = {
		{ "m1", "missing", "not found" },
		{ "m2", "noexec", "not executable" },
		{ "m3", "worldw", "writable" },
		{ "m4", "../record", "invalid handler name" },
	};
	struct h_daemon	d;
	char		buf[1024];

	h_write_file(W.hdir, "noexec", "#!/bin/sh\nexit 0\n", 0644);
	h_write_file(W.hdir, "worldw", "#!/bin/sh\nexit 0\n", 0757);
	h_write_file(W.hdir, "ok", "#!/bin/sh\necho ran >> \"$OUT/ok\"\n", 0755);
	h_daemon_start(&d, W.work, config_text("  missing: bury\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		enqueue(cases[i].id, cases[i].handler, "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 4, 15000));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:%s last_error",
		    cases[i].id);
		ck_assert_msg(strstr(buf, cases[i].why) != NULL,
		    "%s: last_error '%s' lacks '%s'", cases[i].id, buf, cases[i].why);
		ck_assert_int_eq(h_job_int(W.c, "deferd:{default}:job:%s attempts",
		    cases[i].id), 1);
	}
	enqueue("fine", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ok")) == 1, 15000));
	ck_assert_int_gt(d.pid, 0);
	ck_assert_int_eq(kill(d.pid, 0), 0);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(bad_data_in_redis_is_buried_with_a_reason)
{
	struct h_daemon	d;
	char		buf[1024];
	int64_t		now;

	h_write_file(W.hdir, "ok", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ok\"\n", 0755);
	h_daemon_start(&d, W.work, config_text("  max_payload: 1KiB\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	now = h_redis_now_ms(W.c);
	h_cmd_int(W.c, "HSET deferd:{default}:job:nohandler payload x");
	h_cmd_int(W.c, "HSET deferd:{default}:job:nonnum handler ok max_attempts abc");
	{
		char *big = malloc(4096);

		memset(big, 'x', 4096);
		h_cmd_int(W.c, "HSET deferd:{default}:job:huge handler ok payload %b", big,
		    (size_t)4096);
		free(big);
	}
	/* "ok\0x": a C string would be "ok" and run it; it is refused. */
	h_cmd_int(W.c, "HSET deferd:{default}:job:nulname handler %b", "ok\0x",
	    (size_t)4);
	/* An ID outside the rules, and a due time that never comes. */
	h_cmd_int(W.c, "HSET deferd:{default}:job:bad/id handler ok");
	h_cmd_int(W.c, "HSET deferd:{default}:job:never handler ok");
	h_cmd_int(W.c, "ZADD deferd:{default}:delayed %lld nohandler %lld nonnum "
	    "%lld huge %lld orphan %lld nulname %lld bad/id +inf never",
	    (long long)now, (long long)now, (long long)now, (long long)now,
	    (long long)now, (long long)now);
	enqueue("good", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 7, 15000));
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ok")) == 1, 15000));
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:nohandler last_error");
	ck_assert_msg(strstr(buf, "handler") != NULL, "%s", buf);
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:nonnum last_error");
	ck_assert_msg(strstr(buf, "max_attempts") != NULL, "%s", buf);
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:huge last_error");
	ck_assert_msg(strstr(buf, "max_payload") != NULL, "%s", buf);
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:orphan last_error");
	ck_assert_msg(strstr(buf, "missing") != NULL, "%s", buf);
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:nulname last_error");
	ck_assert_msg(strstr(buf, "invalid handler name") != NULL, "%s", buf);
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:bad/id last_error");
	ck_assert_msg(strstr(buf, "ID rules") != NULL, "%s", buf);
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:never last_error");
	ck_assert_msg(strstr(buf, "+inf") != NULL, "%s", buf);
	ck_assert_int_eq(h_count_lines(out("ok")), 1);	/* only "good" ran */
	ck_assert(h_daemon_log_has(&d, "buried", 5000));
	ck_assert_int_eq(kill(d.pid, 0), 0);
	h_daemon_stop(&d);
}
END_TEST

/* Count lines and distinct lines of a log of job IDs. */
static void
count_ids(const char *path, int *total, int *distinct)
{
	char	cmd[700], buf[64];

	*total = h_count_lines(path);
	snprintf(cmd, sizeof(cmd), "sort -u '%s' | wc -l", path);
	{
		FILE *p = popen(cmd, "r");

		ck_assert_ptr_nonnull(p);
		ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), p));
		pclose(p);
	}
	*distinct = atoi(buf);
}

START_TEST(two_daemons_run_2000_jobs_exactly_once)
{
	struct h_daemon	a, b;
	int		total, distinct;
	char		id[32];

	h_write_file(W.hdir, "count", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ids\"\n", 0755);
	/* At debug level: each success is logged ("done in"). */
	h_daemon_start(&a, W.work, config_text("log: {level: debug}\n"));
	h_daemon_start(&b, W.work, config_text("log: {level: debug}\n"));
	ck_assert(h_daemon_log_has(&a, "ready", 15000));
	ck_assert(h_daemon_log_has(&b, "ready", 15000));
	/* Hold them back a moment so both daemons see all 2000 due at once. */
	for (int i = 0; i < 2000; i++) {
		snprintf(id, sizeof(id), "j%04d", i);
		enqueue(id, "count", "", 0, 1500);
	}
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ids")) >= 2000 &&
	    h_zcard(W.c, "active") == 0, 120000));
	count_ids(out("ids"), &total, &distinct);
	ck_assert_int_eq(distinct, 2000);
	ck_assert_int_eq(total, 2000);
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert(h_daemon_log_has(&a, "): done in", 1000));
	ck_assert(h_daemon_log_has(&b, "): done in", 1000));
	h_daemon_stop(&a);
	h_daemon_stop(&b);
}
END_TEST

START_TEST(kill_9_job_runs_again_on_the_other_daemon)
{
	struct h_daemon	a, b;
	char		*attempts, *p;

	h_write_file(W.hdir, "slow",
	    "#!/bin/sh\necho \"$DEFERD_ATTEMPT $$\" >> \"$OUT/runs\"\n"
	    "[ \"$DEFERD_ATTEMPT\" = 1 ] && exec sleep 1000\nexit 0\n", 0755);
	h_daemon_start(&a, W.work, config_text("lease: 1s\n"));
	ck_assert(h_daemon_log_has(&a, "ready", 15000));
	enqueue("k1", "slow", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("runs")) == 1, 15000));
	h_daemon_signal(&a, SIGKILL, true);
	h_daemon_start(&b, W.work, config_text("lease: 1s\n"));
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("runs")) == 2, 30000));
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0 && h_zcard(W.c, "delayed") == 0, 15000));
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	attempts = h_read_file(out("runs"));
	ck_assert_int_eq(atoi(attempts), 1);
	p = strchr(attempts, ' ');
	kill((pid_t)atoi(p + 1), SIGKILL);	/* the orphan of the killed daemon */
	p = strchr(attempts, '\n');
	ck_assert_int_eq(atoi(p + 1), 2);
	free(attempts);
	ck_assert(h_daemon_log_has(&b, "lease expired", 5000) ||
	    h_daemon_log_has(&b, "requeued", 1000));
	h_daemon_stop(&b);
}
END_TEST

START_TEST(redis_restart_reconnects_and_finishes_every_job)
{
	struct h_daemon	d;
	char		id[32];

	h_write_file(W.hdir, "count", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ids\"\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "before%02d", i);
		enqueue(id, "count", "", 0, 1500);
	}
	redisFree(W.c);
	h_redis_restart(&W.r);
	W.c = h_redis_connect(&W.r);
	/*
	 * The AOF kept them all. deferd may have reconnected and begun: read
	 * in the order jobs move (delayed, active, ran), so none is missed; a
	 * job can be counted twice while it moves, hence >=.
	 */
	ck_assert_int_ge(h_zcard(W.c, "delayed") + h_zcard(W.c, "active") +
	    h_count_lines(out("ids")), 20);
	ck_assert(h_daemon_log_has(&d, "again after", 30000));
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "after%02d", i);
		enqueue(id, "count", "", 0, 0);
	}
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ids")) >= 25, 30000));
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 10000));
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert_int_eq(kill(d.pid, 0), 0);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(sigterm_drains_then_requeues_without_spending_an_attempt)
{
	struct h_daemon	d;
	int		status;

	h_write_file(W.hdir, "quick", "#!/bin/sh\necho started >> \"$OUT/q\"\n"
	    "while [ ! -e \"$OUT/go\" ]; do sleep 0.05; done\necho done >> \"$OUT/q\"\n", 0755);
	h_write_file(W.hdir, "stuck", "#!/bin/sh\necho started >> \"$OUT/s\"\nexec sleep 1000\n", 0755);
	h_daemon_start(&d, W.work, config_text("shutdown_timeout: 2s\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	enqueue("q1", "quick", "", 0, 0);
	enqueue("s1", "stuck", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("q")) == 1 &&
	    h_count_lines(out("s")) == 1, 15000));
	kill(d.pid, SIGTERM);
	ck_assert(h_daemon_log_has(&d, "draining", 10000));
	h_write_file(W.out, "go", "", 0644);
	status = h_daemon_signal(&d, 0, true);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(h_count_lines(out("q")), 2);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:{default}:result:q1"), 1);
	ck_assert_int_eq(h_cmd_int(W.c, "ZSCORE deferd:{default}:delayed s1") > 0, 1);
	ck_assert_int_eq(h_job_int(W.c, "deferd:{default}:job:s1 attempts"), 0);
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
}
END_TEST

START_TEST(sighup_with_a_bad_file_keeps_the_old_config)
{
	struct h_daemon	d;
	FILE		*f;

	h_write_file(W.hdir, "ok", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ok\"\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	f = fopen(d.config, "a");
	ck_assert_ptr_nonnull(f);
	fputs("concurency: 3\n", f);
	fclose(f);
	kill(d.pid, SIGHUP);
	ck_assert(h_daemon_log_has(&d, "reload failed", 10000));
	ck_assert(h_daemon_log_has(&d, "did you mean 'concurrency'", 1000));
	enqueue("after-hup", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ok")) == 1, 15000));
	h_daemon_stop(&d);
}
END_TEST

START_TEST(max_concurrency_override_limits_one_handler)
{
	struct h_daemon	d;
	char		id[16], *log;
	int		cur = 0, max = 0;

	h_write_file(W.hdir, "lim",
	    "#!/bin/sh\necho + >> \"$OUT/trace\"\nsleep 0.2\necho - >> \"$OUT/trace\"\n", 0755);
	h_daemon_start(&d, W.work, config_text(
	    "  overrides: {lim: {max_concurrency: 2}}\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "l%d", i);
		enqueue(id, "lim", "", 0, 0);
	}
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("trace")) == 16, 30000));
	log = h_read_file(out("trace"));
	for (char *p = log; *p; p++) {
		if (*p == '+' && ++cur > max)
			max = cur;
		else if (*p == '-')
			cur--;
	}
	free(log);
	ck_assert_int_le(max, 2);
	ck_assert_int_ge(max, 1);
	h_daemon_stop(&d);
}
END_TEST

/*
 * A job falls due in an empty queue while another queue's job holds the
 * only slot: the due claim finds no room, and the job must run when the
 * slot frees, not at the next poll (poll_interval is a minute here).
 */
START_TEST(a_job_due_while_the_slots_are_full_runs_when_one_frees)
{
	struct h_daemon	 d;
	char		 outbuf[256], cfg[8192];
	const char	*argv[] = { h_bin("deferctl"), "-c", NULL, "enqueue",
			    "--queue", "other", "hog", "x", NULL };
	int		 status;
	int64_t		 enqueued;

	h_write_file(W.hdir, "hog", "#!/bin/sh\ntouch \"$OUT/hog-started\"\n"
	    "sleep 2\n", 0755);
	h_write_file(W.hdir, "late", "#!/bin/sh\necho late >> \"$OUT/late\"\n",
	    0755);
	snprintf(cfg, sizeof(cfg), "%s", config_text(
	    "poll_interval: 60s\nqueues: [default, other]\n"));
	memcpy(strstr(cfg, "concurrency: 8"), "concurrency: 1", 14);
	h_daemon_start(&d, W.work, cfg);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	argv[2] = d.config;
	status = h_run(argv, NULL, outbuf, sizeof(outbuf));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", outbuf);
	ck_assert(H_WAIT_UNTIL(access(out("hog-started"), F_OK) == 0, 10000));
	enqueued = h_mono_ms();
	enqueue("late-1", "late", "", 0, 500);
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(out("late")) == 1, 15000),
	    "the job did not run when the slot freed");
	printf("a job due while the slot was taken ran %" PRId64 "ms after "
	    "its enqueue (the slot freed after about 2000ms)\n",
	    h_mono_ms() - enqueued);
	h_daemon_stop(&d);
}
END_TEST

/*
 * A handler that fails every job writes one failure line per spell, not
 * one per job and attempt; each handler has its own limit, and every
 * failure is still in the dead set.
 */
START_TEST(failures_are_logged_once_per_handler_per_interval)
{
	struct h_daemon	 d;
	char		 id[32];

	h_write_file(W.hdir, "boom", "#!/bin/sh\nexit 1\n", 0755);
	h_write_file(W.hdir, "boom2", "#!/bin/sh\nexit 65\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "b%d", i);
		enqueue(id, i % 2 == 0 ? "boom" : "boom2", "", 0, 0);
	}
	ck_assert_msg(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 40, 30000 * SLOW),
	    "%lld of 40 jobs dead", h_zcard(W.c, "dead"));
	/* 20 jobs x 2 failed attempts and 20 + 20 deaths, in a few seconds. */
	ck_assert_int_ge(h_log_count(&d, "(boom): attempt"), 1);
	ck_assert_int_le(h_log_count(&d, "(boom): attempt"), 4);
	ck_assert_int_ge(h_log_count(&d, "(boom): dead:"), 1);
	ck_assert_int_le(h_log_count(&d, "(boom): dead:"), 4);
	ck_assert_int_ge(h_log_count(&d, "(boom2): dead:"), 1);
	ck_assert_int_le(h_log_count(&d, "(boom2): dead:"), 4);
	h_daemon_stop(&d);
}
END_TEST

/* Run deferctl ARGS... against daemon d's config; its exit status. */
static int
ctl_run(const struct h_daemon *d, const char *cmd, const char *arg)
{
	const char	*argv[] = { h_bin("deferctl"), "-c", d->config, cmd, arg,
			    NULL };
	char		 out[512];
	int		 status = h_run(argv, NULL, out, sizeof(out));

	return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/*
 * deferctl pause: the daemon stops claiming from the queue, and the job
 * it is running goes on to its end; deferctl resume: the waiting jobs run
 * at once, woken, not at the next poll (a minute here).
 */
START_TEST(pause_and_resume_a_queue)
{
	struct h_daemon	 d;

	h_write_file(W.hdir, "slow", "#!/bin/sh\necho start >> \"$OUT/slow\"\n"
	    "sleep 1\necho end >> \"$OUT/slow\"\n", 0755);
	h_write_file(W.hdir, "rec", "#!/bin/sh\ncat >> \"$OUT/rec\"\n"
	    "echo >> \"$OUT/rec\"\n", 0755);
	h_daemon_start(&d, W.work, config_text("poll_interval: 60s\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	enqueue("slow-1", "slow", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("slow")) == 1, 10000));
	ck_assert_int_eq(ctl_run(&d, "pause", "default"), 0);
	enqueue("p1", "rec", "p1", 2, 0);
	enqueue("p2", "rec", "p2", 2, 0);
	ck_assert(h_daemon_log_has(&d, "queue default: paused", 10000));
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("slow")) == 2, 10000));
	ck_assert_int_eq(h_count_lines(out("rec")), 0);
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 2);
	ck_assert_int_eq(ctl_run(&d, "resume", "default"), 0);
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(out("rec")) == 2, 10000),
	    "the paused jobs did not run after resume");
	ck_assert(h_daemon_log_has(&d, "queue default: resumed", 1000));
	h_daemon_stop(&d);
}
END_TEST

/*
 * deferctl cancel --kill on a running job: the daemon that holds it stops
 * its handler's process group and records it cancelled; deferctl answers
 * "killed". Without --kill the answer is "running" and nothing changes.
 */
START_TEST(cancel_kill_stops_a_running_job)
{
	struct h_daemon	 d;
	char		 outbuf[256], *pidtext;
	const char	*argv[] = { h_bin("deferctl"), "-c", NULL, "cancel",
			    "--kill", "long-1", NULL };
	const char	*plain[] = { h_bin("deferctl"), "-c", NULL, "cancel",
			    "long-1", NULL };
	int		 status;
	pid_t		 pid;

	h_write_file(W.hdir, "long", "#!/bin/sh\necho $$ > \"$OUT/pid\"\n"
	    "exec sleep 60\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	argv[2] = plain[2] = d.config;
	enqueue("long-1", "long", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("pid")) == 1, 10000));
	pidtext = h_read_file(out("pid"));
	pid = (pid_t)atol(pidtext);
	free(pidtext);
	status = h_run(plain, NULL, outbuf, sizeof(outbuf));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	ck_assert_str_eq(outbuf, "running\n");
	ck_assert_int_eq(kill(pid, 0), 0);
	status = h_run(argv, NULL, outbuf, sizeof(outbuf));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %d: %s", status, outbuf);
	ck_assert_str_eq(outbuf, "killed\n");
	ck_assert_msg(H_WAIT_UNTIL(kill(pid, 0) == -1, 10000),
	    "the handler (pid %ld) still runs", (long)pid);
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert_int_eq(h_job_exists(W.c, "deferd:{default}:job:long-1"), 0);
	ck_assert(h_daemon_log_has(&d, "job long-1 (long): cancelled", 1000));
	h_daemon_stop(&d);
}
END_TEST

static int
cmp_ll(const void *a, const void *b)
{
	long long	x = *(const long long *)a, y = *(const long long *)b;

	return (x < y ? -1 : x > y);
}

/*
 * handlers.overrides.NAME.rate: 20 jobs due at once, 5 a second: all run,
 * none before its token (the bucket holds 5 at first, then gains one each
 * 200 ms), and another handler's jobs beside them are not held back.
 */
START_TEST(a_rate_limit_spreads_jobs_without_losing_any)
{
	struct h_daemon	 d;
	char		 id[16], *text, *line, *save;
	long long	 t[32];
	int		 n = 0;

	h_write_file(W.hdir, "ratedh", "#!/bin/sh\n"
	    "echo $(($(date +%s%N) / 1000000)) >> \"$OUT/starts\"\n", 0755);
	h_write_file(W.hdir, "freeh", "#!/bin/sh\necho x >> \"$OUT/free\"\n",
	    0755);
	h_daemon_start(&d, W.work, config_text(
	    "  overrides: {ratedh: {rate: 5/s}}\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "rl%d", i);
		enqueue(id, "ratedh", "", 0, 0);
		snprintf(id, sizeof(id), "fr%d", i);
		enqueue(id, "freeh", "", 0, 0);
	}
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(out("free")) == 20, 10000 * SLOW),
	    "the other handler's jobs were held back");
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(out("starts")) == 20,
	    30000 * SLOW), "%d of 20 rated jobs ran", h_count_lines(out("starts")));
	text = h_read_file(out("starts"));
	for (line = strtok_r(text, "\n", &save); line != NULL && n < 32;
	    line = strtok_r(NULL, "\n", &save))
		t[n++] = atoll(line);
	free(text);
	ck_assert_int_eq(n, 20);
	qsort(t, (size_t)n, sizeof(t[0]), cmp_ll);
	/* 5 tokens at first, then one each 200 ms: job i >= 5 waits for its own. */
	for (int i = 5; i < n; i++)
		ck_assert_msg(t[i] - t[0] >= (i - 4) * 200 - 150, "job %d of 20 "
		    "started %lld ms after the first: before its token", i,
		    t[i] - t[0]);
	printf("rate 5/s: 20 jobs over %lld ms (at least 3000 by the rate)\n",
	    t[n - 1] - t[0]);
	h_daemon_stop(&d);
}
END_TEST

/*
 * Enqueue n jobs of handler wq into queue q, due in 1 s (deferctl --batch),
 * for daemon d.
 */
static void
enqueue_batch(const struct h_daemon *d, const char *q, int n)
{
	const char	*argv[] = { h_bin("deferctl"), "-c", d->config, "enqueue",
			    "--batch", "--queue", q, "--in", "1s", "wq", NULL };
	char		 in[1024] = "", out_[64];
	size_t		 len = 0;

	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(in + len, sizeof(in) - len, "%d\n", i);
	ck_assert_int_eq(WEXITSTATUS(h_run(argv, in, out_, sizeof(out_))), 0);
}

/* How many of the first n lines of OUT/queues name queue q. */
static int
first_starts_of(int n, const char *q)
{
	char	*text = h_read_file(out("queues")), *line, *save;
	int	 seen = 0, of_q = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL && seen < n;
	    line = strtok_r(NULL, "\n", &save), seen++)
		of_q += strcmp(line, q) == 0;
	free(text);
	return (of_q);
}

/*
 * Weighted queues: a (weight 3) and b (weight 1), both with 24 jobs due at
 * once, share 4 slots 3 to 1, so about 18 of the first 24 starts are a's;
 * then with queues_order: strict, b waits while a has jobs due.
 */
START_TEST(queues_share_slots_by_weight_or_strict_order)
{
	static const char *const orders[] = { "weighted", "strict" };
	char	 cfg[8192], extra[256];
	int	 a;

	h_write_file(W.hdir, "wq", "#!/bin/sh\n"
	    "echo \"$DEFERD_QUEUE\" >> \"$OUT/queues\"\nsleep 0.2\n", 0755);
	for (int o = 0; o < 2; o++) {
		struct h_daemon	 d;

		unlink(out("queues"));
		snprintf(extra, sizeof(extra), "queues: [{name: a, weight: 3}, "
		    "{name: b, weight: 1}]\nqueues_order: %s\n", orders[o]);
		snprintf(cfg, sizeof(cfg), "%s", config_text(extra));
		memcpy(strstr(cfg, "concurrency: 8"), "concurrency: 4", 14);
		h_daemon_start(&d, W.work, cfg);
		ck_assert(h_daemon_log_has(&d, "ready", 15000));
		enqueue_batch(&d, "a", 24);
		enqueue_batch(&d, "b", 24);
		ck_assert_msg(H_WAIT_UNTIL(h_count_lines(out("queues")) == 48,
		    60000 * SLOW), "%d of 48 jobs ran", h_count_lines(out("queues")));
		a = first_starts_of(24, "a");
		printf("queues %s: %d of the first 24 starts were a's (weight 3 "
		    "of 4)\n", orders[o], a);
		/*
		 * Weighted: about 18 (3 of every 4 slots). A share is worked
		 * out from the queues that want slots at each claim, so on a
		 * loaded machine a moment when a has no claim to make lets b
		 * take a slot more: 15 was seen with two test binaries under
		 * ASan at once. Equal shares would give 12, strict order 24.
		 */
		if (o == 0)
			ck_assert_msg(a >= 14 && a <= 21, "weighted: a had %d of the "
			    "first 24 starts, not about 18", a);
		else
			ck_assert_msg(first_starts_of(20, "a") == 20, "strict: b ran "
			    "while a had jobs due (%d of 20)", first_starts_of(20, "a"));
		h_daemon_stop(&d);
	}
}
END_TEST

START_TEST(client_kill_and_idle_timeout_lose_nothing)
{
	struct h_daemon	d;
	char		id[32];

	h_write_file(W.hdir, "count", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ids\"\n", 0755);
	/*
	 * The lease is long (5 min): a claim whose reply a CLIENT KILL swallows
	 * must be given back on reconnect, not left to the reaper. The poll is
	 * slower than the idle timeout, so the idle connection is closed.
	 */
	h_daemon_start(&d, W.work, config_text("poll_interval: 3s\nlease: 5m\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "a%02d", i);
		enqueue(id, "count", "", 0, 2000);
	}
	/* Idle connections are closed by the server after 1 s. */
	h_cmd_int(W.c, "CONFIG SET timeout 1");
	ck_assert(h_daemon_log_has(&d, "reconnecting", 15000));
	redisFree(W.c);		/* closed by the server too */
	W.c = h_redis_connect(&W.r);
	h_cmd_int(W.c, "CONFIG SET timeout 0");
	ck_assert(h_daemon_log_has(&d, "again after", 15000));
	/* Kill every client but ours, twice. */
	for (int k = 0; k < 2; k++) {
		int before = h_log_count(&d, "again after");

		h_cmd_int(W.c, "CLIENT KILL TYPE normal SKIPME yes");
		ck_assert(H_WAIT_UNTIL(h_log_count(&d, "again after") > before, 15000));
	}
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "b%02d", i);
		enqueue(id, "count", "", 0, 0);
	}
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ids")) >= 20, 30000));
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 10000));
	ck_assert_int_eq(h_count_lines(out("ids")), 20);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	/* One warning per outage, not one per attempt. */
	ck_assert_int_le(h_log_count(&d, "reconnecting"), 2 * (2 + 1) + 2);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(script_flush_is_survived)
{
	struct h_daemon	d;

	h_write_file(W.hdir, "count", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ids\"\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	h_cmd_int(W.c, "SCRIPT FLUSH");
	enqueue("after-flush", "count", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ids")) == 1, 15000));
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 10000));
	ck_assert(h_daemon_log_has(&d, "not cached", 1000));
	h_daemon_stop(&d);
}
END_TEST

START_TEST(eviction_policy_is_refused_unless_allowed)
{
	struct h_daemon	d;
	int		status;

	h_cmd_int(W.c, "CONFIG SET maxmemory-policy allkeys-lru");
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert_int_ne((status = h_daemon_wait_exit(&d, 15000)), -1);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	ck_assert(h_daemon_log_has(&d, "maxmemory-policy is 'allkeys-lru'", 1000));
	h_daemon_start(&d, W.work, config_text("  allow_eviction: true\n"));
	h_daemon_stop(&d);
	{
		char text[8192];

		snprintf(text, sizeof(text), "redis: {url: \"%s\", allow_eviction: true}\n"
		    "handlers: {dir: %s}\n", W.r.url, W.hdir);
		h_daemon_start(&d, W.work, text);
	}
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	ck_assert(h_daemon_log_has(&d, "allowed by redis.allow_eviction", 1000));
	h_daemon_stop(&d);
}
END_TEST

START_TEST(hung_redis_is_detected_and_recovered)
{
	struct h_daemon	d;
	char		text[8192];

	h_write_file(W.hdir, "count", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ids\"\n", 0755);
	snprintf(text, sizeof(text), "redis: {url: \"%s\", command_timeout: 1s, "
	    "connect_timeout: 1s}\npoll_interval: 200ms\n"
	    "handlers: {dir: %s, environment: {OUT: \"%s\"}}\n", W.r.url, W.hdir, W.out);
	h_daemon_start(&d, W.work, text);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	enqueue("before-stop", "count", "", 0, 3000);
	kill(W.r.pid, SIGSTOP);
	ck_assert(h_daemon_log_has(&d, "unresponsive", 15000));
	kill(W.r.pid, SIGCONT);
	ck_assert(h_daemon_log_has(&d, "again after", 20000));
	enqueue("after-cont", "count", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ids")) == 2, 20000));
	ck_assert_int_eq(kill(d.pid, 0), 0);
	h_daemon_stop(&d);
}
END_TEST

/*
 * A claim sent to a Redis that then hangs loses its reply; its job must come
 * back when Redis does, not a whole lease later, and without an attempt
 * spent. Nothing but that claim is in flight (slow poll, long lease), so
 * "unresponsive" proves the claim was the command lost.
 */
START_TEST(claim_lost_to_a_hung_redis_is_given_back)
{
	struct h_daemon	d;
	char		text[8192], *ids;

	h_write_file(W.hdir, "count", "#!/bin/sh\n"
	    "echo \"$DEFERD_JOB_ID $DEFERD_ATTEMPT\" >> \"$OUT/ids\"\n", 0755);
	snprintf(text, sizeof(text), "redis: {url: \"%s\", command_timeout: 1s, "
	    "connect_timeout: 1s}\npoll_interval: 1h\nlease: 5m\n"
	    "handlers: {dir: %s, environment: {OUT: \"%s\"}}\n", W.r.url,
	    W.hdir, W.out);
	h_daemon_start(&d, W.work, text);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	enqueue("lost", "count", "", 0, 1500);
	/*
	 * Redis may write our reply before the wake message to deferd: a
	 * second round trip proves that the loop iteration which wrote both
	 * is over before Redis stops.
	 */
	freeReplyObject(h_cmd(W.c, "PING"));
	kill(W.r.pid, SIGSTOP);
	ck_assert(h_daemon_log_has(&d, "unresponsive", 15000));
	kill(W.r.pid, SIGCONT);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ids")) == 1, 30000));
	ids = h_read_file(out("ids"));
	ck_assert_str_eq(ids, "lost 1\n");	/* the lost claim spent no attempt */
	free(ids);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 10000));
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
	h_daemon_stop(&d);
}
END_TEST

/*
 * An idle queue's poll is its only command: the subscriber's liveness
 * probe rides on the first queue's claim (a PUBLISH inside the script)
 * instead of going alone. Lease 2 s: a probe every second; poll 200 ms.
 */
START_TEST(the_liveness_probe_rides_on_the_idle_claim)
{
	struct h_daemon	 d;
	struct timeval	 tv = { 15 * SLOW, 0 };
	redisContext	*m;
	redisReply	*r;
	char		 text[4096];
	int		 carried = 0, alone = 0;

	snprintf(text, sizeof(text), "redis: {url: \"%s\"}\n"
	    "poll_interval: 200ms\nlease: 2s\nhandlers: {dir: %s}\n",
	    W.r.url, W.hdir);
	h_daemon_start(&d, W.work, text);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	m = h_redis_connect(&W.r);
	freeReplyObject(h_cmd(m, "MONITOR"));
	redisSetTimeout(m, tv);	/* a probe a second: a read waits < 2 s */
	while (carried < 3 && redisGetReply(m, (void **)&r) == REDIS_OK) {
		if (r->type == REDIS_REPLY_STATUS &&
		    strstr(r->str, "\"PUBLISH\" \"deferd:ping:") != NULL) {
			if (strstr(r->str, " lua] ") != NULL)
				carried++;
			else
				alone++;
		}
		freeReplyObject(r);
	}
	redisFree(m);
	ck_assert_int_ge(carried, 3);
	ck_assert_int_eq(alone, 0);
	h_daemon_stop(&d);
}
END_TEST

/*
 * Every connection turns half-open (Redis sees the clients go, deferd's
 * sockets stay open and silent). The command connection notices by its
 * reply deadline; the subscriber, which sends nothing, by its liveness
 * probe. Afterwards a wake must work again: with an hour's poll, only the
 * wake message can start the last job in time.
 */
START_TEST(half_open_connections_are_detected)
{
	struct h_daemon	d;
	struct h_proxy	px;
	char		text[8192];

	h_write_file(W.hdir, "count", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ids\"\n", 0755);
	h_proxy_start(&px, W.work, W.r.sock);
	snprintf(text, sizeof(text), "redis: {url: \"%s\", command_timeout: 1s, "
	    "connect_timeout: 1s}\npoll_interval: 1h\nlease: 2s\n"
	    "handlers: {dir: %s, environment: {OUT: \"%s\"}}\n", px.url,
	    W.hdir, W.out);
	h_daemon_start(&d, W.work, text);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	enqueue("before", "count", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ids")) == 1, 15000));
	h_proxy_sever(&px);
	ck_assert(h_daemon_log_has(&d, "no subscription of ours", 30000));
	ck_assert(H_WAIT_UNTIL(h_log_count(&d, "redis sub: connected to") >= 2,
	    30000));
	ck_assert(H_WAIT_UNTIL(h_log_count(&d, "redis cmd: connected to") >= 2,
	    30000));
	enqueue("after", "count", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ids")) == 2, 15000));
	h_daemon_stop(&d);
	h_proxy_stop(&px);
}
END_TEST

/*
 * Wakes published while the subscriber is away are lost by pub/sub's
 * nature; the claim made when the subscription is confirmed again must
 * cover them. maxclients keeps the subscriber out while the job is
 * enqueued, and an hour's poll means nothing else would claim it.
 */
START_TEST(wakes_missed_by_a_lost_subscriber_are_covered)
{
	struct h_daemon	d;
	redisReply	*r;
	char		text[8192];

	h_write_file(W.hdir, "count", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ids\"\n", 0755);
	snprintf(text, sizeof(text), "redis: {url: \"%s\"}\npoll_interval: 1h\n"
	    "handlers: {dir: %s, environment: {OUT: \"%s\"}}\n", W.r.url,
	    W.hdir, W.out);
	h_daemon_start(&d, W.work, text);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	r = h_cmd(W.c, "CONFIG SET maxclients 1");
	ck_assert_int_ne(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	freeReplyObject(h_cmd(W.c, "CLIENT KILL TYPE pubsub"));
	ck_assert(h_daemon_log_has(&d, "reconnecting", 15000));
	enqueue("missed", "count", "", 0, 0);
	freeReplyObject(h_cmd(W.c, "CONFIG SET maxclients 10000"));
	ck_assert(H_WAIT_UNTIL(h_log_count(&d, "redis sub: connected to") >= 2,
	    15000));
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ids")) == 1, 15000));
	h_daemon_stop(&d);
}
END_TEST

/*
 * Every numeric key of the schema at its maximum: the daemon starts and
 * the scripts accept what it sends them. A job with a resource completes
 * (lock lease, results.ttl), a failing one is retried 30 days out
 * (retry.backoff_max, less its jitter of up to half), an exit 65 is buried (dead.max_jobs, dead.ttl).
 * Before the bounds existed, `deferd -n` passed values no script took.
 */
START_TEST(every_key_at_its_maximum_runs_jobs)
{
	struct h_daemon	d;
	char		cfg[4096];
	int64_t		now, due;

	h_write_file(W.hdir, "ok", "#!/bin/sh\necho done > \"$OUT/ok\"\n", 0755);
	h_write_file(W.hdir, "fails", "#!/bin/sh\nexit 1\n", 0755);
	h_write_file(W.hdir, "baddata", "#!/bin/sh\nexit 65\n", 0755);
	snprintf(cfg, sizeof(cfg),
	    "redis: {url: \"%s\", connect_timeout: 1h, command_timeout: 1h}\n"
	    "concurrency: 10000\n"
	    "poll_interval: 1h\n"
	    "lease: 1d\n"
	    "shutdown_timeout: 1d\n"
	    "retry: {max_attempts: 1000, backoff: 30d, backoff_max: 30d}\n"
	    "results: {ttl: 3650d}\n"
	    "dead: {max_jobs: 1000000000, ttl: 3650d}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 30d\n"
	    "  kill_grace: 1h\n"
	    "  max_output: 512MiB\n"
	    "  max_payload: 512MiB\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "  overrides:\n"
	    "    fails: {timeout: 30d, max_concurrency: 10000, max_attempts: 1000}\n"
	    "locks: {lease: 1d, requeue_delay: 1d, wait_timeout: 1d}\n",
	    W.r.url, W.hdir, W.out);
	h_daemon_start(&d, W.work, cfg);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	now = h_redis_now_ms(W.c);
	h_enqueue_with(W.c, "m-ok", "ok", "res-1", 0, 0);
	enqueue("m-fails", "fails", "x", 1, 0);
	enqueue("m-dead", "baddata", "x", 1, 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c,
	    "EXISTS deferd:{default}:result:m-ok") == 1, 15000));
	ck_assert_int_gt(h_cmd_int(W.c, "TTL deferd:{default}:result:m-ok"),
	    3649LL * 86400);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 1, 15000));
	ck_assert(H_WAIT_UNTIL(h_job_int(W.c,
	    "deferd:{default}:job:m-fails attempts") == 1 &&
	    h_zcard(W.c, "active") == 0, 15000));
	due = h_cmd_int(W.c, "ZSCORE deferd:{default}:delayed m-fails");
	ck_assert_msg(due >= now + 15LL * 86400 * 1000, "retried at +%lldms",
	    (long long)(due - now));
	ck_assert_int_eq(h_log_count(&d, "must be a non-negative integer"), 0);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(check_config_reports_position)
{
	const char	*argv[5];
	char		 path[600], outbuf[4096];
	int		 status;

	snprintf(path, sizeof(path), "%s/good.yaml", W.work);
	h_write_file(W.work, "good.yaml", config_text(NULL), 0644);
	argv[0] = h_bin("deferd");
	argv[1] = "--check-config";
	argv[2] = "-c";
	argv[3] = path;
	argv[4] = NULL;
	status = h_run(argv, NULL, outbuf, sizeof(outbuf));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert(strstr(outbuf, "configuration OK") != NULL);
	h_write_file(W.work, "good.yaml", "concurrency: 4\nhandlers:\n  timout: 5s\n", 0644);
	status = h_run(argv, NULL, outbuf, sizeof(outbuf));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	/* Only a warning (the directory does not exist yet): status 0. */
	h_write_file(W.work, "good.yaml", "handlers: {dir: /nonexistent/deferd}\n",
	    0644);
	status = h_run(argv, NULL, outbuf, sizeof(outbuf));
	ck_assert_msg(strstr(outbuf, "configuration OK") != NULL, "%s", outbuf);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* An empty file is valid: every setting has its default. */
	h_write_file(W.work, "good.yaml", "", 0644);
	status = h_run(argv, NULL, outbuf, sizeof(outbuf));
	ck_assert_msg(strstr(outbuf, "configuration OK") != NULL, "%s", outbuf);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(deferctl_enqueue_runs_through_the_daemon)
{
	struct h_daemon	d;
	const char	*argv[9];
	char		 outbuf[512], *got;
	int		 status;

	h_write_file(W.hdir, "echo-payload", "#!/bin/sh\ncat > \"$OUT/payload\"\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	argv[0] = h_bin("deferctl");
	argv[1] = "-c";
	argv[2] = d.config;
	argv[3] = "enqueue";
	argv[4] = "--in";
	argv[5] = "1s";
	argv[6] = "echo-payload";
	argv[7] = "-";
	argv[8] = NULL;
	status = h_run(argv, "from stdin\n", outbuf, sizeof(outbuf));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_gt(strlen(outbuf), 1);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("payload")) == 1, 15000));
	got = h_read_file(out("payload"));
	ck_assert_str_eq(got, "from stdin\n");
	free(got);
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("daemon");
	TCase	*tc = tcase_create("pipeline");
	TCase	*tr = tcase_create("restart");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, runs_once_when_due_with_payload_and_env);
	tcase_add_test(tc, retries_with_growing_delay_then_dead);
	tcase_add_test(tc, exit_65_is_dead_at_once);
	tcase_add_test(tc, every_key_at_its_maximum_runs_jobs);
	tcase_add_test(tc, timeout_kills_the_whole_tree_and_retries);
	tcase_add_test(tc, unsafe_or_missing_handlers_are_dead_and_daemon_goes_on);
	tcase_add_test(tc, bad_data_in_redis_is_buried_with_a_reason);
	tcase_add_test(tc, two_daemons_run_2000_jobs_exactly_once);
	tcase_add_test(tc, kill_9_job_runs_again_on_the_other_daemon);
	tcase_add_test(tc, sigterm_drains_then_requeues_without_spending_an_attempt);
	tcase_add_test(tc, sighup_with_a_bad_file_keeps_the_old_config);
	tcase_add_test(tc, max_concurrency_override_limits_one_handler);
	tcase_add_test(tc, a_job_due_while_the_slots_are_full_runs_when_one_frees);
	tcase_add_test(tc, failures_are_logged_once_per_handler_per_interval);
	tcase_add_test(tc, pause_and_resume_a_queue);
	tcase_add_test(tc, cancel_kill_stops_a_running_job);
	tcase_add_test(tc, a_rate_limit_spreads_jobs_without_losing_any);
	tcase_add_test(tc, queues_share_slots_by_weight_or_strict_order);
	tcase_add_test(tc, client_kill_and_idle_timeout_lose_nothing);
	tcase_add_test(tc, script_flush_is_survived);
	tcase_add_test(tc, eviction_policy_is_refused_unless_allowed);
	tcase_add_test(tc, hung_redis_is_detected_and_recovered);
	tcase_add_test(tc, claim_lost_to_a_hung_redis_is_given_back);
	tcase_add_test(tc, half_open_connections_are_detected);
	tcase_add_test(tc, the_liveness_probe_rides_on_the_idle_claim);
	tcase_add_test(tc, wakes_missed_by_a_lost_subscriber_are_covered);
	tcase_add_test(tc, check_config_reports_position);
	tcase_add_test(tc, deferctl_enqueue_runs_through_the_daemon);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tr, setup_aof, teardown);
	tcase_set_timeout(tr, 120);
	tcase_add_test(tr, redis_restart_reconnects_and_finishes_every_job);
	suite_add_tcase(s, tr);
	return (h_main(s));
}
