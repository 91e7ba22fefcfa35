/* SPDX-License-Identifier: MIT */
/*
 * Resource templates: "{N}" placeholders replaced by glob captures, with
 * "{{" and "}}" for literal braces. The scanner is shared by the check
 * (no captures) and the expansion; it never logs, errors go to err.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "xmalloc.h"

#define TEMPLATE_MAX_INDEX	9999	/* more captures than any glob has */

/* Output under construction; s == NULL when only checking. */
struct tbuf {
	char	*s;
	size_t	 len, cap;
};

static void	tbuf_add(struct tbuf *, const char *, size_t);
static int	template_index(const char *, size_t *, size_t *, char *, size_t);
static int	template_scan(const char *, const char *const *, size_t,
		    struct tbuf *, char *, size_t);

/* Format a message into err (if there is room). */
static void
template_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Append n bytes of p to b (nothing when b only checks). */
static void
tbuf_add(struct tbuf *b, const char *p, size_t n)
{
	if (b == NULL)
		return;
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/*
 * Parse the index of the placeholder that opens at tmpl[*pos] ('{'); on
 * success *pos is just past its '}' and *index holds it. Returns 0 or -1.
 */
static int
template_index(const char *tmpl, size_t *pos, size_t *index, char *err,
    size_t errlen)
{
	size_t	start = *pos, i = start + 1, n = 0;

	if (tmpl[i] < '0' || tmpl[i] > '9') {
		template_err(err, errlen, "'{' at offset %zu must start {N} (N a "
		    "capture number) or be doubled as '{{'", start);
		return (-1);
	}
	for (; tmpl[i] >= '0' && tmpl[i] <= '9'; i++) {
		n = n * 10 + (size_t)(tmpl[i] - '0');
		if (n > TEMPLATE_MAX_INDEX) {
			template_err(err, errlen, "capture number at offset %zu "
			    "is too large", start);
			return (-1);
		}
	}
	if (tmpl[i] != '}') {
		template_err(err, errlen, "placeholder at offset %zu is not "
		    "closed: expected '}' after {%zu", start, n);
		return (-1);
	}
	*pos = i + 1;
	*index = n;
	return (0);
}

/*
 * Walk tmpl, appending literal text and captures to b (b NULL: check only,
 * captures unused). Returns the largest index seen (-1 for none) or -2.
 */
static int
template_scan(const char *tmpl, const char *const *captures, size_t ncaptures,
    struct tbuf *b, char *err, size_t errlen)
{
	size_t	pos = 0, index, lit;
	int	max = -1;

	while (tmpl[pos] != '\0') {
		lit = strcspn(tmpl + pos, "{}");
		tbuf_add(b, tmpl + pos, lit);
		pos += lit;
		if (tmpl[pos] == '\0')
			break;
		if (tmpl[pos + 1] == tmpl[pos]) {
			tbuf_add(b, tmpl + pos, 1);
			pos += 2;
			continue;
		}
		if (tmpl[pos] == '}') {
			template_err(err, errlen, "unmatched '}' at offset %zu "
			    "(write '}}' for a literal brace)", pos);
			return (-2);
		}
		if (template_index(tmpl, &pos, &index, err, errlen) == -1)
			return (-2);
		if ((int)index > max)
			max = (int)index;
		if (b == NULL)
			continue;
		if (index >= ncaptures || captures[index] == NULL) {
			template_err(err, errlen, "{%zu} has no capture (the "
			    "match has %zu)", index, ncaptures > 0 ?
			    ncaptures - 1 : 0);
			return (-2);
		}
		tbuf_add(b, captures[index], strlen(captures[index]));
	}
	return (max);
}

/* Expand tmpl with the captures (see template.h). */
char *
template_expand(const char *tmpl, const char *const *captures,
    size_t ncaptures, char *err, size_t errlen)
{
	struct tbuf	b = { NULL, 0, 0 };

	tbuf_add(&b, "", 0);
	if (template_scan(tmpl, captures, ncaptures, &b, err, errlen) == -2) {
		free(b.s);
		return (NULL);
	}
	return (b.s);
}

/* Check tmpl; the largest index used, -1 for none, -2 on error. */
int
template_check(const char *tmpl, char *err, size_t errlen)
{
	return (template_scan(tmpl, NULL, 0, NULL, err, errlen));
}
