/* SPDX-License-Identifier: MIT */
/*
 * Persistent handler processes; see pool.h. Three objects:
 *   - struct phandler: one handler name under one setting (processes,
 *     inflight); a reload that changes the setting retires it and makes a
 *     new one, so old processes finish what they hold while new ones start;
 *   - struct pproc: one process slot of a phandler, restarted with backoff;
 *   - struct pjob: one job handed to the pool, waiting for a process with
 *     room (pending) or held by one.
 * Finished jobs go to a done list that a zero-delay event delivers, so no
 * callback ever runs inside a pool function and callbacks may submit or
 * kill jobs freely.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "handler.h"
#include "log.h"
#include "pool.h"
#include "proto.h"
#include "proc.h"
#include "timer.h"
#include "units.h"
#include "util.h"
#include "xmalloc.h"

#define POOL_BACKOFF_MIN_MS	100	/* first restart delay */
#define POOL_BACKOFF_MAX_MS	30000
#define POOL_STABLE_MS		10000	/* a process that lived this long restarts at once */
#define POOL_CHECK_MS		1000	/* handler_check at most this often */
#define POOL_LOG_MS		10000	/* a repeated warning: one line this often */
#define POOL_LINE_SLACK		(64 * 1024)	/* reply line beyond max_output */
#define POOL_ERRLEN		512

enum pproc_state {
	PP_DOWN,	/* no process; restart_ev armed unless retired */
	PP_UP,		/* running, takes jobs */
	PP_KILLING,	/* SIGTERM/SIGKILL sent, waiting for the exit */
	PP_CLOSING,	/* retired: stdin closed, waiting for the exit */
	PP_GONE,	/* retired and exited: never restarted */
};

struct pjob {
	TAILQ_ENTRY(pjob)	 entry;
	struct pool		*pool;
	struct pproc		*proc;		/* holding it, or NULL */
	struct phandler		*waiting_on;	/* whose pending list it is in, or NULL */
	char			*id;
	char			*handler;
	char			*line;		/* the job line, until written */
	size_t			 line_len;
	runner_done_cb		 cb;
	void			*arg;
	int64_t			 start_ms;	/* monotonic */
	int64_t			 timeout_ms;
	TAILQ_ENTRY(pjob)	 deadline_entry;	/* on pool->deadlines */
	int64_t			 deadline_ms;	/* monotonic; 0: none (or passed) */
	bool			 timed_out;
	bool			 killed;
	bool			 finished;	/* in the done list */
	/* The result, once finished. */
	enum run_outcome	 outcome;
	char			*error;
	char			*output;
	size_t			 output_len;
	bool			 truncated;
};
TAILQ_HEAD(pjob_list, pjob);

struct pproc {
	struct phandler		*h;
	int			 index;		/* DEFERD_PROCESS */
	enum pproc_state	 state;
	struct proc		*proc;		/* the process (proc.c), or NULL when down */
	pid_t			 pid;		/* its pid, for the log; -1 when down */
	struct evbuffer		*rbuf;		/* stdout not yet split into lines */
	struct event		*restart_ev;	/* backoff before the next start */
	struct pjob_list	 jobs;		/* held, in dispatch order */
	int			 njobs;
	char			*fail_reason;	/* why it was stopped, for its jobs */
	int64_t			 started_ms;
	int64_t			 backoff_ms;
	struct log_limit	 unknown_limit;	/* replies for jobs it does not hold */
};

struct phandler {
	TAILQ_ENTRY(phandler)	 entry;
	struct pool		*pool;
	char			*name;
	int			 nprocs;
	int			 inflight;
	bool			 retired;
	struct pproc		*procs;		/* nprocs of them */
	struct pjob_list	 pending;	/* submitted, no process with room */
	int64_t			 checked_ms;	/* last passed handler_check */
};
TAILQ_HEAD(phandler_list, phandler);

struct pool {
	struct event_base	*base;
	struct procs		*procs;		/* the supervisor, borrowed */
	const struct config	*cfg;
	const struct runner_env	*env;
	struct phandler_list	 handlers;
	struct pjob_list	 done;		/* finished, to deliver */
	struct event		*deliver_ev;
	/*
	 * Jobs with a deadline ahead, in submission order, and one timer for
	 * all of them: armed for the earliest when a job comes sooner than
	 * it, never touched when a job leaves. A timer per job cost an
	 * allocation and a timerfd change per job (bench/FINDINGS.md).
	 */
	struct pjob_list	 deadlines;
	struct event		*deadline_ev;
	int64_t			 deadline_armed_ms;	/* monotonic; 0: not armed */
};

