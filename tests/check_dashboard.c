/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of the web dashboard: a real deferd serving
 * dashboard.listen, a private redis-server holding jobs in every state,
 * and plain HTTP requests: the JSON API's counts, the embedded pages and
 * their headers, the token (bearer, login form, cookie, cross-origin
 * form), and garbage in Redis.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define Q	"deferd:{default}:"
#define O	"deferd:{other}:"
#define TOKEN	"s3cret-token-for-the-test"

static struct h_world	 W;
static int		 port;

static void	reload_with(struct h_daemon *, const char *);

static void
setup(void)
{
	h_world_setup(&W, NULL);
	port = h_free_port();
}

static void
teardown(void)
{
	h_world_teardown(&W);
}

/* A config for the test Redis with the dashboard on port; extra appended. */
static const char *
config_text(const char *extra)
{
	static char	buf[4096];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "queues: [default, other]\n"
	    "handlers: {dir: %s}\n"
	    "dashboard:\n"
	    "  listen: 127.0.0.1:%d\n"
	    "%s",
	    W.r.url, W.hdir, port, extra ? extra : "");
	return (buf);
}

/* GET path with extra header lines (may be ""); status, head and body. */
static int
get(const char *path, const char *headers, char **head, char **body)
{
	char	req[1024];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "%s\r\n", path, port, headers);
	return (h_http_raw(port, req, head, body));
}

/* POST path with a form body and extra header lines. */
static int
post(const char *path, const char *headers, const char *form, char **head,
    char **body)
{
	char	req[2048];

	snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "Content-Length: %zu\r\n%s\r\n%s", path, port, strlen(form),
	    headers, form);
	return (h_http_raw(port, req, head, body));
}

/* Whether head has the header line (exact, without CRLF). */
static bool
has_header(const char *head, const char *line)
{
	char	want[512];

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return (head != NULL && strstr(head, want) != NULL);
}

/* A job hash of handler h in zset of prefix p at score. */
static void
put_job(const char *p, const char *id, const char *zset, long long score)
{
	freeReplyObject(h_cmd(W.c, "HSET %sjob:%s handler ok", p, id));
	freeReplyObject(h_cmd(W.c, "ZADD %s%s %lld %s", p, zset, score, id));
}

/* The sum of the values of array key in the overview's "series". */
static long long
series_sum(const char *body, const char *key)
{
	const char	*p = strstr(body, "\"series\":{");
	char		 want[64], *end;
	long long	 sum = 0;
	int		 n = 0;

	ck_assert_ptr_nonnull(p);
	snprintf(want, sizeof(want), "\"%s\":[", key);
	ck_assert_ptr_nonnull(p = strstr(p, want));
	for (p += strlen(want); *p != ']'; p = *end == ',' ? end + 1 : end) {
		sum += strtoll(p, &end, 10);
		ck_assert_ptr_ne(end, p);
		n++;
	}
	ck_assert_int_eq(n, 60);
	return (sum);
}

/*
 * /api/overview counts each queue's jobs by state, due ones apart from
 * the later ones, and says which queue is paused; the daemon that ran
 * jobs shows with its summary, and the last hour adds up its minutes.
 */
START_TEST(overview_counts_jobs_in_every_state)
{
	struct h_daemon	 d;
	char		*body = NULL;
	long long	 now;
	int		 status;

	h_write_file(W.hdir, "ok", "#!/bin/sh\nexit 0\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "dashboard: serving on", 15000));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	h_enqueue(W.c, "d1", "ok", "", 0, 0);
	h_enqueue(W.c, "d2", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD " Q "done") == 2, 10000));
	now = (long long)h_redis_now_ms(W.c);
	freeReplyObject(h_cmd(W.c, "SET " O "paused %lld", now));
	put_job(O, "due1", "delayed", now - 1000);
	put_job(O, "due2", "delayed", now - 2000);
	for (int i = 0; i < 3; i++) {
		char	id[8];

		snprintf(id, sizeof(id), "later%d", i);
		put_job(O, id, "delayed", now + 3600000);
	}
	put_job(Q, "running1", "active", now + 3600000);
	put_job(Q, "dead1", "dead", now);
	put_job(Q, "dead2", "dead", now);
	/* The summary is written every 10 s after jobs ran. */
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD deferd:stats") == 1,
	    15000 * SLOW));
	status = get("/api/overview", "", NULL, &body);
	ck_assert_int_eq(status, 200);
	ck_assert_msg(h_json_ok(body), "%s", body);
	ck_assert_msg(strstr(body, "{\"name\":\"default\",\"delayed\":0,"
	    "\"due\":0,\"active\":1,\"dead\":2,\"done\":2,\"failed\":0,"
	    "\"paused\":false}") != NULL, "%s", body);
	ck_assert_msg(strstr(body, "{\"name\":\"other\",\"delayed\":5,"
	    "\"due\":2,\"active\":0,\"dead\":0,\"done\":0,\"failed\":0,"
	    "\"paused\":true}") != NULL, "%s", body);
	ck_assert_msg(strstr(body, "\"namespace\":\"deferd\"") != NULL, "%s",
	    body);
	ck_assert_msg(strstr(body, "\"daemons\":[{\"daemon\":\"") != NULL &&
	    strstr(body, ",\"started_ms\":") != NULL, "%s", body);
	ck_assert_msg(strstr(body, "\"redis\":{\"version\":\"") != NULL, "%s",
	    body);
	/* The last hour: the two jobs done, in this minute or the last. */
	ck_assert_msg(series_sum(body, "done") == 2, "%s", body);
	ck_assert_int_eq(series_sum(body, "failed"), 0);
	free(body);
	h_daemon_stop(&d);
}
END_TEST

