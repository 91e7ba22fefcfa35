/* SPDX-License-Identifier: MIT */
/*
 * deferctl show, list and stats: read-only views of a queue. Nothing here
 * changes Redis; show reads one job in a MULTI so that its state and fields
 * are one snapshot, list and stats pipeline their reads.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "job_body.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define SHOW_PAYLOAD_MAX	200	/* payload bytes shown in text mode */
#define LIST_DEFAULT_LIMIT	100
#define STATS_RECENT_MS		60000	/* daemon summaries newer than this are shown */
#define STATS_DAEMONS_KEY	"{daemons}"	/* JSON key; no queue name has braces */

/* The zsets a job can be in, in show's order of precedence. */
static const struct {
	const char	*zset;	/* key suffix and state word */
	const char	*when;	/* what the score means */
} show_states[] = {
	{ "delayed", "due" },
	{ "active", "deadline" },
	{ "dead", "died" },
};

static int	 one_id_operand(const char *, int, char **, const char **);
static redisReply *show_fetch(struct ctl *, const char *);
static void	 show_text(struct ctl *, const char *, const char *, int,
		    int64_t, redisReply *);
static void	 show_text_field(const redisReply *, const redisReply *);
static void	 show_json(struct ctl *, const char *, const char *, int,
		    int64_t, redisReply *);
static int	 list_option(void *, int, const char *);
static int	 list_print(struct ctl *, redisReply *);
static void	 list_line(struct ctl *, const redisReply *, const redisReply *,
		    const redisReply *, const redisReply *, bool);
static int	 stats_print(struct ctl *, char **, size_t, int64_t);
static redisReply *stats_daemons_fetch(struct ctl *, const char *, int64_t);
static void	 stats_daemons_print(struct ctl *, const redisReply *);

/* Check that argv holds exactly one valid job ID; store it in *id. */
static int
one_id_operand(const char *cmd, int argc, char **argv, const char **id)
{
	if (argc != 1)
		return (ctl_usage("%s: expected one job ID", cmd));
	if (ctl_check_lookup_id(argv[0]) != CTL_OK)
		return (CTL_USAGE);
	*id = argv[0];
	return (CTL_OK);
}

/* deferctl show [--queue Q] ID */
int
ctl_cmd_show(struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 }
	};
	const char			*id = NULL, *state = "unknown";
	redisReply			*r;
	int				 r0, which = -1;
	int64_t				 when = -1;

	if ((r0 = ctl_getopt(ctl, argc, argv, longopts, NULL, NULL)) != CTL_OK ||
	    (r0 = one_id_operand("show", argc - optind, argv + optind, &id)) !=
	    CTL_OK)
		return (r0);
	if (ctl_open(ctl) == -1 || (r = show_fetch(ctl, id)) == NULL)
		return (CTL_FAIL);
	for (int i = 0; i < 3 && which < 0; i++)
		if (r->element[1 + i]->type == REDIS_REPLY_STRING) {
			which = i;
			state = show_states[i].zset;
			when = ctl_reply_ms(r->element[1 + i]);
		}
	if (which < 0 && (r->element[4]->type == REDIS_REPLY_STRING ||
	    r->element[5]->type == REDIS_REPLY_STRING))
		state = "finished";
	if (ctl->json)
		show_json(ctl, id, state, which, when, r);
	else
		show_text(ctl, id, state, which, when, r);
	freeReplyObject(r);
	if (strcmp(state, "unknown") != 0)
		return (CTL_OK);
	log_errorx("job %s: unknown in queue %s", id, ctl_queue(ctl));
	return (CTL_FAIL);
}

/*
 * Read the job hash, its scores in delayed, active and dead, its result,
 * its history record and its packed form in one MULTI. Returns the EXEC
 * reply (7 elements; a packed job's fields in place of the hash's), or
 * NULL after reporting.
 */
