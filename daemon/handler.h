/* SPDX-License-Identifier: MIT */
/*
 * Handler checks (DESIGN §4): whether a name in handlers.dir is safe to run.
 * Used by the runner before every spawn; it does not run anything.
 */
#ifndef DEFERD_HANDLER_H
#define DEFERD_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Check that name is a safe handler in dir: valid name, a directory that is
 * not group/world-writable and owned by root or the effective user, and in
 * it a regular file (not a symlink), executable, not group/world-writable,
 * owned by root or the effective user. Returns 0, or -1 with the reason in
 * err; then *transient (if not NULL) is true when we ran out of something
 * (fds, memory) and trying again later can help, false when the handler is
 * missing or unsafe.
 */
int	handler_check(const char *dir, const char *name, char *err,
	    size_t errlen, bool *transient);

#endif
