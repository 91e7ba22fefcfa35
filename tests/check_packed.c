/* SPDX-License-Identifier: MIT */
/*
 * Packed jobs (docs/keys.md, "Packed jobs"): the body decoder (job_body.c,
 * job_fields.c) on its own, and the scripts of a claimed job's life (claim,
 * outcome, extend, reap, unclaim) on jobs kept as values of NS:{Q}:jobs,
 * beside jobs kept as hashes, against a real redis-server per test.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "job_body.h"
#include "job_fields.h"
#include "rclient.h"
#include "scripts.h"

#define P		"t:{q}:"
#define K_JOBS		P "jobs"
#define K_DELAYED	P "delayed"
#define K_ACTIVE	P "active"
#define K_DEAD		P "dead"
#define K_WAKE		P "wake"
#define MAXARGS		48
#define CLAIM_HDR	5	/* now, next_due, skipped, reaped, reaped_buried */

static struct h_redis	 R;
static redisContext	*C;

/* The fields job_body_each reports, as "name=value;" text. */
struct seen {
	char	text[512];
};

static void
seen_field(const char *name, const char *value, size_t len, void *arg)
{
	struct seen	*s = arg;
	size_t		 n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s=%.*s;", name, (int)len,
	    value);
}

/* job_body_each of body (len bytes): its return value, fields in s. */
static int
each(const char *body, size_t len, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return (job_body_each(body, len, seen_field, s));
}

START_TEST(a_body_decodes_into_the_hash_fields)
{
	static const char	 body[] = "J1 3 n-1 send%25mail\n"
	    "resource=order:7\nlast_error=line one%0Aline two 100%25\n"
	    "\n{\"a\":\n\n1}";
	struct seen		 s;

	ck_assert_int_eq(each(body, sizeof(body) - 1, &s), 0);
	ck_assert_str_eq(s.text, "handler=send%mail;resource=order:7;"
	    "last_error=line one\nline two 100%;payload={\"a\":\n\n1};"
	    "lease=n-1;attempts=3;");
	/* No fields, no payload, no lease. */
	ck_assert_int_eq(each("J1 0 - noop\n\n", 13, &s), 0);
	ck_assert_str_eq(s.text, "handler=noop;attempts=0;");
	/* A payload of NUL bytes is passed whole. */
	ck_assert_int_eq(each("J1 0 - h\n\n\0\0", 12, &s), 0);
	ck_assert_str_eq(s.text, "handler=h;payload=;attempts=0;");
}
END_TEST

START_TEST(a_malformed_body_is_refused)
{
	static const char *const bad[] = {
		"", "J1", "J1 ", "J2 0 - h\n\n", "J1 x - h\n\n",
		"J1 0 - h\n",			/* no empty line */
		"J1 0 - h",			/* no head line end */
		"J1 0 -\n\n",			/* no handler field */
		"J1 0 - h\nno equals sign\n\n",
		"J1 0 - h\n=value\n\n",		/* no name */
		"J1 1234567890123456 - h\n\n",	/* 16 digits */
	};
	struct seen	s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(each(bad[i], strlen(bad[i]), &s) == -1,
		    "accepted \"%s\"", bad[i]);
	ck_assert(!job_body_is("J", 1));
	ck_assert(job_body_is("J1 garbage", 10));
}
END_TEST

/* A claim entry [run, id, token, body] as a reply. */
static redisReply *
packed_entry(const char *body)
{
	static const char *const fixed[] = { "run", "id", "tok" };
	redisReply	*e = calloc(1, sizeof(*e));

	e->type = REDIS_REPLY_ARRAY;
	e->elements = 4;
	e->element = calloc(4, sizeof(*e->element));
	for (size_t i = 0; i < 4; i++) {
		redisReply	*s = calloc(1, sizeof(*s));

		s->type = REDIS_REPLY_STRING;
		s->str = strdup(i < 3 ? fixed[i] : body);
		s->len = strlen(s->str);
		e->element[i] = s;
	}
	return (e);
}

