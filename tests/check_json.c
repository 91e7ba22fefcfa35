/* SPDX-License-Identifier: MIT */
/* Unit tests: JSON string escaping and UTF-8 repair (daemon/json.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "harness.h"

/* Escape len bytes of s with json_escape into a static buffer. */
static const char *
esc(const char *s, size_t len)
{
	static char	buf[512];
	size_t		n = json_escape(buf, sizeof(buf), s, len);

	ck_assert_uint_lt(n, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), n);
	return (buf);
}

#define ESC(lit)	esc((lit), sizeof(lit) - 1)
#define FFFD		"\xef\xbf\xbd"

START_TEST(plain_and_specials)
{
	ck_assert_str_eq(ESC(""), "");
	ck_assert_str_eq(ESC("hello world"), "hello world");
	ck_assert_str_eq(ESC("a\"b\\c/d"), "a\\\"b\\\\c/d");
	ck_assert_str_eq(ESC("\n\r\t\b\f"), "\\u000a\\u000d\\u0009\\u0008\\u000c");
	ck_assert_str_eq(ESC("x\x01\x1f\x7fy"), "x\\u0001\\u001f\\u007fy");
}
END_TEST

START_TEST(nul_bytes)
{
	ck_assert_str_eq(esc("a\0b\0", 4), "a\\u0000b\\u0000");
}
END_TEST

