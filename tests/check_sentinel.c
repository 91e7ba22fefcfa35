/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of redis.sentinel: a master and a replica (redis-server
 * on loopback ports), three sentinels and real deferd and deferctl
 * processes. deferd finds the master through the sentinels (the first node
 * listed is down), follows a failover after the master is killed without a
 * restart (counting lost and repeated jobs with and without
 * redis.wait_replicas), moves even its subscriber when the old master
 * survives as a replica, and refuses a master name no sentinel knows; and
 * redis.wait_replicas reports writes no replica has. The "rec" handler
 * appends each payload as a line to $OUT/ran. Every wait polls with a
 * deadline.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define MASTER_NAME	"mm"
#define NSENTINELS	3

static struct h_world	 W;		/* W.r is the first master */
static struct h_redis	 REPLICA;
static pid_t		 SENTINELS[NSENTINELS];
static int		 SENTINEL_PORTS[NSENTINELS];
static int		 DEAD_PORT;	/* listed first; nothing listens there */
static char		 MASTER_PORT[16], REPLICA_PORT[16];

static const char *const MASTER_ARGS[] = { "--port", MASTER_PORT, "--bind",
    "127.0.0.1", NULL };
static const char *const REPLICA_ARGS[] = { "--port", REPLICA_PORT, "--bind",
    "127.0.0.1", "--replicaof", "127.0.0.1", MASTER_PORT, NULL };

static const char REC[] =
    "#!/bin/sh\n"
    "p=$(cat)\n"
    "printf '%s\\n' \"$p\" >> \"$OUT/ran\"\n";

/* A synchronous connection to a sentinel. */
static redisContext *
sentinel_conn(int i)
{
	redisContext	*c = redisConnect("127.0.0.1", SENTINEL_PORTS[i]);

	ck_assert_msg(c != NULL && c->err == 0, "sentinel %d: %s", i,
	    c != NULL ? c->errstr : "oom");
	return (c);
}

/* How many entries SENTINEL <what> mm lists on sentinel i. */
static size_t
sentinel_count(int i, const char *what)
{
	redisContext	*c = sentinel_conn(i);
	redisReply	*r = redisCommand(c, "SENTINEL %s %s", what, MASTER_NAME);
	size_t		 n = r != NULL && r->type == REDIS_REPLY_ARRAY ?
			    r->elements : 0;

	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return (n);
}

/* Every sentinel knows the replica and the other sentinels: failover can happen. */
static bool
sentinels_settled(void)
{
	for (int i = 0; i < NSENTINELS; i++)
		if (sentinel_count(i, "replicas") < 1 ||
		    sentinel_count(i, "sentinels") < NSENTINELS - 1)
			return (false);
	return (true);
}

/* Whether the replica's link to its master is up. */
static bool
replica_linked(void)
{
	redisContext	*c = h_redis_connect(&REPLICA);
	redisReply	*r = h_cmd(c, "INFO replication");
	bool		 up = r->type == REDIS_REPLY_STRING &&
			    strstr(r->str, "master_link_status:up") != NULL;

	freeReplyObject(r);
	redisFree(c);
	return (up);
}

/* A master and its replica, in sync. */
static void
setup_replication(void)
{
	snprintf(MASTER_PORT, sizeof(MASTER_PORT), "%d", h_free_port());
	snprintf(REPLICA_PORT, sizeof(REPLICA_PORT), "%d", h_free_port());
	h_world_setup(&W, MASTER_ARGS);
	h_write_file(W.hdir, "rec", REC, 0755);
	h_redis_start(&REPLICA, REPLICA_ARGS);
	ck_assert_msg(H_WAIT_UNTIL(replica_linked(), 20000 * SLOW),
	    "the replica did not sync");
}

static void
teardown_replication(void)
{
	h_redis_stop(&REPLICA);
	h_world_teardown(&W);
}

/* Replication, and three sentinels that know it all. */
static void
setup(void)
{
	setup_replication();
	DEAD_PORT = h_free_port();
	for (int i = 0; i < NSENTINELS; i++) {
		SENTINEL_PORTS[i] = h_free_port();
		SENTINELS[i] = h_sentinel_start(W.work, SENTINEL_PORTS[i],
		    MASTER_NAME, atoi(MASTER_PORT));
	}
	ck_assert_msg(H_WAIT_UNTIL(sentinels_settled(), 30000 * SLOW),
	    "the sentinels did not find the replica and each other");
}

