/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's actions (dashboard_api.h): the same Lua scripts as
 * deferctl retry, purge and cancel (store.h), sent on the daemon's
 * command connection. The _all ones take at most ACTION_WINDOW dead jobs
 * a click and say whether more are left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard_api.h"
#include "deferd.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

#define ACTION_WINDOW	1000	/* dead jobs one retry_all or delete_all takes */

static const char *const action_names[] = { "retry", "delete", "cancel",
    "retry_all", "delete_all" };

struct action {
	enum api_action	 act;
	char		*ns, *queue, *id, *events;
	const char	*result;	/* one job: the script's word */
	int64_t		 count;		/* _all: jobs retried or deleted */
	bool		 more;		/* _all: dead jobs are left */
	char		 err[256];	/* a script error, "" */
};

static void
action_free(void *data)
{
	struct action	*a = data;

	free(a->ns);
	free(a->queue);
	free(a->id);
	free(a->events);
	free(a);
}

static void
action_write(const struct api_call *c, const void *data, struct json_out *o)
{
	const struct action	*a = data;

	(void)c;
	json_obj_begin(o, NULL);
	json_add_cstr(o, "action", action_names[a->act]);
	json_add_cstr(o, "queue", a->queue);
	if (a->err[0] != '\0')
		json_add_cstr(o, "error", a->err);
	else if (a->act == API_RETRY_ALL || a->act == API_DELETE_ALL) {
		json_add_int(o, "count", a->count);
		json_add_bool(o, "more", a->more);
	} else {
		json_add_str(o, "id", a->id, strlen(a->id));
		json_add_cstr(o, "result", a->result);
	}
	json_obj_end(o);
}

static const struct api_kind action_kind = { action_write, action_free };

/* The word for a revive (what 1) or purge (what 0) answer n. */
static const char *
count_word(bool revive, int64_t n)
{
	if (revive)
		return (n == 1 ? "retried" : n == 0 ? "not dead" :
		    "dead without a job hash");
	return (n > 0 ? "deleted" : "not dead");
}

/* The answer of one job's script (cancel, revive or purge). */
static void
one_reply(redisReply *r, void *priv)
{
	struct api_slot	*s = priv;
	struct action	*a = api_call_data(s->call);
	const char	*state;
	int64_t		 n;

	if (r == NULL)
		snprintf(a->err, sizeof(a->err), "redis connection lost");
	else if (a->act == API_CANCEL) {
		if (store_cancel_reply(r, &state, a->err, sizeof(a->err)) == 0)
			a->result = state;
	} else if (store_count_reply(r, &n, a->err, sizeof(a->err)) == 0) {
		if (a->act == API_RETRY || a->act == API_DELETE)
			a->result = count_word(a->act == API_RETRY, n);
		else if (n > 0)
			a->count += n;
	}
	api_answered(s->call);
	free(s);
}

/* Send the script of act for job id (NULL: purge up to 1000). */
static void
send_script(struct api_call *c, struct action *a, enum api_action act,
    const char *id)
{
	struct store_keyset	 k;
	struct store_call	 sc;

	store_keyset_init(&k, a->ns, a->queue, id, a->events);
	if (act == API_CANCEL)
		store_cancel(&sc, &k.k, id);
	else if (act == API_RETRY || act == API_RETRY_ALL)
		store_revive(&sc, &k.k, id);
	else
		store_purge(&sc, &k.k, id);
	api_send_script(c, one_reply, api_slot(c, 0, 0), &sc);
	store_keyset_free(&k);
}

/* The oldest dead IDs: revive each (retry_all). */
static void
dead_ids_reply(redisReply *r, void *priv)
{
	struct api_slot	*s = priv;
	struct api_call	*c = s->call;
	struct action	*a = api_call_data(c);
	size_t		 n;

	free(s);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
		n = r->elements;
		a->more = n > ACTION_WINDOW;
		for (size_t i = 0; i < n && i < ACTION_WINDOW; i++)
			if (r->element[i]->type == REDIS_REPLY_STRING)
				send_script(c, a, API_RETRY_ALL,
				    r->element[i]->str);
	}
	api_answered(c);
}

/* ZCARD dead after delete_all: whether more are left. */
static void
dead_left_reply(redisReply *r, void *priv)
{
	struct api_slot	*s = priv;
	struct action	*a = api_call_data(s->call);

	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		a->more = r->integer > 0;
	api_answered(s->call);
	free(s);
}

struct api_call *
api_action(struct deferd *d, enum api_action act, const char *queue,
    const char *id, api_done_cb done, void *arg)
{
	struct action	*a = xcalloc(1, sizeof(*a));
	struct api_call	*c;
	char		*dead, last[16], logged[256];

	a->act = act;
	a->ns = xstrdup(d->cfg->namespace);
	a->queue = xstrdup(queue);
	a->id = xstrdup(id != NULL ? id : "");
	a->events = xstrdup(d->events_chan);
	a->result = "";
	c = api_call_new(d, &action_kind, a, done, arg);
	dead = keys_queue(a->ns, queue, "dead");
	if (act == API_RETRY_ALL) {
		snprintf(last, sizeof(last), "%d", ACTION_WINDOW);	/* one more: "more" */
		api_send(c, dead_ids_reply, api_slot(c, 0, 0), 4,
		    (const char *[]){ "ZRANGE", dead, "0", last });
	} else if (act == API_DELETE_ALL) {
		send_script(c, a, act, NULL);
		api_send(c, dead_left_reply, api_slot(c, 0, 0), 2,
		    (const char *[]){ "ZCARD", dead });
	} else
		send_script(c, a, act, a->id);
	free(dead);
	/* The ID comes from the request: escaped, as every logged input. */
	log_info("dashboard: %s%s%s in queue %s", action_names[act],
	    id != NULL ? " " : "", id != NULL ? util_escape(id, strlen(id),
	    logged, sizeof(logged)) : "", queue);
	return (api_call_start(c));
}
