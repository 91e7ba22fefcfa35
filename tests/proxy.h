/* SPDX-License-Identifier: MIT */
/*
 * A small proxy between deferd and the test's redis-server, in a child
 * process, that can turn every open connection half-open: the side towards
 * Redis is closed (Redis sees the client go) while the side towards deferd
 * stays open and silent, as after a middlebox forgot the connection. New
 * connections after that are proxied normally.
 */
#ifndef DEFERD_TEST_PROXY_H
#define DEFERD_TEST_PROXY_H

#include <sys/types.h>

struct h_proxy {
	pid_t	pid;
	char	sock[256];	/* the proxy's unix socket */
	char	url[300];	/* unix://SOCK for the config */
	int	ack;		/* the child writes a byte here after a sever */
};

/* Listen on DIR/proxy.sock and proxy to the Redis unix socket upstream. */
void	h_proxy_start(struct h_proxy *, const char *dir, const char *upstream);
/* Make every open connection half-open; returns once the proxy did. */
void	h_proxy_sever(struct h_proxy *);
/* Stop the proxy (its connections close). */
void	h_proxy_stop(struct h_proxy *);

#endif
