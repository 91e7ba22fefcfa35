/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster routing (cluster.c) against a real three-master cluster
 * made by redis-cli --cluster create: key slots match the specification;
 * scripts and commands go to the master of their queue's slot, found from
 * one seed; a slot migrated while calls go on is followed through ASK
 * (keys already moved) and MOVED (the slot given away). The event loop is
 * driven by the test; every wait polls with a deadline.
 */
#include <event2/event.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "harness.h"
#include "keys.h"
#include "keyslot.h"
#include "store.h"

#define NQUEUES	6

static struct h_cluster	 C;
static struct event_base *B;
static struct cluster	*CL;
static bool		 UP;
static int		 UPS;		/* times CL came up */

/* What one call answered. */
struct result {
	bool		 done;
	bool		 lost;		/* the reply was NULL */
	int		 type;
	long long	 integer;
	char		 str[256];
};

static void
on_reply(redisReply *r, void *priv)
{
	struct result	*res = priv;

	res->done = true;
	res->lost = r == NULL;
	if (r == NULL)
		return;
	res->type = r->type;
	res->integer = r->integer;
	if (r->str != NULL)
		snprintf(res->str, sizeof(res->str), "%s", r->str);
}

static void
on_up(void *arg)
{
	(void)arg;
	UP = true;
	UPS++;
}

static void
on_down(void *arg)
{
	(void)arg;
	UP = false;
}

/* Run the loop until cond holds or ms pass. */
#define PUMP_UNTIL(cond, ms)						\
	H_WAIT_UNTIL((event_base_loop(B, EVLOOP_NONBLOCK), (cond)), (ms))

/* Three masters, each with replicas replicas, and the test's client CL. */
static void
setup_with(int replicas)
{
	struct redis_target	seed;
	struct rconn_opts	o;
	struct cluster_cbs	cbs = { .up = on_up, .down = on_down };
	char			url[64], err[256];

	h_cluster_start_replicas(&C, 3, replicas);
	B = event_base_new();
	ck_assert_ptr_nonnull(B);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%s", C.port[0]);
	ck_assert_msg(redisurl_parse(url, &seed, err, sizeof(err)) == 0, "%s", err);
	memset(&o, 0, sizeof(o));
	o.load_scripts = true;
	o.connect_timeout_ms = 2000;
	o.command_timeout_ms = 10000;
	UP = false;
	UPS = 0;
	CL = cluster_new(B, &seed, 1, &o, &cbs);
	redisurl_clear(&seed);
	cluster_start(CL);
	ck_assert_msg(PUMP_UNTIL(UP, 20000 * SLOW), "the cluster did not come up");
	ck_assert_uint_eq(cluster_masters(CL), 3);
}

static void
setup(void)
{
	setup_with(0);
}

static void
setup_replicated(void)
{
	setup_with(1);
}

static void
teardown(void)
{
	cluster_free(CL);
	CL = NULL;
	event_base_free(B);
	B = NULL;
	h_cluster_stop(&C);
}

/* A command through the cluster, waited for. */
static void
call(struct result *res, const char *key, int argc, const char **argv)
{
	memset(res, 0, sizeof(*res));
	ck_assert_int_eq(cluster_command(CL, key, on_reply, res, argc, argv,
	    NULL), 0);
	ck_assert_msg(PUMP_UNTIL(res->done, 10000 * SLOW), "no reply for %s",
	    key);
	ck_assert_msg(!res->lost, "the call on %s was lost", key);
}

/* The master (index into C) of slot, asked of the first live node. */
static int
owner_of(unsigned slot)
{
	int		 asked = 0;

	while (C.nodes[asked].pid == 0)		/* killed by the test */
		asked++;

	redisContext	*c = h_redis_connect(&C.nodes[asked]);
	redisReply	*r = h_cmd(c, "CLUSTER SLOTS");
	int		 owner = -1;

	for (size_t i = 0; i < r->elements && owner == -1; i++) {
		redisReply *e = r->element[i];

		if ((unsigned)e->element[0]->integer > slot ||
		    (unsigned)e->element[1]->integer < slot)
			continue;
		for (int n = 0; n < C.n; n++)
			if (e->element[2]->element[1]->integer == atoi(C.port[n]))
				owner = n;
	}
	freeReplyObject(r);
	redisFree(c);
	return (owner);
}

