/* SPDX-License-Identifier: MIT */
/*
 * Redis Sentinel for deferctl (synchronous): ask the sentinels in turn
 * where the master is, connect to it with rclient and check with ROLE that
 * it is the master. The daemon's own, asynchronous watcher is sentinel.c.
 */
#ifndef DEFERD_SENTINEL_LOOKUP_H
#define DEFERD_SENTINEL_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redisurl.h"

/*
 * Connect to the master that sentinels nodes[0..nnodes) call name, with
 * the database and credentials of tmpl (which names no server). timeout_ms
 * bounds each connect and reply. Returns a context (free with redisFree),
 * or NULL with a message in err naming every sentinel asked.
 */
redisContext	*sentinel_connect(const char *name, const struct redis_target *nodes,
		    size_t nnodes, const struct redis_target *tmpl,
		    int64_t timeout_ms, char *err, size_t errlen);

#endif