/*
 * The pages are the embedded files, with headers that forbid framing and
 * sniffing and allow only the dashboard's own scripts; other paths are
 * 404, other methods 405, HEAD has no body.
 */
START_TEST(pages_and_their_headers)
{
	struct h_daemon	 d;
	char		*head = NULL, *body = NULL;

	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "dashboard: serving on", 15000));
	ck_assert_int_eq(get("/", "", &head, &body), 200);
	ck_assert(has_header(head, "Content-Type: text/html; charset=utf-8"));
	ck_assert(has_header(head, "X-Frame-Options: DENY"));
	ck_assert(has_header(head, "X-Content-Type-Options: nosniff"));
	ck_assert(strstr(head, "\r\nContent-Security-Policy: default-src "
	    "'self'") != NULL);
	ck_assert(strstr(body, "<title>deferd</title>") != NULL);
	ck_assert(strstr(body, "<script src=\"/dashboard.js\">") != NULL);
	free(head);
	free(body);
	ck_assert_int_eq(get("/dashboard.js", "", &head, &body), 200);
	ck_assert(has_header(head, "Content-Type: text/javascript; "
	    "charset=utf-8"));
	ck_assert(strstr(body, "/api/overview") != NULL);
	free(head);
	free(body);
	ck_assert_int_eq(get("/dashboard.css", "", NULL, NULL), 200);
	ck_assert_int_eq(get("/nope", "", NULL, NULL), 404);
	ck_assert_int_eq(get("/api/nope", "", NULL, NULL), 404);
	ck_assert_int_eq(post("/api/overview", "", "", &head, NULL), 405);
	ck_assert(has_header(head, "Allow: GET, HEAD"));
	free(head);
	ck_assert_int_eq(h_http_raw(port, "HEAD / HTTP/1.0\r\n\r\n", NULL,
	    &body), 200);
	ck_assert_str_eq(body, "");
	free(body);
	/* A body past the limit is refused before it is read. */
	ck_assert_int_eq(h_http_raw(port, "POST /login HTTP/1.0\r\n"
	    "Content-Length: 100000\r\n\r\n", NULL, NULL), 413);
	h_daemon_stop(&d);
}
END_TEST

/*
 * With dashboard.token_file every page but the sign-in asks for the
 * token: a bearer header or the cookie the form sets; a wrong token, a
 * cross-origin form and a token file others can read are refused.
 */
