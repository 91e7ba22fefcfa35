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

struct event_base;

/* A started child: its pid and the caller's ends of its stdio pipes. */
struct spawn_child {
	pid_t	pid;
	int	in_fd;		/* write end of its stdin */
	int	out_fd;		/* read end of its stdout */
	int	err_fd;		/* read end of its stderr */
};

/*
 * The spawner: one thread that runs posix_spawn for the loop. posix_spawn
 * returns only once the child has called execve (glibc's vfork-style
 * clone), which takes this machine 0.2-0.7 ms: on the loop that wait
 * delayed every claim, reap and pipe read behind each start, so a burst
 * ran at the rate of spawns in a row. The thread waits instead.
 *
 * spawner_start makes the pipes at once (their fds are the caller's from
 * then on) and queues the rest; done(pid or the error, arg) is called
 * later from the loop, exactly once unless the request was cancelled.
 */
struct spawner;
struct spawn_req;

/* A start's outcome: pid > 0, or -1 with why and whether it is permanent. */
typedef void	(*spawn_done_cb)(pid_t pid, const char *why, bool permanent,
		    void *arg);

/* The spawner for base (its thread is started here). */
struct spawner	*spawner_new(struct event_base *base);
/*
 * Stop the thread (after the start it may be running) and free everything;
 * requests not yet started are dropped, their callbacks never called.
 */
void		 spawner_free(struct spawner *);
/*
 * Start dir/name in cwd with envv (NULL-terminated) and argv {name}, on
 * the spawner's thread. Returns the request (child has the caller's ends
 * of the three pipes, pid -1), or NULL with the reason in err when the
 * pipes cannot be made (*permanent false). Everything given is copied.
 * done gets the pid, or -1 with why and permanent true when trying again
 * cannot help (ENOENT, EACCES, ENOEXEC), false when it may (out of fds,
 * processes).
 */
struct spawn_req *spawner_start(struct spawner *, const char *dir,
		    const char *name, const char *cwd, char *const envv[],
		    struct spawn_child *child, spawn_done_cb done, void *arg,
		    char *err, size_t errlen, bool *permanent);
/*
 * Forget req: done is not called; a child it starts anyway gets SIGKILL
 * (its whole group) and is reaped as an unknown child.
 */
void		 spawner_cancel(struct spawn_req *);

#endif
