/* SPDX-License-Identifier: MIT */
/*
 * The sources of one daemon: a set of instances built from the config,
 * started and stopped with the command connection (an observer on it),
 * replaced as a whole by a reload that changed them, and freed at exit.
 * Also the mapping of source fields of a job hash to the extra DEFERD_*
 * variables of its handler.
 *
 * Reload design. The connection observers and the pub/sub subscriptions
 * are registered once, on this stable struct, and always route to the
 * running set (s->cur). A subscription is one entry per channel (or
 * pattern) that stays subscribed on the connection until exit; sources
 * register their callback on it (sources_subscribe) and a stopped set
 * deregisters (sources_unsubscribe), so a message can never reach a
 * stopped instance. We do not UNSUBSCRIBE: in hiredis 0.14 an UNSUBSCRIBE
 * followed by a SUBSCRIBE of the same channel (a channel kept across a
 * reload) would let the late unsubscribe confirmation delete the new
 * callback. A channel removed by a reload therefore stays subscribed, and
 * its messages are ignored, until restart.
 * A stopped set is kept (s->retired) until exit, like retired configs: its
 * instances still receive the replies of commands they sent (each ignores
 * them once stopped) and channel runs still going finish into it.
 */
#include <event2/event.h>

#include <stdlib.h>
#include <string.h>

#include "deferd.h"
#include "log.h"
#include "rconn.h"
#include "sources.h"
#include "timer.h"
#include "xmalloc.h"

/* The instances of one generation of the config. */
struct srcset {
	struct expire	 *exp;
	struct zsrc	**zsets;
	size_t		  nzsets;
	struct lsrc	**lists;
	size_t		  nlists;
	struct csrc	**chans;
	size_t		  nchans;
};

/* A callback registered on a subscription entry. */
struct ssub_target {
	rconn_message_cb	 cb;
	void			*priv;
};

/* One channel or pattern: subscribed on d->sub once, kept until exit. */
struct ssub {
	char			*channel;
	bool			 pattern;
	struct ssub_target	*targets;
	size_t			 ntargets;
};

struct sources {
	struct deferd	 *d;
	struct srcset	 *cur;
	struct srcset	**retired;
	size_t		  nretired;
	struct ssub	**subs;
	size_t		  nsubs;
	bool		  started;
};

/* Job hash fields that become handler variables. */
static const struct {
	const char	*field;
	const char	*env;
} source_env_fields[] = {
	{ "expired_key", "DEFERD_EXPIRED_KEY" },
	{ "expired_db", "DEFERD_EXPIRED_DB" },
	{ "match", "DEFERD_MATCH" },
	{ "schedule", "DEFERD_SCHEDULE" },
	{ "tick", "DEFERD_TICK" },
};

bool
source_extra_env(struct env_var **env, size_t *n, const char *field,
    const char *value, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(source_env_fields) / sizeof(source_env_fields[0]); i++)
		if (strcmp(field, source_env_fields[i].field) == 0)
			break;
	if (i == sizeof(source_env_fields) / sizeof(source_env_fields[0]) ||
	    memchr(value, '\0', len) != NULL)
		return (false);
	*env = xreallocarray(*env, *n + 1, sizeof(**env));
	(*env)[*n].name = xstrdup(source_env_fields[i].env);
	(*env)[*n].value = xstrndup(value, len);
	(*n)++;
	return (true);
}

void
source_env_free(struct env_var *env, size_t n)
{
	for (size_t i = 0; env != NULL && i < n; i++) {
		free(env[i].name);
		free(env[i].value);
	}
	free(env);
}

const char *
sources_queue(const struct deferd *d, const char *queue)
{
	return (queue != NULL ? queue : d->cfg->queues[0]);
}

/* Route a message of one subscription to every callback registered on it. */
static void
sources_sub_cb(const char *channel, const char *payload, size_t len, void *priv)
{
	struct ssub	*sub = priv;

	for (size_t i = 0; i < sub->ntargets; i++)
		sub->targets[i].cb(channel, payload, len, sub->targets[i].priv);
}

void
sources_subscribe(struct sources *s, const char *channel, bool pattern,
    rconn_message_cb cb, void *priv)
{
	struct ssub	*sub = NULL;

	for (size_t i = 0; i < s->nsubs && sub == NULL; i++)
		if (s->subs[i]->pattern == pattern &&
		    strcmp(s->subs[i]->channel, channel) == 0)
			sub = s->subs[i];
	if (sub == NULL) {
		sub = xcalloc(1, sizeof(*sub));
		sub->channel = xstrdup(channel);
		sub->pattern = pattern;
		s->subs = xreallocarray(s->subs, s->nsubs + 1, sizeof(*s->subs));
		s->subs[s->nsubs++] = sub;
		rconn_subscribe(s->d->sub, channel, pattern, sources_sub_cb,
		    NULL, sub);
	}
	sub->targets = xreallocarray(sub->targets, sub->ntargets + 1,
	    sizeof(*sub->targets));
	sub->targets[sub->ntargets].cb = cb;
	sub->targets[sub->ntargets++].priv = priv;
}

