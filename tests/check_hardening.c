/* SPDX-License-Identifier: MIT */
/*
 * Hardening (issue "descriptor exhaustion, Redis OOM, handler-path trust
 * and config ranges"): faults found by an adversarial pass, each with the
 * test that failed before the fix.
 *   leases: a job never runs twice at once when Redis is out of memory,
 *	refuses or stops answering lease extensions, or says the lease was
 *	taken over. Handlers use a directory as a mutex, so any overlap of
 *	two runs of one job is recorded.
 *   trust: nothing runs from outside handlers.dir when a directory above
 *	it can be changed by others (renamed, swapped for a symlink to
 *	/usr/bin) or it was planted by another user; deferd then claims
 *	nothing, /healthz says why, and it claims again once the directory
 *	is safe.
 *   memory: four jobs with 16 MB payloads at once peak at most at their
 *	payloads plus 256 KiB each (the runner takes the job's copy).
 *   descriptors: 1,100 connections held open to /healthz's port while
 *	deferd may use only 1,024 descriptors: every job still runs on its
 *	first attempt, /healthz answers, and the log stays small.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define LEASE_MS	3000

static struct h_world	 W;

static void
setup(void)
{
	h_world_setup(&W, NULL);
}

static void
teardown(void)
{
	freeReplyObject(h_cmd(W.c, "CLIENT UNPAUSE"));
	freeReplyObject(h_cmd(W.c, "CONFIG SET maxmemory 0"));
	h_world_teardown(&W);
}

/* A config with a 3 s lease, one handler at a time, retry, and extra YAML. */
static const char *
config_with(const char *retry, const char *extra)
{
	static char	buf[4096];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "lease: 3s\n"
	    "concurrency: 1\n"
	    "retry: %s\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 60s\n"
	    "  kill_grace: 10s\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "%s",
	    W.r.url, retry, W.hdir, W.out, extra != NULL ? extra : "");
	return (buf);
}

/* The same with a quick retry (100 ms, then 200 ms). */
static const char *
config_text(const char *extra)
{
	return (config_with("{max_attempts: 5, backoff: 100ms, backoff_max: 200ms}",
	    extra));
}

/* Path of a file in OUT. */
static const char *
out(const char *name)
{
	return (h_world_out(&W, name));
}

/*
 * "slow": records each run, takes $OUT/running as a mutex (a second run
 * while one holds it writes $OUT/overlap), runs 8 s on its first attempt
 * and at once on later ones. With IGNORE_TERM set it ignores SIGTERM, so
 * only SIGKILL stops it (and then the mutex stays: only the test that
 * never kills looks at overlaps).
 */
static void
write_slow_handler(bool ignore_term)
{
	char	text[1024];

	snprintf(text, sizeof(text),
	    "#!/bin/sh\n"
	    "echo \"$DEFERD_ATTEMPT $$\" >> \"$OUT/runs\"\n"
	    "mkdir \"$OUT/running\" 2>/dev/null || echo overlap >> \"$OUT/overlap\"\n"
	    "%s"
	    "echo $$ > \"$OUT/pid\"\n"
	    "[ \"$DEFERD_ATTEMPT\" -gt 1 ] || sleep 8\n"
	    "rmdir \"$OUT/running\"\n",
	    ignore_term ? "trap '' TERM\n" :
	    "trap 'rmdir \"$OUT/running\"; exit 1' TERM\n");
	h_write_file(W.hdir, "slow", text, 0755);
}

/* The pid the running handler wrote, or 0 while it has not. */
static pid_t
pid_file(void)
{
	char	*s = h_read_file(out("pid"));
	pid_t	 pid = 0;

	if (s != NULL && strchr(s, '\n') != NULL)
		pid = (pid_t)strtol(s, NULL, 10);
	free(s);
	return (pid);
}

/* Wait for the first run's handler to start: its pid. */
static pid_t
handler_pid(void)
{
	pid_t	pid = 0;

	ck_assert(H_WAIT_UNTIL((pid = pid_file()) > 0, 15000 * SLOW));
	return (pid);
}

