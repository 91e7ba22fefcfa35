/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the JSON code of json.c. The input is read as one object
 * with json_iter (as deferctl watch reads lifecycle events from Redis),
 * into key and value buffers whose sizes come from the first two bytes,
 * and looked up with json_get; then it is escaped as a string.
 * Checks: the iterator always NUL-terminates inside its buffers and stays
 * failed once failed; json_escape's output is valid UTF-8 at every
 * buffer size and json_quote's is a quoted string; a string written with
 * json_out and read back with json_iter is the same bytes (for inputs
 * that are valid UTF-8 without NUL and fit the buffer).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"

#define FUZZ_VAL_MAX	4096

/* Walk the input as an object with buffers of keylen and vallen bytes. */
static void
walk(const char *s, size_t len, size_t keylen, size_t vallen)
{
	struct json_iter	 it;
	char			*key = malloc(keylen + 1), *val = malloc(vallen + 1);
	bool			 str;
	int			 r, n = 0;

	if (key == NULL || val == NULL)
		abort();
	json_iter_init(&it, s, len);
	while ((r = json_iter_next(&it, key, keylen, val, vallen, &str)) == 1) {
		if (keylen > 0)
			FUZZ_ASSERT(memchr(key, '\0', keylen) != NULL);
		if (vallen > 0)
			FUZZ_ASSERT(memchr(val, '\0', vallen) != NULL);
		n++;
	}
	if (r == -1)
		FUZZ_ASSERT(json_iter_next(&it, key, keylen, val, vallen, &str) == -1);
	(void)n;
	free(key);
	free(val);
}

/* Write src as the value of "k" with json_out, read it back and compare. */
static void
round_trip(const char *src, size_t len)
{
	struct json_out	 o;
	char		*text, *val = malloc(FUZZ_VAL_MAX);

	if (val == NULL)
		abort();
	json_out_init(&o);
	json_obj_begin(&o, NULL);
	json_add_str(&o, "k", src, len);
	json_add_int(&o, "n", (int64_t)len);
	json_obj_end(&o);
	text = json_out_take(&o);
	FUZZ_ASSERT(json_valid_utf8(text, strlen(text)));
	FUZZ_ASSERT(json_get(text, strlen(text), "k", val, FUZZ_VAL_MAX));
	if (json_valid_utf8(src, len) && memchr(src, '\0', len) == NULL &&
	    len < FUZZ_VAL_MAX)
		FUZZ_ASSERT(strlen(val) == len && memcmp(val, src, len) == 0);
	FUZZ_ASSERT(json_get(text, strlen(text), "n", val, FUZZ_VAL_MAX));
	FUZZ_ASSERT(strtoull(val, NULL, 10) == len);
	free(text);
	json_out_free(&o);
	free(val);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;
	size_t		 keylen = size > 0 ? data[0] % 64 : 8;
	size_t		 vallen = size > 1 ? data[1] : 32;
	char		 val[64], *out, *q;
	size_t		 full, outlen;

	walk(s, size, keylen, vallen);
	walk(s, size, 128, FUZZ_VAL_MAX);
	(void)json_get(s, size, "type", val, sizeof(val));

	full = json_escape(NULL, 0, s, size);
	for (outlen = 0; outlen <= full + 1; outlen += outlen < 16 ? 1 : 97) {
		out = malloc(outlen > 0 ? outlen : 1);
		if (out == NULL)
			abort();
		FUZZ_ASSERT(json_escape(out, outlen, s, size) == full);
		if (outlen > 0) {
			FUZZ_ASSERT(strnlen(out, outlen) < outlen);
			FUZZ_ASSERT(json_valid_utf8(out, strlen(out)));
		}
		free(out);
	}
	q = json_quote(s, size);
	FUZZ_ASSERT(strlen(q) == full + 2 && q[0] == '"' && q[full + 1] == '"');
	FUZZ_ASSERT(json_valid_utf8(q, full + 2));
	free(q);
	round_trip(s, size);
	return (0);
}
