/* SPDX-License-Identifier: MIT */
/*
 * The configuration file (DESIGN §6). libyaml's event API builds a small
 * node tree (anchors and aliases refused, depth capped, one document); a
 * table of known keys then gives each key its type, bounds, default and
 * place in struct config, so that every key is parsed, range-checked and
 * reported the same way: "FILE:LINE:COLUMN: message" with 1-based positions.
 * Cross-key rules (queues named by rules and sources, the Redis URL with
 * username and password file) run once the whole file is read. This file
 * never logs and never applies a config; callers do that.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "units.h"
#include "util.h"
#include "xmalloc.h"

#define CONFIG_MAX_DEPTH	16		/* nesting levels in the file */
#define CONFIG_MAX_FILE		(4 << 20)	/* bytes */
#define CONFIG_MAX_KEY		64		/* longer keys get no suggestion */
#define NO_MAX			INT64_MAX

#define SEC	INT64_C(1000)
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)
#define KIB	INT64_C(1024)
#define MIB	(1024 * KIB)

#define WHAT_DURATION	"a duration like 500ms, 30s, 5m, 1h or 30d"
#define WHAT_SIZE	"a size like 512KiB or 1MiB"
#define WHAT_INT	"an integer"
#define WHAT_BOOL	"true or false"
#define WHAT_STRING	"a string"
#define WHAT_MAP	"a mapping"
#define WHAT_LEVEL	"debug, info, warning or error"
#define WHAT_HANDLER	"a handler name matching [A-Za-z0-9][A-Za-z0-9_.-]*"
#define WHAT_QUEUE	"a queue name of 1-100 characters from [A-Za-z0-9_.:@-]"
#define WHAT_ENVNAME	"a variable name matching [A-Za-z_][A-Za-z0-9_]*"
#define WHAT_LISTEN	"host:port with a port from 1 to 65535"
#define WHAT_NAMESPACE	"a name without braces or whitespace"
#define KINDS		"zset, list, channel or pattern"

_Static_assert(sizeof(enum conflict_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_format) == sizeof(int), "enum size");

enum ynode_type {
	YN_SCALAR,
	YN_MAP,
	YN_SEQ,
};

/* A node of the parsed file: the tree owns everything below it. */
struct ynode {
	enum ynode_type	  type;
	char		 *value;	/* scalar text */
	int		  plain;	/* scalar was not quoted */
	struct ynode	**items;	/* map: key, value, key, value, ...; seq: items */
	size_t		  nitems;
	size_t		  line;		/* 1-based */
	size_t		  col;		/* 1-based */
};

/* The state of one load. */
struct ctx {
	const char	*name;			/* file name for messages */
	char		*err;
	size_t		 errlen;
	char		 path[512];		/* dotted key being parsed */
	char		*basedir;		/* for relative paths, lazily */
	struct config	*config;
	struct ynode	*root;
	struct ynode	*stack[CONFIG_MAX_DEPTH];	/* open collections */
	size_t		 depth;
	int		 ndocs;
};

struct key;
typedef int	(*parse_fn)(struct ctx *, const struct key *, const struct ynode *, void *);
typedef void	(*init_fn)(const struct key *, void *);

/* How one kind of value is parsed and defaulted. */
struct type {
	parse_fn	parse;
	init_fn		init;
};

/* One known key: the schema table is an array of these per mapping. */
struct key {
	const char		*name;
	const struct type	*type;
	size_t			 off;		/* where it is stored, from the base */
	int64_t			 min;
	int64_t			 max;
	int64_t			 def;		/* numeric default */
	const char		*def_str;	/* string default */
	const void		*aux;		/* section, words or source kind */
};

/* A mapping's keys and the check run after all of them were read. */
struct section {
	const struct key	*keys;		/* ends with a NULL name */
	int			(*check)(struct ctx *, const struct ynode *, void *);
};

struct word {
	const char	*name;
	int		 value;
};

struct kind {
	enum source_kind	kind;
	bool			is_pattern;
};

enum bound_unit {
	BOUND_INT,
	BOUND_DURATION,
	BOUND_SIZE,
};

