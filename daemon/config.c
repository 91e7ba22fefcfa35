/* SPDX-License-Identifier: MIT */
/*
 * The configuration file (deferd.yaml(5)): deferd's schema and the public
 * config_* API. config_yaml.c turns the file into a node tree (anchors and
 * aliases refused, depth capped, one document); the tables here give each
 * key its type, bounds, default and place in struct config, and
 * config_schema.c walks the tree against them, so that every key is parsed,
 * range-checked and reported the same way: "FILE:LINE:COLUMN: message" with
 * 1-based positions. This file also holds the list and mapping keys
 * (queues, environment, overrides, rules, sources; schedules are in
 * config_schedules.c) and the cross-key rules
 * (queues named by rules and sources, the Redis URL with username and
 * password file) that run once the whole file is read. It never logs and
 * never applies a config; callers do that.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_schedules.h"
#include "config_ha.h"
#include "config_schema.h"
#include "config_yaml.h"
#include "glob.h"
#include "keyslot.h"
#include "template.h"
#include "trust.h"
#include "units.h"
#include "util.h"
#include "xmalloc.h"

#define CONFIG_MAX_FILE		(4 << 20)	/* bytes */

#define SEC	INT64_C(1000)
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)
#define KIB	INT64_C(1024)
#define MIB	(1024 * KIB)

/*
 * Upper bounds of the long durations. Every bound in the tables stays
 * at or below CONFIG_SCRIPT_INT_MAX, the largest integer the Lua scripts
 * take as an argument, so that a value `deferd -n` accepts never makes a
 * script refuse its call (config_unbounded_key checks the tables).
 */
#define TIMEOUT_MAX	(30 * DAY)	/* handlers.timeout and overrides */
#define TTL_MAX		(3650 * DAY)	/* results.ttl, dead.ttl: ten years */

#define WHAT_ENVNAME	"a variable name matching [A-Za-z_][A-Za-z0-9_]*"
#define KINDS		"zset, list, channel or pattern"

_Static_assert(sizeof(enum conflict_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum missing_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_format) == sizeof(int), "enum size");

struct kind {
	enum source_kind	kind;
	bool			is_pattern;
};

static void	 init_queues(const struct cs_key *, void *);

#define PASSWORD_MAX	1024	/* bytes of redis.password_file's first line */