static void	pproc_start(struct pproc *);
static void	pproc_stop(struct pproc *, int sig, const char *reason);
static void	pproc_retire(struct pproc *);
static void	phandler_dispatch(struct phandler *);
static void	phandler_free(struct phandler *);
static void	pproc_restart_cb(evutil_socket_t, short, void *);

/* Take j off the deadline list, if it is on it (the timer stays armed). */
static void
pjob_no_deadline(struct pjob *j)
{
	if (j->deadline_ms == 0)
		return;
	TAILQ_REMOVE(&j->pool->deadlines, j, deadline_entry);
	j->deadline_ms = 0;
}

/* Free a job that is on no list but, perhaps, the deadline list. */
static void
pjob_free(struct pjob *j)
{
	pjob_no_deadline(j);
	free(j->id);
	free(j->handler);
	free(j->line);
	free(j->error);
	free(j->output);
	free(j);
}

/* Deliver every finished job's result (zero-delay event). */
static void
pool_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool		*pool = arg;
	struct pjob		*j;
	struct run_result	 res;

	(void)fd;
	(void)what;
	while ((j = TAILQ_FIRST(&pool->done)) != NULL) {
		TAILQ_REMOVE(&pool->done, j, entry);
		memset(&res, 0, sizeof(res));
		res.outcome = j->outcome;
		res.exit_code = -1;
		res.timed_out = j->timed_out;
		res.killed = j->killed;
		res.output = j->output != NULL ? j->output : "";
		res.output_len = j->output_len;
		res.output_truncated = j->truncated;
		res.error = j->error != NULL ? j->error : "";
		res.duration_ms = util_mono_ms() - j->start_ms;
		j->cb(&res, j->arg);
		pjob_free(j);
	}
}

/*
 * Finish j with outcome and error (copied; the first reason given wins)
 * and queue it for delivery. j must already be off every other list.
 */
static void
pjob_finish(struct pjob *j, enum run_outcome outcome, const char *error)
{
	pjob_no_deadline(j);
	j->finished = true;
	j->outcome = outcome;
	if (j->error == NULL && error != NULL)
		j->error = xstrdup(error);
	j->proc = NULL;
	TAILQ_INSERT_TAIL(&j->pool->done, j, entry);
	event_active(j->pool->deliver_ev, 0, 0);
}

/* Take j off its process (it was answered or the process died). */
static void
pjob_detach(struct pjob *j)
{
	struct pproc	*p = j->proc;

	TAILQ_REMOVE(&p->jobs, j, entry);
	p->njobs--;
}

/* Take a pending job off its handler's pending list. */
static void
pjob_unpend(struct pjob *j)
{
	TAILQ_REMOVE(&j->waiting_on->pending, j, entry);
	j->waiting_on = NULL;
}

/* Put j on h's pending list. */
static void
pjob_pend(struct pjob *j, struct phandler *h)
{
	j->waiting_on = h;
	TAILQ_INSERT_TAIL(&h->pending, j, entry);
}

/* The timeout of one job: stop the process that holds it. */
static void
pjob_timed_out(struct pjob *j)
{
	struct pproc	*p = j->proc;
	char		 d[32], *reason;

	j->timed_out = true;
	units_format_duration(j->timeout_ms, d, sizeof(d));
	xasprintf(&j->error, "timed out after %s", d);
	if (p == NULL) {	/* still pending: nobody to stop */
		pjob_unpend(j);
		pjob_finish(j, RUN_RETRY, NULL);
		return;
	}
	log_warnx("job %s (%s): timed out after %s, stopping handler process "
	    "%d (pid %ld)", j->id, j->handler, d, p->index, (long)p->pid);
	xasprintf(&reason, "handler process stopped: job %s timed out after %s",
	    j->id, d);
	pproc_stop(p, SIGTERM, reason);
	free(reason);
}

