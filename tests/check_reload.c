/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of SIGHUP for the sources of docs/architecture.md: a
 * reload whose expiration rules or sources changed replaces the running
 * sources (new rules fire, removed ones no longer do, a zset source added
 * by reload works, a list source loses no item across the switch, and a
 * storm of reloads under load does not crash). A private redis-server and
 * real deferd processes; the "stamp" handler appends
 * "start_ms|source|payload|expired_key|channel" to $OUT/stamps. Every wait
 * polls with a deadline; fixed windows only assert that nothing happens.
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

static struct h_world	 W;	/* Redis, client, handlers/out/work dirs */
static int		 NDAEMON;

static const char STAMP[] =
    "#!/bin/bash\n"
    "t=${EPOCHREALTIME/./}\n"
    "IFS= read -r -d '' p\n"
    "printf '%s|%s|%s|%s|%s\\n' \"${t:0:13}\" \"${DEFERD_SOURCE:--}\" \"$p\" "
    "\"${DEFERD_EXPIRED_KEY:--}\" \"${DEFERD_CHANNEL:--}\" >> \"$OUT/stamps\"\n";

static void
setup(void)
{
	h_world_setup(&W, NULL);
	h_write_file(W.hdir, "stamp", STAMP, 0755);
	freeReplyObject(h_cmd(W.c, "CONFIG SET notify-keyspace-events Exg"));
}

static void
teardown(void)
{
	h_world_teardown(&W);
}

/* A config for the test Redis with extra YAML at the top level. */
static const char *
config_text(const char *extra)
{
	static char	buf[8192];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "concurrency: 8\n"
	    "poll_interval: 500ms\n"
	    "retry: {max_attempts: 3, backoff: 100ms, backoff_max: 1s}\n"
	    "lease: 5s\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 20s\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "%s",
	    W.r.url, W.hdir, W.out, extra);
	return (buf);
}

/* Start a daemon in its own directory and wait until it is ready. */
static void
start_daemon(struct h_daemon *d, const char *extra)
{
	char	dir[600];

	snprintf(dir, sizeof(dir), "%s/d%d", W.work, NDAEMON++);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	h_daemon_start(d, dir, config_text(extra));
	ck_assert_msg(h_daemon_log_has(d, "ready: ", 20000 * SLOW),
	    "deferd not ready");
}

/* Write the config with extra and SIGHUP; wait until the reload is done. */
static void
reload(struct h_daemon *d, const char *extra, bool wait)
{
	char	 tmp[400];
	FILE	*f;
	int	 before = h_log_count(d, "reloaded ");

	snprintf(tmp, sizeof(tmp), "%s.new", d->config);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(config_text(extra), f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, d->config), 0);
	ck_assert_int_eq(kill(d->pid, SIGHUP), 0);
	if (wait)
		ck_assert_msg(H_WAIT_UNTIL(h_log_count(d, "reloaded ") > before,
		    10000 * SLOW), "no reload");
}

/* How many stamps have payload (or expired key) equal to what. */
static int
stamps_of(const char *what)
{
	char	 path[600], *buf, *p, *line;
	int	 n = 0;

	snprintf(path, sizeof(path), "%s/stamps", W.out);
	if ((buf = h_read_file(path)) == NULL)
		return (0);
	for (p = buf; (line = strsep(&p, "\n")) != NULL;) {
		char	*f[5];

		for (int i = 0; i < 5; i++)
			f[i] = strsep(&line, "|");
		if (f[4] == NULL)
			continue;
		if (strcmp(f[2], what) == 0 || strcmp(f[3], what) == 0)
			n++;
	}
	free(buf);
	return (n);
}

/*
 * Per-index counts of the stamps whose payload is prefix + number < n:
 * returns the number of distinct items, fills *dups and *max (most runs of
 * one).
 */
static int
stamps_indexed(const char *prefix, int n, int *dups, int *max)
{
	char	 path[600], *buf, *p, *line;
	int	*seen = calloc((size_t)n, sizeof(int)), uniq = 0;
	size_t	 plen = strlen(prefix);

	ck_assert_ptr_nonnull(seen);
	*dups = 0;
	*max = 0;
	snprintf(path, sizeof(path), "%s/stamps", W.out);
	if ((buf = h_read_file(path)) != NULL) {
		for (p = buf; (line = strsep(&p, "\n")) != NULL;) {
			char	*f[5];
			int	 idx;

			for (int i = 0; i < 5; i++)
				f[i] = strsep(&line, "|");
			if (f[4] == NULL || strncmp(f[2], prefix, plen) != 0)
				continue;
			idx = atoi(f[2] + plen);
			if (idx < 0 || idx >= n)
				continue;
			if (seen[idx]++ == 0)
				uniq++;
			else
				(*dups)++;
			if (seen[idx] > *max)
				*max = seen[idx];
		}
	}
	free(buf);
	free(seen);
	return (uniq);
}