void
sources_unsubscribe(struct sources *s, const void *priv)
{
	for (size_t i = 0; i < s->nsubs; i++) {
		struct ssub	*sub = s->subs[i];
		size_t		 n = 0;

		for (size_t j = 0; j < sub->ntargets; j++)
			if (sub->targets[j].priv != priv)
				sub->targets[n++] = sub->targets[j];
		sub->ntargets = n;
	}
}

/* The command connection is up or down: tell every instance of set. */
static void
srcset_cmd_event(struct srcset *set, enum rconn_event ev)
{
	size_t	i;

	if (ev == RCONN_UP) {
		if (set->exp != NULL)
			expire_up(set->exp);
		for (i = 0; i < set->nzsets; i++)
			zsrc_up(set->zsets[i]);
		for (i = 0; i < set->nlists; i++)
			lsrc_up(set->lists[i]);
	} else if (ev == RCONN_DOWN) {
		if (set->exp != NULL)
			expire_down(set->exp);
		for (i = 0; i < set->nzsets; i++)
			zsrc_down(set->zsets[i]);
		for (i = 0; i < set->nlists; i++)
			lsrc_down(set->lists[i]);
	}
}

/* Observer of the command connection: start or stop the running set. */
static void
sources_cmd_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	struct sources	*s = arg;

	(void)rc;
	srcset_cmd_event(s->cur, ev);
}

/* Observer of the subscriber connection: for the expiration source. */
static void
sources_sub_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	struct sources	*s = arg;

	(void)rc;
	if (s->cur->exp != NULL)
		expire_sub_event(s->cur->exp, ev);
}

/* The instances of d->cfg; startup: see expire_new. */
static struct srcset *
srcset_new(struct sources *s, bool startup)
{
	struct srcset		*set = xcalloc(1, sizeof(*set));
	struct deferd		*d = s->d;
	const struct config	*cfg = d->cfg;

	set->exp = expire_new(s, d, startup);
	for (size_t i = 0; i < cfg->nsources; i++) {
		const struct source *src = &cfg->sources[i];

		switch (src->kind) {
		case SOURCE_ZSET:
			set->zsets = xreallocarray(set->zsets, set->nzsets + 1,
			    sizeof(*set->zsets));
			set->zsets[set->nzsets++] = zsrc_new(d, src);
			break;
		case SOURCE_LIST:
			set->lists = xreallocarray(set->lists, set->nlists + 1,
			    sizeof(*set->lists));
			set->lists[set->nlists] = lsrc_new(d, src, set->nlists);
			set->nlists++;
			break;
		case SOURCE_CHANNEL:
			set->chans = xreallocarray(set->chans, set->nchans + 1,
			    sizeof(*set->chans));
			set->chans[set->nchans++] = csrc_new(s, d, src);
			break;
		}
	}
	return (set);
}

/* Start the set's own connections. */
static void
srcset_start(struct srcset *set)
{
	for (size_t i = 0; i < set->nlists; i++)
		lsrc_start(set->lists[i]);
}

/* Stop every instance of set for good (its memory stays; see the top). */
static void
srcset_stop(struct sources *s, struct srcset *set)
{
	size_t	i;

	if (set->exp != NULL) {
		sources_unsubscribe(s, set->exp);
		expire_stop(set->exp);
	}
	for (i = 0; i < set->nzsets; i++)
		zsrc_down(set->zsets[i]);
	for (i = 0; i < set->nlists; i++)
		lsrc_stop(set->lists[i]);
	for (i = 0; i < set->nchans; i++)
		sources_unsubscribe(s, set->chans[i]);
}

/* Free set; its connections' callbacks must have run. */
static void
srcset_free(struct srcset *set)
{
	size_t	i;

	if (set == NULL)
		return;
	expire_free(set->exp);
	for (i = 0; i < set->nzsets; i++)
		zsrc_free(set->zsets[i]);
	for (i = 0; i < set->nlists; i++)
		lsrc_free(set->lists[i]);
	for (i = 0; i < set->nchans; i++)
		csrc_free(set->chans[i]);
	free(set->zsets);
	free(set->lists);
	free(set->chans);
	free(set);
}