START_TEST(valid_utf8_kept)
{
	/* é, €, U+10FFFF, 😀, U+FFFD itself */
	ck_assert_str_eq(ESC("\xc3\xa9"), "\xc3\xa9");
	ck_assert_str_eq(ESC("\xe2\x82\xac"), "\xe2\x82\xac");
	ck_assert_str_eq(ESC("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");
	ck_assert_str_eq(ESC("\xf0\x9f\x98\x80!"), "\xf0\x9f\x98\x80!");
	ck_assert_str_eq(ESC(FFFD), FFFD);
	ck_assert(json_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	ck_assert(json_valid_utf8("", 0));
}
END_TEST

START_TEST(invalid_utf8_replaced)
{
	/* Lone continuation, invalid leads, overlongs, surrogates, > U+10FFFF. */
	ck_assert_str_eq(ESC("a\x80z"), "a" FFFD "z");
	ck_assert_str_eq(ESC("\xc0\xaf"), FFFD FFFD);
	ck_assert_str_eq(ESC("\xe0\x80\xaf"), FFFD FFFD FFFD);
	ck_assert_str_eq(ESC("\xed\xa0\x80"), FFFD FFFD FFFD);
	ck_assert_str_eq(ESC("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD);
	ck_assert_str_eq(ESC("\xf5\xff\xfe"), FFFD FFFD FFFD);
	/* Truncated sequences are one maximal subpart each. */
	ck_assert_str_eq(ESC("\xe2\x82"), FFFD);
	ck_assert_str_eq(ESC("\xe2\x82x"), FFFD "x");
	ck_assert_str_eq(ESC("\xf0\x9f\x98"), FFFD);
	ck_assert_str_eq(ESC("\xf0\x9f\x98\""), FFFD "\\\"");
	ck_assert_str_eq(ESC("\xc3"), FFFD);
	ck_assert(!json_valid_utf8("\xc3", 1));
	ck_assert(!json_valid_utf8("\xed\xa0\x80", 3));
	ck_assert(!json_valid_utf8("ok\xff", 3));
}
END_TEST

START_TEST(truncation)
{
	char	buf[8];
	size_t	n;

	/* "ab" then \u0001 (6 bytes) does not fit in 8 with the NUL: stop before it. */
	n = json_escape(buf, sizeof(buf), "ab\x01" "cd", 5);
	ck_assert_uint_eq(n, 10);
	ck_assert_str_eq(buf, "ab");
	/* A 3-byte character is not split either. */
	n = json_escape(buf, 4, "x\xe2\x82\xac", 4);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(buf, "x");
	n = json_escape(buf, 5, "x\xe2\x82\xac", 4);
	ck_assert_str_eq(buf, "x\xe2\x82\xac");
	ck_assert_uint_eq(json_escape(NULL, 0, "\"\"", 2), 4);
}
END_TEST

/*
 * A run of plain bytes goes in one copy but is cut as single bytes are:
 * every buffer size keeps as many as fit before the NUL, after a whole
 * escape, and the length is always the whole escaped text's.
 */
START_TEST(a_plain_run_is_cut_byte_by_byte)
{
	static const char	whole[] = "\\\"abcdef\\u0001gh";	/* \"abcdef\u0001gh */
	char			buf[32];

	for (size_t outlen = 1; outlen <= sizeof(whole); outlen++) {
		size_t	keep = outlen - 1;

		/* The escapes are whole or absent: 2 bytes, then 6. */
		if (keep < 2)
			keep = 0;
		else if (keep >= 8 && keep < 14)
			keep = 8;
		memset(buf, 'X', sizeof(buf));
		ck_assert_uint_eq(json_escape(buf, outlen, "\"abcdef\x01gh", 10),
		    sizeof(whole) - 1);
		ck_assert_msg(strlen(buf) == keep &&
		    memcmp(buf, whole, keep) == 0, "outlen %zu: \"%s\"", outlen,
		    buf);
	}
}
END_TEST

START_TEST(quote_and_write)
{
	char	*q = json_quote("a\"\n\xff", 4);
	char	*mem = NULL;
	size_t	 memlen = 0;
	FILE	*f;

	ck_assert_str_eq(q, "\"a\\\"\\u000a" FFFD "\"");
	free(q);
	q = json_quote("", 0);
	ck_assert_str_eq(q, "\"\"");
	free(q);
	f = open_memstream(&mem, &memlen);
	ck_assert_ptr_nonnull(f);
	json_write_string(f, "k\0\\", 3);
	fclose(f);
	ck_assert_str_eq(mem, "\"k\\u0000\\\\\"");
	free(mem);
}
END_TEST

/* Whether escaped output of n bytes has no raw control byte and no bare quote. */
static bool
clean(const char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)out[i] < 0x20 || out[i] == '"')
			return (false);
		if (out[i] == '\\')
			i++;
	}
	return (true);
}

/* Every output of random bytes is valid UTF-8 and has no raw control byte or lone quote. */
START_TEST(random_bytes_always_valid)
{
	unsigned char	in[64];
	char		out[64 * 6 + 1];
	bool		ok = true;

	srand(12345);
	for (int round = 0; round < 5000 && ok; round++) {
		size_t len = (size_t)(rand() % 64), n;

		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(rand() & 0xff);
		n = json_escape(out, sizeof(out), in, len);
		ok = n < sizeof(out) && json_valid_utf8(out, n) && clean(out, n);
	}
	ck_assert(ok);
}
END_TEST

START_TEST(object_writer)
{
	struct json_out	 o;
	char		*s;

	json_out_init(&o);
	ck_assert_str_eq(json_out_str(&o), "");
	json_obj_begin(&o, NULL);
	json_add_cstr(&o, "a", "x\"y\n\x01");
	json_add_int(&o, "n", -42);
	json_obj_begin(&o, "in");
	json_add_bool(&o, "t", true);
	json_add_str(&o, "bad", "\xff\xc3", 2);
	json_obj_end(&o);
	json_obj_begin(&o, "empty");
	json_obj_end(&o);
	json_add_cstr(&o, "nul", NULL);
	json_obj_end(&o);
	ck_assert_str_eq(json_out_str(&o), "{\"a\":\"x\\\"y\\u000a\\u0001\","
	    "\"n\":-42,\"in\":{\"t\":true,\"bad\":\"" FFFD FFFD "\"},"
	    "\"empty\":{},\"nul\":null}");
	s = json_out_take(&o);
	ck_assert(json_valid_utf8(s, strlen(s)));
	free(s);
	ck_assert_str_eq(json_out_str(&o), "");
	json_out_free(&o);
}
END_TEST

/* Arrays: of objects, of values (key NULL), empty, nested. */
START_TEST(array_writer)
{
	struct json_out	 o;
	char		*s;

	json_out_init(&o);
	json_obj_begin(&o, NULL);
	json_arr_begin(&o, "list");
	json_obj_begin(&o, NULL);
	json_add_int(&o, "a", 1);
	json_obj_end(&o);
	json_obj_begin(&o, NULL);
	json_obj_end(&o);
	json_add_cstr(&o, NULL, "s");
	json_add_int(&o, NULL, 7);
	json_arr_begin(&o, NULL);
	json_arr_end(&o);
	json_arr_end(&o);
	json_arr_begin(&o, "none");
	json_arr_end(&o);
	json_add_bool(&o, "after", false);
	json_obj_end(&o);
	s = json_out_take(&o);
	ck_assert_str_eq(s, "{\"list\":[{\"a\":1},{},\"s\",7,[]],\"none\":[],"
	    "\"after\":false}");
	free(s);
}
END_TEST

START_TEST(object_reader)
{
	static const char	 obj[] = " { \"event\" : \"done\", \"n\":12,"
	    "\"s\":\"a\\\"b\\n\\u00e9\\ud83d\\ude00\\ud800x\", \"o\":{\"p\":[1,\"}\"]},"
	    "\"t\":true,\"z\":null } ";
	struct json_iter	 it;
	char			 k[16], v[64];
	bool			 str;

	json_iter_init(&it, obj, sizeof(obj) - 1);
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), 1);
	ck_assert_str_eq(k, "event");
	ck_assert_str_eq(v, "done");
	ck_assert(str);
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), 1);
	ck_assert_str_eq(v, "12");
	ck_assert(!str);
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), 1);
	ck_assert_str_eq(v, "a\"b\n\xc3\xa9\xf0\x9f\x98\x80" FFFD "x");
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), 1);
	ck_assert_str_eq(v, "{\"p\":[1,\"}\"]}");
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), 1);
	ck_assert_str_eq(v, "true");
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), 1);
	ck_assert_str_eq(v, "null");
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), 0);
	ck_assert(json_get(obj, sizeof(obj) - 1, "t", v, sizeof(v)));
	ck_assert(!json_get(obj, sizeof(obj) - 1, "p", v, sizeof(v)));
	/* A value cut to the buffer stays whole UTF-8. */
	ck_assert(json_get("{\"k\":\"ab\xc3\xa9\"}", 12, "k", v, 4));
	ck_assert_str_eq(v, "ab");
	/* Malformed text: -1, and again. */
	json_iter_init(&it, "{\"a\" 1}", 7);
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), -1);
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), -1);
	json_iter_init(&it, "[1]", 3);
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), -1);
	json_iter_init(&it, "{\"a\":\"x\x01\"}", 10);
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), -1);
	json_iter_init(&it, "{}", 2);
	ck_assert_int_eq(json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str), 0);
}
END_TEST

