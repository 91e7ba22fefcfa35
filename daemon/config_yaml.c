/* SPDX-License-Identifier: MIT */
/*
 * YAML to node tree for the configuration file (see config_yaml.h).
 * libyaml's event API feeds a stack of open collections; every node keeps
 * the mark where it starts. Anchors, aliases, NUL characters, a second
 * document and nesting deeper than CY_MAX_DEPTH are refused, so the tree is
 * plain data of bounded depth. This file neither validates keys nor knows
 * file names; config.c does both.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config_yaml.h"
#include "xmalloc.h"

#define CY_MAX_DEPTH	16		/* nesting levels in the file */

/* The state of one parse. */
struct builder {
	struct cy_node	*root;
	struct cy_node	*stack[CY_MAX_DEPTH];	/* open collections */
	size_t		 depth;
	int		 ndocs;
	struct cy_error	*err;
};

static int	 build_error(struct builder *, size_t, size_t, const char *,
		    ...) __attribute__((format(printf, 4, 5)));
static struct cy_node *node_new(enum cy_type, const yaml_mark_t *);
static void	 node_append(struct cy_node *, struct cy_node *);
static int	 tree_add(struct builder *, struct cy_node *,
		    const yaml_mark_t *, int);
static int	 tree_scalar(struct builder *, const yaml_event_t *);
static int	 tree_event(struct builder *, const yaml_event_t *);
static int	 tree_syntax_error(struct builder *, const yaml_parser_t *,
		    const char *, size_t);

/* Parse text into a tree; see config_yaml.h. */
int
cy_parse(const char *text, size_t len, struct cy_node **root,
    struct cy_error *err)
{
	struct builder	b;
	yaml_parser_t	p;
	yaml_event_t	ev;
	int		rc = 0, done = 0;

	memset(&b, 0, sizeof(b));
	b.err = err;
	*root = NULL;
	if (!yaml_parser_initialize(&p))
		return (build_error(&b, 0, 0, "out of memory"));
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (rc == 0 && !done) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = tree_syntax_error(&b, &p, text, len);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = tree_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (rc == -1) {
		cy_free(b.root);
		return (-1);
	}
	*root = b.root;
	return (0);
}

/* Free a node and everything below it (depth is capped at CY_MAX_DEPTH). */
void
cy_free(struct cy_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nitems; i++)
		cy_free(n->items[i]);
	free(n->items);
	free(n->value);
	free(n);
}

/* The value of key in mapping n, or NULL (n may be NULL or not a mapping). */
const struct cy_node *
cy_map_get(const struct cy_node *n, const char *key)
{
	if (n == NULL || n->type != CY_MAP)
		return (NULL);
	for (size_t i = 0; i + 1 < n->nitems; i += 2)
		if (n->items[i]->type == CY_SCALAR &&
		    strcmp(n->items[i]->value, key) == 0)
			return (n->items[i + 1]);
	return (NULL);
}

/* Item i of sequence n, or NULL. */
const struct cy_node *
cy_seq_at(const struct cy_node *n, size_t i)
{
	if (n == NULL || n->type != CY_SEQ || i >= n->nitems)
		return (NULL);
	return (n->items[i]);
}

/* Whether n is a YAML null: an empty plain scalar, ~ or null. */
bool
cy_is_null(const struct cy_node *n)
{
	return (n->type == CY_SCALAR && n->plain && (n->value[0] == '\0' ||
	    strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
	    strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0));
}

/* Store the problem at line:col (0 for none) in the caller's error; -1. */
static int
build_error(struct builder *b, size_t line, size_t col, const char *fmt, ...)
{
	va_list	ap;

	b->err->line = line;
	b->err->col = col;
	va_start(ap, fmt);
	vsnprintf(b->err->msg, sizeof(b->err->msg), fmt, ap);
	va_end(ap);
	return (-1);
}

/* A new empty node positioned at mark. */
static struct cy_node *
node_new(enum cy_type type, const yaml_mark_t *mark)
{
	struct cy_node	*n = xcalloc(1, sizeof(*n));

	n->type = type;
	n->line = mark->line + 1;
	n->col = mark->column + 1;
	return (n);
}

/* Add child to the end of a collection. */
static void
node_append(struct cy_node *parent, struct cy_node *child)
{
	size_t	n = parent->nitems;

	if (n == 0 || (n & (n - 1)) == 0)	/* full at 0, 1, 2, 4, 8, ... */
		parent->items = xreallocarray(parent->items, n == 0 ? 1 : 2 * n,
		    sizeof(*parent->items));
	parent->items[parent->nitems++] = child;
}

/* Hang n under the open collection (or make it the root); open it if open. */
static int
tree_add(struct builder *b, struct cy_node *n, const yaml_mark_t *mark,
    int open)
{
	if (open && b->depth == CY_MAX_DEPTH) {
		cy_free(n);
		return (build_error(b, mark->line + 1, mark->column + 1,
		    "nesting deeper than %d levels is not supported",
		    CY_MAX_DEPTH));
	}
	if (b->depth == 0)
		b->root = n;
	else
		node_append(b->stack[b->depth - 1], n);
	if (open)
		b->stack[b->depth++] = n;
	return (0);
}

/* Add a scalar event to the tree. */
static int
tree_scalar(struct builder *b, const yaml_event_t *ev)
{
	const char	*v = (const char *)ev->data.scalar.value;
	size_t		 len = ev->data.scalar.length;
	struct cy_node	*n;

	if (memchr(v, '\0', len) != NULL)
		return (build_error(b, ev->start_mark.line + 1,
		    ev->start_mark.column + 1, "NUL characters are not allowed"));
	n = node_new(CY_SCALAR, &ev->start_mark);
	n->value = xstrndup(v, len);
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return (tree_add(b, n, &ev->start_mark, 0));
}

/* Apply one parser event to the tree under construction. */
static int
tree_event(struct builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t	*m = &ev->start_mark;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (b->ndocs++ > 0)
			return (build_error(b, m->line + 1, m->column + 1,
			    "only one YAML document is allowed"));
		return (0);
	case YAML_ALIAS_EVENT:
		break;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor != NULL)
			break;
		return (tree_scalar(b, ev));
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor != NULL)
			break;
		return (tree_add(b, node_new(CY_MAP, m), m, 1));
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor != NULL)
			break;
		return (tree_add(b, node_new(CY_SEQ, m), m, 1));
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		b->depth--;
		return (0);
	default:
		return (0);
	}
	return (build_error(b, m->line + 1, m->column + 1,
	    "aliases and anchors are not supported"));
}

/* Report a libyaml error: "YAML syntax error: problem (context)". */
static int
tree_syntax_error(struct builder *b, const yaml_parser_t *p, const char *text,
    size_t len)
{
	const char	*problem = p->problem != NULL ? p->problem : "unknown error";
	size_t		 line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;

	if (p->error == YAML_MEMORY_ERROR)
		return (build_error(b, 0, 0, "out of memory"));
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
		return (build_error(b, line, col, "YAML syntax error: %s (%s)",
		    problem, p->context));
	return (build_error(b, line, col, "YAML syntax error: %s", problem));
}
