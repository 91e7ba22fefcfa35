/* SPDX-License-Identifier: MIT */
/* Redis key names of docs/keys.md, built in one place. All results are owned by the caller (free). */
#ifndef DEFERD_KEYS_H
#define DEFERD_KEYS_H

#include <stdbool.h>

/* "ns:{Q}:" — the prefix every key of queue Q starts with. */
char	*keys_prefix(const char *ns, const char *queue);
/* "ns:{Q}:SUFFIX", e.g. keys_queue(ns, q, "delayed"). */
char	*keys_queue(const char *ns, const char *queue, const char *suffix);
/* "ns:{Q}:job:ID" */
char	*keys_job(const char *ns, const char *queue, const char *id);
/* "ns:{Q}:result:ID" */
char	*keys_result(const char *ns, const char *queue, const char *id);
/*
 * "ns:lock:RESOURCE" and "ns:fence:RESOURCE"; tagged (redis.cluster):
 * "ns:lock:{RESOURCE}" and "ns:fence:{RESOURCE}", so that a lock and its
 * fencing counter share a slot.
 */
char	*keys_lock(const char *ns, const char *resource, bool tagged);
char	*keys_fence(const char *ns, const char *resource, bool tagged);
/*
 * The daemons' lateness summaries for deferctl stats: the index zset
 * "ns:stats" and each daemon's "ns:stats:MEMBER"; tagged (redis.cluster):
 * "ns:{stats}:daemons" and "ns:{stats}:daemon:MEMBER", in one slot so
 * that one MGET reads them all.
 */
char	*keys_stats_index(const char *ns, bool tagged);
char	*keys_stats(const char *ns, const char *member, bool tagged);
/* "ns:{exp}:watch": the precise-expiry watch of one server */
char	*keys_exp_watch(const char *ns);
/* "ns:kill": the channel of deferctl cancel --kill */
char	*keys_kill(const char *ns);
/* "ns:events": the lifecycle events channel */
char	*keys_events(const char *ns);

#endif
