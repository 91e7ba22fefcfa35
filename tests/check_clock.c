/* SPDX-License-Identifier: MIT */
/*
 * Promise P16: deferd's own timing does not depend on the wall clock. deferd
 * runs under libfaketime (LD_PRELOAD) with its CLOCK_REALTIME off by +-1 h,
 * or jumping mid-run through a timestamp file re-read on every call; Redis
 * and the handlers (whose environment is an allowlist, so no LD_PRELOAD)
 * keep the real clock, so Redis TIME, the test's own clock and the start
 * stamps the handlers write agree. The tests prove that jobs are claimed
 * neither early nor late relative to Redis time, that a handler timeout
 * keeps its duration across a jump, and that lock and lease extension go on
 * across jumps. Every test first proves that deferd really sees the fake
 * clock (its JSON log timestamps), so none can pass by faking nothing.
 *
 * libfaketime is found at the usual multiarch places, or named by
 * $DEFERD_LIBFAKETIME. Under an AddressSanitizer build the runtime must
 * come first in the library list: the test then preloads libasan ahead of
 * libfaketime, found the way the deferd binary links it (ldd).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <glob.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define HOUR_MS		3600000LL
#define DUE_MS		2000		/* jobs are due this long after enqueue */
#define LATE_MS		(3000 * SLOW)	/* "not much late" (a clock bug is an hour off); room for a busy machine */
#define TIMEOUT_MS	2000		/* handler timeout of the "hang" handler */

static struct h_world	 W;
static char		 preload[1024];	/* LD_PRELOAD value for deferd */
static char		 tsfile[600];	/* FAKETIME_TIMESTAMP_FILE */

/* Find libfaketime.so.1; false if it is not installed. */
static bool
find_libfaketime(char *out, size_t len)
{
	static const char *const pats[] = { "/usr/lib/*/faketime/libfaketime.so.1",
	    "/usr/lib/faketime/libfaketime.so.1", "/usr/lib64/faketime/libfaketime.so.1" };
	const char	*env = getenv("DEFERD_LIBFAKETIME");
	glob_t		 g;
	bool		 found = false;

	if (env != NULL && *env != '\0' && access(env, R_OK) == 0) {
		snprintf(out, len, "%s", env);
		return (true);
	}
	for (size_t i = 0; !found && i < sizeof(pats) / sizeof(pats[0]); i++) {
		if (glob(pats[i], 0, NULL, &g) == 0 && g.gl_pathc > 0) {
			snprintf(out, len, "%s", g.gl_pathv[0]);
			found = true;
		}
		globfree(&g);
	}
	return (found);
}

/*
 * The sanitizer runtime deferd links, if any ("" otherwise): ASan insists on
 * being first in the initial library list, so it must precede libfaketime
 * in LD_PRELOAD.
 */
static void
find_asan_runtime(char *out, size_t len)
{
	char	 cmd[800], line[1024];
	FILE	*p;

	out[0] = '\0';
	snprintf(cmd, sizeof(cmd), "ldd '%s' 2>/dev/null", h_bin("deferd"));
	if ((p = popen(cmd, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), p) != NULL) {
		char *arrow = strstr(line, "=> "), *end;

		if (strstr(line, "libasan.so") == NULL || arrow == NULL)
			continue;
		arrow += 3;
		if ((end = strchr(arrow, ' ')) != NULL)
			*end = '\0';
		snprintf(out, len, "%s", arrow);
	}
	pclose(p);
}

static void
setup(void)
{
	char	lib[512], asan[512];

	ck_assert_msg(find_libfaketime(lib, sizeof(lib)),
	    "libfaketime.so.1 not found: install the Debian package faketime "
	    "(tools/deps.sh) or set DEFERD_LIBFAKETIME");
	find_asan_runtime(asan, sizeof(asan));
	snprintf(preload, sizeof(preload), "%s%s%s", asan, asan[0] ? ":" : "", lib);
	h_world_setup(&W, NULL);
	snprintf(tsfile, sizeof(tsfile), "%s/faketime.rc", W.work);
}

