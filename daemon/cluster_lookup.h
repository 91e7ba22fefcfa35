/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster for deferctl (synchronous): ask a seed for the slot map
 * and connect to the master of one key's slot. The daemon's own,
 * asynchronous routing is cluster.c.
 */
#ifndef DEFERD_CLUSTER_LOOKUP_H
#define DEFERD_CLUSTER_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redisurl.h"

/*
 * Connect to the master that holds key's slot (key NULL: any seed that
 * answers), asking seeds[0..nseeds) in turn; credentials from the seeds.
 * Returns a context (free with redisFree), or NULL with err.
 */
redisContext	*cluster_connect(const struct redis_target *seeds, size_t nseeds,
		    const char *key, int64_t timeout_ms, char *err, size_t errlen);

#endif
