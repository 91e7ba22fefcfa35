/* SPDX-License-Identifier: MIT */
/*
 * JSON string literals from untrusted bytes, for every JSON the project
 * writes (deferctl --json, lifecycle events, JSON logs). Quotes and
 * backslashes are escaped, control characters (and DEL) become \u00XX, and
 * bytes that are not well-formed UTF-8 become U+FFFD, one per maximal
 * invalid subpart (Unicode 15, §3.9). The output is always valid JSON and
 * valid UTF-8. A small object writer (struct json_out) builds flat or
 * nested objects of strings and integers on top of the escaper, and a small
 * reader (struct json_iter) walks the fields of one object, for deferctl
 * watch; neither is a general JSON library.
 */
#ifndef DEFERD_JSON_H
#define DEFERD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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


/*
 * An object being written into a growing buffer: json_out_init, then
 * json_obj_begin / json_add_* / json_obj_end, then json_out_str (owned by
 * the writer) or json_out_take (caller frees). Commas are placed for the
 * caller; objects nest up to 16 deep.
 */
struct json_out {
	char		*buf;
	size_t		 len, cap;
	uint32_t	 nonempty;	/* bit d: the object at depth d has a member */
	int		 depth;
};

void	 json_out_init(struct json_out *);
/*
 * Begin an object: at the top level, as the value of key (inside one), or
 * as an element of an array (key NULL); arrays nest the same way. The
 * json_add_* calls take key NULL inside an array.
 */
void	 json_obj_begin(struct json_out *, const char *key);
void	 json_obj_end(struct json_out *);
void	 json_arr_begin(struct json_out *, const char *key);
void	 json_arr_end(struct json_out *);
/* key: a string of len bytes (escaped, invalid UTF-8 replaced). */
void	 json_add_str(struct json_out *, const char *key, const void *v, size_t len);
/* key: a NUL-terminated string. */
void	 json_add_cstr(struct json_out *, const char *key, const char *v);
void	 json_add_int(struct json_out *, const char *key, int64_t v);
void	 json_add_bool(struct json_out *, const char *key, bool v);
/* The text so far, NUL-terminated, owned by o. */
const char *json_out_str(struct json_out *);
/* Hand the text to the caller (free it) and reset o. */
char	*json_out_take(struct json_out *);
void	 json_out_free(struct json_out *);

/*
 * Walk the members of one JSON object, in order. String values are decoded
 * (escapes, \uXXXX with surrogate pairs, to UTF-8; a lone surrogate becomes
 * U+FFFD); numbers, true, false and null are given as their text; nested
 * objects and arrays as their raw text. Keys and values longer than the
 * caller's buffers are cut (at a UTF-8 boundary for strings).
 */
struct json_iter {
	const char	*p, *end;
	bool		 started;
	bool		 failed;
};

void	json_iter_init(struct json_iter *, const char *s, size_t len);
/*
 * The next member: 1 with key and value stored (NUL-terminated) and
 * *is_string set, 0 at the end of the object, -1 if the text is not a
 * well-formed object (also on every later call).
 */
int	json_iter_next(struct json_iter *, char *key, size_t keylen, char *val,
	    size_t vallen, bool *is_string);
/*
 * json_iter_next, also storing the value's length in *val_len (decoded
 * strings may hold NUL bytes from \u0000).
 */
int	json_iter_next_len(struct json_iter *, char *key, size_t keylen,
	    char *val, size_t vallen, size_t *val_len, bool *is_string);
/* Decode the value of top-level key of object s into val; false if absent or malformed. */
bool	json_get(const char *s, size_t len, const char *key, char *val, size_t vallen);

#endif
