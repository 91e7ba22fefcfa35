/* SPDX-License-Identifier: MIT */
/*
 * Observability: the exposition writer and histograms (unit), and end to
 * end against a private redis-server and real deferd processes: /metrics
 * parses as text format 0.0.4 and its counters move by exactly the jobs
 * run, retried and buried; /healthz follows Redis; 404/405; a taken port
 * is a clear fatal error; deferctl watch prints a run's events in order as
 * valid JSON; idle HTTP clients do not delay jobs; deferctl stats shows the
 * lateness summary. Every wait polls with a generous deadline.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "json.h"
#include "metrics.h"
#include "rclient.h"
#include "scripts.h"

static struct h_world	 W;	/* Redis, client, handlers/out/work dirs */
static int		 PORT;
static int		 CONC = 8;	/* concurrency of the next daemon */

/* ---- a small checker of the text exposition format ---- */

/* Whether name matches [a-zA-Z_:][a-zA-Z0-9_:]*. */
static bool
x_name_ok(const char *s, size_t n)
{
	if (n == 0 || !(s[0] == '_' || s[0] == ':' || (s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= 'A' && s[0] <= 'Z')))
		return (false);
	for (size_t i = 1; i < n; i++)
		if (!(s[i] == '_' || s[i] == ':' || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return (false);
	return (true);
}

/* Parse {k="v",...} at *p into labels text without le (and le into le); false if bad. */
static bool
x_labels(const char **pp, char *rest, size_t restlen, char *le, size_t lelen)
{
	const char	*p = *pp;
	size_t		 r = 0;

	le[0] = rest[0] = '\0';
	if (*p != '{')
		return (true);
	p++;
	while (*p != '}') {
		const char	*k = p;
		char		 val[1024];
		size_t		 v = 0;

		while (*p != '=' && *p != '\0')
			p++;
		if (*p != '=' || !x_name_ok(k, (size_t)(p - k)) || p[1] != '"')
			return (false);
		p += 2;
		for (; *p != '"'; p++) {
			if (*p == '\0' || *p == '\n' || v + 2 >= sizeof(val))
				return (false);
			if (*p == '\\') {
				p++;
				if (*p != '\\' && *p != '"' && *p != 'n')
					return (false);
			}
			val[v++] = *p;
		}
		val[v] = '\0';
		p++;
		if ((size_t)(p - k) > 3 && strncmp(k, "le=", 3) == 0)
			snprintf(le, lelen, "%s", val);
		else
			r += (size_t)snprintf(rest + r, restlen - r, "%.*s|",
			    (int)(p - k), k);
		if (*p == ',')
			p++;
		else if (*p != '}')
			return (false);
	}
	*pp = p + 1;
	return (true);
}

/* Whether s is a valid sample value. */
static bool
x_value_ok(const char *s)
{
	char	*end;

	if (strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0 || strcmp(s, "NaN") == 0)
		return (true);
	strtod(s, &end);
	return (end != s && *end == '\0');
}

/*
 * Check text as exposition format 0.0.4: HELP and TYPE before every
 * family's samples, good names, labels and values; histogram buckets
 * cumulative per series, ending in +Inf equal to _count. Fails the test
 * with the offending line.
 */
static void
x_check(const char *text)
{
	char	 fam[256] = "", type[32] = "", help_of[256] = "";
	char	 series[2048] = "", le[64], rest[2048];
	double	 last = -1, inf = -1;
	int	 nfam = 0;

	for (const char *line = text; *line != '\0';) {
		const char	*nl = strchr(line, '\n'), *p;
		char		 l[4096], name[256], val[64];
		size_t		 n;

		ck_assert_msg(nl != NULL, "last line not ended by a newline");
		n = (size_t)(nl - line);
		ck_assert_uint_lt(n, sizeof(l));
		memcpy(l, line, n);
		l[n] = '\0';
		line = nl + 1;
		if (strncmp(l, "# HELP ", 7) == 0) {
			sscanf(l + 7, "%255s", help_of);
			continue;
		}
		if (strncmp(l, "# TYPE ", 7) == 0) {
			ck_assert_int_eq(sscanf(l + 7, "%255s %31s", fam, type), 2);
			ck_assert_msg(strcmp(fam, help_of) == 0, "TYPE without HELP: %s", l);
			ck_assert_msg(strcmp(type, "counter") == 0 || strcmp(type,
			    "gauge") == 0 || strcmp(type, "histogram") == 0, "%s", l);
			series[0] = '\0';
			nfam++;
			continue;
		}
		ck_assert_msg(l[0] != '#' && l[0] != '\0', "stray line: %s", l);
		for (p = l; *p != '{' && *p != ' ' && *p != '\0'; p++)
			;
		ck_assert_msg(x_name_ok(l, (size_t)(p - l)), "bad name: %s", l);
		snprintf(name, sizeof(name), "%.*s", (int)(p - l), l);
		ck_assert_msg(x_labels(&p, rest, sizeof(rest), le, sizeof(le)),
		    "bad labels: %s", l);
		ck_assert_msg(*p == ' ' && sscanf(p + 1, "%63s", val) == 1 &&
		    x_value_ok(val), "bad value: %s", l);
		if (strcmp(type, "histogram") != 0) {
			ck_assert_msg(strcmp(name, fam) == 0, "sample of another "
			    "family (no HELP/TYPE first): %s", l);
			continue;
		}
		n = strlen(fam);
		ck_assert_msg(strncmp(name, fam, n) == 0, "not of %s: %s", fam, l);
		if (strcmp(name + n, "_bucket") == 0) {
			ck_assert_msg(le[0] != '\0', "bucket without le: %s", l);
			if (strcmp(rest, series) != 0) {
				ck_assert_msg(last < 0 || inf >= 0, "series without +Inf");
				snprintf(series, sizeof(series), "%s", rest);
				last = 0;
				inf = -1;
			}
			ck_assert_msg(strtod(val, NULL) >= last, "not cumulative: %s", l);
			last = strtod(val, NULL);
			if (strcmp(le, "+Inf") == 0)
				inf = last;
		} else if (strcmp(name + n, "_count") == 0) {
			ck_assert_msg(strcmp(rest, series) == 0 && inf >= 0 &&
			    strtod(val, NULL) == inf, "_count != +Inf bucket: %s", l);
			last = -1;
		} else
			ck_assert_msg(strcmp(name + n, "_sum") == 0, "bad: %s", l);
	}
	ck_assert_int_gt(nfam, 0);
}

/* The value of the sample line starting with "series " in text, or -1. */
static double
x_value(const char *text, const char *series)
{
	size_t	n = strlen(series);

	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return (strtod(p + n + 1, NULL));
	}
	return (-1);
}

/* Render the registry into a new string. */
static char *
render(void)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 n;
	char		*s;

	metrics_render(b);
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return (s);
}

