/* SPDX-License-Identifier: MIT */
/*
 * Crash and stall tests of docs/reliability.md P1, P2 and P10: daemons die
 * by SIGKILL at each failpoint (DEFERD_FAILPOINT) and at random moments,
 * Redis dies and comes back from its AOF, a daemon is stopped for longer
 * than its lease. Handlers record every run in OUT; the tests check that no
 * job is lost, that redeliveries carry a stable ID and a growing attempt,
 * and that a late finisher cannot overwrite the newer owner's outcome.
 * Every wait polls a condition with a deadline.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define CHAOS_JOBS		1500
#define CHAOS_DAEMON_KILLS	20
#define CHAOS_CONCURRENCY	8

static struct h_world	 W;	/* Redis, client, handlers/out/work dirs */
static const char *const AOF[] = { "--appendonly", "yes", "--appendfsync", "always", NULL };

static void
setup(void)
{
	h_world_setup(&W, NULL);
}

/* Redis with an AOF, for the test that kills it. */
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

/* A config for the test Redis with this lease and concurrency, plus extra YAML. */
static const char *
config_text(const char *lease, int concurrency, const char *extra)
{
	static char	buf[8192];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "lease: %s\n"
	    "concurrency: %d\n"
	    "retry: {max_attempts: 100, backoff: 100ms, backoff_max: 1s}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 120s\n"
	    "  kill_grace: 500ms\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "log: {level: debug}\n"	/* "done in" lines */
	    "%s",
	    W.r.url, lease, concurrency, W.hdir, W.out, extra ? extra : "");
	return (buf);
}

/* Path of a file in OUT. */
static const char *
out(const char *name)
{
	return (h_world_out(&W, name));
}

