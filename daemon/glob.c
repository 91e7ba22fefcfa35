/* SPDX-License-Identifier: MIT */
/*
 * Redis-style glob matching with captures (see glob.h). The algorithm is
 * Redis's stringmatchlen, recursive on `*`, with its guard against
 * exponential time: when a `*` has tried every length and the rest of the
 * pattern never matched, no outer `*` can do better, so the whole match
 * fails at once. Captures are offsets into the string, written as the
 * recursion goes and valid only when the match succeeds.
 */
#include <string.h>

#include "glob.h"

enum { GM_NO = 0, GM_YES = 1, GM_GIVE_UP = -1 };

struct gm {
	const char		*s;
	size_t			 len;
	struct glob_match	*m;
};

static int	glob_rec(struct gm *, const char *p, size_t off, size_t run);

/* Whether c is in the class starting after '[' at *pp; *pp ends on ']' (or the NUL). */
static bool
glob_class(const char **pp, unsigned char c)
{
	const char	*p = *pp;
	bool		 not = false, match = false;

	if (*p == '^') {
		not = true;
		p++;
	}
	for (;; p++) {
		if (p[0] == '\\' && p[1] != '\0') {
			p++;
			if ((unsigned char)p[0] == c)
				match = true;
		} else if (p[0] == ']' || p[0] == '\0')
			break;
		else if (p[1] == '-' && p[2] != '\0') {
			unsigned char lo = (unsigned char)p[0];
			unsigned char hi = (unsigned char)p[2];

			if (lo > hi) {
				unsigned char t = lo;

				lo = hi;
				hi = t;
			}
			if (c >= lo && c <= hi)
				match = true;
			p += 2;
		} else if ((unsigned char)p[0] == c)
			match = true;
	}
	*pp = p;
	return (not ? !match : match);
}

/* Store capture number run (0-based) when there is room. */
static void
glob_capture(struct gm *g, size_t run, size_t off, size_t len)
{
	if (g->m != NULL && run < GLOB_MAX_CAPTURES) {
		g->m->cap[run].off = off;
		g->m->cap[run].len = len;
	}
}

/* A wildcard run at p (string offset off): try the lengths it may take. */
static int
glob_run(struct gm *g, const char *p, size_t off, size_t run)
{
	size_t	 minlen = 0, left = g->len - off;
	bool	 star = false;
	int	 r;

	for (; *p == '*' || *p == '?'; p++) {
		if (*p == '*')
			star = true;
		else
			minlen++;
	}
	if (minlen > left)
		return (GM_NO);
	if (!star) {
		glob_capture(g, run, off, minlen);
		return (glob_rec(g, p, off + minlen, run + 1));
	}
	if (*p == '\0') {	/* trailing star: takes the rest */
		glob_capture(g, run, off, left);
		return (glob_rec(g, p, g->len, run + 1));
	}
	for (size_t n = minlen; n <= left; n++) {
		glob_capture(g, run, off, n);
		r = glob_rec(g, p, off + n, run + 1);
		if (r != GM_NO)
			return (r);
	}
	return (GM_GIVE_UP);
}

/* Match the pattern from p against the string from off. */
static int
glob_rec(struct gm *g, const char *p, size_t off, size_t run)
{
	for (;;) {
		if (*p == '\0') {
			if (off != g->len)
				return (GM_NO);
			if (g->m != NULL)
				g->m->n = run < GLOB_MAX_CAPTURES ? run :
				    GLOB_MAX_CAPTURES;
			return (GM_YES);
		}
		if (*p == '*' || *p == '?')
			return (glob_run(g, p, off, run));
		if (off == g->len)
			return (GM_NO);
		if (*p == '[') {
			p++;
			if (!glob_class(&p, (unsigned char)g->s[off]))
				return (GM_NO);
			if (*p == '\0')
				p--;	/* unterminated class: ends the pattern */
		} else {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (*p != g->s[off])
				return (GM_NO);
		}
		p++;
		off++;
	}
}

bool
glob_match(const char *pat, const char *s, size_t len, struct glob_match *m)
{
	struct gm	g = { s, len, m };

	if (m != NULL)
		m->n = 0;
	return (glob_rec(&g, pat, 0, 0) == GM_YES);
}

size_t
glob_ncaptures(const char *pat)
{
	size_t	n = 0;
	bool	in_run = false;

	for (const char *p = pat; *p != '\0'; p++) {
		if (*p == '*' || *p == '?') {
			if (!in_run)
				n++;
			in_run = true;
			continue;
		}
		in_run = false;
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '[') {
			/* Skip the class as the matcher reads it (ranges like [a-] included). */
			p++;
			(void)glob_class(&p, 0);
			if (*p == '\0')
				break;
		}
	}
	return (n);
}
