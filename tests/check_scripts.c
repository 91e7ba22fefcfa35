/* SPDX-License-Identifier: MIT */
/*
 * The Lua transitions (daemon/lua) and rclient, against a real redis-server:
 * every script, every branch of its contract, bad data in Redis, dead-set
 * trimming, the NOSCRIPT fallback (plain and pipelined) and binary payloads.
 * Each test gets a fresh private redis-server (checked fixture).
 */
#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "job_body.h"
#include "rclient.h"
#include "redisurl.h"
#include "scripts.h"

#define P		"t:{q}:"
#define K_DELAYED	P "delayed"
#define K_ACTIVE	P "active"
#define K_DEAD		P "dead"
#define K_WAKE		P "wake"
#define MAXARGS		64

static struct h_redis	 R;
static redisContext	*C;

/* Start a private redis-server and connect to it with rclient. */
static void
setup(void)
{
	struct redis_target	t;
	char			err[256];

	h_redis_start(&R, NULL);
	memset(&t, 0, sizeof(t));
	t.unix_path = R.sock;
	C = rclient_connect(&t, 5000, err, sizeof(err));
	ck_assert_msg(C != NULL, "rclient_connect: %s", err);
}

/* Disconnect and stop the server. */
static void
teardown(void)
{
	if (C != NULL)
		redisFree(C);
	C = NULL;
	h_redis_stop(&R);
}

/* Run script id; args is a NULL-terminated list of keys then arguments. */
static redisReply *
vscript(enum script_id id, bool want_error, int nkeys, va_list ap)
{
	const char	*argv[MAXARGS], *s;
	int		 argc = 0;
	redisReply	*rep;

	while ((s = va_arg(ap, const char *)) != NULL) {
		ck_assert_int_lt(argc, MAXARGS);
		argv[argc++] = s;
	}
	rep = rclient_script(C, id, nkeys, argc, argv, NULL);
	ck_assert_msg(rep != NULL, "%s: %s", scripts_get(id)->name, C->errstr);
	if (id == SCRIPT_CLAIM)
		h_claim_expand(rep);
	if (want_error)
		ck_assert_int_eq(rep->type, REDIS_REPLY_ERROR);
	else
		ck_assert_msg(rep->type != REDIS_REPLY_ERROR, "%s: %s",
		    scripts_get(id)->name, rep->str);
	return (rep);
}

/* Run a script that must succeed; the caller frees the reply. */
static redisReply *
script(enum script_id id, int nkeys, ...)
{
	va_list		 ap;
	redisReply	*rep;

	va_start(ap, nkeys);
	rep = vscript(id, false, nkeys, ap);
	va_end(ap);
	return (rep);
}

/* Run a script that must answer with an error reply. */
static void
script_error(enum script_id id, int nkeys, ...)
{
	va_list	ap;

	va_start(ap, nkeys);
	freeReplyObject(vscript(id, true, nkeys, ap));
	va_end(ap);
}

/* Run a script whose reply is an integer. */
static long long
script_int(enum script_id id, int nkeys, ...)
{
	va_list		 ap;
	redisReply	*rep;
	long long	 v;

	va_start(ap, nkeys);
	rep = vscript(id, false, nkeys, ap);
	va_end(ap);
	ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
	v = rep->integer;
	freeReplyObject(rep);
	return (v);
}

/* Redis time in ms. */
static long long
redis_now(void)
{
	redisReply	*rep = h_cmd(C, "TIME");
	long long	 ms;

	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ms = strtoll(rep->element[0]->str, NULL, 10) * 1000 +
	    strtoll(rep->element[1]->str, NULL, 10) / 1000;
	freeReplyObject(rep);
	return (ms);
}

/* Assert that an integer array reply is {a, b}. */
static void
assert_pair(const redisReply *rep, long long a, long long b)
{
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(rep->elements, 2);
	ck_assert_int_eq(rep->element[0]->integer, a);
	ck_assert_int_eq(rep->element[1]->integer, b);
}

/* Assert that a reap reply is {requeued, buried, 0, 0}: nothing trimmed. */
static void
assert_reap(const redisReply *rep, long long requeued, long long buried)
{
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(rep->elements, 4);
	ck_assert_int_eq(rep->element[0]->integer, requeued);
	ck_assert_int_eq(rep->element[1]->integer, buried);
	ck_assert_int_eq(rep->element[2]->integer, 0);
	ck_assert_int_eq(rep->element[3]->integer, 0);
}

/* Enqueue id (mode "in"/"at" ms) with handler h; returns the due ms. */
static long long
enqueue(const char *id, const char *h, const char *mode, const char *ms)
{
	char		 jk[300];
	redisReply	*rep;
	long long	 due;

	snprintf(jk, sizeof(jk), P "job:%s", id);
	rep = script(SCRIPT_ENQUEUE, 2, jk, K_DELAYED, id, h, "payload", mode,
	    ms, "", "", "", K_WAKE, "", NULL);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_int_eq(rep->element[0]->integer, 1);
	due = rep->element[1]->integer;
	freeReplyObject(rep);
	return (due);
}

/* A claim reply starts with now, next_due, skipped, reaped, reaped_buried. */
#define CLAIM_HDR	5

/*
 * Claim with every parameter: limit, lease, nonce, max payload, dead limits
 * and one saturated handler (or NULL). Scan cap 100.
 */
static redisReply *
claim_full(const char *limit, const char *lease, const char *nonce,
    const char *max_payload, const char *dead_max, const char *dead_ttl,
    const char *saturated)
{
	redisReply	*rep;

	rep = script(SCRIPT_CLAIM, 3, K_DELAYED, K_ACTIVE, K_DEAD, P, limit,
	    lease, nonce, max_payload, "100", dead_max, dead_ttl, "0", "5", "",
	    limit, "", "", saturated, saturated ? "0" : NULL, "shared", NULL);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_ge(rep->elements, CLAIM_HDR);
	return (rep);
}

/* Claim up to limit jobs with lease 60 s and no limits. */
static redisReply *
claim(const char *limit, const char *nonce)
{
	return (claim_full(limit, "60000", nonce, "0", "0", "0", NULL));
}

/* Number of entries in a claim reply. */
static size_t
n_entries(const redisReply *rep)
{
	return (rep->elements - CLAIM_HDR);
}

/* Entry i of a claim reply. */
static const redisReply *
entry(const redisReply *rep, size_t i)
{
	ck_assert_uint_gt(rep->elements, CLAIM_HDR + i);
	ck_assert_int_eq(rep->element[CLAIM_HDR + i]->type, REDIS_REPLY_ARRAY);
	return (rep->element[CLAIM_HDR + i]);
}

/* Whether "run" entry e is a packed job's [run, id, token, body]. */
static bool
packed_entry(const redisReply *e)
{
	return (e->elements == 4 && job_body_is(e->element[3]->str,
	    e->element[3]->len));
}

/*
 * Field name of a "run" entry (its last occurrence counts), or NULL. A
 * packed entry's fields are decoded into a reply kept until the next call.
 */
static const redisReply *
field(const redisReply *e, const char *name)
{
	static redisReply	*decoded;
	const redisReply	*v = NULL;

	if (packed_entry(e)) {
		freeReplyObject(decoded);
		decoded = job_body_reply(e->element[3]->str, e->element[3]->len);
		return (job_reply_field(decoded, name));
	}
	for (size_t i = 3; i + 1 < e->elements; i += 2)
		if (strcmp(e->element[i]->str, name) == 0)
			v = e->element[i + 1];
	return (v);
}

/* Assert that entry e is a "run" of id; returns its token. */
static const char *
assert_run(const redisReply *e, const char *id)
{
	ck_assert_uint_ge(e->elements, 3);
	ck_assert_str_eq(e->element[0]->str, "run");
	ck_assert_str_eq(e->element[1]->str, id);
	ck_assert(packed_entry(e) || (e->elements - 3) % 2 == 0);
	return (e->element[2]->str);
}

/* Assert that entry e is a "buried" of id with exactly reason. */
static void
assert_buried(const redisReply *e, const char *id, const char *reason)
{
	ck_assert_uint_eq(e->elements, 3);
	ck_assert_str_eq(e->element[0]->str, "buried");
	ck_assert_str_eq(e->element[1]->str, id);
	ck_assert_str_eq(e->element[2]->str, reason);
}

/* Claim exactly job id (it must be the only due one); copy its token. */
static void
claim_one(const char *id, const char *nonce, char *token, size_t len)
{
	redisReply	*rep = claim("1", nonce);

	ck_assert_uint_eq(n_entries(rep), 1);
	snprintf(token, len, "%s", assert_run(entry(rep, 0), id));
	freeReplyObject(rep);
}

/* A second connection subscribed to the wake channel, with a timeout. */
static redisContext *
subscribe_wake(void)
{
	redisContext	*s = h_redis_connect(&R);
	struct timeval	 tv = { 5, 0 };
	redisReply	*rep;

	redisSetTimeout(s, tv);
	rep = h_cmd(s, "SUBSCRIBE %s", K_WAKE);
	freeReplyObject(rep);
	return (s);
}

/* Read the next message on a subscribed connection; assert its data. */
static void
expect_msg(redisContext *s, const char *want)
{
	void		*v;
	redisReply	*rep;

	ck_assert_msg(redisGetReply(s, &v) == REDIS_OK, "no message: %s",
	    s->errstr);
	rep = v;
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(rep->elements, 3);
	ck_assert_str_eq(rep->element[0]->str, "message");
	ck_assert_str_eq(rep->element[2]->str, want);
	freeReplyObject(rep);
}

/* Assert that nothing else was published: a marker comes next. */
static void
expect_no_more(redisContext *s)
{
	ck_assert_int_eq(h_cmd_int(C, "PUBLISH %s end", K_WAKE), 1);
	expect_msg(s, "end");
}

/* Integer score of member in zset key, -1 if absent. */
static long long
zscore(const char *key, const char *member)
{
	return (h_cmd_int(C, "ZSCORE %s %s", key, member));
}

/*
 * The fields of job id, packed or a hash, as an HGETALL reply (empty when
 * there is no job); the caller frees it.
 */
static redisReply *
jfields(const char *id)
{
	return (h_job_fields(C, "t:{q}", id));
}

/* A field of job id (packed or a hash) into buf ("" when absent). */
static const char *
jget(const char *id, const char *f, char *buf, size_t len)
{
	return (h_job_str(C, buf, len, P "job:%s %s", id, f));
}