/* Whether node n holds key (ASKING, EXISTS straight on it; a redirect is no). */
static bool
node_has(int n, const char *key)
{
	redisContext	*c = h_redis_connect(&C.nodes[n]);
	redisReply	*r;

	freeReplyObject(h_cmd(c, "ASKING"));
	r = h_cmd(c, "EXISTS %s", key);
	bool		 has = r->type == REDIS_REPLY_INTEGER && r->integer == 1;

	freeReplyObject(r);
	redisFree(c);
	return (has);
}

/* The slot rule of the cluster specification, hash tags included. */
START_TEST(key_slots_follow_the_specification)
{
	ck_assert_uint_eq(keyslot("123456789", 9), 12739);
	ck_assert_uint_eq(keyslot("a", 1), 15495);
	ck_assert_uint_eq(keyslot("{user1000}.following", 20),
	    keyslot("{user1000}.followers", 20));
	ck_assert_uint_eq(keyslot("foo{bar}{zap}", 13), keyslot("bar", 3));
	ck_assert_uint_eq(keyslot("foo{}{bar}", 10),
	    keyslot("foo{}{bar}", 10));	/* empty tag: the whole key */
	ck_assert_uint_ne(keyslot("foo{}{bar}", 10), keyslot("bar", 3));
	ck_assert_uint_eq(keyslot("foo{{bar}}zap", 13), keyslot("{bar", 4));
	ck_assert_uint_eq(keyslot("deferd:{default}:delayed", 24),
	    keyslot("default", 7));
}
END_TEST

/*
 * Enqueue job id (payload: the id) for handler "rec" into queue, due in
 * delay_ms, through the cluster, as deferctl does.
 */
static void
enqueue(const char *queue, const char *id, int64_t delay_ms)
{
	struct store_enqueue_args	 a;
	struct store_call		 c;
	struct result			 res;
	char				*k_job = keys_job("deferd", queue, id);
	char				*k_delayed = keys_queue("deferd", queue,
					    "delayed");
	char				*k_wake = keys_queue("deferd", queue, "wake");

	memset(&a, 0, sizeof(a));
	a.k_delayed = k_delayed;
	a.k_job = k_job;
	a.id = id;
	a.payload = id;
	a.payload_len = strlen(id);
	a.handler = "rec";
	a.ms = delay_ms;
	a.resource = "";
	a.source = "";
	a.wake = k_wake;
	a.events = "";
	store_enqueue(&c, &a);
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(cluster_script(CL, c.script, on_reply, &res, c.nkeys,
	    c.argc, c.argv, c.lens), 0);
	store_call_free(&c);
	ck_assert_msg(PUMP_UNTIL(res.done, 10000 * SLOW), "no reply");
	ck_assert_msg(!res.lost && res.type != REDIS_REPLY_ERROR,
	    "enqueue on %s: %s", queue, res.str);
	free(k_job);
	free(k_delayed);
	free(k_wake);
}

/*
 * Six queues, found from one seed: each queue's enqueue script and keys
 * are on the master that owns its slot, and the queues cover all three.
 */
