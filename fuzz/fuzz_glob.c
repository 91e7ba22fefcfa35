/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: glob matching with captures (glob.c). The input up to its
 * first NUL is the pattern (patterns are C strings); the bytes after it
 * are the key (binary). Without a NUL the input is matched against itself.
 * Checks: matching with and without captures agrees; on a match the
 * captures are in order, inside the key and as many as glob_ncaptures
 * promises (capped at GLOB_MAX_CAPTURES), which is what lets the config
 * check a rule's resource template against its pattern; a pattern without
 * special characters matches only itself.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "glob.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t		*p, *k;
	size_t			 plen, klen, want, end = 0;
	char			*pat, *key;
	struct glob_match	 m;
	bool			 yes;

	fuzz_split(data, size, '\0', &p, &plen, &k, &klen);
	pat = fuzz_strndup(p, plen);
	key = fuzz_memdup(k, klen);
	yes = glob_match(pat, key, klen, &m);
	FUZZ_ASSERT(yes == glob_match(pat, key, klen, NULL));
	if (yes) {
		want = glob_ncaptures(pat);
		if (want > GLOB_MAX_CAPTURES)
			want = GLOB_MAX_CAPTURES;
		FUZZ_ASSERT(m.n == want);
		for (size_t i = 0; i < m.n; i++) {
			FUZZ_ASSERT(m.cap[i].off >= end);
			FUZZ_ASSERT(m.cap[i].off + m.cap[i].len <= klen);
			end = m.cap[i].off + m.cap[i].len;
		}
	}
	if (strpbrk(pat, "*?[\\") == NULL)
		FUZZ_ASSERT(yes == (klen == strlen(pat) &&
		    memcmp(pat, key, klen) == 0));
	free(key);
	free(pat);
	return (0);
}
