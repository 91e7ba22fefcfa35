/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's job endpoints (dashboard_api.h): one page of a queue's
 * delayed, active, dead, done or failed jobs, by score, with a cursor;
 * and one job with every field. What Redis holds is re-encoded: strings
 * as JSON strings (bad UTF-8 replaced), big ones cut.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard_api.h"
#include "deferd.h"
#include "history.h"
#include "job_body.h"
#include "json.h"
#include "keys.h"
#include "xmalloc.h"

#define VALUE_MAX	65536	/* bytes of a payload or result shown */
#define FILTER_SCAN	1000	/* candidates a filtered page reads */

/* The lists, in the order of enum api_list; those after DEAD are the records. */
static const char *const list_names[] = { "delayed", "active", "dead", "done",
    "failed" };

/* One listed job. */
struct job_row {
	char		*id;
	int64_t		 ms;
	char		*handler, *attempts, *last_error;	/* NULL: absent */
	char		*record;	/* done, failed: the history record */
};

/*
 * A page of a list: the candidates read (limit of them, or up to
 * FILTER_SCAN when filtering), of which the first limit that match are
 * shown; the next page starts after the last candidate looked at.
 */
struct jobs_page {
	char		*queue;
	enum api_list	 list;
	size_t		 limit;
	char		*handler;	/* filter: this handler only; NULL: any */
	char		*prefix;	/* filter: IDs that start so; NULL: any */
	struct job_row	*rows;		/* the candidates */
	size_t		 nrows;
	bool		 beyond;	/* a candidate beyond them exists */
	bool		 has_cursor;	/* this page's: rows from cursor_ms on, */
	int64_t		 cursor_ms;	/* the first cursor_skip of that score */
	int64_t		 cursor_skip;	/* shown already */
};

bool
api_list_parse(const char *name, enum api_list *list)
{
	for (size_t i = 0; i < sizeof(list_names) / sizeof(list_names[0]); i++)
		if (strcmp(list_names[i], name) == 0) {
			*list = (enum api_list)i;
			return (true);
		}
	return (false);
}

/* Whether the list runs newest first. */
static bool
list_desc(enum api_list l)
{
	return (l == API_DEAD || l == API_DONE || l == API_FAILED);
}

/* A copy of a string reply (cut to max bytes), or NULL for nil and the rest. */
static char *
reply_str(const redisReply *r, size_t max)
{
	if (r == NULL || r->type != REDIS_REPLY_STRING)
		return (NULL);
	return (xstrndup(r->str, r->len < max ? r->len : max));
}

/* Replace *dst (freed) with a copy of string reply v cut to max, or NULL. */
static void
row_set(char **dst, const redisReply *v, size_t max)
{
	free(*dst);
	*dst = reply_str(v, max);
}

static void
page_free(void *data)
{
	struct jobs_page	*p = data;

	for (size_t i = 0; i < p->nrows; i++) {
		free(p->rows[i].id);
		free(p->rows[i].handler);
		free(p->rows[i].attempts);
		free(p->rows[i].last_error);
		free(p->rows[i].record);
	}
	free(p->rows);
	free(p->queue);
	free(p->handler);
	free(p->prefix);
	free(p);
}

/* Whether candidate r passes the page's filters. */
static bool
row_matches(const struct jobs_page *p, const struct job_row *r)
{
	char	h[256];

	if (p->prefix != NULL && strncmp(r->id, p->prefix,
	    strlen(p->prefix)) != 0)
		return (false);
	if (p->handler == NULL)
		return (true);
	if (r->handler != NULL)
		return (strcmp(r->handler, p->handler) == 0);
	return (r->record != NULL && json_get(r->record, strlen(r->record),
	    "handler", h, sizeof(h)) && strcmp(h, p->handler) == 0);
}

/* One shown job. */
static void
write_row(struct json_out *o, const struct job_row *r)
{
	json_obj_begin(o, NULL);
	json_add_str(o, "id", r->id, strlen(r->id));
	json_add_int(o, "time_ms", r->ms);
	if (r->record != NULL)
		history_record_members(o, r->record);
	if (r->handler != NULL)
		json_add_str(o, "handler", r->handler, strlen(r->handler));
	if (r->attempts != NULL)
		json_add_int(o, "attempts", strtoll(r->attempts, NULL, 10));
	if (r->last_error != NULL)
		json_add_str(o, "last_error", r->last_error,
		    strlen(r->last_error));
	json_obj_end(o);
}

