/* SPDX-License-Identifier: MIT */
/*
 * Redis-style glob matching (the rules of Redis's stringmatchlen: `*`, `?`,
 * `[abc]`, `[^a-z]`, `\` escapes), with captures: each run of consecutive
 * `*` and `?` in the pattern captures the text it matched, numbered from 1
 * left to right, for templates like "order:{1}". A `*` takes the shortest
 * text that lets the rest match, so "a:*:*" on "a:b:c:d" gives {1} = "b" and
 * {2} = "c:d". Binary-safe: keys may hold any bytes.
 */
#ifndef DEFERD_GLOB_H
#define DEFERD_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#define GLOB_MAX_CAPTURES	16

struct glob_capture {
	size_t	off;	/* into the matched string */
	size_t	len;
};

struct glob_match {
	size_t			n;	/* captures filled */
	struct glob_capture	cap[GLOB_MAX_CAPTURES];
};

/*
 * Whether s (len bytes) matches pat (NUL-terminated). m may be NULL; when
 * the string matches, m holds one capture per wildcard run of the pattern
 * (runs past GLOB_MAX_CAPTURES match but are not captured).
 */
bool	glob_match(const char *pat, const char *s, size_t len, struct glob_match *m);
/* Number of wildcard runs (captures) in pat. */
size_t	glob_ncaptures(const char *pat);

#endif
