/* SPDX-License-Identifier: MIT */
/*
 * Persistent handlers (handlers.overrides.NAME.mode: persistent): for each
 * such handler, `processes` long-running copies of the executable, each
 * holding up to `inflight` jobs at once over the line protocol of proto.h.
 * The pool starts them under the process supervisor (proc.c, as exec
 * mode, plus DEFERD_PROTOCOL=1), restarts one that exits (with backoff), retires
 * them on reload when their settings change or the file goes away (stdin
 * closed once their jobs are answered), and turns each job's answer, its
 * timeout, or its process's death into the same run_result an exec run
 * gives. The runner (runner.c) owns the pool and the supervisor.
 *
 * Timeouts and kills: a job not answered in time, or killed (lock lost,
 * shutdown), stops the whole process that holds it (SIGTERM to its group,
 * SIGKILL after kill_grace). Its results, and those of every other job
 * that process held, are delivered only once the process is gone, so a
 * lock is never released while a handler may still work under it.
 */
#ifndef DEFERD_POOL_H
#define DEFERD_POOL_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "runner.h"
#include "runner_env.h"

struct event_base;
struct pool;
struct pjob;
struct procs;

/*
 * A pool on base for the persistent handlers of cfg, started at once under
 * procs (borrowed; it must outlive the pool). cfg and env (the config's
 * part of every handler environment) are borrowed until the next
 * pool_set_config.
 */
struct pool	*pool_new(struct event_base *base, struct procs *procs,
		    const struct config *cfg, const struct runner_env *env);
/*
 * Reload: handlers whose mode, processes or inflight changed (or that are
 * no longer persistent) are retired, new ones started.
 */
void		 pool_set_config(struct pool *, const struct config *cfg,
		    const struct runner_env *env);
/*
 * Hand a job to spec->handler's processes. cb is called exactly once,
 * later, from the loop, with pointers valid only during the call; the
 * returned handle is valid until then. timeout_ms > 0 bounds the answer.
 */
struct pjob	*pool_submit(struct pool *, const struct run_spec *spec,
		    int64_t timeout_ms, runner_done_cb cb, void *arg);
/*
 * Stop a job: its process gets SIGTERM, and SIGKILL after kill_grace or
 * grace_ms, the shorter; the result has killed and reason.
 */
void		 pool_kill(struct pjob *, const char *reason, int64_t grace_ms);
/*
 * Close every process's stdin and SIGTERM its group; free everything. No
 * callbacks. NULL is a no-op.
 */
void		 pool_free(struct pool *);

#endif
