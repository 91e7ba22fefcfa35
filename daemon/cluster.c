/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster routing. The nodes are kept by address; the seeds start
 * as nodes and the map adds the masters it names. Each call keeps a copy
 * of its arguments until its reply, so that a redirect can send it again:
 * straight away when the node it goes to is connected, else it waits
 * (parked, retried every RETRY_MS) until that node is, or gives up after
 * RETRY_MAX tries and is answered NULL, like a call on a lost connection.
 */
#include <sys/queue.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "fences.h"
#include "keyslot.h"
#include "log.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define REDIRECT_MAX	16	/* MOVED/ASK/TRYAGAIN for one call */
#define RETRY_MS	50	/* a parked call is tried again after this */
#define RETRY_MAX	100	/* tries before a parked call is given up */

struct cnode {
	struct cluster	*cl;
	char		*host;
	int		 port;
	struct rconn	*rc;
	bool		 master;	/* the map names it */
};

/* One call in flight or parked, with what it takes to send it again. */
struct ccmd {
	struct cluster	*cl;
	TAILQ_ENTRY(ccmd) entry;	/* on the parked list */
	TAILQ_ENTRY(ccmd) live_entry;	/* on the live list until answered */
	uint64_t	 seq;
	rconn_reply_cb	 cb;
	void		*priv;
	int		 script;	/* enum script_id, or -1: a command */
	int		 nkeys;
	int		 argc;
	char		**argv;
	size_t		*lens;
	unsigned	 slot;
	int		 sent_to;	/* node index it was last sent to */
	int		 ask;		/* node index for one ASK, or -1 */
	int		 redirects;
	int		 tries;
};

struct cluster {
	struct event_base	*base;
	struct rconn_opts	 opts;
	struct redis_target	 tmpl;		/* credentials for every node */
	struct cluster_cbs	 cbs;
	struct cnode		**nodes;
	size_t			 nnodes;
	int16_t			 slots[KEYSLOT_COUNT];	/* node index, -1: none */
	bool			 started;
	bool			 ready;
	bool			 ever_ready;
	bool			 refresh_wanted;
	bool			 refreshing;
	struct event		*refresh_ev;
	struct event		*retry_ev;
	TAILQ_HEAD(, ccmd)	 parked;
	TAILQ_HEAD(, ccmd)	 live;		/* made, not answered; oldest first */
	uint64_t		 next_seq;
	struct fences		 fences;
	struct event		*fence_ev;
};

static void	cluster_check_ready(struct cluster *);
static void	cluster_node_event(struct rconn *, enum rconn_event, void *);
static void	ccmd_send(struct ccmd *);

/* The index of the node at host:port, made (and started) if new. */
static int
cluster_node(struct cluster *cl, const char *host, int port)
{
	struct cnode		*n;
	struct redis_target	 t;
	char			 name[32];

	for (size_t i = 0; i < cl->nnodes; i++)
		if (cl->nodes[i]->port == port &&
		    strcmp(cl->nodes[i]->host, host) == 0)
			return ((int)i);
	n = xcalloc(1, sizeof(*n));
	n->cl = cl;
	n->host = xstrdup(host);
	n->port = port;
	redisurl_copy(&t, &cl->tmpl);
	free(t.host);
	t.host = xstrdup(host);
	t.port = port;
	snprintf(name, sizeof(name), "node%zu", cl->nnodes);
	cl->opts.name = name;
	n->rc = rconn_new(cl->base, &t, &cl->opts, cluster_node_event, n);
	cl->opts.name = NULL;
	redisurl_clear(&t);
	cl->nodes = xreallocarray(cl->nodes, cl->nnodes + 1, sizeof(*cl->nodes));
	cl->nodes[cl->nnodes] = n;
	if (cl->started)
		rconn_start(n->rc);
	return ((int)cl->nnodes++);
}

