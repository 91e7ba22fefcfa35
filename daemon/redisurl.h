/* SPDX-License-Identifier: MIT */
/* Parse redis:// and unix:// URLs into a connect target. */
#ifndef DEFERD_REDISURL_H
#define DEFERD_REDISURL_H

#include <stdbool.h>
#include <stddef.h>

/* Where and how to connect. Strings are owned by the struct (redisurl_clear). */
struct redis_target {
	char	*host;		/* numeric IP (resolved at parse time); NULL for
				   unix, and for redis:// without a host (sentinel) */
	int	 port;		/* default 6379 */
	char	*unix_path;	/* socket path; NULL for TCP */
	int	 db;		/* SELECT index, default 0 */
	char	*username;	/* from the URL's userinfo, or NULL */
	char	*password;	/* from the URL's userinfo, or NULL */
};

/*
 * Parse url into *t (zeroed first):
 *   redis://[[user][:password]@][host[:port]][/db]   (no host: sentinel)
 *   unix://[[user][:password]@]/path/to/socket[?db=N]
 * Percent-escapes in user and password are decoded. A host name is resolved
 * to a numeric address here (getaddrinfo), because hiredis resolves
 * synchronously. Returns 0, or -1 with a message in err (no position).
 */
int	redisurl_parse(const char *url, struct redis_target *t, char *err, size_t errlen);
/*
 * Parse a sentinel's "host[:port]" (or "[v6][:port]") into *t (zeroed
 * first), the host resolved as in a URL. Returns 0, or -1 with err.
 */
int	redisurl_parse_node(const char *node, int default_port,
	    struct redis_target *t, char *err, size_t errlen);
/* Free the strings of t and zero it. */
void	redisurl_clear(struct redis_target *t);
/* Deep copy src into dst. */
void	redisurl_copy(struct redis_target *dst, const struct redis_target *src);
/* Whether a and b connect to the same place as the same user. */
bool	redisurl_same(const struct redis_target *a, const struct redis_target *b);
/* Whether t is the same as one of v[0..n). */
bool	redisurl_listed(const struct redis_target *t, const struct redis_target *v,
	    size_t n);
/* "host:port/db" or "unix:path/db" for log lines (never the password). */
const char *redisurl_describe(const struct redis_target *t, char *buf, size_t len);

#endif