static void
teardown(void)
{
	h_world_teardown(&W);
}

/*
 * Config: JSON log (ts_ms shows deferd's clock) at debug level (successes
 * are logged), no poll safety net.
 */
static const char *
config_text(const char *extra)
{
	static char	buf[8192];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "log: {format: json, level: debug}\n"
	    "poll_interval: 1h\n"
	    "concurrency: 4\n"
	    "retry: {max_attempts: 3, backoff: 100ms, backoff_max: 1s}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 30s\n"
	    "  kill_grace: 500ms\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "  overrides: {hang: {timeout: %dms, max_attempts: 1},\n"
	    "    hang2: {timeout: %dms, max_attempts: 1}}\n"
	    "%s",
	    W.r.url, W.hdir, W.out, TIMEOUT_MS, TIMEOUT_MS, extra ? extra : "");
	return (buf);
}

/*
 * Handlers: stamp (id and real start ms), hang and hang2 (start ms, pid,
 * then sleeps; two names, since a handler's failure lines are limited to
 * one per 10 s and the test waits for each job's).
 */
static void
write_handlers(void)
{
	static const char	hang[] = "#!/bin/sh\n"
	    "echo \"$(date +%s%3N) $$\" > \"$OUT/hang-$DEFERD_JOB_ID\"\n"
	    "exec sleep 1000\n";

	h_write_file(W.hdir, "stamp", "#!/bin/sh\n"
	    "echo \"$DEFERD_JOB_ID $(date +%s%3N)\" >> \"$OUT/stamps\"\n", 0755);
	h_write_file(W.hdir, "hang", hang, 0755);
	h_write_file(W.hdir, "hang2", hang, 0755);
}

/* Start deferd under libfaketime with FAKETIME-style settings in env. */
static void
start_faked(struct h_daemon *d, const char *extra, const char *const *fake_env)
{
	const char	*env[16];
	char		 pre[1100];
	int		 n = 0;

	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", preload);
	env[n++] = pre;
	/* ASan checks that it comes first; our LD_PRELOAD order ensures that. */
	env[n++] = "ASAN_OPTIONS=verify_asan_link_order=0";
	for (; *fake_env != NULL && n < 15; fake_env++)
		env[n++] = *fake_env;
	env[n] = NULL;
	h_daemon_start_env(d, W.work, config_text(extra), env);
	ck_assert_msg(h_daemon_log_has(d, "\"ready", 15000 * SLOW),
	    "deferd under libfaketime did not get ready");
	{
		char	maps[64], *m;

		snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)d->pid);
		m = h_read_file(maps);
		ck_assert_msg(m != NULL && strstr(m, "libfaketime") != NULL,
		    "libfaketime is not loaded into deferd");
		free(m);
	}
}

/* Set the fake clock's offset from the real one (timestamp file, atomic). */
static void
set_offset(const char *spec)
{
	char	tmp[700], text[64];

	snprintf(text, sizeof(text), "%s\n", spec);
	h_write_file(W.work, "faketime.tmp", text, 0644);
	snprintf(tmp, sizeof(tmp), "%s/faketime.tmp", W.work);
	ck_assert_int_eq(rename(tmp, tsfile), 0);
}

/* ts_ms of the last JSON log line of d containing text; -1 if none. */
static int64_t
log_ts(const struct h_daemon *d, const char *text)
{
	char	*s = h_read_file(d->log), *line, *save = NULL;
	int64_t	 ts = -1;

	for (line = s ? strtok_r(s, "\n", &save) : NULL; line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *p = strstr(line, "\"ts_ms\":");

		if (p != NULL && strstr(line, text) != NULL)
			ts = strtoll(p + 8, NULL, 10);
	}
	free(s);
	return (ts);
}

/*
 * Prove that deferd's wall clock is off by about offset_ms: the log line
 * with text (written after the test's reference point real_ms) carries a
 * time offset_ms away from the real clock, within 30 s.
 */