START_TEST(writer_reader_round_trip)
{
	struct json_out	 o;
	char		 src[64], v[512];
	unsigned int	 seed = 7;

	for (int n = 0; n < 500; n++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(src));

		for (size_t i = 0; i < len; i++)
			src[i] = (char)(rand_r(&seed) % 256);
		json_out_init(&o);
		json_obj_begin(&o, NULL);
		json_add_str(&o, "k", src, len);
		json_obj_end(&o);
		ck_assert(json_valid_utf8(json_out_str(&o), strlen(json_out_str(&o))));
		ck_assert(json_get(json_out_str(&o), strlen(json_out_str(&o)), "k",
		    v, sizeof(v)));
		ck_assert(json_valid_utf8(v, strlen(v)));
		if (json_valid_utf8(src, len) && memchr(src, 0, len) == NULL) {
			ck_assert_uint_eq(strlen(v), len);
			ck_assert(memcmp(v, src, len) == 0);
		}
		json_out_free(&o);
	}
}
END_TEST

/* Run the json suite. */
int
main(void)
{
	Suite	*s = suite_create("json");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, plain_and_specials);
	tcase_add_test(tc, nul_bytes);
	tcase_add_test(tc, valid_utf8_kept);
	tcase_add_test(tc, invalid_utf8_replaced);
	tcase_add_test(tc, truncation);
	tcase_add_test(tc, a_plain_run_is_cut_byte_by_byte);
	tcase_add_test(tc, quote_and_write);
	tcase_add_test(tc, random_bytes_always_valid);
	tcase_add_test(tc, object_writer);
	tcase_add_test(tc, array_writer);
	tcase_add_test(tc, object_reader);
	tcase_add_test(tc, writer_reader_round_trip);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