/* One entry of CLUSTER SLOTS: [start, end, [host, port, id...], replicas...]. */
static int
cluster_slots_entry(struct cluster *cl, const redisReply *e, const char *asked,
    int16_t *slots)
{
	const redisReply	*m;
	long long		 start, end;
	const char		*host;
	int			 idx;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
	    e->element[0]->type != REDIS_REPLY_INTEGER ||
	    e->element[1]->type != REDIS_REPLY_INTEGER ||
	    (m = e->element[2])->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
	    m->element[0]->type != REDIS_REPLY_STRING ||
	    m->element[1]->type != REDIS_REPLY_INTEGER)
		return (-1);
	start = e->element[0]->integer;
	end = e->element[1]->integer;
	if (start < 0 || end >= KEYSLOT_COUNT || start > end ||
	    m->element[1]->integer < 1 || m->element[1]->integer > 65535)
		return (-1);
	/* An empty or unknown endpoint means the node that answered. */
	host = m->element[0]->len == 0 || strcmp(m->element[0]->str, "?") == 0 ?
	    asked : m->element[0]->str;
	idx = cluster_node(cl, host, (int)m->element[1]->integer);
	cl->nodes[idx]->master = true;
	for (long long s = start; s <= end; s++)
		slots[s] = (int16_t)idx;
	return (0);
}

/* Which nodes are masters now (an array of nnodes flags; the caller frees). */
static bool *
cluster_master_flags(const struct cluster *cl)
{
	bool	*was = xcalloc(cl->nnodes + 1, sizeof(*was));

	for (size_t i = 0; i < cl->nnodes; i++)
		was[i] = cl->nodes[i]->master;
	return (was);
}

/* Whether the masters differ from was (taken with nwas nodes; a node keeps its index). */
static bool
cluster_masters_changed(const struct cluster *cl, const bool *was, size_t nwas)
{
	for (size_t i = 0; i < cl->nnodes; i++)
		if (cl->nodes[i]->master != (i < nwas && was[i]))
			return (true);
	return (false);
}

/* Reply to CLUSTER SLOTS: the new map, unless it is garbage. */
static void
cluster_slots_reply(redisReply *r, void *priv)
{
	struct cnode	*asked = priv;
	struct cluster	*cl = asked->cl;
	int16_t		*slots;
	bool		*was;
	size_t		 nwas;
	char		 why[300];

	cl->refreshing = false;
	if (r == NULL)
		return;
	if (r->type != REDIS_REPLY_ARRAY) {
		snprintf(why, sizeof(why), "CLUSTER SLOTS on %s:%d: %.200s",
		    asked->host, asked->port, r->type == REDIS_REPLY_ERROR ?
		    r->str : "not a list");
		if (!cl->ever_ready && r->type == REDIS_REPLY_ERROR &&
		    strstr(r->str, "cluster support disabled") != NULL &&
		    cl->cbs.refused != NULL) {
			cl->cbs.refused(why, cl->cbs.arg);
			return;
		}
		log_warnx("cluster: %s", why);
		return;
	}
	was = cluster_master_flags(cl);
	nwas = cl->nnodes;
	slots = xcalloc(KEYSLOT_COUNT, sizeof(*slots));
	for (size_t s = 0; s < KEYSLOT_COUNT; s++)
		slots[s] = -1;
	for (size_t i = 0; i < cl->nnodes; i++)
		cl->nodes[i]->master = false;
	for (size_t i = 0; i < r->elements; i++)
		if (cluster_slots_entry(cl, r->element[i], asked->host,
		    slots) == -1)
			log_warnx("cluster: CLUSTER SLOTS on %s:%d: entry %zu "
			    "not understood", asked->host, asked->port, i);
	memcpy(cl->slots, slots, sizeof(cl->slots));
	free(slots);
	if (cluster_masters_changed(cl, was, nwas) && cl->cbs.masters != NULL)
		cl->cbs.masters(cl->cbs.arg);
	free(was);
	cluster_check_ready(cl);
}

