/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of the sources of docs/architecture.md: key expirations
 * (with the precise tracking), plain zsets, lists and channels, against a
 * private redis-server and real deferd processes. The handler "stamp" is a
 * bash script that appends
 * "start_ms|source|payload|expired_key|channel|resource" to $OUT/stamps
 * using bash's clock, so start times are exact and cheap. Every wait polls
 * with a deadline; figures (latencies) are printed for the record.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct h_world	 W;	/* Redis, client, handlers/out/work dirs */
static int		 NDAEMON;

/*
 * The "stamp" handler: bash, for its clock builtin (no fork), so one run
 * costs a process start and nothing more, also in sanitizer builds.
 */
static const char STAMP[] =
    "#!/bin/bash\n"
    "t=${EPOCHREALTIME/./}\n"
    "IFS= read -r -d '' p\n"
    "printf '%s|%s|%s|%s|%s|%s\\n' \"${t:0:13}\" \"${DEFERD_SOURCE:--}\" \"$p\" "
    "\"${DEFERD_EXPIRED_KEY:--}\" \"${DEFERD_CHANNEL:--}\" "
    "\"${DEFERD_RESOURCE:--}\" >> \"$OUT/stamps\"\n";

static void
setup(void)
{
	static const char *const extra[] = { "--enable-debug-command", "local",
	    NULL };

	h_world_setup(&W, extra);
	h_write_file(W.hdir, "stamp", STAMP, 0755);
	h_write_file(W.hdir, "fail65", "#!/bin/sh\nexit 65\n", 0755);
	freeReplyObject(h_cmd(W.c, "CONFIG SET notify-keyspace-events Exg"));
}

static void
teardown(void)
{
	h_world_teardown(&W);
}

/* A config for the test Redis with extra YAML at the top level. */
static const char *
config_text(int concurrency, const char *extra)
{
	static char	buf[8192];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "concurrency: %d\n"
	    "retry: {max_attempts: 3, backoff: 100ms, backoff_max: 1s}\n"
	    "lease: 5s\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 20s\n"
	    "  environment: {OUT: \"%s\", REDIS_CLI_ARGS: \"-s %s\"}\n"
	    "%s",
	    W.r.url, concurrency, W.hdir, W.out, W.r.sock, extra);
	return (buf);
}

/* Start a daemon in its own directory and wait until it is ready. */
static void
start_daemon(struct h_daemon *d, int concurrency, const char *extra)
{
	char	dir[600];

	snprintf(dir, sizeof(dir), "%s/d%d", W.work, NDAEMON++);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	h_daemon_start(d, dir, config_text(concurrency, extra));
	ck_assert_msg(h_daemon_log_has(d, "ready", 20000), "deferd not ready");
}

/* Number of lines in OUT/stamps. */
static int
nstamps(void)
{
	char	path[600];

	snprintf(path, sizeof(path), "%s/stamps", W.out);
	return (h_count_lines(path));
}

/* One parsed stamp line (fields point into the line, which is modified). */
struct stamp {
	int64_t		 start;
	char		*source, *payload, *expkey, *channel, *resource;
};

/* Parse OUT/stamps into a new array (caller frees *buf and the array). */
static struct stamp *
read_stamps(size_t *n, char **buf)
{
	char		 path[600], *p, *line;
	struct stamp	*s = NULL;
	size_t		 cap = 0;

	snprintf(path, sizeof(path), "%s/stamps", W.out);
	*n = 0;
	*buf = h_read_file(path);
	if (*buf == NULL)
		return (NULL);
	for (p = *buf; (line = strsep(&p, "\n")) != NULL;) {
		if (*line == '\0')
			continue;
		if (*n == cap) {
			cap = cap * 2 + 64;
			s = realloc(s, cap * sizeof(*s));
			ck_assert_ptr_nonnull(s);
		}
		s[*n].start = strtoll(strsep(&line, "|"), NULL, 10);
		s[*n].source = strsep(&line, "|");
		s[*n].payload = strsep(&line, "|");
		s[*n].expkey = strsep(&line, "|");
		s[*n].channel = strsep(&line, "|");
		s[*n].resource = strsep(&line, "|");
		ck_assert_ptr_nonnull(s[*n].resource);
		(*n)++;
	}
	return (s);
}

