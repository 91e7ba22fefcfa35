/* SPDX-License-Identifier: MIT */
/*
 * Redis URLs: redis://[[user][:password]@][host][:port][/db] and
 * unix://[[user][:password]@]/path[?db=N], parsed into a struct redis_target;
 * and the host:port of a sentinel. A redis:// URL without a host is for
 * redis.sentinel, which finds the master.
 * Host names are resolved here, once, because hiredis resolves synchronously
 * inside the event loop. Messages never repeat the user or the password.
 * This file does not connect; rclient.c does.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netdb.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redisurl.h"
#include "util.h"
#include "xmalloc.h"

#define REDISURL_DEFAULT_PORT	6379

static int	 redisurl_error(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 redisurl_scheme_error(const char *, char *, size_t);
static int	 redisurl_decode(const char *, size_t, const char *, char **,
		    char *, size_t);
static int	 redisurl_userinfo(const char **, const char *, struct redis_target *,
		    char *, size_t);
static int	 redisurl_number(const char *, size_t, long, long, long *);
static int	 redisurl_db(const char *, size_t, struct redis_target *, char *, size_t);
static int	 redisurl_hostport(const char *, size_t, char **, struct redis_target *,
		    char *, size_t);
static int	 redisurl_resolve(const char *, struct redis_target *, char *, size_t);
static int	 redisurl_tcp(const char *, struct redis_target *, char *, size_t);
static int	 redisurl_query(const char *, struct redis_target *, char *, size_t);
static int	 redisurl_unix(const char *, struct redis_target *, char *, size_t);
static char	*redisurl_dup(const char *);

/* Write a message into err (if any) and return -1. */
static int
redisurl_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

/* Explain an unsupported or missing scheme without echoing the rest of url. */
static int
redisurl_scheme_error(const char *url, char *err, size_t errlen)
{
	const char	*sep = strstr(url, "://");
	int		 n;

	/* Echo the scheme only if it looks like one: it must not carry userinfo. */
	for (const char *p = url; sep != NULL && p < sep; p++)
		if (!isalnum((unsigned char)*p) && strchr("+.-", *p) == NULL)
			sep = NULL;
	if (sep == NULL || sep == url)
		return (redisurl_error(err, errlen, "expected redis://host[:port][/db] "
		    "or unix:///path/to/socket[?db=N]"));
	n = (int)(sep - url > 20 ? 20 : sep - url);
	if (strncasecmp(url, "rediss://", 9) == 0)
		return (redisurl_error(err, errlen, "TLS (rediss://) is not "
		    "supported; use a unix socket or a TLS tunnel"));
	return (redisurl_error(err, errlen, "unsupported scheme '%.*s' "
	    "(expected redis:// or unix://)", n, url));
}

/*
 * Percent-decode len bytes of s into a new string in *out (NULL when len is
 * 0). what names the part ("user name", "password") for the message.
 */
