/* SPDX-License-Identifier: MIT */
/*
 * The runner (docs/handlers.md, docs/reliability.md P8/P9): starts handler
 * executables that handler_check (handler.c) has passed, feeds them the
 * payload, collects their output and exit status, and enforces timeouts on
 * their whole process group. It does not decide what a result means for the
 * job (retry, backoff, dead letters): the scheduler does that with the
 * run_result it gets back.
 *
 * How a run goes:
 *   - runner_start hands the handler to the process supervisor (proc.c),
 *     which checks it, starts it in its own process group, writes the
 *     payload to its stdin and closes it, logs its stderr, and tells the
 *     run when the process is gone and its pipes are closed;
 *   - stdout is kept up to max_output bytes, the rest is dropped;
 *   - the run's timeout, or runner_kill, stops the process: SIGTERM to its
 *     group, SIGKILL after kill_grace;
 *   - a persistent handler's run goes to the pool (pool.c) instead.
 * Every callback is delivered from the loop, never from inside
 * runner_start, exactly once, and none after runner_free.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "failpoint.h"
#include "handler.h"
#include "log.h"
#include "pool.h"
#include "proc.h"
#include "runner.h"
#include "runner_env.h"
#include "timer.h"
#include "units.h"
#include "util.h"
#include "xmalloc.h"

#define RUNNER_ERRLEN		512

struct run {
	struct runner		*runner;	/* NULL once finished */
	TAILQ_ENTRY(run)	 entry;

	char			*job_id;
	char			*handler;
	char			*log_id;	/* job_id escaped for logging */
	runner_done_cb		 cb;
	void			*arg;

	struct pjob		*pjob;		/* persistent mode: the pool's job */
	struct proc		*proc;		/* exec mode: the handler, until it ends */
	pid_t			 pid;		/* for the log; -1 if not started */
	int			 status;	/* waitpid form, once ended */
	bool			 finished;
	bool			 failed;	/* never started: outcome and error below */
	enum run_outcome	 fail_outcome;
	bool			 timed_out;
	bool			 killed;
	char			*error;		/* failure or kill reason */

	int64_t			 start_ms;
	int64_t			 timeout_ms;	/* 0: none */
	struct event		*timeout_ev;
	struct event		*finish_ev;	/* a failure, delivered from the loop */

	char			*out;
	size_t			 out_len;
	size_t			 out_cap;
	size_t			 max_output;
	bool			 out_truncated;
};

TAILQ_HEAD(run_list, run);

struct runner {
	struct event_base	*base;
	const struct config	*cfg;
	struct runner_env	 env;		/* cfg's part of every handler env */
	struct procs		*procs;		/* the process supervisor (proc.c) */
	struct pool		*pool;		/* persistent handlers (pool.c) */
	struct run_list		 runs;
	size_t			 nruns;
};

static struct run *run_new(struct runner *, const struct run_spec *,
		    runner_done_cb, void *);
static void	run_fail_later(struct run *, enum run_outcome, const char *);
static int	run_spawn(struct run *, const struct config *,
		    const struct run_spec *, char *, size_t, enum run_outcome *);
static void	run_timeout_cb(int, short, void *);
static void	run_finish_cb(int, short, void *);
static void	run_finish(struct run *);
static void	run_result(struct run *, struct run_result *, char *, size_t);
static void	run_free(struct run *);

/* Create a runner on base, with the process supervisor and the pool. */
struct runner *
runner_new(struct event_base *base, const struct config *cfg)
{
	struct runner	*r;

	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->cfg = cfg;
	runner_env_base(&r->env, cfg);
	r->procs = procs_new(base);
	r->pool = pool_new(base, r->procs, cfg, &r->env);
	TAILQ_INIT(&r->runs);
	return (r);
}

/* Use cfg for runs started from now on; running runs keep their copies. */
void
runner_set_config(struct runner *r, const struct config *cfg)
{
	r->cfg = cfg;
	runner_env_free(&r->env);
	runner_env_base(&r->env, cfg);
	pool_set_config(r->pool, cfg, &r->env);
}

/* Take a run out of the runner's list: it is finished from now on. */
static void
run_unlist(struct run *run)
{
	struct runner	*r = run->runner;

	run->finished = true;
	TAILQ_REMOVE(&r->runs, run, entry);
	r->nruns--;
	run->runner = NULL;
}