/*
 * Redis out of memory (noeviction, maxmemory far below its use) while a
 * job with a 3 s lease runs 8 s, and a second daemon reaps and claims:
 * the scripts that only free or move memory run under OOM, so the owner
 * keeps extending its lease and the job runs once. Before, the extension
 * was refused while reap and claim went through: three runs at once.
 */
START_TEST(redis_oom_never_runs_a_job_twice_at_once)
{
	struct h_daemon	a, b;

	write_slow_handler(false);
	h_daemon_start(&a, h_world_subdir(&W, "a"), config_text(NULL));
	h_daemon_start(&b, h_world_subdir(&W, "b"), config_text(NULL));
	ck_assert(h_daemon_log_has(&a, "ready", 15000));
	ck_assert(h_daemon_log_has(&b, "ready", 15000));
	h_enqueue(W.c, "oom-1", "slow", "x", 1, 0);
	handler_pid();
	freeReplyObject(h_cmd(W.c, "CONFIG SET maxmemory 1"));
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c,
	    "EXISTS deferd:{default}:result:oom-1") == 1, 30000 * SLOW));
	freeReplyObject(h_cmd(W.c, "CONFIG SET maxmemory 0"));
	ck_assert_msg(h_read_file(out("overlap")) == NULL,
	    "two runs of one job overlapped");
	ck_assert_int_eq(h_count_lines(out("runs")), 1);
	ck_assert_int_eq(h_log_count(&a, "OOM") + h_log_count(&b, "OOM"), 0);
	h_daemon_stop(&a);
	h_daemon_stop(&b);
}
END_TEST

/*
 * Redis stops answering lease extensions (CLIENT PAUSE WRITE) while a
 * handler that ignores SIGTERM runs, with kill_grace (10 s) longer than
 * the lease: the handler is killed before its lease ends, and the log
 * says why. Before, it ran on while its lease ran out.
 */
START_TEST(unanswered_extensions_stop_the_handler_within_the_lease)
{
	struct h_daemon	d;
	pid_t		pid;
	int64_t		paused, gone;

	write_slow_handler(true);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	h_enqueue(W.c, "pause-1", "slow", "x", 1, 0);
	pid = handler_pid();
	paused = h_mono_ms();
	freeReplyObject(h_cmd(W.c, "CLIENT PAUSE 8000 WRITE"));
	ck_assert(H_WAIT_UNTIL(h_pid_gone(pid), 15000));
	gone = h_mono_ms();
	/* The lease ends at most LEASE_MS after the pause (plus slack). */
	ck_assert_msg(gone - paused <= LEASE_MS + 500 * SLOW,
	    "handler stopped %lldms after the pause (lease %dms)",
	    (long long)(gone - paused), LEASE_MS);
	fprintf(stderr, "leases: handler gone %lldms after extensions stopped "
	    "being answered (lease %dms)\n", (long long)(gone - paused),
	    LEASE_MS);
	ck_assert(h_log_count(&d, "lease not extended") >= 1);
	freeReplyObject(h_cmd(W.c, "CLIENT UNPAUSE"));
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c,
	    "EXISTS deferd:{default}:result:pause-1") == 1, 30000 * SLOW));
	h_daemon_stop(&d);
}
END_TEST

/*
 * The job's lease token changes under a running handler (as when another
 * daemon reaped and reclaimed it): the next extension says so and the
 * handler is killed at once. Before, deferd only warned.
 */
START_TEST(a_lease_taken_over_stops_the_handler_at_once)
{
	struct h_daemon	d;
	pid_t		pid;
	int64_t		changed;

	write_slow_handler(true);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	h_enqueue(W.c, "lost-1", "slow", "x", 1, 0);
	pid = handler_pid();
	changed = h_mono_ms();
	h_job_set(W.c, "deferd:{default}:job:lost-1 lease=other");
	ck_assert(H_WAIT_UNTIL(h_pid_gone(pid), 15000));
	/* The next extension (every lease/3) finds out; well within a lease. */
	ck_assert_msg(h_mono_ms() - changed <= LEASE_MS + 200 * SLOW,
	    "handler stopped %lldms after the takeover",
	    (long long)(h_mono_ms() - changed));
	ck_assert(h_log_count(&d, "lease was taken over") >= 1);
	h_daemon_stop(&d);
}
END_TEST