static void
assert_daemon_clock(const struct h_daemon *d, const char *text, int64_t real_ms,
    int64_t offset_ms)
{
	int64_t	ts;

	ck_assert_msg(h_daemon_log_has(d, text, 15000 * SLOW), "no '%s' logged", text);
	ts = log_ts(d, text);
	ck_assert_msg(ts > 0, "no JSON timestamp on '%s'", text);
	ck_assert_msg(llabs(ts - real_ms - offset_ms) < 30000,
	    "deferd's clock is %+" PRId64 "ms off, expected %+" PRId64 "ms "
	    "(libfaketime not in effect?)", ts - real_ms, offset_ms);
}

/* Real start ms of job id from the stamps file; -1 if it has not started. */
static int64_t
stamp_of(const char *id)
{
	char	*s = h_read_file(h_world_out(&W, "stamps")), *p;
	size_t	 n = strlen(id);
	int64_t	 t = -1;

	for (p = s; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, id, n) == 0 && p[n] == ' ') {
			t = strtoll(p + n + 1, NULL, 10);
			break;
		}
	free(s);
	return (t);
}

/*
 * Wait until deferd logged the end of job id ("done" or "dead"): its slot
 * is free then and the claim that follows has gone out, so a jump made
 * after this is one that deferd has not yet corrected by a claim reply.
 */
static void
settle(const struct h_daemon *d, const char *id, const char *handler, const char *end)
{
	char	text[256];

	snprintf(text, sizeof(text), "job %s (%s): %s", id, handler, end);
	ck_assert_msg(h_daemon_log_has(d, text, 15000 * SLOW), "no '%s' logged", text);
}

/* Enqueue a stamp job due in DUE_MS (Redis time); returns its due ms. */
static int64_t
enqueue_stamp(const char *id)
{
	int64_t	due = h_redis_now_ms(W.c) + DUE_MS;

	h_enqueue(W.c, id, "stamp", "", 0, DUE_MS);
	return (due);
}

/* The job started within [due, due + LATE_MS] of Redis time. */
static void
assert_on_time(const char *id, int64_t due)
{
	int64_t	start;

	ck_assert_msg(H_WAIT_UNTIL(stamp_of(id) > 0, DUE_MS + 60000),
	    "job %s never ran", id);
	start = stamp_of(id);
	/* due was read just before the enqueue: the true due time is later. */
	ck_assert_msg(start >= due, "job %s started %" PRId64 "ms early", id,
	    due - start);
	ck_assert_msg(start <= due + LATE_MS, "job %s started %" PRId64 "ms late",
	    id, start - due);
}

/* Now on CLOCK_BOOTTIME, in ms: the clock of /proc/PID/stat's starttime. */
static int64_t
boot_ms(void)
{
	struct timespec	ts;

	ck_assert_int_eq(clock_gettime(CLOCK_BOOTTIME, &ts), 0);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * When pid was created (deferd's spawn of it), in boot_ms() terms, to the
 * 10 ms of a clock tick: the handler's own stamp comes after its exec and
 * a date(1), which a busy machine can delay by hundreds of ms.
 */
static int64_t
proc_spawned_boot_ms(pid_t pid)
{
	char		 path[64], *buf, *p;
	long long	 ticks;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	buf = h_read_file(path);
	ck_assert_ptr_nonnull(buf);
	p = strrchr(buf, ')');		/* the command name may hold spaces */
	ck_assert_ptr_nonnull(p);
	for (int field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');	/* to field 22, starttime */
	ck_assert_ptr_nonnull(p);
	ticks = strtoll(p + 1, NULL, 10);
	free(buf);
	return (ticks * 1000 / sysconf(_SC_CLK_TCK));
}

/*
 * One job of a hang handler (timeout TIMEOUT_MS) that runs while jump (a
 * timestamp-file offset, or NULL) is applied: it must be killed TIMEOUT_MS
 * after it started, not earlier and not much later.
 */
static void
assert_timeout_across(const char *id, const char *handler, const char *jump)
{
	char	 path[700], *s, *p;
	int64_t	 start, gone, spawned, gone_boot;
	pid_t	 pid;

	snprintf(path, sizeof(path), "hang-%s", id);
	h_enqueue(W.c, id, handler, "", 0, 0);
	ck_assert(H_WAIT_UNTIL((s = h_read_file(h_world_out(&W, path))) != NULL &&
	    strchr(s, '\n') != NULL ? true : (free(s), false), 15000 * SLOW));
	start = strtoll(s, &p, 10);
	pid = (pid_t)strtol(p, NULL, 10);
	free(s);
	ck_assert_int_gt(pid, 0);
	spawned = proc_spawned_boot_ms(pid);
	if (jump != NULL)
		set_offset(jump);
	ck_assert_msg(H_WAIT_UNTIL(h_pid_gone(pid), TIMEOUT_MS + 30000),
	    "the handler of %s was never killed", id);
	gone = h_real_ms();
	gone_boot = boot_ms();
	ck_assert_msg(gone_boot - spawned >= TIMEOUT_MS - 20,	/* clock ticks */
	    "%s killed after %" PRId64 "ms, before its %dms timeout", id,
	    gone_boot - spawned, TIMEOUT_MS);
	ck_assert_msg(gone - start <= TIMEOUT_MS + 1000 * SLOW,
	    "%s killed %" PRId64 "ms after start; its timeout is %dms", id,
	    gone - start, TIMEOUT_MS);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZSCORE deferd:{default}:dead %s",
	    id) > 0, 10000 * SLOW));
}

