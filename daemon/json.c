/* SPDX-License-Identifier: MIT */
/*
 * A small JSON object writer and a reader of one object's members, on top
 * of the string escaper (json_escape.c); see json.h.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "xmalloc.h"

#define JSON_ONE_PASS_MAX	4096	/* bytes escaped without measuring first */

/* Return a new quoted JSON string literal of src. */
char *
json_quote(const void *src, size_t len)
{
	size_t	 n = json_escape(NULL, 0, src, len);
	char	*out = xmalloc(n + 3);

	out[0] = '"';
	json_escape(out + 1, n + 1, src, len);
	out[n + 1] = '"';
	out[n + 2] = '\0';
	return (out);
}

/* Grow o so that n more bytes and a NUL fit. */
static void
json_out_reserve(struct json_out *o, size_t n)
{
	if (o->len + n + 1 <= o->cap)
		return;
	while (o->len + n + 1 > o->cap)
		o->cap = o->cap == 0 ? 256 : o->cap * 2;
	o->buf = xrealloc(o->buf, o->cap);
}

/* Append n bytes of s. */
static void
json_out_raw(struct json_out *o, const char *s, size_t n)
{
	json_out_reserve(o, n);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/*
 * Append src as a quoted JSON string. One that is short is escaped in one
 * pass into room for the worst case (a byte becomes at most 6: "\u001f"):
 * the keys and values of a job's line and record are, and measuring each
 * first was a tenth of deferd's time per persistent job.
 */
static void
json_out_quoted(struct json_out *o, const void *src, size_t len)
{
	size_t	n;

	if (len <= JSON_ONE_PASS_MAX) {
		json_out_reserve(o, 6 * len + 2);
		o->buf[o->len++] = '"';
		n = json_escape(o->buf + o->len, 6 * len + 1, src, len);
	} else {
		n = json_escape(NULL, 0, src, len);
		json_out_reserve(o, n + 2);
		o->buf[o->len++] = '"';
		json_escape(o->buf + o->len, n + 1, src, len);
	}
	o->len += n;
	o->buf[o->len++] = '"';
	o->buf[o->len] = '\0';
}

/*
 * The comma (if needed) and "key": of a member of the current object, or
 * the comma alone before an element of the current array (key NULL).
 */
static void
json_out_key(struct json_out *o, const char *key)
{
	uint32_t	bit;

	if (o->depth == 0)
		return;
	bit = 1u << (o->depth - 1);
	if (o->nonempty & bit)
		json_out_raw(o, ",", 1);
	o->nonempty |= bit;
	if (key == NULL)
		return;
	json_out_quoted(o, key, strlen(key));
	json_out_raw(o, ":", 1);
}

/* Start an empty writer. */
void
json_out_init(struct json_out *o)
{
	memset(o, 0, sizeof(*o));
}

/* Open an object or array (open is "{" or "["), as key's value or an element. */
static void
json_open(struct json_out *o, const char *key, const char *open)
{
	json_out_key(o, key);
	json_out_raw(o, open, 1);
	if (o->depth < 16)
		o->depth++;
	o->nonempty &= ~(1u << (o->depth - 1));
}

/* Close the current object or array (close is "}" or "]"). */
static void
json_close(struct json_out *o, const char *close)
{
	json_out_raw(o, close, 1);
	if (o->depth > 0)
		o->depth--;
}

void
json_obj_begin(struct json_out *o, const char *key)
{
	json_open(o, key, "{");
}

void
json_obj_end(struct json_out *o)
{
	json_close(o, "}");
}

void
json_arr_begin(struct json_out *o, const char *key)
{
	json_open(o, key, "[");
}

void
json_arr_end(struct json_out *o)
{
	json_close(o, "]");
}

/* Add key: string of len bytes. */
void
json_add_str(struct json_out *o, const char *key, const void *v, size_t len)
{
	json_out_key(o, key);
	json_out_quoted(o, v, len);
}

/* Add key: NUL-terminated string (NULL writes null). */
void
json_add_cstr(struct json_out *o, const char *key, const char *v)
{
	if (v == NULL) {
		json_out_key(o, key);
		json_out_raw(o, "null", 4);
		return;
	}
	json_add_str(o, key, v, strlen(v));
}

/* Add key: integer. */
void
json_add_int(struct json_out *o, const char *key, int64_t v)
{
	char	num[UTIL_INT_TEXT];
	size_t	n = util_int_text(num, v);

	json_out_key(o, key);
	json_out_raw(o, num, n);
}

/* Add key: true or false. */
void
json_add_bool(struct json_out *o, const char *key, bool v)
{
	json_out_key(o, key);
	json_out_raw(o, v ? "true" : "false", v ? 4 : 5);
}

/* The text written so far. */
const char *
json_out_str(struct json_out *o)
{
	if (o->buf == NULL) {
		json_out_reserve(o, 0);
		o->buf[0] = '\0';
	}
	return (o->buf);
}

/* Give the text away and reset the writer. */
char *
json_out_take(struct json_out *o)
{
	char	*s;

	json_out_str(o);
	s = o->buf;
	json_out_init(o);
	return (s);
}

/* Free the writer's buffer. */
void
json_out_free(struct json_out *o)
{
	free(o->buf);
	json_out_init(o);
}

/* Skip JSON whitespace. */
static const char *
json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return (p);
}