static void
page_write(const struct api_call *c, const void *data, struct json_out *o)
{
	const struct jobs_page	*p = data;
	char			 next[64];
	size_t			 shown = 0, last = 0;
	int64_t			 skip;
	bool			 more;

	(void)c;
	json_obj_begin(o, NULL);
	json_add_cstr(o, "queue", p->queue);
	json_add_cstr(o, "state", list_names[p->list]);
	json_arr_begin(o, "jobs");
	for (size_t i = 0; i < p->nrows && shown < p->limit; i++) {
		last = i;
		if (row_matches(p, &p->rows[i])) {
			write_row(o, &p->rows[i]);
			shown++;
		}
	}
	json_arr_end(o);
	/* The next page starts after the last candidate looked at. */
	more = p->nrows > 0 && (last + 1 < p->nrows || p->beyond);
	if (more) {
		skip = p->has_cursor && p->rows[last].ms == p->cursor_ms ?
		    p->cursor_skip : 0;
		for (size_t i = 0; i <= last; i++)
			if (p->rows[i].ms == p->rows[last].ms)
				skip++;
		snprintf(next, sizeof(next), "%" PRId64 ":%" PRId64,
		    p->rows[last].ms, skip);
		json_add_cstr(o, "next", next);
	} else
		json_add_cstr(o, "next", NULL);
	json_obj_end(o);
}

static const struct api_kind page_kind = { page_write, page_free };

/* HMGET of one listed job's hash: its handler, attempts and last error. */
static void
row_fields_reply(redisReply *r, void *priv)
{
	struct api_slot		*s = priv;
	struct jobs_page	*p = api_call_data(s->call);
	struct job_row		*row = &p->rows[s->index];

	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	    r->element[0]->type == REDIS_REPLY_STRING) {
		row_set(&row->handler, r->element[0], 256);
		row_set(&row->attempts, r->element[1], 32);
		row_set(&row->last_error, r->element[2], 1024);
	}
	api_answered(s->call);
	free(s);
}

/*
 * HMGET of the listed IDs' packed forms: a packed job's handler, attempts
 * and last error (its hash, read too, does not exist).
 */
static void
row_bodies_reply(redisReply *r, void *priv)
{
	struct api_slot		*s = priv;
	struct jobs_page	*p = api_call_data(s->call);

	for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY &&
	    i < p->nrows && i < r->elements; i++) {
		const redisReply	*b = r->element[i];
		redisReply		*f;

		if (b->type != REDIS_REPLY_STRING)
			continue;
		f = job_body_reply(b->str, b->len);
		row_set(&p->rows[i].handler, job_reply_field(f, "handler"), 256);
		row_set(&p->rows[i].attempts, job_reply_field(f, "attempts"), 32);
		row_set(&p->rows[i].last_error, job_reply_field(f,
		    "last_error"), 1024);
		freeReplyObject(f);
	}
	api_answered(s->call);
	free(s);
}

/* HMGET of the listed IDs' history records. */
static void
row_records_reply(redisReply *r, void *priv)
{
	struct api_slot		*s = priv;
	struct jobs_page	*p = api_call_data(s->call);

	if (r != NULL && r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < p->nrows && i < r->elements; i++)
			p->rows[i].record = reply_str(r->element[i], 65536);
	api_answered(s->call);
	free(s);
}