/* Arm the deadline timer for at (monotonic ms) unless it fires sooner. */
static void
pool_deadline_arm(struct pool *pool, int64_t at)
{
	if (pool->deadline_armed_ms != 0 && pool->deadline_armed_ms <= at)
		return;
	pool->deadline_armed_ms = at;
	timer_after(pool->deadline_ev, at - util_mono_ms());
}

/* The first job on the deadline list whose deadline has passed, or NULL. */
static struct pjob *
pool_deadline_passed(struct pool *pool, int64_t now)
{
	struct pjob	*j;

	TAILQ_FOREACH(j, &pool->deadlines, deadline_entry)
		if (j->deadline_ms <= now)
			return (j);
	return (NULL);
}

/*
 * The deadline timer: time out every job whose deadline has passed (one
 * at a time, from the start of the list: stopping a process may finish
 * other jobs), then arm for the earliest deadline left.
 */
static void
pool_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool	*pool = arg;
	struct pjob	*j;
	int64_t		 now = util_mono_ms(), next = 0;

	(void)fd;
	(void)what;
	pool->deadline_armed_ms = 0;
	while ((j = pool_deadline_passed(pool, now)) != NULL) {
		pjob_no_deadline(j);
		pjob_timed_out(j);
	}
	TAILQ_FOREACH(j, &pool->deadlines, deadline_entry)
		if (next == 0 || j->deadline_ms < next)
			next = j->deadline_ms;
	if (next != 0)
		pool_deadline_arm(pool, next);
}

/* The phandler of this name that takes new jobs, or NULL. */
static struct phandler *
pool_current(struct pool *pool, const char *name)
{
	struct phandler	*h;

	TAILQ_FOREACH(h, &pool->handlers, entry)
		if (!h->retired && strcmp(h->name, name) == 0)
			return (h);
	return (NULL);
}

/* A new phandler for override o, its processes started at once. */
static struct phandler *
phandler_new(struct pool *pool, const struct handler_override *o)
{
	struct phandler	*h = xcalloc(1, sizeof(*h));

	h->pool = pool;
	h->name = xstrdup(o->name);
	h->nprocs = o->processes > 0 ? o->processes : 1;
	h->inflight = o->inflight > 0 ? o->inflight : 1;
	h->checked_ms = -POOL_CHECK_MS;
	TAILQ_INIT(&h->pending);
	h->procs = xcalloc((size_t)h->nprocs, sizeof(*h->procs));
	TAILQ_INSERT_TAIL(&pool->handlers, h, entry);
	for (int i = 0; i < h->nprocs; i++) {
		struct pproc *p = &h->procs[i];

		p->h = h;
		p->index = i;
		p->pid = -1;
		p->backoff_ms = POOL_BACKOFF_MIN_MS;
		TAILQ_INIT(&p->jobs);
		p->restart_ev = evtimer_new(pool->base, pproc_restart_cb, p);
		if (p->restart_ev == NULL)
			fatalx("pool: cannot create timers");
	}
	log_info("handler %s: persistent, %d process(es) x %d job(s) in flight",
	    h->name, h->nprocs, h->inflight);
	for (int i = 0; i < h->nprocs; i++)
		pproc_start(&h->procs[i]);
	return (h);
}

/* Whether every process of a retired phandler is gone (it can be freed). */
static bool
phandler_finished(const struct phandler *h)
{
	for (int i = 0; i < h->nprocs; i++)
		if (h->procs[i].state != PP_GONE)
			return (false);
	return (h->retired && TAILQ_EMPTY(&h->pending));
}

/*
 * Retire h: no new jobs; its pending jobs go to the handler's new
 * processes (or fail, when it is no longer persistent); each process gets
 * EOF on stdin once it holds nothing.
 */
static void
phandler_retire(struct phandler *h, const char *why)
{
	struct pool	*pool = h->pool;
	struct phandler	*next;
	struct pjob	*j;

	if (h->retired)
		return;
	h->retired = true;
	log_info("handler %s: retiring %d persistent process(es): %s", h->name,
	    h->nprocs, why);
	next = pool_current(pool, h->name);
	while ((j = TAILQ_FIRST(&h->pending)) != NULL) {
		pjob_unpend(j);
		if (next != NULL)
			pjob_pend(j, next);
		else
			pjob_finish(j, RUN_RETRY, "handler no longer persistent "
			    "before the job started");
	}
	if (next != NULL)
		phandler_dispatch(next);
	for (int i = 0; i < h->nprocs; i++)
		pproc_retire(&h->procs[i]);
	if (phandler_finished(h))
		phandler_free(h);
}

