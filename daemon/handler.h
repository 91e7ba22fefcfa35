/* SPDX-License-Identifier: MIT */
/*
 * Handler checks (docs/handlers.md): whether a name in handlers.dir is safe
 * to run. Used by the runner before every spawn; it does not run anything.
 */
#ifndef DEFERD_HANDLER_H
#define DEFERD_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

/* Whose a failed check is: what the caller does about it differs. */
enum handler_fault {
	HANDLER_FAULT_NONE,
	HANDLER_FAULT_NAME,	 /* not a handler name at all: the job's */
	HANDLER_FAULT_FILE,	 /* the handler is missing or unsafe here: this host's */
	HANDLER_FAULT_DIR,	 /* handlers.dir is missing or untrusted: this host's */
	HANDLER_FAULT_RESOURCES, /* out of descriptors or memory: the daemon's */
};

/*
 * Check that name is a safe handler in dir: valid name, a directory that
 * passes trust_dir (every component from "/" can be changed only by root
 * or the effective user), and in it a regular file (not a symlink),
 * executable, not group/world-writable, owned by root or the effective
 * user. Returns 0, or -1 with the reason in err and whose fault it is in
 * *fault (fault may be NULL).
 */
int	handler_check(const char *dir, const char *name, char *err,
	    size_t errlen, enum handler_fault *fault);
/* The directory part of handler_check alone: 0, or -1 with err and fault. */
int	handler_check_dir(const char *dir, char *err, size_t errlen,
	    enum handler_fault *fault);

#endif
