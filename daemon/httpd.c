/* SPDX-License-Identifier: MIT */
/* A small HTTP/1.x server with bounded connections; see httpd.h. */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "httpd.h"
#include "log.h"
#include "timer.h"
#include "xmalloc.h"

#define HTTPD_PAUSE_MS		1000	/* no accept() after EMFILE for this long */
#define HTTPD_LOG_MS		60000	/* repeated trouble: one line this often */
#define HTTPD_LINE_MAX		2048	/* request line */

struct hconn {
	TAILQ_ENTRY(hconn)	 entry;		/* oldest first */
	struct httpd		*h;
	struct bufferevent	*bev;
	struct event		*deadline;
	bool			 replying;	/* reply queued: close once written */
	bool			 waiting;	/* routed; the reply comes with httpd_finish */
	bool			 streaming;	/* open for httpd_stream */
	bool			 head;		/* that request was a HEAD */
	uint64_t		 id;		/* that request's */
};

struct httpd {
	struct event_base	*base;
	struct evconnlistener	*listener;
	struct event		*resume;	/* accept again after a pause */
	struct httpd_opts	 opts;
	char			*name;
	httpd_route_cb		 route;
	void			*arg;
	TAILQ_HEAD(, hconn)	 conns;
	size_t			 nconns;
	uint64_t		 next_id;	/* of the next request routed */
	struct log_limit	 accept_limit;
	struct log_limit	 evict_limit;
};

static void	hconn_free(struct hconn *);

/* The deadline of a connection passed: close it, reply or not. */
static void
hconn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	hconn_free(arg);
}

/*
 * Send the reply: status line, headers, body unless the request was a
 * HEAD (the body is moved out of r, or copied with copy); then close.
 */
static void
hconn_send(struct hconn *c, bool head, const struct httpd_reply *r, bool copy)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 len = evbuffer_get_length(r->body);

	if (r->stream)
		evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		    "Connection: close\r\n", r->status, r->reason,
		    r->content_type);
	else
		evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n", r->status,
		    r->reason, r->content_type, len);
	if (r->allow != NULL)
		evbuffer_add_printf(out, "Allow: %s\r\n", r->allow);
	if (r->headers != NULL)
		evbuffer_add(out, r->headers, strlen(r->headers));
	evbuffer_add(out, "\r\n", 2);
	if (!head && copy)
		evbuffer_add(out, evbuffer_pullup(r->body, -1), len);
	else if (!head)
		evbuffer_add_buffer(out, r->body);
	if (r->stream && !head) {
		/* Open until it closes: no deadline; reads only to see EOF. */
		c->streaming = true;
		event_del(c->deadline);
		bufferevent_enable(c->bev, EV_WRITE);
		return;
	}
	c->replying = true;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_enable(c->bev, EV_WRITE);
}

/* A reply of our own (400, 431) with a one-line text body. */
static void
hconn_error(struct hconn *c, int status, const char *reason)
{
	struct httpd_reply	r = { status, reason, "text/plain; charset=utf-8",
				    NULL, evbuffer_new(), NULL, false, false };

	if (r.body == NULL) {
		hconn_free(c);
		return;
	}
	evbuffer_add_printf(r.body, "%s\n", reason);
	hconn_send(c, false, &r, false);
	evbuffer_free(r.body);
}

/*
 * Parse "METHOD SP TARGET SP HTTP/1.x" in place and route it, with the
 * header lines that followed it and the body. Returns -1 for a malformed
 * line.
 */
static int
hconn_route(struct hconn *c, char *line, const char *headers,
    const char *body, size_t body_len)
{
	struct httpd		*h = c->h;
	struct httpd_req	 req;
	struct httpd_reply	 r = { 200, "OK", "text/plain; charset=utf-8",
				    NULL, NULL, NULL, false, false };
	char			*target, *version, *q;

	if ((target = strchr(line, ' ')) == NULL)
		return (-1);
	*target++ = '\0';
	if ((version = strchr(target, ' ')) == NULL)
		return (-1);
	*version++ = '\0';
	if (strncmp(version, "HTTP/1.", 7) != 0 || *line == '\0' ||
	    *target != '/')
		return (-1);
	req.query = "";
	if ((q = strchr(target, '?')) != NULL) {
		*q = '\0';
		req.query = q + 1;
	}
	req.method = line;
	req.path = target;
	req.head = strcmp(line, "HEAD") == 0;
	req.headers = headers;
	req.body = body;
	req.body_len = body_len;
	req.id = ++h->next_id;
	if ((r.body = evbuffer_new()) == NULL)
		return (-1);
	h->route(&req, &r, h->arg);
	c->id = req.id;
	if (r.deferred) {
		c->waiting = true;
		c->head = req.head;
		bufferevent_disable(c->bev, EV_READ);
	} else
		hconn_send(c, req.head, &r, false);
	evbuffer_free(r.body);
	return (0);
}

