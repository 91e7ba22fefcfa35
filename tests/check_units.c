/* SPDX-License-Identifier: MIT */
/* Unit tests: durations, sizes, names, escaping, replies and job fields. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_fields.h"
#include "reply.h"
#include "units.h"
#include "util.h"
#include "harness.h"

START_TEST(durations)
{
	static const struct { const char *in; int64_t ms; } ok[] = {
		{ "0", 0 }, { "500ms", 500 }, { "30s", 30000 }, { "5m", 300000 },
		{ "1h", 3600000 }, { "30d", 2592000000LL }, { "0s", 0 },
	};
	static const char *bad[] = { "", "s", "1", "-1s", "1.5s", "1 s", "1sec", "ms", "10x" };
	int64_t	ms;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(units_parse_duration(ok[i].in, &ms) == 0, "%s", ok[i].in);
		ck_assert_int_eq(ms, ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(units_parse_duration(bad[i], &ms) == -1, "'%s' accepted", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
	}
	ck_assert_int_eq(units_parse_duration("99999999999999999999d", &ms), -1);
	ck_assert_int_eq(errno, ERANGE);
}
END_TEST

START_TEST(sizes)
{
	uint64_t	b;

	ck_assert_int_eq(units_parse_size("512KiB", &b), 0);
	ck_assert_uint_eq(b, 512 * 1024);
	ck_assert_int_eq(units_parse_size("1MiB", &b), 0);
	ck_assert_uint_eq(b, 1048576);
	ck_assert_int_eq(units_parse_size("2GB", &b), 0);
	ck_assert_uint_eq(b, 2000000000ULL);
	ck_assert_int_eq(units_parse_size("100", &b), 0);
	ck_assert_uint_eq(b, 100);
	ck_assert_int_eq(units_parse_size("1mib", &b), -1);
	ck_assert_int_eq(units_parse_size("MiB", &b), -1);
}
END_TEST

START_TEST(rates)
{
	int64_t	n, period;

	ck_assert_int_eq(units_parse_rate("100/s", &n, &period), 0);
	ck_assert_int_eq(n, 100);
	ck_assert_int_eq(period, 1000);
	ck_assert_int_eq(units_parse_rate("30/m", &n, &period), 0);
	ck_assert_int_eq(period, 60000);
	ck_assert_int_eq(units_parse_rate("500/h", &n, &period), 0);
	ck_assert_int_eq(period, 3600000);
	ck_assert_int_eq(units_parse_rate("2/d", &n, &period), 0);
	ck_assert_int_eq(period, 86400000);
	ck_assert_int_eq(units_parse_rate("0/s", &n, &period), -1);
	ck_assert_int_eq(units_parse_rate("5/w", &n, &period), -1);
	ck_assert_int_eq(units_parse_rate("5s", &n, &period), -1);
	ck_assert_int_eq(units_parse_rate("/s", &n, &period), -1);
	ck_assert_int_eq(units_parse_rate("1k/s", &n, &period), -1);
	ck_assert_int_eq(units_parse_rate("1000000001/s", &n, &period), -1);
}
END_TEST

START_TEST(format_duration)
{
	char	buf[32];

	units_format_duration(90000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "90s");
	units_format_duration(1500, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1500ms");
	units_format_duration(7200000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2h");
	units_format_duration(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0ms");
}
END_TEST

START_TEST(names)
{
	char	long_id[202];

	ck_assert(util_valid_job_id("order-timeout:42", 16));
	ck_assert(util_valid_job_id("a@b.c_d", 7));
	ck_assert(!util_valid_job_id("", 0));
	ck_assert(!util_valid_job_id("a b", 3));
	ck_assert(!util_valid_job_id("a{b}", 4));
	ck_assert(!util_valid_job_id("a\0b", 3));
	memset(long_id, 'x', sizeof(long_id));
	ck_assert(util_valid_job_id(long_id, 200));
	ck_assert(!util_valid_job_id(long_id, 201));

	ck_assert(util_valid_handler_name("cancel-order", 12));
	ck_assert(util_valid_handler_name("a.b_c-d", 7));
	ck_assert(!util_valid_handler_name("../x", 4));
	ck_assert(!util_valid_handler_name("a/b", 3));
	ck_assert(!util_valid_handler_name(".hidden", 7));
	ck_assert(!util_valid_handler_name("-x", 2));
	ck_assert(!util_valid_handler_name("", 0));
	ck_assert(!util_valid_handler_name("x\n", 2));
	ck_assert(!util_valid_handler_name("x\0y", 3));
}
END_TEST

START_TEST(escape)
{
	char	out[64];

	ck_assert_str_eq(util_escape("a\nb\"\\\x01\xff", 7, out, sizeof(out)),
	    "a\\nb\\\"\\\\\\x01\\xff");
	util_escape("0123456789abcdef", 16, out, 10);
	ck_assert_int_le(strlen(out), 9);
	ck_assert(strstr(out, "...") != NULL);
}
END_TEST

/* util_int_text writes what snprintf's PRId64 format does, to the extremes. */
START_TEST(int_text)
{
	static const int64_t	 fixed[] = { 0, 1, -1, 9, 10, -10, 99, 100,
	    1796681402556, INT64_MAX, INT64_MIN, INT64_MIN + 1 };
	char			 got[UTIL_INT_TEXT], want[UTIL_INT_TEXT];
	uint64_t		 x = 88172645463325252ULL;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		snprintf(want, sizeof(want), "%" PRId64, fixed[i]);
		ck_assert_uint_eq(util_int_text(got, fixed[i]), strlen(want));
		ck_assert_str_eq(got, want);
	}
	for (int i = 0; i < 100000; i++) {	/* xorshift64 over all magnitudes */
		int64_t	v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = (int64_t)(x >> (x % 64));
		snprintf(want, sizeof(want), "%" PRId64, v);
		ck_assert_uint_eq(util_int_text(got, v), strlen(want));
		ck_assert_str_eq(got, want);
	}
}
END_TEST