/* Whether a waitpid status says "killed by SIGKILL". */
static bool
killed_by_sigkill(int status)
{
	return (status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* qsort comparator of C strings. */
static int
cmp_str(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* qsort comparator of ints. */
static int
cmp_int(const void *a, const void *b)
{
	int	x = *(const int *)a, y = *(const int *)b;

	return ((x > y) - (x < y));
}

/*
 * The first two fields ("id attempt") of every line of a file, sorted, one
 * per line: the set of runs regardless of the order in which processes
 * appended them. Written into buf.
 */
static const char *
runs_of(const char *path, char *buf, size_t len)
{
	char	*text = h_read_file(path), *lines[64], *save = NULL, *l;
	size_t	 n = 0, used = 0;

	buf[0] = '\0';
	if (text == NULL)
		return (buf);
	for (l = strtok_r(text, "\n", &save); l != NULL && n < 64;
	    l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');

		if (sp != NULL && (sp = strchr(sp + 1, ' ')) != NULL)
			*sp = '\0';
		lines[n++] = l;
	}
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s\n", lines[i]);
	free(text);
	return (buf);
}

/* Whether the runs recorded in path are exactly want (see runs_of). */
static bool
runs_are(const char *path, const char *want)
{
	char	buf[2048];

	return (strcmp(runs_of(path, buf, sizeof(buf)), want) == 0);
}

/* The job's stored result ("" when there is none). */
static const char *
result_of(const char *id, char *buf, size_t len)
{
	return (h_cmd_str(W.c, buf, len, "GET deferd:{default}:result:%s", id));
}

/*
 * Record every start in OUT/starts and every success in OUT/log (both
 * "id attempt pid"), then print the attempt as the result. stdin is read to
 * EOF first: a handler orphaned by a daemon that died before writing the
 * payload sees EOF only when that daemon is gone.
 */
static const char FP_HANDLER[] =
	"#!/bin/sh\n"
	"echo \"$DEFERD_JOB_ID $DEFERD_ATTEMPT $$\" >> \"$OUT/starts\"\n"
	"cat > /dev/null\n"
	"echo \"$DEFERD_JOB_ID $DEFERD_ATTEMPT $$\" >> \"$OUT/log\"\n"
	"echo \"attempt $DEFERD_ATTEMPT\"\n";

/*
 * One failpoint: daemon A (lease 1 s, the failpoint armed through env)
 * claims job fp1 and must die by SIGKILL at the failpoint; then daemon B,
 * without failpoints, must find the expired lease and complete the job as
 * attempt 2. A's log must also contain also (unless NULL). Returns with
 * both daemons stopped; the caller checks the runs.
 */
static void
failpoint_run(const char *env, const char *point, const char *also)
{
	const char	*aenv[] = { env, NULL };
	struct h_daemon	 a, b;
	char		 text[256], buf[256];
	int		 status;

	h_write_file(W.hdir, "fp", FP_HANDLER, 0755);
	h_daemon_start_env(&a, h_world_subdir(&W, "a"), config_text("1s", 4, NULL), aenv);
	ck_assert(h_daemon_log_has(&a, "ready", 15000 * SLOW));
	snprintf(text, sizeof(text), "failpoints armed: %s ", point);
	ck_assert_msg(h_daemon_log_has(&a, text, 1000), "no '%s' in A's log", text);
	h_enqueue(W.c, "fp1", "fp", "p", 1, 0);
	status = h_daemon_wait_exit(&a, 15000 * SLOW);
	ck_assert_msg(killed_by_sigkill(status), "daemon A did not die by SIGKILL "
	    "(status %#x)", status);
	snprintf(text, sizeof(text), "failpoint %s reached", point);
	ck_assert_msg(h_daemon_log_has(&a, text, 1000), "no '%s' in A's log", text);
	if (also != NULL)
		ck_assert_msg(h_daemon_log_has(&a, also, 1000), "no '%s' in A's "
		    "log", also);
	/* A died holding the lease of attempt 1. */
	ck_assert_int_eq(h_zcard(W.c, "active"), 1);
	ck_assert_int_eq(h_job_int(W.c, "deferd:{default}:job:fp1 attempts"), 1);

	h_daemon_start(&b, h_world_subdir(&W, "b"), config_text("1s", 4, NULL));
	ck_assert_msg(H_WAIT_UNTIL(strcmp(result_of("fp1", buf, sizeof(buf)),
	    "attempt 2\n") == 0, 20000 * SLOW), "fp1 was not completed as "
	    "attempt 2 by B (result '%s', %lld active)", buf,
	    h_zcard(W.c, "active"));
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 5000 * SLOW));
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert_int_eq(h_job_exists(W.c, "deferd:{default}:job:fp1"), 0);
	ck_assert(h_daemon_log_has(&b, "job fp1 (fp): done in", 5000 * SLOW));
	ck_assert_int_eq(h_log_count(&b, "failpoint"), 0);
	ck_assert_int_eq(kill(b.pid, 0), 0);
	h_daemon_stop(&b);
}

/* after_claim: nothing ran on A; the only run is attempt 2 on B. */
START_TEST(after_claim_crash_runs_attempt_2_elsewhere)
{
	char	buf[2048];

	/* An unknown name is reported and ignored, the known one armed. */
	failpoint_run("DEFERD_FAILPOINT= bogus ,after_claim", "after_claim",
	    "DEFERD_FAILPOINT: unknown failpoint 'bogus' ignored");
	ck_assert(runs_are(out("starts"), "fp1 2\n"));
	ck_assert_msg(runs_are(out("log"), "fp1 2\n"), "runs: %s",
	    runs_of(out("log"), buf, sizeof(buf)));
}
END_TEST

/*
 * after_exec: A spawned attempt 1 and died at once (its payload may be in
 * the pipe already: the pipes exist before the exec); the orphan runs on
 * (its own session) and finishes when its stdin hits EOF.
 * B runs attempt 2, whose result is the one stored.
 */
START_TEST(after_exec_crash_runs_attempt_2_elsewhere)
{
	char	buf[2048];

	failpoint_run("DEFERD_FAILPOINT=after_exec", "after_exec", NULL);
	ck_assert_msg(H_WAIT_UNTIL(runs_are(out("starts"), "fp1 1\nfp1 2\n"),
	    5000 * SLOW), "starts: %s", runs_of(out("starts"), buf, sizeof(buf)));
	ck_assert_msg(H_WAIT_UNTIL(runs_are(out("log"), "fp1 1\nfp1 2\n"),
	    5000 * SLOW), "runs: %s", runs_of(out("log"), buf, sizeof(buf)));
}
END_TEST

/*
 * before_complete: attempt 1 succeeded on A but was never recorded, so B
 * runs it again: at-least-once, both runs complete, attempt 2's result wins.
 */
START_TEST(before_complete_crash_runs_the_job_again)
{
	char	buf[2048];

	failpoint_run("DEFERD_FAILPOINT=before_complete", "before_complete",
	    "job fp1 (fp): done in");
	ck_assert(runs_are(out("starts"), "fp1 1\nfp1 2\n"));
	ck_assert_msg(runs_are(out("log"), "fp1 1\nfp1 2\n"), "runs: %s",
	    runs_of(out("log"), buf, sizeof(buf)));
}
END_TEST

/*
 * P2: A runs attempt 1 of job x, whose handler waits for OUT/go. A is
 * stopped (SIGSTOP) past its lease; B re-claims x as attempt 2 and
 * completes it. Then attempt 1 finishes while A is still stopped, and A is
 * continued: its success must be refused as stale, and the stored result
 * stays attempt 2's.
 */
START_TEST(stopped_daemon_cannot_overwrite_the_newer_attempt)
{
	struct h_daemon	 a, b;
	char		 buf[2048], *log;
	int64_t		 stopped;

	h_write_file(W.hdir, "slow",
	    "#!/bin/sh\n"
	    "echo \"$DEFERD_JOB_ID $DEFERD_ATTEMPT $$\" >> \"$OUT/starts\"\n"
	    "if [ \"$DEFERD_ATTEMPT\" = 1 ]; then\n"
	    "\tn=0\n"	/* bounded: a failed test must not leave it looping */
	    "\twhile [ ! -e \"$OUT/go\" ] && [ $n -lt 1200 ]; do\n"
	    "\t\tsleep 0.05; n=$((n + 1))\n\tdone\n"
	    "fi\n"
	    "echo \"$DEFERD_JOB_ID $DEFERD_ATTEMPT\" >> \"$OUT/log\"\n"
	    "echo \"attempt $DEFERD_ATTEMPT of $DEFERD_JOB_ID\"\n", 0755);
	h_daemon_start(&a, h_world_subdir(&W, "a"), config_text("1s", 4, NULL));
	ck_assert(h_daemon_log_has(&a, "ready", 15000 * SLOW));
	h_enqueue(W.c, "x", "slow", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("starts")) == 1, 15000 * SLOW));
	ck_assert_int_eq(kill(a.pid, SIGSTOP), 0);
	stopped = h_mono_ms();

	h_daemon_start(&b, h_world_subdir(&W, "b"), config_text("1s", 4, NULL));
	/* B can only claim x once A's lease ran out: A is stopped that long. */
	ck_assert_msg(H_WAIT_UNTIL(strcmp(result_of("x", buf, sizeof(buf)),
	    "attempt 2 of x\n") == 0, 20000 * SLOW), "x was not completed as "
	    "attempt 2 by B (result '%s', %lld active)", buf,
	    h_zcard(W.c, "active"));
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 5000 * SLOW));
	ck_assert(runs_are(out("log"), "x 2\n"));
	ck_assert(runs_are(out("starts"), "x 1\nx 2\n"));

	/* Attempt 1 succeeds while A is stopped (the handler is in its own session). */
	h_write_file(W.out, "go", "", 0644);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("log")) == 2, 10000 * SLOW));
	ck_assert_int_gt(h_mono_ms() - stopped, 1000);	/* the lease */
	ck_assert_int_eq(kill(a.pid, SIGCONT), 0);
	/*
	 * A finds attempt 1 done, or (if its first extension after SIGCONT
	 * is answered before it reaps the handler) stops what it takes for a
	 * run whose lease was taken over; either way its outcome is refused.
	 */
	ck_assert(H_WAIT_UNTIL(h_log_count(&a, "job x (slow): done in") +
	    h_log_count(&a, "lease lost: Redis says") > 0, 15000 * SLOW));
	ck_assert_msg(h_daemon_log_has(&a, "job x (slow): lease lost before the "
	    "outcome was recorded", 15000 * SLOW), "A's stale success was not "
	    "refused (result now '%s')", result_of("x", buf, sizeof(buf)));

	/* Attempt 2's outcome stands; A recorded nothing. */
	ck_assert_str_eq(result_of("x", buf, sizeof(buf)), "attempt 2 of x\n");
	ck_assert_int_eq(h_job_exists(W.c, "deferd:{default}:job:x"), 0);
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	/* The same DEFERD_JOB_ID in both runs, attempts 2 then 1 finishing. */
	log = h_read_file(out("log"));
	ck_assert_str_eq(log, "x 2\nx 1\n");
	free(log);
	ck_assert_int_eq(kill(a.pid, 0), 0);
	ck_assert_int_eq(kill(b.pid, 0), 0);
	h_daemon_stop(&a);
	h_daemon_stop(&b);
}
END_TEST