/*
 * The reply to each outcome is lost after Redis ran it (the failpoint
 * lose_outcome_reply) and the outcome is sent again: the scripts answer
 * that no claim holds the job, and since this daemon's lease was still
 * running, it knows the first copy was recorded. Before, each was logged
 * as a lease lost ("another attempt may run").
 */
START_TEST(a_resent_outcome_already_recorded_is_not_a_lost_lease)
{
	static const char *const env[] = {
		"DEFERD_FAILPOINT=lose_outcome_reply", NULL
	};
	struct h_daemon	d;
	char		id[32];

	h_write_file(W.hdir, "ok", "#!/bin/sh\necho ok\n", 0755);
	h_write_file(W.hdir, "fails", "#!/bin/sh\nexit 1\n", 0755);
	h_write_file(W.hdir, "baddata", "#!/bin/sh\nexit 65\n", 0755);
	h_daemon_start_env(&d, W.work, config_with(
	    "{max_attempts: 5, backoff: 1h, backoff_max: 1h}", NULL), env);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "r-ok-%d", i);
		h_enqueue(W.c, id, "ok", "", 0, 0);
	}
	h_enqueue(W.c, "r-fails", "fails", "", 0, 0);
	h_enqueue(W.c, "r-dead", "baddata", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_log_count(&d, "outcome already recorded") == 5,
	    30000 * SLOW));
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:{default}:result:r-ok-0 "
	    "deferd:{default}:result:r-ok-1 deferd:{default}:result:r-ok-2"), 3);
	ck_assert_int_eq(h_job_int(W.c,
	    "deferd:{default}:job:r-fails attempts"), 1);
	ck_assert_int_gt(h_cmd_int(W.c,
	    "ZSCORE deferd:{default}:delayed r-fails"), 0);
	ck_assert_int_gt(h_cmd_int(W.c, "ZSCORE deferd:{default}:dead r-dead"), 0);
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	ck_assert_int_eq(h_log_count(&d, "lease lost"), 0);
	h_daemon_stop(&d);
}
END_TEST

/* ---- trust ---- */

static int	PORT;	/* metrics.listen of the trust tests */

/* A config for handlers.dir dir, with /healthz on PORT and a fast poll. */
static const char *
trust_config(const char *dir)
{
	static char	buf[4096];

	PORT = h_free_port();
	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "poll_interval: 100ms\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "metrics: {listen: \"127.0.0.1:%d\"}\n",
	    W.r.url, dir, W.out, PORT);
	return (buf);
}

/* Whether /healthz answers 503 with text in its body. */
static bool
healthz_says(const char *text)
{
	char	*body = NULL;
	bool	 yes = h_http(PORT, "GET", "/healthz", &body) == 503 &&
		    body != NULL && strstr(body, text) != NULL;

	free(body);
	return (yes);
}

/* Whether job id of the default queue is due and untouched: never claimed. */
static bool
never_claimed(const char *id)
{
	return (h_cmd_int(W.c, "ZSCORE deferd:{default}:delayed %s", id) > 0 &&
	    h_job_int(W.c, "deferd:{default}:job:%s attempts", id) <= 0);
}

/*
 * handlers.dir under a directory anyone can write to: an attacker renames
 * the handlers directory and puts a symlink to /usr/bin in its place. Jobs
 * for "true" (a program of /usr/bin, not a handler) must never run: deferd
 * claims nothing while the path is untrusted, and once the operator has
 * mended it, "true" is a handler that is not found. Before, only the last
 * component was checked and symlinks were followed: /usr/bin/true ran.
 * ("true" is then a handler missing here: its job waits, unspent.)
 */
