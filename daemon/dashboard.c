/* SPDX-License-Identifier: MIT */
/*
 * The web dashboard; see dashboard.h. Routes:
 *   GET  /, /index.html, /dashboard.css, /dashboard.js   the embedded files
 *   GET  /api/overview, /api/jobs, /api/job               dashboard_api.h
 *   GET  /api/session                                     the anti-CSRF token
 *   GET  /api/events                                      live events (SSE)
 *   POST /api/retry, delete, cancel, retry_all, delete_all  dashboard_actions.c
 *   GET  /login, POST /login                              with a token only
 * HEAD works wherever GET does; another method is 405, another path 404.
 * With dashboard.token_file every path but /login asks for the token
 * (dashboard_auth.c): an API call without it gets 401, a page gets the
 * login form. Every reply forbids framing and sniffing and sets a content
 * security policy that allows only the dashboard's own files.
 */
#include <sys/queue.h>

#include <event2/buffer.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard.h"
#include "dashboard_api.h"
#include "dashboard_assets.h"
#include "dashboard_auth.h"
#include "dashboard_live.h"
#include "deferd.h"
#include "httpd.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define DASHBOARD_MAX_HEAD	8192
#define DASHBOARD_MAX_BODY	4096	/* a login form */
#define COOKIE_MAX_AGE_S	(7 * 24 * 3600)

/* Headers of every reply: no framing, no sniffing, only our own files. */
#define SAFE_HEADERS							\
	"X-Content-Type-Options: nosniff\r\n"				\
	"X-Frame-Options: DENY\r\n"					\
	"Referrer-Policy: no-referrer\r\n"				\
	"Cache-Control: no-store\r\n"					\
	"Content-Security-Policy: default-src 'self'; "			\
	"frame-ancestors 'none'; form-action 'self'\r\n"

/* An API call waiting for Redis, for the request it answers. */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	struct dashboard	*db;
	struct api_call		*call;
	uint64_t		 id;
};

struct dashboard {
	struct deferd		*d;
	struct httpd		*http;		/* NULL when off */
	char			*listen;
	char			 token[DASHBOARD_TOKEN_MAX + 1];	/* "": none asked */
	char			 csrf[33];	/* what every action must carry */
	TAILQ_HEAD(, pending)	 pending;
	struct live		*live;		/* /api/events viewers */
	httpd_route_cb		 metrics_route;	/* /metrics, /healthz when shared */
	void			*metrics_arg;
};

static const char login_page[] =
	"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	"<title>deferd: sign in</title>"
	"<link rel=\"stylesheet\" href=\"/dashboard.css\"></head><body>"
	"<header><h1>deferd</h1></header><main><section>"
	"<h2>Sign in</h2><p class=\"muted small\">The token is in the file "
	"that <code>dashboard.token_file</code> names.</p>"
	"<form method=\"post\" action=\"/login\">"
	"<label>Token <input type=\"password\" name=\"token\" "
	"autocomplete=\"current-password\" required autofocus></label> "
	"<button type=\"submit\">Sign in</button></form>"
	"</section></main></body></html>\n";

/* Whether addr ("host:port") is on a loopback address. */
static bool
dashboard_loopback(const char *addr)
{
	return (strncmp(addr, "127.", 4) == 0 || strncmp(addr, "[::1]:", 6) == 0 ||
	    strncmp(addr, "localhost:", 10) == 0);
}

/* A short text reply with status. */
static void
reply_text(struct httpd_reply *r, int status, const char *reason,
    const char *text)
{
	r->status = status;
	r->reason = reason;
	evbuffer_add(r->body, text, strlen(text));
}

/* The embedded file at path ("/" is /index.html), or NULL. */
static const struct dashboard_asset *
asset_find(const char *path)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (const struct dashboard_asset *a = dashboard_assets; a->path != NULL;
	    a++)
		if (strcmp(a->path, path) == 0)
			return (a);
	return (NULL);
}

