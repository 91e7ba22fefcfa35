/* SPDX-License-Identifier: MIT */
/*
 * Synchronous Redis client for deferctl and the tests: connect with a
 * timeout, AUTH, SELECT, and run the embedded Lua scripts by EVALSHA with an
 * EVAL fallback on NOSCRIPT. It is not used by the daemon (see rconn) and
 * keeps no per-connection state except for pipelined script calls.
 *
 * Only hiredis calls present in both 0.14 and 1.x are used.
 */
#include <sys/time.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "rclient.h"
#include "reply.h"
#include "xmalloc.h"

/*
 * Replies of pipelined calls that were read off the socket early: when the
 * oldest call says NOSCRIPT its EVAL goes to the end of the pipeline, so the
 * replies queued before it are kept here, in order, for the next calls of
 * rclient_script_reply. One entry per context with calls in flight; it is
 * dropped as soon as nothing is in flight, so a context must not be freed
 * with replies still unread.
 */
struct rc_pipe {
	redisContext	*c;
	int		 wire;		/* appended calls not yet read */
	redisReply	**stash;	/* replies read early, oldest first */
	size_t		 head, n, cap;
	struct rc_pipe	*next;
};

static struct rc_pipe	*rc_pipes;

/* SHA1 of each script as returned by SCRIPT LOAD ("" = not known yet). */
static char		 rc_sha[SCRIPT_COUNT][41];

static void		 rc_describe(const struct redis_target *, char *, size_t);
static int		 rc_command_ok(redisContext *, char *, size_t,
			    const char *, int, const char **, const size_t *);
static bool		 rc_noscript(const redisReply *);
static void		 rc_build(enum script_id, bool, int, int, const char **,
			    const size_t *, const char ***, size_t **, char *, size_t);
static redisReply	*rc_call(redisContext *, enum script_id, bool, int, int,
			    const char **, const size_t *);
static int		 rc_append(redisContext *, enum script_id, bool, int, int,
			    const char **, const size_t *);
static struct rc_pipe	*rc_pipe_get(redisContext *, bool);
static void		 rc_pipe_drop(struct rc_pipe *);
static void		 rc_pipe_push(struct rc_pipe *, redisReply *);

/* Write "host:port/db" or "unix:path/db" into buf, never the password. */
static void
rc_describe(const struct redis_target *t, char *buf, size_t len)
{
	if (t->unix_path != NULL)
		snprintf(buf, len, "unix:%s/%d", t->unix_path, t->db);
	else
		snprintf(buf, len, "%s:%d/%d", t->host ? t->host : "?", t->port,
		    t->db);
}

/*
 * Run one setup command; on an I/O error or an error reply put "what: why"
 * into err and return -1. The error text comes from the server or hiredis,
 * so it never contains an argument (the password).
 */
static int
rc_command_ok(redisContext *c, char *err, size_t errlen, const char *what,
    int argc, const char **argv, const size_t *lens)
{
	redisReply	*r;
	int		 rv = 0;

	r = redisCommandArgv(c, argc, argv, lens);
	if (r == NULL) {
		snprintf(err, errlen, "%s: %s", what, c->errstr[0] ?
		    c->errstr : "connection lost");
		return (-1);
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s: %.*s", what, (int)r->len, r->str);
		rv = -1;
	}
	freeReplyObject(r);
	return (rv);
}

