/* SPDX-License-Identifier: MIT */
/*
 * Resource templates of expiration rules (docs/architecture.md; README:
 * Locks): "order:{1}" with the captures of a glob match. {0} is the whole
 * key, {N} the N-th glob capture (1-based), {{ and }} are literal braces.
 * Nothing else is special.
 */
#ifndef DEFERD_TEMPLATE_H
#define DEFERD_TEMPLATE_H

#include <stddef.h>

/*
 * Expand tmpl with captures[0..ncaptures-1] (captures[0] the whole key).
 * Returns a new string (caller frees), or NULL with the reason in err: an
 * unmatched '{' or '}', a placeholder that is not a decimal index, or an
 * index with no capture (>= ncaptures, or a NULL entry).
 */
char	*template_expand(const char *tmpl, const char *const *captures,
	    size_t ncaptures, char *err, size_t errlen);
/*
 * Check tmpl's syntax without captures (for config validation). Returns the
 * largest index it uses (-1 when it uses none), or -2 with the reason in err.
 */
int	 template_check(const char *tmpl, char *err, size_t errlen);

#endif