static int	 queue_item(struct cs_ctx *, const struct cy_node *);
static int	 parse_queues(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static bool	 valid_env_name(const char *);
static int	 env_item(struct cs_ctx *, const struct cy_node *,
		    const struct cy_node *);
static int	 parse_env(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 override_item(struct cs_ctx *, const struct cy_node *,
		    const struct cy_node *);
static int	 parse_overrides(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_rules(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_sources(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_kind(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);

static int	 check_retry(struct cs_ctx *, const struct cy_node *, void *);
static int	 check_handlers(struct cs_ctx *, const struct cy_node *, void *);
static int	 check_rule(struct cs_ctx *, const struct cy_node *, void *);
static int	 check_source(struct cs_ctx *, const struct cy_node *, void *);
static int	 check_queue_ref(struct cs_ctx *, const struct cy_node *,
		    const char *, size_t, const char *);
static int	 check_queue_refs(struct cs_ctx *);
static int	 read_password(struct cs_ctx *, const struct cy_node *,
		    const char *, const char *, char **);
static int	 finish_redis(struct cs_ctx *);
static int	 check_root(struct cs_ctx *, const struct cy_node *, void *);
static int	 read_file(FILE *, char **, size_t *);

static const struct cs_type T_QUEUES = { parse_queues, init_queues };
static const struct cs_type T_ENV = { parse_env, cs_init_none };
static const struct cs_type T_OVERRIDES = { parse_overrides, cs_init_none };
static const struct cs_type T_RULES = { parse_rules, cs_init_none };
static const struct cs_type T_SOURCES = { parse_sources, cs_init_none };
static const struct cs_type T_KIND = { parse_kind, cs_init_none };

static const struct cs_word conflict_words[] = {
	{ "requeue", CONFLICT_REQUEUE }, { "wait", CONFLICT_WAIT },
	{ "fail", CONFLICT_FAIL }, { NULL, 0 }
};
static const struct cs_word missing_words[] = {
	{ "wait", MISSING_WAIT }, { "bury", MISSING_BURY }, { NULL, 0 }
};
static const struct cs_word order_words[] = {
	{ "weighted", QUEUES_WEIGHTED }, { "strict", QUEUES_STRICT },
	{ NULL, 0 }
};
static const struct cs_word mode_words[] = {
	{ "exec", HANDLER_EXEC }, { "persistent", HANDLER_PERSISTENT },
	{ NULL, 0 }
};
static const struct cs_word format_words[] = {
	{ "text", LOG_FORMAT_TEXT }, { "json", LOG_FORMAT_JSON }, { NULL, 0 }
};
static const struct cs_word score_words[] = {
	{ "s", 1000 }, { "ms", 1 }, { NULL, 0 }
};

static const struct kind kind_zset = { SOURCE_ZSET, false };
static const struct kind kind_list = { SOURCE_LIST, false };
static const struct kind kind_channel = { SOURCE_CHANNEL, false };
static const struct kind kind_pattern = { SOURCE_CHANNEL, true };

#define C(m)	offsetof(struct config, m)
#define O(m)	offsetof(struct handler_override, m)
#define R(m)	offsetof(struct expiration_rule, m)
#define S(m)	offsetof(struct source, m)

static const struct cs_key redis_keys[] = {
	{ .name = "url", .type = &cs_t_str, .off = C(redis.url),
	  .def_str = "redis://127.0.0.1:6379/0" },
	{ .name = "username", .type = &cs_t_optstr, .off = C(redis.target.username) },
	{ .name = "password_file", .type = &cs_t_path, .off = C(redis.password_file) },
	{ .name = "connect_timeout", .type = &cs_t_duration,
	  .off = C(redis.connect_timeout_ms), .min = 1, .max = HOUR, .def = 2 * SEC },
	{ .name = "command_timeout", .type = &cs_t_duration,
	  .off = C(redis.command_timeout_ms), .min = 1, .max = HOUR, .def = 10 * SEC },
	{ .name = "allow_eviction", .type = &cs_t_bool, .off = C(redis.allow_eviction) },
	{ .name = "wait_replicas", .type = &cs_t_int, .off = C(redis.wait_replicas),
	  .max = 100 },
	{ .name = "wait_timeout", .type = &cs_t_duration,
	  .off = C(redis.wait_timeout_ms), .min = 1, .max = HOUR, .def = SEC },
	{ .name = "sentinel", .type = &config_t_sentinel },
	{ .name = "cluster", .type = &config_t_cluster },
	{ .name = NULL }
};

static const struct cs_key retry_keys[] = {
	{ .name = "max_attempts", .type = &cs_t_int, .off = C(retry.max_attempts),
	  .min = 1, .max = 1000, .def = 5 },
	{ .name = "backoff", .type = &cs_t_duration, .off = C(retry.backoff_ms),
	  .max = 30 * DAY, .def = SEC },
	{ .name = "backoff_max", .type = &cs_t_duration, .off = C(retry.backoff_max_ms),
	  .max = 30 * DAY, .def = 10 * MIN },
	{ .name = NULL }
};

static const struct cs_key results_keys[] = {
	{ .name = "ttl", .type = &cs_t_duration, .off = C(results.ttl_ms),
	  .max = TTL_MAX, .def = HOUR },
	{ .name = "history", .type = &cs_t_int64, .off = C(results.history),
	  .max = 1000000, .def = 1000 },
	{ .name = NULL }
};

static const struct cs_key dead_keys[] = {
	{ .name = "max_jobs", .type = &cs_t_int64, .off = C(dead.max_jobs),
	  .max = 1000000000, .def = 10000 },
	{ .name = "ttl", .type = &cs_t_duration, .off = C(dead.ttl_ms),
	  .max = TTL_MAX, .def = 30 * DAY },
	{ .name = NULL }
};

static const struct cs_key override_keys[] = {
	{ .name = "timeout", .type = &cs_t_duration, .off = O(timeout_ms),
	  .min = 1, .max = TIMEOUT_MAX, .def = -1 },
	{ .name = "max_concurrency", .type = &cs_t_int, .off = O(max_concurrency),
	  .min = 1, .max = 10000 },
	{ .name = "max_attempts", .type = &cs_t_int, .off = O(max_attempts),
	  .min = 1, .max = 1000 },
	{ .name = "on_conflict", .type = &cs_t_enum, .off = O(on_conflict),
	  .def = CONFLICT_INHERIT, .aux = conflict_words },
	{ .name = "mode", .type = &cs_t_enum, .off = O(mode),
	  .def = HANDLER_EXEC, .aux = mode_words },
	{ .name = "processes", .type = &cs_t_int, .off = O(processes),
	  .min = 1, .max = HANDLER_PROCESSES_MAX, .def = 1 },
	{ .name = "inflight", .type = &cs_t_int, .off = O(inflight),
	  .min = 1, .max = HANDLER_INFLIGHT_MAX, .def = 1 },
	{ .name = "rate", .type = &cs_t_rate, .off = O(rate) },
	{ .name = NULL }
};

static const struct cs_key handlers_keys[] = {
	{ .name = "dir", .type = &cs_t_path, .off = C(handlers.dir),
	  .def_str = "/etc/deferd/handlers.d" },
	{ .name = "workdir", .type = &cs_t_path, .off = C(handlers.workdir) },
	{ .name = "timeout", .type = &cs_t_duration, .off = C(handlers.timeout_ms),
	  .min = 1, .max = TIMEOUT_MAX, .def = 60 * SEC },
	{ .name = "kill_grace", .type = &cs_t_duration, .off = C(handlers.kill_grace_ms),
	  .max = HOUR, .def = 5 * SEC },
	{ .name = "max_output", .type = &cs_t_size, .off = C(handlers.max_output),
	  .max = 512 * MIB, .def = MIB },
	{ .name = "max_payload", .type = &cs_t_size, .off = C(handlers.max_payload),
	  .max = 512 * MIB, .def = 16 * MIB },
	{ .name = "missing", .type = &cs_t_enum, .off = C(handlers.missing),
	  .def = MISSING_WAIT, .aux = missing_words },
	{ .name = "missing_retry", .type = &cs_t_duration,
	  .off = C(handlers.missing_retry_ms), .min = SEC, .max = HOUR,
	  .def = MIN },
	{ .name = "environment", .type = &T_ENV },
	{ .name = "overrides", .type = &T_OVERRIDES },
	{ .name = NULL }
};

static const struct cs_key locks_keys[] = {
	{ .name = "lease", .type = &cs_t_duration, .off = C(locks.lease_ms),
	  .min = SEC, .max = DAY, .def = 30 * SEC },
	{ .name = "on_conflict", .type = &cs_t_enum, .off = C(locks.on_conflict),
	  .def = CONFLICT_REQUEUE, .aux = conflict_words },
	{ .name = "requeue_delay", .type = &cs_t_duration, .off = C(locks.requeue_delay_ms),
	  .max = DAY, .def = SEC },
	{ .name = "wait_timeout", .type = &cs_t_duration, .off = C(locks.wait_timeout_ms),
	  .max = DAY, .def = 30 * SEC },
	{ .name = NULL }
};

static const struct cs_key rule_keys[] = {
	{ .name = "pattern", .type = &cs_t_str, .off = R(pattern) },
	{ .name = "db", .type = &cs_t_int, .off = R(db), .max = INT_MAX, .def = -1 },
	{ .name = "handler", .type = &cs_t_handler, .off = R(handler) },
	{ .name = "resource", .type = &cs_t_optstr, .off = R(resource) },
	{ .name = "queue", .type = &cs_t_qname, .off = R(queue) },
	{ .name = NULL }
};

static const struct cs_key expirations_keys[] = {
	{ .name = "configure_redis", .type = &cs_t_bool,
	  .off = C(expirations.configure_redis) },
	{ .name = "rules", .type = &T_RULES },
	{ .name = NULL }
};

static const struct cs_key source_keys[] = {
	{ .name = "zset", .type = &T_KIND, .aux = &kind_zset },
	{ .name = "list", .type = &T_KIND, .aux = &kind_list },
	{ .name = "channel", .type = &T_KIND, .aux = &kind_channel },
	{ .name = "pattern", .type = &T_KIND, .aux = &kind_pattern },
	{ .name = "handler", .type = &cs_t_handler, .off = S(handler) },
	{ .name = "queue", .type = &cs_t_qname, .off = S(queue) },
	{ .name = "score_unit", .type = &cs_t_score_unit, .off = S(score_unit_ms),
	  .def = 1000, .aux = score_words },
	{ .name = NULL }
};

static const struct cs_key log_keys[] = {
	{ .name = "level", .type = &cs_t_level, .off = C(log.level), .def = LOG_LEVEL_INFO },
	{ .name = "format", .type = &cs_t_enum, .off = C(log.format),
	  .def = LOG_FORMAT_TEXT, .aux = format_words },
	{ .name = NULL }
};

static const struct cs_key metrics_keys[] = {
	{ .name = "listen", .type = &cs_t_listen, .off = C(metrics.listen) },
	{ .name = "max_connections", .type = &cs_t_int,
	  .off = C(metrics.max_connections), .min = 1, .max = 100000, .def = 256 },
	{ .name = "request_timeout", .type = &cs_t_duration,
	  .off = C(metrics.request_timeout_ms), .min = 100, .max = HOUR,
	  .def = 10 * SEC },
	{ .name = NULL }
};

static const struct cs_key dashboard_keys[] = {
	{ .name = "listen", .type = &cs_t_listen, .off = C(dashboard.listen) },
	{ .name = "token_file", .type = &cs_t_path, .off = C(dashboard.token_file) },
	{ .name = "read_only", .type = &cs_t_bool, .off = C(dashboard.read_only) },
	{ .name = "max_connections", .type = &cs_t_int,
	  .off = C(dashboard.max_connections), .min = 1, .max = 100000, .def = 64 },
	{ .name = "request_timeout", .type = &cs_t_duration,
	  .off = C(dashboard.request_timeout_ms), .min = 100, .max = HOUR,
	  .def = 10 * SEC },
	{ .name = NULL }
};

static const struct cs_section redis_section = { redis_keys, NULL };
static const struct cs_section retry_section = { retry_keys, check_retry };
static const struct cs_section results_section = { results_keys, NULL };
static const struct cs_section dead_section = { dead_keys, NULL };
static const struct cs_section override_section = { override_keys, NULL };
static const struct cs_section handlers_section = { handlers_keys, check_handlers };
static const struct cs_section locks_section = { locks_keys, NULL };
static const struct cs_section rule_section = { rule_keys, check_rule };
static const struct cs_section expirations_section = { expirations_keys, NULL };
static const struct cs_section source_section = { source_keys, check_source };
static const struct cs_section log_section = { log_keys, NULL };
static const struct cs_section metrics_section = { metrics_keys, NULL };
static const struct cs_section dashboard_section = { dashboard_keys, NULL };

static const struct cs_key root_keys[] = {
	{ .name = "redis", .type = &cs_t_section, .aux = &redis_section },
	{ .name = "namespace", .type = &cs_t_namespace, .off = C(namespace),
	  .def_str = "deferd" },
	{ .name = "queues", .type = &T_QUEUES },
	{ .name = "queues_order", .type = &cs_t_enum, .off = C(queues_order),
	  .def = QUEUES_WEIGHTED, .aux = order_words },
	{ .name = "concurrency", .type = &cs_t_int, .off = C(concurrency),
	  .min = 1, .max = 10000, .def = 8 },
	{ .name = "poll_interval", .type = &cs_t_duration, .off = C(poll_interval_ms),
	  .min = 10, .max = HOUR, .def = SEC },
	{ .name = "lease", .type = &cs_t_duration, .off = C(lease_ms),
	  .min = SEC, .max = DAY, .def = 30 * SEC },
	{ .name = "shutdown_timeout", .type = &cs_t_duration, .off = C(shutdown_timeout_ms),
	  .max = DAY, .def = 25 * SEC },
	{ .name = "retry", .type = &cs_t_section, .aux = &retry_section },
	{ .name = "results", .type = &cs_t_section, .aux = &results_section },
	{ .name = "dead", .type = &cs_t_section, .aux = &dead_section },
	{ .name = "handlers", .type = &cs_t_section, .aux = &handlers_section },
	{ .name = "locks", .type = &cs_t_section, .aux = &locks_section },
	{ .name = "expirations", .type = &cs_t_section, .aux = &expirations_section },
	{ .name = "sources", .type = &T_SOURCES },
	{ .name = "schedules", .type = &config_t_schedules },
	{ .name = "log", .type = &cs_t_section, .aux = &log_section },
	{ .name = "metrics", .type = &cs_t_section, .aux = &metrics_section },
	{ .name = "dashboard", .type = &cs_t_section, .aux = &dashboard_section },
	{ .name = "events", .type = &cs_t_bool, .off = C(events), .def = 1 },
	{ .name = NULL }
};

static const struct cs_section root_section = { root_keys, check_root };

/* Default queues: ["default"]. */
static void
init_queues(const struct cs_key *k, void *dst)
{
	struct config	*c = dst;

	(void)k;
	c->queues = xcalloc(1, sizeof(*c->queues));
	c->queues[0] = xstrdup("default");
	c->queue_weights = xcalloc(1, sizeof(*c->queue_weights));
	c->queue_weights[0] = 1;
	c->nqueues = 1;
}

/* A queues item written as a mapping: {name, weight}. */
struct queue_entry {
	char	*name;
	int	 weight;
};
#define QE(f)	offsetof(struct queue_entry, f)
static const struct cs_key queue_entry_keys[] = {
	{ .name = "name", .type = &cs_t_qname, .off = QE(name) },
	{ .name = "weight", .type = &cs_t_int, .off = QE(weight), .min = 1,
	  .max = 1000, .def = 1 },
	{ .name = NULL }
};
static const struct cs_section queue_entry_section = { queue_entry_keys, NULL };

/* Append one item of queues (a name, or {name, weight}): valid, not a repeat. */
static int
queue_item(struct cs_ctx *ctx, const struct cy_node *n)
{
	struct config		*c = ctx->config;
	struct queue_entry	 e = { NULL, 1 };
	char			 buf[72];

	if (n->type == CY_MAP) {
		cs_apply_defaults(queue_entry_keys, &e);
		if (cs_walk_map(ctx, &queue_entry_section, n, &e) == -1) {
			free(e.name);
			return (-1);
		}
		if (e.name == NULL)
			return (cs_key_error(ctx, n, "a queue written as a mapping "
			    "needs its name"));
	} else if (n->type == CY_SCALAR && util_valid_queue_name(n->value))
		e.name = xstrdup(n->value);
	else
		return (cs_type_error(ctx, n, CS_WHAT_QUEUE " or {name, weight}"));
	if (config_has_queue(c, e.name)) {
		cs_key_error(ctx, n, "duplicate queue '%s'", cs_esc(e.name, buf,
		    sizeof(buf)));
		free(e.name);
		return (-1);
	}
	c->queue_weights[c->nqueues] = e.weight;
	c->queues[c->nqueues++] = e.name;
	return (0);
}

/* queues: a non-empty list of distinct queue names. */
static int
parse_queues(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	struct config	*c = ctx->config;

	(void)k;
	(void)dst;
	if (!cy_is_null(n) && n->type != CY_SEQ)
		return (cs_type_error(ctx, n, "a list of queues"));
	if (cy_is_null(n) || n->nitems == 0)
		return (cs_key_error(ctx, n, "must name at least one queue"));
	for (size_t i = 0; i < c->nqueues; i++)
		free(c->queues[i]);
	free(c->queues);
	free(c->queue_weights);
	c->queues = xcalloc(n->nitems, sizeof(*c->queues));
	c->queue_weights = xcalloc(n->nitems, sizeof(*c->queue_weights));
	c->nqueues = 0;
	for (size_t i = 0; i < n->nitems; i++) {
		size_t	len = cs_path_push_index(ctx, i);
		int	rc = queue_item(ctx, n->items[i]);

		cs_path_pop(ctx, len);
		if (rc == -1)
			return (-1);
	}
	return (0);
}

/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static bool
valid_env_name(const char *s)
{
	if (*s == '\0' || isdigit((unsigned char)*s))
		return (false);
	for (; *s != '\0'; s++)
		if (!isascii((unsigned char)*s) ||
		    (!isalnum((unsigned char)*s) && *s != '_'))
			return (false);
	return (true);
}

/*
 * Why a handlers.environment name is refused, or NULL: the variables
 * deferd sets itself (docs/handlers.md) and those that would change what a
 * handler runs (the dynamic loader's) or talk to systemd for deferd.
 */
static const char *
reserved_env_name(const char *name)
{
	if (strncmp(name, "DEFERD_", 7) == 0)
		return ("deferd sets the DEFERD_ variables itself");
	if (strcmp(name, "PATH") == 0)
		return ("handlers get a fixed PATH (" HANDLER_PATH
		    "); use absolute paths or a wrapper script");
	if (strncmp(name, "LD_", 3) == 0)
		return ("the dynamic loader's variables would change what "
		    "every handler runs");
	if (strcmp(name, "NOTIFY_SOCKET") == 0)
		return ("it is systemd's channel to deferd, not to handlers");
	return (NULL);
}

/* One handlers.environment entry: a name not reserved, to a string. */
static int
env_item(struct cs_ctx *ctx, const struct cy_node *k, const struct cy_node *v)
{
	struct config	*c = ctx->config;
	struct env_var	*e;
	const char	*why;
	char		 buf[72];
	size_t		 len;
	int		 rc = 0;

	if (!valid_env_name(k->value))
		return (cs_type_error(ctx, k, WHAT_ENVNAME));
	if ((why = reserved_env_name(k->value)) != NULL)
		return (cs_key_error(ctx, k, "'%s' is reserved: %s",
		    cs_esc(k->value, buf, sizeof(buf)), why));
	len = cs_path_push(ctx, k->value);
	if (v->type != CY_SCALAR)
		rc = cs_type_error(ctx, v, CS_WHAT_STRING);
	cs_path_pop(ctx, len);
	if (rc == -1)
		return (-1);
	e = &c->handlers.environment[c->handlers.nenvironment++];
	e->name = xstrdup(k->value);
	e->value = xstrdup(cy_is_null(v) ? "" : v->value);
	return (0);
}

/* handlers.environment: a mapping of variable names to strings. */
static int
parse_env(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	struct config	*c = ctx->config;

	(void)k;
	(void)dst;
	if (cy_is_null(n))
		return (0);
	if (n->type != CY_MAP)
		return (cs_type_error(ctx, n, "a mapping of variable names to strings"));
	if (cs_check_keys(ctx, n) == -1)
		return (-1);
	c->handlers.environment = xreallocarray(c->handlers.environment,
	    c->handlers.nenvironment + n->nitems / 2,
	    sizeof(*c->handlers.environment));
	for (size_t i = 0; i < n->nitems; i += 2)
		if (env_item(ctx, n->items[i], n->items[i + 1]) == -1)
			return (-1);
	return (0);
}

/* One handlers.overrides entry: a handler name to its settings. */
static int
override_item(struct cs_ctx *ctx, const struct cy_node *k,
    const struct cy_node *v)
{
	struct config		*c = ctx->config;
	struct handler_override	*o;
	size_t			 len;
	int			 rc;

	if (!util_valid_handler_name(k->value, strlen(k->value)))
		return (cs_type_error(ctx, k, CS_WHAT_HANDLER));
	c->handlers.overrides = xreallocarray(c->handlers.overrides,
	    c->handlers.noverrides + 1, sizeof(*c->handlers.overrides));
	o = &c->handlers.overrides[c->handlers.noverrides++];
	memset(o, 0, sizeof(*o));
	cs_apply_defaults(override_keys, o);
	o->name = xstrdup(k->value);
	len = cs_path_push(ctx, k->value);
	rc = cs_walk_map(ctx, &override_section, v, o);
	cs_path_pop(ctx, len);
	return (rc);
}

/* handlers.overrides: a mapping of handler names to per-handler settings. */
static int
parse_overrides(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	(void)k;
	(void)dst;
	if (cy_is_null(n))
		return (0);
	if (n->type != CY_MAP)
		return (cs_type_error(ctx, n, "a mapping of handler names to settings"));
	if (cs_check_keys(ctx, n) == -1)
		return (-1);
	for (size_t i = 0; i < n->nitems; i += 2)
		if (override_item(ctx, n->items[i], n->items[i + 1]) == -1)
			return (-1);
	return (0);
}

/* expirations.rules: a list of rule mappings. */
static int
parse_rules(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	struct config	*c = ctx->config;

	(void)k;
	(void)dst;
	return (cs_parse_list(ctx, n, "a list of rules", &rule_section,
	    (void **)&c->expirations.rules, &c->expirations.nrules,
	    sizeof(*c->expirations.rules)));
}

/* sources: a list of source mappings. */
static int
parse_sources(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	struct config	*c = ctx->config;

	(void)k;
	(void)dst;
	return (cs_parse_list(ctx, n, "a list of sources", &source_section,
	    (void **)&c->sources, &c->nsources, sizeof(*c->sources)));
}

/* zset:, list:, channel: or pattern: of a source (dst is the source). */
static int
parse_kind(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	struct source		*s = dst;
	const struct kind	*kd = k->aux;

	if (s->name != NULL)
		return (cs_key_error(ctx, n, "give only one of " KINDS));
	if (n->type != CY_SCALAR || cy_is_null(n) || n->value[0] == '\0')
		return (cs_type_error(ctx, n, "a key or channel name"));
	s->kind = kd->kind;
	s->is_pattern = kd->is_pattern;
	s->name = xstrdup(n->value);
	return (0);
}

/*
 * handlers: dir must not be a system directory: every program in it
 * (bash, python3, ...) would become a handler any producer could name.
 */
static int
check_handlers(struct cs_ctx *ctx, const struct cy_node *n, void *base)
{
	const struct config	*c = base;
	const struct cy_node	*at = cy_map_get(n, "dir");

	if (!trust_system_dir(c->handlers.dir))
		return (0);
	return (cs_error(ctx, at != NULL ? at : n, "handlers.dir: %s is a system "
	    "directory: every program in it would be a handler that any "
	    "producer can name; use a directory of its own such as "
	    "/etc/deferd/handlers.d", c->handlers.dir));
}

/* retry: backoff must not exceed backoff_max. */
static int
check_retry(struct cs_ctx *ctx, const struct cy_node *n, void *base)
{
	const struct config	*c = base;
	const struct cy_node	*at = cy_map_get(n, "backoff");
	char			 a[32], b[32];

	if (c->retry.backoff_ms <= c->retry.backoff_max_ms)
		return (0);
	if (at == NULL)
		at = cy_map_get(n, "backoff_max");
	units_format_duration(c->retry.backoff_ms, a, sizeof(a));
	units_format_duration(c->retry.backoff_max_ms, b, sizeof(b));
	return (cs_error(ctx, at, "retry.backoff (%s) must not be greater than "
	    "retry.backoff_max (%s)", a, b));
}

/*
 * A rule needs a pattern and a handler; its resource template must parse
 * and use no capture the pattern lacks (else every job would run unlocked).
 */
static int
check_rule(struct cs_ctx *ctx, const struct cy_node *n, void *base)
{
	const struct expiration_rule	*r = base;
	const struct cy_node		*v = cy_map_get(n, "resource");
	char				 err[256];
	int				 max;
	size_t				 have;

	if (r->pattern == NULL)
		return (cs_key_error(ctx, n, "pattern is required"));
	if (r->handler == NULL)
		return (cs_key_error(ctx, n, "handler is required"));
	if (r->resource == NULL)
		return (0);
	if ((max = template_check(r->resource, err, sizeof(err))) == -2)
		return (cs_key_error(ctx, v, "resource '%s': %s", r->resource,
		    err));
	have = glob_ncaptures(r->pattern);
	if (max > (int)have || max > GLOB_MAX_CAPTURES)
		return (cs_key_error(ctx, v, "resource '%s' uses {%d} but the "
		    "pattern '%s' has %zu wildcard(s)", r->resource, max,
		    r->pattern, have));
	return (0);
}

/* A source needs exactly one kind and a handler; score_unit is for zset only. */
static int
check_source(struct cs_ctx *ctx, const struct cy_node *n, void *base)
{
	const struct source	*s = base;
	const struct cy_node	*unit = cy_map_get(n, "score_unit");
	size_t			 len;

	if (s->name == NULL)
		return (cs_key_error(ctx, n, "one of " KINDS " is required"));
	if (s->handler == NULL)
		return (cs_key_error(ctx, n, "handler is required"));
	if (unit != NULL && s->kind != SOURCE_ZSET) {
		len = cs_path_push(ctx, "score_unit");
		cs_key_error(ctx, unit, "applies only to zset sources");
		cs_path_pop(ctx, len);
		return (-1);
	}
	return (0);
}

/* Whether name is one of the configured queues. */
bool
config_has_queue(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nqueues; i++)
		if (strcmp(c->queues[i], name) == 0)
			return (true);
	return (false);
}

/* Item i of a list (under key what) names queue q: it must be configured. */
static int
check_queue_ref(struct cs_ctx *ctx, const struct cy_node *list,
    const char *what, size_t i, const char *q)
{
	char	buf[72];

	if (q == NULL || config_has_queue(ctx->config, q))
		return (0);
	return (cs_error(ctx, cy_map_get(cy_seq_at(list, i), "queue"),
	    "%s[%zu].queue: unknown queue '%s'; add it to queues", what, i,
	    cs_esc(q, buf, sizeof(buf))));
}

/* Rules, sources and schedules may only name queues listed in queues. */
static int
check_queue_refs(struct cs_ctx *ctx)
{
	const struct config	*c = ctx->config;
	const struct cy_node	*rules, *sources, *schedules;

	rules = cy_map_get(cy_map_get(ctx->root, "expirations"), "rules");
	sources = cy_map_get(ctx->root, "sources");
	schedules = cy_map_get(ctx->root, "schedules");
	for (size_t i = 0; i < c->nschedules; i++)
		if (check_queue_ref(ctx, schedules, "schedules", i,
		    c->schedules[i].queue) == -1)
			return (-1);
	for (size_t i = 0; i < c->expirations.nrules; i++)
		if (check_queue_ref(ctx, rules, "expirations.rules", i,
		    c->expirations.rules[i].queue) == -1)
			return (-1);
	for (size_t i = 0; i < c->nsources; i++)
		if (check_queue_ref(ctx, sources, "sources", i,
		    c->sources[i].queue) == -1)
			return (-1);
	return (0);
}

/*
 * Read the first line of the file at path (the value of key, e.g.
 * "redis.password_file") into *out (never logged).
 */
static int
read_password(struct cs_ctx *ctx, const struct cy_node *at, const char *key,
    const char *path, char **out)
{
	FILE		*f;
	struct stat	 st;
	char		 pw[PASSWORD_MAX + 2], buf[72];
	const char	*why = NULL;
	size_t		 n = 0;

	if ((f = fopen(path, "re")) == NULL)
		return (cs_error(ctx, at, "%s: cannot read '%s': %s", key,
		    cs_esc(path, buf, sizeof(buf)), strerror(errno)));
	errno = 0;
	if (fstat(fileno(f), &st) == -1)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (fgets(pw, sizeof(pw), f) == NULL)
		why = ferror(f) ? strerror(errno) : "the file is empty";
	else if ((n = strcspn(pw, "\r\n")) > PASSWORD_MAX)
		why = "the password is longer than 1024 bytes";
	else if (n == 0)
		why = "the file is empty";
	fclose(f);
	pw[n < sizeof(pw) ? n : sizeof(pw) - 1] = '\0';
	if (why == NULL)
		*out = xstrdup(pw);
	explicit_bzero(pw, sizeof(pw));
	if (why != NULL)
		return (cs_error(ctx, at, "%s: cannot read '%s': %s", key,
		    cs_esc(path, buf, sizeof(buf)), why));
	return (0);
}

/* Replace t's username and password (either may be NULL: kept). */
static void
set_credentials(struct redis_target *t, char *user, char *pass)
{
	if (user != NULL) {
		free(t->username);
		t->username = user;
	}
	if (pass != NULL) {
		if (t->password != NULL)
			explicit_bzero(t->password, strlen(t->password));
		free(t->password);
		t->password = pass;
	}
}

/*
 * With redis.sentinel the master is asked for, so redis.url names no host;
 * without it, it must. Then give each sentinel its credentials.
 */
static int
finish_sentinel(struct cs_ctx *ctx, struct redis_target *t)
{
	struct config		*c = ctx->config;
	const struct cy_node	*redis = cy_map_get(ctx->root, "redis");
	const struct cy_node	*url = cy_map_get(redis, "url");
	const struct cy_node	*sen = cy_map_get(redis, "sentinel");
	char			*pass = NULL;

	if (c->redis.sentinel.master == NULL) {
		if (t->host == NULL && t->unix_path == NULL)
			return (cs_error(ctx, url, "redis.url: missing host name "
			    "(a URL without a host is for redis.sentinel or "
			    "redis.cluster)"));
		return (0);
	}
	if (url != NULL && (t->host != NULL || t->unix_path != NULL))
		return (cs_error(ctx, url, "redis.url: names a server, but "
		    "redis.sentinel finds the master; write it without a host "
		    "(e.g. redis://:password@/0) or drop redis.sentinel"));
	free(t->host);		/* the default URL's: the sentinels name it */
	t->host = NULL;
	if (c->redis.sentinel.password_file != NULL &&
	    read_password(ctx, cy_map_get(sen, "password_file"),
	    "redis.sentinel.password_file", c->redis.sentinel.password_file,
	    &pass) == -1)
		return (-1);
	for (size_t i = 0; i < c->redis.sentinel.nodes.n; i++)
		set_credentials(&c->redis.sentinel.nodes.v[i],
		    c->redis.sentinel.username != NULL ?
		    xstrdup(c->redis.sentinel.username) : NULL,
		    pass != NULL ? xstrdup(pass) : NULL);
	if (pass != NULL)
		explicit_bzero(pass, strlen(pass));
	free(pass);
	return (0);
}

/*
 * Source i on a cluster: a zset source's script moves members from its key
 * into its queue, so the key must be in the queue's slot (give it the
 * hash tag {Q}); a list source is refused (its blocking connection does
 * not follow the slot map yet).
 */
static int
finish_cluster_source(struct cs_ctx *ctx, size_t i)
{
	const struct source	*src = &ctx->config->sources[i];
	const char		*q = config_queue(ctx->config, src->queue);
	const struct cy_node	*at = cy_map_get(ctx->root, "sources");

	if (src->kind == SOURCE_LIST)
		return (cs_error(ctx, at, "sources[%zu]: list sources are not "
		    "supported with redis.cluster yet", i));
	if (src->kind == SOURCE_ZSET && keyslot(src->name, strlen(src->name)) !=
	    keyslot(q, strlen(q)))
		return (cs_error(ctx, at, "sources[%zu]: with redis.cluster the "
		    "zset must be in the slot of its queue: give it the queue's "
		    "hash tag, e.g. \"{%s}:%s\"", i, q, src->name));
	return (0);
}

/*
 * With redis.cluster, redis.url names no server (the seeds do) and
 * database 0 (a cluster has no other); the seeds get its credentials.
 * What does not work on a cluster is refused (finish_cluster_source).
 */
static int
finish_cluster(struct cs_ctx *ctx, struct redis_target *t)
{
	struct config		*c = ctx->config;
	const struct cy_node	*redis = cy_map_get(ctx->root, "redis");
	const struct cy_node	*url = cy_map_get(redis, "url");
	const struct cy_node	*cl = cy_map_get(redis, "cluster");

	if (c->redis.sentinel.master != NULL)
		return (cs_error(ctx, cl, "redis.cluster: give only one of "
		    "redis.sentinel and redis.cluster"));
	if (url != NULL && (t->host != NULL || t->unix_path != NULL))
		return (cs_error(ctx, url, "redis.url: names a server, but "
		    "redis.cluster names the nodes; write it without a host "
		    "(e.g. redis://:password@) or drop redis.cluster"));
	if (t->db != 0)
		return (cs_error(ctx, url, "redis.url: a Redis Cluster has "
		    "database 0 only"));
	for (size_t i = 0; i < c->expirations.nrules; i++)
		if (c->expirations.rules[i].db > 0)
			return (cs_error(ctx, cy_map_get(ctx->root,
			    "expirations"), "expirations.rules[%zu]: db %d, but "
			    "a Redis Cluster has database 0 only", i,
			    c->expirations.rules[i].db));
	for (size_t i = 0; i < c->nsources; i++)
		if (finish_cluster_source(ctx, i) == -1)
			return (-1);
	free(t->host);		/* the default URL's: the seeds name the nodes */
	t->host = NULL;
	for (size_t i = 0; i < c->redis.cluster.nodes.n; i++)
		set_credentials(&c->redis.cluster.nodes.v[i], t->username != NULL ?
		    xstrdup(t->username) : NULL, t->password != NULL ?
		    xstrdup(t->password) : NULL);
	return (0);
}

/* Parse redis.url, apply redis.username and redis.password_file, then the sentinel rules. */
static int
finish_redis(struct cs_ctx *ctx)
{
	struct config		*c = ctx->config;
	const struct cy_node	*redis = cy_map_get(ctx->root, "redis");
	struct redis_target	 t;
	char			*user = c->redis.target.username, *pass = NULL;
	char			 msg[256];

	c->redis.target.username = NULL;
	if (redisurl_parse(c->redis.url, &t, msg, sizeof(msg)) == -1) {
		free(user);
		return (cs_error(ctx, cy_map_get(redis, "url"), "redis.url: %s", msg));
	}
	if (c->redis.password_file != NULL &&
	    read_password(ctx, cy_map_get(redis, "password_file"),
	    "redis.password_file", c->redis.password_file, &pass) == -1) {
		free(user);
		redisurl_clear(&t);
		return (-1);
	}
	set_credentials(&t, user, pass);
	redisurl_clear(&c->redis.target);
	c->redis.target = t;
	if (c->redis.wait_replicas > 0 &&
	    c->redis.wait_timeout_ms >= c->redis.command_timeout_ms)
		return (cs_error(ctx, cy_map_get(redis, "wait_timeout") != NULL ?
		    cy_map_get(redis, "wait_timeout") :
		    cy_map_get(redis, "command_timeout"),
		    "redis.wait_timeout: must be shorter than redis.command_timeout "
		    "(a WAIT that long would drop the connection)"));
	if (c->redis.cluster.nodes.n > 0)
		return (finish_cluster(ctx, &c->redis.target));
	return (finish_sentinel(ctx, &c->redis.target));
}

/* After the whole file: cross-key checks, then Redis (which may resolve). */
static int
check_root(struct cs_ctx *ctx, const struct cy_node *n, void *base)
{
	(void)n;
	(void)base;
	if (check_queue_refs(ctx) == -1)
		return (-1);
	return (finish_redis(ctx));
}

/* Read all of f into a new NUL-terminated buffer; -1 with errno. */
static int
read_file(FILE *f, char **out, size_t *outlen)
{
	size_t	 len = 0, cap = 8192, n;
	char	*buf = xmalloc(cap + 1);

	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len > CONFIG_MAX_FILE) {
			free(buf);
			errno = EFBIG;
			return (-1);
		}
		if (len == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
	}
	if (ferror(f)) {
		free(buf);
		return (-1);
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return (0);
}

/* Read path (at most CONFIG_MAX_FILE bytes) and load it as a config. */
struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config	*c;
	FILE		*f;
	char		*text;
	size_t		 len;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return (NULL);
	}
	if (read_file(f, &text, &len) == -1) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		fclose(f);
		return (NULL);
	}
	fclose(f);
	c = config_load_string(path, text, len, err, errlen);
	free(text);
	return (c);
}

/* Parse, default and validate text; NULL with a positioned message in err. */
struct config *
config_load_string(const char *name, const char *text, size_t len, char *err,
    size_t errlen)
{
	struct cs_ctx	 ctx;
	struct cy_error	 yerr;
	struct config	*c = xcalloc(1, sizeof(*c));
	int		 rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.name = name;
	ctx.err = err;
	ctx.errlen = errlen;
	ctx.config = c;
	c->refs = 1;
	c->path = xstrdup(name);
	cs_apply_defaults(root_keys, c);
	if ((rc = cy_parse(text, len, &ctx.root, &yerr)) == -1)
		cs_error_at(&ctx, yerr.line, yerr.col, "%s", yerr.msg);
	if (rc == 0 && ctx.root != NULL && !cy_is_null(ctx.root) &&
	    ctx.root->type != CY_MAP) {
		char	buf[80];

		rc = cs_error(&ctx, ctx.root, "expected a mapping at the top "
		    "level, got %s", cs_found(ctx.root, buf, sizeof(buf)));
	}
	if (rc == 0)
		rc = cs_walk_map(&ctx, &root_section, ctx.root, c);
	cy_free(ctx.root);
	free(ctx.basedir);
	if (rc == -1) {
		config_free(c);
		return (NULL);
	}
	config_lease_timing(c->lease_ms, &c->timing);
	return (c);
}

/* Free a config and everything it owns; NULL is a no-op. */
void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->redis.url);
	redisurl_clear(&c->redis.target);
	free(c->redis.password_file);
	config_ha_free(c);
	free(c->namespace);
	for (size_t i = 0; i < c->nqueues; i++)
		free(c->queues[i]);
	free(c->queues);
	free(c->queue_weights);
	free(c->handlers.dir);
	free(c->handlers.workdir);
	for (size_t i = 0; i < c->handlers.nenvironment; i++) {
		free(c->handlers.environment[i].name);
		free(c->handlers.environment[i].value);
	}
	free(c->handlers.environment);
	for (size_t i = 0; i < c->handlers.noverrides; i++)
		free(c->handlers.overrides[i].name);
	free(c->handlers.overrides);
	for (size_t i = 0; i < c->expirations.nrules; i++) {
		free(c->expirations.rules[i].pattern);
		free(c->expirations.rules[i].handler);
		free(c->expirations.rules[i].resource);
		free(c->expirations.rules[i].queue);
	}
	free(c->expirations.rules);
	for (size_t i = 0; i < c->nsources; i++) {
		free(c->sources[i].name);
		free(c->sources[i].handler);
		free(c->sources[i].queue);
	}
	free(c->sources);
	config_schedules_free(c);
	free(c->metrics.listen);
	free(c->dashboard.listen);
	free(c->dashboard.token_file);
	free(c);
}