/* Send CLUSTER SLOTS to a connected node, if a refresh is wanted. */
static void
cluster_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster	*cl = arg;

	(void)fd;
	(void)what;
	if (!cl->refresh_wanted || cl->refreshing)
		return;
	for (size_t i = 0; i < cl->nnodes; i++) {
		struct cnode *n = cl->nodes[i];

		if (!rconn_ready(n->rc))
			continue;
		if (rconn_command(n->rc, cluster_slots_reply, n, 2,
		    (const char *[]){ "CLUSTER", "SLOTS" }, NULL) == 0) {
			cl->refresh_wanted = false;
			cl->refreshing = true;
		}
		return;
	}
}

void
cluster_refresh(struct cluster *cl)
{
	cl->refresh_wanted = true;
	timer_after(cl->refresh_ev, 0);
}

/* Whether every slot has a master whose connection is ready. */
static bool
cluster_covered(const struct cluster *cl)
{
	for (size_t s = 0; s < KEYSLOT_COUNT; s++)
		if (cl->slots[s] < 0 || !rconn_ready(cl->nodes[cl->slots[s]]->rc))
			return (false);
	return (true);
}

/* Tell the owner when the cluster became usable or stopped being so. */
static void
cluster_check_ready(struct cluster *cl)
{
	bool	ready = cluster_covered(cl);

	if (ready == cl->ready)
		return;
	cl->ready = ready;
	cl->ever_ready |= ready;
	if (ready) {
		log_info("cluster: %zu master(s) serve all %d slots",
		    cluster_masters(cl), KEYSLOT_COUNT);
		timer_after(cl->retry_ev, 0);
		if (cl->cbs.up != NULL)
			cl->cbs.up(cl->cbs.arg);
	} else if (cl->cbs.down != NULL)
		cl->cbs.down(cl->cbs.arg);
}

/* A node's connection came up, went down or failed: the map may have changed. */
static void
cluster_node_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	struct cnode	*n = arg;

	(void)rc;
	if (ev == RCONN_DOWN || ev == RCONN_FAILED)
		cluster_refresh(n->cl);
	else if (ev == RCONN_UP && n->cl->refresh_wanted)
		timer_after(n->cl->refresh_ev, 0);
	if (ev == RCONN_UP)
		timer_after(n->cl->retry_ev, 0);
	cluster_check_ready(n->cl);
}

/* Free a call and its copies. */
static void
ccmd_free(struct ccmd *cmd)
{
	util_free_args(cmd->argc, cmd->argv, cmd->lens);
	free(cmd);
}

/* Answer the caller (reply may be NULL) and free the call. */
static void
ccmd_done(struct ccmd *cmd, redisReply *reply)
{
	struct cluster	*cl = cmd->cl;

	TAILQ_REMOVE(&cl->live, cmd, live_entry);
	if (cl->fences.n > 0)
		timer_after(cl->fence_ev, 0);
	cmd->cb(reply, cmd->priv);
	ccmd_free(cmd);
}

/* The number of the oldest unanswered call, UINT64_MAX for none. */
static uint64_t
cluster_oldest_seq(void *arg)
{
	struct cluster	*cl = arg;
	struct ccmd	*oldest = TAILQ_FIRST(&cl->live);

	return (oldest != NULL ? oldest->seq : UINT64_MAX);
}

/* Zero-delay event: run the fences no older call holds back. */
static void
cluster_fence_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster	*cl = arg;

	(void)fd;
	(void)what;
	fences_run(&cl->fences, cluster_oldest_seq, cl);
}

void
cluster_fence(struct cluster *cl, void (*cb)(void *), void *arg)
{
	fences_add(&cl->fences, cl->next_seq, cb, arg);
	timer_after(cl->fence_ev, 0);
}

/*
 * "MOVED 3999 127.0.0.1:6381" or "ASK ...": the slot and node, or -1. An
 * empty host (":6381", an unknown endpoint) is the host of from, the node
 * that answered.
 */