/* splitmix64: a small seeded PRNG, so a failing run can be repeated. */
static uint64_t
rnd_next(uint64_t *s)
{
	uint64_t	z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

/* A random integer in [0, n). */
static int
rnd_below(uint64_t *s, int n)
{
	return ((int)(rnd_next(s) % (uint64_t)n));
}

/* Sleep ms (a random moment to strike at, not a wait for a condition). */
static void
pause_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Start (or restart) chaos daemon slot i in its own directory and wait until it is ready. */
static void
chaos_start(struct h_daemon *d, int i)
{
	h_daemon_start(d, h_world_subdir(&W, i == 0 ? "a" : "b"),
	    config_text("2s", CHAOS_CONCURRENCY, NULL));
	ck_assert_msg(h_daemon_log_has(d, "ready", 30000 * SLOW),
	    "daemon %d did not become ready (log %s)", i, d->log);
}

/*
 * Check the completion log of the chaos run: every job ran at least once;
 * returns the number of lines (runs) and sets *maxattempt.
 */
static int
chaos_check_log(int *maxattempt)
{
	char	*text = h_read_file(out("log")), *save = NULL, *l;
	int	*seen = calloc(CHAOS_JOBS, sizeof(int)), lines = 0, missing = 0;

	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(seen);
	*maxattempt = 0;
	for (l = strtok_r(text, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		int	idx, attempt, pid;
		double	start, end;

		ck_assert_msg(sscanf(l, "c%d %d %d %lf %lf", &idx, &attempt, &pid,
		    &start, &end) == 5, "bad log line '%s'", l);
		ck_assert_msg(idx >= 0 && idx < CHAOS_JOBS && attempt >= 1 &&
		    end >= start, "bad log line '%s'", l);
		seen[idx]++;
		if (attempt > *maxattempt)
			*maxattempt = attempt;
		lines++;
	}
	for (int i = 0; i < CHAOS_JOBS; i++)
		if (seen[i] == 0 && missing++ < 10)
			fprintf(stderr, "chaos: job c%04d never completed\n", i);
	free(seen);
	free(text);
	ck_assert_msg(missing == 0, "%d job(s) lost", missing);
	return (lines);
}

/*
 * A handler for the P10 tests: records its start, then on attempt 1 waits
 * for OUT/go (bounded, so a failed test leaves nothing looping), then
 * records its end and prints the attempt.
 */
static const char HELD_HANDLER[] =
	"#!/bin/sh\n"
	"echo \"$DEFERD_JOB_ID $DEFERD_ATTEMPT $$\" >> \"$OUT/starts\"\n"
	"if [ \"$DEFERD_ATTEMPT\" = 1 ]; then\n"
	"\tn=0\n"
	"\twhile [ ! -e \"$OUT/go\" ] && [ $n -lt 1200 ]; do\n"
	"\t\tsleep 0.05; n=$((n + 1))\n\tdone\n"
	"fi\n"
	"echo \"$DEFERD_JOB_ID $DEFERD_ATTEMPT $$\" >> \"$OUT/log\"\n"
	"echo \"attempt $DEFERD_ATTEMPT\"\n";

/* Enqueue held1..held4, each on its own resource, due now. */
static void
enqueue_four_held(void)
{
	char	id[16], res[16];

	h_write_file(W.hdir, "held", HELD_HANDLER, 0755);
	for (int i = 1; i <= 4; i++) {
		snprintf(id, sizeof(id), "held%d", i);
		snprintf(res, sizeof(res), "r%d", i);
		h_enqueue_with(W.c, id, "held", res, 0, 0);
	}
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("starts")) == 4, 15000 * SLOW));
}

