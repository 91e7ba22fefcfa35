/* SPDX-License-Identifier: MIT */
/*
 * The sources of one daemon: a set of instances built from the config,
 * started and stopped with the command connection (an observer on it),
 * replaced as a whole by a reload that changed them, and freed at exit.
 * Also the mapping of source fields of a job hash to the extra DEFERD_*
 * variables of its handler.
 *
 * Reload design. The connection observers are registered once, on this
 * stable struct, and always route to the running set (s->cur); the
 * pub/sub subscriptions go through one router (subs.c) from which a
 * stopped set removes its callbacks.
 * A stopped set is kept (s->retired) while anything may still call into
 * it: its list sources hand their processing lists over (lsrc_stopped),
 * its channel runs finish (csrc_idle), and then the replies of every
 * command its instances sent on the command connection arrive (each
 * ignores them once stopped; rconn_fence says when the last has). Then
 * it is freed, with its reference to its config.
 */
#include <event2/event.h>

#include <stdlib.h>
#include <string.h>

#include "cluster_subs.h"
#include "deferd.h"
#include "log.h"
#include "rconn.h"
#include "sources.h"
#include "subs.h"
#include "timer.h"
#include "xmalloc.h"

#define RETIRED_CHECK_MS	500	/* a retired set not yet quiet: look again */

/* The instances of one generation of the config. */
struct srcset {
	struct sources	 *owner;
	struct config	 *cfg;		/* built from it: a reference (rules point into it) */
	struct expire	 *exp;
	struct zsrc	**zsets;
	size_t		  nzsets;
	struct lsrc	**lists;
	size_t		  nlists;
	struct csrc	**chans;
	size_t		  nchans;
	bool		  fencing;	/* retired, quiet, waiting for replies */
};

struct sources {
	struct deferd	 *d;
	struct srcset	 *cur;
	struct srcset	**retired;
	size_t		  nretired;
	struct event	 *retired_ev;	/* check the retired sets */
	struct subs	 *subs;		/* the running set's subscriptions */
	struct subs	 *keysubs;	/* key events': subs, or every master's */
	sources_ready_cb  ready_cb;	/* the expiration check passed */
	void		 *ready_arg;
	bool		  started;
};

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

/* The key events' subscription went up or down: for the expiration source. */
static void
sources_keys_event(enum rconn_event ev, void *arg)
{
	struct sources	*s = arg;

	if (s->cur->exp != NULL)
		expire_sub_event(s->cur->exp, ev);
}

/* Observer of the subscriber connection, when key events come on it. */
static void
sources_sub_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	(void)rc;
	sources_keys_event(ev, arg);
}

/* Whether the key events' subscription is up. */
static bool
sources_keys_ready(const struct sources *s)
{
	if (s->d->keysubs != NULL)
		return (cluster_subs_ready(s->d->keysubs));
	return (rconn_ready(s->d->sub));
}

/* The expiration check passed: tell the owner. */
static void
sources_expire_ready(void *arg)
{
	struct sources	*s = arg;

	s->ready_cb(s->ready_arg);
}

/* The list source of the running set reading key (defined below). */
static struct lsrc	*sources_list(const char *, void *);

/* The instances of d->cfg; startup: see expire_new. */
static struct srcset *
srcset_new(struct sources *s, bool startup)
{
	struct srcset		*set = xcalloc(1, sizeof(*set));
	struct deferd		*d = s->d;
	const struct config	*cfg = d->cfg;

	set->owner = s;
	set->cfg = config_ref(d->cfg);

	set->exp = expire_new(d, s->keysubs, startup, sources_expire_ready, s);
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
			set->lists[set->nlists] = lsrc_new(d, src, set->nlists,
			    sources_list, s);
			set->nlists++;
			break;
		case SOURCE_CHANNEL:
			set->chans = xreallocarray(set->chans, set->nchans + 1,
			    sizeof(*set->chans));
			set->chans[set->nchans++] = csrc_new(d, s->subs, src);
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
		subs_remove(s->keysubs, set->exp);
		expire_stop(set->exp);
	}
	for (i = 0; i < set->nzsets; i++)
		zsrc_down(set->zsets[i]);
	for (i = 0; i < set->nlists; i++)
		lsrc_stop(set->lists[i]);
	for (i = 0; i < set->nchans; i++)
		subs_remove(s->subs, set->chans[i]);
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
	config_unref(set->cfg);
	free(set);
}

