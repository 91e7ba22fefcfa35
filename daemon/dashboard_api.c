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
#include "dashboard_call.h"
#include "deferd.h"
#include "json.h"
#include "keys.h"
#include "minutes.h"
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

/* What the overview gathers. */
struct overview {
	int64_t		 now_ms;	/* Redis time, estimated */
	char		*ns;
	size_t		 nqueues;
	char		**queues;	/* names, copied: a reload may come meanwhile */
	long long	(*counts)[C_N];	/* -1: no answer */
	char		**summaries;	/* the daemons' JSON summaries, copied */
	size_t		 nsummaries;
	char		 redis_version[INFO_VALUE_MAX];	/* "" when unknown */
	char		 used_memory_human[INFO_VALUE_MAX];
	char		 connected_clients[INFO_VALUE_MAX];
};

/* Free what the overview gathered. */
static void
overview_free(void *data)
{
	struct overview	*v = data;

	for (size_t i = 0; i < v->nqueues; i++)
		free(v->queues[i]);
	free(v->queues);
	free(v->counts);
	for (size_t i = 0; i < v->nsummaries; i++)
		free(v->summaries[i]);
	free(v->summaries);
	free(v->ns);
	free(v);
}

/* A count's reply. */
static void
api_count_reply(redisReply *r, void *priv)
{
	struct api_slot	*s = priv;
	struct overview	*v = api_call_data(s->call);

	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		v->counts[s->index][s->what] = r->integer;
	api_answered(s->call);
	free(s);
}