START_TEST(a_packed_claim_entry_fills_the_job_fields)
{
	redisReply		*e = packed_entry("J1 2 tok mail\n"
	    "max_attempts=5\ntimeout_ms=3000\ndue_ms=100\nenqueued_ms=90\n"
	    "resource=r1\nsource=zset\nexpired_key=a%0Ab\n\nbody");
	struct job_fields	 f;

	job_fields_parse(&f, (const redisReply *const *)e->element + 3,
	    e->elements - 3);
	ck_assert_str_eq(f.handler, "mail");
	ck_assert_uint_eq(f.payload_len, 4);
	ck_assert_int_eq(memcmp(f.payload, "body", 4), 0);
	ck_assert_int_eq(f.attempt, 2);
	ck_assert_int_eq(f.max_attempts, 5);
	ck_assert_int_eq(f.timeout_ms, 3000);
	ck_assert_int_eq(f.due_ms, 100);
	ck_assert_int_eq(f.enqueued_ms, 90);
	ck_assert_str_eq(f.resource, "r1");
	ck_assert_str_eq(f.source, "zset");
	ck_assert_uint_eq(f.nenv, 1);
	ck_assert_str_eq(f.env[0].name, "DEFERD_EXPIRED_KEY");
	ck_assert_str_eq(f.env[0].value, "a\nb");
	job_fields_free(&f);
	freeReplyObject(e);

	/* A named "attempts" does not override the head's. */
	e = packed_entry("J1 4 tok h\nattempts=9\n\n");
	job_fields_parse(&f, (const redisReply *const *)e->element + 3,
	    e->elements - 3);
	ck_assert_int_eq(f.attempt, 4);
	ck_assert_ptr_null(f.payload);
	job_fields_free(&f);
	freeReplyObject(e);
}
END_TEST

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

static void
teardown(void)
{
	if (C != NULL)
		redisFree(C);
	C = NULL;
	h_redis_stop(&R);
}

/* Run script id (keys then arguments, NULL-terminated); it must succeed. */
static redisReply *
script(enum script_id id, int nkeys, ...)
{
	const char	*argv[MAXARGS], *s;
	int		 argc = 0;
	va_list		 ap;
	redisReply	*rep;

	va_start(ap, nkeys);
	while ((s = va_arg(ap, const char *)) != NULL) {
		ck_assert_int_lt(argc, MAXARGS);
		argv[argc++] = s;
	}
	va_end(ap);
	rep = rclient_script(C, id, nkeys, argc, argv, NULL);
	ck_assert_msg(rep != NULL, "%s: %s", scripts_get(id)->name, C->errstr);
	ck_assert_msg(rep->type != REDIS_REPLY_ERROR, "%s: %s",
	    scripts_get(id)->name, rep->str);
	if (id == SCRIPT_CLAIM)
		h_claim_expand(rep);
	return (rep);
}

/* Put packed job id with body into the queue, due at score. */
static void
put_packed(const char *id, const char *body, const char *score)
{
	freeReplyObject(h_cmd(C, "HSET %s %s %s", K_JOBS, id, body));
	freeReplyObject(h_cmd(C, "ZADD %s %s %s", K_DELAYED, score, id));
}

/* Claim up to limit due jobs, lease lease_ms, tokens nonce-1, nonce-2... */
static redisReply *
claim(const char *limit, const char *lease_ms, const char *nonce)
{
	redisReply	*rep = script(SCRIPT_CLAIM, 3, K_DELAYED, K_ACTIVE,
	    K_DEAD, P, limit, lease_ms, nonce, "0", "100", "0", "0", "0", "5",
	    "", limit, NULL);

	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_ge(rep->elements, CLAIM_HDR);
	return (rep);
}

/* Entry i of a claim reply. */
static const redisReply *
entry(const redisReply *rep, size_t i)
{
	ck_assert_uint_gt(rep->elements, CLAIM_HDR + i);
	return (rep->element[CLAIM_HDR + i]);
}