/* The login form (status 200, or 401 where a page asked for the token). */
static void
reply_login(struct httpd_reply *r, int status)
{
	r->status = status;
	r->reason = status == 200 ? "OK" : "Unauthorized";
	r->content_type = "text/html; charset=utf-8";
	evbuffer_add(r->body, login_page, sizeof(login_page) - 1);
}

/*
 * POST /login: a right token sets the cookie (HttpOnly, SameSite=Strict)
 * and sends the browser to the overview; a wrong one gets the form again.
 */
static void
route_login(struct dashboard *db, const struct httpd_req *req,
    struct httpd_reply *r, char *hdrs, size_t hdrslen)
{
	char	tok[DASHBOARD_TOKEN_MAX + 1];

	if (!dashboard_same_origin(req)) {
		reply_text(r, 403, "Forbidden", "cross-origin form refused\n");
		return;
	}
	if (!dashboard_form_value(req->body, req->body_len, "token", tok,
	    sizeof(tok)) || !dashboard_token_equal(tok, db->token)) {
		log_warnx("dashboard: a sign-in with a wrong token");
		reply_login(r, 401);
		return;
	}
	snprintf(hdrs, hdrslen, SAFE_HEADERS "Location: /\r\nSet-Cookie: "
	    DASHBOARD_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; "
	    "Max-Age=%d\r\n", db->token, COOKIE_MAX_AGE_S);
	r->headers = hdrs;
	reply_text(r, 303, "See Other", "signed in\n");
}

/* An API call's answer: send it, if its client is still there. */
static void
api_done(struct api_call *call, struct evbuffer *json, void *arg)
{
	struct pending		*p = arg;
	struct httpd_reply	 r;

	(void)call;
	memset(&r, 0, sizeof(r));
	r.headers = SAFE_HEADERS;
	if ((r.body = evbuffer_new()) != NULL) {
		if (json != NULL) {
			r.status = 200;
			r.reason = "OK";
			r.content_type = "application/json";
			evbuffer_add_buffer(r.body, json);
		} else {
			r.status = 503;
			r.reason = "Service Unavailable";
			r.content_type = "application/json";
			evbuffer_add_printf(r.body,
			    "{\"error\":\"redis not connected\"}\n");
		}
		if (p->db->http != NULL)
			httpd_finish(p->db->http, p->id, &r);
		evbuffer_free(r.body);
	}
	TAILQ_REMOVE(&p->db->pending, p, entry);
	free(p);
}

/* A JSON error reply: {"error": why}. */
static void
reply_error(struct httpd_reply *r, int status, const char *reason,
    const char *why)
{
	struct json_out	o;

	json_out_init(&o);
	json_obj_begin(&o, NULL);
	json_add_cstr(&o, "error", why);
	json_obj_end(&o);
	r->status = status;
	r->reason = reason;
	r->content_type = "application/json";
	evbuffer_add(r->body, json_out_str(&o), o.len);
	evbuffer_add(r->body, "\n", 1);
	json_out_free(&o);
}

/* The parsed query of an /api/ request. */
struct api_query {
	char			 queue[256];
	char			 id[1025];
	char			 handler[256];	/* /api/jobs filters */
	char			 prefix[1025];
	struct api_jobs_query	 jobs;
};

/* Query parameter name of req into out; false when absent or too long. */
static bool
query_value(const struct httpd_req *req, const char *name, char *out,
    size_t outlen)
{
	return (dashboard_form_value(req->query, strlen(req->query), name, out,
	    outlen));
}

/* ?queue=Q: one of the config's queues; else the error reply and false. */
static bool
query_queue(struct dashboard *db, const struct httpd_req *req,
    struct httpd_reply *r, struct api_query *q)
{
	const struct config	*cfg = db->d->cfg;