/* The seven counts of queue i. */
static void
api_queue_counts(struct api_call *c, struct overview *v, size_t i)
{
	const char	*ns = v->ns, *q = v->queues[i];
	static const char *const key_of[C_N] = { "delayed", "delayed", "active",
			    "dead", "done", "failed", "paused" };
	char		*key, now[32];
	struct api_slot	*s;

	snprintf(now, sizeof(now), "%" PRId64, v->now_ms);
	for (int k = 0; k < C_N; k++) {
		s = api_slot(c, i, k);
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
	struct overview	*v = api_call_data(c);

	free(s);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
		v->summaries = xcalloc(r->elements + 1, sizeof(*v->summaries));
		for (size_t i = 0; i < r->elements; i++)
			if (r->element[i]->type == REDIS_REPLY_STRING)
				v->summaries[v->nsummaries++] = xstrndup(
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
	struct overview	*v = api_call_data(c);
	const char	**argv;
	char		**keys;
	size_t		 n;
	bool		 tagged = api_call_deferd(c)->cluster != NULL;

	free(s);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
		n = r->elements < DAEMONS_MAX ? r->elements : DAEMONS_MAX;
		argv = xcalloc(n + 1, sizeof(*argv));
		keys = xcalloc(n, sizeof(*keys));
		argv[0] = "MGET";
		for (size_t i = 0; i < n; i++) {
			keys[i] = keys_stats(v->ns,
			    r->element[i]->type == REDIS_REPLY_STRING ?
			    r->element[i]->str : "", tagged);
			argv[i + 1] = keys[i];
		}
		api_send(c, api_summaries_reply, api_slot(c, 0, 0), (int)n + 1,
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
	struct overview	*v = api_call_data(c);

	free(s);
	if (r != NULL && api_is_text(r)) {
		api_info_value(r->str, "redis_version", v->redis_version,
		    sizeof(v->redis_version));
		api_info_value(r->str, "used_memory_human",
		    v->used_memory_human, sizeof(v->used_memory_human));
		api_info_value(r->str, "connected_clients",
		    v->connected_clients, sizeof(v->connected_clients));
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
	static const char *const nums[] = { "ts_ms", "started_ms", "window_ms",
			    "running", "concurrency", "claimed", "started" };
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

/* Up to max integers of a JSON array's raw text "[1,2,...]" into out; how many. */
static size_t
int_array(const char *raw, int64_t *out, size_t max)
{
	const char	*p = raw;
	char		*end;
	size_t		 n = 0;

	if (*p++ != '[')
		return (0);
	while (n < max && *p != '\0' && *p != ']') {
		out[n++] = strtoll(p, &end, 10);
		if (end == p)
			return (n - 1);
		p = end + strspn(end, ", ");
	}
	return (n);
}

/*
 * The last hour of every summary ("minutes", minutes.h) added up, minute
 * by minute, ending with minute end: done and failed summed, the start
 * lateness p99 the worst of the daemons' (-1: none).
 */
static void
api_series(const struct overview *v, int64_t end, struct json_out *o)
{
	static const char *const keys[] = { "done", "failed", "start_p99_ms" };
	int64_t	 sum[3][MINUTES_N], vals[MINUTES_N], their_end, at;
	char	 raw[8192], arr[4096], num[32];
	size_t	 n;

	for (int k = 0; k < 3; k++)
		for (int i = 0; i < MINUTES_N; i++)
			sum[k][i] = k == 2 ? -1 : 0;
	for (size_t d = 0; d < v->nsummaries; d++) {
		const char *s = v->summaries[d];

		if (!json_get(s, strlen(s), "minutes", raw, sizeof(raw)) ||
		    !json_get(raw, strlen(raw), "end", num, sizeof(num)))
			continue;
		their_end = strtoll(num, NULL, 10);
		for (int k = 0; k < 3; k++) {
			if (!json_get(raw, strlen(raw), keys[k], arr, sizeof(arr)))
				continue;
			n = int_array(arr, vals, MINUTES_N);
			for (size_t i = 0; i < n; i++) {
				/* Their minute (their_end - n + 1 + i) in our window. */
				at = their_end - (int64_t)n + 1 + (int64_t)i - end +
				    MINUTES_N - 1;
				if (at < 0 || at >= MINUTES_N)
					continue;
				if (k < 2)
					sum[k][at] += vals[i];
				else if (vals[i] > sum[k][at])
					sum[k][at] = vals[i];
			}
		}
	}
	json_obj_begin(o, "series");
	json_add_int(o, "end_minute", end);
	for (int k = 0; k < 3; k++) {
		json_arr_begin(o, keys[k]);
		for (int i = 0; i < MINUTES_N; i++)
			json_add_int(o, NULL, sum[k][i]);
		json_arr_end(o);
	}
	json_obj_end(o);
}

/* The overview's JSON. */
static void
overview_write(const struct api_call *c, const void *data, struct json_out *o)
{
	const struct overview	*v = data;

	(void)c;
	json_obj_begin(o, NULL);
	json_add_cstr(o, "namespace", v->ns);
	json_add_int(o, "time_ms", v->now_ms);
	json_arr_begin(o, "queues");
	for (size_t i = 0; i < v->nqueues; i++) {
		json_obj_begin(o, NULL);
		json_add_cstr(o, "name", v->queues[i]);
		for (int k = 0; k < C_PAUSED; k++)
			if (v->counts[i][k] >= 0)
				json_add_int(o, count_names[k], v->counts[i][k]);
		json_add_bool(o, "paused", v->counts[i][C_PAUSED] > 0);
		json_obj_end(o);
	}
	json_arr_end(o);
	json_arr_begin(o, "daemons");
	for (size_t i = 0; i < v->nsummaries; i++)
		api_daemon(o, v->summaries[i]);
	json_arr_end(o);
	api_series(v, util_real_ms() / 60000, o);
	json_obj_begin(o, "redis");
	if (v->redis_version[0] != '\0')
		json_add_cstr(o, "version", v->redis_version);
	if (v->used_memory_human[0] != '\0')
		json_add_cstr(o, "used_memory_human", v->used_memory_human);
	if (v->connected_clients[0] != '\0')
		json_add_int(o, "connected_clients",
		    strtoll(v->connected_clients, NULL, 10));
	json_obj_end(o);
	json_obj_end(o);
}

static const struct api_kind overview_kind = { overview_write, overview_free };

struct api_call *
api_overview(struct deferd *d, api_done_cb done, void *arg)
{
	const struct config	*cfg = d->cfg;
	struct overview		*v = xcalloc(1, sizeof(*v));
	struct api_call		*c;
	char			*index, since[32];

	v->now_ms = d->nscheds > 0 ? sched_redis_now_ms(d->scheds[0]) :
	    util_real_ms();
	v->ns = xstrdup(cfg->namespace);
	v->nqueues = cfg->nqueues;
	v->queues = xcalloc(v->nqueues + 1, sizeof(*v->queues));
	v->counts = xcalloc(v->nqueues + 1, sizeof(*v->counts));
	c = api_call_new(d, &overview_kind, v, done, arg);
	for (size_t i = 0; i < v->nqueues; i++) {
		v->queues[i] = xstrdup(cfg->queues[i]);
		for (int k = 0; k < C_N; k++)
			v->counts[i][k] = -1;
		api_queue_counts(c, v, i);
	}
	index = keys_stats_index(cfg->namespace, d->cluster != NULL);
	snprintf(since, sizeof(since), "%" PRId64, v->now_ms -
	    DAEMONS_RECENT_MS);
	api_send(c, api_index_reply, api_slot(c, 0, 0), 4, (const char *[]){
	    "ZRANGEBYSCORE", index, since, "+inf" });
	free(index);
	if (d->cluster == NULL)		/* a keyless command has no master to go to */
		api_send(c, api_info_reply, api_slot(c, 0, 0), 1,
		    (const char *[]){ "INFO" });
	return (api_call_start(c));
}