/* Wait until n daemons' subscriber connections have psubscribed. */
static bool
subscribed(int n)
{
	return (H_WAIT_UNTIL(({
		redisReply *r = h_cmd(W.c, "CLIENT LIST");
		int k = 0;
		for (char *p = r->str; (p = strstr(p, "name=deferd-sub-")) != NULL; p++) {
			char *ps = strstr(p, " psub=");
			if (ps != NULL && atoi(ps + 6) > 0)
				k++;
		}
		freeReplyObject(r);
		k >= n;
	}), 10000));
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y ? -1 : x > y);
}

/* Sort lags and print p50/p99/max under a label; returns the share <= 1 s. */
static double
report(const char *label, int64_t *lag, size_t n)
{
	size_t	within = 0;

	if (n == 0) {
		printf("%s: no events\n", label);
		return (0);
	}
	qsort(lag, n, sizeof(*lag), cmp_i64);
	for (size_t i = 0; i < n; i++)
		if (lag[i] <= 1000)
			within++;
	printf("%s: n=%zu p50=%" PRId64 "ms p99=%" PRId64 "ms max=%" PRId64
	    "ms within 1s=%.1f%%\n", label, n, lag[n / 2], lag[(n * 99) / 100],
	    lag[n - 1], 100.0 * (double)within / (double)n);
	fflush(stdout);
	return ((double)within / (double)n);
}

START_TEST(expired_key_runs_handler_once)
{
	struct h_daemon	 d;
	struct stamp	*s;
	char		*buf, val[256];
	size_t		 n;
	int64_t		 exp_ms, lag;

	start_daemon(&d, 8,
	    "expirations:\n  rules:\n"
	    "    - {pattern: \"order:timeout:*\", handler: stamp, resource: \"order:{1}\"}\n"
	    "    - {pattern: \"dead:*\", handler: fail65}\n");
	ck_assert(subscribed(1));
	freeReplyObject(h_cmd(W.c, "SET order:timeout:1 x EX 1"));
	exp_ms = h_cmd_int(W.c, "PEXPIRETIME order:timeout:1");
	freeReplyObject(h_cmd(W.c, "SET order:timeout:2 x EX 1"));
	freeReplyObject(h_cmd(W.c, "SET nomatch:1 x EX 1"));
	freeReplyObject(h_cmd(W.c, "DEL order:timeout:2"));
	freeReplyObject(h_cmd(W.c, "SET dead:1 x EX 1"));
	ck_assert(H_WAIT_UNTIL(nstamps() >= 1, 10000));
	/* dead:1 expires with order:timeout:1: once it is dead all is done. */
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZSCORE deferd:{default}:dead "
	    "exp:0:dead:1") > 0, 10000));
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS nomatch:1") == 0, 10000));
	s = read_stamps(&n, &buf);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(s[0].source, "expired");
	ck_assert_str_eq(s[0].payload, "order:timeout:1");
	ck_assert_str_eq(s[0].resource, "order:1");
	ck_assert_str_eq(s[0].expkey, "order:timeout:1");	/* DEFERD_EXPIRED_KEY */
	lag = s[0].start - exp_ms;
	printf("expired key -> handler start: %" PRId64 "ms after expiry\n", lag);
	ck_assert_int_le(lag, 5000);
	ck_assert_int_ge(lag, 0);
	free(s);
	free(buf);
	/* The job hash carries the fields the handler variables come from. */
	h_job_str(W.c, val, sizeof(val), "deferd:{default}:job:exp:0:dead:1 source");
	ck_assert_str_eq(val, "expired");
	h_job_str(W.c, val, sizeof(val), "deferd:{default}:job:exp:0:dead:1 expired_key");
	ck_assert_str_eq(val, "dead:1");
	h_job_str(W.c, val, sizeof(val), "deferd:{default}:job:exp:0:dead:1 expired_db");
	ck_assert_str_eq(val, "0");
	h_job_str(W.c, val, sizeof(val), "deferd:{default}:job:exp:0:dead:1 match");
	ck_assert_str_eq(val, "dead:*");
	h_job_str(W.c, val, sizeof(val), "deferd:{default}:job:exp:0:dead:1 payload");
	ck_assert_str_eq(val, "dead:1");
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD deferd:{exp}:watch") == 0, 5000));
	ck_assert_int_eq(h_log_count(&d, "expired (db 0"), 2);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(odd_keys_get_a_digest_id)
{
	struct h_daemon	 d;
	char		 key[300], val[400];

	start_daemon(&d, 4, "expirations:\n  rules:\n"
	    "    - {pattern: \"long:*\", handler: fail65}\n");
	ck_assert(subscribed(1));
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	memcpy(key, "long:a b", 8);
	freeReplyObject(h_cmd(W.c, "SET %s x PX 200", key));
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD deferd:{default}:dead") == 1,
	    10000));
	{
		redisReply *r = h_cmd(W.c, "ZRANGE deferd:{default}:dead 0 0");

		ck_assert_uint_eq(r->elements, 1);
		snprintf(val, sizeof(val), "%s", r->element[0]->str);
		freeReplyObject(r);
	}
	ck_assert_msg(strncmp(val, "exp:0:@sha1-", 12) == 0 && strlen(val) == 52,
	    "id %s", val);
	h_job_str(W.c, val, sizeof(val), "deferd:{default}:job:%s payload", val);
	ck_assert_str_eq(val, key);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(notify_flags_refused_or_configured)
{
	struct h_daemon	 d;
	char		 flags[64];
	const char	*rules = "  rules: [{pattern: \"t:*\", handler: stamp}]\n";
	char		 extra[512], dir[600];
	int		 status;

	freeReplyObject(h_cmd(W.c, "CONFIG SET notify-keyspace-events %s", ""));
	snprintf(extra, sizeof(extra), "expirations:\n%s", rules);
	snprintf(dir, sizeof(dir), "%s/refuse", W.work);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	h_daemon_start(&d, dir, config_text(4, extra));
	ck_assert(h_daemon_log_has(&d, "CONFIG SET notify-keyspace-events Exg", 15000));
	ck_assert(h_daemon_log_has(&d, "notify-keyspace-events Exg' in redis.conf", 1000));
	status = h_daemon_signal(&d, 0, true);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);

	freeReplyObject(h_cmd(W.c, "CONFIG SET notify-keyspace-events Kz"));
	snprintf(extra, sizeof(extra), "expirations:\n  configure_redis: true\n%s",
	    rules);
	start_daemon(&d, 4, extra);
	ck_assert(H_WAIT_UNTIL(({
		{
			redisReply *r = h_cmd(W.c, "CONFIG GET notify-keyspace-events");
			snprintf(flags, sizeof(flags), "%s", r->element[1]->str);
			freeReplyObject(r);
		}
		strchr(flags, 'E') && strchr(flags, 'x') && strchr(flags, 'g') &&
		    strchr(flags, 'K') && strchr(flags, 'z');
	}), 10000));
	ck_assert(subscribed(1));
	freeReplyObject(h_cmd(W.c, "SET t:1 x PX 100"));
	ck_assert(H_WAIT_UNTIL(nstamps() == 1, 10000));
	h_daemon_stop(&d);
}
END_TEST