static int
cluster_redirect_node(struct cluster *cl, const char *text, int from,
    unsigned *slot)
{
	const char	*sp = strchr(text, ' '), *colon;
	char		 host[256], *end;
	long		 s, port;

	if (sp == NULL)
		return (-1);
	s = strtol(sp + 1, &end, 10);
	if (end == sp + 1 || *end != ' ' || s < 0 || s >= KEYSLOT_COUNT ||
	    (colon = strrchr(end + 1, ':')) == NULL ||
	    (size_t)(colon - (end + 1)) >= sizeof(host))
		return (-1);
	port = strtol(colon + 1, NULL, 10);
	if (port < 1 || port > 65535)
		return (-1);
	memcpy(host, end + 1, (size_t)(colon - (end + 1)));
	host[colon - (end + 1)] = '\0';
	*slot = (unsigned)s;
	return (cluster_node(cl, host[0] != '\0' ? host : cl->nodes[from]->host,
	    (int)port));
}

/* The reply of a routed call: a redirect is followed, anything else answered. */
static void
ccmd_reply(redisReply *reply, void *priv)
{
	struct ccmd	*cmd = priv;
	struct cluster	*cl = cmd->cl;
	unsigned	 slot;
	int		 idx;

	cmd->ask = -1;
	if (reply == NULL || reply->type != REDIS_REPLY_ERROR ||
	    cmd->redirects >= REDIRECT_MAX) {
		ccmd_done(cmd, reply);
		return;
	}
	if (strncmp(reply->str, "MOVED ", 6) == 0 &&
	    (idx = cluster_redirect_node(cl, reply->str, cmd->sent_to, &slot)) >= 0) {
		cl->slots[slot] = (int16_t)idx;
		cluster_refresh(cl);
	} else if (strncmp(reply->str, "ASK ", 4) == 0 &&
	    (idx = cluster_redirect_node(cl, reply->str, cmd->sent_to, &slot)) >= 0)
		cmd->ask = idx;
	else if (strncmp(reply->str, "TRYAGAIN", 8) != 0) {
		ccmd_done(cmd, reply);
		return;
	}
	cmd->redirects++;
	if (strncmp(reply->str, "TRYAGAIN", 8) == 0) {
		TAILQ_INSERT_TAIL(&cl->parked, cmd, entry);
		timer_after(cl->retry_ev, RETRY_MS);
	} else
		ccmd_send(cmd);
}

/* ASKING needs no answer: the call after it gets the one that matters. */
static void
ccmd_asking_reply(redisReply *reply, void *priv)
{
	(void)reply;
	(void)priv;
}

/* Send cmd to its node: the ASK target, else the slot's master. -1: not connected. */
static int
ccmd_try(struct ccmd *cmd)
{
	struct cluster	*cl = cmd->cl;
	int		 idx = cmd->ask >= 0 ? cmd->ask : cl->slots[cmd->slot];
	struct rconn	*rc;

	if (idx < 0 || !rconn_ready(rc = cl->nodes[idx]->rc))
		return (-1);
	cmd->sent_to = idx;
	if (cmd->ask >= 0 && rconn_command(rc, ccmd_asking_reply, NULL, 1,
	    (const char *[]){ "ASKING" }, NULL) == -1)
		return (-1);
	if (cmd->script >= 0)
		return (rconn_script(rc, (enum script_id)cmd->script, ccmd_reply,
		    cmd, cmd->nkeys, cmd->argc, (const char **)cmd->argv,
		    cmd->lens));
	return (rconn_command(rc, ccmd_reply, cmd, cmd->argc,
	    (const char **)cmd->argv, cmd->lens));
}

/* Send cmd again after a redirect, or park it until its node is connected. */
static void
ccmd_send(struct ccmd *cmd)
{
	if (ccmd_try(cmd) == 0)
		return;
	TAILQ_INSERT_TAIL(&cmd->cl->parked, cmd, entry);
	timer_after(cmd->cl->retry_ev, RETRY_MS);
}

