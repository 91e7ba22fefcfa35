/* SPDX-License-Identifier: MIT */
/* Pub/sub routing for the sources; see subs.h. */
#include <stdlib.h>
#include <string.h>

#include "subs.h"
#include "xmalloc.h"

/* A callback registered on an entry. */
struct subs_target {
	rconn_message_cb	 cb;
	void			*priv;
};

/* One channel or pattern: subscribed once, kept until exit. */
struct subs_entry {
	char			*channel;
	bool			 pattern;
	struct subs_target	*targets;
	size_t			 ntargets;
};

struct subs {
	struct rconn		**conns;	/* attached, not owned */
	size_t			  nconns;
	struct subs_entry	**entries;
	size_t			  nentries;
};

/* Route a message of one entry to every callback registered on it. */
static void
subs_message_cb(const char *channel, const char *payload, size_t len,
    void *priv)
{
	struct subs_entry	*e = priv;

	for (size_t i = 0; i < e->ntargets; i++)
		e->targets[i].cb(channel, payload, len, e->targets[i].priv);
}

struct subs *
subs_new(struct rconn *conn)
{
	struct subs	*s = xcalloc(1, sizeof(*s));

	if (conn != NULL)
		subs_attach(s, conn);
	return (s);
}

void
subs_attach(struct subs *s, struct rconn *conn)
{
	s->conns = xreallocarray(s->conns, s->nconns + 1, sizeof(*s->conns));
	s->conns[s->nconns++] = conn;
	for (size_t i = 0; i < s->nentries; i++)
		rconn_subscribe(conn, s->entries[i]->channel,
		    s->entries[i]->pattern, subs_message_cb, NULL, s->entries[i]);
}

void
subs_detach(struct subs *s, const struct rconn *conn)
{
	size_t	n = 0;

	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i] != conn)
			s->conns[n++] = s->conns[i];
	s->nconns = n;
}

void
subs_add(struct subs *s, const char *channel, bool pattern,
    rconn_message_cb cb, void *priv)
{
	struct subs_entry	*e = NULL;

	for (size_t i = 0; i < s->nentries && e == NULL; i++)
		if (s->entries[i]->pattern == pattern &&
		    strcmp(s->entries[i]->channel, channel) == 0)
			e = s->entries[i];
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->channel = xstrdup(channel);
		e->pattern = pattern;
		s->entries = xreallocarray(s->entries, s->nentries + 1,
		    sizeof(*s->entries));
		s->entries[s->nentries++] = e;
		for (size_t i = 0; i < s->nconns; i++)
			rconn_subscribe(s->conns[i], channel, pattern,
			    subs_message_cb, NULL, e);
	}
	e->targets = xreallocarray(e->targets, e->ntargets + 1,
	    sizeof(*e->targets));
	e->targets[e->ntargets].cb = cb;
	e->targets[e->ntargets++].priv = priv;
}

void
subs_remove(struct subs *s, const void *priv)
{
	for (size_t i = 0; i < s->nentries; i++) {
		struct subs_entry	*e = s->entries[i];
		size_t			 n = 0;

		for (size_t j = 0; j < e->ntargets; j++)
			if (e->targets[j].priv != priv)
				e->targets[n++] = e->targets[j];
		e->ntargets = n;
	}
}

void
subs_free(struct subs *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nentries; i++) {
		free(s->entries[i]->channel);
		free(s->entries[i]->targets);
		free(s->entries[i]);
	}
	free(s->entries);
	free(s->conns);
	free(s);
}