/* Copy an example handler from the source tree into HDIR. */
static void
install_example(const char *name)
{
	char	path[600], *text;

	snprintf(path, sizeof(path), "handlers/%s", name);
	if ((text = h_read_file(path)) == NULL) {
		snprintf(path, sizeof(path), "../handlers/%s", name);
		text = h_read_file(path);
	}
	ck_assert_msg(text != NULL, "example handler %s not found (run from "
	    "the source tree)", name);
	h_write_file(W.hdir, name, text, 0755);
	free(text);
}

START_TEST(three_daemons_cancel_500_orders_once)
{
	struct h_daemon	 d[3];
	const char	*extra = "log: {level: debug}\n"	/* "done" lines */
			    "expirations:\n  rules:\n"
			    "    - {pattern: \"order:timeout:*\", handler: cancel-order, "
			    "resource: \"order:{1}\"}\n";
	int		 created = 0, cancelled = 0, released = 0;
	int64_t		 t0;

	install_example("cancel-order");
	install_example("release-stock");
	for (int i = 0; i < 3; i++)
		start_daemon(&d[i], 8, extra);
	ck_assert(subscribed(3));
	freeReplyObject(h_cmd(W.c, "HSET stock A 100000 B 100000"));
	for (int i = 1; i <= 500; i++) {
		redisAppendCommand(W.c, "HSET order:%d status pending", i);
		redisAppendCommand(W.c, "HSET order:%d:items A 2 B 1", i);
		redisAppendCommand(W.c, "HINCRBY stock A -2");
		redisAppendCommand(W.c, "HINCRBY stock B -1");
		redisAppendCommand(W.c, "SET order:timeout:%d 1 PX %d", i, 1000 + 2 * i);
	}
	for (int i = 0; i < 500 * 5; i++) {
		void *r;

		ck_assert_int_eq(redisGetReply(W.c, &r), REDIS_OK);
		freeReplyObject(r);
	}
	ck_assert_int_eq(h_cmd_int(W.c, "HGET stock A"), 99000);
	t0 = h_mono_ms();
	ck_assert_msg(H_WAIT_UNTIL(h_cmd_int(W.c, "EVAL %s 0",
	    "local n=0 for i=1,500 do if redis.call('HGET','order:'..i,"
	    "'stock_released')=='1' then n=n+1 end end return n") == 500,
	    120000), "not every order's stock was released");
	printf("500 orders cancelled and released in %" PRId64 "ms by 3 daemons\n",
	    h_mono_ms() - t0);
	ck_assert_int_eq(h_cmd_int(W.c, "HGET stock A"), 100000);
	ck_assert_int_eq(h_cmd_int(W.c, "HGET stock B"), 100000);
	ck_assert_int_eq(h_cmd_int(W.c, "EVAL %s 0",
	    "local n=0 for i=1,500 do if redis.call('HGET','order:'..i,"
	    "'status')=='cancelled' then n=n+1 end end return n"), 500);
	for (int i = 0; i < 3; i++) {
		created += h_log_count(&d[i], "expired (db 0, rule order:timeout:*)");
		cancelled += h_log_count(&d[i], "(cancel-order): done");
		released += h_log_count(&d[i], "(release-stock): done");
	}
	ck_assert(H_WAIT_UNTIL(({
		int r = 0;
		for (int i = 0; i < 3; i++)
			r += h_log_count(&d[i], "(release-stock): done");
		released = r;
		r == 500;
	}), 10000));
	printf("jobs created %d, cancel-order runs %d, release-stock runs %d\n",
	    created, cancelled, released);
	ck_assert_int_eq(created, 500);
	ck_assert_int_eq(cancelled, 500);
	for (int i = 0; i < 3; i++)
		h_daemon_stop(&d[i]);
}
END_TEST

