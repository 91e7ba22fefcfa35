/* SPDX-License-Identifier: MIT */
/*
 * Resource locks end to end (README: Locks, docs/reliability.md P3): the
 * lock scripts against a real Redis, deferd daemons running shell handlers
 * that record when they held a resource, and deferctl lock. Every wait
 * polls a condition with a generous deadline; timing checks are lower
 * bounds only.
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
#include "keys.h"
#include "rclient.h"
#include "scripts.h"

static struct h_world	 W;	/* Redis, client, handlers/out/work dirs */

/* Start Redis and make the directories. */
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
 * A config for the test Redis with locks: {LOCKS}, the given concurrency,
 * and handlers_extra appended inside the handlers: map.
 */
static const char *
config_text(const char *locks, int concurrency, const char *handlers_extra)
{
	static char	buf[8192];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "concurrency: %d\n"
	    "retry: {max_attempts: 3, backoff: 100ms, backoff_max: 2s}\n"
	    "locks: {%s}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 60s\n"
	    "  kill_grace: 500ms\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "%s",
	    W.r.url, concurrency, locks, W.hdir, W.out,
	    handlers_extra != NULL ? handlers_extra : "");
	return (buf);
}

/* Start a daemon with its own directory (config and log names never collide). */
static void
start_daemon(struct h_daemon *d, const char *name, const char *config)
{
	char	dir[600];

	snprintf(dir, sizeof(dir), "%s/%s", W.work, name);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	h_daemon_start(d, dir, config);
	ck_assert(h_daemon_log_has(d, "ready", 15000));
}

/* Enqueue through the enqueue script with a resource (NULL: none). */
static void
enqueue(const char *id, const char *handler, const char *resource,
    int64_t delay_ms, const char *max_attempts)
{
	char		*jkey = keys_job("deferd", "default", id);
	char		 delay[32];
	const char	*argv[] = { jkey, "deferd:{default}:delayed", id, handler,
			    "", "in", delay, max_attempts, resource ? resource : "",
			    "", "deferd:{default}:wake", "" };
	redisReply	*rep;

	snprintf(delay, sizeof(delay), "%" PRId64, delay_ms);
	rep = rclient_script(W.c, SCRIPT_ENQUEUE, 2, 12, argv, NULL);
	ck_assert_msg(rep != NULL && rep->type == REDIS_REPLY_ARRAY,
	    "enqueue failed: %s", rep && rep->type == REDIS_REPLY_ERROR ?
	    rep->str : W.c->errstr);
	freeReplyObject(rep);
	free(jkey);
}

/* Path of a file in OUT. */
static const char *
out(const char *name)
{
	return (h_world_out(&W, name));
}

/* A job field as an integer (-1 when missing). */
static long long
job_int(const char *id, const char *field)
{
	return (h_job_int(W.c, "deferd:{default}:job:%s %s", id, field));
}

/* Whether a job field contains text. */
static bool
job_field_has(const char *id, const char *field, const char *text)
{
	char	buf[1024];

	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:%s %s", id,
	    field);
	return (strstr(buf, text) != NULL);
}

/* The handler of the exclusion tests: one line per run, written at its end. */
static const char RECORD[] =
    "#!/bin/sh\n"
    "s=$(date +%s%3N)\n"
    "sleep 0.0$(( $(od -An -N1 -tu1 /dev/urandom) % 3 + 2 ))\n"
    "e=$(date +%s%3N)\n"
    "echo \"$DEFERD_RESOURCE $s $e $DEFERD_FENCING_TOKEN $DEFERD_JOB_ID $DEFERD_ATTEMPT\" >> \"$OUT/runs\"\n";

/* One line of the runs file. */
struct run_rec {
	char		res[32];
	long long	start, end, fence;
	char		id[64];
	int		attempt;
};

