/* SPDX-License-Identifier: MIT */
/*
 * Periodic jobs end to end (issue "Periodic jobs"): three daemons with one
 * every: 1s schedule run each tick exactly once, none missing; after all
 * daemons were stopped for five ticks, missed: skip, once and all catch up
 * as documented; a reload that removes a schedule cancels its pending tick
 * and one that changes it replaces the pending tick. Handlers record
 * DEFERD_JOB_ID, DEFERD_SCHEDULE and DEFERD_TICK.
 */
#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_RUNS	4096

static struct h_world	 W;

/* One recorded run: the schedule, its tick (ms) and the tick's text. */
struct run {
	char	schedule[32];
	int64_t	tick;
	char	text[40];
};

static void
setup(void)
{
	h_world_setup(&W, NULL);
	h_write_file(W.hdir, "tick", "#!/bin/sh\n"
	    "echo \"$DEFERD_JOB_ID $DEFERD_SCHEDULE $DEFERD_TICK\" >> "
	    "\"$OUT/runs\"\n", 0755);
}

static void
teardown(void)
{
	h_world_teardown(&W);
}

/* The config: Redis, handlers, and the schedules text (a YAML list). */
static const char *
config_text(const char *schedules)
{
	static char	buf[4096];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "handlers: {dir: %s, environment: {OUT: \"%s\"}}\n"
	    "schedules:\n%s",
	    W.r.url, W.hdir, W.out, schedules);
	return (buf);
}

/*
 * Read the runs file into runs (at most MAX_RUNS); checks that each line's
 * ID is cron:SCHEDULE:TICK and its text is the tick in UTC. Returns the count.
 */
static size_t
read_runs(struct run *runs)
{
	char	*text = h_read_file(h_world_out(&W, "runs"));
	char	*line, *save = NULL, id[160], want[40];
	size_t	 n = 0;

	for (line = text != NULL ? strtok_r(text, "\n", &save) : NULL;
	    line != NULL && n < MAX_RUNS; line = strtok_r(NULL, "\n", &save)) {
		struct run	*r = &runs[n++];
		time_t		 secs;
		struct tm	 tm;

		ck_assert_msg(sscanf(line, "%159s %31s %39s", id, r->schedule,
		    r->text) == 3, "bad line: %s", line);
		r->tick = strtoll(strrchr(id, ':') + 1, NULL, 10);
		snprintf(want, sizeof(want), "cron:%s:%" PRId64, r->schedule,
		    r->tick);
		ck_assert_str_eq(id, want);
		secs = (time_t)(r->tick / 1000);
		gmtime_r(&secs, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
		ck_assert_str_eq(r->text, want);
	}
	free(text);
	return (n);
}

/* How many runs of schedule have a tick in (from, to]. */
static size_t
count_runs(const struct run *runs, size_t n, const char *schedule,
    int64_t from, int64_t to)
{
	size_t	k = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(runs[i].schedule, schedule) == 0 &&
		    runs[i].tick > from && runs[i].tick <= to)
			k++;
	return (k);
}

/* Runs of schedule recorded so far. */
static size_t
runs_of(const char *schedule)
{
	static struct run	runs[MAX_RUNS];
	size_t			n = read_runs(runs);

	return (count_runs(runs, n, schedule, -1, INT64_MAX));
}

/*
 * Three daemons, one schedule every second, for ten seconds: the runs,
 * counted by tick, cover every tick from the first to the last exactly
 * once. (missed: all, so that a stall of all three daemons on a busy
 * machine shows as a late run, not a hole: what is tested is "once".)
 */