START_TEST(exposition_format)
{
	static const double	 b[] = { 0.001, 0.01, 0.1 };
	struct mfamily		*c, *g, *h;
	char			*t;

	c = metrics_family(MTYPE_COUNTER, "t_total", "A \\ help\nline.", 2,
	    (const char *const []){ "queue", "handler" }, NULL, 0);
	g = metrics_family(MTYPE_GAUGE, "t_gauge", "G.", 0, NULL, NULL, 0);
	h = metrics_family(MTYPE_HISTOGRAM, "t_seconds", "H.", 1,
	    (const char *const []){ "queue" }, b, 3);
	metrics_add(c, (const char *const []){ "q", "a\"b\\c\nd" }, 1);
	metrics_add(c, (const char *const []){ "q", "a\"b\\c\nd" }, 2);
	metrics_add(c, (const char *const []){ "q", "plain" }, 1);
	metrics_set(g, NULL, 0.5);
	for (int i = 0; i < 10; i++)
		metrics_observe(h, (const char *const []){ "q" }, i * 0.01);
	metrics_observe(h, (const char *const []){ "r" }, 5);
	t = render();
	x_check(t);
	ck_assert_ptr_nonnull(strstr(t, "# HELP t_total A \\\\ help\\nline.\n"
	    "# TYPE t_total counter\n"));
	ck_assert_ptr_nonnull(strstr(t,
	    "t_total{queue=\"q\",handler=\"a\\\"b\\\\c\\nd\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(t, "t_gauge 0.5\n"));
	ck_assert(x_value(t, "t_seconds_bucket{queue=\"q\",le=\"0.001\"}") == 1);
	ck_assert(x_value(t, "t_seconds_bucket{queue=\"q\",le=\"0.01\"}") == 2);
	ck_assert(x_value(t, "t_seconds_bucket{queue=\"q\",le=\"0.1\"}") == 10);
	ck_assert(x_value(t, "t_seconds_bucket{queue=\"q\",le=\"+Inf\"}") == 10);
	ck_assert(fabs(x_value(t, "t_seconds_sum{queue=\"q\"}") - 0.45) < 1e-9);
	ck_assert(x_value(t, "t_seconds_bucket{queue=\"r\",le=\"0.1\"}") == 0);
	ck_assert(x_value(t, "t_seconds_count{queue=\"r\"}") == 1);
	ck_assert(metrics_value(c, (const char *const []){ "q", "plain" }) == 1);
	free(t);
	metrics_reset();
}
END_TEST

START_TEST(deferd_families_and_handler_cap)
{
	char	 name[32], *t;
	int	 other;

	metrics_init();
	metrics_init();		/* idempotent */
	for (int i = 0; i < METRICS_MAX_HANDLERS + 50; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		metrics_job_done("default", name, 3);
	}
	metrics_job_done("default", "bad/name", 3);
	metrics_job_claimed("default", "h1", true, 7);
	metrics_job_started("default", "h1", false, 0);
	metrics_redis_state("cmd", true);
	metrics_redis_state("cmd", false);
	metrics_redis_state("cmd", true);
	t = render();
	x_check(t);
	ck_assert(x_value(t, "deferd_jobs_done_total{queue=\"default\","
	    "handler=\"h0\"}") == 1);
	other = (int)x_value(t, "deferd_jobs_done_total{queue=\"default\","
	    "handler=\"other\"}");
	ck_assert_int_eq(other, 51);
	ck_assert(x_value(t, "deferd_jobs_done_total{queue=\"default\","
	    "handler=\"h250\"}") == -1);
	ck_assert(x_value(t, "deferd_claim_lateness_seconds_bucket{queue="
	    "\"default\",le=\"0.01\"}") == 1);
	ck_assert(x_value(t, "deferd_redis_reconnects_total{role=\"cmd\"}") == 1);
	ck_assert(x_value(t, "deferd_redis_connected{role=\"cmd\"}") == 1);
	ck_assert_ptr_nonnull(strstr(t, "deferd_build_info{version=\""));
	free(t);
	metrics_hooks_reset();
}
END_TEST

/* ---- end to end ---- */

/* One HTTP/1.0 request to deferd's PORT (h_http). */
static int
http(const char *method, const char *path, char **body)
{
	return (h_http(PORT, method, path, body));
}

/* GET /metrics (format checked); a new string. */
static char *
scrape(void)
{
	char	*t = NULL;

	ck_assert_int_eq(http("GET", "/metrics", &t), 200);
	x_check(t);
	return (t);
}

/* The value of one series in a fresh scrape (-1 when absent). */
static double
metric(const char *series)
{
	char	*t = scrape();
	double	 v = x_value(t, series);

	free(t);
	return (v);
}

static void
setup(void)
{
	h_world_setup(&W, NULL);
	PORT = h_free_port();
}

static void
teardown(void)
{
	h_world_teardown(&W);
}

/* A config for the test Redis with metrics on PORT; extra YAML appended. */
static const char *
config_text(const char *extra)
{
	static char	buf[8192];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\", connect_timeout: 500ms}\n"
	    "concurrency: %d\n"
	    "retry: {max_attempts: 3, backoff: 100ms, backoff_max: 200ms}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 10s\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "metrics: {listen: \"127.0.0.1:%d\"}\n"
	    "%s",
	    W.r.url, CONC, W.hdir, W.out, PORT, extra ? extra : "");
	return (buf);
}

/* Start deferd and wait until /healthz says ok. */
static void
start_daemon(struct h_daemon *d, const char *extra)
{
	h_daemon_start(d, W.work, config_text(extra));
	ck_assert_msg(H_WAIT_UNTIL(http("GET", "/healthz", NULL) == 200, 20000),
	    "deferd not healthy; log %s", d->log);
}

/* The three handlers of the scripted run. */
static void
write_handlers(void)
{
	h_write_file(W.hdir, "ok", "#!/bin/sh\nexit 0\n", 0755);
	/* Fails the first attempt of each job, then succeeds. */
	h_write_file(W.hdir, "flaky", "#!/bin/sh\n"
	    "f=\"$OUT/flaky-$DEFERD_JOB_ID\"\n"
	    "if [ -e \"$f\" ]; then exit 0; fi\n"
	    ": > \"$f\"; echo 'first \"try\"' >&2; exit 3\n", 0755);
	h_write_file(W.hdir, "bad", "#!/bin/sh\nexit 65\n", 0755);
}

#define Q	"{queue=\"default\",handler=\""

START_TEST(counters_follow_a_scripted_run)
{
	struct h_daemon	 d;
	char		 id[32], *t;

	write_handlers();
	start_daemon(&d, NULL);
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "ok-%d", i);
		h_enqueue(W.c, id, "ok", "", 0, 0);
	}
	h_enqueue(W.c, "flaky-1", "flaky", "", 0, 0);
	h_enqueue(W.c, "flaky-2", "flaky", "", 0, 0);
	h_enqueue(W.c, "bad-1", "bad", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(metric("deferd_jobs_done_total" Q "flaky\"}") == 2 &&
	    metric("deferd_jobs_done_total" Q "ok\"}") == 5 &&
	    metric("deferd_jobs_dead_total" Q "bad\"}") == 1, 30000));
	t = scrape();
	ck_assert(x_value(t, "deferd_jobs_retried_total" Q "flaky\"}") == 2);
	ck_assert(x_value(t, "deferd_jobs_retried_total" Q "ok\"}") == -1);
	ck_assert(x_value(t, "deferd_jobs_claimed_total" Q "ok\"}") == 5);
	ck_assert(x_value(t, "deferd_jobs_claimed_total" Q "flaky\"}") == 4);
	ck_assert(x_value(t, "deferd_jobs_claimed_total" Q "bad\"}") == 1);
	/* Every claim and every start was measured. */
	ck_assert(x_value(t, "deferd_claim_lateness_seconds_count"
	    "{queue=\"default\"}") == 10);
	ck_assert(x_value(t, "deferd_start_lateness_seconds_count"
	    "{queue=\"default\"}") == 10);
	ck_assert(x_value(t, "deferd_handler_duration_seconds_count"
	    "{handler=\"flaky\"}") == 4);
	ck_assert(x_value(t, "deferd_redis_connected{role=\"cmd\"}") == 1);
	ck_assert(x_value(t, "deferd_concurrency_limit") == 8);
	ck_assert(x_value(t, "deferd_handlers_running") >= 0);
	free(t);
	/* The queue gauges catch up within their refresh period. */
	ck_assert(H_WAIT_UNTIL(metric("deferd_queue_jobs{queue=\"default\","
	    "state=\"dead\"}") == 1, 15000));
	h_daemon_stop(&d);
}
END_TEST