/* Free a phandler whose processes are all gone. */
static void
phandler_free(struct phandler *h)
{
	TAILQ_REMOVE(&h->pool->handlers, h, entry);
	for (int i = 0; i < h->nprocs; i++) {
		event_free(h->procs[i].restart_ev);
		free(h->procs[i].fail_reason);
	}
	free(h->procs);
	free(h->name);
	free(h);
}

/* Whether o describes the same processes as h. */
static bool
phandler_matches(const struct phandler *h, const struct handler_override *o)
{
	return (o != NULL && o->mode == HANDLER_PERSISTENT &&
	    o->processes == h->nprocs && o->inflight == h->inflight);
}

struct pool *
pool_new(struct event_base *base, struct procs *procs,
    const struct config *cfg, const struct runner_env *env)
{
	struct pool	*pool = xcalloc(1, sizeof(*pool));

	pool->base = base;
	pool->procs = procs;
	TAILQ_INIT(&pool->handlers);
	TAILQ_INIT(&pool->done);
	TAILQ_INIT(&pool->deadlines);
	pool->deliver_ev = event_new(base, -1, 0, pool_deliver_cb, pool);
	pool->deadline_ev = evtimer_new(base, pool_deadline_cb, pool);
	if (pool->deliver_ev == NULL || pool->deadline_ev == NULL)
		fatalx("pool: cannot create the delivery and deadline events");
	pool_set_config(pool, cfg, env);
	return (pool);
}

void
pool_set_config(struct pool *pool, const struct config *cfg,
    const struct runner_env *env)
{
	struct phandler	*h, *next;

	pool->cfg = cfg;
	pool->env = env;
	/* New handlers first, so that retiring ones hand them their pending jobs. */
	for (size_t i = 0; i < cfg->handlers.noverrides; i++) {
		const struct handler_override *o = &cfg->handlers.overrides[i];

		if (o->mode != HANDLER_PERSISTENT)
			continue;
		h = pool_current(pool, o->name);
		if (h != NULL && phandler_matches(h, o))
			continue;
		if (h != NULL)
			h->retired = true;	/* hidden from pool_current */
		phandler_new(pool, o);
		if (h != NULL) {
			h->retired = false;
			phandler_retire(h, "settings changed by reload");
		}
	}
	TAILQ_FOREACH_SAFE(h, &pool->handlers, entry, next)
		if (!h->retired && !phandler_matches(h,
		    config_override(cfg, h->name)))
			phandler_retire(h, "no longer persistent after reload");
}

/* Build the environment of process p: the config's, plus protocol variables. */
static void
pproc_env(const struct pproc *p, struct runner_env *out)
{
	struct run_spec	spec;
	struct env_var	extra[2];
	char		index[16];

	memset(&spec, 0, sizeof(spec));
	snprintf(index, sizeof(index), "%d", p->index);
	extra[0].name = (char *)"DEFERD_PROTOCOL";
	extra[0].value = (char *)"1";
	extra[1].name = (char *)"DEFERD_PROCESS";
	extra[1].value = index;
	runner_env_process(out, p->h->pool->env, p->h->name, extra, 2);
}

static void	pproc_output(const char *, size_t, void *);
static void	pproc_output_end(void *);
static void	pproc_input_failed(int, void *);
static void	pproc_exited(int, void *);
static void	pproc_started(pid_t, void *);
static void	pproc_start_failed(const char *, enum handler_fault, void *);

/* The restart backoff is over. */
static void
pproc_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pproc_start(arg);
}

/* Arm p's restart after its backoff, and double the backoff (capped). */
static void
pproc_restart_later(struct pproc *p)
{
	timer_after(p->restart_ev, p->backoff_ms);
	p->backoff_ms = p->backoff_ms * 2 > POOL_BACKOFF_MAX_MS ?
	    POOL_BACKOFF_MAX_MS : p->backoff_ms * 2;
}

