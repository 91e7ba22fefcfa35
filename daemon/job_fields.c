/* SPDX-License-Identifier: MIT */
/*
 * The job envelope decoder: a claim entry's hash fields into a struct
 * job_fields. Separate from job.c so that it can be fuzzed on its own
 * (fuzz/fuzz_reply.c): every byte of it comes from Redis.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "job_body.h"
#include "job_fields.h"
#include "util.h"
#include "xmalloc.h"

/* Job hash fields that become handler variables. */
static const struct {
	const char	*field;
	const char	*env;
} env_fields[] = {
	{ "expired_key", "DEFERD_EXPIRED_KEY" },
	{ "expired_db", "DEFERD_EXPIRED_DB" },
	{ "match", "DEFERD_MATCH" },
	{ "schedule", "DEFERD_SCHEDULE" },
	{ "tick", "DEFERD_TICK" },
};

/*
 * If job hash field (value, len bytes) carries a DEFERD_* variable, append
 * it to *env (*n entries, grown; names and values are new strings) and
 * return true. Values holding a NUL byte are skipped.
 */
static bool
job_fields_env(struct env_var **env, size_t *n, const char *field,
    const char *value, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(env_fields) / sizeof(env_fields[0]); i++)
		if (strcmp(field, env_fields[i].field) == 0)
			break;
	if (i == sizeof(env_fields) / sizeof(env_fields[0]) ||
	    memchr(value, '\0', len) != NULL)
		return (false);
	*env = xreallocarray(*env, *n + 1, sizeof(**env));
	(*env)[*n].name = xstrdup(env_fields[i].env);
	(*env)[*n].value = xstrndup(value, len);
	(*n)++;
	return (true);
}

void
job_fields_env_free(struct env_var *env, size_t n)
{
	for (size_t i = 0; env != NULL && i < n; i++) {
		free(env[i].name);
		free(env[i].value);
	}
	free(env);
}

/*
 * An integer field value (len bytes at s) in 0..max, or def when absent
 * or malformed.
 */
static long long
field_int(const char *s, size_t len, long long max, long long def)
{
	char		 buf[24], *end;
	long long	 n;

	if (len == 0 || len >= sizeof(buf))
		return (def);
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	n = strtoll(buf, &end, 10);
	return (*end == '\0' && errno == 0 && n >= 0 && n <= max ? n : def);
}

/* Replace *dst (freed) with a copy of s, or NULL when empty and drop_empty. */
static void
field_str(char **dst, const char *s, size_t len, bool drop_empty)
{
	free(*dst);
	*dst = drop_empty && len == 0 ? NULL : xstrndup(s, len);
}

/*
 * The handler name s. A name with a NUL byte is kept escaped ("ok\0x"
 * becomes "ok\\x00x"), so that the handler check refuses it as it is
 * rather than running what a C string would make of it ("ok").
 */
static void
field_handler(char **dst, const char *s, size_t len)
{
	size_t	cap;

	if (memchr(s, '\0', len) == NULL) {
		field_str(dst, s, len, false);
		return;
	}
	free(*dst);
	cap = 4 * len + 1;
	*dst = xmalloc(cap);
	util_escape(s, len, *dst, cap);
}

/* Take job field name (value: len bytes at v) into the job_fields arg. */
static void
job_fields_set(const char *name, const char *v, size_t len, void *arg)
{
	struct job_fields	*f = arg;

	if (strcmp(name, "handler") == 0)
		field_handler(&f->handler, v, len);
	else if (strcmp(name, "payload") == 0) {
		free(f->payload);
		f->payload = xmemdup(v, len);
		f->payload_len = len;
	} else if (strcmp(name, "resource") == 0)
		field_str(&f->resource, v, len, true);
	else if (strcmp(name, "source") == 0)
		field_str(&f->source, v, len, true);
	else if (strcmp(name, "attempts") == 0)
		f->attempt = (int)field_int(v, len, INT_MAX, 1);
	else if (strcmp(name, "max_attempts") == 0)
		f->max_attempts = (int)field_int(v, len, INT_MAX, 0);
	else if (strcmp(name, "timeout_ms") == 0)
		f->timeout_ms = field_int(v, len, INT64_MAX / 2, -1);
	else if (strcmp(name, "due_ms") == 0)
		f->due_ms = field_int(v, len, INT64_MAX / 2, 0);
	else if (strcmp(name, "enqueued_ms") == 0)
		f->enqueued_ms = field_int(v, len, INT64_MAX / 2, 0);
	else
		job_fields_env(&f->env, &f->nenv, name, v, len);
}

void
job_fields_parse(struct job_fields *f, const redisReply *const *fields,
    size_t n)
{
	const redisReply	*b = n == 1 ? fields[0] : NULL;

	memset(f, 0, sizeof(*f));
	f->timeout_ms = -1;
	if (b != NULL && b->type == REDIS_REPLY_STRING &&
	    job_body_is(b->str, b->len))
		(void)job_body_each(b->str, b->len, job_fields_set, f);
	else
		for (size_t i = 0; i + 1 < n; i += 2) {
			const redisReply *k = fields[i];
			const redisReply *v = fields[i + 1];

			if (k->type == REDIS_REPLY_STRING &&
			    v->type == REDIS_REPLY_STRING)
				job_fields_set(k->str, v->str, v->len, f);
		}
	if (f->handler == NULL)
		f->handler = xstrdup("");
	if (f->attempt <= 0)
		f->attempt = 1;
}

void
job_fields_free(struct job_fields *f)
{
	free(f->handler);
	free(f->payload);
	free(f->resource);
	free(f->source);
	job_fields_env_free(f->env, f->nenv);
	memset(f, 0, sizeof(*f));
}