static void
teardown(void)
{
	for (int i = 0; i < NSENTINELS; i++)
		h_pid_stop(SENTINELS[i]);
	teardown_replication();
}

/* The config: the sentinels (a dead one first), master name given, extra redis: keys. */
static const char *
config_text(const char *name, const char *redis_extra)
{
	static char	buf[4096];

	snprintf(buf, sizeof(buf),
	    "redis:\n"
	    "  connect_timeout: 500ms\n"
	    "%s"
	    "  sentinel:\n"
	    "    master: %s\n"
	    "    nodes: [\"127.0.0.1:%d\", \"127.0.0.1:%d\", \"127.0.0.1:%d\", "
	    "\"127.0.0.1:%d\"]\n"
	    "poll_interval: 500ms\n"
	    "lease: 5s\n"
	    "retry: {backoff: 200ms, backoff_max: 1s}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  environment: {OUT: \"%s\"}\n",
	    redis_extra, name, DEAD_PORT, SENTINEL_PORTS[0], SENTINEL_PORTS[1],
	    SENTINEL_PORTS[2], W.hdir, W.out);
	return (buf);
}

/* deferctl enqueue --batch of payloads PREFIX-0 .. PREFIX-(n-1); its exit status. */
static int
enqueue_batch(const struct h_daemon *d, const char *prefix, int n,
    const char *in)
{
	char		 payloads[4096] = "", out[4096];
	size_t		 used = 0;
	const char	*argv[] = { h_bin("deferctl"), "-c", d->config, "enqueue",
			    "--batch", "--in", in, "rec", NULL };

	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(payloads + used, sizeof(payloads) - used,
		    "%s-%d\n", prefix, i);
	return (h_run(argv, payloads, out, sizeof(out)));
}

/* How many lines of $OUT/ran are exactly line. */
static int
ran_count(const char *line)
{
	char	 path[600];

	snprintf(path, sizeof(path), "%s/ran", W.out);
	return (h_count_lines_equal(path, line));
}

/* Whether PREFIX-0 .. PREFIX-(n-1) each ran at least once. */
static bool
all_ran(const char *prefix, int n)
{
	char	line[64];

	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "%s-%d", prefix, i);
		if (ran_count(line) == 0)
			return (false);
	}
	return (true);
}

/* Fail unless each of PREFIX-0 .. PREFIX-(n-1) ran exactly once. */
static void
assert_ran_once(const char *prefix, int n)
{
	char	line[64];

	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "%s-%d", prefix, i);
		ck_assert_msg(ran_count(line) == 1, "%s ran %d times", line,
		    ran_count(line));
	}
}

/* Whether the server behind c lists a client named deferd-ROLE-PID. */
static bool
has_client(const struct h_redis *r, const char *role, pid_t pid)
{
	redisContext	*c = h_redis_connect(r);
	redisReply	*rep = h_cmd(c, "CLIENT LIST");
	char		 name[64];
	bool		 has;

	snprintf(name, sizeof(name), "name=deferd-%s-%ld ", role, (long)pid);
	has = rep->type == REDIS_REPLY_STRING && strstr(rep->str, name) != NULL;
	freeReplyObject(rep);
	redisFree(c);
	return (has);
}

/*
 * The log line of deferd learning that the replica is the master now
 * (from +switch-master or by asking again: whichever comes first).
 */
static const char *
new_master_line(void)
{
	static char	line[80];

	snprintf(line, sizeof(line), "master '%s' is at 127.0.0.1:%s (",
	    MASTER_NAME, REPLICA_PORT);
	return (line);
}

/* Start deferd on the sentinels (extra redis: keys) and wait until it is ready on the master. */
static void
start_daemon(struct h_daemon *d, const char *redis_extra)
{
	char	at[64];

	h_daemon_start(d, W.work, config_text(MASTER_NAME, redis_extra));
	ck_assert_msg(h_daemon_log_has(d, "ready: ", 20000 * SLOW),
	    "deferd not ready");
	snprintf(at, sizeof(at), "master '%s' is at 127.0.0.1:%s", MASTER_NAME,
	    MASTER_PORT);
	ck_assert_msg(h_daemon_log_has(d, at, 1000), "no '%s' in the log", at);
}