/* Start (or restart) process p; on failure try again after the backoff. */
static void
pproc_start(struct pproc *p)
{
	static const struct proc_cbs cbs = {
		.output = pproc_output,
		.output_end = pproc_output_end,
		.input_failed = pproc_input_failed,
		.exited = pproc_exited,
		.started = pproc_started,
		.start_failed = pproc_start_failed,
	};
	struct phandler		*h = p->h;
	const struct config	*cfg = h->pool->cfg;
	struct runner_env	 env;
	struct proc_spec	 ps;
	char			 err[POOL_ERRLEN], who[300];
	enum handler_fault	 fault;

	if (h->retired || p->state != PP_DOWN)
		return;
	pproc_env(p, &env);
	snprintf(who, sizeof(who), "handler %s", h->name);
	proc_spec_init(&ps, cfg, h->name, env.v, who);
	ps.who_pid = true;
	p->proc = proc_start(h->pool->procs, &ps, &cbs, p, err, sizeof(err),
	    &fault);
	runner_env_free(&env);
	if (p->proc == NULL) {
		log_warnx("handler %s: process %d: %s; trying again in %" PRId64
		    "ms", h->name, p->index, err, p->backoff_ms);
		pproc_restart_later(p);
		return;
	}
	if ((p->rbuf = evbuffer_new()) == NULL)
		fatalx("pool: cannot create a buffer");
	p->state = PP_UP;
	p->started_ms = util_mono_ms();
	free(p->fail_reason);
	p->fail_reason = NULL;
	phandler_dispatch(h);	/* its stdin takes lines before the exec */
}

/*
 * Stop p for reason (kept for the jobs it holds): sig to its group now,
 * SIGKILL after kill_grace. It takes no more jobs; its output is ignored
 * from now on.
 */
static void
pproc_stop(struct pproc *p, int sig, const char *reason)
{
	if (p->state != PP_UP && p->state != PP_CLOSING) {
		if (p->state == PP_KILLING && sig == SIGKILL)
			proc_signal(p->proc, SIGKILL);
		return;
	}
	p->state = PP_KILLING;
	if (p->fail_reason == NULL && reason != NULL)
		p->fail_reason = xstrdup(reason);
	proc_close_input(p->proc, true);
	if (sig == SIGKILL)
		proc_signal(p->proc, SIGKILL);
	else
		proc_stop(p->proc, -1);
}

/* Retire p: EOF on stdin now if it holds nothing, else after its last job. */
static void
pproc_retire(struct pproc *p)
{
	if (p->state == PP_DOWN) {
		evtimer_del(p->restart_ev);
		p->state = PP_GONE;
		return;
	}
	if (p->state != PP_UP || p->njobs > 0)
		return;
	p->state = PP_CLOSING;
	proc_close_input(p->proc, false);
	proc_kill_after(p->proc, -1);
}

/* Describe a wait status for last_error. */
static void
pproc_describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "handler process exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "handler process killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "handler process ended (status 0x%x)",
		    (unsigned)status);
}

static void	pproc_take_lines(struct pproc *, bool at_exit);

/* Whether p's stdout is still read: running, or retired and finishing. */
static bool
pproc_reading(const struct pproc *p)
{
	return (p->state == PP_UP || p->state == PP_CLOSING);
}

/*
 * p's process is gone (the supervisor frees it; what it wrote was taken at
 * EOF) or never started, as how says: retry every job it still held, and
 * restart it after the backoff (or let it go when retired).
 */
static void
pproc_gone(struct pproc *p, const char *how)
{
	struct phandler	*h = p->h;
	struct pjob	*j;
	int64_t		 lived = util_mono_ms() - p->started_ms;
	bool		 expected = p->state == PP_CLOSING;

	p->proc = NULL;
	while ((j = TAILQ_FIRST(&p->jobs)) != NULL) {
		pjob_detach(j);
		pjob_finish(j, RUN_RETRY, p->fail_reason != NULL ?
		    p->fail_reason : how);
	}
	evbuffer_free(p->rbuf);
	p->rbuf = NULL;
	if (h->retired) {
		log_info("handler %s: process %d (pid %ld) stopped: %s", h->name,
		    p->index, (long)p->pid, how);
		p->pid = -1;
		p->state = PP_GONE;
		if (phandler_finished(h))
			phandler_free(h);
		return;
	}
	if (lived >= POOL_STABLE_MS)
		p->backoff_ms = POOL_BACKOFF_MIN_MS;
	(expected ? log_info : log_warnx)("handler %s: process %d (pid %ld) "
	    "%s%s%s; restarting in %" PRId64 "ms", h->name, p->index,
	    (long)p->pid, how, p->fail_reason != NULL ? ": " : "",
	    p->fail_reason != NULL ? p->fail_reason : "", p->backoff_ms);
	p->pid = -1;
	p->state = PP_DOWN;
	pproc_restart_later(p);
}

