/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the typed store (store.h) against a private redis-server:
 * the calls it builds run the lock and source scripts with their keys and
 * arguments in the right places, and its parsers read what the scripts
 * answer, an error reply included.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "rclient.h"
#include "store.h"

static struct h_redis	 R;
static redisContext	*C;

static void
setup(void)
{
	h_redis_start(&R, NULL);
	C = h_redis_connect(&R);
}

static void
teardown(void)
{
	if (C != NULL)
		redisFree(C);
	C = NULL;
	h_redis_stop(&R);
}

/* Run a built call; the reply (never NULL). */
static redisReply *
run(struct store_call *c)
{
	redisReply	*r = rclient_script(C, c->script, c->nkeys, c->argc,
			    c->argv, NULL);

	ck_assert_msg(r != NULL, "%s", C->errstr);
	return (r);
}

/* acquire, busy, extend and release by token, as the scripts answer them. */
START_TEST(lock_calls_and_replies)
{
	struct store_call		c;
	struct store_lock_acquired	a;
	redisReply			*r;
	char				err[256];
	bool				ok;

	store_lock_acquire(&c, "n:lock:r", "n:fence:r", "tok-a", 5000);
	ck_assert_int_eq(c.nkeys, 2);
	r = run(&c);
	ck_assert_int_eq(store_lock_acquire_reply(r, &a, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert(a.held);
	ck_assert_int_eq(a.fence, 1);
	ck_assert_int_gt(h_cmd_int(C, "PTTL n:lock:r"), 4000);

	store_lock_acquire(&c, "n:lock:r", "n:fence:r", "tok-b", 5000);
	r = run(&c);
	ck_assert_int_eq(store_lock_acquire_reply(r, &a, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert(!a.held);
	ck_assert(a.pttl > 0 && a.pttl <= 5000);

	store_lock_extend(&c, "n:lock:r", "tok-b", 9000);
	r = run(&c);
	ck_assert_int_eq(store_lock_token_reply(r, &ok, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert(!ok);
	store_lock_extend(&c, "n:lock:r", "tok-a", 9000);
	r = run(&c);
	ck_assert_int_eq(store_lock_token_reply(r, &ok, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert(ok);
	ck_assert_int_gt(h_cmd_int(C, "PTTL n:lock:r"), 8000);

	store_lock_release(&c, "n:lock:r", "tok-a");
	r = run(&c);
	ck_assert_int_eq(store_lock_token_reply(r, &ok, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert(ok);
	ck_assert_int_eq(h_cmd_int(C, "EXISTS n:lock:r"), 0);
	ck_assert_int_eq(h_cmd_int(C, "GET n:fence:r"), 1);
}
END_TEST

/* A script error is a parse error that quotes Redis. */
START_TEST(error_replies_are_errors)
{
	struct store_call		c;
	struct store_lock_acquired	a;
	redisReply			*r;
	char				err[256];
	bool				ok;

	store_lock_acquire(&c, "n:lock:r", "n:fence:r", "tok", 0);
	r = run(&c);
	ck_assert_int_eq(store_lock_acquire_reply(r, &a, err, sizeof(err)), -1);
	freeReplyObject(r);
	ck_assert_msg(strstr(err, "lease must be positive") != NULL, "%s", err);
	store_lock_extend(&c, "n:lock:r", "tok", 0);
	r = run(&c);
	ck_assert_int_eq(store_lock_token_reply(r, &ok, err, sizeof(err)), -1);
	freeReplyObject(r);
	ck_assert_msg(strstr(err, "lease must be positive") != NULL, "%s", err);
}
END_TEST

/* The sources' calls: a due zset member, list items, a recovered owner, a touch. */
START_TEST(source_calls_and_replies)
{
	struct store_call		c;
	struct store_zsetmoved		m;
	struct store_listtaken		t;
	struct store_listrecovered	rec;
	struct store_touched		th;
	redisReply			*r;
	char				err[256];
	int64_t				now = h_redis_now_ms(C);

	freeReplyObject(h_cmd(C, "ZADD plainq %lld due-member %lld later",
	    (long long)(now / 1000 - 1), (long long)(now / 1000 + 3600)));
	store_zsetmove(&c, "plainq", "n:{q}:delayed", "n:{q}:", "h", 1000, 10,
	    "", "");
	r = run(&c);
	ck_assert_int_eq(store_zsetmove_reply(r, &m, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert_int_eq(m.moved, 1);
	ck_assert(m.now_ms >= now);
	ck_assert_int_eq(m.next_due_ms, (now / 1000 + 3600) * 1000);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD n:{q}:delayed"), 1);

	freeReplyObject(h_cmd(C, "RPUSH mainl a b c"));
	freeReplyObject(h_cmd(C, "RPUSH n:proc:mainl:me x"));
	store_listtake(&c, "n:proc:mainl:me", "mainl", "n:{q}:delayed", "n:{q}:",
	    "h", "abc", 2, "", "");
	r = run(&c);
	ck_assert_int_eq(store_listtake_reply(r, &t, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert_int_eq(t.created, 3);		/* x, then a and b */
	ck_assert_int_eq(h_cmd_int(C, "LLEN mainl"), 1);

	freeReplyObject(h_cmd(C, "SADD reg gone me"));
	freeReplyObject(h_cmd(C, "RPUSH proc:gone y z"));
	store_listrecover(&c, "reg", "mainl", "proc:", "alive:", "me");
	r = run(&c);
	ck_assert_int_eq(store_listrecover_reply(r, &rec, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert_int_eq(rec.moved, 2);
	ck_assert_int_eq(rec.owners, 1);
	ck_assert_int_eq(h_cmd_int(C, "LLEN mainl"), 3);

	freeReplyObject(h_cmd(C, "ZADD watch %lld 0:gone-key", (long long)now));
	store_touch(&c, "watch", "0", 100);
	r = run(&c);
	ck_assert_int_eq(store_touch_reply(r, &th, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert_int_eq(th.touched + th.removed >= 1, 1);
	ck_assert_int_eq(th.first_ms, -1);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD watch"), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("store");
	TCase	*tc = tcase_create("locks");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lock_calls_and_replies);
	tcase_add_test(tc, error_replies_are_errors);
	tcase_add_test(tc, source_calls_and_replies);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