START_TEST(plain_zset_members_once_at_their_time)
{
	struct h_daemon	 d[2];
	struct stamp	*s;
	char		*buf, *seen;
	size_t		 n;
	int64_t		 now_s, late_max = 0;

	for (int i = 0; i < 2; i++)
		start_daemon(&d[i], 16,
		    "sources:\n  - {zset: delay-queue, handler: stamp}\n");
	now_s = h_redis_now_ms(W.c) / 1000;
	for (int i = 0; i < 1000; i++) {
		int64_t score = now_s + 1 + i % 3;

		redisAppendCommand(W.c, "ZADD delay-queue %" PRId64 " task-%d-%" PRId64,
		    score, i, score);
	}
	for (int i = 0; i < 1000; i++) {
		void *r;

		ck_assert_int_eq(redisGetReply(W.c, &r), REDIS_OK);
		freeReplyObject(r);
	}
	ck_assert(H_WAIT_UNTIL(nstamps() >= 1000, 30000));
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD deferd:{default}:active") == 0,
	    10000));
	s = read_stamps(&n, &buf);
	ck_assert_uint_eq(n, 1000);
	seen = calloc(1000, 1);
	for (size_t i = 0; i < n; i++) {
		int idx;
		long long score;

		ck_assert_int_eq(sscanf(s[i].payload, "task-%d-%lld", &idx, &score), 2);
		ck_assert_str_eq(s[i].source, "zset");
		ck_assert_msg(!seen[idx], "task %d ran twice", idx);
		seen[idx] = 1;
		ck_assert_msg(s[i].start >= score * 1000, "task %d started %" PRId64
		    "ms before its time", idx, (int64_t)(score * 1000 - s[i].start));
		if (s[i].start - score * 1000 > late_max)
			late_max = s[i].start - score * 1000;
	}
	printf("plain zset: 1000 members, 2 daemons, latest start %" PRId64
	    "ms after the member's time\n", late_max);
	ck_assert_int_eq(h_cmd_int(W.c, "ZCARD delay-queue"), 0);
	free(seen);
	free(s);
	free(buf);
	for (int i = 0; i < 2; i++)
		h_daemon_stop(&d[i]);
}
END_TEST

