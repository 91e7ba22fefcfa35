/* SPDX-License-Identifier: MIT */
/* Encoding job lines and decoding reply lines; see proto.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "proto.h"
#include "util.h"
#include "xmalloc.h"

/* Whether s is a plain decimal number (fencing tokens are INCR counters). */
static bool
proto_is_number(const char *s)
{
	if (*s == '\0' || strlen(s) > 18)
		return (false);
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return (false);
	return (true);
}

/* A DEFERD_EXPIRED_KEY-style variable as "expired_key" (others skipped). */
static void
proto_add_env(struct json_out *o, const struct env_var *v)
{
	char	key[64];
	size_t	i;

	if (strncmp(v->name, "DEFERD_", 7) != 0 || strlen(v->name + 7) >=
	    sizeof(key))
		return;
	for (i = 0; v->name[7 + i] != '\0'; i++)
		key[i] = (char)tolower((unsigned char)v->name[7 + i]);
	key[i] = '\0';
	json_add_cstr(o, key, v->value);
}

char *
proto_job_line(const struct run_spec *spec, int64_t deadline_ms, size_t *len)
{
	struct json_out	 o;
	char		*b64, *line;

	json_out_init(&o);
	json_obj_begin(&o, NULL);
	json_add_cstr(&o, "id", spec->job_id);
	json_add_cstr(&o, "queue", spec->queue);
	json_add_cstr(&o, "handler", spec->handler);
	json_add_int(&o, "attempt", spec->attempt);
	json_add_int(&o, "max_attempts", spec->max_attempts);
	json_add_cstr(&o, "source", spec->source != NULL ? spec->source :
	    "delayed");
	if (json_valid_utf8(spec->payload, spec->payload_len))
		json_add_str(&o, "payload", spec->payload, spec->payload_len);
	else {
		b64 = util_base64(spec->payload, spec->payload_len);
		json_add_cstr(&o, "payload_base64", b64);
		free(b64);
	}
	if (spec->resource != NULL)
		json_add_cstr(&o, "resource", spec->resource);
	if (spec->fencing_token != NULL && proto_is_number(spec->fencing_token))
		json_add_int(&o, "fence", strtoll(spec->fencing_token, NULL, 10));
	for (size_t i = 0; i < spec->nextra_env; i++)
		proto_add_env(&o, &spec->extra_env[i]);
	json_add_int(&o, "deadline_ms", deadline_ms);
	json_obj_end(&o);
	line = json_out_take(&o);
	*len = strlen(line);
	line = xrealloc(line, *len + 2);
	line[(*len)++] = '\n';
	line[*len] = '\0';
	return (line);
}

/* The outcome a status word names; -1 for an unknown word. */
static int
proto_status(const char *word)
{
	if (strcmp(word, "done") == 0)
		return (RUN_DONE);
	if (strcmp(word, "retry") == 0)
		return (RUN_RETRY);
	if (strcmp(word, "dead") == 0)
		return (RUN_DEAD);
	return (-1);
}

/* Take one member of a reply into r; -1 with err for a bad one. */
static int
proto_member(struct proto_reply *r, const char *key, const char *val,
    size_t vlen, bool is_string, int *status, char *err, size_t errlen)
{
	bool	known = strcmp(key, "id") == 0 || strcmp(key, "status") == 0 ||
		    strcmp(key, "result") == 0 || strcmp(key, "error") == 0;

	if (!known)
		return (0);	/* room for later fields */
	if (!is_string) {
		snprintf(err, errlen, "\"%s\" is not a string", key);
		return (-1);
	}
	if (strcmp(key, "id") == 0) {
		if (vlen >= sizeof(r->id) || memchr(val, '\0', vlen) != NULL) {
			snprintf(err, errlen, "\"id\" is not a job ID");
			return (-1);
		}
		memcpy(r->id, val, vlen + 1);
	} else if (strcmp(key, "status") == 0) {
		if ((*status = proto_status(val)) == -1) {
			snprintf(err, errlen, "\"status\" must be done, retry "
			    "or dead");
			return (-1);
		}
	} else if (strcmp(key, "result") == 0) {
		free(r->result);
		r->result = xmemdup(val, vlen + 1);
		r->result_len = vlen;
	} else {
		free(r->error);
		r->error = xstrdup(val);
	}
	return (0);
}

int
proto_parse_reply(const char *line, size_t len, struct proto_reply *r,
    char *err, size_t errlen)
{
	struct json_iter	 it;
	char			 key[32], *val = xmalloc(len + 1);
	size_t			 vlen;
	bool			 is_string;
	int			 rc, status = -1;

	memset(r, 0, sizeof(*r));
	json_iter_init(&it, line, len);
	while ((rc = json_iter_next_len(&it, key, sizeof(key), val, len + 1,
	    &vlen, &is_string)) == 1)
		if (proto_member(r, key, val, vlen, is_string, &status, err,
		    errlen) == -1)
			goto fail;
	if (rc == -1) {
		snprintf(err, errlen, "invalid JSON: not one JSON object");
		goto fail;
	}
	if (r->id[0] == '\0' || status == -1) {
		snprintf(err, errlen, "invalid reply: \"id\" and \"status\" are "
		    "required");
		goto fail;
	}
	r->status = (enum run_outcome)status;
	free(val);
	return (0);
fail:
	free(val);
	proto_reply_free(r);
	return (-1);
}

void
proto_reply_free(struct proto_reply *r)
{
	free(r->result);
	free(r->error);
	memset(r, 0, sizeof(*r));
}