/* Whether job id has field f. */
static bool
jhas(const char *id, const char *f)
{
	redisReply	*all = jfields(id);
	bool		 has = job_reply_field(all, f) != NULL;

	freeReplyObject(all);
	return (has);
}

/* The attempts job id made (0 when it has no such field). */
static long long
jattempts(const char *id)
{
	char	b[32];

	return (strtoll(jget(id, "attempts", b, sizeof(b)), NULL, 10));
}

/* How many fields job id has, besides its attempts. */
static long long
jlen(const char *id)
{
	redisReply	*all = jfields(id);
	long long	 n = (long long)all->elements / 2;

	if (job_reply_field(all, "attempts") != NULL)
		n--;
	freeReplyObject(all);
	return (n);
}

/* Whether job id exists, packed or as a hash. */
static bool
jexists(const char *id)
{
	return (h_job_exists(C, P "job:%s", id));
}

/*
 * Each script carries only the parts of lib.lua it uses (a script's chunk
 * runs at every call: tools/lua-lib-for.awk), with what they use in turn.
 */
START_TEST(scripts_carry_only_the_lib_they_use)
{
	const char	*claim = scripts_get(SCRIPT_CLAIM)->body;
	const char	*extend = scripts_get(SCRIPT_EXTEND)->body;
	const char	*release = scripts_get(SCRIPT_LOCK_RELEASE)->body;

	ck_assert_ptr_nonnull(strstr(claim, "local function reap_expired("));
	ck_assert_ptr_nonnull(strstr(claim, "local function trim_dead("));
	ck_assert_ptr_nonnull(strstr(claim, "local function emit("));
	ck_assert_ptr_nonnull(strstr(extend, "local function lease_fields("));
	ck_assert_ptr_nonnull(strstr(extend, "local function pk_unesc("));
	ck_assert_ptr_null(strstr(extend, "local function emit("));
	ck_assert_ptr_null(strstr(release, "local function "));
	ck_assert_ptr_nonnull(strstr(release, "replicate_commands"));
}
END_TEST

/* A claim carries a PUBLISH (the daemon's liveness probe) and its answer. */
START_TEST(claim_carries_the_liveness_probe)
{
	redisContext	*sub = h_redis_connect(&R);
	struct timeval	 tv = { 5, 0 };
	redisReply	*rep;
	const redisReply *last;
	void		*v;

	redisSetTimeout(sub, tv);
	freeReplyObject(h_cmd(sub, "SUBSCRIBE t:ping"));
	rep = script(SCRIPT_CLAIM, 3, K_DELAYED, K_ACTIVE, K_DEAD, P, "5",
	    "60000", "n", "0", "100", "0", "0", "0", "5", "", "5", "t:ping",
	    "41", NULL);
	last = rep->element[rep->elements - 1];
	ck_assert_int_eq(last->type, REDIS_REPLY_ARRAY);
	ck_assert_str_eq(last->element[0]->str, "probe");
	ck_assert_int_eq(last->element[1]->integer, 1);	/* one subscriber */
	freeReplyObject(rep);
	ck_assert_int_eq(redisGetReply(sub, &v), REDIS_OK);
	ck_assert_str_eq(((redisReply *)v)->element[2]->str, "41");
	freeReplyObject(v);
	redisFree(sub);
	/* Without a probe channel nothing is published nor answered. */
	rep = claim("5", "m");
	ck_assert_uint_eq(rep->elements, CLAIM_HDR);
	freeReplyObject(rep);
}
END_TEST

START_TEST(enqueue_creates)
{
	redisReply	*rep;
	long long	 before, due;
	char		 b[128];

	before = redis_now();
	rep = script(SCRIPT_ENQUEUE, 2, P "job:j1", K_DELAYED, "j1", "send-mail",
	    "hello", "in", "60000", "3", "mail:42", "", K_WAKE, "", "timeout_ms",
	    "5000", NULL);
	ck_assert_int_eq(rep->element[0]->integer, 1);
	due = rep->element[1]->integer;
	freeReplyObject(rep);
	ck_assert_int_ge(due, before + 60000);
	ck_assert_int_le(due, redis_now() + 60000);
	ck_assert_str_eq(jget("j1", "handler", b, sizeof(b)), "send-mail");
	ck_assert_str_eq(jget("j1", "payload", b, sizeof(b)), "hello");
	/* No attempts yet and the default source: neither field is written. */
	ck_assert_int_eq(jattempts("j1"), 0);
	ck_assert_int_eq(jhas("j1", "source"), 0);
	ck_assert_str_eq(jget("j1", "resource", b, sizeof(b)), "mail:42");
	ck_assert_str_eq(jget("j1", "max_attempts", b, sizeof(b)), "3");
	ck_assert_str_eq(jget("j1", "timeout_ms", b, sizeof(b)), "5000");
	ck_assert_int_eq(strtoll(jget("j1", "due_ms", b, sizeof(b)), NULL, 10),
	    due);
	ck_assert_int_eq(strtoll(jget("j1", "enqueued_ms", b, sizeof(b)), NULL,
	    10), due - 60000);
	ck_assert_int_eq(zscore(K_DELAYED, "j1"), due);
	ck_assert_int_eq(jlen("j1"), 7);

	/* Optional fields left out; an explicit source is kept. */
	rep = script(SCRIPT_ENQUEUE, 2, P "job:j2", K_DELAYED, "j2", "h", "",
	    "in", "0", "", "", "zset", K_WAKE, "", NULL);
	ck_assert_int_eq(rep->element[0]->integer, 1);
	freeReplyObject(rep);
	ck_assert_int_eq(jhas("j2", "resource"), 0);
	ck_assert_int_eq(jhas("j2", "max_attempts"), 0);
	ck_assert_str_eq(jget("j2", "payload", b, sizeof(b)), "");
	ck_assert_str_eq(jget("j2", "source", b, sizeof(b)), "zset");
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 2);
}
END_TEST

START_TEST(enqueue_idempotent)
{
	redisReply	*rep;
	long long	 due;
	char		 b[64];

	due = enqueue("j1", "first", "in", "30000");
	rep = script(SCRIPT_ENQUEUE, 2, P "job:j1", K_DELAYED, "j1", "second",
	    "other", "in", "0", "", "", "", K_WAKE, "", NULL);
	assert_pair(rep, 0, due);
	freeReplyObject(rep);
	ck_assert_str_eq(jget("j1", "handler", b, sizeof(b)), "first");
	ck_assert_int_eq(zscore(K_DELAYED, "j1"), due);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 1);

	/* An existing hash without due_ms, or a key of another type: -1. */
	freeReplyObject(h_cmd(C, "HSET " P "job:j2 handler h"));
	rep = script(SCRIPT_ENQUEUE, 2, P "job:j2", K_DELAYED, "j2", "h", "",
	    "in", "0", "", "", "", K_WAKE, "", NULL);
	assert_pair(rep, 0, -1);
	freeReplyObject(rep);
	freeReplyObject(h_cmd(C, "SET " P "job:j3 x"));
	rep = script(SCRIPT_ENQUEUE, 2, P "job:j3", K_DELAYED, "j3", "h", "",
	    "in", "0", "", "", "", K_WAKE, "", NULL);
	assert_pair(rep, 0, -1);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 1);
}
END_TEST

START_TEST(enqueue_at_and_bad_args)
{
	long long	now;

	ck_assert_int_eq(enqueue("a", "h", "at", "12345"), 12345);
	ck_assert_int_eq(zscore(K_DELAYED, "a"), 12345);
	now = redis_now();
	ck_assert_int_ge(enqueue("b", "h", "in", "0"), now);
	ck_assert_int_eq(enqueue("c", "h", "at", "1893456000000"),
	    1893456000000LL);

	/* Caller bugs are errors, and nothing is written. */
	script_error(SCRIPT_ENQUEUE, 2, P "job:x", K_DELAYED, "x", "h", "",
	    "soon", "0", "", "", "", K_WAKE, "", NULL);
	script_error(SCRIPT_ENQUEUE, 2, P "job:x", K_DELAYED, "x", "h", "",
	    "in", "abc", "", "", "", K_WAKE, "", NULL);
	script_error(SCRIPT_ENQUEUE, 2, P "job:x", K_DELAYED, "x", "h", "",
	    "in", "0", "three", "", "", K_WAKE, "", NULL);
	script_error(SCRIPT_ENQUEUE, 2, P "job:x", K_DELAYED, "x", "h", "",
	    "in", "0", "", "", "", K_WAKE, "", "timeout_ms", NULL);
	ck_assert(!jexists("x"));
	ck_assert_int_eq(zscore(K_DELAYED, "x"), -1);
}
END_TEST

START_TEST(enqueue_wake_only_when_first)
{
	redisContext	*s = subscribe_wake();
	redisReply	*rep;

	enqueue("j1", "h", "at", "10000");
	expect_msg(s, "10000");
	enqueue("j2", "h", "at", "20000");	/* not first: silent */
	enqueue("j3", "h", "at", "5000");
	expect_msg(s, "5000");
	rep = script(SCRIPT_ENQUEUE, 2, P "job:j3", K_DELAYED, "j3", "h2", "",
	    "at", "1000", "", "", "", K_WAKE, "", NULL);	/* exists: silent */
	assert_pair(rep, 0, 5000);
	freeReplyObject(rep);
	expect_no_more(s);
	redisFree(s);
}
END_TEST