/* CLIENT KILL the connection whose name starts with prefix; true if found. */
static bool
client_kill_named(const char *prefix)
{
	char		*list, *p, *line;
	bool		 found = false;
	redisReply	*r = h_cmd(W.c, "CLIENT LIST");

	list = strdup(r->str);
	freeReplyObject(r);
	for (p = list; (line = strsep(&p, "\n")) != NULL;) {
		char *name = strstr(line, " name="), *id = strstr(line, "id=");

		if (name == NULL || id == NULL ||
		    strncmp(name + 6, prefix, strlen(prefix)) != 0)
			continue;
		freeReplyObject(h_cmd(W.c, "CLIENT KILL ID %lld",
		    strtoll(id + 3, NULL, 10)));
		found = true;
	}
	free(list);
	return (found);
}

START_TEST(list_items_survive_kill_9_and_client_kill)
{
	struct h_daemon	 d;
	const char	*extra = "sources:\n  - {list: notify-queue, handler: stamp}\n";
	struct stamp	*s;
	char		*buf, *seen;
	size_t		 n;
	int		 dups = 0, uniq = 0;

	start_daemon(&d, 8, extra);
	for (int i = 0; i < 1000; i++) {
		freeReplyObject(h_cmd(W.c, "RPUSH notify-queue item-%d", i));
		if (i == 300)
			h_daemon_stop(&d);	/* SIGKILL mid-way */
		if (i == 600)
			start_daemon(&d, 8, extra);
		if (i == 800)
			ck_assert(client_kill_named("deferd-list0-"));
		h_nap();
	}
	ck_assert_msg(H_WAIT_UNTIL(({
		size_t k;
		char *b;
		struct stamp *st = read_stamps(&k, &b);
		char *u = calloc(1000, 1);
		int c = 0;
		for (size_t i = 0; i < k; i++) {
			int idx = atoi(st[i].payload + 5);
			if (idx >= 0 && idx < 1000 && !u[idx]++)
				c++;
		}
		free(u); free(st); free(b);
		c == 1000;
	}), 60000), "not every item was handled");
	s = read_stamps(&n, &buf);
	seen = calloc(1000, 1);
	for (size_t i = 0; i < n; i++) {
		int idx = atoi(s[i].payload + 5);

		ck_assert_str_eq(s[i].source, "list");
		if (seen[idx]++)
			dups++;
		else
			uniq++;
	}
	printf("list: %d items handled, %d duplicate(s) after one kill -9 and "
	    "one CLIENT KILL\n", uniq, dups);
	ck_assert_int_eq(uniq, 1000);
	ck_assert_int_le(dups, 8);
	ck_assert_int_eq(h_cmd_int(W.c, "LLEN notify-queue"), 0);
	ck_assert_int_eq(h_cmd_int(W.c, "EVAL %s 0", "local n=0 for _,k in "
	    "ipairs(redis.call('KEYS','deferd:proc:*')) do n=n+redis.call('LLEN',k) "
	    "end return n"), 0);
	free(seen);
	free(s);
	free(buf);
	h_daemon_stop(&d);
}
END_TEST

/* Whether channel gets n subscribers within 10 s. */
static bool
wait_subscribers(const char *channel, long long n)
{
	return (H_WAIT_UNTIL(({
		redisReply *r = h_cmd(W.c, "PUBSUB NUMSUB %s", channel);
		long long k = r->element[1]->integer;
		freeReplyObject(r);
		k == n;
	}), 10000));
}

START_TEST(channel_message_runs_once_per_daemon)
{
	struct h_daemon	 d[2];
	struct stamp	*s;
	char		*buf;
	size_t		 n;

	for (int i = 0; i < 2; i++)
		start_daemon(&d[i], 4,
		    "sources:\n  - {channel: fm104.5, handler: stamp}\n");
	ck_assert(wait_subscribers("fm104.5", 2));
	ck_assert_int_eq(h_cmd_int(W.c, "PUBLISH fm104.5 first"), 2);
	ck_assert(H_WAIT_UNTIL(nstamps() >= 2, 10000));
	ck_assert_int_eq(h_cmd_int(W.c, "PUBLISH fm104.5 second"), 2);
	ck_assert(H_WAIT_UNTIL(nstamps() >= 4, 10000));
	s = read_stamps(&n, &buf);
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0, first = 0; i < n; i++) {
		ck_assert_str_eq(s[i].source, "channel");
		ck_assert_str_eq(s[i].channel, "fm104.5");
		if (strcmp(s[i].payload, "first") == 0)
			first++;
		if (i == n - 1)
			ck_assert_uint_eq(first, 2);
	}
	free(s);
	free(buf);
	for (int i = 0; i < 2; i++)
		h_daemon_stop(&d[i]);
}
END_TEST