/* Items left in any processing list of the namespace. */
static long long
proc_items(void)
{
	return (h_cmd_int(W.c, "EVAL %s 0", "local n=0 for _,k in "
	    "ipairs(redis.call('KEYS','deferd:proc:*')) do n=n+redis.call('LLEN',k) "
	    "end return n"));
}

/* SIGTERM and expect a clean exit 0 (also: no leak report under ASan). */
static void
stop_clean(struct h_daemon *d)
{
	int	status = h_daemon_signal(d, SIGTERM, true);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "deferd exit status %d", status);
}

#define RULE_A	"    - {pattern: \"a:*\", handler: stamp}\n"
#define RULE_B	"    - {pattern: \"b:*\", handler: stamp}\n"

START_TEST(reload_adds_and_removes_expiration_rules)
{
	struct h_daemon	 d;

	start_daemon(&d, "expirations:\n  rules:\n" RULE_A);
	freeReplyObject(h_cmd(W.c, "SET a:1 x PX 100"));
	ck_assert(H_WAIT_UNTIL(stamps_of("a:1") == 1, 10000 * SLOW));

	reload(&d, "expirations:\n  rules:\n" RULE_A RULE_B, true);
	ck_assert(h_daemon_log_has(&d, "reload: expiration rules changed (1 -> 2); "
	    "sources restarted", 1000));
	freeReplyObject(h_cmd(W.c, "SET b:1 x PX 100"));
	freeReplyObject(h_cmd(W.c, "SET a:2 x PX 100"));
	ck_assert_msg(H_WAIT_UNTIL(stamps_of("b:1") == 1, 10000 * SLOW),
	    "a key of the added rule ran no handler");
	ck_assert(H_WAIT_UNTIL(stamps_of("a:2") == 1, 10000 * SLOW));

	reload(&d, "expirations:\n  rules:\n" RULE_B, true);
	ck_assert(h_daemon_log_has(&d, "expiration rules changed (2 -> 1)", 1000));
	freeReplyObject(h_cmd(W.c, "SET a:3 x PX 100"));
	freeReplyObject(h_cmd(W.c, "SET b:3 x PX 100"));
	ck_assert(H_WAIT_UNTIL(stamps_of("b:3") == 1, 10000 * SLOW));
	freeReplyObject(h_cmd(W.c, "SET a:4 x PX 50"));
	usleep(1500 * 1000);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS a:4"), 0);	/* expired: event sent */
	usleep(500 * 1000);
	ck_assert_msg(stamps_of("a:3") == 0 && stamps_of("a:4") == 0,
	    "a key of a removed rule still ran its handler");
	/* Every key ran once: old and new instances never both fired. */
	ck_assert_int_eq(stamps_of("a:1") + stamps_of("a:2") + stamps_of("b:1") +
	    stamps_of("b:3"), 4);

	/* An unchanged section keeps the running sources. */
	reload(&d, "expirations:\n  rules:\n" RULE_B, true);
	ck_assert_int_eq(h_log_count(&d, "sources restarted"), 2);
	stop_clean(&d);
}
END_TEST

START_TEST(reload_adds_a_zset_source)
{
	struct h_daemon	 d;
	int64_t		 now;

	start_daemon(&d, "");
	reload(&d, "sources:\n  - {zset: delay-queue, handler: stamp}\n", true);
	ck_assert(h_daemon_log_has(&d, "reload: sources changed (0 -> 1); sources "
	    "restarted", 1000));
	now = h_redis_now_ms(W.c) / 1000;
	freeReplyObject(h_cmd(W.c, "ZADD delay-queue %lld due-now", (long long)now - 1));
	freeReplyObject(h_cmd(W.c, "ZADD delay-queue %lld due-soon", (long long)now + 2));
	ck_assert_msg(H_WAIT_UNTIL(stamps_of("due-now") == 1, 10000 * SLOW),
	    "the zset source added by reload moved nothing");
	ck_assert(H_WAIT_UNTIL(stamps_of("due-soon") == 1, 10000 * SLOW));
	ck_assert_int_eq(h_cmd_int(W.c, "ZCARD delay-queue"), 0);

	/* Removed again: members stay in the zset. */
	reload(&d, "", true);
	freeReplyObject(h_cmd(W.c, "ZADD delay-queue %lld stays", (long long)now - 1));
	usleep(1500 * 1000);
	ck_assert_int_eq(stamps_of("stays"), 0);
	ck_assert_int_eq(h_cmd_int(W.c, "ZCARD delay-queue"), 1);
	stop_clean(&d);
}
END_TEST