START_TEST(enqueue_batch_creates)
{
	redisReply	*rep;
	long long	 before, due;
	char		 b[128];

	before = redis_now();
	rep = script(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "send-mail", "in",
	    "60000", "3", "mail:42", "", K_WAKE, "", "1", "timeout_ms", "5000",
	    "b1", "one", "b2", "", NULL);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_int_eq(rep->element[0]->integer, 2);
	due = rep->element[1]->integer;
	freeReplyObject(rep);
	ck_assert_int_ge(due, before + 60000);
	ck_assert_int_le(due, redis_now() + 60000);
	/* Every job gets exactly the hash enqueue.lua would have made. */
	ck_assert_str_eq(jget("b1", "handler", b, sizeof(b)), "send-mail");
	ck_assert_str_eq(jget("b1", "payload", b, sizeof(b)), "one");
	ck_assert_str_eq(jget("b2", "payload", b, sizeof(b)), "");
	ck_assert_int_eq(jattempts("b2"), 0);
	ck_assert_int_eq(jhas("b2", "source"), 0);
	ck_assert_str_eq(jget("b2", "resource", b, sizeof(b)), "mail:42");
	ck_assert_str_eq(jget("b2", "max_attempts", b, sizeof(b)), "3");
	ck_assert_str_eq(jget("b2", "timeout_ms", b, sizeof(b)), "5000");
	ck_assert_int_eq(strtoll(jget("b2", "due_ms", b, sizeof(b)), NULL, 10),
	    due);
	ck_assert_int_eq(strtoll(jget("b2", "enqueued_ms", b, sizeof(b)), NULL,
	    10), due - 60000);
	ck_assert_int_eq(jlen("b1"), 7);
	ck_assert_int_eq(zscore(K_DELAYED, "b1"), due);
	ck_assert_int_eq(zscore(K_DELAYED, "b2"), due);

	/* Optional fields left out; "at"; an explicit source is kept. */
	rep = script(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "at", "12345",
	    "", "", "zset", K_WAKE, "", "0", "b3", "x", NULL);
	assert_pair(rep, 1, 12345);
	freeReplyObject(rep);
	ck_assert_int_eq(jlen("b3"), 5);
	ck_assert_str_eq(jget("b3", "source", b, sizeof(b)), "zset");
	ck_assert_int_eq(zscore(K_DELAYED, "b3"), 12345);

	/* No jobs at all is a valid, empty batch. */
	rep = script(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "at", "1", "",
	    "", "", K_WAKE, "", "0", NULL);
	assert_pair(rep, 0, 1);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 3);
}
END_TEST

START_TEST(enqueue_batch_idempotent_and_wake)
{
	redisContext	*s = subscribe_wake();
	redisReply	*rep;
	char		 b[64];

	rep = script(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "first", "at",
	    "10000", "", "", "", K_WAKE, "", "0", "j1", "p", NULL);
	assert_pair(rep, 1, 10000);
	freeReplyObject(rep);
	expect_msg(s, "10000");
	/* j1 exists: left alone and not counted; later than j1: no wake. */
	rep = script(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "second", "at",
	    "20000", "", "", "", K_WAKE, "", "0", "j1", "other", "n1", "p", NULL);
	assert_pair(rep, 1, 20000);
	freeReplyObject(rep);
	ck_assert_str_eq(jget("j1", "handler", b, sizeof(b)), "first");
	ck_assert_int_eq(zscore(K_DELAYED, "j1"), 10000);
	/* Earlier than every job: one wake for the whole batch. */
	rep = script(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "at", "5000",
	    "", "", "", K_WAKE, "", "0", "n2", "a", "n3", "b", NULL);
	assert_pair(rep, 2, 5000);
	freeReplyObject(rep);
	expect_msg(s, "5000");
	/* Nothing created: silent, even when it would be first. */
	rep = script(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "at", "1",
	    "", "", "", K_WAKE, "", "0", "n2", "a", NULL);
	assert_pair(rep, 0, 1);
	freeReplyObject(rep);
	/* No wake channel: silent. */
	rep = script(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "at", "2",
	    "", "", "", "", "", "0", "n4", "a", NULL);
	assert_pair(rep, 1, 2);
	freeReplyObject(rep);
	expect_no_more(s);
	redisFree(s);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 5);
}
END_TEST

START_TEST(enqueue_batch_events)
{
	redisContext	*s = h_redis_connect(&R);
	struct timeval	 tv = { 5, 0 };
	redisReply	*rep;
	void		*v;
	char		 want[64];

	redisSetTimeout(s, tv);
	freeReplyObject(h_cmd(s, "SUBSCRIBE t:events"));
	rep = script(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "at", "7", "",
	    "", "", "", "t:events", "0", "e1", "a", "e2", "b", NULL);
	assert_pair(rep, 2, 7);
	freeReplyObject(rep);
	/* One "enqueued" event per job, in order. */
	for (int i = 1; i <= 2; i++) {
		ck_assert_int_eq(redisGetReply(s, &v), REDIS_OK);
		rep = v;
		ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
		ck_assert_uint_eq(rep->elements, 3);
		ck_assert_ptr_nonnull(strstr(rep->element[2]->str,
		    "\"event\":\"enqueued\""));
		snprintf(want, sizeof(want), "\"id\":\"e%d\"", i);
		ck_assert_ptr_nonnull(strstr(rep->element[2]->str, want));
		ck_assert_ptr_nonnull(strstr(rep->element[2]->str,
		    "\"due_ms\":7"));
		freeReplyObject(rep);
	}
	ck_assert_int_eq(h_cmd_int(C, "PUBLISH t:events end"), 1);
	ck_assert_int_eq(redisGetReply(s, &v), REDIS_OK);
	rep = v;
	ck_assert_str_eq(rep->element[2]->str, "end");
	freeReplyObject(rep);
	redisFree(s);
}
END_TEST

START_TEST(enqueue_batch_bad_args)
{
	/* Caller bugs are errors, and nothing is written. */
	script_error(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "soon", "0",
	    "", "", "", K_WAKE, "", "0", "x", "p", NULL);
	script_error(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "in", "abc",
	    "", "", "", K_WAKE, "", "0", "x", "p", NULL);
	script_error(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "in", "0",
	    "three", "", "", K_WAKE, "", "0", "x", "p", NULL);
	script_error(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "in", "0",
	    "", "", "", K_WAKE, "", "one", "x", "p", NULL);
	script_error(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "in", "0",
	    "", "", "", K_WAKE, "", "0", "x", "p", "y", NULL);
	script_error(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "in", "0",
	    "", "", "", K_WAKE, "", "2", "timeout_ms", "5", NULL);
	ck_assert(!jexists("x"));
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 0);
}
END_TEST

/* Calls of cmd (lower case) since the last CONFIG RESETSTAT, from INFO. */
static long long
cmd_calls(const char *cmd)
{
	redisReply	*rep = redisCommand(C, "INFO commandstats");
	char		 key[64];
	const char	*at;
	long long	 n = 0;

	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
	snprintf(key, sizeof(key), "cmdstat_%s:calls=", cmd);
	if ((at = strstr(rep->str, key)) != NULL)
		n = strtoll(at + strlen(key), NULL, 10);
	freeReplyObject(rep);
	return (n);
}

START_TEST(claim_respects_due_time)
{
	redisReply		*rep;
	const redisReply	*e;
	long long		 due_b, now;
	const char		*tok;
	char			 b[64];

	enqueue("a", "h", "in", "0");
	due_b = enqueue("b", "h", "in", "60000");
	rep = claim("10", "n1");
	now = rep->element[0]->integer;
	ck_assert_int_ge(now, due_b - 60000);
	ck_assert_int_eq(rep->element[1]->integer, due_b);
	ck_assert_int_eq(rep->element[2]->integer, 0);
	ck_assert_uint_eq(n_entries(rep), 1);
	e = entry(rep, 0);
	tok = assert_run(e, "a");
	ck_assert_str_eq(tok, "n1-1");
	ck_assert_str_eq(field(e, "attempts")->str, "1");
	/* The token is the lease: a packed job's head line has it. */
	ck_assert(field(e, "lease") == NULL ||
	    strcmp(field(e, "lease")->str, tok) == 0);
	ck_assert_str_eq(field(e, "handler")->str, "h");
	ck_assert_str_eq(field(e, "payload")->str, "payload");
	ck_assert_int_eq(zscore(K_ACTIVE, "a"), now + 60000);
	ck_assert_int_eq(zscore(K_DELAYED, "a"), -1);
	ck_assert_str_eq(jget("a", "lease", b, sizeof(b)), "n1-1");
	freeReplyObject(rep);

	/*
	 * Nothing due: nothing claimed, next due still b, and the idle claim
	 * (this one does not reap) stops at its one read of the first member:
	 * no scan of due candidates or of +inf, no unclaim marker.
	 */
	h_cmd_int(C, "CONFIG RESETSTAT");
	rep = claim("10", "n2");
	ck_assert_uint_eq(n_entries(rep), 0);
	ck_assert_int_eq(rep->element[1]->integer, due_b);
	freeReplyObject(rep);
	ck_assert_int_eq(cmd_calls("zrangebyscore"), 0);
	ck_assert_int_eq(cmd_calls("exists"), 0);
	ck_assert_int_eq(cmd_calls("zrange"), 1);
	ck_assert_int_eq(zscore(K_DELAYED, "b"), due_b);
	ck_assert_int_eq(jattempts("b"), 0);
}
END_TEST

/* A claim with handler h limited to 2 jobs per second (its token bucket). */
static redisReply *
claim_rated(const char *nonce)
{
	return (script(SCRIPT_CLAIM, 3, K_DELAYED, K_ACTIVE, K_DEAD, P, "10",
	    "60000", nonce, "0", "100", "0", "0", "0", "5", "", "10", "", "",
	    "h", "10", "shared@2/1000", NULL));
}

/*
 * A rate limit: of five due jobs the first claim takes two (the bucket
 * starts full) and answers when the next token comes; a claim at once
 * after takes none; the bucket holds what is left.
 */
START_TEST(claim_holds_a_handler_to_its_rate)
{
	redisReply	*rep;
	long long	 now, next;
	char		 id[8];
	bool		 claimed_other = false;

	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		enqueue(id, "h", "in", "0");
	}
	rep = claim_rated("n1");
	ck_assert_uint_eq(n_entries(rep), 2);
	now = rep->element[0]->integer;
	next = rep->element[1]->integer;
	ck_assert_msg(next > now && next <= now + 500, "next %lld, now %lld",
	    next, now);
	freeReplyObject(rep);
	rep = claim_rated("n2");
	ck_assert_uint_eq(n_entries(rep), 0);
	ck_assert_int_gt(rep->element[1]->integer, rep->element[0]->integer);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 3);
	/* The three over the rate wait for tokens 1, 2 and 3 from then. */
	ck_assert_int_eq(h_cmd_int(C, "ZCOUNT " K_DELAYED " %lld %lld", now + 1,
	    now + 1500), 3);
	ck_assert_int_eq(h_cmd_int(C, "ZCOUNT " K_DELAYED " %lld %lld", now + 1400,
	    now + 1500), 1);
	ck_assert_int_eq(h_cmd_int(C, "EXISTS " P "rate:h"), 1);
	ck_assert_int_gt(h_cmd_int(C, "PTTL " P "rate:h"), 1000);
	/* A backlog over the rate does not hide another handler's due job. */
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "b%d", i);
		enqueue(id, "h", "in", "0");
	}
	enqueue("other", "o", "in", "0");
	for (int i = 0; i < 5 && !claimed_other; i++) {
		rep = claim_rated("n3");
		for (size_t k = 0; k < n_entries(rep); k++)
			claimed_other |= strcmp(entry(rep, k)->element[1]->str,
			    "other") == 0;
		freeReplyObject(rep);
	}
	ck_assert_msg(claimed_other, "the other handler's job stayed hidden");
}
END_TEST