/* Four hex digits at p (< end), or -1. */
static long
json_hex4(const char *p, const char *end)
{
	long	v = 0;

	if (end - p < 4)
		return (-1);
	for (int i = 0; i < 4; i++) {
		int h = util_hexval(p[i]);

		if (h < 0)
			return (-1);
		v = v * 16 + h;
	}
	return (v);
}

/* Encode code point cp as UTF-8 into u (4 bytes); returns the length. */
static size_t
json_utf8_put(unsigned long cp, char *u)
{
	if (cp < 0x80) {
		u[0] = (char)cp;
		return (1);
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		return (2);
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return (3);
	}
	u[0] = (char)(0xf0 | (cp >> 18));
	u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return (4);
}

/* Append n bytes of piece to out (size outlen) at *o unless it would not fit. */
static void
json_put(char *out, size_t outlen, size_t *o, const char *piece, size_t n)
{
	if (outlen == 0 || *o + n >= outlen) {
		if (outlen > 0)
			*o = outlen;	/* full: drop the rest */
		return;
	}
	memcpy(out + *o, piece, n);
	*o += n;
}

/* The length of s[0..n) without a last UTF-8 sequence that is incomplete. */
static size_t
json_utf8_cut(const char *s, size_t n)
{
	size_t		i = n, need;
	unsigned char	c;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return (n);
	c = (unsigned char)s[i - 1];
	if (c < 0xc0)
		return (n);
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	return (i - 1 + need > n ? i - 1 : n);
}

/* One escape after the backslash at *pp; returns the code point or -1. */
static long
json_unescape(const char **pp, const char *end)
{
	const char	*p = *pp;
	long		 cp, lo;
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char	*k;

	if (p >= end)
		return (-1);
	if (*p != 'u') {
		if ((k = memchr(from, *p, sizeof(from) - 1)) == NULL)
			return (-1);
		*pp = p + 1;
		return ((unsigned char)to[k - from]);
	}
	if ((cp = json_hex4(p + 1, end)) < 0)
		return (-1);
	p += 5;
	if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 6 && p[0] == '\\' &&
	    p[1] == 'u' && (lo = json_hex4(p + 2, end)) >= 0xdc00 && lo <= 0xdfff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	} else if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 0xfffd;
	*pp = p;
	return (cp);
}

/*
 * Decode the string at *pp (on its quote) into out; advances past it and
 * stores the decoded length (without the NUL) in *outlenp when not NULL.
 */