	if (!query_value(req, "queue", q->queue, sizeof(q->queue))) {
		reply_error(r, 400, "Bad Request", "queue is missing");
		return (false);
	}
	for (size_t i = 0; i < cfg->nqueues; i++)
		if (strcmp(cfg->queues[i], q->queue) == 0)
			return (true);
	reply_error(r, 404, "Not Found", "no such queue in the config");
	return (false);
}

/* The query of /api/jobs: state, limit, cursor; else the error reply and false. */
static bool
query_jobs(const struct httpd_req *req, struct httpd_reply *r,
    struct api_query *q)
{
	char		 v[64], *end;
	long long	 n;

	q->jobs.queue = q->queue;
	q->jobs.limit = 50;
	if (!query_value(req, "state", v, sizeof(v)))
		snprintf(v, sizeof(v), "delayed");
	if (!api_list_parse(v, &q->jobs.list)) {
		reply_error(r, 400, "Bad Request", "state is not one of "
		    "delayed, active, dead, done, failed");
		return (false);
	}
	if (query_value(req, "limit", v, sizeof(v))) {
		n = strtoll(v, &end, 10);
		if (end == v || *end != '\0' || n < 1 || n > 500) {
			reply_error(r, 400, "Bad Request", "limit is 1 to 500");
			return (false);
		}
		q->jobs.limit = (size_t)n;
	}
	if (query_value(req, "handler", q->handler, sizeof(q->handler)) &&
	    q->handler[0] != '\0')
		q->jobs.handler = q->handler;
	if (query_value(req, "prefix", q->prefix, sizeof(q->prefix)) &&
	    q->prefix[0] != '\0')
		q->jobs.prefix = q->prefix;
	if (query_value(req, "cursor", v, sizeof(v)) && v[0] != '\0') {
		if (sscanf(v, "%" SCNd64 ":%" SCNd64, &q->jobs.cursor_ms,
		    &q->jobs.cursor_skip) != 2 || q->jobs.cursor_skip < 0) {
			reply_error(r, 400, "Bad Request", "cursor is MS:SKIP, "
			    "as the last page's next");
			return (false);
		}
		q->jobs.has_cursor = true;
	}
	return (true);
}

/* ?id=ID, 1 to 1024 bytes; else the error reply and false. */
static bool
query_id(const struct httpd_req *req, struct httpd_reply *r,
    struct api_query *q)
{
	if (query_value(req, "id", q->id, sizeof(q->id)) && q->id[0] != '\0')
		return (true);
	reply_error(r, 400, "Bad Request", "id is missing (1 to 1024 bytes)");
	return (false);
}

/* A request waiting for its API call, the arg of the call's api_done. */
static struct pending *
pending_new(struct dashboard *db, const struct httpd_req *req)
{
	struct pending	*p = xcalloc(1, sizeof(*p));

	p->db = db;
	p->id = req->id;
	TAILQ_INSERT_TAIL(&db->pending, p, entry);
	return (p);
}

/*
 * The call of p was started: its reply goes out when Redis has answered
 * (api_done). A NULL call sent nothing, and api_done has run (and freed
 * p): answer 503 now.
 */
static void
pending_started(struct pending *p, struct api_call *call, struct httpd_reply *r)
{
	if (call == NULL) {
		reply_error(r, 503, "Service Unavailable", "redis not connected");
		return;
	}
	p->call = call;
	r->deferred = true;
}

/*
 * An /api/ endpoint: parse its query, start its call; the reply goes out
 * when Redis has answered (api_done).
 */
static void
route_api(struct dashboard *db, const struct httpd_req *req,
    struct httpd_reply *r)
{
	struct api_query	 q;
	struct pending		*p;
	struct api_call		*call;
	enum { OVERVIEW, JOBS, JOB } what;