bool
httpd_header(const struct httpd_req *req, const char *name, char *buf,
    size_t len)
{
	size_t		 nl = strlen(name), vl;
	const char	*p = req->headers, *v, *end;

	while (p != NULL && *p != '\0') {
		end = p + strcspn(p, "\r\n");
		if ((size_t)(end - p) > nl && p[nl] == ':' &&
		    strncasecmp(p, name, nl) == 0) {
			for (v = p + nl + 1; v < end && (*v == ' ' || *v == '\t');
			    v++)
				;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			if ((vl = (size_t)(end - v)) >= len)
				return (false);
			memcpy(buf, v, vl);
			buf[vl] = '\0';
			return (true);
		}
		p = end + strspn(end, "\r\n");
	}
	return (false);
}

bool
httpd_stream(struct httpd *h, uint64_t id, const void *data, size_t len,
    size_t max_pending)
{
	struct hconn	*c;
	struct evbuffer	*out;

	TAILQ_FOREACH(c, &h->conns, entry)
		if (c->streaming && c->id == id)
			break;
	if (c == NULL)
		return (false);
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) + len > max_pending) {
		log_limited(&h->evict_limit, HTTPD_LOG_MS, LOG_LEVEL_WARNING,
		    "%s: a stream's client is too slow (%zu bytes waiting); "
		    "closing it", h->name, evbuffer_get_length(out));
		hconn_free(c);
		return (false);
	}
	evbuffer_add(out, data, len);
	return (true);
}

bool
httpd_finish(struct httpd *h, uint64_t id, const struct httpd_reply *r)
{
	struct hconn	*c;

	TAILQ_FOREACH(c, &h->conns, entry)
		if (c->waiting && c->id == id) {
			c->waiting = false;
			hconn_send(c, c->head, r, true);
			return (true);
		}
	return (false);
}

/*
 * The body length a POST head announces: 0 for other methods or none;
 * -1 when it is malformed or past max_body (then status says which).
 */
static long long
hconn_body_length(const struct hconn *c, const char *head, int *status)
{
	struct httpd_req	 req;
	char			 v[32], *end;
	long long		 n;

	if (strncmp(head, "POST ", 5) != 0)
		return (0);
	memset(&req, 0, sizeof(req));
	req.headers = head;
	if (!httpd_header(&req, "Content-Length", v, sizeof(v)))
		return (0);
	n = strtoll(v, &end, 10);
	*status = 400;
	if (end == v || *end != '\0' || n < 0)
		return (-1);
	*status = 413;
	if ((size_t)n > c->h->opts.max_body)
		return (-1);
	return (n);
}

/* Input: wait for the whole head (a blank line) and a POST's body, then answer. */
static void
hconn_read_cb(struct bufferevent *bev, void *arg)
{
	struct hconn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer_ptr end;
	char		*head, *line, *body = NULL;
	size_t		 n, term = 4;
	long long	 blen;
	int		 status = 400;

	if (c->streaming)		/* a stream's client has nothing to say */
		evbuffer_drain(in, evbuffer_get_length(in));
	if (c->replying || c->waiting || c->streaming)
		return;
	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1) {
		end = evbuffer_search(in, "\n\n", 2, NULL);
		term = 2;
	}
	if (end.pos == -1) {
		if (evbuffer_get_length(in) > c->h->opts.max_head)
			hconn_error(c, 431, "Request Header Fields Too Large");
		return;
	}
	if ((size_t)end.pos > c->h->opts.max_head) {
		hconn_error(c, 431, "Request Header Fields Too Large");
		return;
	}
	head = xmalloc((size_t)end.pos + 1);
	evbuffer_copyout(in, head, (size_t)end.pos);
	head[end.pos] = '\0';
	if ((blen = hconn_body_length(c, head, &status)) == -1) {
		free(head);
		hconn_error(c, status, status == 413 ? "Payload Too Large" :
		    "Bad Request");
		return;
	}
	if (evbuffer_get_length(in) < (size_t)end.pos + term + (size_t)blen) {
		free(head);	/* the body is not all here yet */
		return;
	}
	evbuffer_drain(in, (size_t)end.pos + term);
	body = xmalloc((size_t)blen + 1);
	evbuffer_remove(in, body, (size_t)blen);
	body[blen] = '\0';
	n = strcspn(head, "\r\n");	/* the request line; headers follow */
	line = head;
	if (head[n] != '\0')
		head[n++] = '\0';
	if (strlen(line) > HTTPD_LINE_MAX ||
	    hconn_route(c, line, head + n, body, (size_t)blen) == -1)
		hconn_error(c, 400, "Bad Request");
	free(head);
	free(body);
}