/*
 * P10: four handlers that will not finish; SIGTERM. The daemon claims
 * nothing more, stops them after shutdown_timeout + kill_grace, returns
 * their jobs to delayed without spending an attempt, releases every lock
 * and exits 0 within that time plus a second (scaled for slow builds).
 * Another daemon then completes all of them.
 */
START_TEST(p10_sigterm_returns_jobs_and_locks_then_exits_0)
{
	struct h_daemon	 a, b;
	int64_t		 t0, took;
	int		 status;

	h_daemon_start(&a, h_world_subdir(&W, "a"), config_text("30s", 4,
	    "shutdown_timeout: 1s\n"));
	ck_assert(h_daemon_log_has(&a, "ready", 15000 * SLOW));
	enqueue_four_held();
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:lock:r1 deferd:lock:r2 "
	    "deferd:lock:r3 deferd:lock:r4"), 4);
	t0 = h_mono_ms();
	ck_assert_int_eq(kill(a.pid, SIGTERM), 0);
	ck_assert(h_daemon_log_has(&a, "draining", 5000 * SLOW));
	h_enqueue(W.c, "late", "held", "", 0, 0);	/* must not be claimed */
	status = h_daemon_wait_exit(&a, 15000 * SLOW);
	took = h_mono_ms() - t0;
	fprintf(stderr, "p10: SIGTERM to exit %" PRId64 "ms\n", took);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "daemon did not exit 0 (status %#x)", status);
	/* shutdown_timeout 1 s + kill_grace 0.5 s + 1 s */
	ck_assert_msg(took <= 2500 * SLOW, "exit took %" PRId64 "ms", took);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:lock:r1 deferd:lock:r2 "
	    "deferd:lock:r3 deferd:lock:r4"), 0);
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 5);
	for (int i = 1; i <= 4; i++)
		ck_assert_int_eq(h_job_int(W.c, "deferd:{default}:job:held%d "
		    "attempts", i), 0);
	ck_assert_int_eq(h_count_lines(out("starts")), 4);	/* not "late" */
	ck_assert_int_eq(h_count_lines(out("log")), 0);		/* all stopped */

	h_write_file(W.out, "go", "", 0644);
	h_daemon_start(&b, h_world_subdir(&W, "b"), config_text("30s", 4, NULL));
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("log")) == 5 &&
	    h_zcard(W.c, "active") == 0, 20000 * SLOW));
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:lock:r1 "
	    "deferd:lock:r2 deferd:lock:r3 deferd:lock:r4") == 0, 5000 * SLOW));
	h_daemon_stop(&b);
}
END_TEST

