/* SPDX-License-Identifier: MIT */
/*
 * redis.sentinel: in the configuration file, {master, nodes, username,
 * password_file}. Each node is "host[:port]" (port 26379 by default),
 * resolved at load like the host of redis.url. Errors name the field at
 * file:line:column.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_sentinel.h"
#include "redisurl.h"
#include "xmalloc.h"

#define SENTINEL_PORT		26379
#define SENTINEL_NODES_MAX	64
#define WHAT_NODES		"a list of sentinels as host:port"

static int	parse_sentinel(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	parse_nodes(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	check_sentinel(struct cs_ctx *, const struct cy_node *, void *);

const struct cs_type config_t_sentinel = { parse_sentinel, cs_init_none };
static const struct cs_type t_nodes = { parse_nodes, cs_init_none };

#define C(m)	offsetof(struct config, m)

static const struct cs_key sentinel_keys[] = {
	{ .name = "master", .type = &cs_t_str, .off = C(redis.sentinel.master) },
	{ .name = "nodes", .type = &t_nodes },
	{ .name = "username", .type = &cs_t_optstr,
	  .off = C(redis.sentinel.username) },
	{ .name = "password_file", .type = &cs_t_path,
	  .off = C(redis.sentinel.password_file) },
	{ .name = NULL }
};

static const struct cs_section sentinel_section = { sentinel_keys,
    check_sentinel };

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

/* One item of nodes: host[:port], resolved. */
static int
node_item(struct cs_ctx *ctx, const struct cy_node *n, struct redis_target *t)
{
	const char	*s;
	char		 msg[256];

	if ((s = cs_scalar(ctx, n, "host:port")) == NULL)
		return (-1);
	if (redisurl_parse_node(s, SENTINEL_PORT, t, msg, sizeof(msg)) == -1)
		return (cs_key_error(ctx, n, "%s", msg));
	return (0);
}

/* redis.sentinel.nodes: at least one sentinel. */
static int
parse_nodes(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	struct config	*c = dst;

	(void)k;
	if (!cy_is_null(n) && n->type != CY_SEQ)
		return (cs_type_error(ctx, n, WHAT_NODES));
	if (cy_is_null(n) || n->nitems == 0)
		return (cs_key_error(ctx, n, "must name at least one sentinel "
		    "(host:port)"));
	if (n->nitems > SENTINEL_NODES_MAX)
		return (cs_key_error(ctx, n, "at most %d sentinels",
		    SENTINEL_NODES_MAX));
	c->redis.sentinel.nodes = xcalloc(n->nitems,
	    sizeof(*c->redis.sentinel.nodes));
	for (size_t i = 0; i < n->nitems; i++) {
		size_t	len = cs_path_push_index(ctx, i);
		int	rc = node_item(ctx, n->items[i],
			    &c->redis.sentinel.nodes[i]);

		cs_path_pop(ctx, len);
		if (rc == -1)
			return (-1);
		c->redis.sentinel.nnodes++;
	}
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
	if (c->redis.sentinel.nnodes == 0)
		return (cs_key_error(ctx, n, "nodes is required (" WHAT_NODES
		    ")"));
	return (0);
}

bool
config_same_sentinel(const struct config *a, const struct config *b)
{
	if (a->redis.sentinel.master == NULL || b->redis.sentinel.master == NULL)
		return (a->redis.sentinel.master == b->redis.sentinel.master);
	if (strcmp(a->redis.sentinel.master, b->redis.sentinel.master) != 0 ||
	    a->redis.sentinel.nnodes != b->redis.sentinel.nnodes)
		return (false);
	for (size_t i = 0; i < a->redis.sentinel.nnodes; i++)
		if (!redisurl_same(&a->redis.sentinel.nodes[i],
		    &b->redis.sentinel.nodes[i]))
			return (false);
	return (true);
}

void
config_sentinel_free(struct config *c)
{
	for (size_t i = 0; i < c->redis.sentinel.nnodes; i++)
		redisurl_clear(&c->redis.sentinel.nodes[i]);
	free(c->redis.sentinel.nodes);
	free(c->redis.sentinel.master);
	free(c->redis.sentinel.username);
	free(c->redis.sentinel.password_file);
	memset(&c->redis.sentinel, 0, sizeof(c->redis.sentinel));
}