static bool
json_read_string(const char **pp, const char *end, char *out, size_t outlen,
    size_t *lenp)
{
	const char	*p = *pp + 1;
	size_t		 o = 0;
	char		 u[4];
	long		 cp;

	while (p < end && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return (false);
		if (*p != '\\') {
			json_put(out, outlen, &o, p++, 1);
			continue;
		}
		p++;
		if ((cp = json_unescape(&p, end)) < 0)
			return (false);
		json_put(out, outlen, &o, u, json_utf8_put((unsigned long)cp, u));
	}
	if (p >= end)
		return (false);
	if (outlen > 0) {
		if (o >= outlen)	/* cut: drop a sequence cut in half */
			o = json_utf8_cut(out, outlen - 1);
		out[o] = '\0';
	}
	if (lenp != NULL)
		*lenp = o;
	*pp = p + 1;
	return (true);
}

/* Skip a scalar, object or array at p; returns its end or NULL. */
static const char *
json_skip(const char *p, const char *end)
{
	int	depth = 0;
	bool	in_str = false;

	if (p < end && *p != '{' && *p != '[' && *p != '"') {
		const char *s = p;

		while (p < end && strchr(",}] \t\r\n", *p) == NULL)
			p++;
		return (p > s ? p : NULL);
	}
	for (; p < end; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = false;
			if (!in_str && depth == 0)
				return (p + 1);
			continue;
		}
		if (*p == '"')
			in_str = true;
		else if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return (p + 1);
	}
	return (NULL);
}

/* Start walking object s. */
void
json_iter_init(struct json_iter *it, const char *s, size_t len)
{
	it->p = s;
	it->end = s + len;
	it->started = false;
	it->failed = false;
}

/* The next member of the object (see json.h). */
int
json_iter_next(struct json_iter *it, char *key, size_t keylen, char *val,
    size_t vallen, bool *is_string)
{
	return (json_iter_next_len(it, key, keylen, val, vallen, NULL,
	    is_string));
}

/* The next member, with the value's length (see json.h). */
int
json_iter_next_len(struct json_iter *it, char *key, size_t keylen, char *val,
    size_t vallen, size_t *val_len, bool *is_string)
{
	const char	*p = json_ws(it->p, it->end), *e;
	size_t		 n;

	if (it->failed)
		return (-1);
	if (!it->started) {
		if (p >= it->end || *p != '{')
			goto bad;
		it->started = true;
		p = json_ws(p + 1, it->end);
		if (p < it->end && *p == '}') {
			it->p = it->end;
			return (0);
		}
	} else {
		if (p >= it->end)
			return (0);
		if (*p == '}') {
			it->p = it->end;
			return (0);
		}
		if (*p != ',')
			goto bad;
		p = json_ws(p + 1, it->end);
	}
	if (p >= it->end || *p != '"' || !json_read_string(&p, it->end, key, keylen, NULL))
		goto bad;
	p = json_ws(p, it->end);
	if (p >= it->end || *p != ':')
		goto bad;
	p = json_ws(p + 1, it->end);
	*is_string = p < it->end && *p == '"';
	if (*is_string) {
		if (!json_read_string(&p, it->end, val, vallen, val_len))
			goto bad;
	} else {
		if ((e = json_skip(p, it->end)) == NULL)
			goto bad;
		n = (size_t)(e - p);
		if (vallen > 0) {
			if (n >= vallen)
				n = vallen - 1;
			memcpy(val, p, n);
			val[n] = '\0';
		}
		if (val_len != NULL)
			*val_len = vallen > 0 ? n : 0;
		p = e;
	}
	it->p = p;
	return (1);
bad:
	it->failed = true;
	return (-1);
}

/* The value of top-level key, decoded. */
bool
json_get(const char *s, size_t len, const char *key, char *val, size_t vallen)
{
	struct json_iter	it;
	char			k[128];
	bool			str;

	json_iter_init(&it, s, len);
	while (json_iter_next(&it, k, sizeof(k), val, vallen, &str) == 1)
		if (strcmp(k, key) == 0)
			return (true);
	return (false);
}