START_TEST(http_paths_and_methods)
{
	struct h_daemon	 d;
	char		*b;

	start_daemon(&d, NULL);
	ck_assert_int_eq(http("GET", "/nope", NULL), 404);
	ck_assert_int_eq(http("GET", "/metrics/x", NULL), 404);
	ck_assert_int_eq(http("POST", "/metrics", NULL), 405);
	ck_assert_int_eq(http("DELETE", "/healthz", NULL), 405);
	ck_assert_int_eq(http("HEAD", "/metrics", &b), 200);
	ck_assert_str_eq(b, "");
	free(b);
	ck_assert_int_eq(http("GET", "/healthz", &b), 200);
	ck_assert_str_eq(b, "ok\n");
	free(b);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(healthz_follows_redis)
{
	struct h_daemon	 d;
	char		*b = NULL;

	start_daemon(&d, NULL);
	kill(W.r.pid, SIGKILL);
	ck_assert(H_WAIT_UNTIL(http("GET", "/healthz", NULL) == 503, 10000));
	ck_assert(H_WAIT_UNTIL(({ free(b); http("GET", "/healthz", &b);
	    b != NULL && strncmp(b, "redis disconnected for ", 23) == 0; }),
	    5000));
	free(b);
	h_redis_restart(&W.r);
	redisFree(W.c);
	W.c = h_redis_connect(&W.r);
	ck_assert(H_WAIT_UNTIL(http("GET", "/healthz", NULL) == 200, 20000));
	ck_assert(metric("deferd_redis_reconnects_total{role=\"cmd\"}") >= 1);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(taken_port_is_fatal)
{
	struct h_daemon	 d;
	struct sockaddr_in sa;
	int		 fd = socket(AF_INET, SOCK_STREAM, 0), status;
	char		 want[128];

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)PORT);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	h_daemon_start(&d, W.work, config_text(NULL));
	snprintf(want, sizeof(want), "metrics.listen 127.0.0.1:%d: Address "
	    "already in use", PORT);
	ck_assert(h_daemon_log_has(&d, want, 10000));
	status = h_daemon_signal(&d, 0, true);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	close(fd);
}
END_TEST

