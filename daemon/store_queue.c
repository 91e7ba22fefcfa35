/* SPDX-License-Identifier: MIT */
/*
 * The typed store's calls for a queue's leases (store.h): claim, reap,
 * unclaim, outcome and extend, in the argument order of the daemon/lua/
 * scripts of those names, and their replies.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "store_call.h"

void
store_claim(struct store_call *c, const struct store_claim_args *a)
{
	store_begin(c, SCRIPT_CLAIM, 3, (const char *[]){ a->k_delayed,
	    a->k_active, a->k_dead });
	store_arg(c, a->prefix);
	store_arg_int(c, a->limit);
	store_arg_int(c, a->lease_ms);
	store_arg(c, a->nonce);
	store_arg_int(c, (int64_t)a->max_payload);
	store_arg_int(c, a->scan);
	store_arg_int(c, a->dead_max);
	store_arg_int(c, a->dead_ttl_ms);
	store_arg_int(c, a->reap_limit);
	store_arg_int(c, a->max_attempts);
	store_arg(c, a->events);
	store_arg_int(c, a->shared_limit);
	store_arg(c, a->probe_channel != NULL ? a->probe_channel : "");
	store_arg(c, a->probe_message != NULL ? a->probe_message : "");
	for (size_t i = 0; i < a->ncaps; i++) {
		const struct store_claim_cap	*cap = &a->caps[i];
		char				 class[64];

		store_arg(c, cap->handler);
		store_arg_int(c, cap->cap);
		if (cap->rate_n > 0)
			snprintf(class, sizeof(class), "%s@%" PRId64 "/%" PRId64,
			    cap->pool ? "pool" : "shared", cap->rate_n,
			    cap->rate_period_ms);
		else
			snprintf(class, sizeof(class), "%s", cap->pool ? "pool" :
			    "shared");
		store_arg_copy(c, class);	/* class is on the stack */
	}
}

/* {now, next_due, skipped, requeued, buried, entry...} */
int
store_claim_reply(const redisReply *r, struct store_claimed *out, char *err,
    size_t errlen)
{
	int64_t	v[5];

	if (store_ints(r, 5, v, err, errlen) == -1)
		return (-1);
	out->now_ms = v[0];
	out->next_due_ms = v[1];
	out->skipped = v[2];
	out->requeued = v[3];
	out->buried = v[4];
	out->entries = (const redisReply *const *)r->element + 5;
	out->nentries = r->elements - 5;
	return (0);
}

/* Whether e's element i is a string. */
static bool
store_is_str(const redisReply *e, size_t i)
{
	return (e->elements > i && e->element[i]->type == REDIS_REPLY_STRING);
}

void
store_entry_parse(const redisReply *e, struct store_entry *out)
{
	const char	*kind;

	memset(out, 0, sizeof(*out));
	out->kind = STORE_ENTRY_UNKNOWN;
	out->raw = e;
	if (e->type != REDIS_REPLY_ARRAY || !store_is_str(e, 0))
		return;
	kind = e->element[0]->str;
	if (strcmp(kind, "run") == 0 && e->elements >= 2) {
		out->kind = STORE_ENTRY_RUN;
		out->nruns = 1;
	} else if (strcmp(kind, "runs") == 0 && e->elements % 3 == 1) {
		out->kind = STORE_ENTRY_RUNS;
		out->nruns = e->elements / 3;
	} else if (strcmp(kind, "buried") == 0 && store_is_str(e, 1) &&
	    store_is_str(e, 2)) {
		out->kind = STORE_ENTRY_BURIED;
		out->id = e->element[1]->str;
		out->id_len = e->element[1]->len;
		out->reason = e->element[2]->str;
		out->reason_len = e->element[2]->len;
	} else if (strcmp(kind, "trimmed") == 0 && e->elements >= 3 &&
	    store_int(e->element[1], &out->trimmed_max) &&
	    store_int(e->element[2], &out->trimmed_ttl))
		out->kind = STORE_ENTRY_TRIMMED;
	else if (strcmp(kind, "paused") == 0)
		out->kind = STORE_ENTRY_PAUSED;
	else if (strcmp(kind, "probe") == 0 && e->elements >= 2 &&
	    store_int(e->element[1], &out->subscribers))
		out->kind = STORE_ENTRY_PROBE;
}

int
store_entry_run(const struct store_entry *e, size_t i, struct store_run *out)
{
	const redisReply	*r = e->raw;
	size_t			 at = 1 + 3 * i;	/* RUN: i is 0 */

	memset(out, 0, sizeof(*out));
	if (i >= e->nruns || r->elements < at + 2 ||
	    r->element[at]->type != REDIS_REPLY_STRING ||
	    r->element[at + 1]->type != REDIS_REPLY_STRING)
		return (-1);
	out->id = r->element[at];
	out->token = r->element[at + 1];
	out->fields = (const redisReply *const *)r->element + at + 2;
	out->nfields = e->kind == STORE_ENTRY_RUNS ? 1 : r->elements - 3;
	return (0);
}

void
store_reap(struct store_call *c, const struct store_reap_args *a)
{
	store_begin(c, SCRIPT_REAP, 3, (const char *[]){ a->k_active,
	    a->k_delayed, a->k_dead });
	store_arg(c, a->prefix);
	store_arg_int(c, a->limit);
	store_arg(c, a->wake);
	store_arg_int(c, a->dead_max);
	store_arg_int(c, a->dead_ttl_ms);
	store_arg_int(c, a->max_attempts);
	store_arg(c, a->events);
}

