/* SPDX-License-Identifier: MIT */
/*
 * deferctl's way to the master under Redis Sentinel: the first sentinel
 * that answers names it; a sentinel that is down, fails or knows no such
 * name is noted and the next one asked. The node named must then say
 * "master" to ROLE: right after a failover a sentinel can still name the
 * old master.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rclient.h"
#include "xmalloc.h"
#include "sentinel_lookup.h"

/* Append "; what" to err (the log of every sentinel asked). */
static void
note(char *err, size_t errlen, const char *what)
{
	size_t	used = strlen(err);

	if (used + 3 < errlen)
		snprintf(err + used, errlen - used, "%s%s", used > 0 ? "; " : "",
		    what);
}

/* Ask node where master name is: 0 with host/port, or -1 with why. */
static int
ask_node(const struct redis_target *node, const char *name, int64_t timeout_ms,
    char *host, size_t hostlen, int *port, char *why, size_t whylen)
{
	redisContext	*c;
	redisReply	*r;
	int		 rv = -1;

	if ((c = rclient_connect(node, timeout_ms, why, whylen)) == NULL)
		return (-1);
	r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", name);
	if (r == NULL)
		snprintf(why, whylen, "sentinel %s:%d: %s", node->host, node->port,
		    c->errstr);
	else if (r->type == REDIS_REPLY_NIL)
		snprintf(why, whylen, "sentinel %s:%d monitors no master named "
		    "'%s'", node->host, node->port, name);
	else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    (*port = atoi(r->element[1]->str)) < 1 || *port > 65535)
		snprintf(why, whylen, "sentinel %s:%d: unexpected answer%s%.200s",
		    node->host, node->port, r->type == REDIS_REPLY_ERROR ? ": " :
		    "", r->type == REDIS_REPLY_ERROR ? r->str : "");
	else {
		snprintf(host, hostlen, "%s", r->element[0]->str);
		rv = 0;
	}
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return (rv);
}

/* Whether c's node (host:port) says "master" to ROLE; else why. */
static bool
is_master(redisContext *c, const char *host, int port, char *why, size_t whylen)
{
	redisReply	*r = redisCommand(c, "ROLE");
	bool		 ok;

	ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "master") == 0;
	if (!ok)
		snprintf(why, whylen, "redis %s:%d: not the master (ROLE: %.100s)",
		    host, port, r == NULL ?
		    c->errstr : r->type == REDIS_REPLY_ERROR ? r->str :
		    r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
		    r->element[0]->type == REDIS_REPLY_STRING ?
		    r->element[0]->str : "unexpected reply");
	if (r != NULL)
		freeReplyObject(r);
	return (ok);
}

redisContext *
sentinel_connect(const char *name, const struct redis_target *nodes,
    size_t nnodes, const struct redis_target *tmpl, int64_t timeout_ms,
    char *err, size_t errlen)
{
	struct redis_target	 t;
	redisContext		*c = NULL;
	char			 host[256], why[512];
	int			 port = 0;

	err[0] = '\0';
	for (size_t i = 0; i < nnodes && c == NULL; i++) {
		if (ask_node(&nodes[i], name, timeout_ms, host, sizeof(host),
		    &port, why, sizeof(why)) == -1) {
			note(err, errlen, why);
			continue;
		}
		redisurl_copy(&t, tmpl);
		free(t.host);
		t.host = xstrdup(host);
		t.port = port;
		c = rclient_connect(&t, timeout_ms, why, sizeof(why));
		if (c != NULL && !is_master(c, host, port, why, sizeof(why))) {
			redisFree(c);
			c = NULL;
		}
		if (c == NULL)
			note(err, errlen, why);
		redisurl_clear(&t);
	}
	return (c);
}