/* p's process exited: status in waitpid form. */
static void
pproc_exited(int status, void *arg)
{
	char	how[128];

	pproc_describe(status, how, sizeof(how));
	pproc_gone(arg, how);
}

/* p's process runs. */
static void
pproc_started(pid_t pid, void *arg)
{
	struct pproc	*p = arg;

	p->pid = pid;
	log_info("handler %s: process %d started, pid %ld", p->h->name,
	    p->index, (long)pid);
}

/* p's process passed the checks but could not be started (exec failed). */
static void
pproc_start_failed(const char *why, enum handler_fault fault, void *arg)
{
	(void)fault;	/* a persistent process is tried again either way */
	pproc_gone(arg, why);
}

/* Writing p's stdin failed: it closed it, so it takes no more jobs. */
static void
pproc_input_failed(int error, void *arg)
{
	struct pproc	*p = arg;

	log_warnx("handler %s: process %d (pid %ld) closed its stdin (%s)",
	    p->h->name, p->index, (long)p->pid, strerror(error));
	pproc_stop(p, SIGTERM, "handler process closed its stdin");
}

/* Hand job j to process p: queue its line and hold it. */
static void
pproc_give(struct pproc *p, struct pjob *j)
{
	j->proc = p;
	TAILQ_INSERT_TAIL(&p->jobs, j, entry);
	p->njobs++;
	proc_write_give(p->proc, j->line, j->line_len);
	j->line = NULL;
}

/* The running process of h with the most room, or NULL when all are full. */
static struct pproc *
phandler_pick(struct phandler *h)
{
	struct pproc	*best = NULL;

	for (int i = 0; i < h->nprocs; i++) {
		struct pproc *p = &h->procs[i];

		if (p->state == PP_UP && p->njobs < h->inflight &&
		    (best == NULL || p->njobs < best->njobs))
			best = p;
	}
	return (best);
}

/* Give pending jobs to processes with room. */
static void
phandler_dispatch(struct phandler *h)
{
	struct pproc	*p;
	struct pjob	*j;

	if (h->retired)
		return;
	while ((j = TAILQ_FIRST(&h->pending)) != NULL &&
	    (p = phandler_pick(h)) != NULL) {
		pjob_unpend(j);
		pproc_give(p, j);
	}
}

/* A protocol violation: stop p at once; its jobs are retried with why. */
static void
pproc_violation(struct pproc *p, const char *why)
{
	char	*reason;

	log_errorx("handler %s: process %d (pid %ld): %s; restarting it",
	    p->h->name, p->index, (long)p->pid, why);
	xasprintf(&reason, "handler process restarted: %s", why);
	pproc_stop(p, SIGKILL, reason);
	free(reason);
}

/* A job left running p: give it another, or EOF when p is retired and idle. */
static void
pproc_job_left(struct pproc *p)
{
	if (p->h->retired)
		pproc_retire(p);
	else
		phandler_dispatch(p->h);
}

/* Apply one decoded reply to the job it names. */
static void
pproc_reply(struct pproc *p, struct proto_reply *r)
{
	size_t		 max = (size_t)p->h->pool->cfg->handlers.max_output;
	struct pjob	*j;
	char		 id[PROTO_ID_MAX * 4 + 4];

	TAILQ_FOREACH(j, &p->jobs, entry)
		if (strcmp(j->id, r->id) == 0)
			break;
	if (j == NULL) {
		util_escape(r->id, strlen(r->id), id, sizeof(id));
		log_limited(&p->unknown_limit, POOL_LOG_MS, LOG_LEVEL_WARNING,
		    "handler %s: process %d (pid %ld): reply for unknown job %s "
		    "ignored (not held by this process, or answered already)",
		    p->h->name, p->index, (long)p->pid, id);
		return;
	}
	pjob_detach(j);
	pproc_job_left(p);
	if (r->status == RUN_DONE && r->result != NULL) {
		j->output = r->result;
		j->output_len = r->result_len;
		r->result = NULL;
		if (j->output_len > max) {
			j->output_len = max;
			j->truncated = true;
		}
	}
	if (r->status == RUN_RETRY)
		pjob_finish(j, RUN_RETRY, r->error != NULL ? r->error :
		    "the handler asked for a retry");
	else if (r->status == RUN_DEAD)
		pjob_finish(j, RUN_DEAD, r->error != NULL ? r->error :
		    "the handler said the job is dead");
	else
		pjob_finish(j, RUN_DONE, NULL);
}

