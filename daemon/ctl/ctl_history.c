/* SPDX-License-Identifier: MIT */
/*
 * deferctl's view of finished jobs (results.history): `list done|failed`
 * and the "finished" part of `show`. The records are JSON objects the
 * daemon wrote (history.h); they are read as untrusted text
 * (history_record_members for JSON).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "history.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define HISTORY_VALUE_MAX	4096	/* bytes of one member shown */

/* Whether v (a non-string JSON value) is an integer or a boolean. */
static bool
history_plain_value(const char *v)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
		return (true);
	if (*v == '-')
		v++;
	if (*v == '\0')
		return (false);
	for (; *v != '\0'; v++)
		if (!isdigit((unsigned char)*v))
			return (false);
	return (true);
}

/*
 * Print record rec for people, one "name value" line per member; times
 * (*_ms but duration_ms) get their ISO form beside them.
 */
void
ctl_history_show_text(const redisReply *rec)
{
	struct json_iter	 it;
	char			 k[64], v[HISTORY_VALUE_MAX], iso[40];
	char			 buf[HISTORY_VALUE_MAX * 4 + 8];
	size_t			 vlen, kl;
	bool			 str;

	json_iter_init(&it, rec->str, rec->len);
	while (json_iter_next_len(&it, k, sizeof(k), v, sizeof(v), &vlen,
	    &str) == 1) {
		kl = strlen(k);
		printf("%-12s %s", util_escape(k, kl, iso, sizeof(iso)),
		    util_escape(v, vlen, buf, sizeof(buf)));
		if (!str && kl > 3 && strcmp(k + kl - 3, "_ms") == 0 &&
		    strcmp(k, "duration_ms") != 0 && history_plain_value(v))
			printf(" (%s)", util_iso_ms(strtoll(v, NULL, 10), iso,
			    sizeof(iso)));
		putchar('\n');
	}
}

/* Print record rec as a JSON object (its members, checked) to stdout. */
void
ctl_history_show_json(const redisReply *rec)
{
	struct json_out	o;

	json_out_init(&o);
	json_obj_begin(&o, NULL);
	history_record_members(&o, rec->str);
	json_obj_end(&o);
	fputs(json_out_str(&o), stdout);
	json_out_free(&o);
}

/* One listed record for people: ID, finish time, handler, attempts, status, duration, error. */
static void
history_line(const redisReply *id, int64_t ms, const redisReply *rec)
{
	char		 iso[40], buf[1024], v[HISTORY_VALUE_MAX];
	const char	*keys[] = { "handler", "attempts", "status" };

	printf("%s %s", id->str, util_iso_ms(ms, iso, sizeof(iso)));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		printf(" %s", rec != NULL && json_get(rec->str, rec->len, keys[i],
		    v, sizeof(v)) ? util_escape(v, strlen(v), buf, sizeof(buf)) :
		    "-");
	if (rec != NULL && json_get(rec->str, rec->len, "duration_ms", v,
	    sizeof(v)))
		printf(" %sms", util_escape(v, strlen(v), buf, sizeof(buf)));
	if (rec != NULL && json_get(rec->str, rec->len, "error", v, sizeof(v)))
		printf(" %s", util_escape(v, strlen(v), buf, sizeof(buf)));
	putchar('\n');
}

/*
 * Print the listed IDs (z: ID, score pairs) with their records (h: the
 * HMGET reply; NULL when nothing is listed).
 */
static void
history_print(struct ctl *ctl, const redisReply *z, const redisReply *h)
{
	size_t			 n = z->elements / 2;
	const redisReply	*rec;
	struct json_out		 o;
	char			 iso[40];
	int64_t			 ms;

	if (ctl->json)
		putchar('[');
	for (size_t i = 0; i < n; i++) {
		rec = h != NULL && h->type == REDIS_REPLY_ARRAY &&
		    i < h->elements &&
		    h->element[i]->type == REDIS_REPLY_STRING ? h->element[i] :
		    NULL;
		ms = ctl_reply_ms(z->element[2 * i + 1]);
		if (!ctl->json) {
			history_line(z->element[2 * i], ms, rec);
			continue;
		}
		json_out_init(&o);
		json_obj_begin(&o, NULL);
		json_add_str(&o, "id", z->element[2 * i]->str,
		    z->element[2 * i]->len);
		json_add_int(&o, "time_ms", ms);
		json_add_cstr(&o, "time", util_iso_ms(ms, iso, sizeof(iso)));
		if (rec != NULL)
			history_record_members(&o, rec->str);
		json_obj_end(&o);
		printf("%s%s", i == 0 ? "" : ",", json_out_str(&o));
		json_out_free(&o);
	}
	if (ctl->json)
		printf("]\n");
}

/*
 * deferctl list done|failed: the newest limit finished jobs of the
 * queue, from NS:{Q}:done or NS:{Q}:failed, with their records.
 */
int
ctl_history_list(struct ctl *ctl, const char *which, long long limit)
{
	char		*list = keys_queue(ctl_ns(ctl), ctl_queue(ctl), which);
	char		*hist = keys_queue(ctl_ns(ctl), ctl_queue(ctl), "history");
	redisReply	*z, *h = NULL;
	size_t		 n;
	const char	**argv;

	z = ctl_cmd(ctl, "ZREVRANGE %s 0 %lld WITHSCORES", list, limit - 1);
	if (z != NULL && z->type != REDIS_REPLY_ARRAY) {
		log_errorx("redis: ZREVRANGE %s: unexpected reply", list);
		freeReplyObject(z);
		z = NULL;
	}
	if (z != NULL && z->elements >= 2) {
		n = z->elements / 2;
		argv = xcalloc(n + 2, sizeof(*argv));
		argv[0] = "HMGET";
		argv[1] = hist;
		for (size_t i = 0; i < n; i++)
			argv[2 + i] = z->element[2 * i]->str;
		redisAppendCommandArgv(ctl->rc, (int)n + 2, argv, NULL);
		free(argv);
		h = ctl_get_reply(ctl);
	}
	free(list);
	free(hist);
	if (z == NULL || (z->elements >= 2 && h == NULL)) {
		freeReplyObject(z);
		return (CTL_FAIL);
	}
	history_print(ctl, z, h);
	freeReplyObject(z);
	if (h != NULL)
		freeReplyObject(h);
	return (CTL_OK);
}