START_TEST(calls_go_to_the_master_of_their_queue)
{
	bool	used[H_CLUSTER_MAX] = { false };

	for (int q = 0; q < NQUEUES; q++) {
		char	 queue[16], id[16];
		char	*k_job, *k_delayed;
		int	 owner;

		snprintf(queue, sizeof(queue), "q%d", q);
		snprintf(id, sizeof(id), "job-%d", q);
		enqueue(queue, id, 60000);
		k_job = keys_queue("deferd", queue, "jobs");	/* packed */
		k_delayed = keys_queue("deferd", queue, "delayed");
		owner = owner_of(keyslot(k_job, strlen(k_job)));
		ck_assert_int_ge(owner, 0);
		ck_assert_msg(node_has(owner, k_job) && node_has(owner, k_delayed),
		    "%s is not on the master of its slot", k_job);
		used[owner] = true;
		free(k_job);
		free(k_delayed);
	}
	ck_assert_msg(used[0] && used[1] && used[2],
	    "six queues did not spread over three masters");
}
END_TEST

/* The id of node n (CLUSTER MYID). */
static void
node_id(int n, char *buf, size_t len)
{
	redisContext	*c = h_redis_connect(&C.nodes[n]);

	h_cmd_str(c, buf, len, "CLUSTER MYID");
	redisFree(c);
}

/* Run a command straight on node n, expecting no error. */
static void
on_node(int n, const char *fmt, const char *a, const char *b)
{
	redisContext	*c = h_redis_connect(&C.nodes[n]);
	redisReply	*r = h_cmd(c, fmt, a, b);

	ck_assert_msg(r->type != REDIS_REPLY_ERROR, "node %d: %s", n, r->str);
	freeReplyObject(r);
	redisFree(c);
}

/*
 * A queue's slot moves from its master to another while calls go on:
 * halfway (MIGRATING/IMPORTING, one key moved) both keys still read
 * right (the moved one through ASK); once the slot is given away, calls
 * follow MOVED to the new master.
 */
START_TEST(a_migrating_slot_is_followed)
{
	const char	*k1 = "deferd:{mig}:a", *k2 = "deferd:{mig}:b";
	unsigned	 slot = keyslot(k1, strlen(k1));
	char		 slot_s[16], from_id[64], to_id[64];
	struct result	 res;
	int		 from = owner_of(slot), to = (from + 1) % C.n;

	ck_assert_int_ge(from, 0);
	call(&res, k1, 3, (const char *[]){ "SET", k1, "one" });
	call(&res, k2, 3, (const char *[]){ "SET", k2, "two" });
	snprintf(slot_s, sizeof(slot_s), "%u", slot);
	node_id(from, from_id, sizeof(from_id));
	node_id(to, to_id, sizeof(to_id));
	on_node(to, "CLUSTER SETSLOT %s IMPORTING %s", slot_s, from_id);
	on_node(from, "CLUSTER SETSLOT %s MIGRATING %s", slot_s, to_id);
	on_node(from, "MIGRATE 127.0.0.1 %s %s 0 5000", C.port[to], k1);
	ck_assert(node_has(to, k1) && !node_has(from, k1));
	call(&res, k1, 2, (const char *[]){ "GET", k1 });
	ck_assert_str_eq(res.str, "one");	/* ASK to the importing node */
	call(&res, k2, 2, (const char *[]){ "GET", k2 });
	ck_assert_str_eq(res.str, "two");	/* still where it was */
	on_node(from, "MIGRATE 127.0.0.1 %s %s 0 5000", C.port[to], k2);
	for (int n = 0; n < C.n; n++)
		on_node(n, "CLUSTER SETSLOT %s NODE %s", slot_s, to_id);
	call(&res, k2, 2, (const char *[]){ "GET", k2 });
	ck_assert_str_eq(res.str, "two");	/* MOVED to the new master */
	call(&res, k1, 3, (const char *[]){ "SET", k1, "three" });
	ck_assert(node_has(to, k1));
	ck_assert_msg(PUMP_UNTIL(owner_of(slot) == to && UP, 10000 * SLOW),
	    "the cluster did not settle");
}
END_TEST