/*
 * P10 variant: SIGTERM, then SIGKILL during the drain (as a supervisor
 * with a short stop timeout would). Nothing is returned or released; the
 * jobs come back when their leases and locks expire and run again on
 * another daemon as attempt 2. The orphaned first runs may still finish:
 * duplicates, never a lost job.
 */
START_TEST(p10_term_then_kill_recovers_by_lease)
{
	struct h_daemon	 a, b;
	char		 buf[2048];
	int		 status;

	h_daemon_start(&a, h_world_subdir(&W, "a"), config_text("1s", 4,
	    "shutdown_timeout: 60s\nlocks: {lease: 1s}\n"));
	ck_assert(h_daemon_log_has(&a, "ready", 15000 * SLOW));
	enqueue_four_held();
	ck_assert_int_eq(kill(a.pid, SIGTERM), 0);
	ck_assert(h_daemon_log_has(&a, "draining", 5000 * SLOW));
	status = h_daemon_signal(&a, SIGKILL, true);
	ck_assert(killed_by_sigkill(status));
	ck_assert_int_eq(h_zcard(W.c, "active"), 4);

	h_daemon_start(&b, h_world_subdir(&W, "b"), config_text("1s", 4,
	    "locks: {lease: 1s}\n"));
	ck_assert_msg(H_WAIT_UNTIL(runs_are(out("log"), "held1 2\nheld2 2\n"
	    "held3 2\nheld4 2\n"), 20000 * SLOW), "runs: %s",
	    runs_of(out("log"), buf, sizeof(buf)));
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 5000 * SLOW));
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	for (int i = 1; i <= 4; i++) {
		char	id[16];

		snprintf(id, sizeof(id), "held%d", i);
		ck_assert_str_eq(result_of(id, buf, sizeof(buf)), "attempt 2\n");
	}
	/* The orphans of A finish too: each job ran twice, none was lost. */
	h_write_file(W.out, "go", "", 0644);
	ck_assert_msg(H_WAIT_UNTIL(runs_are(out("log"), "held1 1\nheld1 2\n"
	    "held2 1\nheld2 2\nheld3 1\nheld3 2\nheld4 1\nheld4 2\n"),
	    10000 * SLOW), "runs: %s", runs_of(out("log"), buf, sizeof(buf)));
	h_daemon_stop(&b);
}
END_TEST