/* One outcome (kind, id, token, text, delay) through the outcome script. */
static long long
outcome(const char *kind, const char *id, const char *token, const char *text,
    const char *delay)
{
	redisReply	*rep = script(SCRIPT_OUTCOME, 3, K_ACTIVE, K_DELAYED,
	    K_DEAD, P, "60000", "0", "0", K_WAKE, "", "10", "60000", kind, id,
	    token, text, delay, "", "", "{}", NULL);
	long long	 r;

	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_int_eq(rep->element[0]->type, REDIS_REPLY_INTEGER);
	r = rep->element[0]->integer;
	freeReplyObject(rep);
	return (r);
}

/* The packed value of job id into buf ("" when absent). */
static const char *
body(const char *id, char *buf, size_t len)
{
	return (h_cmd_str(C, buf, len, "HGET %s %s", K_JOBS, id));
}

/* Assert that s starts with prefix. */
#define ck_assert_prefix(s, prefix)					\
	ck_assert_msg(strncmp((s), (prefix), strlen(prefix)) == 0,	\
	    "\"%s\" does not start with \"%s\"", (s), (prefix))
/* Assert that s holds part. */
#define ck_assert_holds(s, part)					\
	ck_assert_msg(strstr((s), (part)) != NULL,			\
	    "\"%s\" does not hold \"%s\"", (s), (part))

START_TEST(a_packed_job_is_claimed_and_completed_beside_a_hash_job)
{
	redisReply		*rep;
	const redisReply	*e;
	struct job_fields	 f;
	char			 b[256];

	put_packed("p", "J1 0 - noop\nenqueued_ms=5\n\nhello", "1");
	freeReplyObject(h_cmd(C, "HSET " P "job:h handler noop payload hi"));
	freeReplyObject(h_cmd(C, "ZADD " K_DELAYED " 2 h"));

	rep = claim("10", "60000", "n1");
	ck_assert_uint_eq(rep->elements, CLAIM_HDR + 2);
	e = entry(rep, 0);
	ck_assert_uint_eq(e->elements, 4);
	ck_assert_str_eq(e->element[0]->str, "run");
	ck_assert_str_eq(e->element[1]->str, "p");
	ck_assert_str_eq(e->element[2]->str, "n1-1");
	ck_assert_str_eq(e->element[3]->str,
	    "J1 1 n1-1 noop\nenqueued_ms=5\n\nhello");
	ck_assert_str_eq(body("p", b, sizeof(b)), e->element[3]->str);
	job_fields_parse(&f, (const redisReply *const *)e->element + 3,
	    e->elements - 3);
	ck_assert_str_eq(f.handler, "noop");
	ck_assert_int_eq(f.attempt, 1);
	ck_assert_int_eq(f.enqueued_ms, 5);
	job_fields_free(&f);
	e = entry(rep, 1);		/* the hash job, as before */
	ck_assert_str_eq(e->element[1]->str, "h");
	ck_assert_uint_gt(e->elements, 4);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 2);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 0);

	ck_assert_int_eq(outcome("complete", "p", "stale", "x", ""), 0);
	ck_assert_int_eq(outcome("complete", "p", "n1-1", "done", ""), 1);
	ck_assert_int_eq(outcome("complete", "h", "n1-2", "done", ""), 1);
	ck_assert_int_eq(h_cmd_int(C, "EXISTS " K_JOBS " " P "job:h"), 0);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 0);
	ck_assert_str_eq(h_cmd_str(C, b, sizeof(b), "GET " P "result:p"),
	    "done");
	/* Sent again (its reply lost): no claim holds it. */
	ck_assert_int_eq(outcome("complete", "p", "n1-1", "done", ""), 2);
}
END_TEST

