/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: durations and sizes (units.c). The input is parsed as both
 * (up to its first NUL), and its first 8 bytes are also formatted as a
 * duration into a buffer of every size up to 32 bytes.
 * Checks: a parsed value is not negative; formatting a parsed duration and
 * parsing the text again gives the same milliseconds; errno is EINVAL or
 * ERANGE on failure; the formatter always NUL-terminates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "units.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s = fuzz_strndup(data, size);
	char		 buf[32], *small;
	int64_t		 ms, again, raw = 0;
	uint64_t	 bytes;

	errno = 0;
	if (units_parse_duration(s, &ms) == 0) {
		FUZZ_ASSERT(ms >= 0);
		units_format_duration(ms, buf, sizeof(buf));
		FUZZ_ASSERT(units_parse_duration(buf, &again) == 0);
		FUZZ_ASSERT(again == ms);
	} else
		FUZZ_ASSERT(errno == EINVAL || errno == ERANGE);
	errno = 0;
	if (units_parse_size(s, &bytes) == 0)
		FUZZ_ASSERT(bytes <= INT64_MAX);
	else
		FUZZ_ASSERT(errno == EINVAL || errno == ERANGE);
	free(s);

	memcpy(&raw, data, size < sizeof(raw) ? size : sizeof(raw));
	for (size_t len = 1; len <= sizeof(buf); len++) {
		small = malloc(len);
		if (small == NULL)
			abort();
		units_format_duration(raw, small, len);
		FUZZ_ASSERT(memchr(small, '\0', len) != NULL);
		free(small);
	}
	return (0);
}