struct config *
config_ref(struct config *c)
{
	if (c != NULL)
		c->refs++;
	return (c);
}

void
config_unref(struct config *c)
{
	if (c != NULL && --c->refs == 0)
		config_free(c);
}

/* The override for handler, or NULL. */
const struct handler_override *
config_override(const struct config *c, const char *handler)
{
	for (size_t i = 0; i < c->handlers.noverrides; i++)
		if (strcmp(c->handlers.overrides[i].name, handler) == 0)
			return (&c->handlers.overrides[i]);
	return (NULL);
}

/* v within lo..hi. */
static int64_t
clamp(int64_t v, int64_t lo, int64_t hi)
{
	return (v < lo ? lo : v > hi ? hi : v);
}

/*
 * The one place the lease's intervals come from: extending every third of
 * it keeps two chances to extend before it runs out; reaping and probing
 * the subscriber every half (within bounds) finds a lost worker or a dead
 * connection well before a second lease would pass.
 */
void
config_lease_timing(int64_t lease_ms, struct lease_timing *t)
{
	t->extend_ms = lease_ms / 3 > 0 ? lease_ms / 3 : 1;
	t->reap_ms = clamp(lease_ms / 2, SEC, 30 * SEC);
	t->subcheck_ms = clamp(lease_ms / 2, SEC, 15 * SEC);
}