START_TEST(a_packed_job_retries_and_dies_with_its_fields)
{
	redisReply	*rep;
	char		 b[512];

	put_packed("p", "J1 0 - noop\nmax_attempts=2\n\npl", "1");
	freeReplyObject(claim("1", "60000", "n1"));
	ck_assert_int_eq(outcome("retry", "p", "n1-1", "line one\nline 2 %",
	    "0"), 1);
	body("p", b, sizeof(b));
	ck_assert_prefix(b, "J1 1 - noop\nmax_attempts=2\ndue_ms=");
	ck_assert_holds(b, "\nlast_error=line one%0Aline 2 %25\n\npl");
	ck_assert_int_ge(h_cmd_int(C, "ZSCORE " K_DELAYED " p"), 1);

	rep = claim("1", "60000", "n2");
	ck_assert_uint_eq(rep->elements, CLAIM_HDR + 1);
	ck_assert_prefix(entry(rep, 0)->element[3]->str, "J1 2 n2-1 noop\n");
	freeReplyObject(rep);
	ck_assert_int_eq(outcome("bury", "p", "n2-1", "no hope", ""), 1);
	body("p", b, sizeof(b));
	ck_assert_prefix(b, "J1 2 - noop\n");
	ck_assert_holds(b, "\nlast_error=no hope\n");
	ck_assert_holds(b, "\ndied_ms=");
	ck_assert_int_ge(h_cmd_int(C, "ZSCORE " K_DEAD " p"), 1);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 0);
}
END_TEST

START_TEST(packed_garbage_is_buried_with_the_reason)
{
	static const struct {
		const char	*id, *body, *why;
	} cases[] = {
		{ "g1", "garbage", "job body is malformed" },
		{ "g2", "J1 0 - noop\n", "job body is malformed" },
		{ "g3", "J1 0 - \n\n", "job has no handler" },
		{ "g4", "J1 0 - h\nmax_attempts=x\n\n",
		    "field max_attempts is not a number: 'x'" },
		{ "g5", "J1 0 - h\ntimeout_ms=-1\n\n",
		    "field timeout_ms is not a number: '-1'" },
	};
	size_t		 n = sizeof(cases) / sizeof(cases[0]);
	redisReply	*rep;
	char		 b[128], score[8];

	for (size_t i = 0; i < n; i++) {
		snprintf(score, sizeof(score), "%zu", i + 1);
		put_packed(cases[i].id, cases[i].body, score);
	}
	rep = claim("10", "60000", "n1");
	ck_assert_uint_eq(rep->elements, CLAIM_HDR + n);
	for (size_t i = 0; i < n; i++) {
		const redisReply *e = entry(rep, i);

		ck_assert_str_eq(e->element[0]->str, "buried");
		ck_assert_str_eq(e->element[1]->str, cases[i].id);
		ck_assert_str_eq(e->element[2]->str, cases[i].why);
	}
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DEAD), (long long)n);
	/* A malformed body is left as it was; a readable one is marked. */
	ck_assert_str_eq(body("g1", b, sizeof(b)), "garbage");
	body("g3", b, sizeof(b));
	ck_assert_holds(b, "\nlast_error=job has no handler\n");
}
END_TEST

/* A payload that looks like a field is the payload's, not a field. */
START_TEST(a_payload_that_looks_like_a_field_is_not_read_as_one)
{
	redisReply	*rep;

	put_packed("a", "J1 0 - h\ndue_ms=1\n\nx\nmax_attempts=zz\n", "1");
	rep = claim("1", "60000", "n1");
	ck_assert_uint_eq(rep->elements, CLAIM_HDR + 1);
	ck_assert_str_eq(entry(rep, 0)->element[0]->str, "run");
	ck_assert_str_eq(entry(rep, 0)->element[3]->str,
	    "J1 1 n1-1 h\ndue_ms=1\n\nx\nmax_attempts=zz\n");
	freeReplyObject(rep);
}
END_TEST

/*
 * A key of another type where the packed jobs belong is garbage: the
 * queue's hash jobs still run, and enqueue refuses with the reason.
 */