START_TEST(swapped_parent_directory_runs_nothing_outside)
{
	struct h_daemon	d;
	char		parent[400], dir[420], old[420], buf[512];

	snprintf(parent, sizeof(parent), "%s/shared", W.work);
	snprintf(dir, sizeof(dir), "%s/handlers", parent);
	snprintf(old, sizeof(old), "%s/old", parent);
	ck_assert_int_eq(mkdir(parent, 0755), 0);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	h_write_file(dir, "ok", "#!/bin/sh\necho ran >> \"$OUT/ok\"\n", 0755);
	h_daemon_start(&d, W.work, trust_config(dir));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	ck_assert(H_WAIT_UNTIL(h_http(PORT, "GET", "/healthz", NULL) == 200,
	    15000));
	/* The attacker's moves: the parent is world-writable, then the swap. */
	ck_assert_int_eq(chmod(parent, 0777), 0);
	ck_assert_int_eq(rename(dir, old), 0);
	ck_assert_int_eq(symlink("/usr/bin", dir), 0);
	h_enqueue(W.c, "t-true", "true", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(healthz_says("writable by group or others"),
	    15000));
	ck_assert(!H_WAIT_UNTIL(!never_claimed("t-true"), 3000));
	/* Only the parent mended: the symlink to a system directory is refused. */
	ck_assert_int_eq(chmod(parent, 0755), 0);
	ck_assert(H_WAIT_UNTIL(healthz_says("system directory"), 15000));
	ck_assert(!H_WAIT_UNTIL(!never_claimed("t-true"), 2000));
	/* Mended: claims resume; "true" is not a handler here, "ok" runs. */
	ck_assert_int_eq(unlink(dir), 0);
	ck_assert_int_eq(rename(old, dir), 0);
	h_enqueue(W.c, "t-ok", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ok")) == 1, 15000));
	ck_assert(H_WAIT_UNTIL(strstr(h_job_str(W.c, buf, sizeof(buf),
	    "deferd:{default}:job:t-true last_error"), "not found") != NULL,
	    15000));
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert_int_eq(h_http(PORT, "GET", "/healthz", NULL), 200);
	ck_assert(h_log_count(&d, "claiming jobs again") >= 1);
	h_daemon_stop(&d);
}
END_TEST

/*
 * handlers.dir does not exist yet under a sticky world-writable directory
 * (like /tmp), and another user creates it first with a handler of their
 * own: it never runs. Needs root (to act as that other user); skipped
 * otherwise.
 */
START_TEST(planted_handlers_directory_runs_nothing)
{
	struct h_daemon	d;
	char		sticky[400], dir[420], path[480];
	const uid_t	other = 65534;	/* nobody */

	if (geteuid() != 0) {
		fprintf(stderr, "planted_handlers_directory_runs_nothing: "
		    "skipped, needs root\n");
		return;
	}
	snprintf(sticky, sizeof(sticky), "%s/tmp", W.work);
	snprintf(dir, sizeof(dir), "%s/handlers", sticky);
	ck_assert_int_eq(mkdir(sticky, 0755), 0);
	ck_assert_int_eq(chmod(sticky, 01777), 0);
	/* The other user's dir and handler. */
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	h_write_file(dir, "ok", "#!/bin/sh\necho ran >> \"$OUT/ok\"\n", 0755);
	snprintf(path, sizeof(path), "%s/ok", dir);
	ck_assert_int_eq(chown(path, other, other), 0);
	ck_assert_int_eq(chown(dir, other, other), 0);
	h_daemon_start(&d, W.work, trust_config(dir));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	h_enqueue(W.c, "p-ok", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(healthz_says("owned by uid 65534"), 15000));
	ck_assert(!H_WAIT_UNTIL(!never_claimed("p-ok"), 3000));
	ck_assert_int_eq(h_count_lines(out("ok")), 0);
	/* The operator takes it over: it runs. */
	ck_assert_int_eq(chown(dir, 0, 0), 0);
	ck_assert_int_eq(chown(path, 0, 0), 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ok")) == 1, 15000));
	h_daemon_stop(&d);
}
END_TEST

/* ---- memory ---- */

/* VmHWM (peak resident set) of pid in KiB, or -1. */
static long
peak_rss_kib(pid_t pid)
{
	char	path[64], *text, *p;
	long	kib = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((text = h_read_file(path)) != NULL &&
	    (p = strstr(text, "VmHWM:")) != NULL)
		kib = strtol(p + 6, NULL, 10);
	free(text);
	return (kib);
}

/*
 * Four 16 MB payloads run at once: deferd's peak RSS grows by at most
 * 4 x (16 MB + 256 KiB). Before, each payload was held by the claim
 * reply, the job and the runner: 112 MB for the four. (Sanitizer builds
 * keep freed memory in quarantine: skipped there.)
 */
START_TEST(big_payloads_are_not_held_twice)
{
	const size_t	 len = 16000000;
	struct h_daemon	 d;
	char		*payload, id[16], cfg[1024];
	long		 base, peak;
	int64_t		 due;

#ifdef __SANITIZE_ADDRESS__
	return;
#endif
	payload = malloc(len);
	ck_assert_ptr_nonnull(payload);
	memset(payload, 'p', len);
	h_write_file(W.hdir, "eat", "#!/bin/sh\ncat > /dev/null\n"
	    "echo x >> \"$OUT/ate\"\n", 0755);
	snprintf(cfg, sizeof(cfg), "redis: {url: \"%s\"}\nconcurrency: 4\n"
	    "handlers: {dir: %s, environment: {OUT: \"%s\"}}\n", W.r.url,
	    W.hdir, W.out);
	h_daemon_start(&d, W.work, cfg);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	base = peak_rss_kib(d.pid);
	due = h_redis_now_ms(W.c) + 3000;	/* all four due at once */
	for (int i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "big-%d", i);
		h_enqueue_at(W.c, id, "eat", payload, len, due);
	}
	free(payload);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ate")) == 4, 60000));
	peak = peak_rss_kib(d.pid);
	fprintf(stderr, "memory: peak RSS %ld KiB for four 16 MB payloads "
	    "(%ld KiB at start)\n", peak, base);
	ck_assert_msg(peak - base <= 4 * ((long)len / 1024 + 256),
	    "peak RSS grew by %ld KiB", peak - base);
	h_daemon_stop(&d);
}
END_TEST

/* ---- descriptors ---- */

#define HELD_CONNECTIONS	1100
#define FD_JOBS			40

/* A connection to 127.0.0.1:port started without waiting for it; or -1. */
static int
connect_nowait(int port)
{
	struct sockaddr_in	sa;
	int			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd == -1)
		return (-1);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * Hold HELD_CONNECTIONS connections to deferd's HTTP port while its
 * descriptor limit is fd_limit, enqueue FD_JOBS jobs, and check that each
 * ran once, on its first attempt, that /healthz answers 200 and that the
 * log stays under 1 MB. extra is YAML under metrics:; logged, if not NULL,
 * must be in the log. Returns false when this process cannot hold that
 * many descriptors (the test is skipped).
 */
static bool
held_connections_run(rlim_t fd_limit, const char *extra, const char *logged)
{
	static int	 fds[HELD_CONNECTIONS];
	struct h_daemon	 d;
	struct rlimit	 rl = { fd_limit, fd_limit }, mine;
	struct stat	 st;
	char		 cfg[4096], id[32], *runs;
	int		 n = 0;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &mine), 0);
	if (mine.rlim_max < HELD_CONNECTIONS + 256) {
		fprintf(stderr, "held connections: skipped, hard descriptor "
		    "limit %llu\n", (unsigned long long)mine.rlim_max);
		return (false);
	}
	mine.rlim_cur = mine.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &mine), 0);
	h_write_file(W.hdir, "ok", "#!/bin/sh\n"
	    "echo \"$DEFERD_JOB_ID $DEFERD_ATTEMPT\" >> \"$OUT/runs\"\n", 0755);
	PORT = h_free_port();
	snprintf(cfg, sizeof(cfg),
	    "redis: {url: \"%s\"}\n"
	    "poll_interval: 100ms\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "metrics: {listen: \"127.0.0.1:%d\"%s}\n",
	    W.r.url, W.hdir, W.out, PORT, extra);
	h_daemon_start(&d, W.work, cfg);
	ck_assert(H_WAIT_UNTIL(h_http(PORT, "GET", "/healthz", NULL) == 200,
	    15000));
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &rl, NULL), 0);
	for (int i = 0; i < HELD_CONNECTIONS; i++)
		if ((fds[n] = connect_nowait(PORT)) != -1)
			n++;
	ck_assert_int_eq(n, HELD_CONNECTIONS);
	for (int i = 0; i < FD_JOBS; i++) {
		snprintf(id, sizeof(id), "fd-%d", i);
		h_enqueue(W.c, id, "ok", "", 0, 0);
	}
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(out("runs")) >= FD_JOBS &&
	    h_zcard(W.c, "delayed") == 0 && h_zcard(W.c, "active") == 0,
	    60000 * SLOW), "%d of %d jobs ran", h_count_lines(out("runs")),
	    FD_JOBS);
	ck_assert_int_eq(h_count_lines(out("runs")), FD_JOBS);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	runs = h_read_file(out("runs"));
	for (char *p = runs; (p = strchr(p, ' ')) != NULL; p++)
		ck_assert_msg(p[1] == '1' && p[2] == '\n', "a job ran twice: %s",
		    runs);
	free(runs);
	ck_assert(H_WAIT_UNTIL(h_http(PORT, "GET", "/healthz", NULL) == 200,
	    30000));
	ck_assert_int_eq(stat(d.log, &st), 0);
	ck_assert_msg(st.st_size < 1024 * 1024, "log of %lld bytes",
	    (long long)st.st_size);
	fprintf(stderr, "descriptors: %d held connections, limit %llu: %d of %d "
	    "jobs on attempt 1, log %lld bytes\n", n,
	    (unsigned long long)fd_limit, FD_JOBS, FD_JOBS,
	    (long long)st.st_size);
	/*
	 * The connections past the listen backlog get in as their SYNs are
	 * sent again (1 s, 3 s, ...), maybe after the jobs are done: wait.
	 */
	if (logged != NULL)
		ck_assert_msg(h_daemon_log_has(&d, logged, 30000), "no '%s' in "
		    "the log", logged);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	h_daemon_stop(&d);
	return (true);
}