START_TEST(a_token_is_asked_for)
{
	struct h_daemon	 d;
	char		 extra[512], path[300];
	char		*head = NULL, *body = NULL;
	int		 status;

	h_write_file(W.work, "token", TOKEN "\n", 0640);
	snprintf(path, sizeof(path), "%s/token", W.work);
	snprintf(extra, sizeof(extra), "  token_file: %s\n", path);
	h_daemon_start(&d, W.work, config_text(extra));
	ck_assert(h_daemon_log_has(&d, "(token required)", 15000));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));

	ck_assert_int_eq(get("/api/overview", "", NULL, NULL), 401);
	ck_assert_int_eq(get("/api/overview", "Authorization: Bearer wrong-"
	    "token-of-some-length\r\n", NULL, NULL), 401);
	ck_assert_int_eq(get("/api/overview", "Authorization: Bearer " TOKEN
	    "\r\n", NULL, NULL), 200);
	ck_assert_int_eq(get("/", "", NULL, &body), 401);
	ck_assert(strstr(body, "action=\"/login\"") != NULL);
	free(body);
	ck_assert_int_eq(get("/dashboard.css", "", NULL, NULL), 200);
	ck_assert_int_eq(get("/dashboard.js", "", NULL, NULL), 401);

	ck_assert_int_eq(post("/login", "", "token=not-the-token-at-all", NULL,
	    NULL), 401);
	ck_assert_int_eq(post("/login", "Origin: http://evil.example\r\n",
	    "token=" TOKEN, NULL, NULL), 403);
	status = post("/login", "Origin: http://127.0.0.1:0\r\n", "token="
	    TOKEN, &head, NULL);
	ck_assert_int_eq(status, 403);
	free(head);
	snprintf(extra, sizeof(extra), "Origin: http://127.0.0.1:%d\r\n", port);
	ck_assert_int_eq(post("/login", extra, "token=" TOKEN, &head, NULL), 303);
	ck_assert(has_header(head, "Location: /"));
	ck_assert_msg(strstr(head, "\r\nSet-Cookie: deferd_token=" TOKEN
	    "; Path=/; HttpOnly; SameSite=Strict") != NULL, "%s", head);
	free(head);
	ck_assert_int_eq(get("/api/overview", "Cookie: a=b; deferd_token="
	    TOKEN "\r\n", NULL, NULL), 200);
	ck_assert_int_eq(get("/", "Cookie: deferd_token=" TOKEN "x\r\n", NULL,
	    NULL), 401);
	h_daemon_stop(&d);

	/* A token file others may read: refused at start, with the reason. */
	ck_assert_int_eq(chmod(path, 0644), 0);
	snprintf(extra, sizeof(extra), "  token_file: %s\n", path);
	h_daemon_start(&d, W.work, config_text(extra));
	ck_assert(h_daemon_log_has(&d, "readable by others", 15000));
	status = h_daemon_wait_exit(&d, 10000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	    "status %d", status);
}
END_TEST

/*
 * What Redis holds is untrusted: a daemon summary that is not JSON is
 * left out, one with markup and bad UTF-8 comes out as valid JSON text.
 */
START_TEST(garbage_in_redis_stays_text)
{
	struct h_daemon	 d;
	char		*body = NULL;
	long long	 now;

	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "dashboard: serving on", 15000));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	now = (long long)h_redis_now_ms(W.c);
	freeReplyObject(h_cmd(W.c, "ZADD deferd:stats %lld bad", now));
	freeReplyObject(h_cmd(W.c, "SET deferd:stats:bad %s", "not json {"));
	freeReplyObject(h_cmd(W.c, "ZADD deferd:stats %lld evil", now));
	freeReplyObject(h_cmd(W.c, "SET deferd:stats:evil %s",
	    "{\"daemon\":\"<script>alert(1)</script>\xff\",\"running\":\"x\","
	    "\"claimed\":3}"));
	ck_assert_int_eq(get("/api/overview", "", NULL, &body), 200);
	ck_assert_msg(h_json_ok(body), "%s", body);
	ck_assert_msg(strstr(body, "\"daemons\":[{\"daemon\":\"<script>alert(1)"
	    "</script>\xef\xbf\xbd\",\"claimed\":3}]") != NULL, "%s", body);
	free(body);
	h_daemon_stop(&d);
}
END_TEST

/* The value of "next" in a page (its cursor) into out; false for null. */
static bool
page_next(const char *body, char *out, size_t len)
{
	const char	*p = strstr(body, "\"next\":");

	ck_assert_ptr_nonnull(p);
	p += 7;
	if (strncmp(p, "null", 4) == 0)
		return (false);
	ck_assert_int_eq(*p, '"');
	snprintf(out, len, "%.*s", (int)strcspn(p + 1, "\""), p + 1);
	return (true);
}

/*
 * /api/jobs pages through 1,000 dead jobs, ten to a score, newest first:
 * every job exactly once, in order, whatever the page size; the done
 * list carries the history records; bad queries get 400 or 404.
 */