START_TEST(a_garbage_jobs_key_stops_nothing_but_enqueue)
{
	static const char *const args[] = { P "job:n", K_DELAYED, "n", "h",
	    "pl", "in", "0", "", "", "", K_WAKE, "" };
	redisReply	*rep;
	const char	*tok;

	freeReplyObject(h_cmd(C, "SET " K_JOBS " garbage"));
	freeReplyObject(h_cmd(C, "HSET " P "job:h handler noop"));
	freeReplyObject(h_cmd(C, "ZADD " K_DELAYED " 1 h"));
	rep = claim("10", "60000", "n1");
	ck_assert_uint_eq(rep->elements, CLAIM_HDR + 1);
	tok = entry(rep, 0)->element[2]->str;
	ck_assert_str_eq(entry(rep, 0)->element[0]->str, "run");
	ck_assert_int_eq(outcome("complete", "h", tok, "ok", ""), 1);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "EXISTS " P "job:h"), 0);

	rep = rclient_script(C, SCRIPT_ENQUEUE, 2, 12, (const char **)args,
	    NULL);
	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ERROR);
	ck_assert_holds(rep->str, "t:{q}:jobs is a string, not a hash of "
	    "packed jobs");
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_DELAYED), 0);
}
END_TEST

START_TEST(packed_leases_extend_reap_and_unclaim)
{
	redisReply	*rep;
	char		 b[256];

	/* extend: only with the lease's token. */
	put_packed("a", "J1 0 - noop\n\n", "1");
	freeReplyObject(claim("1", "60000", "n1"));
	rep = script(SCRIPT_EXTEND, 1, K_ACTIVE, P, "90000", "a", "wrong", "a",
	    "n1-1", NULL);
	ck_assert_int_eq(rep->element[0]->integer, 0);
	ck_assert_int_eq(rep->element[1]->integer, 1);
	freeReplyObject(rep);

	/* reap: a lease at its deadline back to delayed, the last one dead. */
	put_packed("b", "J1 0 - noop\n\n", "2");
	put_packed("c", "J1 0 - noop\nmax_attempts=1\n\n", "3");
	freeReplyObject(claim("2", "0", "n2"));
	rep = script(SCRIPT_REAP, 3, K_ACTIVE, K_DELAYED, K_DEAD, P, "10",
	    K_WAKE, "0", "0", "5", "", NULL);
	ck_assert_int_eq(rep->element[0]->integer, 1);
	ck_assert_int_eq(rep->element[1]->integer, 1);
	freeReplyObject(rep);
	body("b", b, sizeof(b));
	ck_assert_prefix(b, "J1 1 - noop\n");
	ck_assert_holds(b, "\nlast_error=lease expired (worker lost)\n");
	ck_assert_int_ge(h_cmd_int(C, "ZSCORE " K_DELAYED " b"), 1);
	body("c", b, sizeof(b));
	ck_assert_holds(b, "\nlast_error=lease expired on the final attempt "
	    "(worker lost)\n");
	ck_assert_int_ge(h_cmd_int(C, "ZSCORE " K_DEAD " c"), 1);

	/* unclaim: a lost claim's job back, its attempt given back. */
	freeReplyObject(claim("1", "60000", "lost"));
	ck_assert_prefix(body("b", b, sizeof(b)), "J1 2 lost-1 noop\n");
	rep = script(SCRIPT_UNCLAIM, 2, K_ACTIVE, K_DELAYED, P, "0", "60000",
	    K_WAKE, "", "lost", NULL);
	ck_assert_int_eq(rep->integer, 1);
	freeReplyObject(rep);
	ck_assert_prefix(body("b", b, sizeof(b)), "J1 1 - noop\n");
	ck_assert_int_ge(h_cmd_int(C, "ZSCORE " K_DELAYED " b"), 1);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD " K_ACTIVE), 1);	/* a */
}
END_TEST

