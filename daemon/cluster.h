/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster for the daemon: one rconn per master, the slot map from
 * CLUSTER SLOTS, and every command or script sent to the master that owns
 * the slot of its first key. A MOVED reply updates the map (and refreshes
 * it) and sends the call again where it now belongs; an ASK reply sends it
 * once to the importing node after ASKING; TRYAGAIN (a slot halfway
 * through a migration) sends it again shortly. The map is read again when
 * a master's connection is lost. Callers see one reply per call, as with
 * rconn.
 */
#ifndef DEFERD_CLUSTER_H
#define DEFERD_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "rconn.h"
#include "redisurl.h"
#include "scripts.h"

struct event_base;
struct cluster;

struct cluster_cbs {
	/* Every slot has a master and every master is connected (again). */
	void	(*up)(void *arg);
	/* Not any more: calls may fail until up is called again. */
	void	(*down)(void *arg);
	/* A seed is not in cluster mode, before the cluster was ever up. */
	void	(*refused)(const char *why, void *arg);
	/* The map names other masters than before (cluster_master lists them). */
	void	(*masters)(void *arg);
	void	*arg;
};

/*
 * A cluster found through seeds[0..nseeds) (copied; credentials from
 * them); each master's connection is made with opts (copied; its name
 * becomes "node0", "node1", ...). Idle until cluster_start.
 */
struct cluster	*cluster_new(struct event_base *, const struct redis_target *seeds,
		    size_t nseeds, const struct rconn_opts *opts,
		    const struct cluster_cbs *);
void		 cluster_start(struct cluster *);
/* Every slot has a master with a ready connection. */
bool		 cluster_ready(const struct cluster *);
/*
 * Run a script (nkeys >= 1; routed by its first key) or a command routed
 * by key. As rconn_script and rconn_command: 0 when sent (cb is then
 * called exactly once, NULL if the call was lost), -1 when the master of
 * that slot is not connected (cb is not called).
 */
int		 cluster_script(struct cluster *, enum script_id, rconn_reply_cb cb,
		    void *priv, int nkeys, int argc, const char **argv,
		    const size_t *lens);
int		 cluster_command(struct cluster *, const char *key, rconn_reply_cb cb,
		    void *priv, int argc, const char **argv, const size_t *lens);
/*
 * Call cb(arg) from the loop once every call made before has been
 * answered (as rconn_fence).
 */
void		 cluster_fence(struct cluster *, void (*cb)(void *), void *arg);
/*
 * Fill r so that a routed rconn (rconn_new_routed) sends through cl:
 * scripts by their first key, commands by argv[1].
 */
void		 cluster_router(struct cluster *, struct rconn_router *r);
/* Read the slot map again (soon, once). */
void		 cluster_refresh(struct cluster *);
/* How many masters the map names now. */
size_t		 cluster_masters(const struct cluster *);
/*
 * The address of master i (0 <= i < cluster_masters) with the seeds'
 * credentials, into t (the caller clears it); false past the last one.
 */
bool		 cluster_master(const struct cluster *, size_t i,
		    struct redis_target *t);
/*
 * A command on master i itself, for what each node answers for itself
 * (CONFIG, SCAN); no redirect is followed. As rconn_command: -1 when that
 * master is not connected or there is no such master.
 */
int		 cluster_command_master(struct cluster *, size_t i,
		    rconn_reply_cb cb, void *priv, int argc, const char **argv,
		    const size_t *lens);
/* Close every connection and free; pending callbacks get NULL. */
void		 cluster_free(struct cluster *);

#endif
