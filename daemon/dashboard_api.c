/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's JSON API; see dashboard_api.h. The overview reads only
 * counts (ZCARD, ZCOUNT, EXISTS: no scan), the daemons' lateness
 * summaries deferctl stats reads, and INFO; everything from Redis is
 * treated as untrusted text and re-encoded.
 */
#include <event2/buffer.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard_api.h"
#include "deferd.h"
#include "json.h"
#include "keys.h"
#include "rconn.h"
#include "sched.h"
#include "util.h"
#include "xmalloc.h"

#define DAEMONS_RECENT_MS	60000	/* summaries newer than this are shown */
#define DAEMONS_MAX		100	/* shown at most */
#define INFO_VALUE_MAX		64

/* The counts of one queue, in the order they are asked. */
enum api_count { C_DELAYED, C_DUE, C_ACTIVE, C_DEAD, C_DONE, C_FAILED,
    C_PAUSED, C_N };
static const char *const count_names[C_N] = { "delayed", "due", "active",
    "dead", "done", "failed", "paused" };

struct api_call {
	struct deferd	*d;
	api_done_cb	 done;		/* NULL once cancelled */
	void		*arg;
	int		 pending;	/* replies still to come */
	bool		 failed;	/* a command could not be sent */
	int64_t		 now_ms;	/* Redis time, estimated */
	size_t		 nqueues;
	char		**queues;	/* names, copied: a reload may come meanwhile */
	long long	(*counts)[C_N];	/* -1: no answer */
	char		**summaries;	/* the daemons' JSON summaries, copied */
	size_t		 nsummaries;
	char		 redis_version[INFO_VALUE_MAX];	/* "" when unknown */
	char		 used_memory_human[INFO_VALUE_MAX];
	char		 connected_clients[INFO_VALUE_MAX];
};

/* One command's answer: where it goes (queue and what, for counts). */
struct api_slot {
	struct api_call	*call;
	size_t		 queue;
	enum api_count	 what;
};

static void	api_finish(struct api_call *);

/* Free a call and what it holds. */
static void
api_free(struct api_call *c)
{
	for (size_t i = 0; i < c->nqueues; i++)
		free(c->queues[i]);
	free(c->queues);
	free(c->counts);
	for (size_t i = 0; i < c->nsummaries; i++)
		free(c->summaries[i]);
	free(c->summaries);
	free(c);
}

/* One answer less to wait for: finish when it was the last. */
static void
api_answered(struct api_call *c)
{
	if (--c->pending == 0)
		api_finish(c);
}

/* A count's reply. */
static void
api_count_reply(redisReply *r, void *priv)
{
	struct api_slot	*s = priv;

	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		s->call->counts[s->queue][s->what] = r->integer;
	api_answered(s->call);
	free(s);
}

/* A slot for an answer of call c (what and queue only for counts). */
static struct api_slot *
api_slot(struct api_call *c, size_t queue, enum api_count what)
{
	struct api_slot	*s = xcalloc(1, sizeof(*s));

	s->call = c;
	s->queue = queue;
	s->what = what;
	return (s);
}

/* Send one command for call c; its reply goes to cb with slot s (owned). */
static void
api_send(struct api_call *c, rconn_reply_cb cb, struct api_slot *s, int argc,
    const char **argv)
{
	c->pending++;
	if (rconn_command(c->d->cmd, cb, s, argc, argv, NULL) == -1) {
		c->pending--;
		c->failed = true;
		free(s);
	}
}

/* The seven counts of queue i. */
static void
api_queue_counts(struct api_call *c, size_t i)
{
	const char	*ns = c->d->cfg->namespace, *q = c->queues[i];
	static const char *const key_of[C_N] = { "delayed", "delayed", "active",
			    "dead", "done", "failed", "paused" };
	char		*key, now[32];
	struct api_slot	*s;

	snprintf(now, sizeof(now), "%" PRId64, c->now_ms);
	for (int k = 0; k < C_N; k++) {
		s = api_slot(c, i, (enum api_count)k);
		key = keys_queue(ns, q, key_of[k]);
		if (k == C_DUE)
			api_send(c, api_count_reply, s, 4, (const char *[]){
			    "ZCOUNT", key, "-inf", now });
		else if (k == C_PAUSED)
			api_send(c, api_count_reply, s, 2, (const char *[]){
			    "EXISTS", key });
		else
			api_send(c, api_count_reply, s, 2, (const char *[]){
			    "ZCARD", key });
		free(key);
	}
}