/* Start deferctl watch ARGS... with stdout to path; returns its pid. */
static pid_t
watch_start(const char *path, const char *cfg, const char *extra)
{
	pid_t	pid = fork();

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		close(fd);
		execl(h_bin("deferctl"), "deferctl", "-c", cfg, "watch", "--json",
		    extra, (char *)NULL);
		_exit(127);
	}
	return (pid);
}

/* The n-th line (from 0) of text, copied into buf; false if absent. */
static bool
nth_line(const char *text, int n, char *buf, size_t len)
{
	const char	*p = text, *e;

	for (; n > 0 && p != NULL; n--)
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	if (p == NULL || *p == '\0' || (e = strchr(p, '\n')) == NULL)
		return (false);
	snprintf(buf, len, "%.*s", (int)(e - p), p);
	return (true);
}

/* Events of job id in text (one JSON object a line), in order, joined by ','. */
static void
events_of(const char *text, const char *id, char *out, size_t len)
{
	char	line[8192], v[256];
	size_t	o = 0;

	out[0] = '\0';
	for (int i = 0; nth_line(text, i, line, sizeof(line)); i++) {
		ck_assert_msg(h_json_ok(line), "not JSON: %s", line);
		ck_assert_msg(json_valid_utf8(line, strlen(line)), "not UTF-8");
		if (!json_get(line, strlen(line), "id", v, sizeof(v)) ||
		    strcmp(v, id) != 0)
			continue;
		json_get(line, strlen(line), "event", v, sizeof(v));
		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "," : "", v);
	}
}