START_TEST(jobs_pages_through_1000_dead_jobs)
{
	struct h_daemon	 d;
	static char	 seen[1000];
	char		 path[256], cursor[64], *body = NULL, *p;
	long long	 last = -1, base = 1796000000000LL, ms;
	int		 pages = 0, n = 0, id;

	h_write_file(W.hdir, "ok", "#!/bin/sh\necho fine\n", 0755);
	for (int i = 0; i < 1000; i++) {
		freeReplyObject(h_cmd(W.c, "HSET " Q "job:dead-%d handler h "
		    "attempts 3 last_error boom", i));
		freeReplyObject(h_cmd(W.c, "ZADD " Q "dead %lld dead-%d",
		    base + i / 10, i));
	}
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	cursor[0] = '\0';
	do {
		snprintf(path, sizeof(path), "/api/jobs?queue=default&state=dead"
		    "&limit=37%s%s", cursor[0] ? "&cursor=" : "", cursor);
		ck_assert_int_eq(get(path, "", NULL, &body), 200);
		ck_assert_msg(h_json_ok(body), "%s", body);
		for (p = body; (p = strstr(p, "{\"id\":\"dead-")) != NULL; p++) {
			ck_assert_int_eq(sscanf(p, "{\"id\":\"dead-%d\",\"time_ms\""
			    ":%lld", &id, &ms), 2);
			ck_assert_msg(id >= 0 && id < 1000 && !seen[id],
			    "dead-%d twice or out of range", id);
			seen[id] = 1;
			ck_assert_int_eq(ms, base + id / 10);
			ck_assert_msg(last < 0 || ms <= last, "not newest first");
			last = ms;
			n++;
		}
		ck_assert(strstr(body, "\"handler\":\"h\",\"attempts\":3,"
		    "\"last_error\":\"boom\"") != NULL);
		pages++;
	} while (page_next(body, cursor, sizeof(cursor)) && (free(body), 1));
	free(body);
	ck_assert_int_eq(n, 1000);
	ck_assert_int_eq(pages, (1000 + 36) / 37);

	h_enqueue(W.c, "fine-1", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD " Q "done") == 1, 10000));
	ck_assert_int_eq(get("/api/jobs?queue=default&state=done", "", NULL,
	    &body), 200);
	ck_assert_msg(strstr(body, "{\"id\":\"fine-1\",\"time_ms\":") != NULL &&
	    strstr(body, "\"status\":\"done\",\"handler\":\"ok\","
	    "\"attempts\":1,") != NULL, "%s", body);
	ck_assert(strstr(body, "\"next\":null") != NULL);
	free(body);

	ck_assert_int_eq(get("/api/jobs?queue=nope", "", NULL, NULL), 404);
	ck_assert_int_eq(get("/api/jobs?state=dead", "", NULL, NULL), 400);
	ck_assert_int_eq(get("/api/jobs?queue=default&state=waiting", "", NULL,
	    NULL), 400);
	ck_assert_int_eq(get("/api/jobs?queue=default&limit=501", "", NULL,
	    NULL), 400);
	ck_assert_int_eq(get("/api/jobs?queue=default&cursor=x", "", NULL,
	    NULL), 400);
	ck_assert_int_eq(get("/api/job?queue=default", "", NULL, NULL), 400);
	h_daemon_stop(&d);
}
END_TEST

/*
 * Page through /api/jobs with query (after "queue=default&state=dead")
 * and limit; each "k-NNN" job seen marks seen[NNN] (once); returns how
 * many were shown, checking each matches handler h and prefix pre.
 */
static int
page_all(const char *query, int limit, char *seen, const char *h,
    const char *pre)
{
	char		 path[512], cursor[64], want[64], *body = NULL, *p;
	int		 n = 0, id;

	cursor[0] = '\0';
	do {
		free(body);
		snprintf(path, sizeof(path), "/api/jobs?queue=default&state=dead"
		    "&limit=%d%s%s%s", limit, query, cursor[0] ? "&cursor=" : "",
		    cursor);
		ck_assert_int_eq(get(path, "", NULL, &body), 200);
		ck_assert_msg(h_json_ok(body), "%s", body);
		for (p = body; (p = strstr(p, "{\"id\":\"k-")) != NULL; p++) {
			ck_assert_int_eq(sscanf(p, "{\"id\":\"k-%d\"", &id), 1);
			ck_assert_msg(!seen[id], "k-%03d twice", id);
			seen[id] = 1;
			snprintf(want, sizeof(want), "k-%03d", id);
			ck_assert(strncmp(want, pre, strlen(pre)) == 0);
			ck_assert_msg((id % 3 == 0 ? 'a' : 'b') == h[0] || h[0] ==
			    '\0', "k-%03d is not %s's", id, h);
			n++;
		}
	} while (page_next(body, cursor, sizeof(cursor)));
	free(body);
	return (n);
}

/*
 * The lists filter by handler and by ID prefix, page after page, each
 * matching job once, however few a page's candidates match.
 */
START_TEST(lists_filter_by_handler_and_prefix)
{
	struct h_daemon	 d;
	static char	 seen[300];
	long long	 base = 1796000000000LL;

	for (int i = 0; i < 300; i++) {
		freeReplyObject(h_cmd(W.c, "HSET " Q "job:k-%03d handler %s", i,
		    i % 3 == 0 ? "a" : "b"));
		freeReplyObject(h_cmd(W.c, "ZADD " Q "dead %lld k-%03d",
		    base + i / 4, i));
	}
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	ck_assert_int_eq(page_all("&handler=a", 7, seen, "a", ""), 100);
	memset(seen, 0, sizeof(seen));
	ck_assert_int_eq(page_all("&prefix=k-1", 9, seen, "", "k-1"), 100);
	memset(seen, 0, sizeof(seen));
	ck_assert_int_eq(page_all("&prefix=k-1&handler=a", 5, seen, "a",
	    "k-1"), 33);
	memset(seen, 0, sizeof(seen));
	ck_assert_int_eq(page_all("&handler=nobody", 10, seen, "", ""), 0);
	h_daemon_stop(&d);
}
END_TEST

/*
 * /api/job gives every field as JSON text: markup stays text (the page
 * writes it with textContent), bytes that are not UTF-8 and NULs are
 * escaped, nothing is cut short; a finished job shows its result and
 * record, an unknown one says so.
 */
START_TEST(job_shows_every_field_as_text)
{
	struct h_daemon	 d;
	char		*body = NULL;
	redisReply	*r;
	const char	*argv[] = { "HSET", Q "job:x1", "handler", "h", "payload",
			    "<script>alert(1)</script>\xff\0tail" };
	size_t		 lens[] = { 4, strlen(Q "job:x1"), 7, 1, 7, 31 };

	h_write_file(W.hdir, "ok", "#!/bin/sh\necho done-output\n", 0755);
	r = redisCommandArgv(W.c, 6, argv, lens);
	ck_assert_ptr_nonnull(r);
	freeReplyObject(r);
	freeReplyObject(h_cmd(W.c, "ZADD " Q "dead 1796000000000 x1"));
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	ck_assert_int_eq(get("/api/job?queue=default&id=x1", "", NULL, &body),
	    200);
	ck_assert_msg(h_json_ok(body), "%s", body);
	ck_assert_msg(strstr(body, "\"state\":\"dead\",\"died_ms\":"
	    "1796000000000,\"fields\":{\"handler\":\"h\",\"payload\":"
	    "\"<script>alert(1)</script>\xef\xbf\xbd\\u0000tail\"}") != NULL,
	    "%s", body);
	free(body);

	h_enqueue(W.c, "x2", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c, "ZCARD " Q "done") == 1, 10000));
	ck_assert_int_eq(get("/api/job?queue=default&id=x2", "", NULL, &body),
	    200);
	ck_assert_msg(strstr(body, "\"state\":\"finished\",\"fields\":{},"
	    "\"result\":\"done-output\\u000a\",\"last_run\":{\"status\":"
	    "\"done\"") != NULL, "%s", body);
	free(body);
	/* A job that locks a resource: its fencing counter beside it. */
	freeReplyObject(h_cmd(W.c, "HSET " Q "job:x3 handler h resource db"));
	freeReplyObject(h_cmd(W.c, "ZADD " Q "dead 1796000000000 x3"));
	freeReplyObject(h_cmd(W.c, "SET deferd:fence:db 7"));
	ck_assert_int_eq(get("/api/job?queue=default&id=x3", "", NULL, &body),
	    200);
	ck_assert_msg(strstr(body, "\"resource_fence\":7}") != NULL, "%s", body);
	free(body);
	ck_assert_int_eq(get("/api/job?queue=default&id=none%3Aat%20all", "",
	    NULL, &body), 200);
	ck_assert_msg(strstr(body, "\"id\":\"none:at all\",\"state\":"
	    "\"unknown\"") != NULL, "%s", body);
	free(body);
	h_daemon_stop(&d);
}
END_TEST