/* Connect to t, authenticate and select the database. */
redisContext *
rclient_connect(const struct redis_target *t, int64_t timeout_ms, char *err,
    size_t errlen)
{
	redisContext	*c;
	struct timeval	 tv;
	char		 where[300], what[340], db[16];
	const char	*argv[3];

	rc_describe(t, where, sizeof(where));
	tv.tv_sec = timeout_ms > 0 ? timeout_ms / 1000 : 0;
	tv.tv_usec = timeout_ms > 0 ? (timeout_ms % 1000) * 1000 : 0;
	if (t->unix_path != NULL)
		c = timeout_ms > 0 ? redisConnectUnixWithTimeout(t->unix_path, tv) :
		    redisConnectUnix(t->unix_path);
	else if (t->host != NULL)
		c = timeout_ms > 0 ? redisConnectWithTimeout(t->host, t->port, tv) :
		    redisConnect(t->host, t->port);
	else {
		snprintf(err, errlen, "redis target has neither host nor socket");
		return (NULL);
	}
	if (c == NULL) {
		snprintf(err, errlen, "redis %s: out of memory", where);
		return (NULL);
	}
	if (c->err) {
		snprintf(err, errlen, "redis %s: cannot connect: %s", where,
		    c->errstr);
		redisFree(c);
		return (NULL);
	}
	reply_cap_reader(c->reader);
	if (timeout_ms > 0 && redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(err, errlen, "redis %s: cannot set timeout: %s", where,
		    c->errstr);
		redisFree(c);
		return (NULL);
	}
	/* A username alone is sent with an empty password (nopass users). */
	if (t->password != NULL || t->username != NULL) {
		snprintf(what, sizeof(what), "redis %s: AUTH%s%s failed", where,
		    t->username ? " as " : "", t->username ? t->username : "");
		argv[0] = "AUTH";
		if (t->username != NULL) {
			argv[1] = t->username;
			argv[2] = t->password ? t->password : "";
		} else
			argv[1] = t->password;
		if (rc_command_ok(c, err, errlen, what,
		    t->username ? 3 : 2, argv, NULL) == -1) {
			redisFree(c);
			return (NULL);
		}
	}
	if (t->db != 0) {
		snprintf(db, sizeof(db), "%d", t->db);
		snprintf(what, sizeof(what), "redis %s: SELECT %d failed", where,
		    t->db);
		argv[0] = "SELECT";
		argv[1] = db;
		if (rc_command_ok(c, err, errlen, what, 2, argv, NULL) == -1) {
			redisFree(c);
			return (NULL);
		}
	}
	return (c);
}

/* Whether r is the NOSCRIPT error of an EVALSHA. */
static bool
rc_noscript(const redisReply *r)
{
	return (r->type == REDIS_REPLY_ERROR && r->len >= 8 &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0);
}

/*
 * Build the argument vector "EVALSHA sha nkeys args..." (or EVAL body) into
 * new arrays *av and *al; nk is a caller buffer for the key count.
 */
static void
rc_build(enum script_id id, bool sha, int nkeys, int argc, const char **argv,
    const size_t *lens, const char ***av, size_t **al, char *nk, size_t nklen)
{
	const struct script	*s = scripts_get(id);
	int			 i;

	snprintf(nk, nklen, "%d", nkeys);
	*av = xcalloc((size_t)argc + 3, sizeof(**av));
	*al = xcalloc((size_t)argc + 3, sizeof(**al));
	(*av)[0] = sha ? "EVALSHA" : "EVAL";
	(*al)[0] = strlen((*av)[0]);
	(*av)[1] = sha ? rc_sha[id] : s->body;
	(*al)[1] = sha ? strlen(rc_sha[id]) : s->len;
	(*av)[2] = nk;
	(*al)[2] = strlen(nk);
	for (i = 0; i < argc; i++) {
		(*av)[i + 3] = argv[i];
		(*al)[i + 3] = lens ? lens[i] : strlen(argv[i]);
	}
}

/* Send one EVALSHA (sha) or EVAL and wait for its reply. */
static redisReply *
rc_call(redisContext *c, enum script_id id, bool sha, int nkeys, int argc,
    const char **argv, const size_t *lens)
{
	const char	**av;
	size_t		 *al;
	char		  nk[16];
	redisReply	 *r;

	rc_build(id, sha, nkeys, argc, argv, lens, &av, &al, nk, sizeof(nk));
	r = redisCommandArgv(c, argc + 3, av, al);
	free(av);
	free(al);
	return (r);
}

/* Queue one EVALSHA (sha) or EVAL in the output buffer. */
static int
rc_append(redisContext *c, enum script_id id, bool sha, int nkeys, int argc,
    const char **argv, const size_t *lens)
{
	const char	**av;
	size_t		 *al;
	char		  nk[16];
	int		  rv;

	rc_build(id, sha, nkeys, argc, argv, lens, &av, &al, nk, sizeof(nk));
	rv = redisAppendCommandArgv(c, argc + 3, av, al);
	free(av);
	free(al);
	return (rv == REDIS_OK ? 0 : -1);
}

/* SCRIPT LOAD the script on c and remember its SHA; 0 or -1. */
int
rclient_script_load(redisContext *c, enum script_id id)
{
	const struct script	*s = scripts_get(id);
	const char		*argv[3] = { "SCRIPT", "LOAD", s->body };
	size_t			 lens[3] = { 6, 4, s->len };
	redisReply		*r;
	int			 rv = -1;

	r = redisCommandArgv(c, 3, argv, lens);
	if (r == NULL)
		return (-1);
	if (r->type == REDIS_REPLY_STRING && r->len == 40) {
		memcpy(rc_sha[id], r->str, 40);
		rc_sha[id][40] = '\0';
		rv = 0;
	}
	freeReplyObject(r);
	return (rv);
}