/*
 * Two channel sources: their runs have IDs unique in the daemon (the
 * counter used to be per source, so both made channel-1-PID).
 */
START_TEST(channel_run_ids_are_unique_across_sources)
{
	struct h_daemon	 d;
	char		 path[600], *ids, *nl;

	h_write_file(W.hdir, "idrec", "#!/bin/sh\n"
	    "echo \"$DEFERD_JOB_ID\" >> \"$OUT/ids\"\n", 0755);
	start_daemon(&d, 4, "sources:\n  - {channel: ch-a, handler: idrec}\n"
	    "  - {channel: ch-b, handler: idrec}\n");
	ck_assert(wait_subscribers("ch-a", 1) && wait_subscribers("ch-b", 1));
	snprintf(path, sizeof(path), "%s/ids", W.out);
	ck_assert_int_eq(h_cmd_int(W.c, "PUBLISH ch-a one"), 1);
	ck_assert(H_WAIT_UNTIL(h_count_lines(path) == 1, 10000));
	ck_assert_int_eq(h_cmd_int(W.c, "PUBLISH ch-b two"), 1);
	ck_assert(H_WAIT_UNTIL(h_count_lines(path) == 2, 10000));
	ids = h_read_file(path);
	nl = strchr(ids, '\n');
	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	ck_assert_msg(strncmp(ids, "channel-", 8) == 0, "id %s", ids);
	ck_assert_msg(h_count_lines_equal(path, ids) == 1,
	    "run ID %s given twice", ids);
	free(ids);
	h_daemon_stop(&d);
}
END_TEST

/*
 * A claim in flight reserves the free slots for the jobs it may bring back;
 * a channel message arriving then must still run (it used to be dropped as
 * "all concurrency slots busy" on an idle daemon). A 10 ms poll keeps a
 * claim in flight much of the time; messages go one at a time, so a slot
 * is always really free.
 */
START_TEST(channel_messages_run_while_a_claim_is_in_flight)
{
	struct h_daemon	 d;
	char		 msg[32];

	start_daemon(&d, 1, "poll_interval: 10ms\nlog: {level: debug}\n"
	    "sources:\n  - {channel: fm99, handler: stamp}\n");
	ck_assert(wait_subscribers("fm99", 1));
	for (int i = 0; i < 40; i++) {
		snprintf(msg, sizeof(msg), "m%d", i);
		ck_assert_int_eq(h_cmd_int(W.c, "PUBLISH fm99 %s", msg), 1);
		ck_assert_msg(H_WAIT_UNTIL(nstamps() == i + 1, 10000 * SLOW),
		    "message %d did not run", i);
		/* Its slot is free once the daemon has reaped the run. */
		ck_assert(H_WAIT_UNTIL(h_log_count(&d, "(stamp): done in") == i + 1,
		    10000 * SLOW));
	}
	ck_assert_int_eq(h_log_count(&d, "dropped"), 0);
	h_daemon_stop(&d);
}
END_TEST

/* Whether OUT/gate has a line starting with prefix. */
static bool
gate_has(const char *prefix)
{
	char	path[600], *text, *p;
	bool	found = false;

	snprintf(path, sizeof(path), "%s/gate", W.out);
	if ((text = h_read_file(path)) == NULL)
		return (false);
	for (p = text; p != NULL && !found; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		found = strncmp(p, prefix, strlen(prefix)) == 0;
	}
	free(text);
	return (found);
}

/*
 * A handler's max_concurrency counts its channel runs and its queue jobs
 * together: with max_concurrency 1, a queued job of the handler waits
 * while a channel run of it goes on (before, the queue side counted only
 * its own jobs and ran both), and a message that comes while a job runs
 * is dropped with the reason.
 */