/*
 * P1 under chaos: CHAOS_JOBS jobs (each handler sleeps 0-300 ms, the
 * payload says how long) on two daemons with a 2 s lease; CHAOS_DAEMON_KILLS
 * times a random daemon is killed with SIGKILL at a random moment and
 * restarted, and once Redis is (restarted from its AOF). The moments are
 * random points of progress (completed runs) plus a random delay, so every
 * kill strikes while work is in flight. No job may be lost, nothing may
 * stay leased or delayed, and each kill may cost at most one rerun per
 * slot.
 */
START_TEST(p1_chaos_kills_lose_no_job)
{
	struct h_daemon	 d[2];
	uint64_t	 seed, rs;
	const char	*env = getenv("DEFERD_TEST_SEED");
	int		 at[CHAOS_DAEMON_KILLS + 1], redis_at, kills = 0;
	int		 lines, maxattempt, status, i;
	int64_t		 t0 = h_mono_ms();
	char		 id[32], payload[16];

	seed = env != NULL ? strtoull(env, NULL, 10) :
	    (uint64_t)h_real_ms() ^ ((uint64_t)getpid() << 32);
	fprintf(stderr, "p1 chaos: seed %" PRIu64 " (DEFERD_TEST_SEED=%" PRIu64
	    " repeats it)\n", seed, seed);
	rs = seed;
	h_write_file(W.hdir, "chaos",
	    "#!/bin/sh\n"
	    "read start _ < /proc/uptime\n"
	    "read s\n"
	    "sleep \"$s\"\n"
	    "read end _ < /proc/uptime\n"
	    "echo \"$DEFERD_JOB_ID $DEFERD_ATTEMPT $$ $start $end\" >> \"$OUT/log\"\n",
	    0755);
	for (i = 0; i < CHAOS_JOBS; i++) {
		int ms = (int)(((unsigned)i * 7919u + 13u) % 301u);

		snprintf(id, sizeof(id), "c%04d", i);
		snprintf(payload, sizeof(payload), "%d.%03d\n", ms / 1000, ms % 1000);
		h_enqueue(W.c, id, "chaos", payload, strlen(payload), 0);
	}
	/* Strike points: distinct random progress marks in 5%..90% of the jobs. */
	for (i = 0; i <= CHAOS_DAEMON_KILLS; i++)
		at[i] = CHAOS_JOBS / 20 + rnd_below(&rs, CHAOS_JOBS * 85 / 100);
	qsort(at, CHAOS_DAEMON_KILLS + 1, sizeof(at[0]), cmp_int);
	redis_at = rnd_below(&rs, CHAOS_DAEMON_KILLS + 1);

	chaos_start(&d[0], 0);
	chaos_start(&d[1], 1);
	for (int k = 0; k <= CHAOS_DAEMON_KILLS; k++) {
		ck_assert_msg(H_WAIT_UNTIL(h_count_lines(out("log")) >= at[k],
		    60000 * SLOW), "stuck below %d completions", at[k]);
		pause_ms(rnd_below(&rs, 200));
		if (k == redis_at) {
			fprintf(stderr, "p1 chaos: kill -9 redis-server at %d runs\n",
			    h_count_lines(out("log")));
			ck_assert_int_eq(kill(W.r.pid, SIGKILL), 0);
			redisFree(W.c);
			W.c = NULL;
			h_redis_restart(&W.r);
			W.c = h_redis_connect(&W.r);
			continue;
		}
		i = rnd_below(&rs, 2);
		ck_assert_int_eq(kill(d[i].pid, SIGKILL), 0);
		status = h_daemon_wait_exit(&d[i], 10000 * SLOW);
		ck_assert_msg(killed_by_sigkill(status), "daemon %d had died before "
		    "the kill (status %#x, log %s)", i, status, d[i].log);
		kills++;
		chaos_start(&d[i], i);
	}
	ck_assert_int_eq(kills, CHAOS_DAEMON_KILLS);
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(out("log")) >= CHAOS_JOBS &&
	    h_zcard(W.c, "delayed") == 0 && h_zcard(W.c, "active") == 0,
	    120000 * SLOW), "not finished: %d runs, %lld delayed, %lld active",
	    h_count_lines(out("log")), h_zcard(W.c, "delayed"),
	    h_zcard(W.c, "active"));
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	lines = chaos_check_log(&maxattempt);
	fprintf(stderr, "p1 chaos: %d jobs, %d runs (%d reruns), max attempt %d, "
	    "%d daemon kills + 1 redis kill, %.1f s\n", CHAOS_JOBS, lines,
	    lines - CHAOS_JOBS, maxattempt, kills,
	    (double)(h_mono_ms() - t0) / 1000.0);
	/*
	 * A daemon killed with SIGKILL leaves at most CHAOS_CONCURRENCY
	 * claimed jobs, each of which may have run (its orphaned handler
	 * finishes) and then runs again. A Redis kill can let the leases of
	 * both daemons expire while they reconnect: it counts twice.
	 */
	ck_assert_int_le(lines - CHAOS_JOBS, (kills + 2) * CHAOS_CONCURRENCY);
	for (i = 0; i < 2; i++) {
		ck_assert_msg(kill(d[i].pid, 0) == 0, "daemon %d died", i);
		h_daemon_stop(&d[i]);
	}
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("faults");
	TCase	*tf = tcase_create("failpoints");
	TCase	*tc = tcase_create("chaos");

	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_set_timeout(tf, 120 * SLOW);
	tcase_add_test(tf, after_claim_crash_runs_attempt_2_elsewhere);
	tcase_add_test(tf, after_exec_crash_runs_attempt_2_elsewhere);
	tcase_add_test(tf, before_complete_crash_runs_the_job_again);
	tcase_add_test(tf, stopped_daemon_cannot_overwrite_the_newer_attempt);
	tcase_add_test(tf, p10_sigterm_returns_jobs_and_locks_then_exits_0);
	tcase_add_test(tf, p10_term_then_kill_recovers_by_lease);
	suite_add_tcase(s, tf);
	tcase_add_checked_fixture(tc, setup_aof, teardown);
	tcase_set_timeout(tc, 300 * SLOW);
	tcase_add_test(tc, p1_chaos_kills_lose_no_job);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