START_TEST(three_daemons_run_each_tick_once)
{
	static struct run	runs[MAX_RUNS];
	struct h_daemon		d[3];
	const char		*cfg;
	int64_t			lo = INT64_MAX, hi = 0;
	size_t			n;

	cfg = config_text("  - {name: beat, every: 1s, handler: tick, "
	    "missed: all}\n");
	for (int i = 0; i < 3; i++) {
		char	sub[8];

		snprintf(sub, sizeof(sub), "d%d", i);
		h_daemon_start(&d[i], h_world_subdir(&W, sub), cfg);
	}
	for (int i = 0; i < 3; i++)
		ck_assert(h_daemon_log_has(&d[i], "ready", 15000));
	ck_assert_msg(H_WAIT_UNTIL(runs_of("beat") >= 11, 30000 * SLOW),
	    "only %zu runs", runs_of("beat"));
	for (int i = 0; i < 3; i++)
		h_daemon_stop(&d[i]);
	n = read_runs(runs);
	for (size_t i = 0; i < n; i++) {
		lo = runs[i].tick < lo ? runs[i].tick : lo;
		hi = runs[i].tick > hi ? runs[i].tick : hi;
		ck_assert_int_eq(runs[i].tick % 1000, 0);
	}
	for (int64_t t = lo; t <= hi; t += 1000)
		ck_assert_msg(count_runs(runs, n, "beat", t - 1, t) == 1,
		    "tick %" PRId64 " ran %zu times", t,
		    count_runs(runs, n, "beat", t - 1, t));
	ck_assert_int_eq(n, (size_t)((hi - lo) / 1000 + 1));
}
END_TEST

/* The count in "schedule NAME: N tick(s) missed since" of d's log, or -1. */
static long long
missed_logged(const struct h_daemon *d, const char *name)
{
	char		*log = h_read_file(d->log), key[64];
	const char	*p;
	long long	 n = -1;

	snprintf(key, sizeof(key), "schedule %s: ", name);
	for (p = log; p != NULL && (p = strstr(p, key)) != NULL; p++)
		if (sscanf(p + strlen(key), "%lld tick(s) missed", &n) == 1)
			break;
	free(log);
	return (n);
}

/* The schedule's last enqueued tick in Redis, or -1. */
static int64_t
last_tick(const char *name)
{
	char	buf[32];

	if (h_cmd_str(W.c, buf, sizeof(buf), "HGET deferd:{default}:schedule:%s "
	    "last", name) == NULL)
		return (-1);
	return (strtoll(buf, NULL, 10));
}

/*
 * Stop the only daemon for over five ticks and start it again: the ticks
 * enqueued before the stop run; of the missed ones (as many as the log
 * says), skip runs none, once the latest, all each of them once; then the
 * schedules go on.
 */
START_TEST(restart_catches_up_as_documented)
{
	static const char *const	names[] = { "s-skip", "s-once", "s-all" };
	static struct run		runs[MAX_RUNS];
	struct h_daemon			d;
	const char			*cfg;
	int64_t				last[3];
	long long			missed[3];
	size_t				n;

	cfg = config_text(
	    "  - {name: s-skip, every: 1s, handler: tick, missed: skip}\n"
	    "  - {name: s-once, every: 1s, handler: tick, missed: once}\n"
	    "  - {name: s-all, every: 1s, handler: tick, missed: all}\n");
	h_daemon_start(&d, h_world_subdir(&W, "a"), cfg);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	for (int i = 0; i < 3; i++)
		ck_assert(H_WAIT_UNTIL(runs_of(names[i]) >= 2, 15000 * SLOW));
	h_daemon_stop(&d);
	for (int i = 0; i < 3; i++)
		ck_assert((last[i] = last_tick(names[i])) > 0);
	ck_assert(H_WAIT_UNTIL(h_redis_now_ms(W.c) > last[0] + 5500 &&
	    h_redis_now_ms(W.c) > last[2] + 5500, 15000));

	h_daemon_start(&d, h_world_subdir(&W, "b"), cfg);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(H_WAIT_UNTIL((missed[i] = missed_logged(&d,
		    names[i])) >= 0, 15000 * SLOW), "%s: no missed ticks logged",
		    names[i]);
		ck_assert_int_ge(missed[i], 5);
	}
	/* Wait for a tick after the missed ones to run, for each. */
	for (int i = 0; i < 3; i++)
		ck_assert(H_WAIT_UNTIL((n = read_runs(runs), count_runs(runs, n,
		    names[i], last[i] + missed[i] * 1000, INT64_MAX) >= 1),
		    15000 * SLOW));
	h_daemon_stop(&d);
	n = read_runs(runs);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(count_runs(runs, n, names[i], last[i] - 1,
		    last[i]), 1);	/* enqueued before the stop: ran */
	ck_assert_int_eq(count_runs(runs, n, "s-skip", last[0],
	    last[0] + missed[0] * 1000), 0);
	ck_assert_int_eq(count_runs(runs, n, "s-once", last[1],
	    last[1] + missed[1] * 1000), 1);
	ck_assert_int_eq(count_runs(runs, n, "s-once", last[1] + missed[1] * 1000 - 1,
	    last[1] + missed[1] * 1000), 1);	/* the latest one */
	ck_assert_int_eq(count_runs(runs, n, "s-all", last[2],
	    last[2] + missed[2] * 1000), (size_t)missed[2]);
	for (int64_t t = last[2] + 1000; t <= last[2] + missed[2] * 1000; t += 1000)
		ck_assert_int_eq(count_runs(runs, n, "s-all", t - 1, t), 1);
}
END_TEST