START_TEST(watch_prints_events_in_order)
{
	struct h_daemon	 d;
	char		 path[400], *text = NULL, ev[512], line[8192], v[256];
	static const char weird[] = "we\"ird\n\xff\xfe h";
	pid_t		 w;
	int		 status;

	write_handlers();
	start_daemon(&d, NULL);
	snprintf(path, sizeof(path), "%s/watch.out", W.work);
	w = watch_start(path, d.config, "--queue=default");
	/* SUBSCRIBE is done when a published test message arrives. */
	ck_assert(H_WAIT_UNTIL(({
		freeReplyObject(h_cmd(W.c, "PUBLISH deferd:events %s",
		    "{\"event\":\"ping\",\"queue\":\"default\"}"));
		h_count_lines(path) > 0; }), 10000));
	h_enqueue(W.c, "w-ok", "ok", "", 0, 0);
	h_enqueue(W.c, "w-flaky", "flaky", "", 0, 0);
	h_enqueue(W.c, "w-bad", "bad", "", 0, 0);
	h_enqueue(W.c, "w-weird", weird, "p\"\n\xff", 4, 0);
	freeReplyObject(h_cmd(W.c, "PUBLISH deferd:events %s",
	    "{\"event\":\"x\",\"queue\":\"other\"}"));
	ck_assert(H_WAIT_UNTIL(metric("deferd_jobs_done_total" Q "flaky\"}") == 1 &&
	    metric("deferd_jobs_dead_total" Q "other\"}") == 1 &&
	    metric("deferd_jobs_dead_total" Q "bad\"}") == 1, 30000));
	ck_assert(H_WAIT_UNTIL(({ free(text); text = h_read_file(path);
	    events_of(text, "w-flaky", ev, sizeof(ev));
	    strstr(ev, "done") != NULL; }), 10000));
	kill(w, SIGTERM);
	ck_assert_int_eq(waitpid(w, &status, 0), w);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(text);
	text = h_read_file(path);
	events_of(text, "w-ok", ev, sizeof(ev));
	ck_assert_str_eq(ev, "enqueued,claimed,done");
	events_of(text, "w-flaky", ev, sizeof(ev));
	ck_assert_str_eq(ev, "enqueued,claimed,retry,claimed,done");
	events_of(text, "w-bad", ev, sizeof(ev));
	ck_assert_str_eq(ev, "enqueued,claimed,dead");
	events_of(text, "w-weird", ev, sizeof(ev));
	ck_assert_str_eq(ev, "enqueued,claimed,dead");
	/* The filter dropped the other queue's message. */
	ck_assert_ptr_null(strstr(text, "\"other\""));
	/* The weird handler name survives as valid JSON, bad bytes as U+FFFD. */
	for (int i = 0; nth_line(text, i, line, sizeof(line)); i++)
		if (strstr(line, "w-weird") != NULL) {
			ck_assert(json_get(line, strlen(line), "handler", v, sizeof(v)));
			ck_assert_str_eq(v, "we\"ird\n\xef\xbf\xbd\xef\xbf\xbd h");
		}
	/* The retry carries the delay and the error; done the duration. */
	for (int i = 0; nth_line(text, i, line, sizeof(line)); i++)
		if (strstr(line, "w-flaky") != NULL && strstr(line, "\"retry\"")) {
			ck_assert(json_get(line, strlen(line), "delay_ms", v, sizeof(v)));
			ck_assert(json_get(line, strlen(line), "error", v, sizeof(v)));
			ck_assert(json_get(line, strlen(line), "attempt", v, sizeof(v)));
			ck_assert_str_eq(v, "1");
		} else if (strstr(line, "w-flaky") != NULL && strstr(line,
		    "\"done\"")) {
			ck_assert(json_get(line, strlen(line), "duration_ms", v,
			    sizeof(v)));
			ck_assert(json_get(line, strlen(line), "attempt", v, sizeof(v)));
			ck_assert_str_eq(v, "2");
		}
	free(text);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(watch_text_and_events_off)
{
	struct h_daemon	 d;
	char		 out[8192];
	const char	*argv[8];
	pid_t		 w;
	char		 path[400], *text = NULL, line[1024];
	int		 status;

	write_handlers();
	start_daemon(&d, "events: false\n");
	/* With events off the scripts publish nothing. */
	snprintf(path, sizeof(path), "%s/w.out", W.work);
	w = fork();
	ck_assert_int_ne(w, -1);
	if (w == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		close(fd);
		execl(h_bin("deferctl"), "deferctl", "-c", d.config, "watch",
		    "--handler", "ok", (char *)NULL);
		_exit(127);
	}
	ck_assert(H_WAIT_UNTIL(({
		freeReplyObject(h_cmd(W.c, "PUBLISH deferd:events %s",
		    "{\"event\":\"hello\",\"queue\":\"q\",\"id\":\"i\","
		    "\"handler\":\"ok\",\"attempt\":2,\"error\":\"a \\\"b\\\"\","
		    "\"ts_ms\":0}"));
		h_count_lines(path) > 0; }), 10000));
	argv[0] = h_bin("deferctl");
	argv[1] = "-c";
	argv[2] = d.config;
	argv[3] = "enqueue";
	argv[4] = "ok";
	argv[5] = NULL;
	ck_assert_int_eq(h_run(argv, NULL, out, sizeof(out)), 0);
	ck_assert(H_WAIT_UNTIL(metric("deferd_jobs_done_total" Q "ok\"}") == 1,
	    20000));
	kill(w, SIGINT);
	ck_assert_int_eq(waitpid(w, &status, 0), w);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	text = h_read_file(path);
	/* Only the test's messages (maybe repeated): the daemon published none. */
	for (int i = 0; nth_line(text, i, line, sizeof(line)); i++)
		ck_assert_str_eq(line, "1970-01-01T00:00:00.000Z hello         q i "
		    "ok #2 error=\"a \\\"b\\\"\"");
	free(text);
	h_daemon_stop(&d);
}
END_TEST

/* p99 of start lateness over the jobs since the counts before, from buckets; ms. */
static double
p99_ms(const char *t, const double *before)
{
	static const char	*les[] = { "0.001", "0.002", "0.005", "0.01", "0.025",
	    "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf" };
	char			 s[128];
	double			 total, v;

	snprintf(s, sizeof(s), "deferd_start_lateness_seconds_count{queue=\"default\"}");
	total = x_value(t, s) - before[14];
	for (int i = 0; i < 14; i++) {
		snprintf(s, sizeof(s), "deferd_start_lateness_seconds_bucket{queue="
		    "\"default\",le=\"%s\"}", les[i]);
		v = x_value(t, s) - before[i];
		if (v >= 0.99 * total)
			return (i == 13 ? INFINITY : strtod(les[i], NULL) * 1000);
	}
	return (INFINITY);
}

/* The bucket counts (and _count last) of start lateness, for p99_ms. */
static void
buckets(const char *t, double *b)
{
	static const char	*les[] = { "0.001", "0.002", "0.005", "0.01", "0.025",
	    "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf" };
	char			 s[128];

	for (int i = 0; i < 14; i++) {
		snprintf(s, sizeof(s), "deferd_start_lateness_seconds_bucket{queue="
		    "\"default\",le=\"%s\"}", les[i]);
		b[i] = x_value(t, s) > 0 ? x_value(t, s) : 0;
	}
	b[14] = x_value(t, "deferd_start_lateness_seconds_count{queue=\"default\"}");
	if (b[14] < 0)
		b[14] = 0;
}

/* Enqueue 200 jobs due over the next 2s; wait until all are done; p99 ms. */
static double
run_200(const char *tag, double done_before)
{
	char	 id[64], *t;
	double	 before[15], p99;

	t = scrape();
	buckets(t, before);
	free(t);
	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "%s-%d", tag, i);
		h_enqueue(W.c, id, "ok", "", 0, 500 + i * 10);
	}
	ck_assert(H_WAIT_UNTIL(metric("deferd_jobs_done_total" Q "ok\"}") ==
	    done_before + 200, 60000));
	t = scrape();
	p99 = p99_ms(t, before);
	free(t);
	return (p99);
}