/* The anti-CSRF token of GET /api/session into out. */
static void
session_csrf(char *out, size_t len)
{
	char		*body = NULL;
	const char	*p;

	ck_assert_int_eq(get("/api/session", "", NULL, &body), 200);
	ck_assert_ptr_nonnull(p = strstr(body, "\"csrf\":\""));
	snprintf(out, len, "%.*s", (int)strcspn(p + 8, "\""), p + 8);
	ck_assert_uint_eq(strlen(out), 32);
	free(body);
}

/* POST action with the CSRF header (when csrf is not NULL); status and body. */
static int
act(const char *path, const char *csrf, const char *extra, char **body)
{
	char	hdr[256];

	snprintf(hdr, sizeof(hdr), "%s%s%s%s", csrf != NULL ? "X-CSRF-Token: " :
	    "", csrf != NULL ? csrf : "", csrf != NULL ? "\r\n" : "",
	    extra != NULL ? extra : "");
	return (post(path, hdr, "", NULL, body));
}

/*
 * The actions run deferctl's scripts, only from the page (the CSRF token
 * it reads from /api/session, its own origin), never when read-only:
 * retry and delete a dead job, cancel a delayed one, retry and delete
 * all dead ones.
 */
START_TEST(actions_need_the_page_token)
{
	struct h_daemon	 d;
	char		 csrf[64], *body = NULL;
	long long	 now;

	now = (long long)h_redis_now_ms(W.c);
	freeReplyObject(h_cmd(W.c, "SET " O "paused %lld", now));
	put_job(O, "d1", "dead", now);
	put_job(O, "d2", "dead", now);
	put_job(O, "later", "delayed", now + 3600000);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	session_csrf(csrf, sizeof(csrf));

	ck_assert_int_eq(act("/api/retry?queue=other&id=d1", NULL, NULL, NULL),
	    403);
	ck_assert_int_eq(act("/api/retry?queue=other&id=d1", "0123456789abcdef"
	    "0123456789abcdef", NULL, NULL), 403);
	ck_assert_int_eq(act("/api/retry?queue=other&id=d1", csrf,
	    "Origin: http://evil.example\r\n", NULL), 403);
	ck_assert_int_eq(get("/api/retry?queue=other&id=d1", "", NULL, NULL),
	    405);
	ck_assert_int_eq(h_cmd_int(W.c, "ZSCORE " O "dead d1"), now);

	ck_assert_int_eq(act("/api/retry?queue=other&id=d1", csrf, NULL, &body),
	    200);
	ck_assert_msg(strstr(body, "\"id\":\"d1\",\"result\":\"retried\"") !=
	    NULL, "%s", body);
	free(body);
	ck_assert_int_eq(h_cmd_int(W.c, "ZSCORE " O "dead d1"), -1);
	ck_assert_int_ge(h_cmd_int(W.c, "ZSCORE " O "delayed d1"), now);
	ck_assert_int_eq(act("/api/retry?queue=other&id=d1", csrf, NULL, &body),
	    200);
	ck_assert(strstr(body, "\"result\":\"not dead\"") != NULL);
	free(body);
	ck_assert_int_eq(act("/api/delete?queue=other&id=d2", csrf, NULL, &body),
	    200);
	ck_assert(strstr(body, "\"result\":\"deleted\"") != NULL);
	free(body);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS " O "job:d2"), 0);
	ck_assert_int_eq(act("/api/cancel?queue=other&id=later", csrf, NULL,
	    &body), 200);
	ck_assert(strstr(body, "\"result\":\"cancelled\"") != NULL);
	free(body);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS " O "job:later"), 0);

	for (int i = 0; i < 5; i++) {
		char	id[8];

		snprintf(id, sizeof(id), "z%d", i);
		put_job(O, id, "dead", now);
	}
	ck_assert_int_eq(act("/api/retry_all?queue=other", csrf, NULL, &body),
	    200);
	ck_assert_msg(strstr(body, "\"count\":5,\"more\":false") != NULL, "%s",
	    body);
	free(body);
	ck_assert_int_eq(h_cmd_int(W.c, "ZCARD " O "dead"), 0);
	put_job(O, "e1", "dead", now);
	put_job(O, "e2", "dead", now);
	ck_assert_int_eq(act("/api/delete_all?queue=other", csrf, NULL, &body),
	    200);
	ck_assert_msg(strstr(body, "\"count\":2,\"more\":false") != NULL, "%s",
	    body);
	free(body);
	ck_assert_int_eq(act("/api/retry?queue=nope&id=x", csrf, NULL, NULL),
	    404);
	ck_assert_int_eq(act("/api/retry?queue=other", csrf, NULL, NULL), 400);
	h_daemon_stop(&d);

	h_daemon_start(&d, W.work, config_text("  read_only: true\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	session_csrf(csrf, sizeof(csrf));
	ck_assert_int_eq(get("/api/session", "", NULL, &body), 200);
	ck_assert(strstr(body, "\"read_only\":true") != NULL);
	free(body);
	put_job(O, "ro", "dead", now);
	ck_assert_int_eq(act("/api/retry?queue=other&id=ro", csrf, NULL, &body),
	    403);
	ck_assert(strstr(body, "read-only") != NULL);
	free(body);
	ck_assert_int_eq(h_cmd_int(W.c, "ZSCORE " O "dead ro"), now);
	h_daemon_stop(&d);
}
END_TEST

/* A connection that asked for /api/events (its small receive buffer, when small). */
static int
events_open(bool small)
{
	char	 req[256];
	int	 fd = h_tcp_connect(port), sz = 4096;

	ck_assert_int_ge(fd, 0);
	if (small)
		ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz,
		    sizeof(sz)), 0);
	snprintf(req, sizeof(req), "GET /api/events HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\n\r\n", port);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	return (fd);
}