START_TEST(channel_runs_count_against_max_concurrency)
{
	struct h_daemon	d;
	char		open_path[600];

	h_write_file(W.hdir, "gate", "#!/bin/sh\n"
	    "echo \"start $DEFERD_JOB_ID\" >> \"$OUT/gate\"\n"
	    "while [ ! -e \"$OUT/open\" ]; do sleep 0.02; done\n"
	    "echo \"end $DEFERD_JOB_ID\" >> \"$OUT/gate\"\n", 0755);
	snprintf(open_path, sizeof(open_path), "%s/open", W.out);
	start_daemon(&d, 4, "  overrides: {gate: {max_concurrency: 1}}\n"
	    "sources:\n  - {channel: gates, handler: gate}\n");
	ck_assert(wait_subscribers("gates", 1));
	ck_assert_int_eq(h_cmd_int(W.c, "PUBLISH gates m1"), 1);
	ck_assert(H_WAIT_UNTIL(gate_has("start channel-"), 10000 * SLOW));
	h_enqueue(W.c, "j1", "gate", "", 0, 0);
	ck_assert_msg(!H_WAIT_UNTIL(gate_has("start j1"), 1500),
	    "a job ran beside a channel run of a handler with max_concurrency 1");
	h_write_file(W.out, "open", "", 0644);
	ck_assert(H_WAIT_UNTIL(gate_has("end j1"), 10000 * SLOW));
	ck_assert(gate_has("end channel-"));

	unlink(open_path);
	h_enqueue(W.c, "j2", "gate", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(gate_has("start j2"), 10000 * SLOW));
	ck_assert_int_eq(h_cmd_int(W.c, "PUBLISH gates m2"), 1);
	ck_assert(h_daemon_log_has(&d, "dropped: the handler is at its "
	    "max_concurrency", 10000 * SLOW));
	h_write_file(W.out, "open", "", 0644);
	ck_assert(H_WAIT_UNTIL(gate_has("end j2"), 10000 * SLOW));
	h_daemon_stop(&d);
}
END_TEST

/* Set 1000 keys prefix:0..999 expiring spread over 1 s from 2 s on. */
static void
set_spread_keys(const char *prefix)
{
	redisReply	*r = h_cmd(W.c, "EVAL %s 0 %s", "for i = 0, 999 do "
			    "redis.call('SET', ARGV[1] .. i, 'x', 'PX', 2000 + i) end "
			    "return 1", prefix);

	freeReplyObject(r);
}

/* Expiry times (ms) of prefix:0..999 into exp[]. */
static void
get_expiries(const char *prefix, int64_t *exp)
{
	redisReply	*r = h_cmd(W.c, "EVAL %s 0 %s", "local t = {} for i = 0, "
			    "999 do t[i + 1] = redis.call('PEXPIRETIME', ARGV[1] .. i) "
			    "end return t", prefix);

	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	for (size_t i = 0; i < 1000; i++)
		exp[i] = r->element[i]->integer;
	freeReplyObject(r);
}

/* Load count volatile keys that expire in an hour (noise for the sampler). */
static void
load_noise(int count)
{
	freeReplyObject(h_cmd(W.c, "EVAL %s 0 %d", "for i = 1, tonumber(ARGV[1]) "
	    "do redis.call('SET', 'noise:' .. i, 'x', 'EX', 3600) end return 1",
	    count));
}