START_TEST(idle_http_clients_do_not_delay_jobs)
{
	struct h_daemon	 d;
	int		 fds[100];
	double		 p_plain, p_idle;

	write_handlers();
	CONC = 32;
	start_daemon(&d, NULL);
	p_plain = run_200("plain", 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_ge((fds[i] = h_tcp_connect(PORT)), 0);
	p_idle = run_200("idle", 200);
	for (int i = 0; i < 100; i++)
		close(fds[i]);
	fprintf(stderr, "start lateness p99 (bucket bound): %.0fms without, "
	    "%.0fms with 100 idle HTTP connections\n", p_plain, p_idle);
	/*
	 * Not a benchmark (bench/ measures lateness): only that idle clients
	 * do not hold the loop. A loop blocked on them would delay jobs by
	 * seconds; a busy machine moves both runs' buckets alike.
	 */
	ck_assert(p_idle <= 2500);
	ck_assert(p_idle <= 4 * p_plain + 250);
	ck_assert_int_eq(h_cmd_int(W.c, "ZCARD deferd:{default}:delayed"), 0);
	h_daemon_stop(&d);
}
END_TEST

/*
 * A job enqueued with a due time a year in the past runs at once and is
 * not late: lateness counts from max(due, enqueued). Before, it added a
 * year to the lateness sums (and to deferctl stats' max).
 */
START_TEST(a_past_due_time_is_not_late)
{
	struct h_daemon	d;
	double		before, after;

	write_handlers();
	start_daemon(&d, NULL);
	before = metric("deferd_claim_lateness_seconds_sum{queue=\"default\"}");
	if (before < 0)
		before = 0;
	h_enqueue_at(W.c, "old", "ok", "", 0, h_redis_now_ms(W.c) -
	    365LL * 86400 * 1000);
	ck_assert(H_WAIT_UNTIL(metric("deferd_jobs_done_total" Q "ok\"}") == 1,
	    15000));
	after = metric("deferd_claim_lateness_seconds_sum{queue=\"default\"}");
	ck_assert_msg(after - before < 1.0, "lateness sum grew by %.0fs",
	    after - before);
	after = metric("deferd_start_lateness_seconds_sum{queue=\"default\"}");
	ck_assert_msg(after < 1.0, "start lateness sum %.0fs", after);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(stats_shows_lateness_summary)
{
	struct h_daemon	 d;
	char		 out[16384];
	const char	*argv[6];

	write_handlers();
	start_daemon(&d, NULL);
	h_enqueue(W.c, "s1", "ok", "", 0, 0);
	argv[0] = h_bin("deferctl");
	argv[1] = "-c";
	argv[2] = d.config;
	argv[3] = "stats";
	argv[4] = NULL;
	ck_assert(H_WAIT_UNTIL(h_run(argv, NULL, out, sizeof(out)) == 0 &&
	    strstr(out, "DAEMON") != NULL && strstr(out, "       1 ") != NULL,
	    30000));
	ck_assert_ptr_nonnull(strstr(out, "CLAIM LATE"));
	argv[3] = "--json";
	argv[4] = "stats";
	argv[5] = NULL;
	ck_assert_int_eq(h_run(argv, NULL, out, sizeof(out)), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"{daemons}\":[{\"daemon\":"));
	ck_assert_ptr_nonnull(strstr(out, "\"claim_lateness_ms\":{\"p50\":"));
	h_daemon_stop(&d);
}
END_TEST

/*
 * Expiration rules added by a reload: the tracked-keys gauge gets a value
 * (it used to show only HELP and TYPE until a restart).
 */
START_TEST(tracked_keys_after_a_reload_that_adds_rules)
{
	struct h_daemon	 d;
	FILE		*f;

	write_handlers();
	start_daemon(&d, NULL);
	freeReplyObject(h_cmd(W.c, "SET order:timeout:1 1 EX 3600"));
	freeReplyObject(h_cmd(W.c, "SET order:timeout:2 1 EX 3600"));
	f = fopen(d.config, "w");
	ck_assert_ptr_nonnull(f);
	fputs(config_text("expirations:\n  configure_redis: true\n  rules:\n"
	    "    - {pattern: \"order:timeout:*\", handler: ok}\n"), f);
	ck_assert_int_eq(fclose(f), 0);
	h_daemon_signal(&d, SIGHUP, false);
	ck_assert_msg(H_WAIT_UNTIL(metric("deferd_expiration_tracked_keys") == 2,
	    20000), "deferd_expiration_tracked_keys is %g",
	    metric("deferd_expiration_tracked_keys"));
	h_daemon_stop(&d);
}
END_TEST

START_TEST(expirations_counted_and_published)
{
	struct h_daemon	 d;
	redisContext	*sub = h_redis_connect(&W.r);
	redisReply	*r;
	char		 v[256];
	bool		 seen = false;

	write_handlers();
	start_daemon(&d, "expirations:\n  configure_redis: true\n  rules:\n"
	    "    - {pattern: \"order:timeout:*\", handler: ok}\n");
	freeReplyObject(h_cmd(sub, "SUBSCRIBE deferd:events"));
	freeReplyObject(h_cmd(W.c, "SET order:timeout:7 1 PX 100"));
	ck_assert(H_WAIT_UNTIL(metric("deferd_expiration_jobs_created_total") == 1 &&
	    metric("deferd_jobs_done_total" Q "ok\"}") == 1, 30000));
	ck_assert(metric("deferd_expirations_received_total") >= 1);
	ck_assert(H_WAIT_UNTIL(metric("deferd_expiration_tracked_keys") == 0, 15000));
	while (!seen && redisGetReply(sub, (void **)&r) == REDIS_OK) {
		ck_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3);
		ck_assert(h_json_ok(r->element[2]->str));
		ck_assert(json_get(r->element[2]->str, r->element[2]->len, "event",
		    v, sizeof(v)));
		if (strcmp(v, "expired") == 0) {
			seen = true;
			ck_assert(json_get(r->element[2]->str, r->element[2]->len,
			    "key", v, sizeof(v)));
			ck_assert_str_eq(v, "order:timeout:7");
			ck_assert(json_get(r->element[2]->str, r->element[2]->len,
			    "id", v, sizeof(v)));
			ck_assert_str_eq(v, "exp:0:order:timeout:7");
		}
		freeReplyObject(r);
	}
	ck_assert(seen);
	redisFree(sub);
	h_daemon_stop(&d);
}
END_TEST

