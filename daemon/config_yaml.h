/* SPDX-License-Identifier: MIT */
/*
 * The YAML reader behind config.c: one YAML document in memory becomes a
 * small tree of scalars, mappings and sequences, each node with its 1-based
 * line and column. Anchors and aliases, NUL characters, more than one
 * document and nesting deeper than a fixed limit are refused. It knows
 * nothing about deferd's keys; config.c gives the tree its meaning.
 */
#ifndef DEFERD_CONFIG_YAML_H
#define DEFERD_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>

enum cy_type {
	CY_SCALAR,
	CY_MAP,
	CY_SEQ,
};

/* A node of the parsed file: the tree owns everything below it. */
struct cy_node {
	enum cy_type	  type;
	char		 *value;	/* scalar text */
	int		  plain;	/* scalar was not quoted */
	struct cy_node	**items;	/* map: key, value, key, value, ...; seq: items */
	size_t		  nitems;
	size_t		  line;		/* 1-based */
	size_t		  col;		/* 1-based */
};

/* Why cy_parse failed, for the caller to report with its file name. */
struct cy_error {
	size_t	line;		/* 1-based; 0 when there is no position */
	size_t	col;		/* 1-based */
	char	msg[768];	/* e.g. "YAML syntax error: ..." */
};

/*
 * Parse len bytes of text. Returns 0 with the tree in *root (NULL for an
 * empty stream), or -1 with *root NULL and the problem in err. The caller
 * owns the tree and frees it with cy_free.
 */
int		 cy_parse(const char *text, size_t len, struct cy_node **root,
		    struct cy_error *err);
/* Free a tree from cy_parse; NULL is a no-op. */
void		 cy_free(struct cy_node *);
/* The value of key in mapping n, or NULL (n may be NULL or not a mapping). */
const struct cy_node *cy_map_get(const struct cy_node *n, const char *key);
/* Item i of sequence n, or NULL (n may be NULL or not a sequence). */
const struct cy_node *cy_seq_at(const struct cy_node *n, size_t i);
/* Whether n is a YAML null: an empty plain scalar, ~ or null. */
bool		 cy_is_null(const struct cy_node *n);

#endif
