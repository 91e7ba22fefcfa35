/* SPDX-License-Identifier: MIT */
/* The dashboard's live view; see dashboard_live.h. */
#include <sys/queue.h>

#include <event2/event.h>

#include <stdlib.h>
#include <string.h>

#include "dashboard_live.h"
#include "deferd.h"
#include "httpd.h"
#include "log.h"
#include "rconn.h"
#include "timer.h"
#include "xmalloc.h"

#define LIVE_MAX_PENDING	(256 * 1024)	/* bytes a viewer may lag behind */
#define LIVE_IDLE_MS		10000	/* the connection outlives the last viewer */
#define LIVE_MAX_EVENT		65536	/* bytes of one event sent on */

struct viewer {
	TAILQ_ENTRY(viewer)	 entry;
	struct httpd		*http;
	uint64_t		 id;
};

struct live {
	struct deferd		*d;
	struct rconn		*rc;		/* subscribed while anyone watches */
	struct event		*idle;		/* closes rc after the last viewer */
	TAILQ_HEAD(, viewer)	 viewers;
	size_t			 nviewers;
	char			*buf;		/* one SSE message being sent */
	size_t			 cap;
};

struct live *
live_new(struct deferd *d)
{
	struct live	*l = xcalloc(1, sizeof(*l));

	l->d = d;
	TAILQ_INIT(&l->viewers);
	return (l);
}

/* The message "data: LINE\n" per line of payload, then "\n", into l->buf. */
static size_t
live_format(struct live *l, const char *payload, size_t len)
{
	size_t	n, need;

	if (len > LIVE_MAX_EVENT)
		len = LIVE_MAX_EVENT;
	need = len * 7 + 16;	/* each newline becomes "\ndata: " */
	if (need > l->cap) {
		l->cap = need;
		l->buf = xrealloc(l->buf, l->cap);
	}
	memcpy(l->buf, "data: ", 6);
	n = 6;
	for (size_t i = 0; i < len; i++) {
		if (payload[i] == '\r')
			continue;
		if (payload[i] == '\n') {	/* an SSE field is one line */
			memcpy(l->buf + n, "\ndata: ", 7);
			n += 7;
			continue;
		}
		l->buf[n++] = payload[i];
	}
	memcpy(l->buf + n, "\n\n", 2);
	return (n + 2);
}

/* An event: to every viewer; one that lags too far is dropped by httpd. */
static void
live_message(const char *channel, const char *payload, size_t len, void *arg)
{
	struct live	*l = arg;
	struct viewer	*v, *next;
	uint64_t	 id;
	size_t		 n;

	(void)channel;
	n = live_format(l, payload, len);
	TAILQ_FOREACH_SAFE(v, &l->viewers, entry, next) {
		id = v->id;	/* v is freed when httpd closes the stream */
		if (!httpd_stream(v->http, id, l->buf, n, LIVE_MAX_PENDING))
			live_remove(l, id);
	}
}

/* The connection to subscribe on: the daemon's own target (a cluster's first seed). */
static struct rconn *
live_connect(struct live *l)
{
	const struct config	*cfg = l->d->cfg;
	struct rconn_opts	 o;
	struct rconn		*rc;

	memset(&o, 0, sizeof(o));
	o.name = "live";
	o.subscriber = true;
	o.allow_eviction = true;
	o.connect_timeout_ms = cfg->redis.connect_timeout_ms;
	o.command_timeout_ms = cfg->redis.command_timeout_ms;
	rc = rconn_new(l->d->base, cfg->redis.cluster.nodes.n > 0 ?
	    &cfg->redis.cluster.nodes.v[0] : &cfg->redis.target, &o, NULL, l);
	rconn_subscribe(rc, l->d->events_chan, false, live_message, NULL, l);
	rconn_start(rc);
	return (rc);
}

/* The last viewer left a while ago: close the connection. */
static void
live_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct live	*l = arg;

	(void)fd;
	(void)what;
	if (l->nviewers > 0 || l->rc == NULL)
		return;
	rconn_free(l->rc);
	l->rc = NULL;
	log_info("dashboard: no one watches the live view; unsubscribed");
}

void
live_add(struct live *l, struct httpd *http, uint64_t id)
{
	struct viewer	*v = xcalloc(1, sizeof(*v));

	v->http = http;
	v->id = id;
	TAILQ_INSERT_TAIL(&l->viewers, v, entry);
	l->nviewers++;
	if (l->rc == NULL) {
		l->rc = live_connect(l);
		log_info("dashboard: a live viewer; subscribed to %s",
		    l->d->events_chan);
	}
}

void
live_remove(struct live *l, uint64_t id)
{
	struct viewer	*v;

	TAILQ_FOREACH(v, &l->viewers, entry)
		if (v->id == id)
			break;
	if (v == NULL)
		return;
	TAILQ_REMOVE(&l->viewers, v, entry);
	free(v);
	if (--l->nviewers > 0)
		return;
	if (l->idle == NULL)
		l->idle = evtimer_new(l->d->base, live_idle_cb, l);
	if (l->idle != NULL)
		timer_after(l->idle, LIVE_IDLE_MS);
}

void
live_clear(struct live *l)
{
	struct viewer	*v;

	while ((v = TAILQ_FIRST(&l->viewers)) != NULL) {
		TAILQ_REMOVE(&l->viewers, v, entry);
		free(v);
	}
	l->nviewers = 0;
	if (l->rc != NULL) {
		rconn_free(l->rc);
		l->rc = NULL;
	}
}

void
live_free(struct live *l)
{
	if (l == NULL)
		return;
	live_clear(l);
	if (l->idle != NULL)
		event_free(l->idle);
	free(l->buf);
	free(l);
}