/* Read OUT/runs into a new array; *n gets the count. */
static struct run_rec *
read_runs(int *n)
{
	char		*text = h_read_file(out("runs")), *line, *save = NULL;
	struct run_rec	*v;
	int		 cap = h_count_lines(out("runs")) + 1;

	v = calloc((size_t)cap, sizeof(*v));
	ck_assert_ptr_nonnull(v);
	*n = 0;
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		struct run_rec *r = &v[*n];

		ck_assert_int_lt(*n, cap);
		ck_assert_msg(sscanf(line, "%31s %lld %lld %lld %63s %d", r->res,
		    &r->start, &r->end, &r->fence, r->id, &r->attempt) == 6,
		    "bad line '%s'", line);
		(*n)++;
	}
	free(text);
	return (v);
}

/* Order runs by resource, then start time. */
static int
run_cmp(const void *a, const void *b)
{
	const struct run_rec	*x = a, *y = b;
	int			 c = strcmp(x->res, y->res);

	if (c != 0)
		return (c);
	return (x->start < y->start ? -1 : x->start > y->start);
}

/* No two runs of one resource overlap and fences grow in start order. */
static void
assert_exclusive(struct run_rec *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), run_cmp);
	for (int i = 1; i < n; i++) {
		if (strcmp(v[i].res, v[i - 1].res) != 0)
			continue;
		ck_assert_msg(v[i].start >= v[i - 1].end, "%s: %s [%lld,%lld] "
		    "overlaps %s [%lld,%lld]", v[i].res, v[i].id, v[i].start,
		    v[i].end, v[i - 1].id, v[i - 1].start, v[i - 1].end);
		ck_assert_msg(v[i].fence > v[i - 1].fence, "%s: fence %lld of "
		    "%s after %lld of %s", v[i].res, v[i].fence, v[i].id,
		    v[i - 1].fence, v[i - 1].id);
	}
}

/* --- the scripts on their own ------------------------------------------- */

/* Run a lock script; the reply (caller frees). */
static redisReply *
lock_script(enum script_id id, const char *res, const char *token,
    const char *lease)
{
	char		*lk = keys_lock("deferd", res, false);
	char		*fk = keys_fence("deferd", res, false);
	const char	*argv[4];
	int		 argc = 0, nkeys = 1;
	redisReply	*r;

	argv[argc++] = lk;
	if (id == SCRIPT_LOCK_ACQUIRE) {
		argv[argc++] = fk;
		nkeys = 2;
	}
	argv[argc++] = token;
	if (lease != NULL)
		argv[argc++] = lease;
	r = rclient_script(W.c, id, nkeys, argc, argv, NULL);
	ck_assert_ptr_nonnull(r);
	free(lk);
	free(fk);
	return (r);
}

/* Acquire: the fence on success, or -pttl-1 (< 0) on conflict. */
static long long
acquire(const char *res, const char *token, const char *lease)
{
	redisReply	*r = lock_script(SCRIPT_LOCK_ACQUIRE, res, token, lease);
	long long	 v;

	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_int_eq(r->elements, 2);
	v = r->element[0]->integer == 1 ? r->element[1]->integer :
	    -r->element[1]->integer - 1;
	freeReplyObject(r);
	return (v);
}

/* Extend or release: the integer reply. */
static long long
lock_int(enum script_id id, const char *res, const char *token,
    const char *lease)
{
	redisReply	*r = lock_script(id, res, token, lease);
	long long	 v;

	ck_assert_msg(r->type == REDIS_REPLY_INTEGER, "reply type %d: %s",
	    r->type, r->type == REDIS_REPLY_ERROR ? r->str : "");
	v = r->integer;
	freeReplyObject(r);
	return (v);
}