/* A capped reader takes ordinary arrays but refuses a gigantic header. */
START_TEST(reply_reader_cap)
{
	redisReader	*rd = redisReaderCreate();
	void		*v = NULL;
	char		 big[32];

	ck_assert_ptr_nonnull(rd);
	reply_cap_reader(rd);
	ck_assert_int_eq(redisReaderFeed(rd, "*2\r\n:7\r\n$2\r\nok\r\n", 16),
	    REDIS_OK);
	ck_assert_int_eq(redisReaderGetReply(rd, &v), REDIS_OK);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(((redisReply *)v)->elements, 2);
	ck_assert_int_eq(reply_int(((redisReply *)v)->element[0], 0), 7);
	ck_assert_int_eq(reply_int(((redisReply *)v)->element[1], -1), 0);
	freeReplyObject(v);
	v = NULL;
	snprintf(big, sizeof(big), "*%d\r\n", REPLY_MAX_ELEMENTS + 1);
	ck_assert_int_eq(redisReaderFeed(rd, big, strlen(big)), REDIS_OK);
	ck_assert_int_eq(redisReaderGetReply(rd, &v), REDIS_ERR);
	ck_assert_ptr_null(v);
	redisReaderFree(rd);
}
END_TEST

/*
 * A claim entry [1, "id", "tok", field, value, ...] read from RESP, as the
 * claim script's reply delivers it; n strings, with lens (NULL: strlen).
 * Caller frees with freeReplyObject.
 */
static redisReply *
claim_entry(int n, const char *const *strs, const size_t *lens)
{
	redisReader	*rd = redisReaderCreate();
	char		 buf[4096];
	size_t		 used;
	void		*v = NULL;

	used = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n:1\r\n", n + 1);
	for (int i = 0; i < n; i++) {
		size_t len = lens != NULL ? lens[i] : strlen(strs[i]);

		used += (size_t)snprintf(buf + used, sizeof(buf) - used,
		    "$%zu\r\n", len);
		memcpy(buf + used, strs[i], len);
		used += len;
		memcpy(buf + used, "\r\n", 2);
		used += 2;
	}
	ck_assert_int_eq(redisReaderFeed(rd, buf, used), REDIS_OK);
	ck_assert_int_eq(redisReaderGetReply(rd, &v), REDIS_OK);
	ck_assert_ptr_nonnull(v);
	redisReaderFree(rd);
	return (v);
}

