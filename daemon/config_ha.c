/* SPDX-License-Identifier: MIT */
/*
 * redis.sentinel: in the configuration file, {master, nodes, username,
 * password_file}, and redis.cluster: {nodes}. Each node is "host[:port]"
 * (port 26379 for a sentinel, 6379 for a cluster node by default),
 * resolved at load like the host of redis.url. Errors name the field at
 * file:line:column.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_ha.h"
#include "redisurl.h"
#include "xmalloc.h"

#define SENTINEL_PORT		26379
#define CLUSTER_PORT		6379
#define NODES_MAX		64
#define WHAT_NODES		"a list of nodes as host:port"

static int	parse_sentinel(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	parse_nodes(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	check_sentinel(struct cs_ctx *, const struct cy_node *, void *);
static int	parse_cluster(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	check_cluster(struct cs_ctx *, const struct cy_node *, void *);

const struct cs_type config_t_sentinel = { parse_sentinel, cs_init_none };
const struct cs_type config_t_cluster = { parse_cluster, cs_init_none };
static const struct cs_type t_nodes = { parse_nodes, cs_init_none };

#define C(m)	offsetof(struct config, m)

static const struct cs_key sentinel_keys[] = {
	{ .name = "master", .type = &cs_t_str, .off = C(redis.sentinel.master) },
	{ .name = "nodes", .type = &t_nodes, .off = C(redis.sentinel.nodes),
	  .def = SENTINEL_PORT },
	{ .name = "username", .type = &cs_t_optstr,
	  .off = C(redis.sentinel.username) },
	{ .name = "password_file", .type = &cs_t_path,
	  .off = C(redis.sentinel.password_file) },
	{ .name = NULL }
};

static const struct cs_section sentinel_section = { sentinel_keys,
    check_sentinel };

static const struct cs_key cluster_keys[] = {
	{ .name = "nodes", .type = &t_nodes, .off = C(redis.cluster.nodes),
	  .def = CLUSTER_PORT },
	{ .name = NULL }
};

static const struct cs_section cluster_section = { cluster_keys,
    check_cluster };

/* redis.sentinel: a mapping, or null for none. */
static int
parse_sentinel(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	(void)k;
	if (cy_is_null(n))
		return (0);
	return (cs_walk_map(ctx, &sentinel_section, n, dst));
}

/* One item of nodes: host[:port] (port by default), resolved. */
static int
node_item(struct cs_ctx *ctx, const struct cy_node *n, int port,
    struct redis_target *t)
{
	const char	*s;
	char		 msg[256];

	if ((s = cs_scalar(ctx, n, "host:port")) == NULL)
		return (-1);
	if (redisurl_parse_node(s, port, t, msg, sizeof(msg)) == -1)
		return (cs_key_error(ctx, n, "%s", msg));
	return (0);
}

/* nodes: at least one host:port, into a struct redis_nodes. */
static int
parse_nodes(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	struct redis_nodes	*nodes = dst;

	if (!cy_is_null(n) && n->type != CY_SEQ)
		return (cs_type_error(ctx, n, WHAT_NODES));
	if (cy_is_null(n) || n->nitems == 0)
		return (cs_key_error(ctx, n, "must name at least one node "
		    "(host:port)"));
	if (n->nitems > NODES_MAX)
		return (cs_key_error(ctx, n, "at most %d nodes", NODES_MAX));
	nodes->v = xcalloc(n->nitems, sizeof(*nodes->v));
	for (size_t i = 0; i < n->nitems; i++) {
		size_t	len = cs_path_push_index(ctx, i);
		int	rc = node_item(ctx, n->items[i], (int)k->def,
			    &nodes->v[i]);

		cs_path_pop(ctx, len);
		if (rc == -1)
			return (-1);
		nodes->n++;
	}
	return (0);
}

/* redis.cluster: a mapping, or null for none. */
static int
parse_cluster(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	(void)k;
	if (cy_is_null(n))
		return (0);
	return (cs_walk_map(ctx, &cluster_section, n, dst));
}

/* The nodes are needed. */
static int
check_cluster(struct cs_ctx *ctx, const struct cy_node *n, void *base)
{
	struct config	*c = base;

	if (c->redis.cluster.nodes.n == 0)
		return (cs_key_error(ctx, n, "nodes is required (" WHAT_NODES
		    ")"));
	return (0);
}

/* Both master and nodes are needed. */
static int
check_sentinel(struct cs_ctx *ctx, const struct cy_node *n, void *base)
{
	struct config	*c = base;

	if (c->redis.sentinel.master == NULL)
		return (cs_key_error(ctx, n, "master is required (the name the "
		    "sentinels monitor)"));
	if (c->redis.sentinel.nodes.n == 0)
		return (cs_key_error(ctx, n, "nodes is required (" WHAT_NODES
		    ")"));
	return (0);
}

/* Whether two node lists are the same, in the same order. */
static bool
same_nodes(const struct redis_nodes *a, const struct redis_nodes *b)
{
	if (a->n != b->n)
		return (false);
	for (size_t i = 0; i < a->n; i++)
		if (!redisurl_same(&a->v[i], &b->v[i]))
			return (false);
	return (true);
}

bool
config_same_cluster(const struct config *a, const struct config *b)
{
	return (same_nodes(&a->redis.cluster.nodes, &b->redis.cluster.nodes));
}

bool
config_same_sentinel(const struct config *a, const struct config *b)
{
	if (a->redis.sentinel.master == NULL || b->redis.sentinel.master == NULL)
		return (a->redis.sentinel.master == b->redis.sentinel.master);
	if (strcmp(a->redis.sentinel.master, b->redis.sentinel.master) != 0)
		return (false);
	return (same_nodes(&a->redis.sentinel.nodes, &b->redis.sentinel.nodes));
}

/* Free a node list. */
static void
free_nodes(struct redis_nodes *nodes)
{
	for (size_t i = 0; i < nodes->n; i++)
		redisurl_clear(&nodes->v[i]);
	free(nodes->v);
	nodes->v = NULL;
	nodes->n = 0;
}

void
config_ha_free(struct config *c)
{
	free_nodes(&c->redis.cluster.nodes);
	free_nodes(&c->redis.sentinel.nodes);
	free(c->redis.sentinel.master);
	free(c->redis.sentinel.username);
	free(c->redis.sentinel.password_file);
	memset(&c->redis.sentinel, 0, sizeof(c->redis.sentinel));
}
