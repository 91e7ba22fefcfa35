/* SPDX-License-Identifier: MIT */
/*
 * The typed store: one C function per Lua transition that orders its
 * keys and arguments (struct store_call, for rconn_script on the daemon's
 * connection or rclient_script on deferctl's), and one that parses its
 * reply into a struct, so that no caller knows a script's argument
 * positions or reply shape. The calling conventions are at the top of
 * each daemon/lua/ file. So far: the resource locks (store_lock.c) and
 * the scripts of the plain zset, list and expiration sources
 * (store_sources.c).
 */
#ifndef DEFERD_STORE_H
#define DEFERD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "scripts.h"

#define STORE_ARGS_MAX	12

/* One script call: argv holds nkeys keys, then the arguments. */
struct store_call {
	enum script_id	 script;
	int		 nkeys;
	int		 argc;
	const char	*argv[STORE_ARGS_MAX];	/* point into the caller's strings or num */
	char		 num[2][24];		/* integers formatted for argv */
};

/* lock_acquire: take k_lock with token for lease_ms, INCR k_fence. */
void	store_lock_acquire(struct store_call *, const char *k_lock,
	    const char *k_fence, const char *token, int64_t lease_ms);
/* lock_extend: push k_lock's expiry to lease_ms if it holds token. */
void	store_lock_extend(struct store_call *, const char *k_lock,
	    const char *token, int64_t lease_ms);
/* lock_release: delete k_lock if it holds token. */
void	store_lock_release(struct store_call *, const char *k_lock,
	    const char *token);

/* What lock_acquire answered. */
struct store_lock_acquired {
	bool	held;		/* ours now (or still) */
	int64_t	fence;		/* held: the fencing token */
	int64_t	pttl;		/* not held: the holder's lease left, -1: none */
};

/*
 * Parse a reply (not NULL) of lock_acquire, or of lock_extend /
 * lock_release (ok: the token matched). Return 0, or -1 with why in err:
 * Redis's error, or "unexpected reply".
 */
int	store_lock_acquire_reply(const redisReply *, struct store_lock_acquired *,
	    char *err, size_t errlen);
int	store_lock_token_reply(const redisReply *, bool *ok, char *err,
	    size_t errlen);

/*
 * zsetmove: move up to limit due members of zset (scores in unit_ms) into
 * jobs of handler in delayed (prefix "ns:{Q}:").
 */
void	store_zsetmove(struct store_call *, const char *zset,
	    const char *delayed, const char *prefix, const char *handler,
	    int64_t unit_ms, int64_t limit, const char *wake, const char *events);
struct store_zsetmoved {
	int64_t	now_ms;
	int64_t	next_due_ms;	/* -1: the zset is empty */
	int64_t	moved;
};
int	store_zsetmove_reply(const redisReply *, struct store_zsetmoved *,
	    char *err, size_t errlen);

/*
 * listtake: our processing list proc and up to batch items of list main
 * into jobs of handler (IDs "list:NONCE-k") in delayed.
 */
void	store_listtake(struct store_call *, const char *proc, const char *main,
	    const char *delayed, const char *prefix, const char *handler,
	    const char *nonce, int64_t batch, const char *wake,
	    const char *events);
struct store_listtaken {
	int64_t	now_ms;
	int64_t	created;
};
int	store_listtake_reply(const redisReply *, struct store_listtaken *,
	    char *err, size_t errlen);

/*
 * listrecover: the processing lists of registered owners whose liveness
 * key is gone go back to the head of main (never me's).
 */
void	store_listrecover(struct store_call *, const char *registry,
	    const char *main, const char *proc_prefix, const char *alive_prefix,
	    const char *me);
struct store_listrecovered {
	int64_t	moved;		/* items */
	int64_t	owners;
};
int	store_listrecover_reply(const redisReply *,
	    struct store_listrecovered *, char *err, size_t errlen);

/* touch: EXISTS up to limit due keys of database db in the watch zset. */
void	store_touch(struct store_call *, const char *watch, const char *db,
	    int64_t limit);
struct store_touched {
	int64_t	now_ms;
	int64_t	first_ms;	/* earliest expiry left, -1: none */
	int64_t	touched;
	int64_t	removed;
};
int	store_touch_reply(const redisReply *, struct store_touched *,
	    char *err, size_t errlen);

#endif