/* A paused queue (P..paused): a due job stays, the reply says paused, next -1. */
START_TEST(claim_takes_nothing_from_a_paused_queue)
{
	redisReply		*rep;
	const redisReply	*e;

	enqueue("a", "h", "in", "0");
	freeReplyObject(h_cmd(C, "SET " P "paused 1"));
	rep = claim("10", "n1");
	ck_assert_int_eq(rep->element[1]->integer, -1);
	ck_assert_uint_eq(n_entries(rep), 1);
	e = entry(rep, 0);
	ck_assert_int_eq(e->type, REDIS_REPLY_ARRAY);
	ck_assert_str_eq(e->element[0]->str, "paused");
	freeReplyObject(rep);
	ck_assert_int_ge(zscore(K_DELAYED, "a"), 0);
	freeReplyObject(h_cmd(C, "DEL " P "paused"));
	rep = claim("10", "n2");
	ck_assert_uint_eq(n_entries(rep), 1);
	assert_run(entry(rep, 0), "a");
	freeReplyObject(rep);
}
END_TEST

START_TEST(claim_limit_and_tokens)
{
	redisReply	*rep;
	char		 id[8], ms[8];

	for (int i = 1; i <= 5; i++) {
		snprintf(id, sizeof(id), "j%d", i);
		snprintf(ms, sizeof(ms), "%d", i);
		enqueue(id, "h", "at", ms);
	}
	rep = claim_full("3", "1000", "abc", "0", "0", "0", NULL);
	ck_assert_uint_eq(n_entries(rep), 3);
	ck_assert_str_eq(assert_run(entry(rep, 0), "j1"), "abc-1");
	ck_assert_str_eq(assert_run(entry(rep, 1), "j2"), "abc-2");
	ck_assert_str_eq(assert_run(entry(rep, 2), "j3"), "abc-3");
	/* Due jobs were left (j4, j5): the next due time is now, unread. */
	ck_assert_int_eq(rep->element[1]->integer, rep->element[0]->integer);
	ck_assert_int_eq(zscore(K_ACTIVE, "j3"), rep->element[0]->integer + 1000);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 3);

	rep = claim("10", "def");
	ck_assert_uint_eq(n_entries(rep), 2);
	ck_assert_str_eq(assert_run(entry(rep, 0), "j4"), "def-1");
	ck_assert_str_eq(assert_run(entry(rep, 1), "j5"), "def-2");
	ck_assert_int_eq(rep->element[1]->integer, -1);
	freeReplyObject(rep);

	/* limit 0 claims nothing. */
	enqueue("j6", "h", "at", "6");
	rep = claim("0", "ghi");
	ck_assert_uint_eq(n_entries(rep), 0);
	ck_assert_int_eq(rep->element[1]->integer, 6);
	freeReplyObject(rep);
}
END_TEST

/*
 * The batched outcome script records complete, retry and bury in one call,
 * checks each lease token on its own (a stale one changes only that job)
 * and answers one integer per job, in order; the history records of the
 * jobs that finished go into their lists.
 */
START_TEST(outcome_batch_checks_each_lease)
{
	char		 ta[64], tb[64], tc[64], td[64], te[64], buf[256];
	redisReply	*rep;

	enqueue("a", "h", "in", "0");
	enqueue("b", "h", "in", "0");
	enqueue("c", "h", "in", "0");
	enqueue("d", "h", "in", "0");
	enqueue("e", "h", "in", "0");
	claim_one("a", "n1", ta, sizeof(ta));
	claim_one("b", "n2", tb, sizeof(tb));
	claim_one("c", "n3", tc, sizeof(tc));
	claim_one("d", "n4", td, sizeof(td));
	claim_one("e", "n5", te, sizeof(te));
	rep = script(SCRIPT_OUTCOME, 3, K_ACTIVE, K_DELAYED, K_DEAD, P,
	    "60000", "0", "0", K_WAKE, "", "10", "60000",
	    "complete", "a", ta, "result of a", "", "", "5", "{\"status\":\"done\"}",
	    "retry", "b", tb, "try later", "5000", "r", "", "",
	    "bury", "c", tc, "no hope", "", "", "7", "{\"status\":\"dead\"}",
	    "complete", "d", "stale-token", "x", "", "", "", "{}",
	    "complete", "e", te, "", "", "", "", "{not a record", NULL);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(rep->elements, 5);
	ck_assert_int_eq(rep->element[4]->integer, 1);
	ck_assert_int_eq(rep->element[0]->integer, 1);
	ck_assert_int_eq(rep->element[1]->integer, 1);
	ck_assert_int_eq(rep->element[2]->integer, 1);
	ck_assert_int_eq(rep->element[3]->integer, 0);
	freeReplyObject(rep);
	/* a: done, result kept, hash gone. */
	ck_assert_str_eq(h_cmd_str(C, buf, sizeof(buf), "GET " P "result:a"),
	    "result of a");
	ck_assert(!jexists("a"));
	/* b: back in delayed about 5 s out, attempt refunded, error kept. */
	ck_assert_int_ge(zscore(K_DELAYED, "b"), redis_now() + 4000);
	ck_assert_str_eq(jget("b", "attempts", buf, sizeof(buf)), "0");
	ck_assert_str_eq(jget("b", "last_error", buf, sizeof(buf)), "try later");
	ck_assert_int_eq(jhas("b", "lease"), 0);
	/* c: dead with its reason. */
	ck_assert_int_ge(zscore(K_DEAD, "c"), 1);
	ck_assert_str_eq(jget("c", "last_error", buf, sizeof(buf)), "no hope");
	/* d: untouched, still active with its lease. */
	ck_assert_int_ge(zscore(K_ACTIVE, "d"), 1);
	ck_assert_str_eq(jget("d", "lease", buf, sizeof(buf)), td);
	ck_assert_int_eq(h_cmd_int(C, "EXISTS " P "result:d"), 0);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 1);
	/* History: a in done, c in failed, their records as they came. */
	ck_assert_int_ge(zscore(P "done", "a"), redis_now() - 60000);
	ck_assert_int_ge(zscore(P "failed", "c"), redis_now() - 60000);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " P "done"), 1);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " P "failed"), 1);
	ck_assert_int_eq(h_cmd_int(C, "HLEN " P "history"), 2);
	/* e: done, its malformed record left out, nothing else refused. */
	ck_assert(!jexists("e"));
	ck_assert_int_eq(h_cmd_int(C, "HEXISTS " P "history e"), 0);
	ck_assert_str_eq(h_cmd_str(C, buf, sizeof(buf), "HGET " P "history a"),
	    "{\"status\":\"done\"}");
}
END_TEST

/*
 * Burying past dead.max_jobs trims the oldest dead job, and the reply says
 * so after the jobs' answers: {"trimmed", by_max_jobs, by_ttl}.
 */
START_TEST(outcome_reports_trimmed_dead_jobs)
{
	char		 ta[64], tb[64];
	redisReply	*rep, *t;

	enqueue("a", "h", "in", "0");
	enqueue("b", "h", "in", "0");
	claim_one("a", "n1", ta, sizeof(ta));
	claim_one("b", "n2", tb, sizeof(tb));
	rep = script(SCRIPT_OUTCOME, 3, K_ACTIVE, K_DELAYED, K_DEAD, P,
	    "60000", "1", "0", K_WAKE, "", "0", "0",
	    "bury", "a", ta, "no hope", "", "", "", "{}",
	    "bury", "b", tb, "no hope", "", "", "", "{}", NULL);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(rep->elements, 3);
	ck_assert_int_eq(rep->element[0]->integer, 1);
	ck_assert_int_eq(rep->element[1]->integer, 1);
	t = rep->element[2];
	ck_assert_int_eq(t->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(t->elements, 3);
	ck_assert_str_eq(t->element[0]->str, "trimmed");
	ck_assert_int_eq(t->element[1]->integer, 1);
	ck_assert_int_eq(t->element[2]->integer, 0);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DEAD), 1);
}
END_TEST

START_TEST(claim_attempts_increment)
{
	char		 tok[64], b[64];
	redisReply	*rep;

	enqueue("a", "h", "in", "0");
	claim_one("a", "n1", tok, sizeof(tok));
	ck_assert_int_eq(script_int(SCRIPT_RETRY, 3, K_ACTIVE, K_DELAYED,
	    P "job:a", "a", tok, "failed", "0", "0", K_WAKE, NULL), 1);
	rep = claim("1", "n2");
	ck_assert_str_eq(assert_run(entry(rep, 0), "a"), "n2-1");
	ck_assert_str_eq(field(entry(rep, 0), "attempts")->str, "2");
	ck_assert_str_eq(field(entry(rep, 0), "last_error")->str, "failed");
	freeReplyObject(rep);
	ck_assert_str_eq(jget("a", "attempts", b, sizeof(b)), "2");
}
END_TEST

/*
 * A claim that fills its limit reads no more than it needs: one EXISTS for
 * both markers, one TYPE for packed jobs, the due candidates and one HMGET
 * of those packed, no scan of +inf and no second read of
 * the first member (due jobs are left: the next due time is now). The
 * claim that drains the due jobs buries the one at +inf.
 */
START_TEST(a_full_claim_reads_no_more_than_it_needs)
{
	redisReply	*rep;
	char		 id[8], ms[8], b[128];

	for (int i = 1; i <= 5; i++) {
		snprintf(id, sizeof(id), "f%d", i);
		snprintf(ms, sizeof(ms), "%d", i);
		enqueue(id, "h", "at", ms);
	}
	h_cmd_int(C, "HSET " P "job:never handler h");
	h_cmd_int(C, "ZADD " K_DELAYED " +inf never");
	h_cmd_int(C, "CONFIG RESETSTAT");
	rep = claim("3", "n1");
	ck_assert_uint_eq(n_entries(rep), 3);
	ck_assert_int_eq(rep->element[1]->integer, rep->element[0]->integer);
	freeReplyObject(rep);
	ck_assert_int_eq(cmd_calls("exists"), 1);
	ck_assert_int_eq(cmd_calls("type"), 1);		/* packed jobs? */
	ck_assert_int_eq(cmd_calls("hmget"), 1);	/* the packed jobs */
	ck_assert_int_eq(cmd_calls("zrangebyscore"), 1);
	ck_assert_int_eq(cmd_calls("zrange"), 1);
	ck_assert_int_eq(h_cmd_int(C, "ZRANK " K_DELAYED " never"), 2); /* kept */

	rep = claim("10", "n2");
	ck_assert_uint_eq(n_entries(rep), 3);
	assert_run(entry(rep, 0), "f4");
	assert_run(entry(rep, 1), "f5");
	ck_assert_str_eq(entry(rep, 2)->element[0]->str, "buried");
	ck_assert_str_eq(entry(rep, 2)->element[1]->str, "never");
	ck_assert_int_eq(rep->element[1]->integer, -1);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 0);
	ck_assert_str_eq(h_cmd_str(C, b, sizeof(b), "HGET " P "job:never last_error"),
	    "due time is +inf: it would never run");
}
END_TEST

