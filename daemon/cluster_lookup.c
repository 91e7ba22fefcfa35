/* SPDX-License-Identifier: MIT */
/*
 * deferctl's way into a Redis Cluster: the first seed that answers gives
 * the slot map (CLUSTER SLOTS); the master of the key's slot is connected
 * to with the seed's credentials. A seed not in cluster mode is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_lookup.h"
#include "keyslot.h"
#include "rclient.h"
#include "xmalloc.h"

/* Find slot's master in a CLUSTER SLOTS reply: 0 with host/port, or -1. */
static int
slot_master(const redisReply *r, unsigned slot, char *host, size_t hostlen,
    int *port)
{
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i], *m;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER ||
		    (m = e->element[2])->type != REDIS_REPLY_ARRAY ||
		    m->elements < 2 || m->element[0]->type != REDIS_REPLY_STRING ||
		    m->element[1]->type != REDIS_REPLY_INTEGER)
			continue;
		if ((unsigned long long)e->element[0]->integer > slot ||
		    (unsigned long long)e->element[1]->integer < slot)
			continue;
		snprintf(host, hostlen, "%s", m->element[0]->str);
		*port = (int)m->element[1]->integer;
		return (0);
	}
	return (-1);
}

/* Through seed: a connection to key's master, or NULL with why. */
static redisContext *
via_seed(const struct redis_target *seed, const char *key, int64_t timeout_ms,
    char *why, size_t whylen)
{
	redisContext		*c;
	redisReply		*r;
	struct redis_target	 t;
	char			 host[256];
	int			 port = 0, found;

	if ((c = rclient_connect(seed, timeout_ms, why, whylen)) == NULL ||
	    key == NULL)
		return (c);
	r = redisCommand(c, "CLUSTER SLOTS");
	found = r != NULL && r->type == REDIS_REPLY_ARRAY ? slot_master(r,
	    keyslot(key, strlen(key)), host, sizeof(host), &port) : -1;
	if (found == -1)
		snprintf(why, whylen, "redis %s:%d: CLUSTER SLOTS: %.200s",
		    seed->host, seed->port, r == NULL ? c->errstr :
		    r->type == REDIS_REPLY_ERROR ? r->str : "no master for the slot");
	if (r != NULL)
		freeReplyObject(r);
	if (found == -1 || (port == seed->port && (host[0] == '\0' ||
	    strcmp(host, seed->host) == 0))) {
		if (found == -1) {
			redisFree(c);
			c = NULL;
		}
		return (c);
	}
	redisFree(c);
	redisurl_copy(&t, seed);
	free(t.host);
	t.host = xstrdup(host[0] != '\0' ? host : seed->host);	/* "": the seed's */
	t.port = port;
	c = rclient_connect(&t, timeout_ms, why, whylen);
	redisurl_clear(&t);
	return (c);
}

redisContext *
cluster_connect(const struct redis_target *seeds, size_t nseeds,
    const char *key, int64_t timeout_ms, char *err, size_t errlen)
{
	redisContext	*c = NULL;
	char		 why[512];
	size_t		 used = 0;

	err[0] = '\0';
	for (size_t i = 0; i < nseeds && c == NULL; i++) {
		if ((c = via_seed(&seeds[i], key, timeout_ms, why,
		    sizeof(why))) == NULL && used + 3 < errlen)
			used += (size_t)snprintf(err + used, errlen - used,
			    "%s%s", used > 0 ? "; " : "", why);
	}
	return (c);
}
