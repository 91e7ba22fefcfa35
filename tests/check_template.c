/* SPDX-License-Identifier: MIT */
/* Unit tests of resource templates (daemon/template.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "harness.h"

static const char *const CAPS[] = { "order:timeout:42:eu", "42", "eu" };

/* Expand tmpl with CAPS and compare with want (NULL: expect an error containing errpart). */
static void
expect(const char *tmpl, const char *want, const char *errpart)
{
	char	 err[256] = "";
	char	*got = template_expand(tmpl, CAPS, 3, err, sizeof(err));

	if (want != NULL) {
		ck_assert_msg(got != NULL, "'%s': unexpected error: %s", tmpl, err);
		ck_assert_str_eq(got, want);
	} else {
		ck_assert_msg(got == NULL, "'%s': expected an error, got '%s'",
		    tmpl, got);
		ck_assert_msg(strstr(err, errpart) != NULL, "'%s': error '%s' "
		    "lacks '%s'", tmpl, err, errpart);
	}
	free(got);
}

START_TEST(plain_text_and_captures)
{
	expect("", "", NULL);
	expect("static", "static", NULL);
	expect("order:{1}", "order:42", NULL);
	expect("{0}", "order:timeout:42:eu", NULL);
	expect("{2}/{1}/{1}", "eu/42/42", NULL);
	expect("{1}{2}", "42eu", NULL);
	expect("x{01}y", "x42y", NULL);
}
END_TEST

START_TEST(doubled_braces_are_literal)
{
	expect("{{1}}", "{1}", NULL);
	expect("a{{b", "a{b", NULL);
	expect("a}}b", "a}b", NULL);
	expect("{{{1}}}", "{42}", NULL);
	expect("}}}}", "}}", NULL);
}
END_TEST

START_TEST(syntax_errors_are_reported)
{
	expect("order:{", NULL, "'{' at offset 6");
	expect("order:{1", NULL, "not closed");
	expect("order:{x}", NULL, "'{' at offset 6");
	expect("order:{}", NULL, "'{' at offset 6");
	expect("order:}", NULL, "unmatched '}' at offset 6");
	expect("{1}}", NULL, "unmatched '}'");
	expect("{-1}", NULL, "'{'");
	expect("{99999999999999999999}", NULL, "too large");
}
END_TEST

START_TEST(missing_captures_are_errors)
{
	const char *const	 holes[] = { "k", NULL };
	char			 err[128];

	expect("{3}", NULL, "{3} has no capture");
	ck_assert_ptr_null(template_expand("{1}", holes, 2, err, sizeof(err)));
	ck_assert(strstr(err, "{1} has no capture") != NULL);
	ck_assert_ptr_null(template_expand("{0}", NULL, 0, err, sizeof(err)));
	ck_assert_ptr_null(template_expand("{0", CAPS, 3, NULL, 0));
}
END_TEST

START_TEST(check_reports_the_largest_index)
{
	char	err[128];

	ck_assert_int_eq(template_check("static", err, sizeof(err)), -1);
	ck_assert_int_eq(template_check("order:{1}", err, sizeof(err)), 1);
	ck_assert_int_eq(template_check("{2}{0}{{5}}", err, sizeof(err)), 2);
	ck_assert_int_eq(template_check("{1", err, sizeof(err)), -2);
	ck_assert(strstr(err, "not closed") != NULL);
}
END_TEST

START_TEST(long_values_grow_the_buffer)
{
	char		 big[5000], want[10001], err[64];
	const char	*caps[2];
	char		*got;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	caps[0] = big;
	caps[1] = big;
	snprintf(want, sizeof(want), "%s-%s", big, big);
	got = template_expand("{0}-{1}", caps, 2, err, sizeof(err));
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}
END_TEST

/* Run the template cases. */
int
main(void)
{
	Suite	*s = suite_create("template");
	TCase	*tc = tcase_create("expand");

	tcase_add_test(tc, plain_text_and_captures);
	tcase_add_test(tc, doubled_braces_are_literal);
	tcase_add_test(tc, syntax_errors_are_reported);
	tcase_add_test(tc, missing_captures_are_errors);
	tcase_add_test(tc, check_reports_the_largest_index);
	tcase_add_test(tc, long_values_grow_the_buffer);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