/* The pool answered a persistent run: deliver it as run_finish does. */
static void
run_pool_done(const struct run_result *res, void *arg)
{
	struct run	*run = arg;

	run->pjob = NULL;
	run_unlist(run);
	if (res->outcome == RUN_DONE)
		log_debug("job %s (%s): answered in %lldms", run->log_id,
		    run->handler, (long long)res->duration_ms);
	else
		log_debug("job %s (%s): %s", run->log_id, run->handler,
		    res->error);
	if (run->cb != NULL)
		run->cb(res, run->arg);
	run_free(run);
}

/* A payload given to runner_start that no run took: free it. */
static void
spec_drop_payload(const struct run_spec *spec)
{
	if (spec->payload_give)
		free((void *)spec->payload);
}

/* Start a run; see runner.h. Failures are delivered later from the loop. */
struct run *
runner_start(struct runner *r, const struct run_spec *spec,
    runner_done_cb cb, void *arg)
{
	const struct config	*cfg = r->cfg;
	struct run		*run;
	enum run_outcome	 outcome;
	char			 err[RUNNER_ERRLEN];

	run = run_new(r, spec, cb, arg);
	if (config_handler_persistent(cfg, run->handler)) {
		run->pjob = pool_submit(r->pool, spec, run->timeout_ms,
		    run_pool_done, run);	/* the job line has a copy */
		spec_drop_payload(spec);
		return (run);
	}
	if (run_spawn(run, cfg, spec, err, sizeof(err), &outcome) == -1) {
		run_fail_later(run, outcome, err);
		return (run);
	}
	if (run->timeout_ms > 0)
		timer_after(run->timeout_ev, run->timeout_ms);
	return (run);
}

/* Stop a run: SIGTERM to its group now, SIGKILL after kill_grace. */
void
runner_kill(struct run *run, const char *reason)
{
	runner_kill_within(run, reason, INT64_MAX);
}

/*
 * Stop a run: SIGTERM to its group now, SIGKILL after kill_grace or
 * grace_ms, whichever is shorter. A run already being stopped only gets
 * the shorter deadline.
 */
void
runner_kill_within(struct run *run, const char *reason, int64_t grace_ms)
{
	if (grace_ms < 0)
		grace_ms = 0;
	if (run->finished || run->failed)
		return;
	if (run->pjob != NULL) {
		run->killed = true;
		pool_kill(run->pjob, reason, grace_ms);
		return;
	}
	if (!run->killed) {
		run->killed = true;
		if (run->error == NULL && !run->timed_out)
			run->error = xstrdup(reason != NULL ? reason : "killed");
		log_warnx("job %s (%s): killing process group %ld: %s",
		    run->log_id, run->handler, (long)run->pid,
		    reason != NULL ? reason : "killed");
		evtimer_del(run->timeout_ev);
		proc_stop(run->proc, grace_ms);
	} else
		proc_kill_after(run->proc, grace_ms);
}

bool
runner_exited(const struct run *run)
{
	return (run->pjob == NULL && (run->finished ||
	    (run->proc != NULL && proc_exited(run->proc))));
}

/* runner_kill every unfinished run. */
void
runner_kill_all(struct runner *r, const char *reason)
{
	struct run	*run;

	TAILQ_FOREACH(run, &r->runs, entry)
		runner_kill(run, reason);
}

/* Number of unfinished runs. */
size_t
runner_count(const struct runner *r)
{
	return (r->nruns);
}

/*
 * SIGKILL every process group, reap what is already dead, free everything.
 * No callback is called. Children that are not dead yet stay zombies until
 * the next waitpid(-1) or until we exit.
 */
void
runner_free(struct runner *r)
{
	struct run	*run;

	if (r == NULL)
		return;
	while ((run = TAILQ_FIRST(&r->runs)) != NULL) {
		TAILQ_REMOVE(&r->runs, run, entry);
		run->runner = NULL;
		proc_abandon(run->proc, SIGKILL);
		run->proc = NULL;
		run_free(run);
	}
	pool_free(r->pool);
	procs_free(r->procs);
	runner_env_free(&r->env);
	free(r);
}

/* Map a waitpid status to an outcome (sysexits: 64 65 77 78 are permanent). */
enum run_outcome
runner_classify(int status)
{
	if (!WIFEXITED(status))
		return (RUN_RETRY);
	switch (WEXITSTATUS(status)) {
	case 0:
		return (RUN_DONE);
	case 64:	/* EX_USAGE */
	case 65:	/* EX_DATAERR */
	case 77:	/* EX_NOPERM */
	case 78:	/* EX_CONFIG */
		return (RUN_DEAD);
	default:
		return (RUN_RETRY);
	}
}