START_TEST(an_id_taken_by_a_packed_job_is_not_enqueued_again)
{
	redisReply	*rep;

	put_packed("a", "J1 0 - noop\ndue_ms=5\n\n", "5");
	rep = script(SCRIPT_ENQUEUE, 2, P "job:a", K_DELAYED, "a", "h", "pl",
	    "in", "0", "", "", "", K_WAKE, "", NULL);
	ck_assert_int_eq(rep->element[0]->integer, 0);
	ck_assert_int_eq(rep->element[1]->integer, 5);	/* its due_ms */
	freeReplyObject(rep);
	rep = script(SCRIPT_ENQUEUE_BATCH, 1, K_DELAYED, P, "h", "in", "0", "",
	    "", "", "", "", "0", "a", "x", "b", "y", NULL);
	freeReplyObject(rep);
	ck_assert_int_eq(h_cmd_int(C, "EXISTS " P "job:a " P "job:b"), 0);
	ck_assert_int_eq(h_cmd_int(C, "HLEN " K_JOBS), 2);	/* a and b */
	ck_assert_int_eq(h_cmd_int(C, "ZSCORE " K_DELAYED " a"), 5);
}
END_TEST

/* The world of the end-to-end tests: Redis, directories, one daemon. */
static struct h_world	W;

static void
world_setup(void)
{
	h_world_setup(&W, NULL);
}

static void
world_teardown(void)
{
	h_world_teardown(&W);
}

START_TEST(a_daemon_runs_packed_jobs_to_their_end)
{
	static const char	 body[] = "J1 0 - record\nexpired_key=k%0A1\n"
	    "\nhello\0bin";
	struct h_daemon		 d;
	char			 config[1024], path[512], buf[512], *got;

	h_write_file(W.hdir, "record",
	    "#!/bin/sh\n"
	    "cat > \"$OUT/stdin\"\n"
	    "printf '%s' \"$DEFERD_EXPIRED_KEY\" > \"$OUT/key\"\n"
	    "echo \"attempt $DEFERD_ATTEMPT\"\n", 0755);
	h_write_file(W.hdir, "fail", "#!/bin/sh\necho broken >&2\nexit 1\n",
	    0755);
	snprintf(config, sizeof(config),
	    "redis: {url: \"%s\"}\n"
	    "retry: {max_attempts: 5, backoff: 50ms, backoff_max: 100ms}\n"
	    "handlers: {dir: %s, environment: {OUT: \"%s\"}}\n",
	    W.r.url, W.hdir, W.out);
	freeReplyObject(h_cmd(W.c, "HSET deferd:{default}:jobs p1 %b", body,
	    sizeof(body) - 1));
	freeReplyObject(h_cmd(W.c, "HSET deferd:{default}:jobs p2 %s",
	    "J1 0 - fail\nmax_attempts=2\n\n"));
	freeReplyObject(h_cmd(W.c, "ZADD deferd:{default}:delayed 1 p1 2 p2"));
	h_daemon_start(&d, W.work, config);

	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c,
	    "ZSCORE deferd:{default}:dead p2") > 0, 15000));
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c,
	    "EXISTS deferd:{default}:result:p1") == 1, 15000));
	ck_assert_str_eq(h_cmd_str(W.c, buf, sizeof(buf),
	    "GET deferd:{default}:result:p1"), "attempt 1\n");
	ck_assert_int_eq(h_cmd_int(W.c, "HEXISTS deferd:{default}:jobs p1"), 0);
	snprintf(path, sizeof(path), "%s/stdin", W.out);
	got = h_read_file(path);
	ck_assert_ptr_nonnull(got);
	ck_assert_mem_eq(got, "hello\0bin", 9);
	free(got);
	snprintf(path, sizeof(path), "%s/key", W.out);
	got = h_read_file(path);
	ck_assert_str_eq(got, "k\n1");
	free(got);
	/* Two attempts, then dead with the handler's exit in last_error. */
	h_cmd_str(W.c, buf, sizeof(buf), "HGET deferd:{default}:jobs p2");
	ck_assert_prefix(buf, "J1 2 - fail\nmax_attempts=2\n");
	ck_assert_holds(buf, "\nlast_error=");
	ck_assert_holds(buf, "\ndied_ms=");
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	h_daemon_stop(&d);
}
END_TEST