/* MGET of the recent summaries: copied for the JSON. */
static void
api_summaries_reply(redisReply *r, void *priv)
{
	struct api_slot	*s = priv;
	struct api_call	*c = s->call;

	free(s);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
		c->summaries = xcalloc(r->elements + 1, sizeof(*c->summaries));
		for (size_t i = 0; i < r->elements; i++)
			if (r->element[i]->type == REDIS_REPLY_STRING)
				c->summaries[c->nsummaries++] = xstrndup(
				    r->element[i]->str, r->element[i]->len);
	}
	api_answered(c);
}

/* The index of recent summaries: fetch them with one MGET. */
static void
api_index_reply(redisReply *r, void *priv)
{
	struct api_slot	*s = priv;
	struct api_call	*c = s->call;
	const char	**argv;
	char		**keys;
	size_t		 n;
	bool		 tagged = c->d->cluster != NULL;

	free(s);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
		n = r->elements < DAEMONS_MAX ? r->elements : DAEMONS_MAX;
		argv = xcalloc(n + 1, sizeof(*argv));
		keys = xcalloc(n, sizeof(*keys));
		argv[0] = "MGET";
		for (size_t i = 0; i < n; i++) {
			keys[i] = keys_stats(c->d->cfg->namespace,
			    r->element[i]->type == REDIS_REPLY_STRING ?
			    r->element[i]->str : "", tagged);
			argv[i + 1] = keys[i];
		}
		api_send(c, api_summaries_reply, api_slot(c, 0, C_N), (int)n + 1,
		    argv);
		for (size_t i = 0; i < n; i++)
			free(keys[i]);
		free(keys);
		free(argv);
	}
	api_answered(c);
}

/* Copy the value of "name:" in INFO text into out ("" when absent). */
static void
api_info_value(const char *info, const char *name, char *out, size_t len)
{
	size_t		 nl = strlen(name), vl;
	const char	*p = info;

	out[0] = '\0';
	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			vl = strcspn(p, "\r\n");
			if (vl >= len)
				vl = len - 1;
			memcpy(out, p, vl);
			out[vl] = '\0';
			return;
		}
}

/* Whether r is text: a bulk string (RESP2), or verbatim (RESP3, hiredis 1.x). */
static bool
api_is_text(const redisReply *r)
{
#ifdef REDIS_REPLY_VERB
	if (r->type == REDIS_REPLY_VERB)
		return (true);
#endif
	return (r->type == REDIS_REPLY_STRING);
}

/* INFO: the version, memory and clients lines. */
static void
api_info_reply(redisReply *r, void *priv)
{
	struct api_slot	*s = priv;
	struct api_call	*c = s->call;

	free(s);
	if (r != NULL && api_is_text(r)) {
		api_info_value(r->str, "redis_version", c->redis_version,
		    sizeof(c->redis_version));
		api_info_value(r->str, "used_memory_human",
		    c->used_memory_human, sizeof(c->used_memory_human));
		api_info_value(r->str, "connected_clients",
		    c->connected_clients, sizeof(c->connected_clients));
	}
	api_answered(c);
}

/* {"p50":..,"p99":..,"max":..} of member key of summary s, when numbers. */
static void
api_triple(struct json_out *o, const char *s, const char *key)
{
	static const char *const names[] = { "p50", "p99", "max" };
	char	 raw[256], v[32], *end;
	long long n;

	if (!json_get(s, strlen(s), key, raw, sizeof(raw)))
		return;
	json_obj_begin(o, key);
	for (size_t i = 0; i < 3; i++)
		if (json_get(raw, strlen(raw), names[i], v, sizeof(v)) &&
		    (n = strtoll(v, &end, 10), end != v && *end == '\0'))
			json_add_int(o, names[i], n);
	json_obj_end(o);
}

/*
 * One daemon's summary, re-encoded field by field (it comes from Redis):
 * its strings as strings, its numbers only when they are numbers.
 */