/* Allocate a run with copies of what the spec says, in the runner's list. */
static struct run *
run_new(struct runner *r, const struct run_spec *spec, runner_done_cb cb,
    void *arg)
{
	const struct config	*cfg = r->cfg;
	struct run		*run;
	const char		*id = spec->job_id != NULL ? spec->job_id : "";
	size_t			 esclen = strlen(id) * 4 + 4;

	run = xcalloc(1, sizeof(*run));
	run->runner = r;
	run->job_id = xstrdup(id);
	run->handler = xstrdup(spec->handler != NULL ? spec->handler : "");
	run->log_id = xmalloc(esclen);
	util_escape(id, strlen(id), run->log_id, esclen);
	run->cb = cb;
	run->arg = arg;
	run->pid = -1;
	run->start_ms = util_mono_ms();
	run->timeout_ms = spec->timeout_ms > 0 ? spec->timeout_ms :
	    (cfg->handlers.timeout_ms > 0 ? cfg->handlers.timeout_ms : 0);
	run->max_output = (size_t)cfg->handlers.max_output;
	run->timeout_ev = evtimer_new(r->base, run_timeout_cb, run);
	run->finish_ev = evtimer_new(r->base, run_finish_cb, run);
	if (run->timeout_ev == NULL || run->finish_ev == NULL)
		fatalx("runner: cannot create timers");
	TAILQ_INSERT_TAIL(&r->runs, run, entry);
	r->nruns++;
	return (run);
}

/* The run cannot start: deliver outcome and reason from the loop. */
static void
run_fail_later(struct run *run, enum run_outcome outcome, const char *reason)
{
	run->failed = true;
	run->fail_outcome = outcome;
	free(run->error);
	run->error = xstrdup(reason);
	timer_after(run->finish_ev, 0);
}

static void	run_output(const char *, size_t, void *);
static void	run_ended(int, void *);
static void	run_started(pid_t, void *);
static void	run_start_failed(const char *, enum handler_fault, void *);

/* What a handler that could not start means for the job. */
static enum run_outcome
run_fault_outcome(enum handler_fault fault)
{
	switch (fault) {
	case HANDLER_FAULT_NAME:
		return (RUN_DEAD);
	case HANDLER_FAULT_FILE:
		return (RUN_MISSING);
	default:
		return (RUN_UNSTARTED);
	}
}

/*
 * Start the handler under the supervisor with the run's environment and
 * queue the payload for its stdin. Returns 0, or -1 with the reason in err
 * and the outcome it means (the payload is dropped then).
 */
static int
run_spawn(struct run *run, const struct config *cfg,
    const struct run_spec *spec, char *err, size_t errlen,
    enum run_outcome *outcome)
{
	static const struct proc_cbs cbs = {
		.output = run_output,
		.exited = run_ended,
		.started = run_started,
		.start_failed = run_start_failed,
	};
	struct runner_env	 env;
	struct proc_spec	 ps;
	enum handler_fault	 fault;
	char			*who;

	xasprintf(&who, "job %s (%s)", run->log_id, run->handler);
	runner_env_run(&env, &run->runner->env, spec);
	proc_spec_init(&ps, cfg, run->handler, env.v, who);
	run->proc = proc_start(run->runner->procs, &ps, &cbs, run, err, errlen,
	    &fault);
	runner_env_free(&env);
	free(who);
	if (run->proc == NULL) {
		/* Only a bad name is logged here: the owner reports the rest. */
		if (fault == HANDLER_FAULT_NAME)
			log_warnx("job %s: %s", run->log_id, err);
		else
			log_debug("job %s (%s): %s", run->log_id, run->handler,
			    err);
		*outcome = run_fault_outcome(fault);
		spec_drop_payload(spec);
		return (-1);
	}
	if (spec->payload_give)
		proc_write_give(run->proc, (void *)spec->payload,
		    spec->payload_len);
	else
		proc_write(run->proc, spec->payload, spec->payload_len);
	proc_close_input(run->proc, false);
	return (0);
}

/* Keep stdout up to max_output; drop the rest and remember we did. */
static void
run_output(const char *buf, size_t len, void *arg)
{
	struct run	*run = arg;
	size_t		 room = run->max_output - run->out_len;

	if (len > room) {
		run->out_truncated = true;
		len = room;
	}
	if (len == 0)
		return;
	if (run->out_len + len > run->out_cap) {
		size_t cap = run->out_cap == 0 ? 4096 : run->out_cap;

		while (cap < run->out_len + len)
			cap *= 2;
		if (cap > run->max_output)
			cap = run->max_output;
		run->out = xrealloc(run->out, cap);
		run->out_cap = cap;
	}
	memcpy(run->out + run->out_len, buf, len);
	run->out_len += len;
}