/* Read from fd into buf (NUL-terminated) until want is in it or ms pass. */
static bool
events_read_until(int fd, char *buf, size_t len, size_t *have,
    const char *want, int64_t ms)
{
	int64_t	 deadline = h_mono_ms() + ms;
	ssize_t	 n;

	while (strstr(buf, want) == NULL && h_mono_ms() < deadline &&
	    *have + 1 < len) {
		n = recv(fd, buf + *have, len - 1 - *have, MSG_DONTWAIT);
		if (n > 0) {
			*have += (size_t)n;
			buf[*have] = '\0';
		} else if (n == 0)
			break;
		else
			h_nap();
	}
	return (strstr(buf, want) != NULL);
}

/*
 * /api/events streams the lifecycle events as Server-Sent Events while a
 * viewer watches; a viewer that does not read is dropped and the daemon
 * goes on; the subscription ends a while after the last viewer left;
 * with events: false the stream is refused.
 */
START_TEST(live_events_stream_and_a_slow_viewer_is_dropped)
{
	struct h_daemon	 d;
	static char	 buf[1 << 16];
	char		 big[1100];
	size_t		 have = 0;
	int		 fd, slow;

	h_write_file(W.hdir, "ok", "#!/bin/sh\nexit 0\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	buf[0] = '\0';
	fd = events_open(false);
	ck_assert(events_read_until(fd, buf, sizeof(buf), &have,
	    "Content-Type: text/event-stream\r\n", 10000));
	ck_assert(h_daemon_log_has(&d, "a live viewer; subscribed", 10000));
	h_enqueue(W.c, "live-1", "ok", "", 0, 0);
	ck_assert_msg(events_read_until(fd, buf, sizeof(buf), &have,
	    "data: {\"event\":\"done\",\"queue\":\"default\",\"id\":"
	    "\"live-1\"", 10000 * SLOW), "%s", buf);
	ck_assert(strstr(buf, "data: {\"event\":\"claimed\"") != NULL);

	/* One that never reads: dropped once 256 KiB wait for it. */
	slow = events_open(true);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* The kernel's socket buffers take a few MB first. */
	for (int i = 0; i < 40000; i++) {
		redisAppendCommand(W.c, "PUBLISH deferd:events %s", big);
		if (i % 500 == 499) {
			for (int k = 0; k < 500; k++) {
				void	*r;

				ck_assert_int_eq(redisGetReply(W.c, &r), REDIS_OK);
				freeReplyObject(r);
			}
			if (h_daemon_log_has(&d, "too slow", 0))
				break;
		}
	}
	ck_assert(h_daemon_log_has(&d, "a stream's client is too slow",
	    10000 * SLOW));
	/* The daemon goes on (once it has worked through the flood). */
	ck_assert(H_WAIT_UNTIL(get("/api/overview", "", NULL, NULL) == 200,
	    30000));
	close(slow);
	close(fd);
	ck_assert(h_daemon_log_has(&d, "no one watches the live view; "
	    "unsubscribed", 20000 * SLOW));
	h_daemon_stop(&d);

	h_daemon_start(&d, W.work, config_text("events: false\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	ck_assert_int_eq(get("/api/events", "", NULL, NULL), 503);
	h_daemon_stop(&d);
}
END_TEST

/*
 * dashboard.listen may be metrics.listen: one server answers /metrics and
 * /healthz (no token asked: scrapers and probes) and the dashboard
 * (token asked); a reload that parts them gives each its own port.
 */
START_TEST(one_port_for_metrics_and_the_dashboard)
{
	struct h_daemon	 d;
	char		 extra[600], path[300], *body = NULL;
	int		 second;

	h_write_file(W.work, "token", TOKEN "\n", 0640);
	snprintf(path, sizeof(path), "%s/token", W.work);
	snprintf(extra, sizeof(extra), "  token_file: %s\n"
	    "metrics: {listen: \"127.0.0.1:%d\"}\n", path, port);
	h_daemon_start(&d, W.work, config_text(extra));
	ck_assert(h_daemon_log_has(&d, "with /metrics and /healthz", 15000));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	ck_assert_int_eq(get("/metrics", "", NULL, &body), 200);
	ck_assert(strstr(body, "deferd_build_info") != NULL);
	free(body);
	ck_assert(H_WAIT_UNTIL(get("/healthz", "", NULL, NULL) == 200, 10000));
	ck_assert_int_eq(get("/api/overview", "", NULL, NULL), 401);
	ck_assert_int_eq(get("/api/overview", "Authorization: Bearer " TOKEN
	    "\r\n", NULL, NULL), 200);

	/* Parted by a reload: metrics stays, the dashboard moves. */
	second = h_free_port();
	snprintf(extra, sizeof(extra), "redis: {url: \"%s\"}\n"
	    "queues: [default, other]\nhandlers: {dir: %s}\n"
	    "metrics: {listen: \"127.0.0.1:%d\"}\n"
	    "dashboard: {listen: \"127.0.0.1:%d\"}\n", W.r.url, W.hdir, port,
	    second);
	reload_with(&d, extra);
	ck_assert(h_daemon_log_has(&d, "dashboard: now serving on", 15000));
	ck_assert(h_daemon_log_has(&d, "metrics: now serving on", 15000));
	ck_assert_int_eq(get("/metrics", "", NULL, NULL), 200);
	ck_assert_int_eq(get("/api/overview", "", NULL, NULL), 404);
	ck_assert_int_eq(h_http(second, "GET", "/api/overview", NULL), 200);
	h_daemon_stop(&d);
}
END_TEST

/* Write text as daemon d's config and reload it (SIGHUP). */
static void
reload_with(struct h_daemon *d, const char *text)
{
	FILE	*f = fopen(d->config, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	h_daemon_signal(d, SIGHUP, false);
}

/*
 * A reload that moves dashboard.listen serves on the new address and
 * closes the old one; one that removes it stops the dashboard; one whose
 * token file is unusable keeps the old settings and says why.
 */
START_TEST(reload_moves_and_stops_the_dashboard)
{
	struct h_daemon	 d;
	char		 extra[400], path[300];
	int		 first = port;

	h_daemon_start(&d, W.work, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	ck_assert_int_eq(get("/", "", NULL, NULL), 200);
	port = h_free_port();
	reload_with(&d, config_text(NULL));
	ck_assert(h_daemon_log_has(&d, "dashboard: now serving on", 15000));
	ck_assert_int_eq(get("/", "", NULL, NULL), 200);
	ck_assert_int_eq(h_http(first, "GET", "/", NULL), -1);

	snprintf(path, sizeof(path), "%s/open-token", W.work);
	h_write_file(W.work, "open-token", TOKEN "\n", 0644);
	snprintf(extra, sizeof(extra), "  token_file: %s\n", path);
	reload_with(&d, config_text(extra));
	ck_assert(h_daemon_log_has(&d, "the dashboard keeps its old settings",
	    15000));
	ck_assert_int_eq(get("/api/overview", "", NULL, NULL), 200);

	snprintf(extra, sizeof(extra), "redis: {url: \"%s\"}\n"
	    "queues: [default, other]\nhandlers: {dir: %s}\n", W.r.url, W.hdir);
	reload_with(&d, extra);
	ck_assert(h_daemon_log_has(&d, "dashboard.listen removed; stopped",
	    15000));
	ck_assert_int_eq(get("/", "", NULL, NULL), -1);
	h_daemon_stop(&d);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("dashboard");
	TCase	*tc = tcase_create("dashboard");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, overview_counts_jobs_in_every_state);
	tcase_add_test(tc, pages_and_their_headers);
	tcase_add_test(tc, a_token_is_asked_for);
	tcase_add_test(tc, garbage_in_redis_stays_text);
	tcase_add_test(tc, reload_moves_and_stops_the_dashboard);
	tcase_add_test(tc, jobs_pages_through_1000_dead_jobs);
	tcase_add_test(tc, job_shows_every_field_as_text);
	tcase_add_test(tc, actions_need_the_page_token);
	tcase_add_test(tc, live_events_stream_and_a_slow_viewer_is_dropped);
	tcase_add_test(tc, one_port_for_metrics_and_the_dashboard);
	tcase_add_test(tc, lists_filter_by_handler_and_prefix);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
