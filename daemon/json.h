/* SPDX-License-Identifier: MIT */
/*
 * JSON string literals from untrusted bytes, for every JSON the project
 * writes (deferctl --json, lifecycle events, JSON logs). Quotes and
 * backslashes are escaped, control characters (and DEL) become \u00XX, and
 * bytes that are not well-formed UTF-8 become U+FFFD, one per maximal
 * invalid subpart (Unicode 15, §3.9). The output is always valid JSON and
 * valid UTF-8. It does not build objects or arrays: callers write the
 * punctuation themselves.
 */
#ifndef DEFERD_JSON_H
#define DEFERD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Write src (len bytes) to f as a JSON string literal, quotes included. */
void	json_write_string(FILE *f, const void *src, size_t len);
/*
 * Escape src into out as the inside of a JSON string (no quotes), always
 * NUL-terminated when outlen > 0, never cutting an escape or a UTF-8
 * sequence in half. Returns the length of the whole escaped text, like
 * snprintf: the output was truncated if the result is >= outlen.
 */
size_t	json_escape(char *out, size_t outlen, const void *src, size_t len);
/* A new string holding src as a JSON string literal, quotes included (caller frees). */
char	*json_quote(const void *src, size_t len);
/* Whether src is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
bool	 json_valid_utf8(const void *src, size_t len);

#endif