START_TEST(claim_skips_saturated)
{
	redisReply	*rep;

	enqueue("a", "busy", "at", "1");
	enqueue("b", "free", "at", "2");
	enqueue("c", "busy", "at", "3");
	rep = claim_full("10", "60000", "n", "0", "0", "0", "busy");
	ck_assert_int_eq(rep->element[2]->integer, 2);
	ck_assert_uint_eq(n_entries(rep), 1);
	assert_run(entry(rep, 0), "b");
	ck_assert_int_eq(rep->element[1]->integer, rep->element[0]->integer);
	freeReplyObject(rep);
	ck_assert_int_eq(zscore(K_DELAYED, "a"), 1);
	ck_assert_int_eq(zscore(K_DELAYED, "c"), 3);
	ck_assert_int_eq(jattempts("a"), 0);
	ck_assert_int_eq(jhas("a", "lease"), 0);
}
END_TEST

/*
 * Caps: pool handlers are outside the shared limit, a shared handler's cap
 * holds within it, and whatever does not fit stays in delayed untouched.
 */
START_TEST(claim_caps_pool_and_shared_handlers)
{
	static const char *const order[] = { "e1", "p1", "e2", "p2", "e3",
	    "p3", "x1" };
	static const char *const want[] = { "e1", "p1", "p2", "x1" };
	redisReply	*rep;
	char		 ms[16];

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		snprintf(ms, sizeof(ms), "%zu", i + 1);
		enqueue(order[i], order[i][0] == 'e' ? "ex" :
		    order[i][0] == 'p' ? "po" : "other", "at", ms);
	}
	/* 10 at most; 2 shared slots; ex capped at 1 in them; po 2 in its pool. */
	rep = script(SCRIPT_CLAIM, 3, K_DELAYED, K_ACTIVE, K_DEAD, P, "10",
	    "60000", "n", "0", "100", "0", "0", "0", "5", "", "2", "", "",
	    "ex", "1", "shared", "po", "2", "pool", NULL);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(n_entries(rep), 4);
	for (size_t i = 0; i < 4; i++)
		assert_run(entry(rep, i), want[i]);
	ck_assert_int_eq(rep->element[2]->integer, 3);	/* e2, e3, p3 */
	freeReplyObject(rep);
	ck_assert_int_eq(zscore(K_DELAYED, "e2"), 3);
	ck_assert_int_eq(zscore(K_DELAYED, "p3"), 6);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 4);

	/* Caps come in triples; a bad one changes nothing. */
	script_error(SCRIPT_CLAIM, 3, K_DELAYED, K_ACTIVE, K_DEAD, P, "10",
	    "60000", "m", "0", "100", "0", "0", "0", "5", "", "2", "", "",
	    "ex", "1", NULL);
	script_error(SCRIPT_CLAIM, 3, K_DELAYED, K_ACTIVE, K_DEAD, P, "10",
	    "60000", "m", "0", "100", "0", "0", "0", "5", "", "2", "", "",
	    "ex", "x", "pool", NULL);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 3);
}
END_TEST

START_TEST(claim_buries_bad_data)
{
	static const struct {
		const char	*id;
		const char	*reason;
	} want[] = {
		{ "m1", "job hash missing" },
		{ "s1", "job key has wrong type" },
		{ "n1", "job has no handler" },
		{ "e1", "job has no handler" },
		{ "a1", "field max_attempts is not a number: 'abc'" },
		{ "a2", "field attempts is not a number: '-1'" },
		{ "t1", "field timeout_ms is not a number: "
		    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'" },
		{ "p1", "payload of 20 bytes exceeds handlers.max_payload "
		    "(10 bytes)" },
	};
	redisReply	*rep;
	char		 b[128];
	size_t		 i;

	freeReplyObject(h_cmd(C, "SET " P "job:s1 foreign"));
	freeReplyObject(h_cmd(C, "HSET " P "job:n1 payload x"));
	freeReplyObject(h_cmd(C, "HSET " P "job:e1 handler %s", ""));
	freeReplyObject(h_cmd(C, "HSET " P "job:a1 handler h max_attempts abc"));
	freeReplyObject(h_cmd(C, "HSET " P "job:a2 handler h attempts -1"));
	freeReplyObject(h_cmd(C, "HSET " P "job:t1 handler h timeout_ms %s",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
	freeReplyObject(h_cmd(C, "HSET " P "job:p1 handler h payload %s",
	    "01234567890123456789"));
	freeReplyObject(h_cmd(C, "HSET " P "job:ok handler h payload 0123456789"
	    " attempts 0 max_attempts 2 timeout_ms 100"));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		freeReplyObject(h_cmd(C, "ZADD " K_DELAYED " %d %s", (int)i + 1,
		    want[i].id));
	freeReplyObject(h_cmd(C, "ZADD " K_DELAYED " 100 ok"));

	rep = claim_full("1", "60000", "n", "10", "0", "0", NULL);
	ck_assert_uint_eq(n_entries(rep), 9);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_buried(entry(rep, i), want[i].id, want[i].reason);
	assert_run(entry(rep, 8), "ok");
	ck_assert_int_eq(rep->element[1]->integer, -1);
	freeReplyObject(rep);

	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 0);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DEAD), 8);
	ck_assert_str_eq(jget("m1", "last_error", b, sizeof(b)),
	    "job hash missing");
	ck_assert_int_gt(strtoll(jget("m1", "died_ms", b, sizeof(b)), NULL, 10),
	    0);
	ck_assert_str_eq(h_cmd_str(C, b, sizeof(b), "GET " P "job:s1"),
	    "foreign");
	ck_assert_str_eq(jget("a1", "last_error", b, sizeof(b)),
	    "field max_attempts is not a number: 'abc'");
}
END_TEST

START_TEST(extend_needs_token)
{
	char		 tok[64];
	redisReply	*rep;
	long long	 before;

	enqueue("a", "h", "in", "0");
	enqueue("b", "h", "in", "60000");
	rep = claim_full("1", "1000", "n", "0", "0", "0", NULL);
	snprintf(tok, sizeof(tok), "%s", assert_run(entry(rep, 0), "a"));
	freeReplyObject(rep);
	before = zscore(K_ACTIVE, "a");

	rep = script(SCRIPT_EXTEND, 1, K_ACTIVE, P, "90000", "a", "wrong", NULL);
	ck_assert_uint_eq(rep->elements, 1);
	ck_assert_int_eq(rep->element[0]->integer, 0);
	freeReplyObject(rep);
	ck_assert_int_eq(zscore(K_ACTIVE, "a"), before);

	rep = script(SCRIPT_EXTEND, 1, K_ACTIVE, P, "90000", "a", tok,
	    "b", "x", "missing", tok, NULL);
	ck_assert_uint_eq(rep->elements, 3);
	ck_assert_int_eq(rep->element[0]->integer, 1);
	ck_assert_int_eq(rep->element[1]->integer, 0);
	ck_assert_int_eq(rep->element[2]->integer, 0);
	freeReplyObject(rep);
	ck_assert_int_ge(zscore(K_ACTIVE, "a"), before - 1000 + 90000);
	ck_assert_int_eq(zscore(K_ACTIVE, "b"), -1);
	ck_assert_int_eq(zscore(K_ACTIVE, "missing"), -1);
}
END_TEST

START_TEST(complete_needs_token)
{
	char	tok[64], b[64];

	enqueue("a", "h", "in", "0");
	claim_one("a", "n", tok, sizeof(tok));
	ck_assert_int_eq(script_int(SCRIPT_COMPLETE, 3, K_ACTIVE, P "job:a",
	    P "result:a", "a", "n-9", "out", "60000", NULL), 0);
	ck_assert_int_ne(zscore(K_ACTIVE, "a"), -1);
	ck_assert(jexists("a"));
	ck_assert_int_eq(h_cmd_int(C, "EXISTS " P "result:a"), 0);

	ck_assert_int_eq(script_int(SCRIPT_COMPLETE, 3, K_ACTIVE, P "job:a",
	    P "result:a", "a", tok, "out", "60000", NULL), 1);
	ck_assert_int_eq(zscore(K_ACTIVE, "a"), -1);
	ck_assert(!jexists("a"));
	ck_assert_str_eq(h_cmd_str(C, b, sizeof(b), "GET " P "result:a"), "out");
	ck_assert_int_gt(h_cmd_int(C, "PTTL " P "result:a"), 0);
	ck_assert_int_le(h_cmd_int(C, "PTTL " P "result:a"), 60000);

	/* A late second completion changes nothing: no claim holds the job. */
	ck_assert_int_eq(script_int(SCRIPT_COMPLETE, 3, K_ACTIVE, P "job:a",
	    P "result:a", "a", tok, "again", "60000", NULL), 2);
	ck_assert_str_eq(h_cmd_str(C, b, sizeof(b), "GET " P "result:a"), "out");

	/* TTL 0 stores no result. */
	enqueue("b", "h", "in", "0");
	claim_one("b", "m", tok, sizeof(tok));
	ck_assert_int_eq(script_int(SCRIPT_COMPLETE, 3, K_ACTIVE, P "job:b",
	    P "result:b", "b", tok, "out", "0", NULL), 1);
	ck_assert_int_eq(h_cmd_int(C, "EXISTS " P "result:b"), 0);
	ck_assert(!jexists("b"));
}
END_TEST