static redisReply *
show_fetch(struct ctl *ctl, const char *id)
{
	const char	*ns = ctl_ns(ctl), *q = ctl_queue(ctl);
	char		*job = keys_job(ns, q, id), *res = keys_result(ns, q, id);
	char		*hist = keys_queue(ns, q, "history");
	char		*jobs = keys_queue(ns, q, "jobs");
	char		*z[3];
	redisReply	*r;
	bool		 ok = true;

	for (int i = 0; i < 3; i++)
		z[i] = keys_queue(ns, q, show_states[i].zset);
	redisAppendCommand(ctl->rc, "MULTI");
	redisAppendCommand(ctl->rc, "HGETALL %s", job);
	for (int i = 0; i < 3; i++)
		redisAppendCommand(ctl->rc, "ZSCORE %s %s", z[i], id);
	redisAppendCommand(ctl->rc, "GET %s", res);
	redisAppendCommand(ctl->rc, "HGET %s %s", hist, id);
	redisAppendCommand(ctl->rc, "HGET %s %s", jobs, id);
	redisAppendCommand(ctl->rc, "EXEC");
	for (int i = 0; i < 8 && ok; i++) {
		if ((r = ctl_get_reply(ctl)) == NULL)
			ok = false;	/* MULTI and seven QUEUED */
		else
			freeReplyObject(r);
	}
	r = ok ? ctl_get_reply(ctl) : NULL;
	if (r != NULL && (r->type != REDIS_REPLY_ARRAY || r->elements != 7)) {
		log_errorx("redis: EXEC: unexpected reply");
		freeReplyObject(r);
		r = NULL;
	}
	if (r != NULL && r->element[6]->type == REDIS_REPLY_STRING) {
		freeReplyObject(r->element[0]);
		r->element[0] = job_body_reply(r->element[6]->str,
		    r->element[6]->len);
	}
	for (int i = 0; i < 3; i++)
		free(z[i]);
	free(job);
	free(res);
	free(hist);
	free(jobs);
	return (r);
}

/* Print one job for people: state, time, fields, result, last run's record. */
static void
show_text(struct ctl *ctl, const char *id, const char *state, int which,
    int64_t when, redisReply *r)
{
	const redisReply	*h = r->element[0], *res = r->element[4];
	char			 iso[40], buf[1024];

	printf("%-12s %s\n%-12s %s\n%-12s %s\n", "id", id, "queue",
	    ctl_queue(ctl), "state", state);
	if (which >= 0)
		printf("%-12s %s\n", show_states[which].when,
		    util_iso_ms(when, iso, sizeof(iso)));
	for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements;
	    i += 2)
		show_text_field(h->element[i], h->element[i + 1]);
	if (res->type == REDIS_REPLY_STRING)
		printf("%-12s \"%s\"\n", "result",
		    util_escape(res->str, res->len, buf, sizeof(buf)));
	if (r->element[5]->type == REDIS_REPLY_STRING) {
		printf("last run:\n");
		ctl_history_show_text(r->element[5]);
	}
}

/* Print one hash field escaped; the payload is cut, times get an ISO form. */
static void
show_text_field(const redisReply *k, const redisReply *v)
{
	static const char	*times[] = { "enqueued_ms", "due_ms", "died_ms" };
	char			 buf[SHOW_PAYLOAD_MAX * 4 + 8], iso[64];
	size_t			 len = v->len;

	if (strcmp(k->str, "payload") == 0) {
		if (len > SHOW_PAYLOAD_MAX)
			len = SHOW_PAYLOAD_MAX;
		printf("%-12s \"%s\"%s (%zu bytes)\n", "payload",
		    util_escape(v->str, len, buf, sizeof(buf)),
		    len < v->len ? "..." : "", v->len);
		return;
	}
	printf("%-12s ", util_escape(k->str, k->len, iso, sizeof(iso)));
	printf("%s", util_escape(v->str, v->len, buf, sizeof(buf)));
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		if (strcmp(k->str, times[i]) == 0 && v->len > 0)
			printf(" (%s)", util_iso_ms(strtoll(v->str, NULL, 10),
			    iso, sizeof(iso)));
	putchar('\n');
}

/* Print one job as a JSON object; every field in full. */
static void
show_json(struct ctl *ctl, const char *id, const char *state, int which,
    int64_t when, redisReply *r)
{
	const redisReply	*h = r->element[0], *res = r->element[4];
	char			 iso[40];

	printf("{\"id\":");
	ctl_json_str(id);
	printf(",\"queue\":");
	ctl_json_str(ctl_queue(ctl));
	printf(",\"state\":\"%s\"", state);
	if (which >= 0)
		printf(",\"%s_ms\":%" PRId64 ",\"%s\":\"%s\"",
		    show_states[which].when, when, show_states[which].when,
		    util_iso_ms(when, iso, sizeof(iso)));
	printf(",\"job\":");
	if (h->type == REDIS_REPLY_ARRAY && h->elements > 0) {
		for (size_t i = 0; i + 1 < h->elements; i += 2) {
			putchar(i == 0 ? '{' : ',');
			ctl_json_bytes(h->element[i]->str, h->element[i]->len);
			putchar(':');
			ctl_json_bytes(h->element[i + 1]->str,
			    h->element[i + 1]->len);
		}
		putchar('}');
	} else
		printf("null");
	printf(",\"result\":");
	if (res->type == REDIS_REPLY_STRING)
		ctl_json_bytes(res->str, res->len);
	else
		printf("null");
	printf(",\"last_run\":");
	if (r->element[5]->type == REDIS_REPLY_STRING)
		ctl_history_show_json(r->element[5]);
	else
		printf("null");
	printf("}\n");
}