#define LIST_SRC	"  - {list: notify-queue, handler: stamp}\n"
#define ZSET_SRC	"  - {zset: other-zset, handler: stamp}\n"
#define CHAN_SRC	"  - {channel: radio, handler: stamp}\n"

START_TEST(list_source_loses_nothing_across_reloads)
{
	struct h_daemon	 d;
	int		 n = 300, uniq, dups, max;

	start_daemon(&d, "sources:\n" LIST_SRC);
	for (int i = 0; i < n; i++) {
		freeReplyObject(h_cmd(W.c, "RPUSH notify-queue item-%d", i));
		if (i == 100)	/* sources change, the list stays */
			reload(&d, "sources:\n" LIST_SRC ZSET_SRC, false);
		if (i == 200)
			reload(&d, "sources:\n" ZSET_SRC LIST_SRC CHAN_SRC, false);
		h_nap();
	}
	ck_assert_msg(H_WAIT_UNTIL(stamps_indexed("item-", n, &dups, &max) == n,
	    30000 * SLOW), "not every item was handled");
	usleep(500 * 1000);
	uniq = stamps_indexed("item-", n, &dups, &max);
	printf("list across 2 reloads: %d items handled, %d duplicate(s)\n",
	    uniq, dups);
	ck_assert_int_eq(uniq, n);
	ck_assert_int_eq(dups, 0);
	ck_assert_int_eq(h_cmd_int(W.c, "LLEN notify-queue"), 0);
	ck_assert_int_eq(proc_items(), 0);
	ck_assert_int_eq(h_log_count(&d, "sources restarted"), 2);

	/* The list source removed: items stay in the list, none in ours. */
	reload(&d, "sources:\n" ZSET_SRC, true);
	freeReplyObject(h_cmd(W.c, "RPUSH notify-queue left-0"));
	usleep(1000 * 1000);
	ck_assert_int_eq(stamps_of("left-0"), 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "LLEN notify-queue") == 1 &&
	    proc_items() == 0, 10000 * SLOW));
	/* And back: the item is taken. */
	reload(&d, "sources:\n" LIST_SRC, true);
	ck_assert(H_WAIT_UNTIL(stamps_of("left-0") == 1, 10000 * SLOW));
	stop_clean(&d);
}
END_TEST

/* Twenty SIGHUPs with changing sources while items, messages and keys flow. */
START_TEST(twenty_reloads_under_load_do_not_crash)
{
	static const char *const cfgs[] = {
		"sources:\n" LIST_SRC,
		"sources:\n" LIST_SRC CHAN_SRC ZSET_SRC
		    "expirations:\n  rules:\n" RULE_A,
		"sources:\n" CHAN_SRC LIST_SRC
		    "expirations:\n  rules:\n" RULE_A RULE_B,
		"sources:\n" ZSET_SRC "  - {list: second-list, handler: stamp}\n"
		    LIST_SRC,
		"expirations:\n  rules:\n" RULE_B "sources:\n" LIST_SRC,
	};
	struct h_daemon	 d;
	int		 n = 400, uniq, dups, max, k = 0;

	start_daemon(&d, cfgs[0]);
	for (int i = 0; i < n; i++) {
		freeReplyObject(h_cmd(W.c, "RPUSH notify-queue item-%d", i));
		if (i % 4 == 0) {
			freeReplyObject(h_cmd(W.c, "PUBLISH radio msg-%d", i));
			freeReplyObject(h_cmd(W.c, "SET a:%d x PX 20", i));
			freeReplyObject(h_cmd(W.c, "ZADD other-zset 1 z-%d", i));
		}
		if (i % 20 == 10) {
			k++;
			reload(&d, cfgs[k % 5], false);
		}
		h_nap();
	}
	ck_assert_int_eq(k, 20);
	ck_assert_int_eq(kill(d.pid, 0), 0);
	/* Settle on a config with the list; every item is handled. */
	reload(&d, cfgs[0], true);
	ck_assert_msg(H_WAIT_UNTIL(stamps_indexed("item-", n, &dups, &max) == n,
	    60000 * SLOW), "not every item was handled");
	uniq = stamps_indexed("item-", n, &dups, &max);
	printf("list across 21 reloads: %d items handled, %d duplicate(s), "
	    "at most %d run(s) of one\n", uniq, dups, max);
	ck_assert_int_le(max, 2);
	ck_assert_int_eq(h_cmd_int(W.c, "LLEN notify-queue"), 0);
	ck_assert(H_WAIT_UNTIL(proc_items() == 0, 10000 * SLOW));
	stop_clean(&d);
}
END_TEST

