/* SPDX-License-Identifier: MIT */
/*
 * The set of sources of one daemon: built from the config at start,
 * started and stopped with the command connection (an observer on it), and
 * freed at exit. Also the mapping of source fields of a job hash to the
 * extra DEFERD_* variables of its handler.
 */
#include <event2/event.h>

#include <stdlib.h>
#include <string.h>

#include "deferd.h"
#include "rconn.h"
#include "sources.h"
#include "xmalloc.h"

struct sources {
	struct deferd	 *d;
	struct expire	 *exp;
	struct zsrc	**zsets;
	size_t		  nzsets;
	struct lsrc	**lists;
	size_t		  nlists;
	struct csrc	**chans;
	size_t		  nchans;
};

/* Job hash fields that become handler variables. */
static const struct {
	const char	*field;
	const char	*env;
} source_env_fields[] = {
	{ "expired_key", "DEFERD_EXPIRED_KEY" },
	{ "expired_db", "DEFERD_EXPIRED_DB" },
	{ "match", "DEFERD_MATCH" },
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

void
sources_after(struct event *ev, int64_t ms)
{
	struct timeval	tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/* Observer of the command connection: start or stop the sources. */
static void
sources_cmd_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	struct sources	*s = arg;
	size_t		 i;

	(void)rc;
	if (ev == RCONN_UP) {
		if (s->exp != NULL)
			expire_up(s->exp);
		for (i = 0; i < s->nzsets; i++)
			zsrc_up(s->zsets[i]);
		for (i = 0; i < s->nlists; i++)
			lsrc_up(s->lists[i]);
	} else if (ev == RCONN_DOWN) {
		if (s->exp != NULL)
			expire_down(s->exp);
		for (i = 0; i < s->nzsets; i++)
			zsrc_down(s->zsets[i]);
		for (i = 0; i < s->nlists; i++)
			lsrc_down(s->lists[i]);
	}
}

struct sources *
sources_new(struct deferd *d)
{
	struct sources		*s = xcalloc(1, sizeof(*s));
	const struct config	*cfg = d->cfg;

	s->d = d;
	s->exp = expire_new(d);
	for (size_t i = 0; i < cfg->nsources; i++) {
		const struct source *src = &cfg->sources[i];

		switch (src->kind) {
		case SOURCE_ZSET:
			s->zsets = xreallocarray(s->zsets, s->nzsets + 1,
			    sizeof(*s->zsets));
			s->zsets[s->nzsets++] = zsrc_new(d, src);
			break;
		case SOURCE_LIST:
			s->lists = xreallocarray(s->lists, s->nlists + 1,
			    sizeof(*s->lists));
			s->lists[s->nlists] = lsrc_new(d, src, s->nlists);
			s->nlists++;
			break;
		case SOURCE_CHANNEL:
			s->chans = xreallocarray(s->chans, s->nchans + 1,
			    sizeof(*s->chans));
			s->chans[s->nchans++] = csrc_new(d, src);
			break;
		}
	}
	rconn_observe(d->cmd, sources_cmd_event, s);
	return (s);
}

void
sources_start(struct sources *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nlists; i++)
		lsrc_start(s->lists[i]);
}

void
sources_free(struct sources *s)
{
	size_t	i;

	if (s == NULL)
		return;
	expire_free(s->exp);
	for (i = 0; i < s->nzsets; i++)
		zsrc_free(s->zsets[i]);
	for (i = 0; i < s->nlists; i++)
		lsrc_free(s->lists[i]);
	for (i = 0; i < s->nchans; i++)
		csrc_free(s->chans[i]);
	free(s->zsets);
	free(s->lists);
	free(s->chans);
	free(s);
}