START_TEST(scripts_acquire_fence_and_conflict)
{
	char	buf[64];

	ck_assert_int_eq(acquire("r", "tokA", "60000"), 1);
	h_cmd_str(W.c, buf, sizeof(buf), "GET deferd:lock:r");
	ck_assert_str_eq(buf, "tokA");
	ck_assert_int_gt(h_cmd_int(W.c, "PTTL deferd:lock:r"), 50000);
	/* Busy: nothing changes, the holder's remaining lease is returned. */
	ck_assert_int_lt(acquire("r", "tokB", "60000"), -50000);
	ck_assert_int_eq(h_cmd_int(W.c, "GET deferd:fence:r"), 1);
	h_cmd_str(W.c, buf, sizeof(buf), "GET deferd:lock:r");
	ck_assert_str_eq(buf, "tokA");
	/* The same token again (a lost reply): still held, same fence. */
	ck_assert_int_eq(acquire("r", "tokA", "60000"), 1);
	ck_assert_int_eq(h_cmd_int(W.c, "GET deferd:fence:r"), 1);
	/* Next holders get larger fences. */
	ck_assert_int_eq(lock_int(SCRIPT_LOCK_RELEASE, "r", "tokA", NULL), 1);
	ck_assert_int_eq(acquire("r", "tokB", "60000"), 2);
	ck_assert_int_eq(lock_int(SCRIPT_LOCK_RELEASE, "r", "tokB", NULL), 1);
	ck_assert_int_eq(acquire("r", "tokC", "60000"), 3);
	/* An expired lock is free again. */
	ck_assert_int_eq(acquire("short", "t1", "50"), 1);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:lock:short") == 0, 5000));
	ck_assert_int_eq(acquire("short", "t2", "60000"), 2);
	/* Bad arguments are refused before any write. */
	{
		redisReply *r = lock_script(SCRIPT_LOCK_ACQUIRE, "z", "t", "abc");

		ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
		freeReplyObject(r);
	}
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:lock:z deferd:fence:z"), 0);
}
END_TEST

START_TEST(scripts_wrong_token_neither_releases_nor_extends)
{
	char		buf[64];
	long long	ttl;

	ck_assert_int_eq(acquire("r", "owner", "30000"), 1);
	ttl = h_cmd_int(W.c, "PTTL deferd:lock:r");
	ck_assert_int_eq(lock_int(SCRIPT_LOCK_RELEASE, "r", "intruder", NULL), 0);
	ck_assert_int_eq(lock_int(SCRIPT_LOCK_RELEASE, "r", "", NULL), 0);
	ck_assert_int_eq(lock_int(SCRIPT_LOCK_EXTEND, "r", "intruder", "600000"), 0);
	h_cmd_str(W.c, buf, sizeof(buf), "GET deferd:lock:r");
	ck_assert_str_eq(buf, "owner");
	/* The TTL was not pushed (600 s) nor removed. */
	ck_assert_int_le(h_cmd_int(W.c, "PTTL deferd:lock:r"), ttl);
	ck_assert_int_gt(h_cmd_int(W.c, "PTTL deferd:lock:r"), 20000);
	/* The owner can extend and release. */
	ck_assert_int_eq(lock_int(SCRIPT_LOCK_EXTEND, "r", "owner", "600000"), 1);
	ck_assert_int_gt(h_cmd_int(W.c, "PTTL deferd:lock:r"), 500000);
	ck_assert_int_eq(lock_int(SCRIPT_LOCK_RELEASE, "r", "owner", NULL), 1);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:lock:r"), 0);
	/* Gone: extend and release say so and create nothing. */
	ck_assert_int_eq(lock_int(SCRIPT_LOCK_EXTEND, "r", "owner", "1000"), 0);
	ck_assert_int_eq(lock_int(SCRIPT_LOCK_RELEASE, "r", "owner", NULL), 0);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:lock:r"), 0);
}
END_TEST

/* --- daemons -------------------------------------------------------------- */

