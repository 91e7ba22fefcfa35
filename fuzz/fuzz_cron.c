/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: cron expressions (cron.c). The input (up to its first NUL)
 * is parsed; when it parses, its next run after a fixed instant is asked
 * for, in UTC and in Europe/Berlin.
 * Checks: a parse failure says why; a next run is after the instant, or
 * -1; a second parse of the same text gives the same fields.
 */
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "fuzz.h"

#define FUZZ_CRON_AFTER	1793000000	/* 2026-10-25, a DST change in Berlin */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s = fuzz_strndup(data, size);
	struct cron	 c, again;
	char		 err[256];
	int64_t		 t;

	err[0] = '\0';
	if (cron_parse(s, &c, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(cron_parse(s, &again, err, sizeof(err)) == 0);
		FUZZ_ASSERT(memcmp(&c, &again, sizeof(c)) == 0);
		t = cron_next(&c, NULL, FUZZ_CRON_AFTER);
		FUZZ_ASSERT(t == -1 || t > FUZZ_CRON_AFTER);
		t = cron_next(&c, "Europe/Berlin", FUZZ_CRON_AFTER);
		FUZZ_ASSERT(t == -1 || t > FUZZ_CRON_AFTER);
	} else
		FUZZ_ASSERT(err[0] != '\0');
	free(s);
	return (0);
}