/* Every field of a well-formed entry lands where job.c expects it. */
START_TEST(job_fields_decode)
{
	static const char *const strs[] = { "id", "tok", "handler", "h",
	    "payload", "a\0b", "attempts", "2", "max_attempts", "5",
	    "timeout_ms", "1500", "due_ms", "1234", "resource", "r:1",
	    "source", "expired", "expired_key", "k" };
	static const size_t lens[] = { 2, 3, 7, 1, 7, 3, 8, 1, 12, 1, 10, 4,
	    6, 4, 8, 3, 6, 7, 11, 1 };
	redisReply		*e = claim_entry(20, strs, lens);
	struct job_fields	 f;

	job_fields_parse(&f, (const redisReply *const *)e->element + 3,
	    e->elements - 3);
	ck_assert_str_eq(f.handler, "h");
	ck_assert_uint_eq(f.payload_len, 3);
	ck_assert_int_eq(memcmp(f.payload, "a\0b", 3), 0);
	ck_assert_int_eq(f.attempt, 2);
	ck_assert_int_eq(f.max_attempts, 5);
	ck_assert_int_eq(f.timeout_ms, 1500);
	ck_assert_int_eq(f.due_ms, 1234);
	ck_assert_str_eq(f.resource, "r:1");
	ck_assert_str_eq(f.source, "expired");
	ck_assert_uint_eq(f.nenv, 1);
	ck_assert_str_eq(f.env[0].name, "DEFERD_EXPIRED_KEY");
	ck_assert_str_eq(f.env[0].value, "k");
	job_fields_free(&f);
	freeReplyObject(e);
}
END_TEST

/* Garbage from Redis becomes "unset", never a wrong number or a crash. */
START_TEST(job_fields_refuse_garbage)
{
	static const char *const strs[] = { "id", "tok", "attempts", "x",
	    "max_attempts", "99999999999", "timeout_ms", "-5", "due_ms",
	    "12abc", "resource", "", "source", "", "odd-field" };
	redisReply		*e = claim_entry(15, strs, NULL);
	struct job_fields	 f;

	job_fields_parse(&f, (const redisReply *const *)e->element + 3,
	    e->elements - 3);
	ck_assert_str_eq(f.handler, "");
	ck_assert_ptr_null(f.payload);
	ck_assert_int_eq(f.attempt, 1);
	ck_assert_int_eq(f.max_attempts, 0);
	ck_assert_int_eq(f.timeout_ms, -1);
	ck_assert_int_eq(f.due_ms, 0);
	ck_assert_ptr_null(f.resource);
	ck_assert_ptr_null(f.source);
	ck_assert_uint_eq(f.nenv, 0);
	job_fields_free(&f);
	freeReplyObject(e);
}
END_TEST

START_TEST(random_ids)
{
	char	a[64], b[64];

	util_new_job_id(a, sizeof(a));
	util_new_job_id(b, sizeof(b));
	ck_assert_str_ne(a, b);
	ck_assert(util_valid_job_id(a, strlen(a)));
	for (int i = 0; i < 1000; i++) {
		int64_t r = util_random_below(7);
		ck_assert(r >= 0 && r < 7);
	}
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("units");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, durations);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, rates);
	tcase_add_test(tc, format_duration);
	tcase_add_test(tc, names);
	tcase_add_test(tc, escape);
	tcase_add_test(tc, int_text);
	tcase_add_test(tc, random_ids);
	tcase_add_test(tc, reply_reader_cap);
	tcase_add_test(tc, job_fields_decode);
	tcase_add_test(tc, job_fields_refuse_garbage);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
