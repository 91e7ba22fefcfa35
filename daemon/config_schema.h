/* SPDX-License-Identifier: MIT */
/*
 * The machinery of config.c's table-driven schema, shared by config.c and
 * config_schema.c only: the state of one load, key tables and value types,
 * walking a mapping node against a table, defaults, and error messages of
 * the form "FILE:LINE:COLUMN: key.path: problem". The tables themselves,
 * the list and mapping keys and the cross-key rules live in config.c.
 */
#ifndef DEFERD_CONFIG_SCHEMA_H
#define DEFERD_CONFIG_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "config_yaml.h"

struct config;

#define CS_WHAT_DURATION	"a duration like 500ms, 30s, 5m, 1h or 30d"
#define CS_WHAT_SIZE		"a size like 512KiB or 1MiB"
#define CS_WHAT_RATE		"a rate like 100/s, 30/m or 500/h"
#define CS_WHAT_INT		"an integer"
#define CS_WHAT_BOOL		"true or false"
#define CS_WHAT_STRING		"a string"
#define CS_WHAT_MAP		"a mapping"
#define CS_WHAT_LEVEL		"debug, info, warning or error"
#define CS_WHAT_HANDLER		"a handler name matching [A-Za-z0-9][A-Za-z0-9_.-]*"
#define CS_WHAT_QUEUE		"a queue name of 1-100 characters from [A-Za-z0-9_.:@-]"
#define CS_WHAT_LISTEN		"host:port with a port from 1 to 65535"
#define CS_WHAT_NAMESPACE	"a name without braces or whitespace"

/* The state of one load; config_load_string owns it and what it points to. */
struct cs_ctx {
	const char	*name;			/* file name for messages */
	char		*err;
	size_t		 errlen;
	char		 path[512];		/* dotted key being parsed */
	char		*basedir;		/* for relative paths, lazily */
	struct config	*config;
	struct cy_node	*root;			/* freed by the loader */
};

struct cs_key;
typedef int	(*cs_parse_fn)(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
typedef void	(*cs_init_fn)(const struct cs_key *, void *);

/* How one kind of value is parsed and defaulted. */
struct cs_type {
	cs_parse_fn	parse;
	cs_init_fn	init;
};

/* One known key: the schema table is an array of these per mapping. */
struct cs_key {
	const char		*name;
	const struct cs_type	*type;
	size_t			 off;		/* where it is stored, from the base */
	int64_t			 min;
	int64_t			 max;
	int64_t			 def;		/* numeric default */
	const char		*def_str;	/* string default */
	const void		*aux;		/* section, words or source kind */
};

/* A mapping's keys and the check run after all of them were read. */
struct cs_section {
	const struct cs_key	*keys;		/* ends with a NULL name */
	int			(*check)(struct cs_ctx *,
				    const struct cy_node *, void *);
};

/* One word of an enum-like key (aux of cs_t_enum and cs_t_score_unit). */
struct cs_word {
	const char	*name;
	int		 value;
};

/*
 * Value types for key tables; "dst" is where key.off points. Strings are
 * copies the config owns. cs_t_section's aux is a struct cs_section whose
 * keys share the parent's base.
 */
extern const struct cs_type cs_t_int;		/* int within min..max */
extern const struct cs_type cs_t_int64;		/* int64_t within min..max */
extern const struct cs_type cs_t_duration;	/* int64_t ms within min..max */
extern const struct cs_type cs_t_size;		/* uint64_t bytes up to max */
extern const struct cs_type cs_t_rate;		/* struct handler_rate */
extern const struct cs_type cs_t_bool;
extern const struct cs_type cs_t_enum;		/* int, words in aux */
extern const struct cs_type cs_t_level;		/* enum log_level */
extern const struct cs_type cs_t_score_unit;	/* int64_t, words in aux */
extern const struct cs_type cs_t_str;		/* non-empty string */
extern const struct cs_type cs_t_optstr;	/* string or NULL */
extern const struct cs_type cs_t_path;		/* absolute path (or NULL) */
extern const struct cs_type cs_t_namespace;
extern const struct cs_type cs_t_handler;
extern const struct cs_type cs_t_qname;		/* queue name or NULL */
extern const struct cs_type cs_t_listen;	/* host:port or NULL */
extern const struct cs_type cs_t_section;

/* Error reporting: each stores the message in ctx->err and returns -1. */
int		 cs_error_at(struct cs_ctx *, size_t line, size_t col,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
int		 cs_error(struct cs_ctx *, const struct cy_node *, const char *,
		    ...) __attribute__((format(printf, 3, 4)));
int		 cs_key_error(struct cs_ctx *, const struct cy_node *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
int		 cs_type_error(struct cs_ctx *, const struct cy_node *,
		    const char *what);
/* The text of a scalar node, or NULL after a type error naming what. */
const char	*cs_scalar(struct cs_ctx *, const struct cy_node *, const char *what);
/* Untrusted text for a message, escaped and truncated into buf. */
const char	*cs_esc(const char *, char *buf, size_t len);
/* What a node holds, for "got ...": 'text', a mapping, a list or nothing. */
const char	*cs_found(const struct cy_node *, char *buf, size_t len);

/* The dotted key path: push returns the length to pop back to. */
size_t		 cs_path_push(struct cs_ctx *, const char *name);
size_t		 cs_path_push_index(struct cs_ctx *, size_t i);
void		 cs_path_pop(struct cs_ctx *, size_t len);

/* Every key of map must be a string, and none may repeat another. */
int		 cs_check_keys(struct cs_ctx *, const struct cy_node *map);
/* Parse mapping n (NULL or null: empty) against sec into base, then check. */
int		 cs_walk_map(struct cs_ctx *, const struct cs_section *sec,
		    const struct cy_node *n, void *base);
/*
 * A list of mappings (null: none; else what is expected, e.g. "a list of
 * rules"), each parsed against sec into a new zeroed element of *items
 * (size bytes each, defaults applied), counted in *nitems; an element that
 * failed is counted too, so that the caller's free covers it.
 */
int		 cs_parse_list(struct cs_ctx *, const struct cy_node *n,
		    const char *what, const struct cs_section *sec, void **items,
		    size_t *nitems, size_t size);
/* Store the default of every key of a table into base. */
void		 cs_apply_defaults(const struct cs_key *keys, void *base);
/* The init of a type with no default of its own (the zeroed struct). */
void		 cs_init_none(const struct cs_key *, void *);

#endif