/* {requeued, buried, trimmed_max_jobs, trimmed_ttl} */
int
store_reap_reply(const redisReply *r, struct store_reaped *out, char *err,
    size_t errlen)
{
	int64_t	v[4];

	if (store_ints(r, 4, v, err, errlen) == -1)
		return (-1);
	out->requeued = v[0];
	out->buried = v[1];
	out->trimmed_max = v[2];
	out->trimmed_ttl = v[3];
	return (0);
}

void
store_unclaim(struct store_call *c, const char *k_active,
    const char *k_delayed, const char *prefix, int64_t min_score,
    int64_t lease_ms, const char *wake, const char *events,
    const char *const *nonces, size_t nnonces)
{
	store_begin(c, SCRIPT_UNCLAIM, 2, (const char *[]){ k_active,
	    k_delayed });
	store_arg(c, prefix);
	store_arg_int(c, min_score > 0 ? min_score : 0);
	store_arg_int(c, lease_ms);
	store_arg(c, wake);
	store_arg(c, events);
	for (size_t i = 0; i < nnonces; i++)
		store_arg(c, nonces[i]);
}

int
store_unclaim_reply(const redisReply *r, int64_t *given_back, char *err,
    size_t errlen)
{
	if (r->type != REDIS_REPLY_INTEGER)
		return (store_bad_reply(r, err, errlen));
	*given_back = r->integer;
	return (0);
}

void
store_outcome_begin(struct store_call *c, const struct store_outcome_args *a)
{
	store_begin(c, SCRIPT_OUTCOME, 3, (const char *[]){ a->k_active,
	    a->k_delayed, a->k_dead });
	store_arg(c, a->prefix);
	store_arg_int(c, a->result_ttl_ms);
	store_arg_int(c, a->dead_max);
	store_arg_int(c, a->dead_ttl_ms);
	store_arg(c, a->wake);
	store_arg(c, a->events);
	store_arg_int(c, a->history_max);
	store_arg_int(c, a->history_ttl_ms);
}

/*
 * Eight arguments per job: kind, id, token, text, delay, flags, duration,
 * history record.
 */
void
store_outcome_add(struct store_call *c, const struct store_outcome *o)
{
	static const char *const kinds[] = {
		[STORE_COMPLETE] = "complete",
		[STORE_RETRY] = "retry",
		[STORE_BURY] = "bury",
		[STORE_CANCEL] = "cancel",
	};

	store_arg(c, kinds[o->kind]);
	store_arg(c, o->id);
	store_arg(c, o->token);
	store_arg_bin(c, o->text != NULL ? o->text : "", o->text_len);
	if (o->kind == STORE_COMPLETE)
		store_arg(c, "");
	else
		store_arg_int(c, o->delay_ms);
	store_arg(c, o->refund ? (o->conflict ? "rc" : "r") :
	    (o->conflict ? "c" : ""));
	if (o->duration_ms >= 0)
		store_arg_int(c, o->duration_ms);
	else
		store_arg(c, "");
	store_arg(c, o->record != NULL ? o->record : "");
}

/* {answer per job..., [{"trimmed", by_max_jobs, by_ttl}]} */
int
store_outcome_reply(const redisReply *r, size_t njobs,
    struct store_outcomes *out, char *err, size_t errlen)
{
	struct store_entry	e;

	memset(out, 0, sizeof(*out));
	if (r->type != REDIS_REPLY_ARRAY || r->elements < njobs)
		return (store_bad_reply(r, err, errlen));
	out->answers = (const redisReply *const *)r->element;
	out->n = njobs;
	if (r->elements > njobs) {
		store_entry_parse(r->element[njobs], &e);
		if (e.kind == STORE_ENTRY_TRIMMED) {
			out->trimmed_max = e.trimmed_max;
			out->trimmed_ttl = e.trimmed_ttl;
		}
	}
	return (0);
}

enum store_lease
store_lease_answer(const redisReply *const *answers, size_t n, size_t i)
{
	int64_t	v;

	if (i >= n || !store_int(answers[i], &v))
		return (STORE_LEASE_UNKNOWN);
	switch (v) {
	case 1:
		return (STORE_LEASE_OK);
	case 0:
		return (STORE_LEASE_OTHER);
	case 2:
		return (STORE_LEASE_NONE);
	default:
		return (STORE_LEASE_UNKNOWN);
	}
}

void
store_extend_begin(struct store_call *c, const char *k_active,
    const char *prefix, int64_t lease_ms)
{
	store_begin(c, SCRIPT_EXTEND, 1, (const char *[]){ k_active });
	store_arg(c, prefix);
	store_arg_int(c, lease_ms);
}

void
store_extend_add(struct store_call *c, const char *id, const char *token)
{
	store_arg(c, id);
	store_arg(c, token);
}

int
store_extend_reply(const redisReply *r, struct store_extended *out,
    char *err, size_t errlen)
{
	if (r->type != REDIS_REPLY_ARRAY)
		return (store_bad_reply(r, err, errlen));
	out->answers = (const redisReply *const *)r->element;
	out->n = r->elements;
	return (0);
}