/* Lines of text. */
static int
count_lines(const char *text)
{
	int	n = 0;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return (n);
}

/* Rewrite d's config file with text and send SIGHUP. */
static void
reload(struct h_daemon *d, const char *text)
{
	FILE	*f = fopen(d->config, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	h_daemon_signal(d, SIGHUP, false);
}

/* Whether a pending (delayed) tick job of schedule exists; its ID into id. */
static bool
pending_tick(const char *schedule, char *id, size_t len)
{
	redisReply	*r = h_cmd(W.c, "ZRANGE deferd:{default}:delayed 0 -1");
	bool		 found = false;
	char		 prefix[64];

	snprintf(prefix, sizeof(prefix), "cron:%s:", schedule);
	for (size_t i = 0; i < r->elements && !found; i++)
		if (strncmp(r->element[i]->str, prefix, strlen(prefix)) == 0) {
			snprintf(id, len, "%s", r->element[i]->str);
			found = true;
		}
	freeReplyObject(r);
	return (found);
}

/* The output of "deferctl -c CONFIG schedules ARGS" into out. */
static void
ctl_schedules(const struct h_daemon *d, const char *args, char *out,
    size_t len)
{
	const char	*argv[4];
	char		 line[1024];

	snprintf(line, sizeof(line), "%s -c %s schedules %s", h_bin("deferctl"),
	    d->config, args);
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = line;
	argv[3] = NULL;
	ck_assert_int_eq(h_run(argv, NULL, out, len), 0);
}

/*
 * every: 10s keeps the next tick pending. A reload that changes the
 * handler replaces the pending job; one that removes the schedule cancels
 * it and deletes the schedule's hash.
 */
START_TEST(reload_changes_and_removes)
{
	struct h_daemon	d;
	char		id[160], handler[32], out[4096];

	h_daemon_start(&d, W.work, config_text(
	    "  - {name: ten, every: 10s, handler: tick}\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	ck_assert(H_WAIT_UNTIL(pending_tick("ten", id, sizeof(id)), 15000));
	/* deferctl lists it: definition, last tick (the pending one), next 3. */
	ctl_schedules(&d, "", out, sizeof(out));
	ck_assert_msg(strstr(out, "ten: every 10s, handler tick, queue default, "
	    "missed: skip\n  last tick  20") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\n  next       20") != NULL, "%s", out);
	ck_assert_int_eq(count_lines(out), 5);
	ctl_schedules(&d, "--json", out, sizeof(out));
	ck_assert(h_json_ok(out));
	ck_assert_msg(strstr(out, "\"next\":[{\"ms\":") != NULL, "%s", out);
	reload(&d, config_text("  - {name: ten, every: 10s, handler: tock}\n"));
	ck_assert(h_daemon_log_has(&d, "schedule ten: definition changed", 15000));
	ck_assert(H_WAIT_UNTIL(pending_tick("ten", id, sizeof(id)) &&
	    h_job_str(W.c, handler, sizeof(handler), "deferd:{default}:job:%s "
	    "handler", id) != NULL && strcmp(handler, "tock") == 0, 15000));

	reload(&d, config_text("  []\n"));
	ck_assert(h_daemon_log_has(&d, "schedule ten: removed;", 15000));
	ck_assert(!pending_tick("ten", id, sizeof(id)));
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:{default}:schedule:ten"), 0);
	ck_assert_int_eq(h_job_exists(W.c, "deferd:{default}:job:%s", id), 0);
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("schedules");
	TCase	*tc = tcase_create("schedules");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, three_daemons_run_each_tick_once);
	tcase_add_test(tc, restart_catches_up_as_documented);
	tcase_add_test(tc, reload_changes_and_removes);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