static void
api_daemon(struct json_out *o, const char *s)
{
	static const char *const strs[] = { "daemon", "version",
			    "missing_handlers" };
	static const char *const nums[] = { "ts_ms", "window_ms", "running",
			    "concurrency", "claimed", "started" };
	char		 v[1024], *end;
	long long	 n;

	if (!json_get(s, strlen(s), "daemon", v, sizeof(v)))
		return;		/* not a summary */
	json_obj_begin(o, NULL);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (json_get(s, strlen(s), strs[i], v, sizeof(v)))
			json_add_cstr(o, strs[i], v);
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		if (json_get(s, strlen(s), nums[i], v, sizeof(v)) &&
		    (n = strtoll(v, &end, 10), end != v && *end == '\0'))
			json_add_int(o, nums[i], n);
	api_triple(o, s, "claim_lateness_ms");
	api_triple(o, s, "start_lateness_ms");
	json_obj_end(o);
}

/* The overview's JSON. */
static void
api_overview_json(const struct api_call *c, struct json_out *o)
{
	json_out_init(o);
	json_obj_begin(o, NULL);
	json_add_cstr(o, "namespace", c->d->cfg->namespace);
	json_add_int(o, "time_ms", c->now_ms);
	json_arr_begin(o, "queues");
	for (size_t i = 0; i < c->nqueues; i++) {
		json_obj_begin(o, NULL);
		json_add_cstr(o, "name", c->queues[i]);
		for (int k = 0; k < C_PAUSED; k++)
			if (c->counts[i][k] >= 0)
				json_add_int(o, count_names[k], c->counts[i][k]);
		json_add_bool(o, "paused", c->counts[i][C_PAUSED] > 0);
		json_obj_end(o);
	}
	json_arr_end(o);
	json_arr_begin(o, "daemons");
	for (size_t i = 0; i < c->nsummaries; i++)
		api_daemon(o, c->summaries[i]);
	json_arr_end(o);
	json_obj_begin(o, "redis");
	if (c->redis_version[0] != '\0')
		json_add_cstr(o, "version", c->redis_version);
	if (c->used_memory_human[0] != '\0')
		json_add_cstr(o, "used_memory_human", c->used_memory_human);
	if (c->connected_clients[0] != '\0')
		json_add_int(o, "connected_clients",
		    strtoll(c->connected_clients, NULL, 10));
	json_obj_end(o);
	json_obj_end(o);
}

/* Every answer is in: hand the JSON to the owner (unless it left), then free. */
static void
api_finish(struct api_call *c)
{
	struct json_out	 o;
	struct evbuffer	*body;

	if (c->done != NULL) {
		if (c->failed || (body = evbuffer_new()) == NULL)
			c->done(c, NULL, c->arg);
		else {
			api_overview_json(c, &o);
			evbuffer_add(body, json_out_str(&o), o.len);
			json_out_free(&o);
			c->done(c, body, c->arg);
			evbuffer_free(body);
		}
	}
	api_free(c);
}

struct api_call *
api_overview(struct deferd *d, api_done_cb done, void *arg)
{
	const struct config	*cfg = d->cfg;
	struct api_call		*c = xcalloc(1, sizeof(*c));
	char			*index, since[32];

	c->d = d;
	c->done = done;
	c->arg = arg;
	c->now_ms = d->nscheds > 0 ? sched_redis_now_ms(d->scheds[0]) :
	    util_real_ms();
	c->nqueues = cfg->nqueues;
	c->queues = xcalloc(c->nqueues + 1, sizeof(*c->queues));
	c->counts = xcalloc(c->nqueues + 1, sizeof(*c->counts));
	c->pending = 1;		/* this function's own, released at the end */
	for (size_t i = 0; i < c->nqueues; i++) {
		c->queues[i] = xstrdup(cfg->queues[i]);
		for (int k = 0; k < C_N; k++)
			c->counts[i][k] = -1;
		api_queue_counts(c, i);
	}
	index = keys_stats_index(cfg->namespace, d->cluster != NULL);
	snprintf(since, sizeof(since), "%" PRId64, c->now_ms -
	    DAEMONS_RECENT_MS);
	api_send(c, api_index_reply, api_slot(c, 0, C_N), 4, (const char *[]){
	    "ZRANGEBYSCORE", index, since, "+inf" });
	free(index);
	if (d->cluster == NULL)		/* a keyless command has no master to go to */
		api_send(c, api_info_reply, api_slot(c, 0, C_N), 1,
		    (const char *[]){ "INFO" });
	if (--c->pending == 0) {	/* nothing could be sent */
		api_finish(c);
		return (NULL);
	}
	return (c);
}

void
api_cancel(struct api_call *c)
{
	c->done = NULL;
}