/*
 * A packed job whose ID breaks the ID rules reaches the daemon (the claim
 * checks only a hash job's ID, which names a key) and is buried there,
 * unrun, with the reason; the good job beside it runs.
 */
START_TEST(a_packed_job_with_a_bad_id_is_buried_unrun)
{
	struct h_daemon	 d;
	char		 config[1024], buf[512];

	h_write_file(W.hdir, "record", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> "
	    "\"$OUT/ran\"\n", 0755);
	snprintf(config, sizeof(config),
	    "redis: {url: \"%s\"}\n"
	    "handlers: {dir: %s, environment: {OUT: \"%s\"}}\n",
	    W.r.url, W.hdir, W.out);
	freeReplyObject(h_cmd(W.c, "HSET deferd:{default}:jobs bad/id %s "
	    "good %s", "J1 0 - record\n\n", "J1 0 - record\n\n"));
	freeReplyObject(h_cmd(W.c, "ZADD deferd:{default}:delayed 1 bad/id "
	    "2 good"));
	h_daemon_start(&d, W.work, config);

	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c,
	    "ZSCORE deferd:{default}:dead bad/id") > 0, 15000));
	ck_assert(H_WAIT_UNTIL(h_cmd_int(W.c,
	    "EXISTS deferd:{default}:result:good") == 1, 15000));
	h_cmd_str(W.c, buf, sizeof(buf), "HGET deferd:{default}:jobs bad/id");
	ck_assert_holds(buf, "\nlast_error=job ID breaks the ID rules");
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	snprintf(buf, sizeof(buf), "%s/ran", W.out);
	ck_assert_int_eq(h_count_lines(buf), 1);
	ck_assert_int_eq(h_count_lines_equal(buf, "good"), 1);
	ck_assert(h_daemon_log_has(&d, "breaks the ID rules", 5000));
	h_daemon_stop(&d);
}
END_TEST

/* deferctl with config cfg and the arguments (NULL-terminated); stdout in out. */
static int
ctl(const char *cfg, char *out, size_t len, ...)
{
	const char	*argv[16];
	int		 n = 0;
	va_list		 ap;

	argv[n++] = h_bin("deferctl");
	argv[n++] = "-c";
	argv[n++] = cfg;
	va_start(ap, len);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	return (h_run(argv, NULL, out, len));
}

/*
 * The readers take packed jobs as they take hashes: deferctl show and
 * list, the dashboard's job and list endpoints, enqueue of an ID that
 * exists, cancel, retry (revive) and purge.
 */