static int	 cfg_error_at(struct ctx *, size_t, size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static int	 cfg_error(struct ctx *, const struct ynode *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 key_error(struct ctx *, const struct ynode *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static const char *esc(const char *, char *, size_t);
static const char *found(const struct ynode *, char *, size_t);
static int	 type_error(struct ctx *, const struct ynode *, const char *);
static int	 range_error(struct ctx *, const struct key *, const struct ynode *,
		    enum bound_unit);
static void	 fmt_bound(enum bound_unit, int64_t, char *, size_t);
static size_t	 path_push(struct ctx *, const char *);
static size_t	 path_push_index(struct ctx *, size_t);
static void	 path_pop(struct ctx *, size_t);

static struct ynode *node_new(enum ynode_type, const yaml_mark_t *);
static void	 node_free(struct ynode *);
static void	 node_append(struct ynode *, struct ynode *);
static int	 tree_add(struct ctx *, struct ynode *, const yaml_mark_t *, int);
static int	 tree_scalar(struct ctx *, const yaml_event_t *);
static int	 tree_event(struct ctx *, const yaml_event_t *);
static int	 tree_syntax_error(struct ctx *, const yaml_parser_t *,
		    const char *, size_t);
static int	 tree_build(struct ctx *, const char *, size_t);
static const struct ynode *ymap_get(const struct ynode *, const char *);
static const struct ynode *yseq_at(const struct ynode *, size_t);
static bool	 is_null(const struct ynode *);

static size_t	 edit_distance(const char *, const char *);
static const char *suggest(const struct key *, const char *);
static int	 unknown_key(struct ctx *, const struct key *, const struct ynode *);
static int	 check_key(struct ctx *, const struct ynode *, size_t);
static int	 walk_map(struct ctx *, const struct section *, const struct ynode *,
		    void *);
static void	 apply_defaults(const struct key *, void *);

static void	 init_none(const struct key *, void *);
static void	 init_int(const struct key *, void *);
static void	 init_i64(const struct key *, void *);
static void	 init_u64(const struct key *, void *);
static void	 init_bool(const struct key *, void *);
static void	 init_str(const struct key *, void *);
static void	 init_section(const struct key *, void *);
static void	 init_queues(const struct key *, void *);

static const char *scalar(struct ctx *, const struct ynode *, const char *);
static int	 parse_decimal(const char *, int64_t *);
static int	 parse_int(struct ctx *, const struct key *, const struct ynode *, void *);
static int	 parse_i64(struct ctx *, const struct key *, const struct ynode *, void *);
static int	 parse_duration(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static int	 parse_size(struct ctx *, const struct key *, const struct ynode *, void *);
static int	 word_value(const struct word *, const char *);
static const char *word_list(const struct word *, char *, size_t);
static int	 parse_bool(struct ctx *, const struct key *, const struct ynode *, void *);
static int	 parse_enum(struct ctx *, const struct key *, const struct ynode *, void *);
static int	 parse_level(struct ctx *, const struct key *, const struct ynode *, void *);
static int	 parse_score_unit(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static void	 set_str(char **, const char *);
static int	 parse_str(struct ctx *, const struct key *, const struct ynode *, void *);
static int	 parse_optstr(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static const char *basedir(struct ctx *);
static int	 parse_path(struct ctx *, const struct key *, const struct ynode *, void *);
static int	 parse_namespace(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static int	 parse_handler(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static int	 parse_qname(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static bool	 valid_listen(const char *);
static int	 parse_listen(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static int	 parse_section(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static int	 queue_item(struct ctx *, const struct ynode *);
static int	 parse_queues(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static bool	 valid_env_name(const char *);
static int	 env_item(struct ctx *, const struct ynode *, const struct ynode *);
static int	 parse_env(struct ctx *, const struct key *, const struct ynode *, void *);
static int	 override_item(struct ctx *, const struct ynode *, const struct ynode *);
static int	 parse_overrides(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static int	 parse_rules(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static int	 parse_sources(struct ctx *, const struct key *, const struct ynode *,
		    void *);
static int	 parse_kind(struct ctx *, const struct key *, const struct ynode *, void *);

static int	 check_retry(struct ctx *, const struct ynode *, void *);
static int	 check_rule(struct ctx *, const struct ynode *, void *);
static int	 check_source(struct ctx *, const struct ynode *, void *);
static bool	 has_queue(const struct config *, const char *);
static int	 check_queue_ref(struct ctx *, const struct ynode *, const char *,
		    size_t, const char *);
static int	 check_queue_refs(struct ctx *);
static int	 read_password(struct ctx *, const struct ynode *, char **);
static int	 finish_redis(struct ctx *);
static int	 check_root(struct ctx *, const struct ynode *, void *);
static int	 read_file(FILE *, char **, size_t *);

static const struct type T_INT = { parse_int, init_int };
static const struct type T_INT64 = { parse_i64, init_i64 };
static const struct type T_DURATION = { parse_duration, init_i64 };
static const struct type T_SIZE = { parse_size, init_u64 };
static const struct type T_BOOL = { parse_bool, init_bool };
static const struct type T_ENUM = { parse_enum, init_int };
static const struct type T_LEVEL = { parse_level, init_int };
static const struct type T_SCORE_UNIT = { parse_score_unit, init_i64 };
static const struct type T_STR = { parse_str, init_str };
static const struct type T_OPTSTR = { parse_optstr, init_str };
static const struct type T_PATH = { parse_path, init_str };
static const struct type T_NAMESPACE = { parse_namespace, init_str };
static const struct type T_HANDLER = { parse_handler, init_str };
static const struct type T_QNAME = { parse_qname, init_str };
static const struct type T_LISTEN = { parse_listen, init_str };
static const struct type T_SECTION = { parse_section, init_section };
static const struct type T_QUEUES = { parse_queues, init_queues };
static const struct type T_ENV = { parse_env, init_none };
static const struct type T_OVERRIDES = { parse_overrides, init_none };
static const struct type T_RULES = { parse_rules, init_none };
static const struct type T_SOURCES = { parse_sources, init_none };
static const struct type T_KIND = { parse_kind, init_none };

static const struct word conflict_words[] = {
	{ "requeue", CONFLICT_REQUEUE }, { "wait", CONFLICT_WAIT },
	{ "fail", CONFLICT_FAIL }, { NULL, 0 }
};
static const struct word format_words[] = {
	{ "text", LOG_FORMAT_TEXT }, { "json", LOG_FORMAT_JSON }, { NULL, 0 }
};
static const struct word bool_words[] = {
	{ "true", 1 }, { "yes", 1 }, { "on", 1 },
	{ "false", 0 }, { "no", 0 }, { "off", 0 }, { NULL, 0 }
};
static const struct word score_words[] = {
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

static const struct key redis_keys[] = {
	{ .name = "url", .type = &T_STR, .off = C(redis.url),
	  .def_str = "redis://127.0.0.1:6379/0" },
	{ .name = "username", .type = &T_OPTSTR, .off = C(redis.target.username) },
	{ .name = "password_file", .type = &T_PATH, .off = C(redis.password_file) },
	{ .name = "connect_timeout", .type = &T_DURATION,
	  .off = C(redis.connect_timeout_ms), .min = 1, .max = NO_MAX, .def = 2 * SEC },
	{ .name = "command_timeout", .type = &T_DURATION,
	  .off = C(redis.command_timeout_ms), .min = 1, .max = NO_MAX, .def = 10 * SEC },
	{ .name = "allow_eviction", .type = &T_BOOL, .off = C(redis.allow_eviction) },
	{ .name = NULL }
};

static const struct key retry_keys[] = {
	{ .name = "max_attempts", .type = &T_INT, .off = C(retry.max_attempts),
	  .min = 1, .max = 1000, .def = 5 },
	{ .name = "backoff", .type = &T_DURATION, .off = C(retry.backoff_ms),
	  .max = NO_MAX, .def = SEC },
	{ .name = "backoff_max", .type = &T_DURATION, .off = C(retry.backoff_max_ms),
	  .max = NO_MAX, .def = 10 * MIN },
	{ .name = NULL }
};

static const struct key results_keys[] = {
	{ .name = "ttl", .type = &T_DURATION, .off = C(results.ttl_ms),
	  .max = NO_MAX, .def = HOUR },
	{ .name = NULL }
};

static const struct key dead_keys[] = {
	{ .name = "max_jobs", .type = &T_INT64, .off = C(dead.max_jobs),
	  .max = 1000000000, .def = 10000 },
	{ .name = "ttl", .type = &T_DURATION, .off = C(dead.ttl_ms),
	  .max = NO_MAX, .def = 30 * DAY },
	{ .name = NULL }
};

static const struct key override_keys[] = {
	{ .name = "timeout", .type = &T_DURATION, .off = O(timeout_ms),
	  .min = 1, .max = NO_MAX, .def = -1 },
	{ .name = "max_concurrency", .type = &T_INT, .off = O(max_concurrency),
	  .min = 1, .max = 10000 },
	{ .name = "max_attempts", .type = &T_INT, .off = O(max_attempts),
	  .min = 1, .max = 1000 },
	{ .name = "on_conflict", .type = &T_ENUM, .off = O(on_conflict),
	  .def = CONFLICT_INHERIT, .aux = conflict_words },
	{ .name = NULL }
};

static const struct key handlers_keys[] = {
	{ .name = "dir", .type = &T_PATH, .off = C(handlers.dir),
	  .def_str = "/etc/deferd/handlers.d" },
	{ .name = "workdir", .type = &T_PATH, .off = C(handlers.workdir) },
	{ .name = "timeout", .type = &T_DURATION, .off = C(handlers.timeout_ms),
	  .min = 1, .max = NO_MAX, .def = 60 * SEC },
	{ .name = "kill_grace", .type = &T_DURATION, .off = C(handlers.kill_grace_ms),
	  .max = NO_MAX, .def = 5 * SEC },
	{ .name = "max_output", .type = &T_SIZE, .off = C(handlers.max_output),
	  .max = 512 * MIB, .def = MIB },
	{ .name = "max_payload", .type = &T_SIZE, .off = C(handlers.max_payload),
	  .max = 512 * MIB, .def = 16 * MIB },
	{ .name = "environment", .type = &T_ENV },
	{ .name = "overrides", .type = &T_OVERRIDES },
	{ .name = NULL }
};

static const struct key locks_keys[] = {
	{ .name = "lease", .type = &T_DURATION, .off = C(locks.lease_ms),
	  .min = SEC, .max = NO_MAX, .def = 30 * SEC },
	{ .name = "on_conflict", .type = &T_ENUM, .off = C(locks.on_conflict),
	  .def = CONFLICT_REQUEUE, .aux = conflict_words },
	{ .name = "requeue_delay", .type = &T_DURATION, .off = C(locks.requeue_delay_ms),
	  .max = NO_MAX, .def = SEC },
	{ .name = "wait_timeout", .type = &T_DURATION, .off = C(locks.wait_timeout_ms),
	  .max = NO_MAX, .def = 30 * SEC },
	{ .name = NULL }
};

static const struct key rule_keys[] = {
	{ .name = "pattern", .type = &T_STR, .off = R(pattern) },
	{ .name = "db", .type = &T_INT, .off = R(db), .max = INT_MAX, .def = -1 },
	{ .name = "handler", .type = &T_HANDLER, .off = R(handler) },
	{ .name = "resource", .type = &T_OPTSTR, .off = R(resource) },
	{ .name = "queue", .type = &T_QNAME, .off = R(queue) },
	{ .name = NULL }
};

static const struct key expirations_keys[] = {
	{ .name = "configure_redis", .type = &T_BOOL,
	  .off = C(expirations.configure_redis) },
	{ .name = "rules", .type = &T_RULES },
	{ .name = NULL }
};

static const struct key source_keys[] = {
	{ .name = "zset", .type = &T_KIND, .aux = &kind_zset },
	{ .name = "list", .type = &T_KIND, .aux = &kind_list },
	{ .name = "channel", .type = &T_KIND, .aux = &kind_channel },
	{ .name = "pattern", .type = &T_KIND, .aux = &kind_pattern },
	{ .name = "handler", .type = &T_HANDLER, .off = S(handler) },
	{ .name = "queue", .type = &T_QNAME, .off = S(queue) },
	{ .name = "score_unit", .type = &T_SCORE_UNIT, .off = S(score_unit_ms),
	  .def = 1000, .aux = score_words },
	{ .name = NULL }
};

static const struct key log_keys[] = {
	{ .name = "level", .type = &T_LEVEL, .off = C(log.level), .def = LOG_LEVEL_INFO },
	{ .name = "format", .type = &T_ENUM, .off = C(log.format),
	  .def = LOG_FORMAT_TEXT, .aux = format_words },
	{ .name = NULL }
};

static const struct key metrics_keys[] = {
	{ .name = "listen", .type = &T_LISTEN, .off = C(metrics.listen) },
	{ .name = NULL }
};

static const struct section redis_section = { redis_keys, NULL };
static const struct section retry_section = { retry_keys, check_retry };
static const struct section results_section = { results_keys, NULL };
static const struct section dead_section = { dead_keys, NULL };
static const struct section override_section = { override_keys, NULL };
static const struct section handlers_section = { handlers_keys, NULL };
static const struct section locks_section = { locks_keys, NULL };
static const struct section rule_section = { rule_keys, check_rule };
static const struct section expirations_section = { expirations_keys, NULL };
static const struct section source_section = { source_keys, check_source };
static const struct section log_section = { log_keys, NULL };
static const struct section metrics_section = { metrics_keys, NULL };

static const struct key root_keys[] = {
	{ .name = "redis", .type = &T_SECTION, .aux = &redis_section },
	{ .name = "namespace", .type = &T_NAMESPACE, .off = C(namespace),
	  .def_str = "deferd" },
	{ .name = "queues", .type = &T_QUEUES },
	{ .name = "concurrency", .type = &T_INT, .off = C(concurrency),
	  .min = 1, .max = 10000, .def = 8 },
	{ .name = "poll_interval", .type = &T_DURATION, .off = C(poll_interval_ms),
	  .min = 10, .max = HOUR, .def = SEC },
	{ .name = "lease", .type = &T_DURATION, .off = C(lease_ms),
	  .min = SEC, .max = NO_MAX, .def = 30 * SEC },
	{ .name = "shutdown_timeout", .type = &T_DURATION, .off = C(shutdown_timeout_ms),
	  .max = NO_MAX, .def = 25 * SEC },
	{ .name = "retry", .type = &T_SECTION, .aux = &retry_section },
	{ .name = "results", .type = &T_SECTION, .aux = &results_section },
	{ .name = "dead", .type = &T_SECTION, .aux = &dead_section },
	{ .name = "handlers", .type = &T_SECTION, .aux = &handlers_section },
	{ .name = "locks", .type = &T_SECTION, .aux = &locks_section },
	{ .name = "expirations", .type = &T_SECTION, .aux = &expirations_section },
	{ .name = "sources", .type = &T_SOURCES },
	{ .name = "log", .type = &T_SECTION, .aux = &log_section },
	{ .name = "metrics", .type = &T_SECTION, .aux = &metrics_section },
	{ .name = "events", .type = &T_BOOL, .off = C(events), .def = 1 },
	{ .name = NULL }
};

static const struct section root_section = { root_keys, check_root };

/* Store "NAME:LINE:COL: message" (no position when line is 0); returns -1. */
static int
cfg_error_at(struct ctx *ctx, size_t line, size_t col, const char *fmt, ...)
{
	char	msg[768];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx->err == NULL || ctx->errlen == 0)
		return (-1);
	if (line == 0)
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->name, msg);
	else
		snprintf(ctx->err, ctx->errlen, "%s:%zu:%zu: %s", ctx->name, line,
		    col, msg);
	return (-1);
}

/* An error at node n (or without position if n is NULL); returns -1. */
static int
cfg_error(struct ctx *ctx, const struct ynode *n, const char *fmt, ...)
{
	char	msg[768];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return (cfg_error_at(ctx, n != NULL ? n->line : 0, n != NULL ? n->col : 0,
	    "%s", msg));
}

/* An error at n prefixed with the dotted key being parsed; returns -1. */
static int
key_error(struct ctx *ctx, const struct ynode *n, const char *fmt, ...)
{
	char	msg[768];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx->path[0] == '\0')
		return (cfg_error(ctx, n, "%s", msg));
	return (cfg_error(ctx, n, "%s: %s", ctx->path, msg));
}

/* Escape untrusted text from the file for a message (truncated). */
static const char *
esc(const char *s, char *buf, size_t len)
{
	return (util_escape(s, strlen(s), buf, len));
}

/* Describe what a node holds: 'text', a mapping, a list or nothing. */
static const char *
found(const struct ynode *n, char *buf, size_t len)
{
	char	tmp[72];

	if (n->type == YN_MAP)
		return ("a mapping");
	if (n->type == YN_SEQ)
		return ("a list");
	if (n->plain && n->value[0] == '\0')
		return ("nothing");
	snprintf(buf, len, "'%s'", esc(n->value, tmp, sizeof(tmp)));
	return (buf);
}

/* "KEY: expected WHAT, got FOUND"; returns -1. */
static int
type_error(struct ctx *ctx, const struct ynode *n, const char *what)
{
	char	buf[80];

	return (key_error(ctx, n, "expected %s, got %s", what,
	    found(n, buf, sizeof(buf))));
}

/* Write a bound in the unit the user writes it in. */
static void
fmt_bound(enum bound_unit unit, int64_t v, char *buf, size_t len)
{
	if (unit == BOUND_DURATION)
		units_format_duration(v, buf, len);
	else if (unit == BOUND_SIZE && v != 0 && v % MIB == 0)
		snprintf(buf, len, "%" PRId64 "MiB", v / MIB);
	else if (unit == BOUND_SIZE && v != 0 && v % KIB == 0)
		snprintf(buf, len, "%" PRId64 "KiB", v / KIB);
	else
		snprintf(buf, len, "%" PRId64, v);
}

/* "KEY: must be between MIN and MAX, got VALUE" (or at least / at most). */
static int
range_error(struct ctx *ctx, const struct key *k, const struct ynode *n,
    enum bound_unit unit)
{
	char	lo[32], hi[32], v[72];

	fmt_bound(unit, k->min, lo, sizeof(lo));
	fmt_bound(unit, k->max, hi, sizeof(hi));
	esc(n->value, v, sizeof(v));
	if (k->max == NO_MAX)
		return (key_error(ctx, n, "must be at least %s, got %s", lo, v));
	if (k->min == 0 && unit != BOUND_INT)
		return (key_error(ctx, n, "must be at most %s, got %s", hi, v));
	return (key_error(ctx, n, "must be between %s and %s, got %s", lo, hi, v));
}

/* Append ".name" (or "name" at the top) to the key path; returns the old length. */
static size_t
path_push(struct ctx *ctx, const char *name)
{
	size_t	len = strlen(ctx->path);

	snprintf(ctx->path + len, sizeof(ctx->path) - len, "%s%s",
	    len > 0 ? "." : "", name);
	return (len);
}

/* Append "[i]" to the key path; returns the old length. */
static size_t
path_push_index(struct ctx *ctx, size_t i)
{
	size_t	len = strlen(ctx->path);

	snprintf(ctx->path + len, sizeof(ctx->path) - len, "[%zu]", i);
	return (len);
}

/* Cut the key path back to len. */
static void
path_pop(struct ctx *ctx, size_t len)
{
	ctx->path[len] = '\0';
}

/* A new empty node positioned at mark. */
static struct ynode *
node_new(enum ynode_type type, const yaml_mark_t *mark)
{
	struct ynode	*n = xcalloc(1, sizeof(*n));

	n->type = type;
	n->line = mark->line + 1;
	n->col = mark->column + 1;
	return (n);
}

/* Free a node and everything below it (depth is capped at CONFIG_MAX_DEPTH). */
static void
node_free(struct ynode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nitems; i++)
		node_free(n->items[i]);
	free(n->items);
	free(n->value);
	free(n);
}

/* Add child to the end of a collection. */
static void
node_append(struct ynode *parent, struct ynode *child)
{
	parent->items = xreallocarray(parent->items, parent->nitems + 1,
	    sizeof(*parent->items));
	parent->items[parent->nitems++] = child;
}

/* Hang n under the open collection (or make it the root); open it if open. */
static int
tree_add(struct ctx *ctx, struct ynode *n, const yaml_mark_t *mark, int open)
{
	if (open && ctx->depth == CONFIG_MAX_DEPTH) {
		node_free(n);
		return (cfg_error_at(ctx, mark->line + 1, mark->column + 1,
		    "nesting deeper than %d levels is not supported",
		    CONFIG_MAX_DEPTH));
	}
	if (ctx->depth == 0)
		ctx->root = n;
	else
		node_append(ctx->stack[ctx->depth - 1], n);
	if (open)
		ctx->stack[ctx->depth++] = n;
	return (0);
}

/* Add a scalar event to the tree. */
static int
tree_scalar(struct ctx *ctx, const yaml_event_t *ev)
{
	const char	*v = (const char *)ev->data.scalar.value;
	size_t		 len = ev->data.scalar.length;
	struct ynode	*n;

	if (memchr(v, '\0', len) != NULL)
		return (cfg_error_at(ctx, ev->start_mark.line + 1,
		    ev->start_mark.column + 1, "NUL characters are not allowed"));
	n = node_new(YN_SCALAR, &ev->start_mark);
	n->value = xstrndup(v, len);
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return (tree_add(ctx, n, &ev->start_mark, 0));
}

/* Apply one parser event to the tree under construction. */
static int
tree_event(struct ctx *ctx, const yaml_event_t *ev)
{
	const yaml_mark_t	*m = &ev->start_mark;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (ctx->ndocs++ > 0)
			return (cfg_error_at(ctx, m->line + 1, m->column + 1,
			    "only one YAML document is allowed"));
		return (0);
	case YAML_ALIAS_EVENT:
		break;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor != NULL)
			break;
		return (tree_scalar(ctx, ev));
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor != NULL)
			break;
		return (tree_add(ctx, node_new(YN_MAP, m), m, 1));
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor != NULL)
			break;
		return (tree_add(ctx, node_new(YN_SEQ, m), m, 1));
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		ctx->depth--;
		return (0);
	default:
		return (0);
	}
	return (cfg_error_at(ctx, m->line + 1, m->column + 1,
	    "aliases and anchors are not supported"));
}

/* Report a libyaml error: "YAML syntax error: problem (context)". */
static int
tree_syntax_error(struct ctx *ctx, const yaml_parser_t *p, const char *text,
    size_t len)
{
	const char	*problem = p->problem != NULL ? p->problem : "unknown error";
	size_t		 line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;

	if (p->error == YAML_MEMORY_ERROR)
		return (cfg_error_at(ctx, 0, 0, "out of memory"));
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		line = 1;
		col = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++, col++)
			if (text[i] == '\n') {
				line++;
				col = 0;
			}
	}
	if (p->context != NULL)
		return (cfg_error_at(ctx, line, col, "YAML syntax error: %s (%s)",
		    problem, p->context));
	return (cfg_error_at(ctx, line, col, "YAML syntax error: %s", problem));
}

/* Parse text into ctx->root (NULL for an empty stream). */
static int
tree_build(struct ctx *ctx, const char *text, size_t len)
{
	yaml_parser_t	p;
	yaml_event_t	ev;
	int		rc = 0, done = 0;

	if (!yaml_parser_initialize(&p))
		return (cfg_error_at(ctx, 0, 0, "out of memory"));
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (rc == 0 && !done) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = tree_syntax_error(ctx, &p, text, len);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = tree_event(ctx, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return (rc);
}

/* The value of key in mapping n, or NULL (n may be NULL or not a mapping). */
static const struct ynode *
ymap_get(const struct ynode *n, const char *key)
{
	if (n == NULL || n->type != YN_MAP)
		return (NULL);
	for (size_t i = 0; i + 1 < n->nitems; i += 2)
		if (n->items[i]->type == YN_SCALAR &&
		    strcmp(n->items[i]->value, key) == 0)
			return (n->items[i + 1]);
	return (NULL);
}

/* Item i of sequence n, or NULL. */
static const struct ynode *
yseq_at(const struct ynode *n, size_t i)
{
	if (n == NULL || n->type != YN_SEQ || i >= n->nitems)
		return (NULL);
	return (n->items[i]);
}

/* Whether n is a YAML null: an empty plain scalar, ~ or null. */
static bool
is_null(const struct ynode *n)
{
	return (n->type == YN_SCALAR && n->plain && (n->value[0] == '\0' ||
	    strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
	    strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0));
}

/* Levenshtein distance ignoring case; SIZE_MAX for over-long strings. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), row[CONFIG_MAX_KEY + 1];

	if (la > CONFIG_MAX_KEY || lb > CONFIG_MAX_KEY)
		return (SIZE_MAX);
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t	diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t	up = row[j], best = diag +
			    (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return (row[lb]);
}

/* The known key nearest to name (distance <= 2, or a case change), or NULL. */
static const char *
suggest(const struct key *keys, const char *name)
{
	const char	*best = NULL;
	size_t		 bestd = 3, len = strlen(name);

	for (const struct key *k = keys; k->name != NULL; k++) {
		size_t	d = edit_distance(name, k->name);

		if (d < bestd && (d < len || d == 0)) {
			best = k->name;
			bestd = d;
		}
	}
	return (best);
}

/* "unknown key 'a.b'; did you mean 'a.c'?" at the key node; returns -1. */
static int
unknown_key(struct ctx *ctx, const struct key *keys, const struct ynode *k)
{
	const char	*near = suggest(keys, k->value);
	const char	*dot = ctx->path[0] != '\0' ? "." : "";
	char		 buf[72];

	if (near == NULL)
		return (cfg_error(ctx, k, "unknown key '%s%s%s'", ctx->path, dot,
		    esc(k->value, buf, sizeof(buf))));
	return (cfg_error(ctx, k, "unknown key '%s%s%s'; did you mean '%s%s%s'?",
	    ctx->path, dot, esc(k->value, buf, sizeof(buf)), ctx->path, dot, near));
}

/* Check that key i of map is a string and not a repeat of an earlier key. */
static int
check_key(struct ctx *ctx, const struct ynode *map, size_t i)
{
	const struct ynode	*k = map->items[i];
	const char		*dot = ctx->path[0] != '\0' ? "." : "";
	char			 buf[80];

	if (k->type != YN_SCALAR)
		return (key_error(ctx, k, "a key must be a string, got %s",
		    found(k, buf, sizeof(buf))));
	for (size_t j = 0; j < i; j += 2)
		if (strcmp(map->items[j]->value, k->value) == 0)
			return (cfg_error(ctx, k, "duplicate key '%s%s%s' (first "
			    "given at line %zu)", ctx->path, dot,
			    esc(k->value, buf, sizeof(buf)), map->items[j]->line));
	return (0);
}

/*
 * Parse mapping n against sec into base (a null value counts as an empty
 * mapping), then run the section's check.
 */
static int
walk_map(struct ctx *ctx, const struct section *sec, const struct ynode *n,
    void *base)
{
	if (n != NULL && !is_null(n) && n->type != YN_MAP)
		return (type_error(ctx, n, WHAT_MAP));
	for (size_t i = 0; n != NULL && n->type == YN_MAP && i < n->nitems; i += 2) {
		const struct ynode	*k = n->items[i];
		const struct key	*key;
		size_t			 len;
		int			 rc;

		if (check_key(ctx, n, i) == -1)
			return (-1);
		for (key = sec->keys; key->name != NULL; key++)
			if (strcmp(key->name, k->value) == 0)
				break;
		if (key->name == NULL)
			return (unknown_key(ctx, sec->keys, k));
		len = path_push(ctx, key->name);
		rc = key->type->parse(ctx, key, n->items[i + 1], (char *)base + key->off);
		path_pop(ctx, len);
		if (rc == -1)
			return (-1);
	}
	return (sec->check != NULL ? sec->check(ctx, n, base) : 0);
}

/* Store the defaults of every key in the table into base. */
static void
apply_defaults(const struct key *keys, void *base)
{
	for (const struct key *k = keys; k->name != NULL; k++)
		k->type->init(k, (char *)base + k->off);
}

/* No default to store: the zeroed struct is the default. */
static void
init_none(const struct key *k, void *dst)
{
	(void)k;
	(void)dst;
}

/* Default for an int (or enum) field. */
static void
init_int(const struct key *k, void *dst)
{
	*(int *)dst = (int)k->def;
}

/* Default for an int64_t field (durations, counts). */
static void
init_i64(const struct key *k, void *dst)
{
	*(int64_t *)dst = k->def;
}

/* Default for a uint64_t field (sizes). */
static void
init_u64(const struct key *k, void *dst)
{
	*(uint64_t *)dst = (uint64_t)k->def;
}

/* Default for a bool field. */
static void
init_bool(const struct key *k, void *dst)
{
	*(bool *)dst = k->def != 0;
}

/* Default for a string field: a copy of def_str, or NULL. */
static void
init_str(const struct key *k, void *dst)
{
	*(char **)dst = k->def_str != NULL ? xstrdup(k->def_str) : NULL;
}

/* Defaults of a nested section (its keys share the section's base). */
static void
init_section(const struct key *k, void *dst)
{
	apply_defaults(((const struct section *)k->aux)->keys, dst);
}

/* Default queues: ["default"]. */
static void
init_queues(const struct key *k, void *dst)
{
	struct config	*c = dst;

	(void)k;
	c->queues = xcalloc(1, sizeof(*c->queues));
	c->queues[0] = xstrdup("default");
	c->nqueues = 1;
}

/* The text of a scalar node, or NULL after a type error naming what. */
static const char *
scalar(struct ctx *ctx, const struct ynode *n, const char *what)
{
	if (n->type != YN_SCALAR) {
		type_error(ctx, n, what);
		return (NULL);
	}
	return (n->value);
}

/* Parse [-]digits; clamps on overflow so that range checks catch it. */
static int
parse_decimal(const char *s, int64_t *out)
{
	int		neg = *s == '-';
	uint64_t	v = 0;

	s += neg;
	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return (-1);
		if (v <= (uint64_t)INT64_MAX)
			v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		v = (uint64_t)INT64_MAX;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return (0);
}

/* An int within the key's bounds. */
static int
parse_int(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	int64_t	v = 0;

	if (parse_i64(ctx, k, n, &v) == -1)
		return (-1);
	*(int *)dst = (int)v;
	return (0);
}

/* An int64_t within the key's bounds (the bounds of int fields fit an int). */
static int
parse_i64(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	const char	*s;
	int64_t		 v;

	if ((s = scalar(ctx, n, WHAT_INT)) == NULL)
		return (-1);
	if (parse_decimal(s, &v) == -1)
		return (type_error(ctx, n, WHAT_INT));
	if (v < k->min || v > k->max)
		return (range_error(ctx, k, n, BOUND_INT));
	*(int64_t *)dst = v;
	return (0);
}

/* A duration (units_parse_duration) within the key's bounds, in ms. */
static int
parse_duration(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	const char	*s;
	int64_t		 ms;
	char		 buf[72];

	if ((s = scalar(ctx, n, WHAT_DURATION)) == NULL)
		return (-1);
	if (units_parse_duration(s, &ms) == -1)
		return (errno == ERANGE ? key_error(ctx, n, "'%s' is too long",
		    esc(s, buf, sizeof(buf))) : type_error(ctx, n, WHAT_DURATION));
	if (ms < k->min || ms > k->max)
		return (range_error(ctx, k, n, BOUND_DURATION));
	*(int64_t *)dst = ms;
	return (0);
}

/* A size (units_parse_size) within the key's bounds, in bytes. */
static int
parse_size(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	const char	*s;
	uint64_t	 b;

	if ((s = scalar(ctx, n, WHAT_SIZE)) == NULL)
		return (-1);
	if (units_parse_size(s, &b) == -1 && errno != ERANGE)
		return (type_error(ctx, n, WHAT_SIZE));
	if (units_parse_size(s, &b) == -1 || b > (uint64_t)k->max)
		return (range_error(ctx, k, n, BOUND_SIZE));
	*(uint64_t *)dst = b;
	return (0);
}

/* Look s up in words; the value, or -1 (no table here uses -1 as a value). */
static int
word_value(const struct word *words, const char *s)
{
	for (const struct word *w = words; w->name != NULL; w++)
		if (strcmp(w->name, s) == 0)
			return (w->value);
	return (-1);
}

/* "a, b or c" from a word table into buf. */
static const char *
word_list(const struct word *words, char *buf, size_t len)
{
	size_t	o = 0;

	buf[0] = '\0';
	for (const struct word *w = words; w->name != NULL && o < len; w++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
		    w == words ? "" : w[1].name == NULL ? " or " : ", ", w->name);
	return (buf);
}

/* true/false, also yes/no and on/off. */
static int
parse_bool(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	int	v;

	(void)k;
	if (n->type != YN_SCALAR || (v = word_value(bool_words, n->value)) == -1)
		return (type_error(ctx, n, WHAT_BOOL));
	*(bool *)dst = v != 0;
	return (0);
}

/* One of the words in k->aux, stored as an int (enum). */
static int
parse_enum(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	char	what[96];
	int	v;

	if (n->type != YN_SCALAR || (v = word_value(k->aux, n->value)) == -1)
		return (type_error(ctx, n, word_list(k->aux, what, sizeof(what))));
	*(int *)dst = v;
	return (0);
}

/* A log level, through log_level_parse. */
static int
parse_level(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	int	v;

	(void)k;
	if (n->type != YN_SCALAR || (v = log_level_parse(n->value)) == -1)
		return (type_error(ctx, n, WHAT_LEVEL));
	*(int *)dst = v;
	return (0);
}

/* A zset source's score unit: s (1000 ms) or ms (1). */
static int
parse_score_unit(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	char	what[32];
	int	v;

	if (n->type != YN_SCALAR || (v = word_value(k->aux, n->value)) == -1)
		return (type_error(ctx, n, word_list(k->aux, what, sizeof(what))));
	*(int64_t *)dst = v;
	return (0);
}

/* Replace the string at *p with a copy of s (or NULL). */
static void
set_str(char **p, const char *s)
{
	free(*p);
	*p = s != NULL ? xstrdup(s) : NULL;
}

/* A non-empty string. */
static int
parse_str(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	const char	*s;

	(void)k;
	if ((s = scalar(ctx, n, WHAT_STRING)) == NULL)
		return (-1);
	if (*s == '\0')
		return (key_error(ctx, n, "must not be empty"));
	set_str(dst, s);
	return (0);
}

/* A string, or NULL when null or empty. */
static int
parse_optstr(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	const char	*s;

	(void)k;
	if ((s = scalar(ctx, n, WHAT_STRING)) == NULL)
		return (-1);
	set_str(dst, is_null(n) || *s == '\0' ? NULL : s);
	return (0);
}

/* The absolute directory of the config file, computed once; NULL on error. */
static const char *
basedir(struct ctx *ctx)
{
	const char	*slash = strrchr(ctx->name, '/');
	char		*cwd;

	if (ctx->basedir != NULL)
		return (ctx->basedir);
	if (ctx->name[0] == '/') {
		ctx->basedir = xstrndup(ctx->name, slash == ctx->name ? 1 :
		    (size_t)(slash - ctx->name));
		return (ctx->basedir);
	}
	if ((cwd = getcwd(NULL, 0)) == NULL)
		return (NULL);
	if (slash == NULL)
		ctx->basedir = xstrdup(cwd);
	else
		xasprintf(&ctx->basedir, "%s%s%.*s", cwd,
		    strcmp(cwd, "/") == 0 ? "" : "/", (int)(slash - ctx->name),
		    ctx->name);
	free(cwd);
	return (ctx->basedir);
}

/* A path, made absolute against the config file's directory. */
static int
parse_path(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	const char	*s, *dir;
	char		*abs;

	if ((s = scalar(ctx, n, "a path")) == NULL)
		return (-1);
	if ((is_null(n) || *s == '\0') && k->def_str == NULL) {
		set_str(dst, NULL);
		return (0);
	}
	if (is_null(n) || *s == '\0')
		return (key_error(ctx, n, "must not be empty"));
	if (*s == '/') {
		set_str(dst, s);
		return (0);
	}
	if ((dir = basedir(ctx)) == NULL)
		return (key_error(ctx, n, "cannot resolve a relative path: %s",
		    strerror(errno)));
	xasprintf(&abs, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", s);
	free(*(char **)dst);
	*(char **)dst = abs;
	return (0);
}

/* The key namespace: non-empty, no braces (hash tags) or whitespace. */
static int
parse_namespace(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	const char	*s;

	(void)k;
	if ((s = scalar(ctx, n, WHAT_NAMESPACE)) == NULL)
		return (-1);
	if (*s == '\0' || is_null(n))
		return (key_error(ctx, n, "must not be empty"));
	for (const char *p = s; *p != '\0'; p++)
		if (*p == '{' || *p == '}' || isspace((unsigned char)*p) ||
		    iscntrl((unsigned char)*p))
			return (type_error(ctx, n, WHAT_NAMESPACE));
	set_str(dst, s);
	return (0);
}

/* A handler name (util_valid_handler_name). */
static int
parse_handler(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	(void)k;
	if (n->type != YN_SCALAR ||
	    !util_valid_handler_name(n->value, strlen(n->value)))
		return (type_error(ctx, n, WHAT_HANDLER));
	set_str(dst, n->value);
	return (0);
}

/* An optional queue name; whether it is one of queues is checked at the end. */
static int
parse_qname(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	(void)k;
	if (is_null(n)) {
		set_str(dst, NULL);
		return (0);
	}
	if (n->type != YN_SCALAR || !util_valid_queue_name(n->value))
		return (type_error(ctx, n, WHAT_QUEUE));
	set_str(dst, n->value);
	return (0);
}

/* "host:port" or "[v6]:port" with a port of 1-65535. */
static bool
valid_listen(const char *s)
{
	const char	*colon = strrchr(s, ':');
	int64_t		 port;

	if (colon == NULL || colon == s || parse_decimal(colon + 1, &port) == -1 ||
	    colon[1] == '-' || port < 1 || port > 65535)
		return (false);
	if (s[0] == '[')
		return (colon - s > 2 && colon[-1] == ']');
	return (memchr(s, ':', (size_t)(colon - s)) == NULL);
}

/* metrics.listen: host:port, or null for off. */
static int
parse_listen(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	(void)k;
	if (is_null(n)) {
		set_str(dst, NULL);
		return (0);
	}
	if (n->type != YN_SCALAR || !valid_listen(n->value))
		return (type_error(ctx, n, WHAT_LISTEN));
	set_str(dst, n->value);
	return (0);
}

/* A nested mapping whose keys are stored relative to the same base. */
static int
parse_section(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	return (walk_map(ctx, k->aux, n, dst));
}

/* Append one item of queues: valid and not a repeat. */
static int
queue_item(struct ctx *ctx, const struct ynode *n)
{
	struct config	*c = ctx->config;
	char		 buf[72];

	if (n->type != YN_SCALAR || !util_valid_queue_name(n->value))
		return (type_error(ctx, n, WHAT_QUEUE));
	if (has_queue(c, n->value))
		return (key_error(ctx, n, "duplicate queue '%s'",
		    esc(n->value, buf, sizeof(buf))));
	c->queues[c->nqueues++] = xstrdup(n->value);
	return (0);
}

/* queues: a non-empty list of distinct queue names. */
static int
parse_queues(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	struct config	*c = ctx->config;

	(void)k;
	(void)dst;
	if (!is_null(n) && n->type != YN_SEQ)
		return (type_error(ctx, n, "a list of queue names"));
	if (is_null(n) || n->nitems == 0)
		return (key_error(ctx, n, "must name at least one queue"));
	for (size_t i = 0; i < c->nqueues; i++)
		free(c->queues[i]);
	free(c->queues);
	c->queues = xcalloc(n->nitems, sizeof(*c->queues));
	c->nqueues = 0;
	for (size_t i = 0; i < n->nitems; i++) {
		size_t	len = path_push_index(ctx, i);
		int	rc = queue_item(ctx, n->items[i]);

		path_pop(ctx, len);
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

/* One handlers.environment entry: NAME (not DEFERD_*) to a string. */
static int
env_item(struct ctx *ctx, const struct ynode *k, const struct ynode *v)
{
	struct config	*c = ctx->config;
	struct env_var	*e;
	char		 buf[72];
	size_t		 len;
	int		 rc = 0;

	if (!valid_env_name(k->value))
		return (type_error(ctx, k, WHAT_ENVNAME));
	if (strncmp(k->value, "DEFERD_", 7) == 0)
		return (key_error(ctx, k, "'%s' is reserved: deferd sets the "
		    "DEFERD_ variables itself", esc(k->value, buf, sizeof(buf))));
	len = path_push(ctx, k->value);
	if (v->type != YN_SCALAR)
		rc = type_error(ctx, v, WHAT_STRING);
	path_pop(ctx, len);
	if (rc == -1)
		return (-1);
	c->handlers.environment = xreallocarray(c->handlers.environment,
	    c->handlers.nenvironment + 1, sizeof(*c->handlers.environment));
	e = &c->handlers.environment[c->handlers.nenvironment++];
	e->name = xstrdup(k->value);
	e->value = xstrdup(is_null(v) ? "" : v->value);
	return (0);
}

/* handlers.environment: a mapping of variable names to strings. */
static int
parse_env(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	(void)k;
	(void)dst;
	if (is_null(n))
		return (0);
	if (n->type != YN_MAP)
		return (type_error(ctx, n, "a mapping of variable names to strings"));
	for (size_t i = 0; i < n->nitems; i += 2)
		if (check_key(ctx, n, i) == -1 ||
		    env_item(ctx, n->items[i], n->items[i + 1]) == -1)
			return (-1);
	return (0);
}

/* One handlers.overrides entry: a handler name to its settings. */
static int
override_item(struct ctx *ctx, const struct ynode *k, const struct ynode *v)
{
	struct config		*c = ctx->config;
	struct handler_override	*o;
	size_t			 len;
	int			 rc;

	if (!util_valid_handler_name(k->value, strlen(k->value)))
		return (type_error(ctx, k, WHAT_HANDLER));
	c->handlers.overrides = xreallocarray(c->handlers.overrides,
	    c->handlers.noverrides + 1, sizeof(*c->handlers.overrides));
	o = &c->handlers.overrides[c->handlers.noverrides++];
	memset(o, 0, sizeof(*o));
	apply_defaults(override_keys, o);
	o->name = xstrdup(k->value);
	len = path_push(ctx, k->value);
	rc = walk_map(ctx, &override_section, v, o);
	path_pop(ctx, len);
	return (rc);
}

/* handlers.overrides: a mapping of handler names to per-handler settings. */
static int
parse_overrides(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	(void)k;
	(void)dst;
	if (is_null(n))
		return (0);
	if (n->type != YN_MAP)
		return (type_error(ctx, n, "a mapping of handler names to settings"));
	for (size_t i = 0; i < n->nitems; i += 2)
		if (check_key(ctx, n, i) == -1 ||
		    override_item(ctx, n->items[i], n->items[i + 1]) == -1)
			return (-1);
	return (0);
}

/* expirations.rules: a list of rule mappings. */
static int
parse_rules(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	struct config	*c = ctx->config;

	(void)k;
	(void)dst;
	if (is_null(n))
		return (0);
	if (n->type != YN_SEQ)
		return (type_error(ctx, n, "a list of rules"));
	for (size_t i = 0; i < n->nitems; i++) {
		struct expiration_rule	*r;
		size_t			 len;
		int			 rc;

		c->expirations.rules = xreallocarray(c->expirations.rules,
		    c->expirations.nrules + 1, sizeof(*c->expirations.rules));
		r = &c->expirations.rules[c->expirations.nrules++];
		memset(r, 0, sizeof(*r));
		apply_defaults(rule_keys, r);
		len = path_push_index(ctx, i);
		rc = walk_map(ctx, &rule_section, n->items[i], r);
		path_pop(ctx, len);
		if (rc == -1)
			return (-1);
	}
	return (0);
}

/* sources: a list of source mappings. */
static int
parse_sources(struct ctx *ctx, const struct key *k, const struct ynode *n,
    void *dst)
{
	struct config	*c = ctx->config;

	(void)k;
	(void)dst;
	if (is_null(n))
		return (0);
	if (n->type != YN_SEQ)
		return (type_error(ctx, n, "a list of sources"));
	for (size_t i = 0; i < n->nitems; i++) {
		struct source	*s;
		size_t		 len;
		int		 rc;

		c->sources = xreallocarray(c->sources, c->nsources + 1,
		    sizeof(*c->sources));
		s = &c->sources[c->nsources++];
		memset(s, 0, sizeof(*s));
		apply_defaults(source_keys, s);
		len = path_push_index(ctx, i);
		rc = walk_map(ctx, &source_section, n->items[i], s);
		path_pop(ctx, len);
		if (rc == -1)
			return (-1);
	}
	return (0);
}

/* zset:, list:, channel: or pattern: of a source (dst is the source). */
static int
parse_kind(struct ctx *ctx, const struct key *k, const struct ynode *n, void *dst)
{
	struct source		*s = dst;
	const struct kind	*kd = k->aux;

	if (s->name != NULL)
		return (key_error(ctx, n, "give only one of " KINDS));
	if (n->type != YN_SCALAR || is_null(n) || n->value[0] == '\0')
		return (type_error(ctx, n, "a key or channel name"));
	s->kind = kd->kind;
	s->is_pattern = kd->is_pattern;
	s->name = xstrdup(n->value);
	return (0);
}

/* retry: backoff must not exceed backoff_max. */
static int
check_retry(struct ctx *ctx, const struct ynode *n, void *base)
{
	const struct config	*c = base;
	const struct ynode	*at = ymap_get(n, "backoff");
	char			 a[32], b[32];

	if (c->retry.backoff_ms <= c->retry.backoff_max_ms)
		return (0);
	if (at == NULL)
		at = ymap_get(n, "backoff_max");
	units_format_duration(c->retry.backoff_ms, a, sizeof(a));
	units_format_duration(c->retry.backoff_max_ms, b, sizeof(b));
	return (cfg_error(ctx, at, "retry.backoff (%s) must not be greater than "
	    "retry.backoff_max (%s)", a, b));
}

/* A rule needs a pattern and a handler. */
static int
check_rule(struct ctx *ctx, const struct ynode *n, void *base)
{
	const struct expiration_rule	*r = base;

	if (r->pattern == NULL)
		return (key_error(ctx, n, "pattern is required"));
	if (r->handler == NULL)
		return (key_error(ctx, n, "handler is required"));
	return (0);
}

/* A source needs exactly one kind and a handler; score_unit is for zset only. */
static int
check_source(struct ctx *ctx, const struct ynode *n, void *base)
{
	const struct source	*s = base;
	const struct ynode	*unit = ymap_get(n, "score_unit");
	size_t			 len;

	if (s->name == NULL)
		return (key_error(ctx, n, "one of " KINDS " is required"));
	if (s->handler == NULL)
		return (key_error(ctx, n, "handler is required"));
	if (unit != NULL && s->kind != SOURCE_ZSET) {
		len = path_push(ctx, "score_unit");
		key_error(ctx, unit, "applies only to zset sources");
		path_pop(ctx, len);
		return (-1);
	}
	return (0);
}

/* Whether name is one of the configured queues. */
static bool
has_queue(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nqueues; i++)
		if (strcmp(c->queues[i], name) == 0)
			return (true);
	return (false);
}

/* Item i of a list (under key what) names queue q: it must be configured. */
static int
check_queue_ref(struct ctx *ctx, const struct ynode *list, const char *what,
    size_t i, const char *q)
{
	char	buf[72];

	if (q == NULL || has_queue(ctx->config, q))
		return (0);
	return (cfg_error(ctx, ymap_get(yseq_at(list, i), "queue"),
	    "%s[%zu].queue: unknown queue '%s'; add it to queues", what, i,
	    esc(q, buf, sizeof(buf))));
}

/* Rules and sources may only name queues listed in queues. */
static int
check_queue_refs(struct ctx *ctx)
{
	const struct config	*c = ctx->config;
	const struct ynode	*rules, *sources;

	rules = ymap_get(ymap_get(ctx->root, "expirations"), "rules");
	sources = ymap_get(ctx->root, "sources");
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

/* Read the first line of redis.password_file into *out (never logged). */
static int
read_password(struct ctx *ctx, const struct ynode *at, char **out)
{
	const char	*path = ctx->config->redis.password_file;
	FILE		*f;
	char		*line = NULL, buf[72];
	size_t		 cap = 0;
	ssize_t		 n;

	if ((f = fopen(path, "r")) == NULL)
		return (cfg_error(ctx, at, "redis.password_file: cannot read "
		    "'%s': %s", esc(path, buf, sizeof(buf)), strerror(errno)));
	errno = 0;
	n = getline(&line, &cap, f);
	fclose(f);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n <= 0) {
		if (line != NULL)
			explicit_bzero(line, cap);
		free(line);
		return (cfg_error(ctx, at, "redis.password_file: cannot read "
		    "'%s': %s", esc(path, buf, sizeof(buf)),
		    errno != 0 ? strerror(errno) : "the file is empty"));
	}
	*out = xstrdup(line);
	explicit_bzero(line, cap);
	free(line);
	return (0);
}

/* Parse redis.url, then apply redis.username and redis.password_file. */
static int
finish_redis(struct ctx *ctx)
{
	struct config		*c = ctx->config;
	const struct ynode	*redis = ymap_get(ctx->root, "redis");
	struct redis_target	 t;
	char			*user = c->redis.target.username, *pass = NULL;
	char			 msg[256];

	c->redis.target.username = NULL;
	if (redisurl_parse(c->redis.url, &t, msg, sizeof(msg)) == -1) {
		free(user);
		return (cfg_error(ctx, ymap_get(redis, "url"), "redis.url: %s", msg));
	}
	if (c->redis.password_file != NULL &&
	    read_password(ctx, ymap_get(redis, "password_file"), &pass) == -1) {
		free(user);
		redisurl_clear(&t);
		return (-1);
	}
	if (user != NULL) {
		free(t.username);
		t.username = user;
	}
	if (pass != NULL) {
		if (t.password != NULL)
			explicit_bzero(t.password, strlen(t.password));
		free(t.password);
		t.password = pass;
	}
	redisurl_clear(&c->redis.target);
	c->redis.target = t;
	return (0);
}

/* After the whole file: cross-key checks, then Redis (which may resolve). */
static int
check_root(struct ctx *ctx, const struct ynode *n, void *base)
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
	struct ctx	 ctx;
	struct config	*c = xcalloc(1, sizeof(*c));
	int		 rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.name = name;
	ctx.err = err;
	ctx.errlen = errlen;
	ctx.config = c;
	c->path = xstrdup(name);
	apply_defaults(root_keys, c);
	rc = tree_build(&ctx, text, len);
	if (rc == 0 && ctx.root != NULL && !is_null(ctx.root) &&
	    ctx.root->type != YN_MAP) {
		char	buf[80];

		rc = cfg_error(&ctx, ctx.root, "expected a mapping at the top "
		    "level, got %s", found(ctx.root, buf, sizeof(buf)));
	}
	if (rc == 0)
		rc = walk_map(&ctx, &root_section, ctx.root, c);
	node_free(ctx.root);
	free(ctx.basedir);
	if (rc == -1) {
		config_free(c);
		return (NULL);
	}
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
	free(c->namespace);
	for (size_t i = 0; i < c->nqueues; i++)
		free(c->queues[i]);
	free(c->queues);
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
	free(c->metrics.listen);
	free(c);
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

/* The handler's concurrency: its override, else concurrency. */
int
config_handler_max_concurrency(const struct config *c, const char *handler)
{
	const struct handler_override	*o = config_override(c, handler);

	return (o != NULL && o->max_concurrency > 0 ? o->max_concurrency :
	    c->concurrency);
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