/* list's own option: --limit N. */
static int
list_option(void *arg, int ch, const char *optarg_)
{
	if (ch != CTL_OPT_LIMIT)
		return (ctl_usage("unexpected option"));
	return (ctl_parse_count("--limit", optarg_, 1000000, arg));
}

/* deferctl list [--queue Q] [--limit N] delayed|active|dead|done|failed */
int
ctl_cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS,
		{ "limit", required_argument, NULL, CTL_OPT_LIMIT },
		{ NULL, 0, NULL, 0 }
	};
	long long			limit = LIST_DEFAULT_LIMIT;
	const char			*which;
	char				*key;
	redisReply			*r;
	int				 status;

	if ((status = ctl_getopt(ctl, argc, argv, longopts, list_option,
	    &limit)) != CTL_OK)
		return (status);
	if (argc - optind != 1)
		return (ctl_usage("list: expected one of delayed, active, dead, "
		    "done, failed"));
	which = argv[optind];
	if (strcmp(which, "delayed") != 0 && strcmp(which, "active") != 0 &&
	    strcmp(which, "dead") != 0 && strcmp(which, "done") != 0 &&
	    strcmp(which, "failed") != 0)
		return (ctl_usage("list: '%s' is not delayed, active, dead, "
		    "done or failed", which));
	if (ctl_open(ctl) == -1)
		return (CTL_FAIL);
	if (strcmp(which, "done") == 0 || strcmp(which, "failed") == 0)
		return (ctl_history_list(ctl, which, limit));
	key = keys_queue(ctl_ns(ctl), ctl_queue(ctl), which);
	r = ctl_cmd(ctl, "ZRANGE %s 0 %lld WITHSCORES", key, limit - 1);
	free(key);
	if (r == NULL)
		return (CTL_FAIL);
	status = list_print(ctl, r);
	freeReplyObject(r);
	return (status);
}

/*
 * Fetch handler, attempts and last_error of every listed job (of its hash,
 * or of its packed form when it has one) and print them.
 */
static int
list_print(struct ctl *ctl, redisReply *z)
{
	size_t		 n = z->type == REDIS_REPLY_ARRAY ? z->elements / 2 : 0;
	redisReply	*h, **bodies;
	char		*key;
	size_t		 got = 0;
	int		 status = CTL_OK;

	key = keys_queue(ctl_ns(ctl), ctl_queue(ctl), "jobs");
	for (size_t i = 0; i < n; i++)
		redisAppendCommand(ctl->rc, "HGET %s %s", key,
		    z->element[2 * i]->str);
	free(key);
	for (size_t i = 0; i < n; i++) {
		key = keys_job(ctl_ns(ctl), ctl_queue(ctl), z->element[2 * i]->str);
		redisAppendCommand(ctl->rc, "HMGET %s handler attempts last_error",
		    key);
		free(key);
	}
	bodies = xcalloc(n + 1, sizeof(*bodies));
	while (got < n && (bodies[got] = ctl_get_reply(ctl)) != NULL)
		got++;
	if (got < n)
		status = CTL_FAIL;
	if (ctl->json && status == CTL_OK)
		putchar('[');
	for (size_t i = 0; i < n && status == CTL_OK; i++) {
		if ((h = ctl_get_reply(ctl)) == NULL) {
			status = CTL_FAIL;
			break;
		}
		list_line(ctl, z->element[2 * i], z->element[2 * i + 1], h,
		    bodies[i], i == 0);
		freeReplyObject(h);
	}
	if (ctl->json && status == CTL_OK)
		printf("]\n");
	for (size_t i = 0; i < got; i++)
		freeReplyObject(bodies[i]);
	free(bodies);
	return (status);
}

/*
 * Print one listed job: ID, time, handler, attempts, last error (of h, the
 * hash's HMGET, or of body, its packed form, when that is a string).
 */