/*
 * The default cap (256): the held connections never take more than that;
 * a new one closes the oldest, so /healthz gets in. Before, evhttp
 * accepted until EMFILE, then spun writing "Error from accept() call"
 * (hundreds of MB), and every spawn failed: jobs went dead unrun.
 */
START_TEST(held_connections_are_capped)
{
	held_connections_run(1024, "", "closing the oldest");
}
END_TEST

/*
 * No useful cap (5,000, and deferd may use only 200 descriptors): accept()
 * fails with EMFILE, and spawns too. The listener pauses instead of spinning, jobs that
 * could not start go back without spending an attempt while claiming
 * waits, and once the connections time out (request_timeout) every job
 * runs on its first attempt.
 */
START_TEST(descriptor_exhaustion_costs_no_attempt)
{
	held_connections_run(200, ", max_connections: 5000, request_timeout: 3s",
	    "cannot accept connections");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("hardening");
	TCase	*tl = tcase_create("leases"), *tt, *tm, *td;

	tcase_add_checked_fixture(tl, setup, teardown);
	tcase_set_timeout(tl, 120);
	tcase_add_test(tl, redis_oom_never_runs_a_job_twice_at_once);
	tcase_add_test(tl, unanswered_extensions_stop_the_handler_within_the_lease);
	tcase_add_test(tl, a_lease_taken_over_stops_the_handler_at_once);
	tcase_add_test(tl, a_resent_outcome_already_recorded_is_not_a_lost_lease);
	suite_add_tcase(s, tl);
	tt = tcase_create("trust");
	tcase_add_checked_fixture(tt, setup, teardown);
	tcase_set_timeout(tt, 120);
	tcase_add_test(tt, swapped_parent_directory_runs_nothing_outside);
	tcase_add_test(tt, planted_handlers_directory_runs_nothing);
	suite_add_tcase(s, tt);
	tm = tcase_create("memory");
	tcase_add_checked_fixture(tm, setup, teardown);
	tcase_set_timeout(tm, 120);
	tcase_add_test(tm, big_payloads_are_not_held_twice);
	suite_add_tcase(s, tm);
	td = tcase_create("descriptors");
	tcase_add_checked_fixture(td, setup, teardown);
	tcase_set_timeout(td, 180);
	tcase_add_test(td, held_connections_are_capped);
	tcase_add_test(td, descriptor_exhaustion_costs_no_attempt);
	suite_add_tcase(s, td);
	return (h_main(s));
}