/* ---- the events of every transition script, called directly ---- */

#define SP	"deferd:{default}:"

/* Run script id with NULL-terminated string arguments (nkeys keys first). */
static redisReply *
run_script(enum script_id id, int nkeys, ...)
{
	const char	*argv[32];
	int		 argc = 0;
	va_list		 ap;
	redisReply	*r;

	va_start(ap, nkeys);
	while (argc < 32 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	r = rclient_script(W.c, id, nkeys, argc, argv, NULL);
	ck_assert_msg(r != NULL && r->type != REDIS_REPLY_ERROR, "script: %s",
	    r != NULL ? r->str : W.c->errstr);
	return (r);
}

/* The next event on sub; its "event" in ev, the whole text in all. */
static void
next_event(redisContext *sub, char *ev, size_t evlen, char *all, size_t alllen)
{
	redisReply	*r;

	ck_assert_int_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
	ck_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3);
	snprintf(all, alllen, "%s", r->element[2]->str);
	ck_assert_msg(h_json_ok(all), "not JSON: %s", all);
	ck_assert(json_valid_utf8(all, strlen(all)));
	ck_assert(json_get(all, strlen(all), "event", ev, evlen));
	freeReplyObject(r);
}

/* Claim one due job with lease ms; its token into tok. */
static void
claim_one(const char *lease, const char *events, char *tok, size_t len)
{
	redisReply	*r = run_script(SCRIPT_CLAIM, 3, SP "delayed", SP "active",
	    SP "dead", SP, "1", lease, "n", "0", "10", "0", "0", "0", "5", events,
	    NULL);

	ck_assert_uint_eq(r->elements, 6);
	snprintf(tok, len, "%s", r->element[5]->element[2]->str);
	freeReplyObject(r);
}