/* Handle one complete line of stdout; false when p was stopped for it. */
static bool
pproc_line(struct pproc *p, const char *line, size_t len)
{
	struct proto_reply	r;
	char			err[POOL_ERRLEN], why[POOL_ERRLEN + 160];
	char			esc[100];

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return (true);	/* blank lines are allowed */
	if (proto_parse_reply(line, len, &r, err, sizeof(err)) == -1) {
		/*
		 * The line is quoted: each job the process held gets this as
		 * its last_error, and the fault may be another job's line.
		 */
		util_escape(line, len, esc, sizeof(esc));
		snprintf(why, sizeof(why), "%s in the reply line \"%s\" on stdout "
		    "(the process held this job; the line may be another's)",
		    err, esc);
		pproc_violation(p, why);
		return (false);
	}
	pproc_reply(p, &r);
	proto_reply_free(&r);
	return (true);
}

/*
 * Handle every complete line in p's stdout buffer (and, at exit, a last
 * line without '\n'). A line longer than max_output + 64 KiB stops p.
 */
static void
pproc_take_lines(struct pproc *p, bool at_exit)
{
	size_t		 max = (size_t)p->h->pool->cfg->handlers.max_output +
			    POOL_LINE_SLACK;
	struct evbuffer_ptr eol;
	size_t		 len, have;
	char		 why[128];
	const char	*line;

	while (pproc_reading(p) && (have = evbuffer_get_length(p->rbuf)) > 0) {
		eol = evbuffer_search_eol(p->rbuf, NULL, NULL, EVBUFFER_EOL_LF);
		len = eol.pos == -1 ? have : (size_t)eol.pos;
		if (len > max) {
			snprintf(why, sizeof(why), "reply line too long (more "
			    "than %zu bytes) on stdout", max);
			pproc_violation(p, why);
			break;
		}
		if (eol.pos == -1 && !at_exit)
			return;
		line = (const char *)evbuffer_pullup(p->rbuf, (ev_ssize_t)
		    (eol.pos == -1 ? len : len + 1));
		if (!pproc_line(p, line, len))
			break;
		evbuffer_drain(p->rbuf, eol.pos == -1 ? len : len + 1);
	}
	evbuffer_drain(p->rbuf, evbuffer_get_length(p->rbuf));
}

/* Bytes of p's stdout: handle the complete lines (ignored once stopped). */
static void
pproc_output(const char *buf, size_t len, void *arg)
{
	struct pproc	*p = arg;

	if (!pproc_reading(p))
		return;
	if (evbuffer_add(p->rbuf, buf, len) == -1)
		fatalx("pool: out of memory reading stdout");
	pproc_take_lines(p, false);
}

/* p's stdout is at EOF: a last line without '\n'; the process is going. */
static void
pproc_output_end(void *arg)
{
	struct pproc	*p = arg;

	if (pproc_reading(p))
		pproc_take_lines(p, true);
	if (p->state == PP_UP && !proc_exited(p->proc))
		pproc_stop(p, SIGTERM, NULL);
}

/*
 * Whether h may run jobs: handler_check passed within the last second. A
 * handler that fails it (removed, made unsafe) is retired.
 */
static bool
phandler_check(struct phandler *h, char *err, size_t errlen,
    enum handler_fault *fault)
{
	const struct config	*cfg = h->pool->cfg;
	int64_t			 now = util_mono_ms();