START_TEST(retry_and_refund)
{
	redisContext	*s;
	char		 tok[64], b[64], want[32];
	long long	 now, due;

	enqueue("a", "h", "in", "0");
	claim_one("a", "n", tok, sizeof(tok));
	s = subscribe_wake();

	/* Stale token: nothing changes. */
	ck_assert_int_eq(script_int(SCRIPT_RETRY, 3, K_ACTIVE, K_DELAYED,
	    P "job:a", "a", "stale", "boom", "0", "1", K_WAKE, NULL), 0);
	ck_assert_int_ne(zscore(K_ACTIVE, "a"), -1);
	ck_assert_str_eq(jget("a", "lease", b, sizeof(b)), tok);
	ck_assert_str_eq(jget("a", "attempts", b, sizeof(b)), "1");

	now = redis_now();
	ck_assert_int_eq(script_int(SCRIPT_RETRY, 3, K_ACTIVE, K_DELAYED,
	    P "job:a", "a", tok, "boom", "5000", "0", K_WAKE, NULL), 1);
	due = zscore(K_DELAYED, "a");
	ck_assert_int_ge(due, now + 5000);
	ck_assert_int_le(due, redis_now() + 5000);
	ck_assert_int_eq(strtoll(jget("a", "due_ms", b, sizeof(b)), NULL, 10),
	    due);
	ck_assert_int_eq(zscore(K_ACTIVE, "a"), -1);
	ck_assert_int_eq(jhas("a", "lease"), 0);
	ck_assert_str_eq(jget("a", "last_error", b, sizeof(b)), "boom");
	ck_assert_str_eq(jget("a", "attempts", b, sizeof(b)), "1");
	snprintf(want, sizeof(want), "%lld", due);
	expect_msg(s, want);

	/* Refund gives the attempt back; an empty error keeps last_error. */
	snprintf(want, sizeof(want), "%lld", enqueue("b", "h", "in", "0"));
	expect_msg(s, want);	/* b is due before a */
	claim_one("b", "m", tok, sizeof(tok));
	h_job_set(C, P "job:b last_error=earlier");
	ck_assert_int_eq(script_int(SCRIPT_RETRY, 3, K_ACTIVE, K_DELAYED,
	    P "job:b", "b", tok, "", "60000", "1", K_WAKE, NULL), 1);
	ck_assert_str_eq(jget("b", "attempts", b, sizeof(b)), "0");
	ck_assert_str_eq(jget("b", "last_error", b, sizeof(b)), "earlier");
	ck_assert_int_gt(zscore(K_DELAYED, "b"), due);	/* not first: silent */
	expect_no_more(s);
	redisFree(s);
}
END_TEST

START_TEST(bury_needs_token)
{
	char		 tok[64], b[64];
	long long	 now;

	enqueue("a", "h", "in", "0");
	claim_one("a", "n", tok, sizeof(tok));
	ck_assert_int_eq(script_int(SCRIPT_BURY, 3, K_ACTIVE, K_DEAD, P "job:a",
	    "a", "stale", "bad", P, "0", "0", NULL), 0);
	ck_assert_int_ne(zscore(K_ACTIVE, "a"), -1);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DEAD), 0);

	now = redis_now();
	ck_assert_int_eq(script_int(SCRIPT_BURY, 3, K_ACTIVE, K_DEAD, P "job:a",
	    "a", tok, "exit 65", P, "0", "0", NULL), 1);
	ck_assert_int_eq(zscore(K_ACTIVE, "a"), -1);
	ck_assert_int_ge(zscore(K_DEAD, "a"), now);
	ck_assert_str_eq(jget("a", "last_error", b, sizeof(b)), "exit 65");
	ck_assert_int_eq(strtoll(jget("a", "died_ms", b, sizeof(b)), NULL, 10),
	    zscore(K_DEAD, "a"));
	ck_assert_int_eq(jhas("a", "lease"), 0);
	ck_assert_str_eq(jget("a", "handler", b, sizeof(b)), "h");
}
END_TEST

/* Claim and bury job id (due now) with the given dead limits. */
static void
claim_and_bury(const char *id, const char *dead_max, const char *dead_ttl)
{
	char	tok[64], jk[64];

	snprintf(jk, sizeof(jk), P "job:%s", id);
	enqueue(id, "h", "in", "0");
	claim_one(id, "n", tok, sizeof(tok));
	ck_assert_int_eq(script_int(SCRIPT_BURY, 3, K_ACTIVE, K_DEAD, jk, id,
	    tok, "failed", P, dead_max, dead_ttl, NULL), 1);
}

START_TEST(dead_trim_by_count)
{
	for (int i = 1; i <= 5; i++) {
		freeReplyObject(h_cmd(C, "ZADD " K_DEAD " %d old%d", i, i));
		freeReplyObject(h_cmd(C, "HSET " P "job:old%d handler h", i));
	}
	claim_and_bury("new", "3", "0");
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DEAD), 3);
	ck_assert_int_eq(zscore(K_DEAD, "old3"), -1);
	ck_assert_int_eq(zscore(K_DEAD, "old4"), 4);
	ck_assert_int_eq(zscore(K_DEAD, "old5"), 5);
	ck_assert_int_ne(zscore(K_DEAD, "new"), -1);
	ck_assert(!jexists("old1") && !jexists("old2") && !jexists("old3"));
	ck_assert(jexists("old4") && jexists("new"));
}
END_TEST

START_TEST(dead_trim_by_age)
{
	redisReply	*rep;
	char		 b[64];
	long long	 now = redis_now();

	/*
	 * 250 entries a day old, 1 recent. Equal scores sort by member, so
	 * old1 (a foreign string key) is among the first 100 removed.
	 */
	freeReplyObject(h_cmd(C, "EVAL %s 1 %s %s %lld",
	    "for i = 1, 250 do redis.call('ZADD', KEYS[1], ARGV[2], 'old' .. i);"
	    " redis.call('HSET', ARGV[1] .. 'job:old' .. i, 'handler', 'h') end",
	    K_DEAD, P, now - 86400000));
	freeReplyObject(h_cmd(C, "DEL " P "job:old1"));
	freeReplyObject(h_cmd(C, "SET " P "job:old1 foreign"));
	freeReplyObject(h_cmd(C, "ZADD " K_DEAD " %lld recent", now - 10));
	freeReplyObject(h_cmd(C, "HSET " P "job:recent handler h"));

	/* Each bury removes at most 100: the work per call is bounded. */
	claim_and_bury("x1", "0", "3600000");
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DEAD), 150 + 2);
	ck_assert_int_eq(zscore(K_DEAD, "old1"), -1);
	ck_assert_str_eq(h_cmd_str(C, b, sizeof(b), "GET " P "job:old1"),
	    "foreign");
	rep = h_cmd(C, "KEYS " P "job:old*");	/* 150 hashes + the string */
	ck_assert_uint_eq(rep->elements, 151);
	freeReplyObject(rep);
	claim_and_bury("x2", "0", "3600000");
	claim_and_bury("x3", "0", "3600000");
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DEAD), 4);
	ck_assert_int_ne(zscore(K_DEAD, "recent"), -1);
	ck_assert(jexists("recent") && !jexists("old250"));
}
END_TEST

/* Every claim first reaps expired leases, and may claim the reaped job at once. */
START_TEST(claim_reaps_expired_leases_first)
{
	redisReply	*rep;
	char		 b[64];

	freeReplyObject(h_cmd(C, "HSET " P "job:a handler h max_attempts 3"));
	freeReplyObject(h_cmd(C, "HSET " P "job:b handler h max_attempts 1"));
	freeReplyObject(h_cmd(C, "ZADD " K_DELAYED " 1 a 2 b"));
	rep = claim_full("2", "0", "n", "0", "0", "0", NULL);	/* lease 0: expired */
	ck_assert_uint_eq(n_entries(rep), 2);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 2);

	rep = script(SCRIPT_CLAIM, 3, K_DELAYED, K_ACTIVE, K_DEAD, P, "5",
	    "60000", "m", "0", "100", "0", "0", "100", "5", "", NULL);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_int_eq(rep->element[3]->integer, 1);	/* a requeued */
	ck_assert_int_eq(rep->element[4]->integer, 1);	/* b on its last attempt */
	ck_assert_uint_eq(n_entries(rep), 1);
	assert_run(entry(rep, 0), "a");
	freeReplyObject(rep);
	ck_assert_str_eq(jget("a", "attempts", b, sizeof(b)), "2");
	ck_assert_int_ne(zscore(K_ACTIVE, "a"), -1);
	ck_assert_int_ne(zscore(K_DEAD, "b"), -1);
	ck_assert_str_eq(jget("b", "last_error", b, sizeof(b)),
	    "lease expired on the final attempt (worker lost)");

	/* Reap limit 0: an expired lease stays where it is. */
	freeReplyObject(h_cmd(C, "ZADD " K_ACTIVE " 0 a"));
	rep = claim_full("5", "60000", "k", "0", "0", "0", NULL);
	ck_assert_int_eq(rep->element[3]->integer, 0);
	ck_assert_uint_eq(n_entries(rep), 0);
	freeReplyObject(rep);
	ck_assert_int_eq(zscore(K_ACTIVE, "a"), 0);
}
END_TEST

/*
 * Unclaim gives back exactly the jobs of the lost claims' nonces (due time
 * kept, attempt refunded, lease gone), and marks each nonce so that a lost
 * claim which runs only afterwards claims nothing.
 */
