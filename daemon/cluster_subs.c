/* SPDX-License-Identifier: MIT */
/* A subscriber connection on every master of a cluster; see cluster_subs.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_subs.h"
#include "log.h"
#include "subs.h"
#include "xmalloc.h"

struct csub_node {
	struct cluster_subs	*cs;
	struct redis_target	 t;
	struct rconn		*rc;
};

struct csub_observer {
	cluster_subs_event_cb	 cb;
	void			*arg;
};

struct cluster_subs {
	struct event_base	 *base;
	struct rconn_opts	  opts;
	struct subs		 *router;
	struct csub_node	**nodes;
	size_t			  nnodes;
	unsigned		  made;		/* connections made: their names */
	bool			  up;		/* as last told */
	struct csub_observer	 *observers;
	size_t			  nobservers;
};

bool
cluster_subs_ready(const struct cluster_subs *cs)
{
	if (cs->nnodes == 0)
		return (false);
	for (size_t i = 0; i < cs->nnodes; i++)
		if (!rconn_ready(cs->nodes[i]->rc))
			return (false);
	return (true);
}

/* Tell the observers when the whole went up or down. */
static void
cluster_subs_check(struct cluster_subs *cs)
{
	bool	up = cluster_subs_ready(cs);

	if (up == cs->up)
		return;
	cs->up = up;
	for (size_t i = 0; i < cs->nobservers; i++)
		cs->observers[i].cb(up ? RCONN_UP : RCONN_DOWN,
		    cs->observers[i].arg);
}

/* A master's subscriber connection came up or went down. */
static void
cluster_subs_node_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	struct csub_node	*n = arg;

	(void)rc;
	if (ev == RCONN_UP || ev == RCONN_DOWN || ev == RCONN_FAILED)
		cluster_subs_check(n->cs);
}

struct cluster_subs *
cluster_subs_new(struct event_base *base, const struct rconn_opts *opts)
{
	struct cluster_subs	*cs = xcalloc(1, sizeof(*cs));

	cs->base = base;
	cs->opts = *opts;
	cs->opts.name = NULL;
	cs->router = subs_new(NULL);
	return (cs);
}

struct subs *
cluster_subs_router(struct cluster_subs *cs)
{
	return (cs->router);
}

void
cluster_subs_observe(struct cluster_subs *cs, cluster_subs_event_cb cb,
    void *arg)
{
	cs->observers = xreallocarray(cs->observers, cs->nobservers + 1,
	    sizeof(*cs->observers));
	cs->observers[cs->nobservers].cb = cb;
	cs->observers[cs->nobservers++].arg = arg;
}

/* Close and free a node's connection, after the router forgot it. */
static void
csub_node_free(struct cluster_subs *cs, struct csub_node *n)
{
	subs_detach(cs->router, n->rc);
	rconn_free(n->rc);
	redisurl_clear(&n->t);
	free(n);
}

/* A connection to master t, subscribed to all the router has. */
static struct csub_node *
csub_node_new(struct cluster_subs *cs, const struct redis_target *t)
{
	struct csub_node	*n = xcalloc(1, sizeof(*n));
	struct rconn_opts	 o = cs->opts;
	char			 name[32];

	n->cs = cs;
	redisurl_copy(&n->t, t);
	snprintf(name, sizeof(name), "keys%u", cs->made++);
	o.name = name;
	n->rc = rconn_new(cs->base, &n->t, &o, cluster_subs_node_event, n);
	subs_attach(cs->router, n->rc);
	rconn_start(n->rc);
	log_info("cluster: a key-event subscriber on %s:%d", t->host, t->port);
	return (n);
}

void
cluster_subs_set(struct cluster_subs *cs, const struct redis_target *masters,
    size_t n)
{
	size_t	kept = 0;

	for (size_t i = 0; i < cs->nnodes; i++) {
		if (redisurl_listed(&cs->nodes[i]->t, masters, n))
			cs->nodes[kept++] = cs->nodes[i];
		else
			csub_node_free(cs, cs->nodes[i]);
	}
	cs->nnodes = kept;
	for (size_t i = 0; i < n; i++) {
		bool	have = false;

		for (size_t j = 0; j < kept && !have; j++)
			have = redisurl_same(&cs->nodes[j]->t, &masters[i]);
		if (have)
			continue;
		cs->nodes = xreallocarray(cs->nodes, cs->nnodes + 1,
		    sizeof(*cs->nodes));
		cs->nodes[cs->nnodes++] = csub_node_new(cs, &masters[i]);
	}
	cluster_subs_check(cs);
}

void
cluster_subs_free(struct cluster_subs *cs)
{
	if (cs == NULL)
		return;
	for (size_t i = 0; i < cs->nnodes; i++)
		csub_node_free(cs, cs->nodes[i]);
	free(cs->nodes);
	subs_free(cs->router);
	free(cs->observers);
	free(cs);
}