/* Try the parked calls again; give up those that waited too long. */
static void
cluster_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster	*cl = arg;
	struct ccmd	*cmd;
	TAILQ_HEAD(, ccmd) now;

	(void)fd;
	(void)what;
	TAILQ_INIT(&now);
	TAILQ_CONCAT(&now, &cl->parked, entry);
	while ((cmd = TAILQ_FIRST(&now)) != NULL) {
		TAILQ_REMOVE(&now, cmd, entry);
		if (ccmd_try(cmd) == 0)
			continue;
		if (++cmd->tries >= RETRY_MAX)
			ccmd_done(cmd, NULL);
		else
			TAILQ_INSERT_TAIL(&cl->parked, cmd, entry);
	}
	if (!TAILQ_EMPTY(&cl->parked))
		timer_after(cl->retry_ev, RETRY_MS);
}

/* A new call routed by the slot of key (len bytes), arguments copied. */
static struct ccmd *
ccmd_new(struct cluster *cl, const char *key, size_t keylen, int script,
    rconn_reply_cb cb, void *priv, int nkeys, int argc, const char **argv,
    const size_t *lens)
{
	struct ccmd	*cmd = xcalloc(1, sizeof(*cmd));

	cmd->cl = cl;
	cmd->cb = cb;
	cmd->priv = priv;
	cmd->script = script;
	cmd->nkeys = nkeys;
	cmd->argc = argc;
	util_copy_args(argc, argv, lens, &cmd->argv, &cmd->lens);
	cmd->slot = keyslot(key, keylen);
	cmd->ask = -1;
	return (cmd);
}

/* A call that was sent: unanswered until ccmd_done. */
static void
ccmd_live(struct ccmd *cmd)
{
	cmd->seq = cmd->cl->next_seq++;
	TAILQ_INSERT_TAIL(&cmd->cl->live, cmd, live_entry);
}

/*
 * Make a call routed by the slot of key (keylen bytes; script -1: a
 * command) and send it: 0, or -1 when that slot's master is not connected.
 */
static int
cluster_send(struct cluster *cl, const char *key, size_t keylen, int script,
    rconn_reply_cb cb, void *priv, int nkeys, int argc, const char **argv,
    const size_t *lens)
{
	struct ccmd	*cmd = ccmd_new(cl, key, keylen, script, cb, priv, nkeys,
			    argc, argv, lens);

	if (ccmd_try(cmd) == -1) {
		ccmd_free(cmd);
		return (-1);
	}
	ccmd_live(cmd);
	return (0);
}

int
cluster_script(struct cluster *cl, enum script_id id, rconn_reply_cb cb,
    void *priv, int nkeys, int argc, const char **argv, const size_t *lens)
{
	if (nkeys < 1 || argc < 1)
		return (-1);
	return (cluster_send(cl, argv[0], lens != NULL ? lens[0] :
	    strlen(argv[0]), (int)id, cb, priv, nkeys, argc, argv, lens));
}

int
cluster_command(struct cluster *cl, const char *key, rconn_reply_cb cb,
    void *priv, int argc, const char **argv, const size_t *lens)
{
	return (cluster_send(cl, key, strlen(key), -1, cb, priv, 0, argc, argv,
	    lens));
}

/* The router's functions: the routed rconn's calls go through the cluster. */
static bool
cluster_router_ready(void *arg)
{
	return (cluster_ready(arg));
}

static int
cluster_router_script(void *arg, enum script_id id, rconn_reply_cb cb,
    void *priv, int nkeys, int argc, const char **argv, const size_t *lens)
{
	return (cluster_script(arg, id, cb, priv, nkeys, argc, argv, lens));
}

/* A command by its key, argv[1] (a lone command word goes by its own slot). */
static int
cluster_router_command(void *arg, rconn_reply_cb cb, void *priv, int argc,
    const char **argv, const size_t *lens)
{
	int	k = argc > 1 ? 1 : 0;

	return (cluster_send(arg, argv[k], lens != NULL ? lens[k] :
	    strlen(argv[k]), -1, cb, priv, 0, argc, argv, lens));
}

