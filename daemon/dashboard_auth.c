/* SPDX-License-Identifier: MIT */
/* Who may use the dashboard; see dashboard_auth.h. */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dashboard_auth.h"
#include "httpd.h"
#include "util.h"

/* Whether c may be part of a token (a cookie value without quoting). */
static bool
token_char(int c)
{
	return (c > 0x20 && c < 0x7f && c != '"' && c != ';' && c != ',' &&
	    c != '\\');
}

int
dashboard_token_read(const char *path, char *out, char *err, size_t errlen)
{
	FILE		*f = fopen(path, "r");
	struct stat	 st;
	char		 line[DASHBOARD_TOKEN_MAX + 64], *p, *e;
	size_t		 n;

	if (f == NULL) {
		snprintf(err, errlen, "dashboard.token_file %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
		fclose(f);
		snprintf(err, errlen, "dashboard.token_file %s: readable by "
		    "others (mode %04o); chmod o-r it", path,
		    (unsigned)(st.st_mode & 07777));
		return (-1);
	}
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL)
		line[0] = '\0';
	for (p = line; isspace((unsigned char)*p); p++)
		;
	for (e = p + strlen(p); e > p && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	n = strlen(p);
	for (size_t i = 0; i < n; i++)
		if (!token_char((unsigned char)p[i])) {
			snprintf(err, errlen, "dashboard.token_file %s: the token "
			    "may not hold blanks, quotes, ';' or ','", path);
			return (-1);
		}
	if (n < DASHBOARD_TOKEN_MIN || n > DASHBOARD_TOKEN_MAX) {
		snprintf(err, errlen, "dashboard.token_file %s: the token must "
		    "be %d to %d characters (it has %zu)", path,
		    DASHBOARD_TOKEN_MIN, DASHBOARD_TOKEN_MAX, n);
		return (-1);
	}
	memcpy(out, p, n + 1);
	return (0);
}

bool
dashboard_token_equal(const char *a, const char *b)
{
	size_t		 la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
	unsigned char	 diff = la != lb;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(i < la ? a[i] : 0) ^
		    (unsigned char)(i < lb ? b[i] : 0);
	return (diff == 0);
}

/* The value of cookie name in a Cookie header into out; false if absent. */
static bool
cookie_value(const char *header, const char *name, char *out, size_t outlen)
{
	size_t		 nl = strlen(name), vl;
	const char	*p = header;

	while (*p != '\0') {
		p += strspn(p, " \t;");
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			p += nl + 1;
			vl = strcspn(p, ";");
			while (vl > 0 && (p[vl - 1] == ' ' || p[vl - 1] == '\t'))
				vl--;
			if (vl >= outlen)
				return (false);
			memcpy(out, p, vl);
			out[vl] = '\0';
			return (true);
		}
		p += strcspn(p, ";");
	}
	return (false);
}

bool
dashboard_authorized(const struct httpd_req *req, const char *token)
{
	char	 v[DASHBOARD_TOKEN_MAX + 64], c[DASHBOARD_TOKEN_MAX + 1];

	if (httpd_header(req, "Authorization", v, sizeof(v)) &&
	    strncmp(v, "Bearer ", 7) == 0 && dashboard_token_equal(v + 7, token))
		return (true);
	return (httpd_header(req, "Cookie", v, sizeof(v)) &&
	    cookie_value(v, DASHBOARD_COOKIE, c, sizeof(c)) &&
	    dashboard_token_equal(c, token));
}

bool
dashboard_same_origin(const struct httpd_req *req)
{
	char		 origin[512], host[512];
	const char	*p;

	if (!httpd_header(req, "Origin", origin, sizeof(origin)))
		return (true);	/* not a browser's cross-site form */
	if (!httpd_header(req, "Host", host, sizeof(host)))
		return (false);
	if ((p = strstr(origin, "://")) == NULL)
		return (false);
	return (strcmp(p + 3, host) == 0);
}

bool
dashboard_form_value(const char *body, size_t len, const char *name,
    char *out, size_t outlen)
{
	size_t		 nl = strlen(name), o = 0;
	const char	*p = body, *end = body + len;
	int		 hi, lo;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fe = amp != NULL ? amp : end;

		if ((size_t)(fe - p) > nl && strncmp(p, name, nl) == 0 &&
		    p[nl] == '=') {
			for (p += nl + 1; p < fe; p++) {
				if (o + 1 >= outlen)
					return (false);
				if (*p == '+')
					out[o++] = ' ';
				else if (*p == '%' && fe - p >= 3 &&
				    (hi = util_hexval(p[1])) >= 0 &&
				    (lo = util_hexval(p[2])) >= 0) {
					out[o++] = (char)(hi * 16 + lo);
					p += 2;
				} else
					out[o++] = *p;
			}
			out[o] = '\0';
			return (true);
		}
		p = fe + 1;
	}
	return (false);
}