START_TEST(readers_take_packed_jobs)
{
	struct h_daemon	 d;
	char		 config[1024], cfg[400], out[4096], *body = NULL;
	int		 port = h_free_port();

	snprintf(config, sizeof(config),
	    "redis: {url: \"%s\"}\nhandlers: {dir: %s}\n"
	    "dashboard: {listen: \"127.0.0.1:%d\"}\n", W.r.url, W.hdir, port);
	snprintf(cfg, sizeof(cfg), "%s/deferd.yaml", W.work);
	h_write_file(W.work, "deferd.yaml", config, 0644);
	freeReplyObject(h_cmd(W.c, "HSET deferd:{default}:jobs w %s",
	    "J1 0 - mail\nresource=r:1\ndue_ms=4102444800000\n\nhi there"));
	freeReplyObject(h_cmd(W.c, "ZADD deferd:{default}:delayed "
	    "4102444800000 w"));
	freeReplyObject(h_cmd(W.c, "HSET deferd:{default}:jobs x %s",
	    "J1 3 - fail\nlast_error=boom%0Aline 2\ndied_ms=1000\n\n"));
	freeReplyObject(h_cmd(W.c, "ZADD deferd:{default}:dead 1000 x"));

	ck_assert_int_eq(ctl(cfg, out, sizeof(out), "show", "w", NULL), 0);
	ck_assert_holds(out, "state        delayed\n");
	ck_assert_holds(out, "handler      mail\n");
	ck_assert_holds(out, "resource     r:1\n");
	ck_assert_holds(out, "payload      \"hi there\" (8 bytes)\n");
	ck_assert_int_eq(ctl(cfg, out, sizeof(out), "list", "dead", NULL), 0);
	ck_assert_holds(out, " fail 3 boom\\nline 2\n");
	ck_assert_int_eq(ctl(cfg, out, sizeof(out), "enqueue", "--id", "w",
	    "mail", "again", NULL), 0);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:{default}:job:w"), 0);

	h_daemon_start(&d, W.work, config);
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	ck_assert_int_eq(h_http(port, "GET", "/api/job?queue=default&id=w",
	    &body), 200);
	ck_assert_holds(body, "\"handler\":\"mail\"");
	ck_assert_holds(body, "\"payload\":\"hi there\"");
	free(body);
	ck_assert_int_eq(h_http(port, "GET",
	    "/api/jobs?queue=default&state=dead", &body), 200);
	ck_assert_holds(body, "\"handler\":\"fail\",\"attempts\":3,"
	    "\"last_error\":\"boom\\u000aline 2\"");
	free(body);
	h_daemon_stop(&d);

	ck_assert_int_eq(ctl(cfg, out, sizeof(out), "cancel", "w", NULL), 0);
	ck_assert_holds(out, "cancelled");
	ck_assert_int_eq(h_cmd_int(W.c, "HEXISTS deferd:{default}:jobs w"), 0);
	ck_assert_int_eq(ctl(cfg, out, sizeof(out), "retry", "x", NULL), 0);
	ck_assert_int_ge(h_cmd_int(W.c, "ZSCORE deferd:{default}:delayed x"), 1);
	h_cmd_str(W.c, out, sizeof(out), "HGET deferd:{default}:jobs x");
	ck_assert_prefix(out, "J1 0 - fail\nlast_error=boom%0Aline 2\ndue_ms=");
	freeReplyObject(h_cmd(W.c, "ZREM deferd:{default}:delayed x"));
	freeReplyObject(h_cmd(W.c, "ZADD deferd:{default}:dead 1 x"));
	ck_assert_int_eq(ctl(cfg, out, sizeof(out), "purge", "x", NULL), 0);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:{default}:jobs"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("packed");
	TCase	*tc = tcase_create("body");

	tcase_add_test(tc, a_body_decodes_into_the_hash_fields);
	tcase_add_test(tc, a_malformed_body_is_refused);
	tcase_add_test(tc, a_packed_claim_entry_fills_the_job_fields);
	suite_add_tcase(s, tc);
	tc = tcase_create("scripts");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_packed_job_is_claimed_and_completed_beside_a_hash_job);
	tcase_add_test(tc, a_packed_job_retries_and_dies_with_its_fields);
	tcase_add_test(tc, packed_garbage_is_buried_with_the_reason);
	tcase_add_test(tc, a_payload_that_looks_like_a_field_is_not_read_as_one);
	tcase_add_test(tc, a_garbage_jobs_key_stops_nothing_but_enqueue);
	tcase_add_test(tc, packed_leases_extend_reap_and_unclaim);
	tcase_add_test(tc, an_id_taken_by_a_packed_job_is_not_enqueued_again);
	suite_add_tcase(s, tc);
	tc = tcase_create("daemon");
	tcase_add_checked_fixture(tc, world_setup, world_teardown);
	tcase_set_timeout(tc, 60 * SLOW);
	tcase_add_test(tc, a_daemon_runs_packed_jobs_to_their_end);
	tcase_add_test(tc, a_packed_job_with_a_bad_id_is_buried_unrun);
	tcase_add_test(tc, readers_take_packed_jobs);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
