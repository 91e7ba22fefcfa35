/* SPDX-License-Identifier: MIT */
/*
 * The web dashboard (dashboard.c): httpd.c on dashboard.listen, on the
 * daemon's loop, serving the embedded pages (dashboard_assets.h) and a
 * JSON API under /api/ read from Redis with asynchronous commands on the
 * command connection. Off unless dashboard.listen is set.
 */
#ifndef DEFERD_DASHBOARD_H
#define DEFERD_DASHBOARD_H

#include <stddef.h>

#include "httpd.h"

struct deferd;
struct dashboard;

/*
 * The dashboard of d (its config's dashboard section), serving at once
 * when dashboard.listen is set. When that is metrics.listen too, its
 * server also answers /metrics and /healthz, with metrics_route (no token
 * asked). NULL with err set when the address cannot be bound or the
 * token file cannot be used.
 */
struct dashboard *dashboard_new(struct deferd *d, httpd_route_cb metrics_route,
		    void *metrics_arg, char *err, size_t errlen);
/*
 * The config was reloaded: new limits and token, and a new socket when
 * dashboard.listen changed. On error the old server keeps serving and the
 * error is logged.
 */
void		 dashboard_reconfigure(struct dashboard *);
/* Stop serving; requests waiting for Redis are dropped. NULL is a no-op. */
void		 dashboard_free(struct dashboard *);

#endif