/* Ask for the details of every listed job. */
static void
page_details(struct api_call *c, struct jobs_page *p)
{
	const char	*ns = api_call_deferd(c)->cfg->namespace;
	const char	**argv;
	char		*key;
	bool		 records = p->list == API_DONE || p->list == API_FAILED;

	if (p->nrows == 0)
		return;
	/* One HMGET of every row: history records, or packed jobs. */
	argv = xcalloc(p->nrows + 2, sizeof(*argv));
	key = keys_queue(ns, p->queue, records ? "history" : "jobs");
	argv[0] = "HMGET";
	argv[1] = key;
	for (size_t i = 0; i < p->nrows; i++)
		argv[i + 2] = p->rows[i].id;
	api_send(c, records ? row_records_reply : row_bodies_reply,
	    api_slot(c, 0, 0), (int)p->nrows + 2, argv);
	free(argv);
	free(key);
	if (records)
		return;
	for (size_t i = 0; i < p->nrows; i++) {
		if (p->prefix != NULL && strncmp(p->rows[i].id, p->prefix,
		    strlen(p->prefix)) != 0)
			continue;	/* filtered out already */
		key = keys_job(ns, p->queue, p->rows[i].id);
		api_send(c, row_fields_reply, api_slot(c, i, 0), 5,
		    (const char *[]){ "HMGET", key, "handler", "attempts",
		    "last_error" });
		free(key);
	}
}

/*
 * The candidates a page reads: its limit, or when it filters up to
 * FILTER_SCAN (at least the limit), since many may not match.
 */
static size_t
page_scan(const struct jobs_page *p)
{
	if (p->handler == NULL && p->prefix == NULL)
		return (p->limit);
	return (p->limit > FILTER_SCAN ? p->limit : FILTER_SCAN);
}

/* The page's candidates and their scores: keep them, ask for their details. */
static void
page_ids_reply(redisReply *r, void *priv)
{
	struct api_slot		*s = priv;
	struct api_call		*c = s->call;
	struct jobs_page	*p = api_call_data(c);
	size_t			 n;

	free(s);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
		n = r->elements / 2;
		p->beyond = n > page_scan(p);
		if (n > page_scan(p))
			n = page_scan(p);
		p->rows = xcalloc(n + 1, sizeof(*p->rows));
		for (size_t i = 0; i < n; i++) {
			const redisReply *id = r->element[2 * i];
			const redisReply *sc = r->element[2 * i + 1];

			if (id->type != REDIS_REPLY_STRING)
				continue;
			p->rows[p->nrows].id = xstrndup(id->str, id->len);
			p->rows[p->nrows].ms = sc->type == REDIS_REPLY_STRING ?
			    (int64_t)strtod(sc->str, NULL) : 0;
			p->nrows++;
		}
		page_details(c, p);
	}
	api_answered(c);
}

struct api_call *
api_jobs(struct deferd *d, const struct api_jobs_query *q, api_done_cb done,
    void *arg)
{
	struct jobs_page	*p = xcalloc(1, sizeof(*p));
	struct api_call		*c;
	char			*key, from[32], skip[32], count[32];
	bool			 desc = list_desc(q->list);

	p->queue = xstrdup(q->queue);
	p->list = q->list;
	p->limit = q->limit;
	p->handler = q->handler != NULL ? xstrdup(q->handler) : NULL;
	p->prefix = q->prefix != NULL ? xstrdup(q->prefix) : NULL;
	p->has_cursor = q->has_cursor;
	p->cursor_ms = q->cursor_ms;
	p->cursor_skip = q->has_cursor ? q->cursor_skip : 0;
	c = api_call_new(d, &page_kind, p, done, arg);
	key = keys_queue(d->cfg->namespace, q->queue, list_names[q->list]);
	if (q->has_cursor)
		snprintf(from, sizeof(from), "%" PRId64, q->cursor_ms);
	else
		snprintf(from, sizeof(from), "%s", desc ? "+inf" : "-inf");
	snprintf(skip, sizeof(skip), "%" PRId64, p->cursor_skip);
	snprintf(count, sizeof(count), "%zu", page_scan(p) + 1);
	api_send(c, page_ids_reply, api_slot(c, 0, 0), 8, (const char *[]){
	    desc ? "ZREVRANGEBYSCORE" : "ZRANGEBYSCORE", key, from,
	    desc ? "-inf" : "+inf", "WITHSCORES", "LIMIT", skip, count });
	free(key);
	return (api_call_start(c));
}

/* One job: its hash, where it is, its result and its last run's record. */
enum job_part { P_HASH, P_DELAYED, P_ACTIVE, P_DEAD, P_RESULT, P_RECORD,
    P_FENCE, P_BODY, P_N };