static int
redisurl_decode(const char *s, size_t len, const char *what, char **out,
    char *err, size_t errlen)
{
	char	*d;
	size_t	 o = 0;

	*out = NULL;
	if (len == 0)
		return (0);
	d = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '%') {
			d[o++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			hi = lo = -1;
		else {
			hi = util_hexval((unsigned char)s[i + 1]);
			lo = util_hexval((unsigned char)s[i + 2]);
		}
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(d);
			return (redisurl_error(err, errlen, "bad percent-escape "
			    "in the %s (expected %%XX with two hex digits, not %%00)",
			    what));
		}
		d[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	d[o] = '\0';
	*out = d;
	return (0);
}

/*
 * If the authority part at *sp (up to the first '/', '?' or '#') holds
 * "userinfo@", decode user and password into t and advance *sp past the '@'.
 */
static int
redisurl_userinfo(const char **sp, const char *stop, struct redis_target *t,
    char *err, size_t errlen)
{
	const char	*s = *sp, *at = NULL, *colon;
	size_t		 end = strcspn(s, stop);

	for (size_t i = 0; i < end; i++)
		if (s[i] == '@')
			at = s + i;
	if (at == NULL)
		return (0);
	colon = memchr(s, ':', (size_t)(at - s));
	if (colon == NULL)
		colon = at;
	if (redisurl_decode(s, (size_t)(colon - s), "user name", &t->username,
	    err, errlen) == -1)
		return (-1);
	if (colon < at && redisurl_decode(colon + 1, (size_t)(at - colon - 1),
	    "password", &t->password, err, errlen) == -1)
		return (-1);
	*sp = at + 1;
	return (0);
}

/* Parse len decimal digits of s into *out within [min, max]; 0 or -1. */
static int
redisurl_number(const char *s, size_t len, long min, long max, long *out)
{
	long	v = 0;

	if (len == 0 || len > 10)
		return (-1);
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return (-1);
	*out = v;
	return (0);
}

/* Parse a database number of len bytes into t->db. */
static int
redisurl_db(const char *s, size_t len, struct redis_target *t, char *err,
    size_t errlen)
{
	long	v;

	if (redisurl_number(s, len, 0, INT_MAX, &v) == -1)
		return (redisurl_error(err, errlen, "bad database number '%.*s' "
		    "(expected an integer from 0)", (int)(len > 20 ? 20 : len), s));
	t->db = (int)v;
	return (0);
}

/* Split "host[:port]" or "[v6][:port]" (len bytes) into a new *host and t->port. */
static int
redisurl_hostport(const char *s, size_t len, char **host, struct redis_target *t,
    char *err, size_t errlen)
{
	const char	*h = s, *p = NULL, *close;
	size_t		 hlen = len;
	long		 port;

	if (len > 0 && s[0] == '[') {
		close = memchr(s, ']', len);
		if (close == NULL || close == s + 1)
			return (redisurl_error(err, errlen, "bad IPv6 address: "
			    "expected [address]"));
		h = s + 1;
		hlen = (size_t)(close - h);
		if (close + 1 < s + len && close[1] != ':')
			return (redisurl_error(err, errlen, "unexpected text after "
			    "the IPv6 address"));
		if (close + 1 < s + len)
			p = close + 2;
	} else if ((close = memchr(s, ':', len)) != NULL) {
		if (memchr(close + 1, ':', len - (size_t)(close - s) - 1) != NULL)
			return (redisurl_error(err, errlen, "an IPv6 address must be "
			    "in brackets, like redis://[::1]:6379"));
		hlen = (size_t)(close - s);
		p = close + 1;
	}
	if (hlen == 0)
		return (redisurl_error(err, errlen, "missing host name"));
	if (p != NULL && redisurl_number(p, (size_t)(s + len - p), 1, 65535,
	    &port) == -1)
		return (redisurl_error(err, errlen, "bad port '%.*s' (expected 1 "
		    "to 65535)", (int)(s + len - p > 20 ? 20 : s + len - p), p));
	if (p != NULL)
		t->port = (int)port;
	*host = xstrndup(h, hlen);
	return (0);
}

/* Resolve host to a numeric address in t->host (the first getaddrinfo answer). */
static int
redisurl_resolve(const char *host, struct redis_target *t, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res;
	char		 buf[NI_MAXHOST];
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0)
		return (redisurl_error(err, errlen, "cannot resolve host '%s': %s",
		    host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc)));
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, buf, sizeof(buf), NULL, 0,
	    NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc != 0)
		return (redisurl_error(err, errlen, "cannot resolve host '%s': %s",
		    host, gai_strerror(rc)));
	t->host = xstrdup(buf);
	return (0);
}

/* Parse what follows "redis://". */
static int
redisurl_tcp(const char *s, struct redis_target *t, char *err, size_t errlen)
{
	char	*host = NULL;
	size_t	 end;
	int	 rc;

	if (redisurl_userinfo(&s, "/?#", t, err, errlen) == -1)
		return (-1);
	end = strcspn(s, "/?#");
	if (s[end] == '?' || s[end] == '#')
		return (redisurl_error(err, errlen, "query or fragment not supported "
		    "in redis:// URLs (write the database as /N)"));
	if (end > 0) {		/* no host: redis.sentinel names the master */
		if (redisurl_hostport(s, end, &host, t, err, errlen) == -1)
			return (-1);
		rc = redisurl_resolve(host, t, err, errlen);
		free(host);
		if (rc == -1)
			return (-1);
	}
	if (s[end] == '/' && s[end + 1] != '\0')
		return (redisurl_db(s + end + 1, strlen(s + end + 1), t, err, errlen));
	return (0);
}

/* Parse the "db=N[&...]" query of a unix:// URL. */
static int
redisurl_query(const char *q, struct redis_target *t, char *err, size_t errlen)
{
	while (*q != '\0') {
		size_t	len = strcspn(q, "&");

		if (len > 3 && strncmp(q, "db=", 3) == 0) {
			if (redisurl_db(q + 3, len - 3, t, err, errlen) == -1)
				return (-1);
		} else if (len > 0)
			return (redisurl_error(err, errlen, "unknown parameter "
			    "'%.*s' (only db=N is supported)",
			    (int)(len > 20 ? 20 : len), q));
		q += len + (q[len] == '&');
	}
	return (0);
}