/* Move every key of slot from node from to node to, then the slot itself. */
static void
migrate_slot(unsigned slot, int from, int to)
{
	char		 slot_s[16], from_id[64], to_id[64];
	redisContext	*c;
	redisReply	*keys;
	bool		 empty = false;

	snprintf(slot_s, sizeof(slot_s), "%u", slot);
	node_id(from, from_id, sizeof(from_id));
	node_id(to, to_id, sizeof(to_id));
	on_node(to, "CLUSTER SETSLOT %s IMPORTING %s", slot_s, from_id);
	on_node(from, "CLUSTER SETSLOT %s MIGRATING %s", slot_s, to_id);
	c = h_redis_connect(&C.nodes[from]);
	while (!empty) {
		keys = h_cmd(c, "CLUSTER GETKEYSINSLOT %u 100", slot);
		empty = keys->elements == 0;
		for (size_t i = 0; i < keys->elements; i++)
			on_node(from, "MIGRATE 127.0.0.1 %s %s 0 5000", C.port[to],
			    keys->element[i]->str);
		freeReplyObject(keys);
	}
	redisFree(c);
	on_node(to, "CLUSTER SETSLOT %s NODE %s", slot_s, to_id);
	on_node(from, "CLUSTER SETSLOT %s NODE %s", slot_s, to_id);
	for (int n = 0; n < C.n; n++)
		if (n != from && n != to)
			on_node(n, "CLUSTER SETSLOT %s NODE %s", slot_s, to_id);
}

static const char REC[] =
    "#!/bin/sh\n"
    "p=$(cat)\n"
    "printf '%s\\n' \"$p\" >> \"$OUT/ran\"\n";

/* The folders of a deferd test: handlers (with rec), its output, its work. */
struct dirs {
	char	hdir[256], out[256], work[256], ran[400];
};

/*
 * Start deferd on the cluster through seed node seed, with the config
 * lines extra and the handler rec writing into dirs->out; wait for READY.
 */
static void
start_daemon(struct h_daemon *d, struct dirs *dirs, int seed, const char *extra)
{
	char	cfg[2048];

	h_tmpdir(dirs->hdir, sizeof(dirs->hdir));
	h_tmpdir(dirs->out, sizeof(dirs->out));
	h_tmpdir(dirs->work, sizeof(dirs->work));
	chmod(dirs->out, 0777);
	h_write_file(dirs->hdir, "rec", REC, 0755);
	snprintf(dirs->ran, sizeof(dirs->ran), "%s/ran", dirs->out);
	snprintf(cfg, sizeof(cfg),
	    "redis:\n"
	    "  cluster: {nodes: [\"127.0.0.1:%s\"]}\n"
	    "%s"
	    "handlers: {dir: %s, environment: {OUT: \"%s\"}}\n",
	    C.port[seed], extra, dirs->hdir, dirs->out);
	h_daemon_start(d, dirs->work, cfg);
	ck_assert_msg(h_daemon_log_has(d, "ready: ", 20000 * SLOW),
	    "deferd not ready");
}

/* Stop deferd and remove the folders. */
static void
stop_daemon(struct h_daemon *d, struct dirs *dirs)
{
	char	cmd[1024];

	h_daemon_stop(d);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s'", dirs->hdir,
	    dirs->out, dirs->work);
	ck_assert_int_eq(system(cmd), 0);
}

/*
 * deferctl stats on a cluster: each queue is counted on its own master
 * (q0 to q5 spread over all three), and the daemons' lateness summaries,
 * in one slot, are read with one MGET there.
 */
