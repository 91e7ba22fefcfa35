/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the typed store (store.h) against a private redis-server:
 * the calls it builds run the lock scripts with their keys and arguments
 * in the right places, and its parsers read what the scripts answer, an
 * error reply included.
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

int
main(void)
{
	Suite	*s = suite_create("store");
	TCase	*tc = tcase_create("locks");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lock_calls_and_replies);
	tcase_add_test(tc, error_replies_are_errors);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