/* Whether nothing of a stopped set runs but replies in flight. */
static bool
srcset_quiet(const struct srcset *set)
{
	for (size_t i = 0; i < set->nlists; i++)
		if (!lsrc_stopped(set->lists[i]))
			return (false);
	for (size_t i = 0; i < set->nchans; i++)
		if (!csrc_idle(set->chans[i]))
			return (false);
	return (true);
}

/* Take set off the retired list. */
static void
sources_unretire(struct sources *s, struct srcset *set)
{
	for (size_t i = 0; i < s->nretired; i++)
		if (s->retired[i] == set) {
			s->retired[i] = s->retired[--s->nretired];
			return;
		}
}

/* A fence passed: no reply can reach a retired set any more; free it. */
static void
sources_retired_fenced(void *arg)
{
	struct srcset	*set = arg;
	struct sources	*s = set->owner;

	sources_unretire(s, set);
	srcset_free(set);
	log_info("reload: the sources of an earlier configuration are freed");
}

/* Timer: fence the retired sets that became quiet; look again later. */
static void
sources_retired_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sources	*s = arg;
	bool		 waiting = false;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < s->nretired; i++) {
		struct srcset *set = s->retired[i];

		if (set->fencing)
			continue;
		if (!srcset_quiet(set)) {
			waiting = true;
			continue;
		}
		set->fencing = true;
		rconn_fence(s->d->cmd, sources_retired_fenced, set);
	}
	if (waiting)
		timer_after(s->retired_ev, RETIRED_CHECK_MS);
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
	timer_after(s->retired_ev, 0);
	/* Before READY=1 the new rules are held to the startup check. */
	s->cur = srcset_new(s, !s->d->ready);
	if (prev->exp != NULL)
		expire_handover(s->cur->exp, prev->exp);
	if (!s->started)
		return;
	srcset_start(s->cur);
	if (rconn_ready(s->d->cmd))
		srcset_cmd_event(s->cur, RCONN_UP);
	if (!sources_keys_ready(s) && s->cur->exp != NULL)
		expire_sub_event(s->cur->exp, RCONN_DOWN);	/* an outage goes on */
	s->ready_cb(s->ready_arg);
}

bool
sources_ready(const struct sources *s)
{
	return (s->cur->exp == NULL || expire_ready(s->cur->exp));
}

/* The list source of the running set reading key, or NULL (lsrc's heir). */
static struct lsrc *
sources_list(const char *key, void *arg)
{
	struct sources	*s = arg;

	for (size_t i = 0; i < s->cur->nlists; i++)
		if (strcmp(lsrc_key(s->cur->lists[i]), key) == 0)
			return (s->cur->lists[i]);
	return (NULL);
}

struct sources *
sources_new(struct deferd *d, sources_ready_cb ready_cb, void *arg)
{
	struct sources	*s = xcalloc(1, sizeof(*s));

	s->d = d;
	s->ready_cb = ready_cb;
	s->ready_arg = arg;
	s->subs = subs_new(d->sub);
	s->keysubs = d->keysubs != NULL ? cluster_subs_router(d->keysubs) :
	    s->subs;
	s->retired_ev = evtimer_new(d->base, sources_retired_cb, s);
	if (s->retired_ev == NULL)
		fatalx("sources: cannot create a timer");
	s->cur = srcset_new(s, true);
	rconn_observe(d->cmd, sources_cmd_event, s);
	if (d->keysubs != NULL)
		cluster_subs_observe(d->keysubs, sources_keys_event, s);
	else
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
	event_free(s->retired_ev);
	subs_free(s->subs);
	free(s);
}