/*
 * A failover that leaves the old master up (as a replica): the sentinels
 * do not disconnect subscribers, so only following +switch-master moves
 * deferd's subscriber to the new master.
 */
START_TEST(a_switch_moves_even_the_subscriber)
{
	struct h_daemon	 d;
	redisContext	*s;
	redisReply	*r;

	start_daemon(&d, "");
	ck_assert_msg(H_WAIT_UNTIL(has_client(&W.r, "sub", d.pid), 10000 * SLOW),
	    "no subscriber on the master");
	s = sentinel_conn(0);
	r = redisCommand(s, "SENTINEL FAILOVER %s", MASTER_NAME);
	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS,
	    "SENTINEL FAILOVER: %s", r != NULL && r->str ? r->str : "?");
	freeReplyObject(r);
	redisFree(s);
	ck_assert_msg(h_daemon_log_has(&d, new_master_line(), 60000 * SLOW),
	    "deferd did not hear of the failover");
	ck_assert_msg(H_WAIT_UNTIL(has_client(&REPLICA, "sub", d.pid) &&
	    has_client(&REPLICA, "cmd", d.pid), 20000 * SLOW),
	    "deferd's connections did not move to the new master");
	ck_assert_msg(H_WAIT_UNTIL(!has_client(&W.r, "sub", d.pid), 20000 * SLOW),
	    "the subscriber stayed on the old master");
	ck_assert_int_eq(enqueue_batch(&d, "moved", 5, "0s"), 0);
	ck_assert_msg(H_WAIT_UNTIL(all_ran("moved", 5), 20000 * SLOW),
	    "jobs did not run on the new master");
	assert_ran_once("moved", 5);
	h_daemon_stop(&d);
}
END_TEST

/* A master name no sentinel knows: deferd and deferctl say so and stop. */
START_TEST(an_unknown_master_name_is_refused)
{
	struct h_daemon	 d;
	char		 out[256];
	int		 status;
	const char	*argv[] = { h_bin("deferctl"), "-c", NULL, "enqueue", "rec",
			    "x", NULL };

	h_daemon_start(&d, W.work, config_text("no-such-master", ""));
	status = h_daemon_wait_exit(&d, 20000 * SLOW);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 1, "deferd kept running (status %d)", status);
	ck_assert_int_ge(h_log_count(&d, "monitors no master named "
	    "'no-such-master'"), 1);
	argv[2] = d.config;
	status = h_run(argv, NULL, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "deferctl status %d", status);
	h_daemon_stop(&d);
}
END_TEST

/* Jobs of a queue on the server r has: delayed plus active. */
static long long
jobs_left(const struct h_redis *r)
{
	redisContext	*c = h_redis_connect(r);
	long long	 n = h_zcard(c, "delayed") + h_zcard(c, "active");

	redisFree(c);
	return (n);
}

/*
 * A producer enqueues n jobs straight into the master (with wait, each
 * followed by WAIT 1, as deferctl does under redis.wait_replicas) while
 * deferd runs them; the master is killed right after the last reply.
 * deferd follows the failover without a restart, and deferctl enqueues
 * on the new master (each of those runs once). Once the new master has no
 * job left: how many acknowledged jobs never ran (lost) and how many ran
 * more than once (dups), printed for the closing note of the issue.
 */