/*
 * docs/reliability.md P11: a hundred SIGHUPs within about a second,
 * alternating two source sets, while list items and delayed jobs flow. The
 * daemon must not crash (nor leak: the ASan build checks at exit), and once
 * it settles every item and job has been handled.
 */
START_TEST(hundred_hups_in_a_second_under_load)
{
	static const char *const cfgs[] = {
		"sources:\n" LIST_SRC,
		"sources:\n" LIST_SRC CHAN_SRC "log: {level: debug}\n",
	};
	struct h_daemon	 d;
	int		 items = 200, jobs = 50, dups, max, hups = 0;
	int64_t		 t0;
	char		 id[32], payload[32];

	start_daemon(&d, cfgs[0]);
	t0 = h_mono_ms();
	for (int i = 0; i < items; i++) {
		freeReplyObject(h_cmd(W.c, "RPUSH notify-queue item-%d", i));
		if (i % 4 == 0) {
			snprintf(id, sizeof(id), "hup-job-%d", i / 4);
			snprintf(payload, sizeof(payload), "job-%d", i / 4);
			h_enqueue(W.c, id, "stamp", payload, strlen(payload), 0);
		}
		if (i % 2 == 0) {
			reload(&d, cfgs[hups % 2], false);
			hups++;
		}
	}
	printf("%d SIGHUPs in %.2f s\n", hups, (double)(h_mono_ms() - t0) / 1000);
	ck_assert_int_eq(hups, 100);
	ck_assert_int_eq(kill(d.pid, 0), 0);
	reload(&d, cfgs[0], true);
	printf("%d reloads done for them (signals coalesce)\n",
	    h_log_count(&d, "reloaded "));
	ck_assert_msg(H_WAIT_UNTIL(stamps_indexed("item-", items, &dups, &max) ==
	    items && stamps_indexed("job-", jobs, &dups, &max) == jobs,
	    60000 * SLOW), "not every item and job was handled");
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 10000 * SLOW));
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert_int_eq(h_cmd_int(W.c, "LLEN notify-queue"), 0);
	stop_clean(&d);
}
END_TEST

/* The resident set of pid in KiB (VmRSS), or -1. */
static long
rss_kib(pid_t pid)
{
	char	path[64], *text, *p;
	long	kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((text = h_read_file(path)) == NULL)
		return (-1);
	if ((p = strstr(text, "VmRSS:")) != NULL)
		kib = strtol(p + 6, NULL, 10);
	free(text);
	return (kib);
}

/* Send SIGHUP n times, each once the previous reload was logged. */
static void
hup_times(struct h_daemon *d, int n)
{
	int	done = h_log_count(d, "reloaded ");

	for (int i = 0; i < n; i++) {
		h_daemon_signal(d, SIGHUP, false);
		ck_assert_msg(H_WAIT_UNTIL(h_log_count(d, "reloaded ") > done,
		    10000 * SLOW), "reload %d not logged", i);
		done = h_log_count(d, "reloaded ");
	}
}

/*
 * 500 SIGHUPs of an unchanged file with expiration rules and zset, list
 * and channel sources: a replaced config is freed unless a source set
 * still uses it, so the resident set stays within 200 KiB (it grew by
 * about 640 KiB when every config was kept until exit). Sanitizer builds
 * hold freed memory back, so there only the absence of leaks is checked
 * (at exit).
 */