/* A string from Redis that may hold any byte. */
struct bytes {
	char	*s;
	size_t	 len;
};

struct job_view {
	char		*queue, *id;
	struct bytes	*fields;	/* name, value, ... (values cut) */
	size_t		 nfields;
	bool		 payload_cut;
	int64_t		 score[3];	/* delayed, active, dead; -1: not there */
	char		*result;	/* NULL: none */
	size_t		 result_len;
	bool		 result_cut;
	char		*record;
	int64_t		 fence;		/* its resource's fencing counter; -1: none */
};

static void
job_free(void *data)
{
	struct job_view	*v = data;

	for (size_t i = 0; i < v->nfields; i++)
		free(v->fields[i].s);
	free(v->fields);
	free(v->queue);
	free(v->id);
	free(v->result);
	free(v->record);
	free(v);
}

static void
job_write(const struct api_call *c, const void *data, struct json_out *o)
{
	static const char *const where[] = { "delayed", "active", "dead" };
	static const char *const when[] = { "due_ms", "deadline_ms", "died_ms" };
	const struct job_view	*v = data;
	const char		*state = "unknown";
	int			 at = -1;

	(void)c;
	for (int i = 0; i < 3 && at < 0; i++)
		if (v->score[i] >= 0)
			at = i;
	if (at >= 0)
		state = where[at];
	else if (v->result != NULL || v->record != NULL)
		state = "finished";
	json_obj_begin(o, NULL);
	json_add_cstr(o, "queue", v->queue);
	json_add_str(o, "id", v->id, strlen(v->id));
	json_add_cstr(o, "state", state);
	if (at >= 0)
		json_add_int(o, when[at], v->score[at]);
	json_obj_begin(o, "fields");
	for (size_t i = 0; i + 1 < v->nfields; i += 2)
		json_add_str(o, v->fields[i].s, v->fields[i + 1].s,
		    v->fields[i + 1].len);
	json_obj_end(o);
	if (v->payload_cut)
		json_add_bool(o, "payload_cut", true);
	if (v->result != NULL) {
		json_add_str(o, "result", v->result, v->result_len);
		if (v->result_cut)
			json_add_bool(o, "result_cut", true);
	} else
		json_add_cstr(o, "result", NULL);
	if (v->record != NULL) {
		json_obj_begin(o, "last_run");
		history_record_members(o, v->record);
		json_obj_end(o);
	}
	if (v->fence >= 0)
		json_add_int(o, "resource_fence", v->fence);
	json_obj_end(o);
}

static const struct api_kind job_kind = { job_write, job_free };

/*
 * A copy of field name or value e, NUL-terminated, every byte kept (a
 * name: up to its first NUL); cut past VALUE_MAX, and *cut set then.
 */
static struct bytes
field_copy(const redisReply *e, bool *cut)
{
	struct bytes	b;

	b.len = e->type == REDIS_REPLY_STRING ? e->len : 0;
	if (b.len > VALUE_MAX) {
		b.len = VALUE_MAX;
		*cut = true;
	}
	b.s = xmalloc(b.len + 1);
	if (b.len > 0)
		memcpy(b.s, e->str, b.len);
	b.s[b.len] = '\0';
	return (b);
}

static void	job_part_store(struct job_view *, enum job_part,
		    const redisReply *);

/* A packed job's value r (a string): its fields, in place of the hash's. */
static void
job_part_body(struct job_view *v, const redisReply *r)
{
	redisReply	*f;

	if (r->type != REDIS_REPLY_STRING)
		return;
	for (size_t i = 0; i < v->nfields; i++)
		free(v->fields[i].s);
	free(v->fields);
	v->fields = NULL;
	v->nfields = 0;
	f = job_body_reply(r->str, r->len);
	job_part_store(v, P_HASH, f);
	freeReplyObject(f);
}