/* Both NULL, or equal strings. */
static bool
sources_same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/* Whether the expirations sections of a and b are the same. */
static bool
sources_same_rules(const struct config *a, const struct config *b)
{
	if (a->expirations.configure_redis != b->expirations.configure_redis ||
	    a->expirations.nrules != b->expirations.nrules)
		return (false);
	for (size_t i = 0; i < a->expirations.nrules; i++) {
		const struct expiration_rule *x = &a->expirations.rules[i];
		const struct expiration_rule *y = &b->expirations.rules[i];

		if (!sources_same_str(x->pattern, y->pattern) || x->db != y->db ||
		    !sources_same_str(x->handler, y->handler) ||
		    !sources_same_str(x->resource, y->resource) ||
		    !sources_same_str(x->queue, y->queue))
			return (false);
	}
	return (true);
}

/* Whether the sources sections of a and b are the same. */
static bool
sources_same_sources(const struct config *a, const struct config *b)
{
	if (a->nsources != b->nsources)
		return (false);
	for (size_t i = 0; i < a->nsources; i++) {
		const struct source *x = &a->sources[i];
		const struct source *y = &b->sources[i];

		if (x->kind != y->kind || x->is_pattern != y->is_pattern ||
		    x->score_unit_ms != y->score_unit_ms ||
		    !sources_same_str(x->name, y->name) ||
		    !sources_same_str(x->handler, y->handler) ||
		    !sources_same_str(x->queue, y->queue))
			return (false);
	}
	return (true);
}

void
sources_reload(struct sources *s, const struct config *old)
{
	const struct config	*cfg = s->d->cfg;
	bool			 rules = sources_same_rules(old, cfg);
	bool			 srcs = sources_same_sources(old, cfg);
	bool			 db = old->redis.target.db == cfg->redis.target.db;
	struct srcset		*prev = s->cur;

	if (rules && srcs && (db || (old->expirations.nrules == 0 &&
	    cfg->expirations.nrules == 0)))
		return;
	if (!rules)
		log_info("reload: expiration rules changed (%zu -> %zu); sources "
		    "restarted", old->expirations.nrules, cfg->expirations.nrules);
	if (!srcs)
		log_info("reload: sources changed (%zu -> %zu); sources restarted",
		    old->nsources, cfg->nsources);
	if (rules && srcs)
		log_info("reload: database changed (%d -> %d); sources restarted",
		    old->redis.target.db, cfg->redis.target.db);
	srcset_stop(s, prev);
	s->retired = xreallocarray(s->retired, s->nretired + 1,
	    sizeof(*s->retired));
	s->retired[s->nretired++] = prev;
	/* Before READY=1 the new rules are held to the startup check. */
	s->cur = srcset_new(s, !s->d->ready);
	if (prev->exp != NULL)
		expire_handover(s->cur->exp, prev->exp);
	if (!s->started)
		return;
	srcset_start(s->cur);
	if (rconn_ready(s->d->cmd))
		srcset_cmd_event(s->cur, RCONN_UP);
	if (!rconn_ready(s->d->sub) && s->cur->exp != NULL)
		expire_sub_event(s->cur->exp, RCONN_DOWN);	/* an outage goes on */
	deferd_check_ready(s->d);
}

bool
sources_ready(const struct sources *s)
{
	return (s->cur->exp == NULL || expire_ready(s->cur->exp));
}

struct lsrc *
sources_list(struct sources *s, const char *key)
{
	for (size_t i = 0; i < s->cur->nlists; i++)
		if (strcmp(lsrc_key(s->cur->lists[i]), key) == 0)
			return (s->cur->lists[i]);
	return (NULL);
}

struct sources *
sources_new(struct deferd *d)
{
	struct sources	*s = xcalloc(1, sizeof(*s));

	s->d = d;
	s->cur = srcset_new(s, true);
	rconn_observe(d->cmd, sources_cmd_event, s);
	rconn_observe(d->sub, sources_sub_event, s);
	return (s);
}

void
sources_start(struct sources *s)
{
	if (s == NULL)
		return;
	s->started = true;
	srcset_start(s->cur);
}

void
sources_free(struct sources *s)
{
	if (s == NULL)
		return;
	srcset_free(s->cur);
	for (size_t i = 0; i < s->nretired; i++)
		srcset_free(s->retired[i]);
	free(s->retired);
	for (size_t i = 0; i < s->nsubs; i++) {
		free(s->subs[i]->channel);
		free(s->subs[i]->targets);
		free(s->subs[i]);
	}
	free(s->subs);
	free(s);
}