/* Parse what follows "unix://". */
static int
redisurl_unix(const char *s, struct redis_target *t, char *err, size_t errlen)
{
	size_t	len;

	if (redisurl_userinfo(&s, "/", t, err, errlen) == -1)
		return (-1);
	if (*s != '/' && *s != '\0' && *s != '?')
		return (redisurl_error(err, errlen, "a unix:// URL takes no host; "
		    "write unix:///path/to/socket"));
	len = strcspn(s, "?#");
	if (len == 0)
		return (redisurl_error(err, errlen, "empty socket path"));
	if (len >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return (redisurl_error(err, errlen, "socket path too long (at most "
		    "%zu bytes)", sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1));
	if (s[len] == '#')
		return (redisurl_error(err, errlen, "fragment not supported in "
		    "unix:// URLs"));
	t->unix_path = xstrndup(s, len);
	if (s[len] == '?')
		return (redisurl_query(s + len + 1, t, err, errlen));
	return (0);
}

/* Parse url into *t; on error t is left empty and err says why. */
int
redisurl_parse(const char *url, struct redis_target *t, char *err, size_t errlen)
{
	int	rc;

	memset(t, 0, sizeof(*t));
	t->port = REDISURL_DEFAULT_PORT;
	if (strncasecmp(url, "redis://", 8) == 0)
		rc = redisurl_tcp(url + 8, t, err, errlen);
	else if (strncasecmp(url, "unix://", 7) == 0)
		rc = redisurl_unix(url + 7, t, err, errlen);
	else
		rc = redisurl_scheme_error(url, err, errlen);
	if (rc == -1)
		redisurl_clear(t);
	return (rc);
}

/* Parse "host[:port]" or "[v6][:port]" (a sentinel) into *t (zeroed first). */
int
redisurl_parse_node(const char *node, int default_port, struct redis_target *t,
    char *err, size_t errlen)
{
	char	*host = NULL;
	int	 rc;

	memset(t, 0, sizeof(*t));
	t->port = default_port;
	if (strpbrk(node, "/?#@") != NULL)
		return (redisurl_error(err, errlen, "expected host:port, not a URL"));
	if (redisurl_hostport(node, strlen(node), &host, t, err, errlen) == -1)
		return (-1);
	rc = redisurl_resolve(host, t, err, errlen);
	free(host);
	if (rc == -1)
		redisurl_clear(t);
	return (rc);
}

/* Free the strings of t (wiping the password first) and zero it. */
void
redisurl_clear(struct redis_target *t)
{
	if (t->password != NULL)
		explicit_bzero(t->password, strlen(t->password));
	free(t->host);
	free(t->unix_path);
	free(t->username);
	free(t->password);
	memset(t, 0, sizeof(*t));
}

/* xstrdup that passes NULL through. */
static char *
redisurl_dup(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

/* Deep copy src into dst (dst is overwritten, not freed). */
void
redisurl_copy(struct redis_target *dst, const struct redis_target *src)
{
	*dst = *src;
	dst->host = redisurl_dup(src->host);
	dst->unix_path = redisurl_dup(src->unix_path);
	dst->username = redisurl_dup(src->username);
	dst->password = redisurl_dup(src->password);
}

/* Whether two optional strings are equal (both NULL counts). */
static bool
redisurl_same_str(const char *a, const char *b)
{
	return ((a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0));
}

bool
redisurl_same(const struct redis_target *a, const struct redis_target *b)
{
	return (redisurl_same_str(a->host, b->host) && a->port == b->port &&
	    redisurl_same_str(a->unix_path, b->unix_path) && a->db == b->db &&
	    redisurl_same_str(a->username, b->username) &&
	    redisurl_same_str(a->password, b->password));
}

bool
redisurl_listed(const struct redis_target *t, const struct redis_target *v,
    size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (redisurl_same(t, &v[i]))
			return (true);
	return (false);
}

/* "host:port/db", "[v6]:port/db" or "unix:path/db" into buf; returns buf. */
const char *
redisurl_describe(const struct redis_target *t, char *buf, size_t len)
{
	if (t->unix_path != NULL)
		snprintf(buf, len, "unix:%s/%d", t->unix_path, t->db);
	else if (t->host != NULL && strchr(t->host, ':') != NULL)
		snprintf(buf, len, "[%s]:%d/%d", t->host, t->port, t->db);
	else
		snprintf(buf, len, "%s:%d/%d", t->host != NULL ? t->host : "?",
		    t->port, t->db);
	return (buf);
}