static void
stats_cover_every_shard(const struct h_daemon *d)
{
	const char	*argv[] = { h_bin("deferctl"), "-c", d->config, "stats",
			    "--json", NULL };
	char		 out[8192], want[64], queue[16], id[32];
	int		 status;

	for (int q = 0; q < NQUEUES; q++) {
		snprintf(queue, sizeof(queue), "q%d", q);
		for (int i = 0; i <= q; i++) {
			snprintf(id, sizeof(id), "later-q%d-%d", q, i);
			enqueue(queue, id, 3600 * 1000);
		}
	}
	ck_assert_msg(H_WAIT_UNTIL((status = h_run(argv, NULL, out, sizeof(out)),
	    strstr(out, "\"{daemons}\":[{") != NULL), 20000 * SLOW),
	    "no daemon summary in: %s", out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", out);
	for (int q = 0; q < NQUEUES; q++) {
		snprintf(want, sizeof(want), "\"q%d\":{\"delayed\":%d,", q, q + 1);
		ck_assert_msg(strstr(out, want) != NULL, "no %s in: %s", want, out);
	}
}

/*
 * deferd with redis.cluster (one seed) claims and runs the jobs of six
 * queues spread over three masters, due now and due in a second, each
 * once, woken through a wake channel published on another node; then
 * the slot of one queue moves to another master while its jobs wait, and
 * they all run once there.
 */
START_TEST(deferd_runs_every_queue_of_a_cluster)
{
	struct h_daemon	 d;
	struct dirs	 dirs;
	const char	*ran = dirs.ran;
	char		 queue[16], id[32];

	start_daemon(&d, &dirs, 1,
	    "queues: [q0, q1, q2, q3, q4, q5]\n"
	    "poll_interval: 10s\n");
	ck_assert_int_ge(h_log_count(&d, "cluster: 3 master(s) serve all"), 1);
	for (int q = 0; q < NQUEUES; q++)
		for (int i = 0; i < 10; i++) {
			snprintf(queue, sizeof(queue), "q%d", q);
			snprintf(id, sizeof(id), "q%d-%d", q, i);
			enqueue(queue, id, i % 2 == 0 ? 0 : 1000);
		}
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(ran) >= NQUEUES * 10,
	    30000 * SLOW), "%d of %d jobs ran", h_count_lines(ran),
	    NQUEUES * 10);
	for (int q = 0; q < NQUEUES; q++)
		for (int i = 0; i < 10; i++) {
			snprintf(id, sizeof(id), "q%d-%d", q, i);
			ck_assert_msg(h_count_lines_equal(ran, id) == 1, "%s ran %d times",
			    id, h_count_lines_equal(ran, id));
		}
	/* deferctl on the cluster, with a lock whose keys share their own slot. */
	for (int q = 1; q <= 3; q++) {
		char		 qname[16], outbuf[256];
		const char	*argv[] = { h_bin("deferctl"), "-c", d.config,
				    "enqueue", "--queue", qname, "--resource",
				    "res-x", "rec", id, NULL };
		int		 status;

		snprintf(qname, sizeof(qname), "q%d", q);
		snprintf(id, sizeof(id), "locked-%d", q);
		status = h_run(argv, NULL, outbuf, sizeof(outbuf));
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "deferctl enqueue on q%d: status %d", q, status);
	}
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines_equal(ran, "locked-1") == 1 &&
	    h_count_lines_equal(ran, "locked-2") == 1 && h_count_lines_equal(ran, "locked-3") == 1,
	    20000 * SLOW), "the locked jobs did not run");
	{
		int		 owner = owner_of(keyslot("res-x", 5));
		redisContext	*c = h_redis_connect(&C.nodes[owner]);

		ck_assert_int_eq(h_cmd_int(c, "GET deferd:fence:{res-x}"), 3);
		redisFree(c);
	}
	{
		unsigned	slot = keyslot("{q0}", 4);
		int		from = owner_of(slot), to = (from + 1) % C.n;

		for (int i = 0; i < 20; i++) {
			snprintf(id, sizeof(id), "moved-%d", i);
			enqueue("q0", id, 1500 + i * 50);
		}
		migrate_slot(slot, from, to);
		ck_assert_int_eq(owner_of(slot), to);
		ck_assert_msg(H_WAIT_UNTIL(h_count_lines(ran) >= NQUEUES * 10 +
		    23, 30000 * SLOW), "jobs of the moved queue did not run");
		for (int i = 0; i < 20; i++) {
			snprintf(id, sizeof(id), "moved-%d", i);
			ck_assert_msg(h_count_lines_equal(ran, id) == 1, "%s ran %d times",
			    id, h_count_lines_equal(ran, id));
		}
	}
	stats_cover_every_shard(&d);
	stop_daemon(&d, &dirs);
}
END_TEST