	memset(&q, 0, sizeof(q));
	if (strcmp(req->path, "/api/overview") == 0)
		what = OVERVIEW;
	else if (strcmp(req->path, "/api/jobs") == 0)
		what = JOBS;
	else if (strcmp(req->path, "/api/job") == 0)
		what = JOB;
	else {
		reply_error(r, 404, "Not Found", "no such endpoint");
		return;
	}
	if (what != OVERVIEW && !query_queue(db, req, r, &q))
		return;
	if (what == JOBS && !query_jobs(req, r, &q))
		return;
	if (what == JOB && !query_id(req, r, &q))
		return;
	p = pending_new(db, req);
	if (what == OVERVIEW)
		call = api_overview(db->d, api_done, p);
	else if (what == JOBS)
		call = api_jobs(db->d, &q.jobs, api_done, p);
	else
		call = api_job(db->d, q.queue, q.id, api_done, p);
	pending_started(p, call, r);
}

/* Whether path is an action's, and which (into *act unless NULL). */
static bool
action_of(const char *path, enum api_action *act)
{
	static const struct {
		const char	*path;
		enum api_action	 act;
	} actions[] = {
		{ "/api/retry", API_RETRY }, { "/api/delete", API_DELETE },
		{ "/api/cancel", API_CANCEL }, { "/api/retry_all", API_RETRY_ALL },
		{ "/api/delete_all", API_DELETE_ALL },
	};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(path, actions[i].path) == 0) {
			if (act != NULL)
				*act = actions[i].act;
			return (true);
		}
	return (false);
}

/*
 * GET /api/session: what the page needs to act: the anti-CSRF token its
 * actions carry (X-CSRF-Token), and whether actions are off.
 */
static void
route_session(struct dashboard *db, struct httpd_reply *r)
{
	struct json_out	o;

	json_out_init(&o);
	json_obj_begin(&o, NULL);
	json_add_cstr(&o, "csrf", db->csrf);
	json_add_bool(&o, "read_only", db->d->cfg->dashboard.read_only);
	json_obj_end(&o);
	r->content_type = "application/json";
	evbuffer_add(r->body, json_out_str(&o), o.len);
	json_out_free(&o);
}

/*
 * A POST to an action: only from the dashboard's own page (its Origin, if
 * sent, and the X-CSRF-Token only that page can read), never read-only;
 * then the same script deferctl runs.
 */
static void
route_action(struct dashboard *db, const struct httpd_req *req,
    struct httpd_reply *r)
{
	struct api_query	 q;
	struct pending		*p;
	struct api_call		*call;
	enum api_action		 act = API_RETRY;
	char			 csrf[64];

	memset(&q, 0, sizeof(q));
	(void)action_of(req->path, &act);	/* the router checked it is one */
	if (!dashboard_same_origin(req) || !httpd_header(req, "X-CSRF-Token",
	    csrf, sizeof(csrf)) || !dashboard_token_equal(csrf, db->csrf)) {
		reply_error(r, 403, "Forbidden", "an action needs the page's "
		    "X-CSRF-Token and its own origin");
		return;
	}
	if (db->d->cfg->dashboard.read_only) {
		reply_error(r, 403, "Forbidden", "the dashboard is read-only "
		    "(dashboard.read_only)");
		return;
	}
	if (!query_queue(db, req, r, &q))
		return;
	if (act != API_RETRY_ALL && act != API_DELETE_ALL &&
	    !query_id(req, r, &q))
		return;
	p = pending_new(db, req);
	call = api_action(db->d, act, q.queue, act == API_RETRY_ALL ||
	    act == API_DELETE_ALL ? NULL : q.id, api_done, p);
	pending_started(p, call, r);
}

/*
 * GET /api/events: the lifecycle events as Server-Sent Events, from now
 * until the client leaves (dashboard_live.c).
 */
static void
route_events(struct dashboard *db, const struct httpd_req *req,
    struct httpd_reply *r)
{
	if (db->d->events_chan[0] == '\0') {
		reply_error(r, 503, "Service Unavailable", "lifecycle events are "
		    "off (events: false)");
		return;
	}
	r->stream = true;
	r->content_type = "text/event-stream";
	evbuffer_add_printf(r->body, ": deferd lifecycle events from %s\n\n",
	    db->d->events_chan);
	if (!req->head)
		live_add(db->live, db->http, req->id);
}