START_TEST(four_daemons_200_jobs_5_resources_never_overlap)
{
	struct h_daemon	 d[4];
	struct run_rec	*v;
	char		 id[32], res[16], name[8], cmd[700], buf[64];
	int		 n;
	FILE		*p;

	h_write_file(W.hdir, "rec", RECORD, 0755);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		start_daemon(&d[i], name, config_text(i < 2 ?
		    "lease: 2s, on_conflict: requeue, requeue_delay: 100ms" :
		    "lease: 2s, on_conflict: wait, wait_timeout: 60s", 8, NULL));
	}
	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "x%03d", i);
		snprintf(res, sizeof(res), "res%d", i % 5);
		enqueue(id, "rec", res, 1000, "");
	}
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("runs")) >= 200 &&
	    h_zcard(W.c, "active") == 0 && h_zcard(W.c, "delayed") == 0, 170000));
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	v = read_runs(&n);
	ck_assert_int_eq(n, 200);
	assert_exclusive(v, n);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(v[i].attempt, 1);
	free(v);
	snprintf(cmd, sizeof(cmd), "cut -d' ' -f5 '%s' | sort -u | wc -l",
	    out("runs"));
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), p));
	pclose(p);
	ck_assert_int_eq(atoi(buf), 200);
	/* Every lock was released. */
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:lock:res0 "
	    "deferd:lock:res1 deferd:lock:res2 deferd:lock:res3 "
	    "deferd:lock:res4") == 0, 10000));
	/* Contention did happen: the requeue daemons met held locks. */
	ck_assert(h_daemon_log_has(&d[0], "is locked; requeued", 0) ||
	    h_daemon_log_has(&d[1], "is locked; requeued", 0));
	for (int i = 0; i < 4; i++) {
		ck_assert(!h_daemon_log_has(&d[i], "lost", 0));
		h_daemon_stop(&d[i]);
	}
}
END_TEST

START_TEST(handler_outliving_the_lease_keeps_the_lock)
{
	struct h_daemon	 a, b;
	struct run_rec	*v;
	int		 n;

	h_write_file(W.hdir, "long",
	    "#!/bin/sh\ns=$(date +%s%3N)\nsleep 3\ne=$(date +%s%3N)\n"
	    "echo \"$DEFERD_RESOURCE $s $e $DEFERD_FENCING_TOKEN $DEFERD_JOB_ID $DEFERD_ATTEMPT\" >> \"$OUT/runs\"\n",
	    0755);
	/* a can run one job at a time, so the second one must go to b. */
	start_daemon(&a, "a", config_text("lease: 1s, requeue_delay: 200ms", 1,
	    NULL));
	enqueue("first", "long", "shared", 0, "");
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:lock:shared") == 1,
	    15000));
	start_daemon(&b, "b", config_text("lease: 1s, requeue_delay: 200ms", 8, NULL));
	enqueue("second", "long", "shared", 0, "");
	/* b meets the lock, requeues without spending attempts, again and again. */
	ck_assert(h_daemon_log_has(&b, "job second (long): resource shared is "
	    "locked; requeued", 15000));
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("runs")) == 2, 30000));
	v = read_runs(&n);
	ck_assert_int_eq(n, 2);
	assert_exclusive(v, n);
	ck_assert_int_ge(v[0].end - v[0].start, 3000);	/* 3 leases */
	ck_assert_str_eq(v[0].id, "first");
	ck_assert_int_eq(v[0].attempt, 1);
	ck_assert_int_eq(v[1].attempt, 1);		/* conflicts cost nothing */
	free(v);
	ck_assert(!h_daemon_log_has(&a, "lost", 0));
	ck_assert(!h_daemon_log_has(&b, "lost", 0));
	h_daemon_stop(&a);
	h_daemon_stop(&b);
}
END_TEST

/* A handler whose first attempt runs until it is stopped; one line per run. */
static const char VICTIM[] =
    "#!/bin/sh\necho \"$DEFERD_ATTEMPT $DEFERD_FENCING_TOKEN $$\" >> \"$OUT/runs\"\n"
    "[ \"$DEFERD_ATTEMPT\" = 1 ] && exec sleep 1000\nexit 0\n";

