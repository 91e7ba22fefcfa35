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
 *   - the request head is capped (431 past it), and a body is read only
 *     for POST, with a Content-Length, up to max_body (413 past it);
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
	const char	*query;		/* after '?', "" when none */
	bool		 head;		/* HEAD: the reply goes without its body */
	const char	*headers;	/* the header lines, as sent */
	const char	*body;		/* POST: its body (Content-Length), NUL-terminated */
	size_t		 body_len;
	uint64_t	 id;		/* names the request to httpd_finish */
};

/*
 * The reply the route callback fills in; httpd owns body. A route that
 * needs Redis's answer first sets deferred and answers later with
 * httpd_finish (the connection's request_timeout still runs).
 */
struct httpd_reply {
	int		 status;	/* 200 unless set */
	const char	*reason;	/* "OK" unless set */
	const char	*content_type;	/* text/plain unless set */
	const char	*allow;		/* an Allow header, or NULL */
	struct evbuffer	*body;
	const char	*headers;	/* more header lines ("Name: v\r\n"...), or NULL */
	bool		 deferred;	/* the answer comes with httpd_finish */
	bool		 stream;	/* the head and body go now, the connection
					   stays for httpd_stream (no length, no
					   request_timeout) until it closes */
};

typedef void	(*httpd_route_cb)(const struct httpd_req *,
		    struct httpd_reply *, void *arg);

struct httpd_opts {
	/* A stream (httpd_reply.stream) closed: by the client, by
	   max_connections, or by httpd_stream; may be NULL. */
	void		(*stream_closed)(uint64_t id, void *arg);
	int		 max_connections;
	int64_t		 request_timeout_ms;
	size_t		 max_head;	/* bytes of request line and headers */
	size_t		 max_body;	/* of a POST (Content-Length; 413 past it); 0: none */
	const char	*name;		/* for log lines: "metrics" */
};

/*
 * Serve the listening socket fd (ownership passes here) on base, calling
 * route for every request. Returns NULL (fd closed) if the listener cannot
 * be made.
 */
struct httpd	*httpd_new(struct event_base *, int fd, const struct httpd_opts *,
		    httpd_route_cb route, void *arg);
/*
 * The value of header name (case-insensitive) of req into buf (NUL-
 * terminated, surrounding blanks removed); false when absent or longer
 * than buf.
 */
bool		 httpd_header(const struct httpd_req *, const char *name,
		    char *buf, size_t len);
/*
 * Send the deferred reply of request id (its body is copied), if its
 * connection is still open; false when it is gone (closed by the client,
 * its timeout or max_connections), which is no error.
 */
bool		 httpd_finish(struct httpd *, uint64_t id,
		    const struct httpd_reply *);
/*
 * A listening socket for "host:port" / "[v6]:port", non-blocking and
 * close-on-exec. Returns the fd, or -1 with err set (what names the
 * setting in it: "metrics.listen").
 */
int		 httpd_listen_socket(const char *what, const char *addr,
		    char *err, size_t errlen);
/*
 * Append data to stream id. Past max_pending bytes not yet taken by the
 * client, the client is too slow: the connection is closed (and
 * stream_closed called). Returns false when the stream is gone.
 */
bool		 httpd_stream(struct httpd *, uint64_t id, const void *data,
		    size_t len, size_t max_pending);
/* New limits for connections accepted from now on (reload). */
void		 httpd_set_opts(struct httpd *, const struct httpd_opts *);
/* Close every connection and the socket; NULL is a no-op. */
void		 httpd_free(struct httpd *);

#endif
