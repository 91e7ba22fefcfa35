/* SPDX-License-Identifier: MIT */
/*
 * Synchronous Redis client for deferctl and the tests (the daemon uses the
 * async rconn module). Connects to a redis_target with a timeout, sends AUTH
 * and SELECT, and runs the embedded scripts by EVALSHA with EVAL fallback.
 */
#ifndef DEFERD_RCLIENT_H
#define DEFERD_RCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redisurl.h"
#include "scripts.h"

/*
 * Connect, AUTH (if t has a password) and SELECT t->db. timeout_ms bounds the
 * connect and every later reply. Returns a context, or NULL with a message in
 * err. Free with redisFree.
 */
redisContext	*rclient_connect(const struct redis_target *t, int64_t timeout_ms,
		    char *err, size_t errlen);
/*
 * Run script id with nkeys keys followed by args (argv/lens hold keys then
 * args; lens may be NULL for NUL-terminated strings). Uses EVALSHA and falls
 * back to EVAL on NOSCRIPT. Returns the reply (caller frees with
 * freeReplyObject; it may be a REDIS_REPLY_ERROR), or NULL on I/O error (see
 * c->errstr).
 */
redisReply	*rclient_script(redisContext *c, enum script_id id, int nkeys,
		    int argc, const char **argv, const size_t *lens);
/*
 * Pipelined form: rclient_script_append queues the call (EVALSHA; make sure
 * rclient_script_load ran on this connection first) and rclient_script_reply
 * reads the reply of the oldest queued call, re-running it with EVAL if it
 * says NOSCRIPT (the caller passes the same arguments again). Returns as
 * rclient_script.
 */
int		 rclient_script_load(redisContext *c, enum script_id id);
int		 rclient_script_append(redisContext *c, enum script_id id, int nkeys,
		    int argc, const char **argv, const size_t *lens);
redisReply	*rclient_script_reply(redisContext *c, enum script_id id, int nkeys,
		    int argc, const char **argv, const size_t *lens);

#endif