/* Constant offsets: +1h, -1h (monotonic real), +1h with monotonic faked too. */
static const struct {
	const char	*faketime;
	int64_t		 offset_ms;
	bool		 fake_mono;
} offsets[] = {
	{ "+1h", HOUR_MS, false },
	{ "-1h", -HOUR_MS, false },
	{ "+1h", HOUR_MS, true },
};

START_TEST(offset_clock_claims_on_redis_time)
{
	struct h_daemon	d;
	char		ft[64];
	const char	*env[3] = { ft, NULL, NULL };
	int64_t		due_before, due_after, real;

	snprintf(ft, sizeof(ft), "FAKETIME=%s", offsets[_i].faketime);
	if (!offsets[_i].fake_mono)
		env[1] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
	write_handlers();
	/* Waiting when deferd starts: its first claim reply arms the timer. */
	due_before = h_redis_now_ms(W.c) + DUE_MS + 1000 * SLOW;
	h_enqueue(W.c, "before", "stamp", "", 0, DUE_MS + 1000 * SLOW);
	real = h_real_ms();
	start_faked(&d, NULL, env);
	assert_daemon_clock(&d, "\"ready", real, offsets[_i].offset_ms);
	/* Enqueued while it runs: the wake message arms the timer. */
	due_after = enqueue_stamp("after");
	assert_on_time("before", due_before);
	assert_on_time("after", due_after);
	assert_timeout_across("t0", "hang", NULL);
	h_daemon_stop(&d);
}
END_TEST

/*
 * The clock jumps back 1 h while deferd runs, then forward 2 h, then back
 * again. Jobs announced by wake messages after each jump run on time
 * (deferd must not measure "until due" against its wall clock), and a
 * handler's timeout keeps its length across each jump.
 */
