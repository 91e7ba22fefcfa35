/* SPDX-License-Identifier: MIT */
/*
 * The Lua transitions of DESIGN §2, embedded at build time from daemon/lua/.
 * Each script body is daemon/lua/lib.lua followed by the script's own file.
 * The calling conventions (KEYS, ARGV, replies) are documented at the top of
 * each .lua file; this header only names them.
 */
#ifndef DEFERD_SCRIPTS_H
#define DEFERD_SCRIPTS_H

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
	SCRIPT_COUNT
};

struct script {
	const char	*name;	/* "claim" */
	const char	*body;	/* lib.lua + claim.lua, NUL-terminated */
	size_t		 len;
};

/* The script for id; id must be < SCRIPT_COUNT. */
const struct script *scripts_get(enum script_id id);

#endif
