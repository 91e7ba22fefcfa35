/* SPDX-License-Identifier: MIT */
/*
 * Starting one handler executable (docs/handlers.md): posix_spawn of dir/name,
 * never through a shell, in a new session (its pid is its process group),
 * with default signal dispositions, an empty signal mask, only fds 0-2
 * (three pipes whose other ends the caller gets, non-blocking) and the
 * environment it is given. Only the process supervisor (proc.c) calls it;
 * what happens on the pipes afterwards is the supervisor's.
 */
#ifndef DEFERD_SPAWN_H
#define DEFERD_SPAWN_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

/* A started child: its pid and the caller's ends of its stdio pipes. */
struct spawn_child {
	pid_t	pid;
	int	in_fd;		/* write end of its stdin */
	int	out_fd;		/* read end of its stdout */
	int	err_fd;		/* read end of its stderr */
};

/*
 * Start dir/name in cwd with envv (NULL-terminated) and argv {name}.
 * Returns 0 with *child filled (the caller owns the three fds), or -1 with
 * the reason in err and *permanent true when trying again cannot help
 * (ENOENT, EACCES, ENOEXEC), false when it may (out of fds, processes).
 */
int	spawn_handler(const char *dir, const char *name, const char *cwd,
	    char *const envv[], struct spawn_child *child, char *err,
	    size_t errlen, bool *permanent);

#endif