/* Set key on the master of its slot with a TTL of px ms. */
static void
set_expiring(const char *key, int px)
{
	redisContext	*c = h_redis_connect(&C.nodes[owner_of(keyslot(key,
			    strlen(key)))]);

	freeReplyObject(h_cmd(c, "SET %s pending PX %d", key, px));
	redisFree(c);
}

/* How many keys of master n match pattern. */
static int
keys_on(int n, const char *pattern)
{
	redisContext	*c = h_redis_connect(&C.nodes[n]);
	redisReply	*r = h_cmd(c, "KEYS %s", pattern);
	int		 count = (int)r->elements;

	freeReplyObject(r);
	redisFree(c);
	return (count);
}

/*
 * Sources on a cluster. A zset source whose key carries its queue's tag
 * moves its due member into the queue. An expiration rule: deferd sets
 * notify-keyspace-events on every master (configure_redis) and listens
 * to each, as a node publishes only its own keys' expirations. Redis's
 * own expiry is off (DEBUG SET-ACTIVE-EXPIRE 0), so a key expires only
 * when deferd's watch touches it: keys set before deferd started (found
 * by SCAN on every master) and after (from `expire` events) on all three
 * masters each make one job, which runs once, and the per-slot watches
 * end empty.
 */
START_TEST(expirations_fire_on_every_master)
{
	struct h_daemon	 d;
	struct dirs	 dirs;
	const char	*ran = dirs.ran;
	char		 key[32];
	bool		 on[H_CLUSTER_MAX] = { false };
	const int	 nkeys = 12, nearly = 6;

	for (int n = 0; n < C.n; n++) {
		redisContext	*c = h_redis_connect(&C.nodes[n]);

		freeReplyObject(h_cmd(c, "DEBUG SET-ACTIVE-EXPIRE 0"));
		redisFree(c);
	}
	for (int i = 0; i < nearly; i++) {
		snprintf(key, sizeof(key), "order:early-%d", i);
		set_expiring(key, 3000);
	}
	start_daemon(&d, &dirs, 2,
	    "queues: [q0, q1]\n"
	    "expirations:\n"
	    "  configure_redis: true\n"
	    "  rules: [{pattern: \"order:*\", handler: rec, queue: q1}]\n"
	    "sources: [{zset: \"{q0}:delay\", handler: rec, queue: q0}]\n");
	{
		redisContext	*c = h_redis_connect(&C.nodes[owner_of(keyslot("q0",
				    2))]);

		freeReplyObject(h_cmd(c, "ZADD {q0}:delay 0 from-a-zset"));
		redisFree(c);
	}
	for (int n = 0; n < C.n; n++) {
		redisContext	*c = h_redis_connect(&C.nodes[n]);
		redisReply	*r = h_cmd(c, "CONFIG GET notify-keyspace-events");

		ck_assert_msg(strchr(r->element[1]->str, 'x') != NULL,
		    "node %d: notify-keyspace-events \"%s\"", n,
		    r->element[1]->str);
		freeReplyObject(r);
		redisFree(c);
	}
	ck_assert_msg(H_WAIT_UNTIL(h_log_count(&d, "a key-event subscriber "
	    "on") >= C.n, 10000 * SLOW), "not every master is listened to");
	for (int i = 0; i < nkeys; i++) {
		snprintf(key, sizeof(key), "order:%d", i);
		on[owner_of(keyslot(key, strlen(key)))] = true;
		set_expiring(key, 300);
	}
	for (int n = 0; n < C.n; n++)
		ck_assert_msg(on[n], "no key on master %d: choose other keys", n);
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(ran) >= nkeys + nearly + 1,
	    30000 * SLOW), "%d of %d expirations and zset members ran",
	    h_count_lines(ran), nkeys + nearly + 1);
	ck_assert_int_eq(h_count_lines_equal(ran, "from-a-zset"), 1);
	for (int i = 0; i < nkeys + nearly; i++) {
		if (i < nkeys)
			snprintf(key, sizeof(key), "order:%d", i);
		else
			snprintf(key, sizeof(key), "order:early-%d", i - nkeys);
		ck_assert_msg(h_count_lines_equal(ran, key) == 1, "%s ran %d times",
		    key, h_count_lines_equal(ran, key));
	}
	for (int n = 0; n < C.n; n++)
		ck_assert_msg(H_WAIT_UNTIL(keys_on(n, "deferd:{exp-*}:watch") == 0,
		    5000 * SLOW), "master %d keeps a watch", n);
	stop_daemon(&d, &dirs);
}
END_TEST

