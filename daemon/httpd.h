/* SPDX-License-Identifier: MIT */
/*
 * A small HTTP/1.x server on the daemon's loop (httpd.c), for /metrics,
 * /healthz and what comes later: one request per connection, closed after
 * the reply. It exists because libevent 2.1's evhttp can neither cap its
 * connections nor bound a whole request in time, and a client that holds
 * a thousand connections, or trickles a byte every few seconds, must not
 * take the descriptors that handlers and Redis need:
 *   - at most max_connections at once; a new one past it closes the
 *     oldest (so a scraper still gets in while idle clients pile up);
 *   - each connection lives at most request_timeout, request and reply;
 *   - the request head is capped (431 past it), a body is never read;
 *   - when accept() fails for lack of descriptors or memory the listener
 *     pauses for a second instead of spinning, and says so at most once
 *     a minute, with the count.
 */
#ifndef DEFERD_HTTPD_H
#define DEFERD_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct httpd;

/* A parsed request, borrowed by the route callback. */
struct httpd_req {
	const char	*method;	/* "GET", as sent */
	const char	*path;		/* without the query string */
	bool		 head;		/* HEAD: the reply goes without its body */
};

/* The reply the route callback fills in; httpd owns body. */
struct httpd_reply {
	int		 status;	/* 200 unless set */
	const char	*reason;	/* "OK" unless set */
	const char	*content_type;	/* text/plain unless set */
	const char	*allow;		/* an Allow header, or NULL */
	struct evbuffer	*body;
};

typedef void	(*httpd_route_cb)(const struct httpd_req *,
		    struct httpd_reply *, void *arg);

struct httpd_opts {
	int		 max_connections;
	int64_t		 request_timeout_ms;
	size_t		 max_head;	/* bytes of request line and headers */
	const char	*name;		/* for log lines: "metrics" */
};

/*
 * Serve the listening socket fd (ownership passes here) on base, calling
 * route for every request. Returns NULL (fd closed) if the listener cannot
 * be made.
 */
struct httpd	*httpd_new(struct event_base *, int fd, const struct httpd_opts *,
		    httpd_route_cb route, void *arg);
/* New limits for connections accepted from now on (reload). */
void		 httpd_set_opts(struct httpd *, const struct httpd_opts *);
/* Close every connection and the socket; NULL is a no-op. */
void		 httpd_free(struct httpd *);

#endif