/* Keep part what of the job's answer r. */
static void
job_part_store(struct job_view *v, enum job_part what, const redisReply *r)
{
	bool	cut = false;

	switch (what) {
	case P_HASH:
		if (r->type != REDIS_REPLY_ARRAY)
			break;
		v->fields = xcalloc(r->elements + 1, sizeof(*v->fields));
		for (size_t i = 0; i + 1 < r->elements; i += 2) {
			v->fields[v->nfields++] = field_copy(r->element[i], &cut);
			v->fields[v->nfields++] = field_copy(r->element[i + 1],
			    &cut);
		}
		v->payload_cut = cut;
		break;
	case P_DELAYED:
	case P_ACTIVE:
	case P_DEAD:
		if (r->type == REDIS_REPLY_STRING)
			v->score[what - P_DELAYED] = (int64_t)strtod(r->str, NULL);
		break;
	case P_RESULT:
		if (r->type == REDIS_REPLY_STRING) {
			v->result_len = r->len < VALUE_MAX ? r->len : VALUE_MAX;
			v->result_cut = r->len > VALUE_MAX;
			v->result = xmalloc(v->result_len + 1);
			memcpy(v->result, r->str, v->result_len);
			v->result[v->result_len] = '\0';
		}
		break;
	case P_RECORD:
		v->record = reply_str(r, 65536);
		break;
	case P_FENCE:
		if (r->type == REDIS_REPLY_STRING)
			v->fence = strtoll(r->str, NULL, 10);
		break;
	case P_BODY:
		job_part_body(v, r);
		break;
	case P_N:
		break;
	}
}

static void	job_part_reply(redisReply *, void *);

/* The job locks a resource: ask for its fencing counter too. */
static void
job_ask_fence(struct api_call *c, const struct job_view *v)
{
	const struct deferd	*d = api_call_deferd(c);
	char			*k;

	for (size_t i = 0; i + 1 < v->nfields; i += 2)
		if (strcmp(v->fields[i].s, "resource") == 0 &&
		    v->fields[i + 1].len > 0) {
			k = keys_fence(d->cfg->namespace, v->fields[i + 1].s,
			    d->cluster != NULL);
			api_send(c, job_part_reply, api_slot(c, 0, P_FENCE), 2,
			    (const char *[]){ "GET", k });
			free(k);
			return;
		}
}

/* One part of the job's answer. */
static void
job_part_reply(redisReply *r, void *priv)
{
	struct api_slot	*s = priv;

	if (r != NULL) {
		job_part_store(api_call_data(s->call), (enum job_part)s->what, r);
		if (s->what == P_HASH || (s->what == P_BODY &&
		    r->type == REDIS_REPLY_STRING))
			job_ask_fence(s->call, api_call_data(s->call));
	}
	api_answered(s->call);
	free(s);
}

struct api_call *
api_job(struct deferd *d, const char *queue, const char *id, api_done_cb done,
    void *arg)
{
	const char	*ns = d->cfg->namespace;
	struct job_view	*v = xcalloc(1, sizeof(*v));
	struct api_call	*c;
	char		*k;

	v->queue = xstrdup(queue);
	v->id = xstrdup(id);
	v->score[0] = v->score[1] = v->score[2] = -1;
	v->fence = -1;
	c = api_call_new(d, &job_kind, v, done, arg);
	k = keys_job(ns, queue, id);
	api_send(c, job_part_reply, api_slot(c, 0, P_HASH), 2,
	    (const char *[]){ "HGETALL", k });
	free(k);
	for (int i = 0; i < 3; i++) {
		k = keys_queue(ns, queue, list_names[i]);
		api_send(c, job_part_reply, api_slot(c, 0, P_DELAYED + i), 3,
		    (const char *[]){ "ZSCORE", k, id });
		free(k);
	}
	k = keys_result(ns, queue, id);
	api_send(c, job_part_reply, api_slot(c, 0, P_RESULT), 2,
	    (const char *[]){ "GET", k });
	free(k);
	k = keys_queue(ns, queue, "history");
	api_send(c, job_part_reply, api_slot(c, 0, P_RECORD), 3,
	    (const char *[]){ "HGET", k, id });
	free(k);
	k = keys_queue(ns, queue, "jobs");
	api_send(c, job_part_reply, api_slot(c, 0, P_BODY), 3,
	    (const char *[]){ "HGET", k, id });
	free(k);
	return (api_call_start(c));
}