START_TEST(clock_jumps_mid_run)
{
	struct h_daemon	d;
	char		ts[700];
	const char	*env[] = { ts, "FAKETIME_NO_CACHE=1",
			    "FAKETIME_DONT_FAKE_MONOTONIC=1", NULL };
	int64_t		due, real;

	snprintf(ts, sizeof(ts), "FAKETIME_TIMESTAMP_FILE=%s", tsfile);
	set_offset("+0");
	write_handlers();
	real = h_real_ms();
	start_faked(&d, NULL, env);
	assert_daemon_clock(&d, "\"ready", real, 0);
	/* A job claimed first sets deferd's idea of Redis time, before the jump. */
	due = enqueue_stamp("j0");
	assert_on_time("j0", due);
	settle(&d, "j0", "stamp", "done");

	set_offset("-1h");
	real = h_real_ms();
	due = enqueue_stamp("j1");
	assert_on_time("j1", due);
	assert_daemon_clock(&d, "job j1 (stamp): done", real, -HOUR_MS);
	settle(&d, "j1", "stamp", "done");

	set_offset("+1h");
	real = h_real_ms();
	due = enqueue_stamp("j2");
	assert_on_time("j2", due);
	assert_daemon_clock(&d, "job j2 (stamp): done", real, HOUR_MS);
	settle(&d, "j2", "stamp", "done");

	/* Jumps while handlers run: back 2 h, then forward 2 h. */
	assert_timeout_across("t1", "hang", "-1h");
	assert_timeout_across("t2", "hang2", "+1h");
	settle(&d, "t2", "hang2", "dead");
	set_offset("-1h");
	due = enqueue_stamp("j3");
	assert_on_time("j3", due);
	ck_assert_int_eq(kill(d.pid, 0), 0);
	h_daemon_stop(&d);
}
END_TEST

/*
 * A handler with a resource runs for 3x both leases (job lease and lock
 * lease, 1 s each) while the clock jumps back and forth: the leases are
 * extended on the monotonic clock, so the job is not reaped, not run twice,
 * and its lock is never lost; it finishes once and releases the lock.
 */
START_TEST(leases_and_locks_are_extended_across_jumps)
{
	struct h_daemon	d;
	char		ts[700], buf[256];
	const char	*env[] = { ts, "FAKETIME_NO_CACHE=1",
			    "FAKETIME_DONT_FAKE_MONOTONIC=1", NULL };
	int64_t		start, real;

	snprintf(ts, sizeof(ts), "FAKETIME_TIMESTAMP_FILE=%s", tsfile);
	set_offset("+0");
	h_write_file(W.hdir, "long", "#!/bin/sh\n"
	    "echo \"$DEFERD_ATTEMPT $DEFERD_FENCING_TOKEN\" >> \"$OUT/runs\"\n"
	    "while [ ! -e \"$OUT/go\" ]; do sleep 0.05; done\n"
	    "echo finished\n", 0755);
	real = h_real_ms();
	start_faked(&d, "lease: 1s\nlocks: {lease: 1s}\n", env);
	assert_daemon_clock(&d, "\"ready", real, 0);
	h_enqueue_with(W.c, "L1", "long", "res1", 1, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(h_world_out(&W, "runs")) == 1, 15000 * SLOW));
	start = h_mono_ms();
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:lock:res1"), 1);
	/* Jump at 1 s and 2 s; check the lock and the lease at each step. */
	for (int step = 1; step <= 3; step++) {
		H_WAIT_UNTIL(false, start + step * 1000 - h_mono_ms());
		if (step < 3)
			set_offset(step == 1 ? "-1h" : "+1h");
		ck_assert_msg(h_cmd_int(W.c, "PTTL deferd:lock:res1") > 0,
		    "lock lost %d s into the run", step);
		ck_assert_msg(h_cmd_int(W.c, "ZSCORE deferd:{default}:active L1") >
		    h_redis_now_ms(W.c), "lease of L1 ran out %d s into the run", step);
	}
	h_write_file(W.out, "go", "", 0644);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:{default}:result:L1") == 1,
	    15000 * SLOW));
	h_cmd_str(W.c, buf, sizeof(buf), "GET deferd:{default}:result:L1");
	ck_assert_str_eq(buf, "finished\n");
	ck_assert_int_eq(h_count_lines(h_world_out(&W, "runs")), 1);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:lock:res1") == 0, 5000 * SLOW));
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert_int_eq(h_log_count(&d, "lost"), 0);
	ck_assert_int_eq(h_log_count(&d, "expired"), 0);
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("clock");
	TCase	*tc = tcase_create("faketime");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, offset_clock_claims_on_redis_time, 0,
	    sizeof(offsets) / sizeof(offsets[0]));
	tcase_add_test(tc, clock_jumps_mid_run);
	tcase_add_test(tc, leases_and_locks_are_extended_across_jumps);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
