/* SPDX-License-Identifier: MIT */
/*
 * Finding the master through Redis Sentinel. One question at a time goes to
 * the current sentinel; a sentinel that cannot be reached in time, fails,
 * or does not know the name sends us to the next one. The watch connection
 * to the same sentinel hears +switch-master as soon as a failover ends, and
 * each time its subscription is (re)confirmed we ask again, for news missed
 * while it was away.
 */
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rconn.h"
#include "sentinel.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define SENTINEL_GRACE_MS	2000	/* beyond connect_timeout, for an answer */
#define SWITCH_CHANNEL		"+switch-master"

struct sentinel {
	struct event_base	*base;
	char			*name;		/* the monitored master's name */
	struct redis_target	*nodes;
	size_t			 nnodes;
	size_t			 cur;		/* the node asked now */
	int64_t			 answer_ms;	/* how long cur has to answer */
	struct sentinel_cbs	 cbs;

	struct rconn		*query;		/* SENTINEL get-master-addr-by-name */
	struct rconn		*watch;		/* SUBSCRIBE +switch-master */
	struct event		*ask_ev;	/* zero delay: send the question */
	struct event		*give_up_ev;	/* cur did not answer in time */
	bool			 wanted;	/* a question is due */
	bool			 asking;	/* one is in flight */
	bool			 found;		/* a master was ever found */
	size_t			 unknown;	/* nodes in a row that knew no such name */
	char			*host;		/* the master, or NULL */
	int			 port;
};

static void	sentinel_next_node(struct sentinel *, const char *why);

/* Where node i is, for logs. */
static const char *
sentinel_desc(const struct sentinel *s, char *buf, size_t len)
{
	const struct redis_target *t = &s->nodes[s->cur];

	snprintf(buf, len, strchr(t->host, ':') != NULL ? "[%s]:%d" : "%s:%d",
	    t->host, t->port);
	return (buf);
}

/* A master was named: remember it and tell the owner if it is news. */
static void
sentinel_found(struct sentinel *s, const char *host, int port, const char *how)
{
	char	where[300];

	s->found = true;
	s->unknown = 0;
	if (s->host != NULL && strcmp(s->host, host) == 0 && s->port == port)
		return;
	free(s->host);
	s->host = xstrdup(host);
	s->port = port;
	log_info("sentinel %s: master '%s' is at %s:%d (%s)",
	    sentinel_desc(s, where, sizeof(where)), s->name, host, port, how);
	s->cbs.master(host, port, s->cbs.arg);
}

/* A port as the sentinels write it, or -1. */
static int
sentinel_port(const char *text)
{
	char	*end;
	long	 v = strtol(text, &end, 10);

	if (end == text || *end != '\0' || v < 1 || v > 65535)
		return (-1);
	return ((int)v);
}

/* Reply to SENTINEL get-master-addr-by-name. */
static void
sentinel_answer(redisReply *r, void *priv)
{
	struct sentinel	*s = priv;
	char		 where[300], why[600];
	int		 port;

	s->asking = false;
	sentinel_desc(s, where, sizeof(where));
	if (r == NULL)
		return;		/* lost: the question is asked again on RCONN_UP */
	evtimer_del(s->give_up_ev);
	if (r->type == REDIS_REPLY_NIL) {
		snprintf(why, sizeof(why), "sentinel %s monitors no master named "
		    "'%s'", where, s->name);
		log_errorx("%s", why);
		if (!s->found && ++s->unknown >= s->nnodes) {
			s->cbs.unknown(why, s->cbs.arg);
			return;
		}
		sentinel_next_node(s, "it knows no such master");
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    (port = sentinel_port(r->element[1]->str)) == -1) {
		log_warnx("sentinel %s: unexpected answer to SENTINEL "
		    "get-master-addr-by-name%s%.200s", where,
		    r->type == REDIS_REPLY_ERROR ? ": " : "",
		    r->type == REDIS_REPLY_ERROR ? r->str : "");
		sentinel_next_node(s, "it did not answer as a sentinel");
		return;
	}
	s->wanted = false;
	sentinel_found(s, r->element[0]->str, port, "asked");
}

/* Send the question if one is due and none is in flight. */
static void
sentinel_ask_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sentinel	*s = arg;

	(void)fd;
	(void)what;
	if (!s->wanted || s->asking || !rconn_ready(s->query))
		return;
	if (rconn_command(s->query, sentinel_answer, s, 3, (const char *[]){
	    "SENTINEL", "get-master-addr-by-name", s->name }, NULL) == 0)
		s->asking = true;
}

/* No answer from the current node in time: try the next one. */
static void
sentinel_give_up_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sentinel	*s = arg;

	(void)fd;
	(void)what;
	sentinel_next_node(s, "no answer in time");
}