START_TEST(scripts_emit_events)
{
	redisContext	*sub = h_redis_connect(&W.r);
	char		 ev[64], all[2048], tok[64], v[256];
	const char	*E = "deferd:events";

	freeReplyObject(h_cmd(sub, "SUBSCRIBE deferd:events"));
	/* events "" publishes nothing: the first event seen is the later one. */
	freeReplyObject(run_script(SCRIPT_ENQUEUE, 2, SP "job:q", SP "delayed",
	    "q", "h", "", "in", "60000", "", "", "", "", "", NULL));
	freeReplyObject(run_script(SCRIPT_ENQUEUE, 2, SP "job:j1", SP "delayed",
	    "j1", "h", "", "in", "0", "", "", "", "", E, NULL));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	ck_assert_str_eq(ev, "enqueued");
	ck_assert(strncmp(all, "{\"event\":\"enqueued\",\"queue\":\"default\","
	    "\"id\":\"j1\",\"handler\":\"h\",\"due_ms\":", 70) == 0);
	claim_one("60000", E, tok, sizeof(tok));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	ck_assert_str_eq(ev, "claimed");
	ck_assert(json_get(all, strlen(all), "late_ms", v, sizeof(v)));
	/* A lock-conflict requeue names itself and says the attempt came back. */
	freeReplyObject(run_script(SCRIPT_RETRY, 3, SP "active", SP "delayed",
	    SP "job:j1", "j1", tok, "resource locked", "60000", "1", "", E,
	    "lock_conflict", "", NULL));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	ck_assert_str_eq(ev, "lock_conflict");
	ck_assert_ptr_nonnull(strstr(all, "\"refunded\":true"));
	ck_assert_ptr_null(strstr(all, "duration_ms"));
	freeReplyObject(run_script(SCRIPT_CANCEL, 5, SP "delayed", SP "active",
	    SP "dead", SP "job:j1", SP "result:j1", "j1", E, NULL));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	ck_assert_str_eq(ev, "cancelled");
	ck_assert(json_get(all, strlen(all), "handler", v, sizeof(v)));
	ck_assert_str_eq(v, "h");
	/* Bury with a nasty error, revive, then lose the lease: reap. */
	freeReplyObject(h_cmd(W.c, "DEL " SP "job:q"));
	freeReplyObject(h_cmd(W.c, "ZREM " SP "delayed q"));
	freeReplyObject(run_script(SCRIPT_ENQUEUE, 2, SP "job:j2", SP "delayed",
	    "j2", "h", "", "in", "0", "", "", "", "", E, NULL));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	claim_one("60000", E, tok, sizeof(tok));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	freeReplyObject(run_script(SCRIPT_BURY, 3, SP "active", SP "dead",
	    SP "job:j2", "j2", tok, "bad \"x\"\n\xff\x01", SP, "0", "0", E, "42",
	    NULL));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	ck_assert_str_eq(ev, "dead");
	ck_assert(json_get(all, strlen(all), "error", v, sizeof(v)));
	ck_assert_str_eq(v, "bad \"x\"\n\xef\xbf\xbd\x01");
	ck_assert(json_get(all, strlen(all), "duration_ms", v, sizeof(v)));
	ck_assert_str_eq(v, "42");
	freeReplyObject(run_script(SCRIPT_REVIVE, 3, SP "dead", SP "delayed",
	    SP "job:j2", "j2", "", E, NULL));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	ck_assert_str_eq(ev, "revived");
	claim_one("0", E, tok, sizeof(tok));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	ck_assert(H_WAIT_UNTIL(({ redisReply *r = run_script(SCRIPT_REAP, 3,
	    SP "active", SP "delayed", SP "dead", SP, "10", "", "0", "0", "5", E,
	    NULL); bool moved = r->element[0]->integer == 1;
	    freeReplyObject(r); moved; }), 5000));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	ck_assert_str_eq(ev, "retry");
	ck_assert(json_get(all, strlen(all), "error", v, sizeof(v)));
	ck_assert_str_eq(v, "lease expired (worker lost)");
	/* complete: done with the attempt and the duration from the daemon. */
	claim_one("60000", E, tok, sizeof(tok));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	freeReplyObject(run_script(SCRIPT_COMPLETE, 3, SP "active", SP "job:j2",
	    SP "result:j2", "j2", tok, "out", "0", E, "7", NULL));
	next_event(sub, ev, sizeof(ev), all, sizeof(all));
	ck_assert_str_eq(ev, "done");
	ck_assert(json_get(all, strlen(all), "attempt", v, sizeof(v)));
	ck_assert_str_eq(v, "2");
	ck_assert(json_get(all, strlen(all), "duration_ms", v, sizeof(v)));
	ck_assert_str_eq(v, "7");
	redisFree(sub);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*unit = tcase_create("unit"), *e2e = tcase_create("e2e");

	tcase_add_test(unit, exposition_format);
	tcase_add_test(unit, deferd_families_and_handler_cap);
	suite_add_tcase(s, unit);
	tcase_add_checked_fixture(e2e, setup, teardown);
	tcase_set_timeout(e2e, 180);
	tcase_add_test(e2e, counters_follow_a_scripted_run);
	tcase_add_test(e2e, http_paths_and_methods);
	tcase_add_test(e2e, healthz_follows_redis);
	tcase_add_test(e2e, taken_port_is_fatal);
	tcase_add_test(e2e, watch_prints_events_in_order);
	tcase_add_test(e2e, watch_text_and_events_off);
	tcase_add_test(e2e, idle_http_clients_do_not_delay_jobs);
	tcase_add_test(e2e, stats_shows_lateness_summary);
	tcase_add_test(e2e, a_past_due_time_is_not_late);
	tcase_add_test(e2e, expirations_counted_and_published);
	tcase_add_test(e2e, tracked_keys_after_a_reload_that_adds_rules);
	tcase_add_test(e2e, scripts_emit_events);
	suite_add_tcase(s, e2e);
	return (s);
}

int
main(void)
{
	return (h_main(metrics_suite()));
}
