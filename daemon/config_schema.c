/* SPDX-License-Identifier: MIT */
/*
 * The table-driven schema behind config.c (see config_schema.h): walking a
 * mapping node against a table of keys (unknown keys with a suggestion,
 * duplicate keys), defaults, the scalar value types with their bounds, and
 * every error message with its position and dotted key path. It knows no
 * key of deferd's own: the tables, the list and mapping keys and the
 * cross-key rules are in config.c.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_schema.h"
#include "config_yaml.h"
#include "units.h"
#include "util.h"
#include "xmalloc.h"

#define CS_MAX_KEY	64		/* longer keys get no suggestion */

#define KIB	INT64_C(1024)
#define MIB	(1024 * KIB)

enum bound_unit {
	BOUND_INT,
	BOUND_DURATION,
	BOUND_SIZE,
};

static int	 range_error(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, enum bound_unit);
static void	 fmt_bound(enum bound_unit, int64_t, char *, size_t);
static size_t	 edit_distance(const char *, const char *);
static const char *suggest(const struct cs_key *, const char *);
static int	 unknown_key(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *);

static void	 init_int(const struct cs_key *, void *);
static void	 init_i64(const struct cs_key *, void *);
static void	 init_u64(const struct cs_key *, void *);
static void	 init_bool(const struct cs_key *, void *);
static void	 init_str(const struct cs_key *, void *);
static void	 init_section(const struct cs_key *, void *);