static void
list_line(struct ctl *ctl, const redisReply *id, const redisReply *score,
    const redisReply *h, const redisReply *body, bool first)
{
	const redisReply	*hd = NULL, *at = NULL, *le = NULL;
	redisReply		*packed = NULL;
	char			 iso[40], buf[1024];
	int64_t			 ms = ctl_reply_ms(score);

	if (body->type == REDIS_REPLY_STRING) {
		packed = job_body_reply(body->str, body->len);
		hd = job_reply_field(packed, "handler");
		at = job_reply_field(packed, "attempts");
		le = job_reply_field(packed, "last_error");
	} else if (h->type == REDIS_REPLY_ARRAY && h->elements == 3) {
		hd = h->element[0]->type == REDIS_REPLY_STRING ? h->element[0] : NULL;
		at = h->element[1]->type == REDIS_REPLY_STRING ? h->element[1] : NULL;
		le = h->element[2]->type == REDIS_REPLY_STRING ? h->element[2] : NULL;
	}
	util_iso_ms(ms, iso, sizeof(iso));
	if (!ctl->json) {
		printf("%s %s %s %s%s%s\n", id->str, iso, hd ? hd->str : "-",
		    at ? at->str : "0", le && le->len ? " " : "",
		    le ? util_escape(le->str, le->len, buf, sizeof(buf)) : "");
		freeReplyObject(packed);
		return;
	}
	printf("%s{\"id\":", first ? "" : ",");
	ctl_json_bytes(id->str, id->len);
	printf(",\"time_ms\":%" PRId64 ",\"time\":\"%s\",\"handler\":", ms, iso);
	if (hd != NULL)
		ctl_json_bytes(hd->str, hd->len);
	else
		printf("null");
	printf(",\"attempts\":%lld,\"last_error\":",
	    at ? strtoll(at->str, NULL, 10) : 0LL);
	if (le != NULL)
		ctl_json_bytes(le->str, le->len);
	else
		printf("null");
	putchar('}');
	freeReplyObject(packed);
}

/* deferctl stats [--queue Q] */
int
ctl_cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 }
	};
	int				 status;
	int64_t				 now;
	char				*one[1];

	if ((status = ctl_getopt(ctl, argc, argv, longopts, NULL, NULL)) !=
	    CTL_OK)
		return (status);
	if (argc - optind != 0)
		return (ctl_usage("stats: unexpected argument '%s'", argv[optind]));
	if (ctl_open(ctl) == -1 || ctl_redis_time(ctl, &now) == -1)
		return (CTL_FAIL);
	if (ctl->queue != NULL) {
		one[0] = (char *)ctl->queue;
		return (stats_print(ctl, one, 1, now));
	}
	return (stats_print(ctl, ctl->cfg->queues, ctl->cfg->nqueues, now));
}

/*
 * Count the delayed, due by now, active and dead jobs of queue into v,
 * and whether it is paused (v[4]), on the queue's master; -1 after
 * reporting.
 */
static int
stats_counts(struct ctl *ctl, const char *queue, int64_t now, long long v[5])
{
	static const char	*names[] = { "delayed", "due", "active", "dead",
				    "paused" };
	redisReply		*r;
	char			*key = keys_prefix(ctl_ns(ctl), queue);
	int			 rc = ctl_use(ctl, key);

	free(key);
	if (rc == -1)
		return (-1);
	for (int i = 0; i < 5; i++) {
		key = keys_queue(ctl_ns(ctl), queue, i < 2 ? "delayed" : names[i]);
		if (i == 1)
			redisAppendCommand(ctl->rc, "ZCOUNT %s -inf %lld", key,
			    (long long)now);
		else if (i == 4)
			redisAppendCommand(ctl->rc, "EXISTS %s", key);
		else
			redisAppendCommand(ctl->rc, "ZCARD %s", key);
		free(key);
	}
	for (int i = 0; i < 5; i++) {
		if ((r = ctl_get_reply(ctl)) == NULL)
			return (-1);
		v[i] = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
		freeReplyObject(r);
	}
	return (0);
}

/* Count delayed (and due by now), active and dead jobs of each queue; print. */
static int
stats_print(struct ctl *ctl, char **queues, size_t nq, int64_t now)
{
	long long		 v[5];
	redisReply		*r;
	char			*index;

	if (ctl->json)
		putchar('{');
	else
		printf("%-24s %10s %10s %10s %10s\n", "QUEUE", "DELAYED", "DUE",
		    "ACTIVE", "DEAD");
	for (size_t q = 0; q < nq; q++) {
		if (stats_counts(ctl, queues[q], now, v) == -1)
			return (CTL_FAIL);
		if (!ctl->json) {
			printf("%-24s %10lld %10lld %10lld %10lld%s\n", queues[q],
			    v[0], v[1], v[2], v[3], v[4] ? "  paused" : "");
			continue;
		}
		printf("%s", q == 0 ? "" : ",");
		ctl_json_str(queues[q]);
		printf(":{\"delayed\":%lld,\"due\":%lld,\"active\":%lld,"
		    "\"dead\":%lld,\"paused\":%s}", v[0], v[1], v[2], v[3],
		    v[4] ? "true" : "false");
	}
	index = keys_stats_index(ctl_ns(ctl), ctl_tagged(ctl));
	r = ctl_use(ctl, index) == 0 ? stats_daemons_fetch(ctl, index, now) :
	    NULL;
	free(index);
	if (r == NULL)
		return (CTL_FAIL);
	stats_daemons_print(ctl, r);
	freeReplyObject(r);
	if (ctl->json)
		printf("}\n");
	return (CTL_OK);
}

