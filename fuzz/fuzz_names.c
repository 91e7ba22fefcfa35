/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the names that come from Redis and end up in paths, keys and
 * log lines (util.c): handler names (an executable in handlers.dir, so
 * promise P8 rests on this check), job IDs and queue names, and
 * util_escape, which makes untrusted bytes safe to log. The whole input is
 * the name (binary, with its length); the escape output size is taken from
 * the first byte.
 * Checks: each validator agrees with a plain reading of its rule, so that
 * no accepted handler name can hold '/', NUL or start with '.'; the
 * escaped text is NUL-terminated inside its buffer and printable ASCII.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util.h"

/* Whether c is an ASCII letter or digit. */
static bool
alnum(unsigned char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'));
}

/* The handler name rule, written out again: [A-Za-z0-9][A-Za-z0-9_.-]{0,254}. */
static bool
ref_handler(const uint8_t *s, size_t len)
{
	if (len == 0 || len > 255 || !alnum(s[0]))
		return (false);
	for (size_t i = 1; i < len; i++)
		if (!alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return (false);
	return (true);
}

/* The job ID rule, written out again: [A-Za-z0-9_.:@-]{1,200}. */
static bool
ref_job_id(const uint8_t *s, size_t len)
{
	if (len == 0 || len > 200)
		return (false);
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0' || (!alnum(s[i]) && strchr("_.:@-", s[i]) == NULL))
			return (false);
	return (true);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*name = fuzz_memdup(data, size), *cstr, *out;
	size_t	 outlen = size > 0 ? data[0] : 16;
	bool	 handler, id;

	handler = util_valid_handler_name(name, size);
	FUZZ_ASSERT(handler == ref_handler(data, size));
	if (handler)
		FUZZ_ASSERT(memchr(name, '/', size) == NULL && name[0] != '.');
	id = util_valid_job_id(name, size);
	FUZZ_ASSERT(id == ref_job_id(data, size));
	free(name);

	cstr = fuzz_strndup(data, size);
	if (util_valid_queue_name(cstr))
		FUZZ_ASSERT(strlen(cstr) <= 100 && strpbrk(cstr, "{}") == NULL &&
		    ref_job_id((const uint8_t *)cstr, strlen(cstr)));
	free(cstr);

	out = outlen > 0 ? malloc(outlen) : NULL;
	if (outlen > 0 && out == NULL)
		abort();
	FUZZ_ASSERT(util_escape(data, size, out, outlen) == out);
	if (outlen > 0) {
		size_t n = strnlen(out, outlen);

		FUZZ_ASSERT(n < outlen);
		for (size_t i = 0; i < n; i++)
			FUZZ_ASSERT(out[i] >= 0x20 && out[i] < 0x7f);
	}
	free(out);
	return (0);
}
