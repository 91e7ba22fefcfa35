/* SPDX-License-Identifier: MIT */
/*
 * Allocation wrappers that never return NULL: out of memory is fatal, so
 * callers need no NULL checks (tmux xmalloc.c).
 */
#ifndef DEFERD_XMALLOC_H
#define DEFERD_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