START_TEST(unclaim_gives_back_lost_claims)
{
	redisReply	*rep;
	redisContext	*w;
	char		 b[64], due[32];
	long long	 due_a;

	due_a = enqueue("a", "h", "at", "1000");
	enqueue("b", "h", "at", "2000");
	enqueue("c", "h", "at", "3000");
	rep = claim("2", "lost1");	/* a and b, reply "lost" */
	ck_assert_uint_eq(n_entries(rep), 2);
	freeReplyObject(rep);
	rep = claim("1", "kept");	/* c, held by a live claim */
	ck_assert_uint_eq(n_entries(rep), 1);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 3);
	w = subscribe_wake();

	/* A min score above every lease finds nothing. */
	snprintf(due, sizeof(due), "%lld", redis_now() + 3600000);
	ck_assert_int_eq(script_int(SCRIPT_UNCLAIM, 2, K_ACTIVE, K_DELAYED, P,
	    due, "60000", K_WAKE, "", "lost1", NULL), 0);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 3);

	ck_assert_int_eq(script_int(SCRIPT_UNCLAIM, 2, K_ACTIVE, K_DELAYED, P,
	    "0", "60000", K_WAKE, "", "other", "lost1", NULL), 2);
	expect_msg(w, "1000");		/* the earliest due time given back */
	expect_no_more(w);
	ck_assert_int_eq(zscore(K_DELAYED, "a"), due_a);
	ck_assert_int_eq(zscore(K_DELAYED, "b"), 2000);
	ck_assert_int_ne(zscore(K_ACTIVE, "c"), -1);
	ck_assert_str_eq(jget("a", "attempts", b, sizeof(b)), "0");
	ck_assert_str_eq(jget("a", "lease", b, sizeof(b)), "");
	ck_assert_str_eq(jget("c", "lease", b, sizeof(b)), "kept-1");

	/* A claim under a nonce given up before it ran claims nothing... */
	ck_assert_int_eq(script_int(SCRIPT_UNCLAIM, 2, K_ACTIVE, K_DELAYED, P,
	    "0", "60000", K_WAKE, "", "late", NULL), 0);
	rep = claim("5", "late");
	ck_assert_uint_eq(n_entries(rep), 0);
	freeReplyObject(rep);
	ck_assert_int_gt(h_cmd_int(C, "PTTL " P "unclaimed:late"), 0);
	/* ...while any other claim takes the jobs given back. */
	rep = claim("5", "next");
	ck_assert_uint_eq(n_entries(rep), 2);
	assert_run(entry(rep, 0), "a");
	assert_run(entry(rep, 1), "b");
	freeReplyObject(rep);
	ck_assert_str_eq(jget("a", "attempts", b, sizeof(b)), "1");
	redisFree(w);
}
END_TEST

START_TEST(reap_expired_leases)
{
	redisContext	*s;
	redisReply	*rep;
	char		 b[64], tok[64];
	long long	 now;

	freeReplyObject(h_cmd(C, "HSET " P "job:a handler h max_attempts 3"));
	freeReplyObject(h_cmd(C, "HSET " P "job:b handler h max_attempts 1"));
	freeReplyObject(h_cmd(C, "HSET " P "job:c handler h"));
	freeReplyObject(h_cmd(C, "ZADD " K_DELAYED " 1 a 2 b 3 c"));
	rep = claim_full("3", "0", "n", "0", "0", "0", NULL);	/* expired */
	ck_assert_uint_eq(n_entries(rep), 3);
	freeReplyObject(rep);
	freeReplyObject(h_cmd(C, "ZADD " K_ACTIVE " 0 ghost"));
	enqueue("live", "h", "in", "0");
	claim_one("live", "m", tok, sizeof(tok));
	s = subscribe_wake();

	now = redis_now();
	rep = script(SCRIPT_REAP, 3, K_ACTIVE, K_DELAYED, K_DEAD, P, "100",
	    K_WAKE, "0", "0", "1", NULL);
	assert_reap(rep, 1, 2);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 1);
	ck_assert_int_ne(zscore(K_ACTIVE, "live"), -1);
	ck_assert_int_ge(zscore(K_DELAYED, "a"), now);
	ck_assert_str_eq(jget("a", "last_error", b, sizeof(b)),
	    "lease expired (worker lost)");
	ck_assert_int_eq(strtoll(jget("a", "due_ms", b, sizeof(b)), NULL, 10),
	    zscore(K_DELAYED, "a"));
	ck_assert_int_eq(jhas("a", "lease"), 0);
	ck_assert_str_eq(jget("a", "attempts", b, sizeof(b)), "1");
	ck_assert_int_ne(zscore(K_DEAD, "b"), -1);
	ck_assert_int_ne(zscore(K_DEAD, "c"), -1);	/* default max 1 */
	ck_assert_str_eq(jget("b", "last_error", b, sizeof(b)),
	    "lease expired on the final attempt (worker lost)");
	ck_assert_int_eq(jhas("b", "lease"), 0);
	ck_assert(!jexists("ghost"));
	ck_assert_int_eq(zscore(K_DEAD, "ghost"), -1);
	snprintf(b, sizeof(b), "%lld", zscore(K_DELAYED, "a"));
	expect_msg(s, b);
	expect_no_more(s);
	redisFree(s);

	/* The limit bounds the work; nothing expired publishes nothing. */
	freeReplyObject(h_cmd(C, "DEL " K_DELAYED));
	freeReplyObject(h_cmd(C, "HSET " P "job:d handler h"));
	freeReplyObject(h_cmd(C, "HSET " P "job:e handler h"));
	freeReplyObject(h_cmd(C, "ZADD " K_ACTIVE " 1 d 2 e"));
	rep = script(SCRIPT_REAP, 3, K_ACTIVE, K_DELAYED, K_DEAD, P, "1",
	    K_WAKE, "0", "0", "5", NULL);
	assert_reap(rep, 1, 0);
	freeReplyObject(rep);
	ck_assert_int_eq(zscore(K_ACTIVE, "e"), 2);
	ck_assert_int_eq(zscore(K_ACTIVE, "d"), -1);
}
END_TEST

/* Run cancel for id and assert the status string. */
static void
assert_cancel(const char *id, const char *want)
{
	char		 jk[64], rk[64];
	redisReply	*rep;

	snprintf(jk, sizeof(jk), P "job:%s", id);
	snprintf(rk, sizeof(rk), P "result:%s", id);
	rep = script(SCRIPT_CANCEL, 5, K_DELAYED, K_ACTIVE, K_DEAD, jk, rk, id,
	    NULL);
	ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
	ck_assert_str_eq(rep->str, want);
	freeReplyObject(rep);
}

START_TEST(cancel_answers)
{
	char	tok[64];

	enqueue("d", "h", "in", "60000");
	assert_cancel("d", "cancelled");
	ck_assert(!jexists("d"));
	ck_assert_int_eq(zscore(K_DELAYED, "d"), -1);

	enqueue("r", "h", "in", "0");
	claim_one("r", "n", tok, sizeof(tok));
	assert_cancel("r", "running");
	ck_assert(jexists("r"));
	ck_assert_int_ne(zscore(K_ACTIVE, "r"), -1);

	claim_and_bury("x", "0", "0");
	assert_cancel("x", "dead");
	ck_assert(jexists("x"));

	enqueue("f", "h", "in", "0");
	claim_one("f", "m", tok, sizeof(tok));
	ck_assert_int_eq(script_int(SCRIPT_COMPLETE, 3, K_ACTIVE, P "job:f",
	    P "result:f", "f", tok, "", "60000", NULL), 1);
	assert_cancel("f", "finished");

	assert_cancel("nope", "unknown");
	assert_cancel("d", "unknown");
}
END_TEST

START_TEST(revive_dead)
{
	redisContext	*s;
	redisReply	*rep;
	char		 b[64];
	long long	 now;

	claim_and_bury("x", "0", "0");
	ck_assert_int_eq(script_int(SCRIPT_REVIVE, 3, K_DEAD, K_DELAYED,
	    P "job:nope", "nope", K_WAKE, NULL), 0);
	s = subscribe_wake();
	now = redis_now();
	ck_assert_int_eq(script_int(SCRIPT_REVIVE, 3, K_DEAD, K_DELAYED,
	    P "job:x", "x", K_WAKE, NULL), 1);
	ck_assert_int_eq(zscore(K_DEAD, "x"), -1);
	ck_assert_int_ge(zscore(K_DELAYED, "x"), now);
	ck_assert_int_eq(jattempts("x"), 0);
	ck_assert_int_eq(jhas("x", "died_ms"), 0);
	snprintf(b, sizeof(b), "%lld", zscore(K_DELAYED, "x"));
	expect_msg(s, b);
	expect_no_more(s);
	redisFree(s);
	ck_assert_int_eq(script_int(SCRIPT_REVIVE, 3, K_DEAD, K_DELAYED,
	    P "job:x", "x", K_WAKE, NULL), 0);

	/* It runs again as attempt 1. */
	rep = claim("1", "n2");
	ck_assert_str_eq(field(entry(rep, 0), "attempts")->str, "1");
	freeReplyObject(rep);

	/* In dead without a hash: -1 and nothing changes. */
	freeReplyObject(h_cmd(C, "ZADD " K_DEAD " 5 ghost"));
	ck_assert_int_eq(script_int(SCRIPT_REVIVE, 3, K_DEAD, K_DELAYED,
	    P "job:ghost", "ghost", K_WAKE, NULL), -1);
	ck_assert_int_eq(zscore(K_DEAD, "ghost"), 5);
	ck_assert(!jexists("ghost"));
}
END_TEST

START_TEST(purge_one_and_all)
{
	char	tok[64];

	claim_and_bury("x", "0", "0");
	enqueue("r", "h", "in", "0");
	claim_one("r", "n", tok, sizeof(tok));
	ck_assert_int_eq(script_int(SCRIPT_PURGE, 1, K_DEAD, P, "x", NULL), 1);
	ck_assert(!jexists("x"));
	ck_assert_int_eq(script_int(SCRIPT_PURGE, 1, K_DEAD, P, "x", NULL), 0);
	ck_assert_int_eq(script_int(SCRIPT_PURGE, 1, K_DEAD, P, "r", NULL), 0);
	ck_assert(jexists("r"));

	freeReplyObject(h_cmd(C, "EVAL %s 1 %s %s",
	    "for i = 1, 1500 do redis.call('ZADD', KEYS[1], i, 'd' .. i);"
	    " redis.call('HSET', ARGV[1] .. 'job:d' .. i, 'handler', 'h') end",
	    K_DEAD, P));
	ck_assert_int_eq(script_int(SCRIPT_PURGE, 1, K_DEAD, P, "", NULL), 1000);
	ck_assert(!jexists("d1000") && jexists("d1001"));
	ck_assert_int_eq(script_int(SCRIPT_PURGE, 1, K_DEAD, P, "", NULL), 500);
	ck_assert_int_eq(script_int(SCRIPT_PURGE, 1, K_DEAD, P, "", NULL), 0);
	ck_assert(!jexists("d1500"));
	ck_assert(jexists("r"));
}
END_TEST