/* Output: once the reply is written, close. */
static void
hconn_write_cb(struct bufferevent *bev, void *arg)
{
	struct hconn	*c = arg;

	if (c->replying && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		hconn_free(c);
}

/* EOF or an error: close. */
static void
hconn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		hconn_free(arg);
}

static void
hconn_free(struct hconn *c)
{
	if (c->streaming && c->h->opts.stream_closed != NULL)
		c->h->opts.stream_closed(c->id, c->h->arg);
	TAILQ_REMOVE(&c->h->conns, c, entry);
	c->h->nconns--;
	event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* A new connection: make room (close the oldest) and start its clock. */
static void
httpd_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct httpd	*h = arg;
	struct hconn	*c;

	(void)l;
	(void)sa;
	(void)salen;
	while (h->nconns > 0 && h->nconns >= (size_t)h->opts.max_connections) {
		log_limited(&h->evict_limit, HTTPD_LOG_MS, LOG_LEVEL_WARNING,
		    "%s: %d connections open (max_connections); closing the "
		    "oldest", h->name, h->opts.max_connections);
		hconn_free(TAILQ_FIRST(&h->conns));
	}
	c = xcalloc(1, sizeof(*c));
	c->h = h;
	c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(h->base, hconn_deadline_cb, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->deadline != NULL)
			event_free(c->deadline);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&h->conns, c, entry);
	h->nconns++;
	bufferevent_setcb(c->bev, hconn_read_cb, hconn_write_cb, hconn_event_cb,
	    c);
	bufferevent_enable(c->bev, EV_READ);
	timer_after(c->deadline, h->opts.request_timeout_ms);
}

/*
 * accept() failed. Out of descriptors or memory: pause the listener for a
 * while (the socket stays readable, so going on would spin) and say so at
 * most once a minute.
 */
static void
httpd_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct httpd	*h = arg;
	int		 e = EVUTIL_SOCKET_ERROR();

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		evconnlistener_disable(l);
		timer_after(h->resume, HTTPD_PAUSE_MS);
		log_limited(&h->accept_limit, HTTPD_LOG_MS, LOG_LEVEL_ERROR,
		    "%s: cannot accept connections: %s; pausing for %dms",
		    h->name, strerror(e), HTTPD_PAUSE_MS);
		return;
	}
	log_limited(&h->accept_limit, HTTPD_LOG_MS, LOG_LEVEL_WARNING,
	    "%s: accept: %s", h->name, strerror(e));
}

/* The pause is over: accept again. */
static void
httpd_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd	*h = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(h->listener);
}

struct httpd *
httpd_new(struct event_base *base, int fd, const struct httpd_opts *opts,
    httpd_route_cb route, void *arg)
{
	struct httpd	*h = xcalloc(1, sizeof(*h));

	h->base = base;
	h->route = route;
	h->arg = arg;
	TAILQ_INIT(&h->conns);
	h->name = xstrdup(opts->name != NULL ? opts->name : "http");
	httpd_set_opts(h, opts);
	h->resume = evtimer_new(base, httpd_resume_cb, h);
	h->listener = evconnlistener_new(base, httpd_accept_cb, h,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (h->listener == NULL || h->resume == NULL) {
		if (h->listener == NULL)
			close(fd);
		httpd_free(h);
		return (NULL);
	}
	evconnlistener_set_error_cb(h->listener, httpd_accept_error_cb);
	return (h);
}

void
httpd_set_opts(struct httpd *h, const struct httpd_opts *opts)
{
	const char	*name = h->name;

	h->opts = *opts;
	h->opts.name = name;
	if (h->opts.max_connections < 1)
		h->opts.max_connections = 1;
}

void
httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	while (!TAILQ_EMPTY(&h->conns))
		hconn_free(TAILQ_FIRST(&h->conns));
	if (h->listener != NULL)
		evconnlistener_free(h->listener);
	if (h->resume != NULL)
		event_free(h->resume);
	free(h->name);
	free(h);
}

/*
 * A listening socket for "host:port" / "[v6]:port", non-blocking and
 * close-on-exec. Returns the fd, or -1 with err set.
 */
int
httpd_listen_socket(const char *what, const char *addr, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res = NULL;
	const char	*colon = strrchr(addr, ':');
	char		 host[256];
	int		 fd = -1, one = 1, rc;
	size_t		 hl;

	if (colon == NULL || (hl = (size_t)(colon - addr)) >= sizeof(host)) {
		snprintf(err, errlen, "%s %s: expected host:port", what, addr);
		return (-1);
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s %s: %s", what, addr,
		    gai_strerror(rc));
		return (-1);
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    res->ai_protocol);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 || bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, 128) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, addr,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return (fd);
}