static void
cluster_router_fence(void *arg, void (*cb)(void *), void *cbarg)
{
	cluster_fence(arg, cb, cbarg);
}

void
cluster_router(struct cluster *cl, struct rconn_router *r)
{
	r->ready = cluster_router_ready;
	r->script = cluster_router_script;
	r->command = cluster_router_command;
	r->fence = cluster_router_fence;
	r->arg = cl;
}

struct cluster *
cluster_new(struct event_base *base, const struct redis_target *seeds,
    size_t nseeds, const struct rconn_opts *opts, const struct cluster_cbs *cbs)
{
	struct cluster	*cl = xcalloc(1, sizeof(*cl));

	cl->base = base;
	cl->opts = *opts;
	cl->cbs = *cbs;
	redisurl_copy(&cl->tmpl, &seeds[0]);
	cl->tmpl.db = 0;		/* a cluster has database 0 only */
	for (size_t s = 0; s < KEYSLOT_COUNT; s++)
		cl->slots[s] = -1;
	TAILQ_INIT(&cl->parked);
	TAILQ_INIT(&cl->live);
	cl->refresh_ev = evtimer_new(base, cluster_refresh_cb, cl);
	cl->retry_ev = evtimer_new(base, cluster_retry_cb, cl);
	cl->fence_ev = evtimer_new(base, cluster_fence_cb, cl);
	if (cl->refresh_ev == NULL || cl->retry_ev == NULL ||
	    cl->fence_ev == NULL)
		fatalx("cluster: cannot create timers");
	for (size_t i = 0; i < nseeds; i++)
		cluster_node(cl, seeds[i].host, seeds[i].port);
	return (cl);
}

void
cluster_start(struct cluster *cl)
{
	cl->started = true;
	cl->refresh_wanted = true;
	for (size_t i = 0; i < cl->nnodes; i++)
		rconn_start(cl->nodes[i]->rc);
}

bool
cluster_ready(const struct cluster *cl)
{
	return (cl->ready);
}

size_t
cluster_masters(const struct cluster *cl)
{
	size_t	n = 0;

	for (size_t i = 0; i < cl->nnodes; i++)
		n += cl->nodes[i]->master;
	return (n);
}

/* The node of master i, or NULL. */
static struct cnode *
cluster_nth_master(const struct cluster *cl, size_t i)
{
	for (size_t n = 0; n < cl->nnodes; n++)
		if (cl->nodes[n]->master && i-- == 0)
			return (cl->nodes[n]);
	return (NULL);
}

bool
cluster_master(const struct cluster *cl, size_t i, struct redis_target *t)
{
	const struct cnode	*n = cluster_nth_master(cl, i);

	if (n == NULL)
		return (false);
	redisurl_copy(t, &cl->tmpl);
	free(t->host);
	t->host = xstrdup(n->host);
	t->port = n->port;
	return (true);
}

int
cluster_command_master(struct cluster *cl, size_t i, rconn_reply_cb cb,
    void *priv, int argc, const char **argv, const size_t *lens)
{
	struct cnode	*n = cluster_nth_master(cl, i);

	if (n == NULL)
		return (-1);
	return (rconn_command(n->rc, cb, priv, argc, argv, lens));
}

void
cluster_free(struct cluster *cl)
{
	struct ccmd	*cmd;

	if (cl == NULL)
		return;
	while ((cmd = TAILQ_FIRST(&cl->parked)) != NULL) {
		TAILQ_REMOVE(&cl->parked, cmd, entry);
		ccmd_done(cmd, NULL);
	}
	for (size_t i = 0; i < cl->nnodes; i++) {
		rconn_free(cl->nodes[i]->rc);	/* calls in flight get NULL */
		free(cl->nodes[i]->host);
		free(cl->nodes[i]);
	}
	free(cl->nodes);
	event_free(cl->refresh_ev);
	event_free(cl->retry_ev);
	event_free(cl->fence_ev);
	fences_free(&cl->fences);	/* never run: their owners are going too */
	redisurl_clear(&cl->tmpl);
	free(cl);
}
