/* SPDX-License-Identifier: MIT */
/*
 * The typed calls of the scripts a client runs on jobs (deferctl):
 * enqueue.lua, enqueue_batch.lua, cancel.lua, revive.lua and purge.lua;
 * see store.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "store.h"
#include "store_call.h"

/* The arguments both enqueue scripts take after the job's own. */
static void
store_enqueue_common(struct store_call *c, const struct store_enqueue_args *a)
{
	store_arg(c, a->at ? "at" : "in");
	store_arg_int(c, a->ms);
	if (a->max_attempts > 0)
		store_arg_int(c, a->max_attempts);
	else
		store_arg(c, "");
	store_arg(c, a->resource != NULL ? a->resource : "");
	store_arg(c, a->source != NULL ? a->source : "");
	store_arg(c, a->wake);
	store_arg(c, a->events);
}

void
store_enqueue(struct store_call *c, const struct store_enqueue_args *a)
{
	store_begin(c, SCRIPT_ENQUEUE, 2, (const char *[]){ a->k_job,
	    a->k_delayed });
	store_arg(c, a->id);
	store_arg(c, a->handler);
	store_arg_bin(c, a->payload != NULL ? a->payload : "",
	    a->payload_len);
	store_enqueue_common(c, a);
	if (a->timeout_ms > 0) {
		store_arg(c, "timeout_ms");
		store_arg_int(c, a->timeout_ms);
	}
}

void
store_enqueue_batch(struct store_call *c, const struct store_enqueue_args *a)
{
	store_begin(c, SCRIPT_ENQUEUE_BATCH, 1, (const char *[]){
	    a->k_delayed });
	store_arg(c, a->prefix);
	store_arg(c, a->handler);
	store_enqueue_common(c, a);
	if (a->timeout_ms > 0) {
		store_arg(c, "1");
		store_arg(c, "timeout_ms");
		store_arg_int(c, a->timeout_ms);
	} else
		store_arg(c, "0");
}

void
store_enqueue_batch_add(struct store_call *c, const char *id,
    const void *payload, size_t len)
{
	store_arg(c, id);
	store_arg_bin(c, payload, len);
}

/* {created, due_ms} */
int
store_enqueue_reply(const redisReply *r, struct store_enqueued *out,
    char *err, size_t errlen)
{
	int64_t	v[2];

	if (store_ints(r, 2, v, err, errlen) == -1)
		return (-1);
	out->created = v[0];
	out->due_ms = v[1];
	return (0);
}

void
store_cancel(struct store_call *c, const struct store_job_keys *k,
    const char *id)
{
	store_begin(c, SCRIPT_CANCEL, 5, (const char *[]){ k->k_delayed,
	    k->k_active, k->k_dead, k->k_job, k->k_result });
	store_arg(c, id);
	store_arg(c, k->events);
}

int
store_cancel_reply(const redisReply *r, const char **state, char *err,
    size_t errlen)
{
	static const char *const words[] = { "cancelled", "running", "dead",
			    "finished", "unknown" };

	if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
		return (store_bad_reply(r, err, errlen));
	*state = "unknown";
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(r->str, words[i]) == 0)
			*state = words[i];
	return (0);
}

void
store_revive(struct store_call *c, const struct store_job_keys *k,
    const char *id)
{
	store_begin(c, SCRIPT_REVIVE, 3, (const char *[]){ k->k_dead,
	    k->k_delayed, k->k_job });
	store_arg(c, id);
	store_arg(c, k->wake);
	store_arg(c, k->events);
}

void
store_purge(struct store_call *c, const struct store_job_keys *k,
    const char *id)
{
	store_begin(c, SCRIPT_PURGE, 1, (const char *[]){ k->k_dead });
	store_arg(c, k->prefix);
	store_arg(c, id != NULL ? id : "");
}

int
store_count_reply(const redisReply *r, int64_t *n, char *err, size_t errlen)
{
	if (r->type != REDIS_REPLY_INTEGER)
		return (store_bad_reply(r, err, errlen));
	*n = r->integer;
	return (0);
}

void
store_keyset_init(struct store_keyset *a, const char *ns, const char *q,
    const char *id, const char *events)
{
	memset(a, 0, sizeof(*a));
	a->k.k_delayed = a->delayed = keys_queue(ns, q, "delayed");
	a->k.k_active = a->active = keys_queue(ns, q, "active");
	a->k.k_dead = a->dead = keys_queue(ns, q, "dead");
	a->k.prefix = a->prefix = keys_prefix(ns, q);
	a->k.wake = a->wake = keys_queue(ns, q, "wake");
	a->k.events = events;
	if (id != NULL) {
		a->k.k_job = a->job = keys_job(ns, q, id);
		a->k.k_result = a->result = keys_result(ns, q, id);
	}
}

void
store_keyset_free(struct store_keyset *a)
{
	free(a->delayed);
	free(a->active);
	free(a->dead);
	free(a->prefix);
	free(a->wake);
	free(a->job);
	free(a->result);
}