/* A stream closed: its viewer leaves the live view. */
static void
dashboard_stream_closed(uint64_t id, void *arg)
{
	struct dashboard	*db = arg;

	live_remove(db->live, id);
}

/* Every request. */
static void
dashboard_route(const struct httpd_req *req, struct httpd_reply *r, void *arg)
{
	struct dashboard		*db = arg;
	const struct dashboard_asset	*a;
	static char			 hdrs[1024];	/* sent before the next request */
	bool				 get = strcmp(req->method, "GET") == 0 ||
					    req->head;

	if (config_dashboard_serves_metrics(db->d->cfg) &&
	    (strcmp(req->path, "/metrics") == 0 ||
	    strcmp(req->path, "/healthz") == 0)) {
		db->metrics_route(req, r, db->metrics_arg);	/* no token */
		return;
	}
	r->headers = SAFE_HEADERS;
	if (strcmp(req->path, "/login") == 0 && db->token[0] != '\0') {
		if (strcmp(req->method, "POST") == 0)
			route_login(db, req, r, hdrs, sizeof(hdrs));
		else if (get)
			reply_login(r, 200);
		else {
			r->allow = "GET, HEAD, POST";
			reply_text(r, 405, "Method Not Allowed",
			    "method not allowed\n");
		}
		return;
	}
	if (!get && !(strcmp(req->method, "POST") == 0 && action_of(req->path,
	    NULL))) {
		r->allow = action_of(req->path, NULL) ? "POST" : "GET, HEAD";
		reply_text(r, 405, "Method Not Allowed", "method not allowed\n");
		return;
	}
	a = asset_find(req->path);
	/* The style is public: the login form uses it. */
	if (db->token[0] != '\0' && !dashboard_authorized(req, db->token) &&
	    strcmp(req->path, "/dashboard.css") != 0) {
		if (a != NULL && strcmp(a->content_type,
		    "text/html; charset=utf-8") == 0)
			reply_login(r, 401);
		else
			reply_text(r, 401, "Unauthorized", "token required\n");
		return;
	}
	if (!get)
		route_action(db, req, r);
	else if (action_of(req->path, NULL)) {
		r->allow = "POST";
		reply_text(r, 405, "Method Not Allowed", "method not allowed\n");
	} else if (strcmp(req->path, "/api/session") == 0)
		route_session(db, r);
	else if (strcmp(req->path, "/api/events") == 0)
		route_events(db, req, r);
	else if (strncmp(req->path, "/api/", 5) == 0)
		route_api(db, req, r);
	else if (a == NULL)
		reply_text(r, 404, "Not Found", "not found\n");
	else {
		r->content_type = a->content_type;
		evbuffer_add_reference(r->body, a->data, a->len, NULL, NULL);
	}
}

/* The server's limits, from the config. */
static void
dashboard_opts(const struct dashboard *db, struct httpd_opts *o)
{
	o->max_connections = db->d->cfg->dashboard.max_connections;
	o->request_timeout_ms = db->d->cfg->dashboard.request_timeout_ms;
	o->max_head = DASHBOARD_MAX_HEAD;
	o->max_body = DASHBOARD_MAX_BODY;
	o->name = "dashboard";
	o->stream_closed = dashboard_stream_closed;
}

/* A server on addr, or NULL with err set. */
static struct httpd *
dashboard_server(struct dashboard *db, const char *addr, char *err,
    size_t errlen)
{
	struct httpd_opts	 o;
	struct httpd		*http;
	int			 fd;

	if ((fd = httpd_listen_socket("dashboard.listen", addr, err,
	    errlen)) == -1)
		return (NULL);
	dashboard_opts(db, &o);
	if ((http = httpd_new(db->d->base, fd, &o, dashboard_route, db)) == NULL)
		snprintf(err, errlen, "dashboard.listen %s: cannot start the "
		    "HTTP server", addr);
	return (http);
}

