/* SPDX-License-Identifier: MIT */
/*
 * The Lua transitions of docs/keys.md, embedded at build time from daemon/lua/.
 * Each script body is daemon/lua/lib.lua followed by the script's own file.
 * The calling conventions (KEYS, ARGV, replies) are documented at the top of
 * each .lua file; this header only names them.
 */
#ifndef DEFERD_SCRIPTS_H
#define DEFERD_SCRIPTS_H

#include <stdbool.h>
#include <stddef.h>

enum script_id {
	SCRIPT_ENQUEUE,
	SCRIPT_CLAIM,
	SCRIPT_EXTEND,
	SCRIPT_COMPLETE,
	SCRIPT_RETRY,
	SCRIPT_BURY,
	SCRIPT_REAP,
	SCRIPT_UNCLAIM,		/* jobs of a claim whose reply was lost */
	SCRIPT_CANCEL,
	SCRIPT_REVIVE,
	SCRIPT_PURGE,
	SCRIPT_LOCK_ACQUIRE,
	SCRIPT_LOCK_EXTEND,
	SCRIPT_LOCK_RELEASE,
	SCRIPT_EXPJOB,		/* sources: expirations, zset and list sources */
	SCRIPT_TRACK,
	SCRIPT_TOUCH,
	SCRIPT_ZSETMOVE,
	SCRIPT_LISTTAKE,
	SCRIPT_LISTRECOVER,
	SCRIPT_ENQUEUE_BATCH,	/* deferctl enqueue --batch */
	SCRIPT_OUTCOME,		/* batched complete / retry / bury */
	SCRIPT_SCHEDULE,	/* periodic jobs' ticks (schedules.c) */
	SCRIPT_LISTRETURN,	/* a stopped list source's items back */
	SCRIPT_COUNT
};

struct script {
	const char	*name;		/* "claim" */
	const char	*body;		/* what claim.lua uses of lib.lua + claim.lua */
	size_t		 len;
	bool		 allow_oom;	/* frees or moves memory: runs under OOM */
	bool		 daemon;	/* the daemon calls it: loaded at connect */
	char		*flagged;	/* "#!lua flags=allow-oom" + body, lazily */
	size_t		 flagged_len;
};

/*
 * Whether id makes or settles jobs (enqueue, the sources' moves, periodic
 * ticks, outcomes): with redis.wait_replicas a WAIT follows each call.
 */
bool		 scripts_durable(enum script_id id);
/* The script for id; id must be < SCRIPT_COUNT. */
const struct script *scripts_get(enum script_id id);
/*
 * The text to load for id. With flags (a server that takes script flags,
 * Redis 7 and later), the scripts that only free or move memory (extend,
 * complete, outcome, reap, unclaim, cancel, lock extend and release) start
 * with "#!lua flags=allow-oom", so that Redis runs them when it is out of
 * memory and a running job keeps its lease; every other script, and every
 * script without flags, is the plain body. The table owns the text.
 */
const char	*scripts_body(enum script_id id, bool flags, size_t *len);

#endif