static int	 parse_decimal(const char *, int64_t *);
static int	 parse_int(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_i64(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_duration(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_size(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_rate(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 word_value(const struct cs_word *, const char *);
static const char *word_list(const struct cs_word *, char *, size_t);
static int	 parse_bool(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_enum(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_level(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_score_unit(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static void	 set_str(char **, const char *);
static int	 parse_str(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_optstr(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static const char *basedir(struct cs_ctx *);
static int	 parse_path(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_namespace(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_handler(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_qname(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static bool	 valid_listen(const char *);
static int	 parse_listen(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	 parse_section(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);

const struct cs_type cs_t_int = { parse_int, init_int };
const struct cs_type cs_t_int64 = { parse_i64, init_i64 };
const struct cs_type cs_t_duration = { parse_duration, init_i64 };
const struct cs_type cs_t_size = { parse_size, init_u64 };
const struct cs_type cs_t_rate = { parse_rate, cs_init_none };
const struct cs_type cs_t_bool = { parse_bool, init_bool };
const struct cs_type cs_t_enum = { parse_enum, init_int };
const struct cs_type cs_t_level = { parse_level, init_int };
const struct cs_type cs_t_score_unit = { parse_score_unit, init_i64 };
const struct cs_type cs_t_str = { parse_str, init_str };
const struct cs_type cs_t_optstr = { parse_optstr, init_str };
const struct cs_type cs_t_path = { parse_path, init_str };
const struct cs_type cs_t_namespace = { parse_namespace, init_str };
const struct cs_type cs_t_handler = { parse_handler, init_str };
const struct cs_type cs_t_qname = { parse_qname, init_str };
const struct cs_type cs_t_listen = { parse_listen, init_str };
const struct cs_type cs_t_section = { parse_section, init_section };

static const struct cs_word bool_words[] = {
	{ "true", 1 }, { "yes", 1 }, { "on", 1 },
	{ "false", 0 }, { "no", 0 }, { "off", 0 }, { NULL, 0 }
};

/* Store "NAME:LINE:COL: message" (no position when line is 0); returns -1. */
int
cs_error_at(struct cs_ctx *ctx, size_t line, size_t col, const char *fmt, ...)
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
int
cs_error(struct cs_ctx *ctx, const struct cy_node *n, const char *fmt, ...)
{
	char	msg[768];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return (cs_error_at(ctx, n != NULL ? n->line : 0, n != NULL ? n->col : 0,
	    "%s", msg));
}

/* An error at n prefixed with the dotted key being parsed; returns -1. */
int
cs_key_error(struct cs_ctx *ctx, const struct cy_node *n, const char *fmt, ...)
{
	char	msg[768];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx->path[0] == '\0')
		return (cs_error(ctx, n, "%s", msg));
	return (cs_error(ctx, n, "%s: %s", ctx->path, msg));
}

/* Escape untrusted text from the file for a message (truncated). */
const char *
cs_esc(const char *s, char *buf, size_t len)
{
	return (util_escape(s, strlen(s), buf, len));
}

/* Describe what a node holds: 'text', a mapping, a list or nothing. */
const char *
cs_found(const struct cy_node *n, char *buf, size_t len)
{
	char	tmp[72];

	if (n->type == CY_MAP)
		return ("a mapping");
	if (n->type == CY_SEQ)
		return ("a list");
	if (n->plain && n->value[0] == '\0')
		return ("nothing");
	snprintf(buf, len, "'%s'", cs_esc(n->value, tmp, sizeof(tmp)));
	return (buf);
}

/* "KEY: expected WHAT, got FOUND"; returns -1. */
int
cs_type_error(struct cs_ctx *ctx, const struct cy_node *n, const char *what)
{
	char	buf[80];

	return (cs_key_error(ctx, n, "expected %s, got %s", what,
	    cs_found(n, buf, sizeof(buf))));
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
range_error(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    enum bound_unit unit)
{
	char	lo[32], hi[32], v[72];

	fmt_bound(unit, k->min, lo, sizeof(lo));
	fmt_bound(unit, k->max, hi, sizeof(hi));
	cs_esc(n->value, v, sizeof(v));
	if (k->min == 0 && unit != BOUND_INT)
		return (cs_key_error(ctx, n, "must be at most %s, got %s", hi, v));
	return (cs_key_error(ctx, n, "must be between %s and %s, got %s", lo, hi, v));
}

/* Append ".name" (or "name" at the top) to the key path; returns the old length. */
size_t
cs_path_push(struct cs_ctx *ctx, const char *name)
{
	size_t	len = strlen(ctx->path);

	snprintf(ctx->path + len, sizeof(ctx->path) - len, "%s%s",
	    len > 0 ? "." : "", name);
	return (len);
}

/* Append "[i]" to the key path; returns the old length. */
size_t
cs_path_push_index(struct cs_ctx *ctx, size_t i)
{
	size_t	len = strlen(ctx->path);

	snprintf(ctx->path + len, sizeof(ctx->path) - len, "[%zu]", i);
	return (len);
}

/* Cut the key path back to len. */
void
cs_path_pop(struct cs_ctx *ctx, size_t len)
{
	ctx->path[len] = '\0';
}

/* Levenshtein distance ignoring case; SIZE_MAX for over-long strings. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), row[CS_MAX_KEY + 1];

	if (la > CS_MAX_KEY || lb > CS_MAX_KEY)
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
suggest(const struct cs_key *keys, const char *name)
{
	const char	*best = NULL;
	size_t		 bestd = 3, len = strlen(name);

	for (const struct cs_key *k = keys; k->name != NULL; k++) {
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
unknown_key(struct cs_ctx *ctx, const struct cs_key *keys,
    const struct cy_node *k)
{
	const char	*near = suggest(keys, k->value);
	const char	*dot = ctx->path[0] != '\0' ? "." : "";
	char		 buf[72];

	if (near == NULL)
		return (cs_error(ctx, k, "unknown key '%s%s%s'", ctx->path, dot,
		    cs_esc(k->value, buf, sizeof(buf))));
	return (cs_error(ctx, k, "unknown key '%s%s%s'; did you mean '%s%s%s'?",
	    ctx->path, dot, cs_esc(k->value, buf, sizeof(buf)), ctx->path, dot, near));
}

/* Whether node a comes before node b in the file. */
static bool
node_before(const struct cy_node *a, const struct cy_node *b)
{
	return (a->line < b->line || (a->line == b->line && a->col < b->col));
}

/* qsort order of key nodes: by text, then by place in the file. */
static int
key_order(const void *pa, const void *pb)
{
	const struct cy_node	*a = *(const struct cy_node *const *)pa;
	const struct cy_node	*b = *(const struct cy_node *const *)pb;
	int			 c = strcmp(a->value, b->value);

	if (c != 0)
		return (c);
	return (node_before(a, b) ? -1 : node_before(b, a) ? 1 : 0);
}

/*
 * The first key of map (in file order) that repeats an earlier one, and in
 * *first that earlier one; NULL if none repeats. The keys are sorted, not
 * compared pairwise, so a map of 40,000 entries takes milliseconds.
 */
static const struct cy_node *
first_repeat(const struct cy_node *map, const struct cy_node **first)
{
	size_t			 n = map->nitems / 2, group = 0;
	const struct cy_node	**keys, *dup = NULL;

	if (n < 2)
		return (NULL);
	keys = xcalloc(n, sizeof(*keys));
	for (size_t i = 0; i < n; i++)
		keys[i] = map->items[2 * i];
	qsort(keys, n, sizeof(*keys), key_order);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(keys[i - 1]->value, keys[i]->value) != 0)
			group = i;
		else if (group == i - 1 && (dup == NULL || node_before(keys[i], dup))) {
			dup = keys[i];
			*first = keys[group];
		}
	}
	free(keys);
	return (dup);
}

/* Check that every key of map is a string and that none repeats. */
int
cs_check_keys(struct cs_ctx *ctx, const struct cy_node *map)
{
	const struct cy_node	*dup, *first = NULL;
	const char		*dot = ctx->path[0] != '\0' ? "." : "";
	char			 buf[80];

	for (size_t i = 0; i < map->nitems; i += 2)
		if (map->items[i]->type != CY_SCALAR)
			return (cs_key_error(ctx, map->items[i],
			    "a key must be a string, got %s",
			    cs_found(map->items[i], buf, sizeof(buf))));
	if ((dup = first_repeat(map, &first)) == NULL)
		return (0);
	return (cs_error(ctx, dup, "duplicate key '%s%s%s' (first given at "
	    "line %zu)", ctx->path, dot, cs_esc(dup->value, buf, sizeof(buf)),
	    first->line));
}

/*
 * Parse mapping n against sec into base (a null value counts as an empty
 * mapping), then run the section's check.
 */
int
cs_walk_map(struct cs_ctx *ctx, const struct cs_section *sec,
    const struct cy_node *n, void *base)
{
	if (n != NULL && !cy_is_null(n) && n->type != CY_MAP)
		return (cs_type_error(ctx, n, CS_WHAT_MAP));
	if (n != NULL && n->type == CY_MAP && cs_check_keys(ctx, n) == -1)
		return (-1);
	for (size_t i = 0; n != NULL && n->type == CY_MAP && i < n->nitems; i += 2) {
		const struct cy_node	*k = n->items[i];
		const struct cs_key	*key;
		size_t			 len;
		int			 rc;

		for (key = sec->keys; key->name != NULL; key++)
			if (strcmp(key->name, k->value) == 0)
				break;
		if (key->name == NULL)
			return (unknown_key(ctx, sec->keys, k));
		len = cs_path_push(ctx, key->name);
		rc = key->type->parse(ctx, key, n->items[i + 1], (char *)base + key->off);
		cs_path_pop(ctx, len);
		if (rc == -1)
			return (-1);
	}
	return (sec->check != NULL ? sec->check(ctx, n, base) : 0);
}

int
cs_parse_list(struct cs_ctx *ctx, const struct cy_node *n, const char *what,
    const struct cs_section *sec, void **items, size_t *nitems, size_t size)
{
	if (cy_is_null(n))
		return (0);
	if (n->type != CY_SEQ)
		return (cs_type_error(ctx, n, what));
	for (size_t i = 0; i < n->nitems; i++) {
		char	*item;
		size_t	 len;
		int	 rc;

		*items = xreallocarray(*items, *nitems + 1, size);
		item = (char *)*items + size * (*nitems)++;
		memset(item, 0, size);
		cs_apply_defaults(sec->keys, item);
		len = cs_path_push_index(ctx, i);
		rc = cs_walk_map(ctx, sec, n->items[i], item);
		cs_path_pop(ctx, len);
		if (rc == -1)
			return (-1);
	}
	return (0);
}

/* Store the defaults of every key in the table into base. */
void
cs_apply_defaults(const struct cs_key *keys, void *base)
{
	for (const struct cs_key *k = keys; k->name != NULL; k++)
		k->type->init(k, (char *)base + k->off);
}

/* No default to store: the zeroed struct is the default. */
void
cs_init_none(const struct cs_key *k, void *dst)
{
	(void)k;
	(void)dst;
}

/* Default for an int (or enum) field. */
static void
init_int(const struct cs_key *k, void *dst)
{
	*(int *)dst = (int)k->def;
}

/* Default for an int64_t field (durations, counts). */
static void
init_i64(const struct cs_key *k, void *dst)
{
	*(int64_t *)dst = k->def;
}

/* Default for a uint64_t field (sizes). */
static void
init_u64(const struct cs_key *k, void *dst)
{
	*(uint64_t *)dst = (uint64_t)k->def;
}

/* Default for a bool field. */
static void
init_bool(const struct cs_key *k, void *dst)
{
	*(bool *)dst = k->def != 0;
}

/* Default for a string field: a copy of def_str, or NULL. */
static void
init_str(const struct cs_key *k, void *dst)
{
	*(char **)dst = k->def_str != NULL ? xstrdup(k->def_str) : NULL;
}

/* Defaults of a nested section (its keys share the section's base). */
static void
init_section(const struct cs_key *k, void *dst)
{
	cs_apply_defaults(((const struct cs_section *)k->aux)->keys, dst);
}

/* The text of a scalar node, or NULL after a type error naming what. */
const char *
cs_scalar(struct cs_ctx *ctx, const struct cy_node *n, const char *what)
{
	if (n->type != CY_SCALAR) {
		cs_type_error(ctx, n, what);
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
parse_int(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	int64_t	v = 0;

	if (parse_i64(ctx, k, n, &v) == -1)
		return (-1);
	*(int *)dst = (int)v;
	return (0);
}

/* An int64_t within the key's bounds (the bounds of int fields fit an int). */
static int
parse_i64(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	const char	*s;
	int64_t		 v;

	if ((s = cs_scalar(ctx, n, CS_WHAT_INT)) == NULL)
		return (-1);
	if (parse_decimal(s, &v) == -1)
		return (cs_type_error(ctx, n, CS_WHAT_INT));
	if (v < k->min || v > k->max)
		return (range_error(ctx, k, n, BOUND_INT));
	*(int64_t *)dst = v;
	return (0);
}

/* A duration (units_parse_duration) within the key's bounds, in ms. */
static int
parse_duration(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	const char	*s;
	int64_t		 ms;
	char		 buf[72];

	if ((s = cs_scalar(ctx, n, CS_WHAT_DURATION)) == NULL)
		return (-1);
	if (units_parse_duration(s, &ms) == -1)
		return (errno == ERANGE ? cs_key_error(ctx, n, "'%s' is too long",
		    cs_esc(s, buf, sizeof(buf))) : cs_type_error(ctx, n, CS_WHAT_DURATION));
	if (ms < k->min || ms > k->max)
		return (range_error(ctx, k, n, BOUND_DURATION));
	*(int64_t *)dst = ms;
	return (0);
}

/* A rate (units_parse_rate): N jobs per second, minute, hour or day. */
static int
parse_rate(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	struct handler_rate	*r = dst;
	const char		*s;
	char			 buf[72];

	(void)k;
	if ((s = cs_scalar(ctx, n, CS_WHAT_RATE)) == NULL)
		return (-1);
	if (units_parse_rate(s, &r->n, &r->period_ms) == -1)
		return (errno == ERANGE ? cs_key_error(ctx, n, "'%s' is too high: "
		    "at most 1000000000 per period", cs_esc(s, buf, sizeof(buf))) :
		    cs_type_error(ctx, n, CS_WHAT_RATE));
	return (0);
}

/* A size (units_parse_size) within the key's bounds, in bytes. */
static int
parse_size(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	const char	*s;
	uint64_t	 b;

	if ((s = cs_scalar(ctx, n, CS_WHAT_SIZE)) == NULL)
		return (-1);
	if (units_parse_size(s, &b) == -1 && errno != ERANGE)
		return (cs_type_error(ctx, n, CS_WHAT_SIZE));
	if (units_parse_size(s, &b) == -1 || b > (uint64_t)k->max)
		return (range_error(ctx, k, n, BOUND_SIZE));
	*(uint64_t *)dst = b;
	return (0);
}

/* Look s up in words; the value, or -1 (no table here uses -1 as a value). */
static int
word_value(const struct cs_word *words, const char *s)
{
	for (const struct cs_word *w = words; w->name != NULL; w++)
		if (strcmp(w->name, s) == 0)
			return (w->value);
	return (-1);
}

/* "a, b or c" from a word table into buf. */
static const char *
word_list(const struct cs_word *words, char *buf, size_t len)
{
	size_t	o = 0;

	buf[0] = '\0';
	for (const struct cs_word *w = words; w->name != NULL && o < len; w++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
		    w == words ? "" : w[1].name == NULL ? " or " : ", ", w->name);
	return (buf);
}

/* true/false, also yes/no and on/off. */
static int
parse_bool(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	int	v;

	(void)k;
	if (n->type != CY_SCALAR || (v = word_value(bool_words, n->value)) == -1)
		return (cs_type_error(ctx, n, CS_WHAT_BOOL));
	*(bool *)dst = v != 0;
	return (0);
}

/* One of the words in k->aux, stored as an int (enum). */
static int
parse_enum(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	char	what[96];
	int	v;

	if (n->type != CY_SCALAR || (v = word_value(k->aux, n->value)) == -1)
		return (cs_type_error(ctx, n, word_list(k->aux, what, sizeof(what))));
	*(int *)dst = v;
	return (0);
}

/* A log level, through log_level_parse. */
static int
parse_level(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	int	v;

	(void)k;
	if (n->type != CY_SCALAR || (v = log_level_parse(n->value)) == -1)
		return (cs_type_error(ctx, n, CS_WHAT_LEVEL));
	*(int *)dst = v;
	return (0);
}

/* A zset source's score unit: s (1000 ms) or ms (1). */
static int
parse_score_unit(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	char	what[32];
	int	v;

	if (n->type != CY_SCALAR || (v = word_value(k->aux, n->value)) == -1)
		return (cs_type_error(ctx, n, word_list(k->aux, what, sizeof(what))));
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
parse_str(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	const char	*s;

	(void)k;
	if ((s = cs_scalar(ctx, n, CS_WHAT_STRING)) == NULL)
		return (-1);
	if (*s == '\0')
		return (cs_key_error(ctx, n, "must not be empty"));
	set_str(dst, s);
	return (0);
}

/* A string, or NULL when null or empty. */
static int
parse_optstr(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	const char	*s;

	(void)k;
	if ((s = cs_scalar(ctx, n, CS_WHAT_STRING)) == NULL)
		return (-1);
	set_str(dst, cy_is_null(n) || *s == '\0' ? NULL : s);
	return (0);
}

/* The absolute directory of the config file, computed once; NULL on error. */
static const char *
basedir(struct cs_ctx *ctx)
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
parse_path(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	const char	*s, *dir;
	char		*abs;

	if ((s = cs_scalar(ctx, n, "a path")) == NULL)
		return (-1);
	if ((cy_is_null(n) || *s == '\0') && k->def_str == NULL) {
		set_str(dst, NULL);
		return (0);
	}
	if (cy_is_null(n) || *s == '\0')
		return (cs_key_error(ctx, n, "must not be empty"));
	if (*s == '/') {
		set_str(dst, s);
		return (0);
	}
	if ((dir = basedir(ctx)) == NULL)
		return (cs_key_error(ctx, n, "cannot resolve a relative path: %s",
		    strerror(errno)));
	xasprintf(&abs, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", s);
	free(*(char **)dst);
	*(char **)dst = abs;
	return (0);
}

/* The key namespace: non-empty, no braces (hash tags) or whitespace. */
static int
parse_namespace(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	const char	*s;

	(void)k;
	if ((s = cs_scalar(ctx, n, CS_WHAT_NAMESPACE)) == NULL)
		return (-1);
	if (*s == '\0' || cy_is_null(n))
		return (cs_key_error(ctx, n, "must not be empty"));
	for (const char *p = s; *p != '\0'; p++)
		if (*p == '{' || *p == '}' || isspace((unsigned char)*p) ||
		    iscntrl((unsigned char)*p))
			return (cs_type_error(ctx, n, CS_WHAT_NAMESPACE));
	set_str(dst, s);
	return (0);
}

/* A handler name (util_valid_handler_name). */
static int
parse_handler(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	(void)k;
	if (n->type != CY_SCALAR ||
	    !util_valid_handler_name(n->value, strlen(n->value)))
		return (cs_type_error(ctx, n, CS_WHAT_HANDLER));
	set_str(dst, n->value);
	return (0);
}

/* An optional queue name; whether it is one of queues is checked at the end. */
static int
parse_qname(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	(void)k;
	if (cy_is_null(n)) {
		set_str(dst, NULL);
		return (0);
	}
	if (n->type != CY_SCALAR || !util_valid_queue_name(n->value))
		return (cs_type_error(ctx, n, CS_WHAT_QUEUE));
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
parse_listen(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	(void)k;
	if (cy_is_null(n)) {
		set_str(dst, NULL);
		return (0);
	}
	if (n->type != CY_SCALAR || !valid_listen(n->value))
		return (cs_type_error(ctx, n, CS_WHAT_LISTEN));
	set_str(dst, n->value);
	return (0);
}

/* A nested mapping whose keys are stored relative to the same base. */
static int
parse_section(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	return (cs_walk_map(ctx, k->aux, n, dst));
}