/*
 * docs/reliability.md P3: Redis stops taking writes (CLIENT PAUSE WRITE)
 * while a handler holds a 2 s lock. deferd cannot extend it, so once the
 * lease has passed on its monotonic clock it can no longer prove it holds
 * the lock and must stop the handler, without waiting for Redis: the
 * handler is gone while the pause still lasts, and no success is recorded
 * for it.
 */
START_TEST(client_pause_stops_the_handler_within_the_lease)
{
	struct h_daemon	 d;
	char		*text;
	long		 pid1, fence1;
	int64_t		 paused_at;
	int		 att1, att2;

	h_write_file(W.hdir, "victim", VICTIM, 0755);
	start_daemon(&d, "d", config_text("lease: 2s", 8, NULL));
	enqueue("p1", "victim", "paused", 0, "");
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("runs")) == 1, 15000));
	text = h_read_file(out("runs"));
	ck_assert_int_eq(sscanf(text, "%d %ld %ld", &att1, &fence1, &pid1), 3);
	free(text);
	paused_at = h_mono_ms();
	freeReplyObject(h_cmd(W.c, "CLIENT PAUSE 10000 WRITE"));
	/* lease 2 s + kill_grace 0.5 s, with room for a busy machine. */
	ck_assert(H_WAIT_UNTIL(h_pid_gone((pid_t)pid1), 9000));
	ck_assert_int_lt(h_mono_ms() - paused_at, 10000);
	ck_assert(h_daemon_log_has(&d, "lock on resource paused lost", 1000));
	freeReplyObject(h_cmd(W.c, "CLIENT UNPAUSE"));
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("runs")) == 2, 20000));
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c,
	    "EXISTS deferd:{default}:result:p1") == 1, 15000));
	text = h_read_file(out("runs"));
	ck_assert_int_eq(sscanf(text, "%d %ld %ld\n%d", &att1, &fence1, &pid1,
	    &att2), 4);
	free(text);
	ck_assert_int_eq(att1, 1);
	ck_assert_int_eq(att2, 2);	/* the stopped run was never a success */
	h_daemon_stop(&d);
}
END_TEST

START_TEST(lock_deleted_by_hand_stops_the_handler_and_retries)
{
	struct h_daemon	 d;
	char		*text;
	long		 pid1, fence1, fence2;
	int		 att1, att2;

	h_write_file(W.hdir, "victim", VICTIM, 0755);
	start_daemon(&d, "d", config_text("lease: 1500ms", 8, NULL));
	enqueue("v1", "victim", "fragile", 0, "");
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("runs")) == 1, 15000));
	ck_assert_int_eq(h_cmd_int(W.c, "DEL deferd:lock:fragile"), 1);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("runs")) == 2, 20000));
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c,
	    "EXISTS deferd:{default}:result:v1") == 1, 15000));
	text = h_read_file(out("runs"));
	ck_assert_int_eq(sscanf(text, "%d %ld %ld\n%d %ld", &att1, &fence1,
	    &pid1, &att2, &fence2), 5);
	free(text);
	ck_assert_int_eq(att1, 1);
	ck_assert_int_eq(att2, 2);		/* the stopped run was an attempt */
	ck_assert_int_gt(fence2, fence1);
	ck_assert(H_WAIT_UNTIL(h_pid_gone((pid_t)pid1), 10000));
	ck_assert(h_daemon_log_has(&d, "lock on resource fragile lost", 1000));
	ck_assert(h_daemon_log_has(&d, "killing process group", 1000));
	h_daemon_stop(&d);
}
END_TEST

