/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: Redis URLs (redisurl.c). The input is the URL text (up to
 * its first NUL, as a C string). Host names are not resolved here: the
 * getaddrinfo of fuzz/common.c accepts numeric addresses only.
 * Checks: a refused URL leaves the target empty and says why; an accepted
 * one has at most one of host and socket path (neither: a redis:// URL
 * for redis.sentinel), a port in 1..65535, a database >= 0, and survives a
 * copy and a description.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "redisurl.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct redis_target	 t, copy;
	char			*url = fuzz_strndup(data, size);
	char			 err[256], desc[256];

	err[0] = '\0';
	if (redisurl_parse(url, &t, err, sizeof(err)) == -1) {
		FUZZ_ASSERT(err[0] != '\0');
		FUZZ_ASSERT(t.host == NULL && t.unix_path == NULL &&
		    t.username == NULL && t.password == NULL);
		free(url);
		return (0);
	}
	FUZZ_ASSERT(t.host == NULL || t.unix_path == NULL);
	FUZZ_ASSERT(t.port >= 1 && t.port <= 65535);
	FUZZ_ASSERT(t.db >= 0);
	redisurl_copy(&copy, &t);
	redisurl_describe(&copy, desc, sizeof(desc));
	FUZZ_ASSERT(memchr(desc, '\0', sizeof(desc)) != NULL);
	redisurl_clear(&copy);
	redisurl_clear(&t);
	FUZZ_ASSERT(t.host == NULL && t.password == NULL);
	free(url);
	return (0);
}