/* The handler's process is gone (the supervisor frees it): finish. */
static void
run_ended(int status, void *arg)
{
	struct run	*run = arg;

	run->proc = NULL;
	run->status = status;
	run_finish(run);
}

/* The handler runs (the spawner started it off the loop). */
static void
run_started(pid_t pid, void *arg)
{
	struct run	*run = arg;

	run->pid = pid;
	log_debug("job %s (%s): started, pid %ld", run->log_id, run->handler,
	    (long)pid);
	failpoint_crash("after_exec");	/* spawned, outcome not yet known */
}

/*
 * The handler passed the checks but could not be started (exec failed:
 * its interpreter is missing, out of processes): as when proc_start says
 * so at once, the outcome its fault means.
 */
static void
run_start_failed(const char *why, enum handler_fault fault, void *arg)
{
	struct run	*run = arg;

	run->proc = NULL;
	evtimer_del(run->timeout_ev);
	run_fail_later(run, run_fault_outcome(fault), why);	/* logs why */
}

/* The timeout: SIGTERM to the group, SIGKILL after kill_grace. */
static void
run_timeout_cb(int fd, short what, void *arg)
{
	struct run	*run = arg;
	char		 d[32];

	(void)fd;
	(void)what;
	if (run->proc == NULL || proc_exited(run->proc))
		return;		/* exited in time; its pipes are draining */
	run->timed_out = true;
	units_format_duration(run->timeout_ms, d, sizeof(d));
	log_warnx("job %s (%s): timed out after %s, sending SIGTERM to "
	    "process group %ld", run->log_id, run->handler, d, (long)run->pid);
	proc_stop(run->proc, INT64_MAX);
}

/* A run that never started: deliver its failure. */
static void
run_finish_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_finish(arg);
}

/*
 * Deliver the result and free the run. The run leaves the runner first, so
 * the callback may start runs, kill others or even free the runner.
 */
static void
run_finish(struct run *run)
{
	struct run_result	 res;
	char			 err[RUNNER_ERRLEN];

	run_unlist(run);
	evtimer_del(run->timeout_ev);
	evtimer_del(run->finish_ev);
	run_result(run, &res, err, sizeof(err));
	if (res.outcome != RUN_DONE)	/* the owner logs a success */
		log_debug("job %s (%s): %s", run->log_id, run->handler,
		    res.error);
	if (run->cb != NULL)
		run->cb(&res, run->arg);
	run_free(run);
}

/* Fill res from the run; err is space for the error text. */
static void
run_result(struct run *run, struct run_result *res, char *err, size_t errlen)
{
	char	d[32];
	int	st = run->status;

	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	res->output = run->out != NULL ? run->out : "";
	res->output_len = run->out_len;
	res->output_truncated = run->out_truncated;
	res->timed_out = run->timed_out;
	res->killed = run->killed;
	res->duration_ms = util_mono_ms() - run->start_ms;
	res->error = err;
	*err = '\0';

	if (run->failed) {
		res->outcome = run->fail_outcome;
		snprintf(err, errlen, "%s", run->error);
		return;
	}
	if (WIFEXITED(st))
		res->exit_code = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		res->term_signal = WTERMSIG(st);

	if (run->killed && run->error != NULL) {
		res->outcome = RUN_RETRY;
		snprintf(err, errlen, "%s", run->error);
	} else if (run->timed_out) {
		res->outcome = RUN_RETRY;
		units_format_duration(run->timeout_ms, d, sizeof(d));
		snprintf(err, errlen, "timed out after %s", d);
	} else {
		res->outcome = runner_classify(st);
		if (WIFEXITED(st) && res->outcome != RUN_DONE)
			snprintf(err, errlen, "exit status %d", res->exit_code);
		else if (WIFSIGNALED(st))
			snprintf(err, errlen, "killed by signal %d (%s)",
			    res->term_signal, strsignal(res->term_signal));
	}
}

/* Free a run that is no longer in a runner's list (and has no process). */
static void
run_free(struct run *run)
{
	if (run->timeout_ev != NULL)
		event_free(run->timeout_ev);
	if (run->finish_ev != NULL)
		event_free(run->finish_ev);
	free(run->job_id);
	free(run->handler);
	free(run->log_id);
	free(run->error);
	free(run->out);
	free(run);
}