START_TEST(policy_requeue_spends_no_attempt)
{
	struct h_daemon	d;
	int64_t		t0;
	long long	due;

	h_write_file(W.hdir, "rec", RECORD, 0755);
	start_daemon(&d, "d", config_text("on_conflict: requeue, requeue_delay: 1s",
	    8, NULL));
	h_cmd_int(W.c, "SET deferd:lock:busy someone PX 60000");
	t0 = h_redis_now_ms(W.c);
	enqueue("q1", "rec", "busy", 0, "");
	ck_assert(H_WAIT_UNTIL(job_field_has("q1", "last_error",
	    "resource locked") && h_cmd_int(W.c, "ZSCORE deferd:{default}:delayed q1") > 0,
	    15000));
	due = h_cmd_int(W.c, "ZSCORE deferd:{default}:delayed q1");
	ck_assert_int_ge(due, t0 + 1000);
	ck_assert_int_eq(job_int("q1", "attempts"), 0);
	ck_assert_int_eq(h_count_lines(out("runs")), 0);
	h_cmd_int(W.c, "DEL deferd:lock:busy");
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("runs")) == 1, 15000));
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:{default}:result:q1") == 1,
	    5000));
	{
		char *t = h_read_file(out("runs"));

		ck_assert_msg(strstr(t, " q1 1\n") != NULL, "runs: %s", t);
		free(t);
	}
	h_daemon_stop(&d);
}
END_TEST

START_TEST(policy_wait_runs_after_the_holder_releases)
{
	struct h_daemon	 d;
	struct run_rec	*v;
	int64_t		 t0;
	int		 n;

	h_write_file(W.hdir, "rec", RECORD, 0755);
	start_daemon(&d, "d", config_text("on_conflict: wait, wait_timeout: 20s",
	    8, NULL));
	t0 = h_redis_now_ms(W.c);
	h_cmd_int(W.c, "SET deferd:lock:held someone PX 1500");	/* released by expiry */
	enqueue("w1", "rec", "held", 0, "");
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("runs")) == 1, 20000));
	v = read_runs(&n);
	ck_assert_int_eq(n, 1);
	ck_assert_int_ge(v[0].start, t0 + 1500 - 50);	/* clocks: same host */
	ck_assert_int_eq(v[0].attempt, 1);
	ck_assert_int_eq(v[0].fence, 1);
	free(v);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:{default}:result:w1") == 1,
	    5000));
	h_daemon_stop(&d);
}
END_TEST

START_TEST(policy_wait_timeout_spends_an_attempt)
{
	struct h_daemon	d;

	h_write_file(W.hdir, "rec", RECORD, 0755);
	start_daemon(&d, "d", config_text("on_conflict: wait, wait_timeout: 500ms",
	    8, NULL));
	h_cmd_int(W.c, "SET deferd:lock:held someone PX 120000");
	enqueue("wt", "rec", "held", 0, "");
	ck_assert(H_WAIT_UNTIL(job_field_has("wt", "last_error",
	    "after waiting locks.wait_timeout"), 15000));
	ck_assert_int_ge(job_int("wt", "attempts"), 1);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 1, 30000));
	ck_assert_int_eq(job_int("wt", "attempts"), 3);
	ck_assert(job_field_has("wt", "last_error", "(attempt 3 of 3)"));
	ck_assert_int_eq(h_count_lines(out("runs")), 0);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(policy_fail_override_spends_attempts_with_backoff)
{
	struct h_daemon	d;
	int64_t		t0;

	h_write_file(W.hdir, "rec", RECORD, 0755);
	h_write_file(W.hdir, "strict", RECORD, 0755);
	/* Global requeue, but the strict handler fails on conflict. */
	start_daemon(&d, "d", config_text("on_conflict: requeue, requeue_delay: 30s",
	    8, "  overrides: {strict: {on_conflict: fail}}\n"));
	h_cmd_int(W.c, "SET deferd:lock:held someone PX 120000");
	t0 = h_redis_now_ms(W.c);
	enqueue("f1", "strict", "held", 0, "");
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 1, 30000));
	ck_assert_int_eq(job_int("f1", "attempts"), 3);
	ck_assert(job_field_has("f1", "last_error", "resource held is locked"));
	/* Backoff 100ms: at least 50 + 100 ms between the three conflicts. */
	ck_assert_int_ge(job_int("f1", "died_ms") - t0, 150);
	ck_assert_int_eq(h_count_lines(out("runs")), 0);
	h_daemon_stop(&d);
}
END_TEST

