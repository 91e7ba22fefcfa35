/* SPDX-License-Identifier: MIT */
/*
 * Who may use the dashboard (dashboard_auth.c): with dashboard.token_file,
 * a request must carry the token, as "Authorization: Bearer TOKEN" (for
 * scripts) or in the cookie the login form sets (for browsers); a POST
 * whose browser sends an Origin must name the dashboard's own host.
 */
#ifndef DEFERD_DASHBOARD_AUTH_H
#define DEFERD_DASHBOARD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct httpd_req;

#define DASHBOARD_TOKEN_MAX	256	/* bytes of a token, at most */
#define DASHBOARD_TOKEN_MIN	16
#define DASHBOARD_COOKIE	"deferd_token"

/*
 * Read the token in file path into out (size DASHBOARD_TOKEN_MAX + 1):
 * its first line, without surrounding blanks, of DASHBOARD_TOKEN_MIN to
 * DASHBOARD_TOKEN_MAX printable characters (no blank, quote, semicolon or
 * comma, so that it fits a cookie). The file must not be readable by
 * others. -1 with err set.
 */
int	dashboard_token_read(const char *path, char *out, char *err,
	    size_t errlen);
/* Whether a and b are the same token, in time that does not depend on where they differ. */
bool	dashboard_token_equal(const char *a, const char *b);
/* Whether req carries token (bearer header or cookie). */
bool	dashboard_authorized(const struct httpd_req *req, const char *token);
/* Whether a POST comes from the dashboard's own pages: its Origin, when sent, names its Host. */
bool	dashboard_same_origin(const struct httpd_req *req);
/*
 * The value of field name of an application/x-www-form-urlencoded body
 * into out (decoded, NUL-terminated); false when absent or too long.
 */
bool	dashboard_form_value(const char *body, size_t len, const char *name,
	    char *out, size_t outlen);

#endif
