/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the typed store (store.h) against a private redis-server:
 * the calls it builds run the lock and source scripts with their keys and
 * arguments in the right places (a call that outgrows its inline room
 * and binary arguments included), and its parsers read what the scripts
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

/* Run a built call and free it; the reply (never NULL). */
static redisReply *
run(struct store_call *c)
{
	redisReply	*r = rclient_script(C, c->script, c->nkeys, c->argc,
			    c->argv, c->lens);

	store_call_free(c);
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

/*
 * The sources' calls: a due zset member, list items, a recovered owner, a
 * stopped source's items returned, a touch.
 */
START_TEST(source_calls_and_replies)
{
	struct store_call		c;
	struct store_zsetmoved		m;
	struct store_listtaken		t;
	struct store_listrecovered	rec;
	struct store_touched		th;
	redisReply			*r;
	char				err[256];
	int64_t				now = h_redis_now_ms(C), n;

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

	freeReplyObject(h_cmd(C, "RPUSH ret:proc p1 p2"));
	store_listreturn(&c, "ret:proc", "mainl");
	r = run(&c);
	ck_assert_int_eq(store_count_reply(r, &n, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert_int_eq(n, 2);
	r = h_cmd(C, "LRANGE mainl 0 1");
	ck_assert_int_eq(r->elements, 2);
	ck_assert_str_eq(r->element[0]->str, "p1");	/* in order, at the head */
	ck_assert_str_eq(r->element[1]->str, "p2");
	freeReplyObject(r);

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

/* Put job id of handler h with payload into n:{q}, due now. */
static void
put_job(const char *id, const char *payload)
{
	freeReplyObject(h_cmd(C, "HSET n:{q}:job:%s handler h payload %s "
	    "attempts 0 max_attempts 5", id, payload));
	freeReplyObject(h_cmd(C, "ZADD n:{q}:delayed 0 %s", id));
}

/*
 * A queue's leases: a claim naming more saturated handlers than the inline
 * room (it grows), a job buried for its payload, extend by token, outcomes
 * with a binary result, reap and unclaim.
 */
START_TEST(queue_calls_and_replies)
{
	struct store_claim_args		a;
	struct store_outcome_args	oa;
	struct store_outcome		o;
	struct store_reap_args		ra;
	struct store_call		c;
	struct store_claimed		cl;
	struct store_entry		e;
	struct store_run		sr;
	struct store_extended		x;
	struct store_outcomes		out;
	struct store_reaped		rp;
	struct store_claim_cap		 caps[20];
	const char			*nonces[1] = { "lostnonce" };
	char				 names[20][8], tok[2][64], id[2][8];
	char				 err[256];
	redisReply			*r, *res;
	int				 nrun = 0, nburied = 0;
	int64_t				 given;

	put_job("j1", "small");
	put_job("j2", "tiny");
	put_job("big", "this-payload-is-too-long");
	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "s%d", i);
		caps[i].handler = names[i];
		caps[i].cap = 0;
		caps[i].pool = i % 2 == 0;
	}
	memset(&a, 0, sizeof(a));
	a.k_delayed = "n:{q}:delayed";
	a.k_active = "n:{q}:active";
	a.k_dead = "n:{q}:dead";
	a.prefix = "n:{q}:";
	a.limit = 10;
	a.lease_ms = 30000;
	a.nonce = "abc";
	a.max_payload = 10;
	a.scan = 74;
	a.reap_limit = 10;
	a.max_attempts = 5;
	a.events = "";
	a.shared_limit = 10;
	a.caps = caps;
	a.ncaps = 20;
	store_claim(&c, &a);
	ck_assert_int_eq(c.argc, 3 + 14 + 3 * 20);	/* no probe: "", "" */
	r = run(&c);
	ck_assert_int_eq(store_claim_reply(r, &cl, err, sizeof(err)), 0);
	ck_assert_int_eq(cl.next_due_ms, -1);
	for (size_t i = 0; i < cl.nentries; i++) {
		store_entry_parse(cl.entries[i], &e);
		for (size_t k = 0; k < e.nruns; k++) {
			ck_assert_int_eq(store_entry_run(&e, k, &sr), 0);
			ck_assert_int_lt(nrun, 2);
			snprintf(id[nrun], sizeof(id[0]), "%s", sr.id->str);
			snprintf(tok[nrun++], sizeof(tok[0]), "%s",
			    sr.token->str);
		}
		if (e.kind == STORE_ENTRY_BURIED) {
			nburied++;
			ck_assert_int_eq(e.id_len, 3);
			ck_assert(memcmp(e.id, "big", 3) == 0);
			ck_assert_msg(strstr(e.reason, "max_payload") != NULL,
			    "%s", e.reason);
		}
	}
	freeReplyObject(r);
	ck_assert_int_eq(nrun, 2);
	ck_assert_int_eq(nburied, 1);

	store_extend_begin(&c, "n:{q}:active", "n:{q}:", 60000);
	store_extend_add(&c, id[0], tok[0]);
	store_extend_add(&c, id[1], "not-the-token");
	r = run(&c);
	ck_assert_int_eq(store_extend_reply(r, &x, err, sizeof(err)), 0);
	ck_assert_int_eq(store_lease_answer(x.answers, x.n, 0), STORE_LEASE_OK);
	ck_assert_int_eq(store_lease_answer(x.answers, x.n, 1),
	    STORE_LEASE_OTHER);
	ck_assert_int_eq(store_lease_answer(x.answers, x.n, 2),
	    STORE_LEASE_UNKNOWN);
	freeReplyObject(r);

	memset(&oa, 0, sizeof(oa));
	oa.k_active = "n:{q}:active";
	oa.k_delayed = "n:{q}:delayed";
	oa.k_dead = "n:{q}:dead";
	oa.prefix = "n:{q}:";
	oa.result_ttl_ms = 60000;
	oa.wake = "";
	oa.events = "";
	oa.history_max = 10;
	store_outcome_begin(&c, &oa);
	memset(&o, 0, sizeof(o));
	o.kind = STORE_COMPLETE;
	o.id = id[0];
	o.token = tok[0];
	o.text = "a\0b";
	o.text_len = 3;
	o.duration_ms = 12;
	o.record = "{\"status\":\"done\"}";
	store_outcome_add(&c, &o);
	o.kind = STORE_RETRY;
	o.record = NULL;
	o.id = id[1];
	o.token = tok[1];
	o.text = "try later";
	o.text_len = 9;
	o.delay_ms = 60000;
	o.refund = true;
	o.duration_ms = -1;
	store_outcome_add(&c, &o);
	ck_assert_ptr_nonnull(c.lens);
	r = run(&c);
	ck_assert_int_eq(store_outcome_reply(r, 2, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(store_lease_answer(out.answers, out.n, 0),
	    STORE_LEASE_OK);
	ck_assert_int_eq(store_lease_answer(out.answers, out.n, 1),
	    STORE_LEASE_OK);
	freeReplyObject(r);
	res = h_cmd(C, "GET n:{q}:result:%s", id[0]);
	ck_assert_int_eq(res->type, REDIS_REPLY_STRING);
	ck_assert_int_eq(res->len, 3);
	ck_assert(memcmp(res->str, "a\0b", 3) == 0);
	freeReplyObject(res);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD n:{q}:active"), 0);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD n:{q}:delayed"), 1);
	ck_assert_int_eq(h_cmd_int(C, "HEXISTS n:{q}:history %s", id[0]), 1);
	ck_assert_int_eq(h_cmd_int(C, "HLEN n:{q}:history"), 1);

	memset(&ra, 0, sizeof(ra));
	ra.k_active = "n:{q}:active";
	ra.k_delayed = "n:{q}:delayed";
	ra.k_dead = "n:{q}:dead";
	ra.prefix = "n:{q}:";
	ra.limit = 10;
	ra.wake = "";
	ra.max_attempts = 5;
	ra.events = "";
	store_reap(&c, &ra);
	r = run(&c);
	ck_assert_int_eq(store_reap_reply(r, &rp, err, sizeof(err)), 0);
	ck_assert_int_eq(rp.requeued + rp.buried, 0);
	freeReplyObject(r);

	store_unclaim(&c, "n:{q}:active", "n:{q}:delayed", "n:{q}:", 0, 30000,
	    "", "", nonces, 1);
	r = run(&c);
	ck_assert_int_eq(store_unclaim_reply(r, &given, err, sizeof(err)), 0);
	ck_assert_int_eq(given, 0);
	freeReplyObject(r);
	ck_assert_int_eq(h_cmd_int(C, "EXISTS n:{q}:unclaimed:lostnonce"), 1);
}
END_TEST

/*
 * What deferctl does to jobs: enqueue one (binary payload, a timeout),
 * enqueue a batch of 300 (the call grows), cancel, purge one that is not
 * dead, revive and purge dead ones.
 */
START_TEST(job_calls_and_replies)
{
	struct store_enqueue_args	a;
	struct store_job_keys		k;
	struct store_enqueued		e;
	struct store_call		c;
	redisReply			*r, *res;
	const char			*state;
	char				 ids[300][16], err[256];
	int64_t				 n;

	memset(&a, 0, sizeof(a));
	a.k_delayed = "n:{q}:delayed";
	a.k_job = "n:{q}:job:one";
	a.id = "one";
	a.prefix = "n:{q}:";
	a.handler = "h";
	a.payload = "p\0q";
	a.payload_len = 3;
	a.ms = 60000;
	a.max_attempts = 7;
	a.resource = "";
	a.source = "";
	a.wake = "";
	a.events = "";
	a.timeout_ms = 5000;
	store_enqueue(&c, &a);
	r = run(&c);
	ck_assert_int_eq(store_enqueue_reply(r, &e, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert_int_eq(e.created, 1);
	ck_assert(e.due_ms > 0);
	res = h_cmd(C, "HGET n:{q}:jobs one");	/* packed: payload last */
	ck_assert_int_ge(res->len, 5);
	ck_assert(memcmp(res->str + res->len - 5, "\n\np\0q", 5) == 0);
	freeReplyObject(res);
	ck_assert_int_eq(h_job_int(C, "n:{q}:job:one timeout_ms"), 5000);
	ck_assert_int_eq(h_job_int(C, "n:{q}:job:one max_attempts"), 7);

	store_enqueue_batch(&c, &a);
	for (int i = 0; i < 300; i++) {
		snprintf(ids[i], sizeof(ids[i]), "b%d", i);
		store_enqueue_batch_add(&c, ids[i], "x", 1);
	}
	r = run(&c);
	ck_assert_int_eq(store_enqueue_reply(r, &e, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert_int_eq(e.created, 300);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD n:{q}:delayed"), 301);

	memset(&k, 0, sizeof(k));
	k.k_delayed = "n:{q}:delayed";
	k.k_active = "n:{q}:active";
	k.k_dead = "n:{q}:dead";
	k.k_job = "n:{q}:job:one";
	k.k_result = "n:{q}:result:one";
	k.prefix = "n:{q}:";
	k.wake = "";
	k.events = "";
	store_cancel(&c, &k, "one");
	r = run(&c);
	ck_assert_int_eq(store_cancel_reply(r, &state, err, sizeof(err)), 0);
	ck_assert_str_eq(state, "cancelled");
	freeReplyObject(r);
	ck_assert_int_eq(h_job_exists(C, "n:{q}:job:one"), 0);

	store_purge(&c, &k, "b0");		/* not dead: nothing deleted */
	r = run(&c);
	ck_assert_int_eq(store_count_reply(r, &n, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(h_job_exists(C, "n:{q}:job:b0"), 1);

	freeReplyObject(h_cmd(C, "ZREM n:{q}:delayed b0 b1"));
	freeReplyObject(h_cmd(C, "ZADD n:{q}:dead 1 b0 2 b1"));
	k.k_job = "n:{q}:job:b0";
	store_revive(&c, &k, "b0");
	r = run(&c);
	ck_assert_int_eq(store_count_reply(r, &n, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD n:{q}:dead"), 1);
	store_purge(&c, &k, NULL);
	r = run(&c);
	ck_assert_int_eq(store_count_reply(r, &n, err, sizeof(err)), 0);
	freeReplyObject(r);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(h_job_exists(C, "n:{q}:job:b1"), 0);
	ck_assert_int_eq(h_cmd_int(C, "ZCARD n:{q}:dead"), 0);
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
	tcase_add_test(tc, queue_calls_and_replies);
	tcase_add_test(tc, job_calls_and_replies);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