/*
 * Run a script and return its reply. Without a known SHA it loads the
 * script first; if loading is refused (ACL) it goes straight to EVAL.
 * Not to be mixed with pipelined calls whose replies are still unread.
 */
redisReply *
rclient_script(redisContext *c, enum script_id id, int nkeys, int argc,
    const char **argv, const size_t *lens)
{
	redisReply	*r;

	if (rc_sha[id][0] == '\0' && rclient_script_load(c, id) == -1) {
		if (c->err)
			return (NULL);
		return (rc_call(c, id, false, nkeys, argc, argv, lens));
	}
	r = rc_call(c, id, true, nkeys, argc, argv, lens);
	if (r == NULL || !rc_noscript(r))
		return (r);
	/* Flushed or a new server: EVAL runs it and caches it there again. */
	freeReplyObject(r);
	return (rc_call(c, id, false, nkeys, argc, argv, lens));
}

/* The pipeline state of c; created when create is set, else NULL if none. */
static struct rc_pipe *
rc_pipe_get(redisContext *c, bool create)
{
	struct rc_pipe	*p;

	for (p = rc_pipes; p != NULL; p = p->next)
		if (p->c == c)
			return (p);
	if (!create)
		return (NULL);
	p = xcalloc(1, sizeof(*p));
	p->c = c;
	p->next = rc_pipes;
	rc_pipes = p;
	return (p);
}

/* Unlink p and free it with any replies still stashed. */
static void
rc_pipe_drop(struct rc_pipe *p)
{
	struct rc_pipe	**pp;

	for (pp = &rc_pipes; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	while (p->n > 0) {
		freeReplyObject(p->stash[p->head]);
		p->head = (p->head + 1) % p->cap;
		p->n--;
	}
	free(p->stash);
	free(p);
}

/* Append r to the ring of stashed replies. */
static void
rc_pipe_push(struct rc_pipe *p, redisReply *r)
{
	redisReply	**ns;
	size_t		  i, ncap;

	if (p->n == p->cap) {
		ncap = p->cap ? p->cap * 2 : 8;
		ns = xcalloc(ncap, sizeof(*ns));
		for (i = 0; i < p->n; i++)
			ns[i] = p->stash[(p->head + i) % p->cap];
		free(p->stash);
		p->stash = ns;
		p->head = 0;
		p->cap = ncap;
	}
	p->stash[(p->head + p->n) % p->cap] = r;
	p->n++;
}

/*
 * Queue a call of script id: EVALSHA once rclient_script_load has run,
 * else EVAL with the body. It never waits for a reply, since one for an
 * earlier queued call may be on its way.
 */
int
rclient_script_append(redisContext *c, enum script_id id, int nkeys, int argc,
    const char **argv, const size_t *lens)
{
	struct rc_pipe	*p;

	if (rc_append(c, id, rc_sha[id][0] != '\0', nkeys, argc, argv,
	    lens) == -1)
		return (-1);
	p = rc_pipe_get(c, true);
	p->wire++;
	return (0);
}

/*
 * Read the reply of the oldest queued call. On NOSCRIPT, EVAL it at the end
 * of the pipeline and stash the replies of the calls queued in between.
 * On an I/O error the pipeline state is dropped and NULL returned.
 */
redisReply *
rclient_script_reply(redisContext *c, enum script_id id, int nkeys, int argc,
    const char **argv, const size_t *lens)
{
	struct rc_pipe	*p = rc_pipe_get(c, false);
	redisReply	*r = NULL;
	void		*v;

	if (p != NULL && p->n > 0) {
		r = p->stash[p->head];
		p->head = (p->head + 1) % p->cap;
		p->n--;
	} else {
		if (redisGetReply(c, &v) != REDIS_OK)
			goto fail;
		r = v;
		if (p != NULL && p->wire > 0)
			p->wire--;
	}
	if (rc_noscript(r)) {
		freeReplyObject(r);
		r = NULL;
		if (rc_append(c, id, false, nkeys, argc, argv, lens) == -1)
			goto fail;
		for (; p != NULL && p->wire > 0; p->wire--) {
			if (redisGetReply(c, &v) != REDIS_OK)
				goto fail;
			rc_pipe_push(p, v);
		}
		if (redisGetReply(c, &v) != REDIS_OK)
			goto fail;
		r = v;
	}
	if (p != NULL && p->wire == 0 && p->n == 0)
		rc_pipe_drop(p);
	return (r);
fail:
	if (p != NULL)
		rc_pipe_drop(p);
	return (NULL);
}