	*fault = HANDLER_FAULT_NONE;
	if (now - h->checked_ms < POOL_CHECK_MS)
		return (true);
	if (handler_check(cfg->handlers.dir, h->name, err, errlen,
	    fault) == -1) {
		if (*fault == HANDLER_FAULT_FILE || *fault == HANDLER_FAULT_NAME)
			phandler_retire(h, err);
		return (false);
	}
	h->checked_ms = now;
	return (true);
}

struct pjob *
pool_submit(struct pool *pool, const struct run_spec *spec,
    int64_t timeout_ms, runner_done_cb cb, void *arg)
{
	struct pjob	*j = xcalloc(1, sizeof(*j));
	struct phandler	*h;
	char		 err[POOL_ERRLEN];
	enum handler_fault fault;

	j->pool = pool;
	j->id = xstrdup(spec->job_id);
	j->handler = xstrdup(spec->handler);
	j->cb = cb;
	j->arg = arg;
	j->start_ms = util_mono_ms();
	j->timeout_ms = timeout_ms;
	h = pool_current(pool, spec->handler);
	if (h == NULL) {
		const struct handler_override *o = config_override(pool->cfg,
		    spec->handler);

		if (o == NULL || o->mode != HANDLER_PERSISTENT) {
			pjob_finish(j, RUN_RETRY, "handler is not persistent");
			return (j);
		}
		h = phandler_new(pool, o);
	}
	if (!phandler_check(h, err, sizeof(err), &fault)) {
		pjob_finish(j, fault == HANDLER_FAULT_NAME ? RUN_DEAD :
		    fault == HANDLER_FAULT_FILE ? RUN_MISSING : RUN_UNSTARTED, err);
		return (j);
	}
	j->line = proto_job_line(spec, util_real_ms() + timeout_ms,
	    &j->line_len);
	if (timeout_ms > 0) {
		j->deadline_ms = j->start_ms + timeout_ms;
		TAILQ_INSERT_TAIL(&pool->deadlines, j, deadline_entry);
		pool_deadline_arm(pool, j->deadline_ms);
	}
	pjob_pend(j, h);
	phandler_dispatch(h);
	return (j);
}

void
pool_kill(struct pjob *j, const char *reason, int64_t grace_ms)
{
	struct pproc	*p = j->proc;
	char		*why;

	if (j->finished)
		return;
	if (j->killed || j->timed_out) {	/* already stopping: maybe sooner */
		if (p != NULL && p->state == PP_KILLING)
			proc_kill_after(p->proc, grace_ms);
		return;
	}
	j->killed = true;
	j->error = xstrdup(reason != NULL ? reason : "killed");
	if (p == NULL) {
		pjob_unpend(j);
		pjob_finish(j, RUN_RETRY, NULL);
		return;
	}
	log_warnx("job %s (%s): stopping handler process %d (pid %ld): %s",
	    j->id, j->handler, p->index, (long)p->pid, j->error);
	xasprintf(&why, "handler process stopped: job %s: %s", j->id, j->error);
	pproc_stop(p, SIGTERM, why);
	free(why);
	if (p->state == PP_KILLING)
		proc_kill_after(p->proc, grace_ms);
}

void
pool_free(struct pool *pool)
{
	struct phandler	*h;
	struct pjob	*j;

	if (pool == NULL)
		return;
	while ((h = TAILQ_FIRST(&pool->handlers)) != NULL) {
		for (int i = 0; i < h->nprocs; i++) {
			struct pproc *p = &h->procs[i];

			while ((j = TAILQ_FIRST(&p->jobs)) != NULL) {
				pjob_detach(j);
				TAILQ_INSERT_TAIL(&pool->done, j, entry);
			}
			proc_abandon(p->proc, SIGTERM);	/* EOF, then SIGTERM */
			p->proc = NULL;
			if (p->rbuf != NULL)
				evbuffer_free(p->rbuf);
			p->state = PP_GONE;
		}
		while ((j = TAILQ_FIRST(&h->pending)) != NULL) {
			TAILQ_REMOVE(&h->pending, j, entry);
			TAILQ_INSERT_TAIL(&pool->done, j, entry);
		}
		phandler_free(h);
	}
	while ((j = TAILQ_FIRST(&pool->done)) != NULL) {
		TAILQ_REMOVE(&pool->done, j, entry);
		pjob_free(j);
	}
	event_free(pool->deliver_ev);
	event_free(pool->deadline_ev);
	free(pool);
}