static void
failover_round(bool wait, int n, int *lost, int *dups)
{
	struct h_daemon	 d;
	char		 id[32], line[64];
	int		 status, acked = 0;

	start_daemon(&d, wait ? "  wait_replicas: 1\n  wait_timeout: 2s\n" : "");
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "w-%d", i);
		h_enqueue(W.c, id, "rec", id, strlen(id), 0);
		if (wait)
			ck_assert_int_eq(h_cmd_int(W.c, "WAIT 1 2000"), 1);
		acked++;
	}
	kill(W.r.pid, SIGKILL);
	waitpid(W.r.pid, &status, 0);
	W.r.pid = 0;
	ck_assert_msg(h_daemon_log_has(&d, new_master_line(), 60000 * SLOW),
	    "deferd did not hear of the failover");
	ck_assert_msg(H_WAIT_UNTIL(has_client(&REPLICA, "cmd", d.pid),
	    20000 * SLOW), "deferd did not connect to the new master");
	/* With wait, the new master has no replica: enqueued, but exit 1. */
	status = enqueue_batch(&d, "after", 10, "0s");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == (wait ? 1 : 0),
	    "deferctl status %d", status);
	ck_assert_msg(H_WAIT_UNTIL(jobs_left(&REPLICA) == 0, 90000 * SLOW),
	    "jobs stayed on the new master");
	assert_ran_once("after", 10);
	*lost = *dups = 0;
	for (int i = 0; i < acked; i++) {
		snprintf(line, sizeof(line), "w-%d", i);
		*lost += ran_count(line) == 0;
		*dups += ran_count(line) > 1;
	}
	fprintf(stderr, "failover %s wait_replicas: %d jobs acknowledged, %d "
	    "lost, %d ran twice or more\n", wait ? "with" : "without", acked,
	    *lost, *dups);
	ck_assert_int_eq(kill(d.pid, 0), 0);
	h_daemon_stop(&d);
}

/* Without WAIT a failover may lose the last writes: measured, not asserted. */
START_TEST(failover_figures_without_wait_replicas)
{
	int	lost, dups;

	failover_round(false, 400, &lost, &dups);
	ck_assert_int_le(lost, 400);
}
END_TEST

/* With every enqueue confirmed by WAIT 1, a failover loses none of them (P21). */
START_TEST(failover_with_wait_replicas_loses_nothing)
{
	int	lost, dups;

	failover_round(true, 400, &lost, &dups);
	ck_assert_int_eq(lost, 0);
}
END_TEST

/*
 * redis.wait_replicas with the replica stopped: deferctl says the job may
 * be lost (exit 1, the job is on the master), and deferd's outcome WAIT
 * comes back short: logged. Both work again once the replica runs.
 */
START_TEST(wait_replicas_reports_a_write_no_replica_has)
{
	struct h_daemon	 d;
	char		 text[2048], out[256];
	int		 status;
	const char	*argv[] = { h_bin("deferctl"), "-c", NULL, "enqueue",
			    "--id", NULL, "rec", NULL, NULL };

	snprintf(text, sizeof(text),
	    "redis: {url: \"%s\", wait_replicas: 1, wait_timeout: 300ms}\n"
	    "poll_interval: 200ms\n"
	    "handlers: {dir: %s, environment: {OUT: \"%s\"}}\n",
	    W.r.url, W.hdir, W.out);
	h_daemon_start(&d, W.work, text);
	ck_assert_msg(h_daemon_log_has(&d, "ready: ", 20000 * SLOW),
	    "deferd not ready");
	argv[2] = d.config;
	argv[5] = argv[7] = "replicated";
	status = h_run(argv, NULL, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "deferctl status %d with the replica up", status);
	ck_assert_msg(H_WAIT_UNTIL(ran_count("replicated") == 1, 20000 * SLOW),
	    "the job did not run");
	ck_assert_int_eq(kill(REPLICA.pid, SIGSTOP), 0);
	argv[5] = argv[7] = "unreplicated";
	status = h_run(argv, NULL, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "deferctl status %d with the replica stopped", status);
	ck_assert_msg(h_daemon_log_has(&d, "reached fewer than 1 replica(s)",
	    20000 * SLOW), "deferd did not report the short WAIT");
	ck_assert_int_eq(kill(REPLICA.pid, SIGCONT), 0);
	ck_assert_msg(H_WAIT_UNTIL(ran_count("unreplicated") == 1, 20000 * SLOW),
	    "the unreplicated job did not run");
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("sentinel");
	TCase	*tc = tcase_create("failover");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180 * SLOW);
	tcase_add_test(tc, a_switch_moves_even_the_subscriber);
	tcase_add_test(tc, an_unknown_master_name_is_refused);
	tcase_add_test(tc, failover_figures_without_wait_replicas);
	tcase_add_test(tc, failover_with_wait_replicas_loses_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("wait");
	tcase_add_checked_fixture(tc, setup_replication, teardown_replication);
	tcase_set_timeout(tc, 120 * SLOW);
	tcase_add_test(tc, wait_replicas_reports_a_write_no_replica_has);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