/* The index into C of the replica of master m, or -1. */
static int
replica_of(int m)
{
	int	found = -1;

	for (int n = 0; n < C.n && found == -1; n++) {
		redisContext	*c;
		redisReply	*r;

		if (n == m || C.nodes[n].pid == 0)
			continue;
		c = h_redis_connect(&C.nodes[n]);
		r = h_cmd(c, "ROLE");
		if (strcmp(r->element[0]->str, "slave") == 0 &&
		    r->element[2]->integer == atoi(C.port[m]))
			found = n;
		freeReplyObject(r);
		redisFree(c);
	}
	return (found);
}

/* Whether master m's replica has everything m wrote. */
static bool
replica_caught_up(int m)
{
	redisContext	*c = h_redis_connect(&C.nodes[m]);
	redisReply	*r = h_cmd(c, "ROLE");
	bool		 caught = r->elements == 3 && r->element[2]->elements == 1 &&
			    atoll(r->element[2]->element[0]->element[2]->str) ==
			    r->element[1]->integer;

	freeReplyObject(r);
	redisFree(c);
	return (caught);
}

/*
 * A master, which is also deferd's only seed and the node of its wake
 * subscriber, is killed (SIGKILL) while jobs of every queue wait; its
 * replica is promoted (CLUSTER FAILOVER FORCE). deferd follows the new
 * map without a restart: the jobs enqueued before run, and so do jobs
 * enqueued after, due at once, woken through a subscriber that moved to
 * a live master (poll_interval is far longer than the wait).
 */