/* The queue a rule, source or schedule names, or the first queue. */
const char *
config_queue(const struct config *c, const char *queue)
{
	return (queue != NULL ? queue : c->queues[0]);
}

/* Where handlers run: handlers.workdir, else handlers.dir. */
const char *
config_handler_cwd(const struct config *c)
{
	return (c->handlers.workdir != NULL ? c->handlers.workdir :
	    c->handlers.dir);
}

/* The handler's timeout: its override, else handlers.timeout. */
int64_t
config_handler_timeout_ms(const struct config *c, const char *handler)
{
	const struct handler_override	*o = config_override(c, handler);

	return (o != NULL && o->timeout_ms >= 0 ? o->timeout_ms :
	    c->handlers.timeout_ms);
}

/* The handler's attempt limit: its override, else retry.max_attempts. */
int
config_handler_max_attempts(const struct config *c, const char *handler)
{
	const struct handler_override	*o = config_override(c, handler);

	return (o != NULL && o->max_attempts > 0 ? o->max_attempts :
	    c->retry.max_attempts);
}

/*
 * The handler's concurrency: its max_concurrency, else concurrency; for a
 * persistent handler the jobs its processes can hold (processes x
 * inflight), or its max_concurrency when lower: its jobs take no slot of
 * the global concurrency.
 */