/* --- deferctl lock --------------------------------------------------------- */

/* Write a config file for deferctl and return its path. */
static const char *
ctl_config(void)
{
	static char	path[600];

	snprintf(path, sizeof(path), "%s/ctl.yaml", W.work);
	h_write_file(W.work, "ctl.yaml", config_text("lease: 3s", 8, NULL), 0644);
	return (path);
}

/* Start deferctl -c CFG lock ARGS... in the background (stdout, stderr to OUT/ctl.log). */
static pid_t
ctl_lock_start(const char *const *args)
{
	const char	*argv[32];
	int		 n = 0;
	pid_t		 pid;

	argv[n++] = h_bin("deferctl");
	argv[n++] = "-c";
	argv[n++] = ctl_config();
	argv[n++] = "lock";
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		FILE *f = freopen(out("ctl.log"), "a", stderr);

		if (f == NULL || dup2(fileno(stderr), 1) == -1)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return (pid);
}

/* Wait for pid with a deadline; its exit status as a shell would show it, or -1. */
static int
ctl_lock_wait(pid_t pid, int64_t ms)
{
	int	st = 0;

	if (!H_WAIT_UNTIL(waitpid(pid, &st, WNOHANG) == pid, ms)) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return (-1);
	}
	if (WIFEXITED(st))
		return (WEXITSTATUS(st));
	return (128 + WTERMSIG(st));
}

/* Run deferctl lock to completion; its exit status. */
static int
ctl_lock_run(const char *const *args)
{
	return (ctl_lock_wait(ctl_lock_start(args), 60000));
}

START_TEST(ctl_lock_serializes_two_invocations)
{
	char		 script[1024], *text, *p;
	const char	*args[] = { "--wait", "30s", "job:1", "--", "sh", "-c",
			    script, NULL };
	pid_t		 a, b;
	long long	 t[4];
	char		 kind[4];

	snprintf(script, sizeof(script),
	    "echo \"s $(date +%%s%%3N)\" >> '%s'; sleep 0.4; "
	    "echo \"e $(date +%%s%%3N)\" >> '%s'", out("trace"), out("trace"));
	a = ctl_lock_start(args);
	b = ctl_lock_start(args);
	ck_assert_int_eq(ctl_lock_wait(a, 60000), 0);
	ck_assert_int_eq(ctl_lock_wait(b, 60000), 0);
	text = h_read_file(out("trace"));
	ck_assert_ptr_nonnull(text);
	p = text;
	for (int i = 0; i < 4; i++) {
		int used;

		ck_assert_int_eq(sscanf(p, " %c %lld%n", &kind[i], &t[i], &used), 2);
		p += used;
	}
	free(text);
	ck_assert_msg(kind[0] == 's' && kind[1] == 'e' && kind[2] == 's' &&
	    kind[3] == 'e', "interleaved: %c%c%c%c", kind[0], kind[1], kind[2],
	    kind[3]);
	ck_assert_int_ge(t[2], t[1]);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:lock:job:1"), 0);
	ck_assert_int_eq(h_cmd_int(W.c, "GET deferd:fence:job:1"), 2);
}
END_TEST

START_TEST(ctl_lock_passes_status_token_and_resource)
{
	char		 res[256];
	const char	*exit7[] = { "r1", "--", "sh", "-c", "exit 7", NULL };
	const char	*sig[] = { "r1", "--", "sh", "-c", "kill -9 $$", NULL };
	const char	*env[] = { "--ttl", "2s", "r1", "--", "sh", "-c",
			    "echo \"$DEFERD_FENCING_TOKEN $DEFERD_RESOURCE\" > \"$0\"",
			    res, NULL };
	const char	*nocmd[] = { "r1", "--", "/nonexistent/cmd", NULL };
	char		*text;

	snprintf(res, sizeof(res), "%s", out("env"));
	ck_assert_int_eq(ctl_lock_run(exit7), 7);
	ck_assert_int_eq(ctl_lock_run(sig), 137);
	ck_assert_int_eq(ctl_lock_run(env), 0);
	text = h_read_file(out("env"));
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "3 r1\n");
	free(text);
	ck_assert_int_eq(ctl_lock_run(nocmd), 127);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:lock:r1"), 0);
}
END_TEST

