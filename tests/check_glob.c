/* SPDX-License-Identifier: MIT */
/* Unit tests of glob.c: Redis glob semantics, captures, edge cases. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "harness.h"

/* Whether s matches pat (s NUL-terminated). */
static bool
m(const char *pat, const char *s)
{
	return (glob_match(pat, s, strlen(s), NULL));
}

/* Capture i (0-based) of s as a string in a static buffer. */
static const char *
cap(const char *s, const struct glob_match *gm, size_t i)
{
	static char	buf[256];

	ck_assert_uint_lt(i, gm->n);
	memcpy(buf, s + gm->cap[i].off, gm->cap[i].len);
	buf[gm->cap[i].len] = '\0';
	return (buf);
}

START_TEST(literals_and_wildcards)
{
	ck_assert(m("", ""));
	ck_assert(!m("", "a"));
	ck_assert(m("abc", "abc"));
	ck_assert(!m("abc", "abd"));
	ck_assert(!m("abc", "ab"));
	ck_assert(!m("ab", "abc"));
	ck_assert(m("*", ""));
	ck_assert(m("*", "anything"));
	ck_assert(m("a*", "a"));
	ck_assert(m("a*c", "abbbc"));
	ck_assert(!m("a*c", "abbbd"));
	ck_assert(m("?", "x"));
	ck_assert(!m("?", ""));
	ck_assert(!m("?", "xy"));
	ck_assert(m("h?llo", "hello"));
	ck_assert(m("h*llo", "heeeello"));
	ck_assert(m("order:timeout:*", "order:timeout:42"));
	ck_assert(!m("order:timeout:*", "order:timeouts:42"));
	ck_assert(m("**", "x"));
	ck_assert(m("*?", "x"));
	ck_assert(!m("*??", "x"));
}
END_TEST

START_TEST(classes)
{
	ck_assert(m("h[ae]llo", "hello"));
	ck_assert(m("h[ae]llo", "hallo"));
	ck_assert(!m("h[ae]llo", "hillo"));
	ck_assert(m("h[^e]llo", "hallo"));
	ck_assert(!m("h[^e]llo", "hello"));
	ck_assert(m("h[a-b]llo", "hbllo"));
	ck_assert(!m("h[a-b]llo", "hcllo"));
	ck_assert(m("h[b-a]llo", "hallo"));	/* reversed range, as Redis */
	ck_assert(m("[0-9][0-9]", "42"));
	ck_assert(!m("[0-9][0-9]", "4x"));
	ck_assert(m("[\\]]", "]"));
	ck_assert(m("[a\\-z]", "-"));
	ck_assert(!m("[a\\-z]", "b"));
	ck_assert(!m("[]", "a"));		/* empty class matches nothing */
	ck_assert(!m("[abc]", ""));		/* a class needs a character */
	ck_assert(m("[abc", "a"));		/* unterminated: ends the pattern */
	ck_assert(!m("[abc", "ab"));
}
END_TEST

START_TEST(escapes)
{
	ck_assert(m("a\\*b", "a*b"));
	ck_assert(!m("a\\*b", "axb"));
	ck_assert(m("a\\?b", "a?b"));
	ck_assert(!m("a\\?b", "axb"));
	ck_assert(m("a\\[b", "a[b"));
	ck_assert(m("a\\\\b", "a\\b"));
	ck_assert(m("a\\", "a\\"));	/* a trailing backslash is literal */
	ck_assert_uint_eq(glob_ncaptures("a\\*b"), 0);
	ck_assert_uint_eq(glob_ncaptures("a\\\\*"), 1);
}
END_TEST

START_TEST(captures)
{
	struct glob_match	gm;
	const char		*s;

	s = "order:timeout:42";
	ck_assert(glob_match("order:timeout:*", s, strlen(s), &gm));
	ck_assert_uint_eq(gm.n, 1);
	ck_assert_str_eq(cap(s, &gm, 0), "42");

	s = "a:b:c:d";
	ck_assert(glob_match("a:*:*", s, strlen(s), &gm));
	ck_assert_uint_eq(gm.n, 2);
	ck_assert_str_eq(cap(s, &gm, 0), "b");	/* shortest first */
	ck_assert_str_eq(cap(s, &gm, 1), "c:d");

	s = "user:7:cart:x9";
	ck_assert(glob_match("user:?:cart:*", s, strlen(s), &gm));
	ck_assert_str_eq(cap(s, &gm, 0), "7");
	ck_assert_str_eq(cap(s, &gm, 1), "x9");

	s = "abXYcd";
	ck_assert(glob_match("ab?*cd", s, strlen(s), &gm));
	ck_assert_uint_eq(gm.n, 1);		/* one run, one capture */
	ck_assert_str_eq(cap(s, &gm, 0), "XY");
	ck_assert_uint_eq(glob_ncaptures("ab?*cd"), 1);

	s = "k:";
	ck_assert(glob_match("k:*", s, strlen(s), &gm));
	ck_assert_str_eq(cap(s, &gm, 0), "");

	s = "x[1]";
	ck_assert(glob_match("x[[]*]", s, strlen(s), &gm));
	ck_assert_str_eq(cap(s, &gm, 0), "1");
	ck_assert_uint_eq(glob_ncaptures("x[[]*]"), 1);
	ck_assert_uint_eq(glob_ncaptures("[*?]"), 0);
	ck_assert_uint_eq(glob_ncaptures("*:?:*"), 3);
}
END_TEST

START_TEST(binary_and_many_captures)
{
	struct glob_match	gm;
	static const char	s[] = "k\0ey:\xff";
	char			pat[64], str[64];

	ck_assert(glob_match("k*:?", s, sizeof(s) - 1, &gm));
	ck_assert_uint_eq(gm.cap[0].len, 3);
	ck_assert_uint_eq((unsigned char)s[gm.cap[1].off], 0xff);
	/* More runs than GLOB_MAX_CAPTURES: still matches, captures capped. */
	strcpy(pat, "");
	strcpy(str, "");
	for (int i = 0; i < GLOB_MAX_CAPTURES + 4; i++) {
		strcat(pat, "?-");
		strcat(str, "a-");
	}
	ck_assert(glob_match(pat, str, strlen(str), &gm));
	ck_assert_uint_eq(gm.n, GLOB_MAX_CAPTURES);
}
END_TEST

START_TEST(no_exponential_blowup)
{
	char	s[20001], pat[64];

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	strcpy(pat, "*a*a*a*a*a*a*a*a*a*b");
	/* Without the give-up rule this takes longer than the test timeout. */
	ck_assert(!glob_match(pat, s, strlen(s), NULL));
	ck_assert(glob_match("*a*a*a*a*a*a*a*a*a", s, strlen(s), NULL));
}
END_TEST

int
main(void)
{
	Suite	*su = suite_create("glob");
	TCase	*tc = tcase_create("glob");

	tcase_add_test(tc, literals_and_wildcards);
	tcase_add_test(tc, classes);
	tcase_add_test(tc, escapes);
	tcase_add_test(tc, captures);
	tcase_add_test(tc, binary_and_many_captures);
	tcase_add_test(tc, no_exponential_blowup);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(su, tc);
	return (h_main(su));
}