/* Leave the current node (why is logged) for the next, and ask it. */
static void
sentinel_next_node(struct sentinel *s, const char *why)
{
	char	where[300];

	log_debug("sentinel %s: %s", sentinel_desc(s, where, sizeof(where)), why);
	if (s->nnodes > 1) {
		s->cur = (s->cur + 1) % s->nnodes;
		s->asking = false;
		rconn_set_target(s->query, &s->nodes[s->cur]);
		rconn_set_target(s->watch, &s->nodes[s->cur]);
	}
	s->wanted = true;
	timer_after(s->give_up_ev, s->answer_ms);
	timer_after(s->ask_ev, 0);
}

void
sentinel_ask(struct sentinel *s, const char *why)
{
	if (s->wanted)
		return;
	log_debug("sentinel: asking for master '%s' again: %s", s->name, why);
	s->wanted = true;
	timer_after(s->give_up_ev, s->answer_ms);
	timer_after(s->ask_ev, 0);
}

/* The question connection is up: ask if a question is due; it failed: the next node. */
static void
sentinel_query_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	struct sentinel	*s = arg;

	(void)rc;
	if (ev == RCONN_UP)
		timer_after(s->ask_ev, 0);
	else if (ev == RCONN_FAILED)
		sentinel_next_node(s, "cannot connect");
}

/* "+switch-master NAME OLDIP OLDPORT NEWIP NEWPORT": follow it. */
static void
sentinel_switch_cb(const char *channel, const char *payload, size_t len,
    void *priv)
{
	struct sentinel	*s = priv;
	char		*text = xmemdup(payload, len + 1), *save = NULL;
	char		*word[5];
	int		 n = 0, port;

	(void)channel;
	text[len] = '\0';
	for (char *w = strtok_r(text, " ", &save); w != NULL && n < 5;
	    w = strtok_r(NULL, " ", &save))
		word[n++] = w;
	if (n == 5 && strcmp(word[0], s->name) == 0 &&
	    (port = sentinel_port(word[4])) != -1)
		sentinel_found(s, word[3], port, "failover");
	free(text);
}

/* The watch subscription is (again) in place: ask for what it missed. */
static void
sentinel_watching_cb(void *priv)
{
	sentinel_ask(priv, "watching for failovers");
}

struct sentinel *
sentinel_new(struct event_base *base, const char *name,
    const struct redis_target *nodes, size_t nnodes, int64_t connect_timeout_ms,
    int64_t command_timeout_ms, const struct sentinel_cbs *cbs)
{
	struct sentinel		*s = xcalloc(1, sizeof(*s));
	struct rconn_opts	 o;

	s->base = base;
	s->name = xstrdup(name);
	s->nodes = xcalloc(nnodes, sizeof(*s->nodes));
	for (size_t i = 0; i < nnodes; i++)
		redisurl_copy(&s->nodes[i], &nodes[i]);
	s->nnodes = nnodes;
	s->cbs = *cbs;
	s->answer_ms = connect_timeout_ms + SENTINEL_GRACE_MS;
	memset(&o, 0, sizeof(o));
	o.connect_timeout_ms = connect_timeout_ms;
	o.command_timeout_ms = command_timeout_ms;
	o.name = "sentinel";
	s->query = rconn_new(base, &s->nodes[0], &o, sentinel_query_event, s);
	o.name = "sentinel-watch";
	o.subscriber = true;
	s->watch = rconn_new(base, &s->nodes[0], &o, NULL, s);
	rconn_subscribe(s->watch, SWITCH_CHANNEL, false, sentinel_switch_cb,
	    sentinel_watching_cb, s);
	s->ask_ev = evtimer_new(base, sentinel_ask_cb, s);
	s->give_up_ev = evtimer_new(base, sentinel_give_up_cb, s);
	if (s->ask_ev == NULL || s->give_up_ev == NULL)
		fatalx("sentinel: cannot create timers");
	return (s);
}

void
sentinel_start(struct sentinel *s)
{
	s->wanted = true;
	timer_after(s->give_up_ev, s->answer_ms);
	rconn_start(s->query);
	rconn_start(s->watch);
}

void
sentinel_free(struct sentinel *s)
{
	if (s == NULL)
		return;
	rconn_free(s->query);	/* a question in flight is answered NULL */
	rconn_free(s->watch);
	event_free(s->ask_ev);
	event_free(s->give_up_ev);
	for (size_t i = 0; i < s->nnodes; i++)
		redisurl_clear(&s->nodes[i]);
	free(s->nodes);
	free(s->name);
	free(s->host);
	free(s);
}