/* Milliseconds since the epoch of a log line's "YYYY-MM-DDTHH:MM:SS.mmmZ" stamp. */
static int64_t
log_time_ms(const char *line)
{
	struct tm	tm;
	int		ms = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(line, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return (-1);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return ((int64_t)timegm(&tm) * 1000 + ms);
}

/*
 * From deferd's log, for prefix:0..999: when each job was created
 * ("expirations: key KEY expired", logged when Redis confirmed the job)
 * and when its handler started ("job exp:0:KEY (noop): done in Nms" is
 * logged at the end, so start = end - N), as lags after the key's expiry.
 * Returns how many handler starts were found.
 */
static size_t
noop_lags(const struct h_daemon *d, const char *prefix, const int64_t *exp,
    int64_t *created, size_t *ncreated, int64_t *started)
{
	char	*log = h_read_file(d->log), *p, *line, pj[64], pk[64];
	size_t	 k = 0;

	*ncreated = 0;
	snprintf(pj, sizeof(pj), "job exp:0:%s", prefix);
	snprintf(pk, sizeof(pk), "expirations: key %s", prefix);
	for (p = log; p != NULL && (line = strsep(&p, "\n")) != NULL;) {
		char	*j, *dn;
		int	 idx;

		if ((j = strstr(line, pk)) != NULL && strstr(j, " expired (db")) {
			idx = atoi(j + strlen(pk));
			if (idx >= 0 && idx < 1000 && *ncreated < 1000)
				created[(*ncreated)++] = log_time_ms(line) - exp[idx];
			continue;
		}
		if ((j = strstr(line, pj)) == NULL ||
		    (dn = strstr(j, "(noop): done in ")) == NULL)
			continue;
		idx = atoi(j + strlen(pj));
		if (idx < 0 || idx >= 1000 || k >= 1000)
			continue;
		started[k++] = log_time_ms(line) - strtoll(dn + 16, NULL, 10) -
		    exp[idx];
	}
	free(log);
	return (k);
}

/*
 * Wait for the 1000 noop runs of prefix, report both lags, and check the
 * bounds the mechanism promises (docs/reliability.md P4): every job created
 * within 3 s of its key's expiry (the touch at the deadline, else the 1 s
 * safety sweep, with room for a busy machine); handler start within 10 s
 * for all (it also waits for a free slot and a process start: a throughput
 * figure). The share within 1 s is target F's figure: bench/ measures it;
 * here it is printed, with the daemon's warnings when it falls short.
 */
static void
measure_deferd(const struct h_daemon *d, const char *label, const char *prefix,
    const int64_t *exp)
{
	int64_t	created[1000], started[1000];
	size_t	k = 0, nc = 0;
	char	l[200];
	double	share;

	ck_assert_msg(H_WAIT_UNTIL((k = noop_lags(d, prefix, exp, created, &nc,
	    started)) == 1000, 30000), "%s: only %zu of 1000 handlers ran", label, k);
	ck_assert_uint_eq(nc, 1000);
	snprintf(l, sizeof(l), "%s: expiry -> job created", label);
	share = report(l, created, nc);
	if (share < 0.99)
		h_daemon_print_warnings(d);
	ck_assert_int_le(created[nc - 1], 3000 * SLOW);
	snprintf(l, sizeof(l), "%s: expiry -> handler start", label);
	report(l, started, k);
	ck_assert_int_le(started[k - 1], 10000 * SLOW);
}

START_TEST(precise_expiry_among_100000_volatile_keys)
{
	struct h_daemon	 d;
	int64_t		 exp[1000];

	/* The cheapest handler, so the figure is deferd's, not fork's. */
	h_write_file(W.hdir, "noop", "#!/bin/sh\nexit 0\n", 0755);
	start_daemon(&d, 128, "log: {level: debug}\n"	/* "done in" lines */
	    "expirations:\n  rules:\n"
	    "    - {pattern: \"prec:*\", handler: noop}\n");
	ck_assert(subscribed(1));
	set_spread_keys("prec:a:");
	get_expiries("prec:a:", exp);
	measure_deferd(&d, "deferd, 1000 keys alone", "prec:a:", exp);
	load_noise(100000);
	set_spread_keys("prec:b:");
	get_expiries("prec:b:", exp);
	measure_deferd(&d, "deferd, 1000 keys among 100000 volatile keys",
	    "prec:b:", exp);
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*su = suite_create("sources");
	TCase	*tc = tcase_create("sources");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, expired_key_runs_handler_once);
	tcase_add_test(tc, odd_keys_get_a_digest_id);
	tcase_add_test(tc, notify_flags_refused_or_configured);
	tcase_add_test(tc, three_daemons_cancel_500_orders_once);
	tcase_add_test(tc, plain_zset_members_once_at_their_time);
	tcase_add_test(tc, list_items_survive_kill_9_and_client_kill);
	tcase_add_test(tc, channel_message_runs_once_per_daemon);
	tcase_add_test(tc, channel_run_ids_are_unique_across_sources);
	tcase_add_test(tc, channel_messages_run_while_a_claim_is_in_flight);
	tcase_add_test(tc, channel_runs_count_against_max_concurrency);
	tcase_add_test(tc, precise_expiry_among_100000_volatile_keys);
	suite_add_tcase(su, tc);
	return (h_main(su));
}