/*
 * The lateness summaries that running daemons write every 10s (indexed in
 * the zset ns:stats, each in ns:stats:HOST:PID with a TTL): an MGET reply
 * (nil for expired ones), or an empty array; NULL after reporting.
 */
static redisReply *
stats_daemons_fetch(struct ctl *ctl, const char *index, int64_t now)
{
	redisReply	*ids, *r;
	char		**keys;
	const char	**argv;

	ids = ctl_cmd(ctl, "ZRANGEBYSCORE %s %lld +inf", index,
	    (long long)(now - STATS_RECENT_MS));
	if (ids == NULL)
		return (NULL);
	if (ids->type != REDIS_REPLY_ARRAY || ids->elements == 0)
		return (ids);
	keys = xcalloc(ids->elements, sizeof(*keys));
	argv = xcalloc(ids->elements + 1, sizeof(*argv));
	argv[0] = "MGET";
	for (size_t i = 0; i < ids->elements; i++) {
		keys[i] = keys_stats(ctl_ns(ctl), ids->element[i]->str,
		    ctl_tagged(ctl));
		argv[i + 1] = keys[i];
	}
	r = redisCommandArgv(ctl->rc, (int)ids->elements + 1, argv, NULL);
	for (size_t i = 0; i < ids->elements; i++)
		free(keys[i]);
	free(keys);
	free(argv);
	freeReplyObject(ids);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		log_errorx("redis: MGET: %s", r == NULL ? ctl->rc->errstr :
		    "unexpected reply");
		if (r != NULL)
			freeReplyObject(r);
		return (NULL);
	}
	return (r);
}

/* "p50/p99/max" of the nested lateness object key of summary s. */
static const char *
stats_triple(const char *s, size_t len, const char *key, char *out,
    size_t outlen)
{
	char	obj[256], a[24], b[24], c[24];

	if (!json_get(s, len, key, obj, sizeof(obj)) ||
	    !json_get(obj, strlen(obj), "p50", a, sizeof(a)) ||
	    !json_get(obj, strlen(obj), "p99", b, sizeof(b)) ||
	    !json_get(obj, strlen(obj), "max", c, sizeof(c)))
		snprintf(out, outlen, "-");
	else
		snprintf(out, outlen, "%s/%s/%s", a, b, c);
	return (out);
}

/* Print the summaries: a second table, or a JSON array under "{daemons}". */
static void
stats_daemons_print(struct ctl *ctl, const redisReply *r)
{
	char	d[256], n[24], run[24], conc[24], t1[80], t2[80], miss[1100];
	bool	first = true;

	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_STRING)
			continue;
		if (ctl->json) {
			printf("%s", first ? ",\"" STATS_DAEMONS_KEY "\":[" : ",");
			fwrite(e->str, 1, e->len, stdout);
		} else {
			if (first)
				printf("\n%-32s %8s %24s %24s %9s\n", "DAEMON",
				    "CLAIMED", "CLAIM LATE p50/p99/max", "START LATE "
				    "p50/p99/max", "RUNNING");
			if (!json_get(e->str, e->len, "daemon", d, sizeof(d)))
				snprintf(d, sizeof(d), "?");
			if (!json_get(e->str, e->len, "claimed", n, sizeof(n)))
				snprintf(n, sizeof(n), "-");
			if (!json_get(e->str, e->len, "running", run, sizeof(run)) ||
			    !json_get(e->str, e->len, "concurrency", conc,
			    sizeof(conc))) {
				snprintf(run, sizeof(run), "-");
				conc[0] = '\0';
			}
			stats_triple(e->str, e->len, "claim_lateness_ms", t1,
			    sizeof(t1));
			stats_triple(e->str, e->len, "start_lateness_ms", t2,
			    sizeof(t2));
			printf("%-32s %8s %21s ms %21s ms %5s/%s\n", d, n, t1, t2,
			    run, conc);
			if (json_get(e->str, e->len, "missing_handlers", miss,
			    sizeof(miss)))
				printf("%-32s missing handlers (their jobs wait): "
				    "%s\n", "", miss);
		}
		first = false;
	}
	if (ctl->json && !first)
		putchar(']');
}