START_TEST(a_failed_master_is_replaced_by_its_replica)
{
	struct h_daemon	 d;
	struct dirs	 dirs;
	const char	*ran = dirs.ran;
	char		 queue[16], id[32];
	int		 victim = owner_of(keyslot("q0", 2)), heir;
	int		 lost = 0, twice = 0;
	redisContext	*c;

	start_daemon(&d, &dirs, victim,
	    "queues: [q0, q1, q2, q3, q4, q5]\n"
	    "poll_interval: 60s\n");
	for (int q = 0; q < NQUEUES; q++)
		for (int i = 0; i < 5; i++) {
			snprintf(queue, sizeof(queue), "q%d", q);
			snprintf(id, sizeof(id), "pre-q%d-%d", q, i);
			enqueue(queue, id, 3000);
		}
	ck_assert_msg(H_WAIT_UNTIL(replica_caught_up(victim), 10000 * SLOW),
	    "the replica of node %d did not catch up", victim);
	heir = replica_of(victim);
	ck_assert_int_ge(heir, 0);
	kill(C.nodes[victim].pid, SIGKILL);
	h_redis_stop(&C.nodes[victim]);
	c = h_redis_connect(&C.nodes[heir]);
	freeReplyObject(h_cmd(c, "CLUSTER FAILOVER FORCE"));
	redisFree(c);
	ck_assert_msg(H_WAIT_UNTIL(owner_of(keyslot("q0", 2)) == heir,
	    20000 * SLOW), "the replica did not take over");
	ck_assert_msg(H_WAIT_UNTIL(h_log_count(&d, "cluster: 3 master(s) serve "
	    "all") >= 2, 30000 * SLOW), "deferd did not follow the new map");
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(ran) >= NQUEUES * 5,
	    30000 * SLOW), "%d of %d jobs enqueued before ran",
	    h_count_lines(ran), NQUEUES * 5);
	ck_assert_msg(H_WAIT_UNTIL(h_log_count(&d, "redis sub: connected") >= 2,
	    20000 * SLOW), "the wake subscriber did not move");
	ck_assert_msg(PUMP_UNTIL(UPS >= 2 && UP, 20000 * SLOW),
	    "the test's client did not follow the new map");
	for (int q = 0; q < NQUEUES; q++)
		for (int i = 0; i < 5; i++) {
			snprintf(queue, sizeof(queue), "q%d", q);
			snprintf(id, sizeof(id), "post-q%d-%d", q, i);
			enqueue(queue, id, 0);
		}
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(ran) >= NQUEUES * 10,
	    20000 * SLOW), "%d of %d jobs ran after the failover",
	    h_count_lines(ran), NQUEUES * 10);
	for (int q = 0; q < NQUEUES; q++)
		for (int i = 0; i < 10; i++) {
			snprintf(id, sizeof(id), "%s-q%d-%d", i < 5 ? "pre" : "post",
			    q, i % 5);
			lost += h_count_lines_equal(ran, id) == 0;
			twice += h_count_lines_equal(ran, id) > 1;
		}
	fprintf(stderr, "cluster failover: %d lost, %d ran twice of %d\n", lost,
	    twice, NQUEUES * 10);
	ck_assert_int_eq(lost, 0);
	stop_daemon(&d, &dirs);
}
END_TEST

/* A seed that is a plain Redis, not a cluster node: deferd says so and stops. */
START_TEST(a_node_not_in_cluster_mode_is_refused)
{
	struct h_redis	 plain;
	struct h_daemon	 d;
	char		 work[256], cfg[1024], port[16];
	const char	*args[] = { "--port", port, "--bind", "127.0.0.1", NULL };
	int		 status;

	snprintf(port, sizeof(port), "%d", h_free_port());
	h_redis_start(&plain, args);
	h_tmpdir(work, sizeof(work));
	snprintf(cfg, sizeof(cfg),
	    "redis: {cluster: {nodes: [\"127.0.0.1:%s\"]}}\n"
	    "handlers: {dir: %s}\n", port, work);
	h_daemon_start(&d, work, cfg);
	status = h_daemon_wait_exit(&d, 20000 * SLOW);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 1, "deferd kept running (status %d)", status);
	ck_assert_int_ge(h_log_count(&d, "cluster support disabled"), 1);
	h_daemon_stop(&d);
	h_redis_stop(&plain);
	snprintf(cfg, sizeof(cfg), "rm -rf '%s'", work);
	ck_assert_int_eq(system(cfg), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cluster");
	TCase	*tc = tcase_create("slots");

	tcase_add_test(tc, key_slots_follow_the_specification);
	tcase_add_test(tc, a_node_not_in_cluster_mode_is_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("routing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120 * SLOW);
	tcase_add_test(tc, calls_go_to_the_master_of_their_queue);
	tcase_add_test(tc, a_migrating_slot_is_followed);
	tcase_add_test(tc, deferd_runs_every_queue_of_a_cluster);
	tcase_add_test(tc, expirations_fire_on_every_master);
	suite_add_tcase(s, tc);
	tc = tcase_create("failover");
	tcase_add_checked_fixture(tc, setup_replicated, teardown);
	tcase_set_timeout(tc, 180 * SLOW);
	tcase_add_test(tc, a_failed_master_is_replaced_by_its_replica);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
