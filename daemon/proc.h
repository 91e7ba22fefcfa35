/* SPDX-License-Identifier: MIT */
/*
 * The process supervisor (docs/handlers.md, docs/reliability.md P8/P9/P24):
 * the one place that starts, feeds, reads, signals and reaps handler
 * processes, for both handler modes. The exec runner (runner.c, one process
 * per run) and the persistent pool (pool.c, long-running processes and
 * their line protocol) each hold a struct proc and keep only what differs.
 *
 * A proc:
 *   - starts from a handler that handler_check (handler.c) passes, through
 *     spawn.c: never a shell, its own session (its pid is its group);
 *   - gets what its owner queues for stdin written without blocking, and
 *     EOF when the owner says so;
 *   - hands its stdout to the owner in chunks and logs its stderr through
 *     stderr_log.c, one budget per process;
 *   - is stopped with SIGTERM to its group and SIGKILL after kill_grace
 *     (or a shorter deadline), from timers of its own;
 *   - is reaped from the supervisor's one SIGCHLD event with
 *     waitpid(WNOHANG), never a blocking wait;
 *   - ends when its exit status is known and both output pipes are at EOF,
 *     or a bounded drain after the exit has passed (grandchildren may hold
 *     the pipes); then whatever is left of its group gets SIGKILL, so
 *     nothing a handler started outlives it, and the owner's exited
 *     callback runs, from the loop, exactly once.
 */
#ifndef DEFERD_PROC_H
#define DEFERD_PROC_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "handler.h"

#define PROC_DRAIN_MS	1000	/* wait for EOF after the exit, at most */

struct event_base;
struct procs;
struct proc;

/* What to start. Everything is copied or used only during proc_start. */
struct proc_spec {
	const char		*dir;		/* handlers.dir */
	const char		*name;		/* the handler */
	const char		*cwd;		/* its working directory */
	char *const		*envv;		/* NULL-terminated */
	const char		*who;		/* for the log: "job ID (handler)" */
	bool			 who_pid;	/* append " (pid N)" to who */
	int64_t			 kill_grace_ms;	/* SIGTERM to SIGKILL; 0: at once */
};

/* A spec for handler name under cfg's handlers section (dir, cwd, kill_grace). */
void	proc_spec_init(struct proc_spec *, const struct config *cfg,
	    const char *name, char *const *envv, const char *who);

/*
 * The owner's callbacks; arg is given back to each. Any may be NULL but
 * exited and start_failed. A callback may stop, kill or write to its
 * proc; only after exited (or start_failed) has returned is the proc freed
 * (the owner must forget it then).
 */
struct proc_cbs {
	/* len bytes of stdout (valid during the call). */
	void	(*output)(const char *buf, size_t len, void *arg);
	/* stdout is at EOF (or failed) before or after the exit. */
	void	(*output_end)(void *arg);
	/* Writing stdin failed (the handler closed it): errno value. */
	void	(*input_failed)(int error, void *arg);
	/* The process is gone: status in waitpid form. */
	void	(*exited)(int status, void *arg);
	/*
	 * The process runs (it starts after proc_start returns: on the
	 * spawner's thread, spawn.h); pid is its pid and group. May be NULL.
	 */
	void	(*started)(pid_t pid, void *arg);
	/*
	 * It could not start after all (why; fault as proc_start's): the
	 * proc is freed when this returns, and exited is never called.
	 */
	void	(*start_failed)(const char *why, enum handler_fault fault,
		    void *arg);
};

/* The supervisor on base; it owns SIGCHLD there. */
struct procs	*procs_new(struct event_base *base);
/*
 * SIGKILL every process group still supervised, reap what is already
 * dead, free everything; no callbacks. NULL is a no-op.
 */
void		 procs_free(struct procs *);
/* Number of processes supervised (started, not yet ended). */
size_t		 procs_count(const struct procs *);

/*
 * Check and start spec->name. Returns the proc, or NULL with the reason in
 * err and *fault saying whose it is (HANDLER_FAULT_FILE when starting
 * cannot succeed on this host until the file changes, HANDLER_FAULT_RESOURCES
 * when it may succeed later). The exec itself happens a little later, off
 * the loop: started or start_failed tells. Until then proc_pid is -1,
 * stdin may be written (the pipe holds it) and signals wait for the pid.
 */
struct proc	*proc_start(struct procs *, const struct proc_spec *,
		    const struct proc_cbs *, void *arg, char *err,
		    size_t errlen, enum handler_fault *fault);
pid_t		 proc_pid(const struct proc *);
/* Whether the process has exited (its group may still be draining). */
bool		 proc_exited(const struct proc *);

/* Queue len bytes (copied) for stdin. */
void		 proc_write(struct proc *, const void *buf, size_t len);
/* Queue a malloc'd buffer for stdin; the proc frees it once written or dropped. */
void		 proc_write_give(struct proc *, void *buf, size_t len);
/* EOF on stdin: after what is queued, or now (dropping it) when discard. */
void		 proc_close_input(struct proc *, bool discard);

/* Send sig to the process group now (the one place that does; ESRCH is fine). */
void		 proc_signal(struct proc *, int sig);
/*
 * SIGKILL the group after ms (its kill_grace when ms is negative) unless
 * it ends first; a deadline already set only moves sooner. No-op after the
 * exit: the drain bounds what is left.
 */
void		 proc_kill_after(struct proc *, int64_t ms);
/* SIGTERM to the group now and SIGKILL after min(kill_grace, grace_ms). */
void		 proc_stop(struct proc *, int64_t grace_ms);

/*
 * Leave the process: EOF on stdin, sig to its group (SIGTERM lets a
 * persistent handler finish, SIGKILL ends a run), reap it if it is dead,
 * free the proc. No callbacks. NULL is a no-op.
 */
void		 proc_abandon(struct proc *, int sig);

#endif