/* The token of the config into out ("" when none is asked); -1 with err. */
static int
dashboard_token(const struct dashboard *db, char *out, char *err,
    size_t errlen)
{
	const char	*path = db->d->cfg->dashboard.token_file;

	out[0] = '\0';
	if (path == NULL)
		return (0);
	return (dashboard_token_read(path, out, err, errlen));
}

/* Drop the calls waiting for Redis: their replies would go nowhere. */
static void
dashboard_drop_pending(struct dashboard *db)
{
	struct pending	*p;

	while ((p = TAILQ_FIRST(&db->pending)) != NULL) {
		TAILQ_REMOVE(&db->pending, p, entry);
		api_cancel(p->call);
		free(p);
	}
}

struct dashboard *
dashboard_new(struct deferd *d, httpd_route_cb metrics_route, void *metrics_arg,
    char *err, size_t errlen)
{
	struct dashboard	*db = xcalloc(1, sizeof(*db));
	const char		*addr = d->cfg->dashboard.listen;

	db->d = d;
	db->metrics_route = metrics_route;
	db->metrics_arg = metrics_arg;
	TAILQ_INIT(&db->pending);
	db->live = live_new(d);
	util_random_hex(db->csrf, 16);
	if (addr == NULL)
		return (db);
	if (dashboard_token(db, db->token, err, errlen) == -1 ||
	    (db->http = dashboard_server(db, addr, err, errlen)) == NULL) {
		live_free(db->live);
		free(db);
		return (NULL);
	}
	db->listen = xstrdup(addr);
	log_info("dashboard: serving on http://%s/%s%s", addr, db->token[0] !=
	    '\0' ? " (token required)" : "", config_dashboard_serves_metrics(
	    d->cfg) ? ", with /metrics and /healthz" : "");
	if (db->token[0] == '\0' && !dashboard_loopback(addr))
		log_warnx("dashboard: %s is not a loopback address and no "
		    "dashboard.token_file is set: anyone who can reach it sees "
		    "the queues", addr);
	return (db);
}

void
dashboard_reconfigure(struct dashboard *db)
{
	const char		*want = db->d->cfg->dashboard.listen;
	char			 token[DASHBOARD_TOKEN_MAX + 1], err[512];
	struct httpd		*http = NULL;
	struct httpd_opts	 o;

	if (want != NULL && dashboard_token(db, token, err, sizeof(err)) == -1) {
		log_errorx("reload: %s; the dashboard keeps its old settings",
		    err);
		return;
	}
	if (db->http != NULL) {
		dashboard_opts(db, &o);
		httpd_set_opts(db->http, &o);
	}
	if (!((want == NULL && db->listen == NULL) || (want != NULL &&
	    db->listen != NULL && strcmp(want, db->listen) == 0))) {
		if (want != NULL && (http = dashboard_server(db, want, err,
		    sizeof(err))) == NULL) {
			log_errorx("reload: %s; the dashboard still serves on %s",
			    err, db->listen != NULL ? db->listen :
			    "nothing (off)");
			return;
		}
		dashboard_drop_pending(db);
		if (db->http != NULL)
			httpd_free(db->http);
		db->http = http;
		free(db->listen);
		db->listen = want != NULL ? xstrdup(want) : NULL;
		log_info("dashboard: %s%s", want != NULL ? "now serving on " :
		    "dashboard.listen removed; stopped", want != NULL ? want : "");
	}
	if (want != NULL)
		memcpy(db->token, token, sizeof(db->token));
}

void
dashboard_free(struct dashboard *db)
{
	if (db == NULL)
		return;
	dashboard_drop_pending(db);
	if (db->http != NULL)
		httpd_free(db->http);	/* its streams leave the live view */
	live_free(db->live);
	free(db->listen);
	free(db);
}