int
config_handler_max_concurrency(const struct config *c, const char *handler)
{
	return (config_override_max_concurrency(c, config_override(c, handler)));
}

/* The same for override o (NULL: the handler has none). */
int
config_override_max_concurrency(const struct config *c,
    const struct handler_override *o)
{
	int	max;

	if (o != NULL && o->mode == HANDLER_PERSISTENT) {
		max = o->processes * o->inflight;
		if (o->max_concurrency > 0 && o->max_concurrency < max)
			max = o->max_concurrency;
		return (max);
	}
	return (o != NULL && o->max_concurrency > 0 ? o->max_concurrency :
	    c->concurrency);
}

/* Whether handler's override asks for persistent processes. */
bool
config_handler_persistent(const struct config *c, const char *handler)
{
	const struct handler_override	*o = config_override(c, handler);

	return (o != NULL && o->mode == HANDLER_PERSISTENT);
}

/* The -c argument, else $DEFERD_CONFIG, else CONFIG_DEFAULT_PATH. */
const char *
config_default_path(const char *from_cli)
{
	const char	*env;

	if (from_cli != NULL && *from_cli != '\0')
		return (from_cli);
	if ((env = getenv("DEFERD_CONFIG")) != NULL && *env != '\0')
		return (env);
	return (CONFIG_DEFAULT_PATH);
}