START_TEST(wrong_type_job_key)
{
	redisReply	*rep;
	char		 b[64];

	freeReplyObject(h_cmd(C, "SET " P "job:s foreign"));
	freeReplyObject(h_cmd(C, "ZADD " K_ACTIVE " 9999999999999 s"));
	rep = script(SCRIPT_EXTEND, 1, K_ACTIVE, P, "1000", "s", "t", NULL);
	ck_assert_int_eq(rep->element[0]->integer, 0);
	freeReplyObject(rep);
	/* Not a hash, so no claim holds it (2): nothing changes. */
	ck_assert_int_eq(script_int(SCRIPT_COMPLETE, 3, K_ACTIVE, P "job:s",
	    P "result:s", "s", "t", "", "1000", NULL), 2);
	ck_assert_int_eq(script_int(SCRIPT_RETRY, 3, K_ACTIVE, K_DELAYED,
	    P "job:s", "s", "t", "", "0", "0", K_WAKE, NULL), 2);
	ck_assert_int_eq(script_int(SCRIPT_BURY, 3, K_ACTIVE, K_DEAD, P "job:s",
	    "s", "t", "", P, "0", "0", NULL), 2);

	/* Reaped: it goes to dead, the key stays. */
	freeReplyObject(h_cmd(C, "ZADD " K_ACTIVE " 1 s"));
	rep = script(SCRIPT_REAP, 3, K_ACTIVE, K_DELAYED, K_DEAD, P, "10",
	    K_WAKE, "0", "0", "3", NULL);
	assert_reap(rep, 0, 1);
	freeReplyObject(rep);
	ck_assert_int_ne(zscore(K_DEAD, "s"), -1);
	ck_assert_int_eq(script_int(SCRIPT_REVIVE, 3, K_DEAD, K_DELAYED,
	    P "job:s", "s", K_WAKE, NULL), -1);
	ck_assert_int_eq(script_int(SCRIPT_PURGE, 1, K_DEAD, P, "s", NULL), 1);

	/* Cancelled from delayed: the foreign key is not deleted. */
	freeReplyObject(h_cmd(C, "ZADD " K_DELAYED " 1 s"));
	assert_cancel("s", "cancelled");
	ck_assert_str_eq(h_cmd_str(C, b, sizeof(b), "GET " P "job:s"),
	    "foreign");
}
END_TEST

START_TEST(noscript_fallback)
{
	redisContext	*admin = h_redis_connect(&R);
	const char	*argv[12], *cargv[6] = { K_DELAYED, K_ACTIVE, K_DEAD,
	    P "job:zz", P "result:zz", "zz" };
	redisReply	*rep;
	char		 jk[3][32], id[3][8], ms[3][8];

	enqueue("a", "h", "at", "1");
	freeReplyObject(h_cmd(admin, "SCRIPT FLUSH"));
	ck_assert_int_eq(enqueue("b", "h", "at", "2"), 2);
	freeReplyObject(h_cmd(admin, "SCRIPT FLUSH"));
	rep = claim("10", "n");
	ck_assert_uint_eq(n_entries(rep), 2);
	freeReplyObject(rep);

	/* Pipelined: every queued EVALSHA fails, replies stay in order. */
	ck_assert_int_eq(rclient_script_load(C, SCRIPT_ENQUEUE), 0);
	freeReplyObject(h_cmd(admin, "SCRIPT FLUSH"));
	for (int i = 0; i < 3; i++) {
		snprintf(id[i], sizeof(id[i]), "p%d", i);
		snprintf(jk[i], sizeof(jk[i]), P "job:%s", id[i]);
		snprintf(ms[i], sizeof(ms[i]), "%d", 100 + i);
		argv[0] = jk[i]; argv[1] = K_DELAYED; argv[2] = id[i];
		argv[3] = "h"; argv[4] = ""; argv[5] = "at"; argv[6] = ms[i];
		argv[7] = ""; argv[8] = ""; argv[9] = ""; argv[10] = K_WAKE;
		argv[11] = "";
		ck_assert_int_eq(rclient_script_append(C, SCRIPT_ENQUEUE, 2, 12,
		    argv, NULL), 0);
	}
	/* Not loaded in this process: sent as EVAL, its reply gets stashed. */
	ck_assert_int_eq(rclient_script_append(C, SCRIPT_CANCEL, 5, 6, cargv,
	    NULL), 0);
	for (int i = 0; i < 3; i++) {
		argv[0] = jk[i]; argv[1] = K_DELAYED; argv[2] = id[i];
		argv[3] = "h"; argv[4] = ""; argv[5] = "at"; argv[6] = ms[i];
		argv[7] = ""; argv[8] = ""; argv[9] = ""; argv[10] = K_WAKE;
		argv[11] = "";
		rep = rclient_script_reply(C, SCRIPT_ENQUEUE, 2, 12, argv, NULL);
		ck_assert_ptr_nonnull(rep);
		assert_pair(rep, 1, 100 + i);
		freeReplyObject(rep);
	}
	rep = rclient_script_reply(C, SCRIPT_CANCEL, 5, 6, cargv, NULL);
	ck_assert_ptr_nonnull(rep);
	ck_assert_str_eq(rep->str, "unknown");
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 3);
	/* The connection is in step again. */
	ck_assert_int_eq(h_cmd_int(C, "ZSCORE " K_DELAYED " p2"), 102);
	redisFree(admin);
}
END_TEST

START_TEST(binary_payload)
{
	static const char	 payload[] = "a\0b\r\n\xff\0z";
	const size_t		 plen = sizeof(payload) - 1;
	const char		*argv[12] = { P "job:bin", K_DELAYED, "bin", "h",
	    payload, "in", "0", "", "", "", K_WAKE, "" };
	size_t			 lens[12];
	const redisReply	*pf;
	redisReply		*rep;
	char			 tok[64];

	for (int i = 0; i < 12; i++)
		lens[i] = strlen(argv[i]);
	lens[4] = plen;
	rep = rclient_script(C, SCRIPT_ENQUEUE, 2, 12, argv, lens);
	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(rep->element[0]->integer, 1);
	freeReplyObject(rep);

	rep = claim_full("1", "60000", "n", "8", "0", "0", NULL);
	snprintf(tok, sizeof(tok), "%s", assert_run(entry(rep, 0), "bin"));
	pf = field(entry(rep, 0), "payload");
	ck_assert_ptr_nonnull(pf);
	ck_assert_uint_eq(pf->len, plen);
	ck_assert(memcmp(pf->str, payload, plen) == 0);
	freeReplyObject(rep);

	argv[0] = K_ACTIVE; argv[1] = P "job:bin"; argv[2] = P "result:bin";
	argv[3] = "bin"; argv[4] = tok; argv[5] = payload; argv[6] = "60000";
	for (int i = 0; i < 7; i++)
		lens[i] = strlen(argv[i]);
	lens[5] = plen;
	rep = rclient_script(C, SCRIPT_COMPLETE, 3, 7, argv, lens);
	ck_assert_int_eq(rep->integer, 1);
	freeReplyObject(rep);
	rep = h_cmd(C, "GET " P "result:bin");
	ck_assert_uint_eq(rep->len, plen);
	ck_assert(memcmp(rep->str, payload, plen) == 0);
	freeReplyObject(rep);
}
END_TEST

START_TEST(connect_auth_select)
{
	struct redis_target	 t;
	redisContext		*c;
	redisReply		*rep;
	char			 err[512], bad[320];

	memset(&t, 0, sizeof(t));
	snprintf(bad, sizeof(bad), "%s.nope", R.sock);
	t.unix_path = bad;
	ck_assert_ptr_null(rclient_connect(&t, 2000, err, sizeof(err)));
	ck_assert_msg(strstr(err, "cannot connect") != NULL, "%s", err);

	freeReplyObject(h_cmd(C, "CONFIG SET requirepass s3cret-pw"));
	t.unix_path = R.sock;
	t.password = "wrong-pw-42";
	ck_assert_ptr_null(rclient_connect(&t, 2000, err, sizeof(err)));
	ck_assert_msg(strstr(err, "AUTH") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "wrong-pw-42") == NULL, "%s", err);

	t.password = "s3cret-pw";
	t.db = 3;
	c = rclient_connect(&t, 2000, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	rep = h_cmd(c, "SET here 1");
	freeReplyObject(rep);
	redisFree(c);

	t.username = "default";
	t.db = 99999;
	ck_assert_ptr_null(rclient_connect(&t, 2000, err, sizeof(err)));
	ck_assert_msg(strstr(err, "SELECT 99999") != NULL, "%s", err);
	t.db = 0;
	c = rclient_connect(&t, 2000, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(h_cmd_int(c, "EXISTS here"), 0);
	freeReplyObject(h_cmd(c, "SELECT 3"));
	ck_assert_int_eq(h_cmd_int(c, "EXISTS here"), 1);
	redisFree(c);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("scripts");
	TCase	*tc = tcase_create("redis");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, enqueue_creates);
	tcase_add_test(tc, enqueue_idempotent);
	tcase_add_test(tc, enqueue_at_and_bad_args);
	tcase_add_test(tc, enqueue_wake_only_when_first);
	tcase_add_test(tc, enqueue_batch_creates);
	tcase_add_test(tc, enqueue_batch_idempotent_and_wake);
	tcase_add_test(tc, enqueue_batch_events);
	tcase_add_test(tc, enqueue_batch_bad_args);
	tcase_add_test(tc, claim_respects_due_time);
	tcase_add_test(tc, claim_takes_nothing_from_a_paused_queue);
	tcase_add_test(tc, claim_holds_a_handler_to_its_rate);
	tcase_add_test(tc, claim_limit_and_tokens);
	tcase_add_test(tc, a_full_claim_reads_no_more_than_it_needs);
	tcase_add_test(tc, claim_attempts_increment);
	tcase_add_test(tc, claim_skips_saturated);
	tcase_add_test(tc, claim_caps_pool_and_shared_handlers);
	tcase_add_test(tc, claim_buries_bad_data);
	tcase_add_test(tc, extend_needs_token);
	tcase_add_test(tc, complete_needs_token);
	tcase_add_test(tc, retry_and_refund);
	tcase_add_test(tc, bury_needs_token);
	tcase_add_test(tc, dead_trim_by_count);
	tcase_add_test(tc, dead_trim_by_age);
	tcase_add_test(tc, reap_expired_leases);
	tcase_add_test(tc, unclaim_gives_back_lost_claims);
	tcase_add_test(tc, claim_reaps_expired_leases_first);
	tcase_add_test(tc, cancel_answers);
	tcase_add_test(tc, revive_dead);
	tcase_add_test(tc, purge_one_and_all);
	tcase_add_test(tc, outcome_batch_checks_each_lease);
	tcase_add_test(tc, outcome_reports_trimmed_dead_jobs);
	tcase_add_test(tc, wrong_type_job_key);
	tcase_add_test(tc, noscript_fallback);
	tcase_add_test(tc, scripts_carry_only_the_lib_they_use);
	tcase_add_test(tc, claim_carries_the_liveness_probe);
	tcase_add_test(tc, binary_payload);
	tcase_add_test(tc, connect_auth_select);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
