/* SPDX-License-Identifier: MIT */
/*
 * Helpers linked into every fuzz target (see fuzz.h), and an offline
 * resolver: redisurl.c resolves host names with getaddrinfo, and a fuzzer
 * that invents host names must not send them to DNS. The definition below
 * takes precedence over libc's (and the sanitizers' interceptor) in the
 * fuzz binaries only, and forwards to the real one with AI_NUMERICHOST,
 * so numeric addresses parse as before and every name fails at once.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

typedef int (*getaddrinfo_fn)(const char *, const char *,
    const struct addrinfo *, struct addrinfo **);

char *
fuzz_strndup(const void *data, size_t size)
{
	char	*s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return (s);
}

void *
fuzz_memdup(const void *data, size_t size)
{
	void	*p = malloc(size > 0 ? size : 1);

	if (p == NULL)
		abort();
	if (size > 0)
		memcpy(p, data, size);
	return (p);
}

int
fuzz_split(const uint8_t *data, size_t size, uint8_t sep, const uint8_t **head,
    size_t *headlen, const uint8_t **tail, size_t *taillen)
{
	const uint8_t	*at = size > 0 ? memchr(data, sep, size) : NULL;

	if (at == NULL) {
		*head = *tail = data;
		*headlen = *taillen = size;
		return (0);
	}
	*head = data;
	*headlen = (size_t)(at - data);
	*tail = at + 1;
	*taillen = size - *headlen - 1;
	return (1);
}

void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	fflush(stderr);
	abort();
}

/* getaddrinfo for numeric hosts only: see the comment at the top. */
int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
    struct addrinfo **res)
{
	static getaddrinfo_fn	real;
	struct addrinfo		h;

	if (real == NULL &&
	    (real = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo")) == NULL)
		return (EAI_FAIL);
	memset(&h, 0, sizeof(h));
	if (hints != NULL)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return (real(node, service, &h, res));
}