/* The first key of keys (or a section below it) bound above the scripts' limit. */
static const char *
unbounded_in(const struct cs_key *keys)
{
	const char	*name;

	for (const struct cs_key *k = keys; k->name != NULL; k++) {
		if (k->type == &cs_t_section &&
		    (name = unbounded_in(((const struct cs_section *)k->aux)->keys)) != NULL)
			return (name);
		if ((k->type == &cs_t_int || k->type == &cs_t_int64 ||
		    k->type == &cs_t_duration || k->type == &cs_t_size) &&
		    (k->max > CONFIG_SCRIPT_INT_MAX || k->min < 0))
			return (k->name);
	}
	return (NULL);
}

/*
 * The name of a numeric key whose bounds the Lua scripts would refuse, or
 * NULL when every key of the schema (overrides, rules and sources too)
 * stays within 0..CONFIG_SCRIPT_INT_MAX. The unit tests hold the schema
 * to that, so that `deferd -n` never accepts a value a script rejects.
 */
const char *
config_unbounded_key(void)
{
	const struct cs_key	*tables[] = { root_keys, override_keys,
				    rule_keys, source_keys, config_schedule_keys };
	const char		*name;

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if ((name = unbounded_in(tables[i])) != NULL)
			return (name);
	return (NULL);
}

bool
config_dashboard_serves_metrics(const struct config *c)
{
	return (c->dashboard.listen != NULL && c->metrics.listen != NULL &&
	    strcmp(c->dashboard.listen, c->metrics.listen) == 0);
}