START_TEST(five_hundred_hups_keep_memory_flat)
{
	struct h_daemon	d;
	long		before, after;

	start_daemon(&d, "expirations:\n  rules:\n"
	    "    - {pattern: \"order:*\", handler: stamp}\n"
	    "sources:\n  - {zset: zq, handler: stamp}\n"
	    "  - {list: lq, handler: stamp}\n"
	    "  - {channel: ch, handler: stamp}\n");
	hup_times(&d, 20);		/* the allocator's arenas settle */
	before = rss_kib(d.pid);
	hup_times(&d, 500);
	after = rss_kib(d.pid);
	printf("RSS after 20 and after 520 reloads: %ld KiB, %ld KiB (%+ld)\n",
	    before, after, after - before);
	fflush(stdout);
	ck_assert(before > 0 && after > 0);
	if (SLOW == 1)
		ck_assert_msg(after - before <= 200, "RSS grew by %ld KiB",
		    after - before);
	h_daemon_stop(&d);
}
END_TEST

#define CHURN_A	"expirations:\n  rules:\n" \
	"    - {pattern: \"order:*\", handler: stamp}\n" \
	"sources:\n  - {zset: zq, handler: stamp}\n" \
	"  - {list: lq, handler: stamp}\n" \
	"  - {channel: ch, handler: stamp}\n"
#define CHURN_B	"expirations:\n  rules:\n" \
	"    - {pattern: \"order:*\", handler: stamp}\n" \
	"sources:\n  - {zset: zq, handler: stamp}\n" \
	"  - {list: lq2, handler: stamp}\n" \
	"  - {channel: ch2, handler: stamp}\n"

/* Reload n times, alternating between the two source sets. */
static void
churn(struct h_daemon *d, int n)
{
	for (int i = 0; i < n; i++)
		reload(d, i % 2 == 0 ? CHURN_B : CHURN_A, true);
}

/*
 * Reloads that change the sources retire the running set; once its list
 * sources have handed over (their BLMOVE returns: up to 5 s) and the
 * replies to its commands are in, it is freed with its config. 400 such
 * reloads free 400 sets; the resident set after the second 200 is within
 * 512 KiB of that after the first 200 (which set the peak: sets wait for
 * their BLMOVE), where keeping them would cost about 8 KiB each (1.5 MiB);
 * and the sources still work.
 */
START_TEST(retired_source_sets_are_freed)
{
	struct h_daemon	d;
	long		before, after;
	int64_t		now;

	start_daemon(&d, CHURN_A);
	churn(&d, 200);
	ck_assert_msg(H_WAIT_UNTIL(h_log_count(&d, "are freed") == 200,
	    30000 * SLOW), "%d of 200 retired source sets freed",
	    h_log_count(&d, "are freed"));
	before = rss_kib(d.pid);
	churn(&d, 200);
	ck_assert_msg(H_WAIT_UNTIL(h_log_count(&d, "are freed") == 400,
	    30000 * SLOW), "%d of 400 retired source sets freed",
	    h_log_count(&d, "are freed"));
	after = rss_kib(d.pid);
	printf("RSS after 200 and after 400 source changes: %ld KiB, %ld KiB "
	    "(%+ld)\n", before, after, after - before);
	fflush(stdout);
	if (SLOW == 1)
		ck_assert_msg(after - before <= 512, "RSS grew by %ld KiB",
		    after - before);
	now = h_redis_now_ms(W.c) / 1000;
	freeReplyObject(h_cmd(W.c, "ZADD zq %lld after-churn", (long long)now - 1));
	freeReplyObject(h_cmd(W.c, "RPUSH lq from-the-list"));
	ck_assert_msg(H_WAIT_UNTIL(stamps_of("after-churn") == 1 &&
	    stamps_of("from-the-list") == 1, 10000 * SLOW),
	    "the sources stopped working after the reloads");
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("reload");
	TCase	*tc = tcase_create("sources");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120 * SLOW);
	tcase_add_test(tc, reload_adds_and_removes_expiration_rules);
	tcase_add_test(tc, reload_adds_a_zset_source);
	tcase_add_test(tc, list_source_loses_nothing_across_reloads);
	tcase_add_test(tc, twenty_reloads_under_load_do_not_crash);
	tcase_add_test(tc, hundred_hups_in_a_second_under_load);
	tcase_add_test(tc, five_hundred_hups_keep_memory_flat);
	tcase_add_test(tc, retired_source_sets_are_freed);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
