/* SPDX-License-Identifier: MIT */
/* Packed job bodies: see job_body.h. Every byte comes from Redis. */
#include <stdlib.h>
#include <string.h>

#include "job_body.h"
#include "util.h"
#include "xmalloc.h"

#define BODY_MAGIC	"J1 "

bool
job_body_is(const char *b, size_t len)
{
	return (len >= 3 && memcmp(b, BODY_MAGIC, 3) == 0);
}

/*
 * Decode the len escaped bytes at s ("%XX" is byte XX) into dst, which
 * holds len + 1 bytes; returns the decoded length (dst NUL-terminated).
 */
static size_t
body_unescape(const char *s, size_t len, char *dst)
{
	size_t	n = 0;

	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < len &&
		    (hi = util_hexval(s[i + 1])) >= 0 &&
		    (lo = util_hexval(s[i + 2])) >= 0) {
			dst[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			dst[n++] = s[i];
	}
	dst[n] = '\0';
	return (n);
}

/* Call fn with name and the decoded value of the len bytes at s. */
static void
body_field(job_body_field_fn fn, void *arg, const char *name, const char *s,
    size_t len)
{
	char	*v = xmalloc(len + 1);
	size_t	 n = body_unescape(s, len, v);

	fn(name, v, n, arg);
	free(v);
}

/* The token of the head line [p, end) up to the next space, or NULL. */
static const char *
head_token(const char *p, const char *end, size_t *len)
{
	const char	*sp = memchr(p, ' ', (size_t)(end - p));

	if (sp == NULL || sp == p)
		return (NULL);
	*len = (size_t)(sp - p);
	return (p);
}

/* Whether the len bytes at s are 1-15 decimal digits. */
static bool
all_digits(const char *s, size_t len)
{
	if (len == 0 || len > 15)
		return (false);
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return (false);
	return (true);
}

/* The named fields between p and end (lines "NAME=VALUE\n"); -1 if bad. */
static int
body_fields(const char *p, const char *end, job_body_field_fn fn, void *arg)
{
	while (p < end) {
		const char	*nl = memchr(p, '\n', (size_t)(end - p));
		const char	*eq;
		char		*name;

		if (nl == NULL)
			return (-1);
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq == NULL || eq == p)
			return (-1);
		name = xstrndup(p, (size_t)(eq - p));
		body_field(fn, arg, name, eq + 1, (size_t)(nl - eq - 1));
		free(name);
		p = nl + 1;
	}
	return (0);
}

int
job_body_each(const char *b, size_t len, job_body_field_fn fn, void *arg)
{
	const char	*end = b + len, *p, *att, *lease, *nl, *fields_end;
	size_t		 att_len, lease_len;
	char		 num[16], *tok;

	if (!job_body_is(b, len))
		return (-1);
	p = b + 3;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
	    (att = head_token(p, nl, &att_len)) == NULL ||
	    !all_digits(att, att_len) ||
	    (lease = head_token(att + att_len + 1, nl, &lease_len)) == NULL)
		return (-1);
	/* The fields end at the first empty line ("\n\n"). */
	for (fields_end = nl; fields_end + 1 < end && fields_end[1] != '\n';) {
		fields_end = memchr(fields_end + 1, '\n',
		    (size_t)(end - fields_end - 1));
		if (fields_end == NULL)
			return (-1);
	}
	if (fields_end + 1 >= end)
		return (-1);
	p = lease + lease_len + 1;
	body_field(fn, arg, "handler", p, (size_t)(nl - p));
	if (body_fields(nl + 1, fields_end + 1, fn, arg) == -1)
		return (-1);
	if (fields_end + 2 < end)
		fn("payload", fields_end + 2, (size_t)(end - fields_end - 2),
		    arg);
	if (!(lease_len == 1 && lease[0] == '-')) {
		tok = xstrndup(lease, lease_len);
		fn("lease", tok, lease_len, arg);
		free(tok);
	}
	memcpy(num, att, att_len);
	num[att_len] = '\0';
	fn("attempts", num, att_len, arg);
	return (0);
}

/* A STRING reply holding a copy of the len bytes at s. */
static redisReply *
string_reply(const char *s, size_t len)
{
	redisReply	*r = xcalloc(1, sizeof(*r));

	r->type = REDIS_REPLY_STRING;
	r->str = xmalloc(len + 1);
	memcpy(r->str, s, len);
	r->str[len] = '\0';
	r->len = len;
	return (r);
}

/* Append a string reply of s (len bytes) to array reply a. */
static void
array_push(redisReply *a, const char *s, size_t len)
{
	a->element = xreallocarray(a->element, a->elements + 1,
	    sizeof(*a->element));
	a->element[a->elements++] = string_reply(s, len);
}

/* job_body_each callback: the field as a name, value pair of the array. */
static void
reply_field(const char *name, const char *value, size_t len, void *arg)
{
	array_push(arg, name, strlen(name));
	array_push(arg, value, len);
}

redisReply *
job_body_reply(const char *b, size_t len)
{
	redisReply	*a = xcalloc(1, sizeof(*a));

	a->type = REDIS_REPLY_ARRAY;
	if (job_body_each(b, len, reply_field, a) == 0)
		return (a);
	for (size_t i = 0; i < a->elements; i++)
		freeReplyObject(a->element[i]);
	a->elements = 0;
	array_push(a, "malformed_body", strlen("malformed_body"));
	array_push(a, b, len);
	return (a);
}

const redisReply *
job_reply_field(const redisReply *hash, const char *name)
{
	const redisReply	*v = NULL;

	if (hash == NULL || hash->type != REDIS_REPLY_ARRAY)
		return (NULL);
	for (size_t i = 0; i + 1 < hash->elements; i += 2)
		if (hash->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(hash->element[i]->str, name) == 0)
			v = hash->element[i + 1];
	return (v);
}