START_TEST(ctl_lock_exits_75_when_busy_after_wait)
{
	const char	*now[] = { "busy", "--", "true", NULL };
	const char	*waited[] = { "--wait", "300ms", "busy", "--", "true", NULL };
	char		 buf[64];
	int64_t		 t0;

	h_cmd_int(W.c, "SET deferd:lock:busy other PX 60000");
	ck_assert_int_eq(ctl_lock_run(now), 75);
	t0 = h_mono_ms();
	ck_assert_int_eq(ctl_lock_run(waited), 75);
	ck_assert_int_ge(h_mono_ms() - t0, 300);
	h_cmd_str(W.c, buf, sizeof(buf), "GET deferd:lock:busy");
	ck_assert_str_eq(buf, "other");
	{
		char *log = h_read_file(out("ctl.log"));

		ck_assert(log != NULL && strstr(log, "busy is locked") != NULL);
		free(log);
	}
}
END_TEST

START_TEST(ctl_lock_lost_stops_the_command)
{
	const char	*args[] = { "--ttl", "900ms", "fragile", "--", "sleep",
			    "1000", NULL };
	pid_t		 pid = ctl_lock_start(args);

	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:lock:fragile") == 1,
	    10000));
	h_cmd_int(W.c, "DEL deferd:lock:fragile");
	h_cmd_int(W.c, "SET deferd:lock:fragile thief PX 60000");
	ck_assert_int_eq(ctl_lock_wait(pid, 20000), 75);
	{
		char buf[64], *log = h_read_file(out("ctl.log"));

		ck_assert(log != NULL && strstr(log, "lost") != NULL);
		free(log);
		h_cmd_str(W.c, buf, sizeof(buf), "GET deferd:lock:fragile");
		ck_assert_str_eq(buf, "thief");
	}
}
END_TEST

/* Run the scripts, daemon and deferctl cases. */
int
main(void)
{
	Suite	*s = suite_create("locks");
	TCase	*ts = tcase_create("scripts");
	TCase	*td = tcase_create("daemon");
	TCase	*tc = tcase_create("deferctl");

	tcase_add_checked_fixture(ts, setup, teardown);
	tcase_add_test(ts, scripts_acquire_fence_and_conflict);
	tcase_add_test(ts, scripts_wrong_token_neither_releases_nor_extends);
	suite_add_tcase(s, ts);
	tcase_add_checked_fixture(td, setup, teardown);
	tcase_set_timeout(td, 240);
	tcase_add_test(td, four_daemons_200_jobs_5_resources_never_overlap);
	tcase_add_test(td, handler_outliving_the_lease_keeps_the_lock);
	tcase_add_test(td, lock_deleted_by_hand_stops_the_handler_and_retries);
	tcase_add_test(td, client_pause_stops_the_handler_within_the_lease);
	tcase_add_test(td, policy_requeue_spends_no_attempt);
	tcase_add_test(td, policy_wait_runs_after_the_holder_releases);
	tcase_add_test(td, policy_wait_timeout_spends_an_attempt);
	tcase_add_test(td, policy_fail_override_spends_attempts_with_backoff);
	suite_add_tcase(s, td);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ctl_lock_serializes_two_invocations);
	tcase_add_test(tc, ctl_lock_passes_status_token_and_resource);
	tcase_add_test(tc, ctl_lock_exits_75_when_busy_after_wait);
	tcase_add_test(tc, ctl_lock_lost_stops_the_command);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
