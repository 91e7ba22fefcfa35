/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: resource templates (template.c). The first line of the
 * input is the template; each further line is one capture ({0}, {1}, ...),
 * as expire.c passes the key and its glob captures.
 * Checks: template_check and template_expand agree: expansion fails
 * exactly when the check fails or the largest index has no capture, and
 * then it says why.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "template.h"

#define FUZZ_MAX_CAPTURES	17	/* the key and GLOB_MAX_CAPTURES */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*line, *rest;
	size_t		 linelen, restlen, ncap = 0;
	char		*tmpl, *caps[FUZZ_MAX_CAPTURES], *res, err[256];
	int		 max, more;

	more = fuzz_split(data, size, '\n', &line, &linelen, &rest, &restlen);
	tmpl = fuzz_strndup(line, linelen);
	while (more && ncap < FUZZ_MAX_CAPTURES) {
		const uint8_t *cap;
		size_t caplen;

		more = fuzz_split(rest, restlen, '\n', &cap, &caplen, &rest,
		    &restlen);
		caps[ncap++] = fuzz_strndup(cap, caplen);
	}

	err[0] = '\0';
	max = template_check(tmpl, err, sizeof(err));
	FUZZ_ASSERT(max >= -2);
	if (max == -2)
		FUZZ_ASSERT(err[0] != '\0');
	err[0] = '\0';
	res = template_expand(tmpl, (const char *const *)caps, ncap, err,
	    sizeof(err));
	if (max == -2 || max >= (int)ncap)
		FUZZ_ASSERT(res == NULL && err[0] != '\0');
	else
		FUZZ_ASSERT(res != NULL);
	/* Without placeholders or braces the template is its own expansion. */
	if (res != NULL && strpbrk(tmpl, "{}") == NULL)
		FUZZ_ASSERT(strcmp(res, tmpl) == 0);
	free(res);
	for (size_t i = 0; i < ncap; i++)
		free(caps[i]);
	free(tmpl);
	return (0);
}
