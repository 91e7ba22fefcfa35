/* SPDX-License-Identifier: MIT */
/* Allocation wrappers: every failure is fatal, zero sizes are allowed. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

/* Allocate size bytes; at least one byte so the result is never NULL. */
void *
xmalloc(size_t size)
{
	void	*p = malloc(size ? size : 1);

	if (p == NULL)
		fatalx("out of memory allocating %zu bytes", size);
	return (p);
}

/* Allocate a zeroed array of n elements of size bytes. */
void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatalx("out of memory allocating %zu x %zu bytes", n, size);
	return (p);
}

/* Resize p to size bytes. */
void *
xrealloc(void *p, size_t size)
{
	void	*q = realloc(p, size ? size : 1);

	if (q == NULL)
		fatalx("out of memory reallocating %zu bytes", size);
	return (q);
}

/* Resize p to n elements of size bytes, refusing overflow. */
void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		fatalx("allocation overflow: %zu x %zu", n, size);
	return (xrealloc(p, n * size));
}

/* Duplicate a NUL-terminated string. */
char *
xstrdup(const char *s)
{
	return (xmemdup(s, strlen(s) + 1));
}

/* Duplicate at most n bytes of s and terminate the copy. */
char *
xstrndup(const char *s, size_t n)
{
	size_t	 len = strnlen(s, n);
	char	*p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return (p);
}

/* Duplicate len bytes; the copy gets one extra NUL byte after them. */
void *
xmemdup(const void *src, size_t len)
{
	char	*p = xmalloc(len + 1);

	if (len)
		memcpy(p, src, len);
	p[len] = '\0';
	return (p);
}

/* sprintf into a newly allocated string stored in *ret; returns its length. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory formatting a string");
	return (n);
}
