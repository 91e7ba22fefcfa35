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
 *   - runner_start checks the handler (handler_check), makes three
 *     pipes and posix_spawns dir/name in a new session (so its pid is also
 *     its process group), with default signal dispositions, an empty signal
 *     mask, only fds 0-2 and a built-from-scratch environment. Never a shell.
 *   - stdin is written from an EV_WRITE event on a non-blocking pipe and
 *     closed after the last byte, on EPIPE, or when the handler exits.
 *   - stdout is kept up to max_output bytes, the rest is read and dropped;
 *     stderr is logged line by line, escaped, within stderr_log.c's budget.
 *   - Children are reaped from one SIGCHLD signal event with a
 *     waitpid(-1, WNOHANG) loop (tmux, smtpd), never with a blocking wait.
 *     We do not use pidfds: this is the one reaping path of the daemon.
 *   - A run is finished when its exit status is known and both output
 *     pipes are at EOF (tmux job.c: two-event completion). Grandchildren can
 *     hold the pipes open, so the wait for EOF after the exit is bounded
 *     (RUNNER_DRAIN_MS, or kill_grace if smaller): then the group gets
 *     SIGKILL and our ends are closed.
 *   - When a run finishes, whatever is left of its process group gets
 *     SIGKILL, so a finished run leaves nothing behind (a handler that wants
 *     a long-lived process must setsid it out of the group on purpose).
 *   - Timeout or runner_kill: SIGTERM to the group, SIGKILL after
 *     kill_grace.
 * Every callback is delivered from the loop, never from inside
 * runner_start, exactly once, and none after runner_free.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
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
#include "runner.h"
#include "runner_env.h"
#include "spawn.h"
#include "stderr_log.h"
#include "timer.h"
#include "units.h"
#include "util.h"
#include "xmalloc.h"

#define RUNNER_DRAIN_MS		1000		/* wait for EOF after the exit */
#define RUNNER_CHUNK		65536		/* one read() */
#define RUNNER_READS_PER_EVENT	16		/* a flood cannot hold the loop */
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
	pid_t			 pid;		/* and process group; -1 if not started */
	int			 status;	/* waitpid form, once exited */
	bool			 exited;
	bool			 finished;
	bool			 term_sent;	/* SIGTERM sent: timeout_ev is the grace */
	bool			 failed;	/* never started: outcome and error below */
	enum run_outcome	 fail_outcome;
	bool			 timed_out;
	bool			 killed;
	char			*error;		/* failure or kill reason */

	int64_t			 start_ms;
	int64_t			 timeout_ms;	/* 0: none */
	int64_t			 kill_grace_ms;

	int			 in_fd;
	int			 out_fd;
	int			 err_fd;
	struct event		*in_ev;
	struct event		*out_ev;
	struct event		*err_ev;
	struct event		*timeout_ev;	/* the timeout, then the kill grace */
	struct event		*finish_ev;	/* bounded drain after exit; deferred finish */

	unsigned char		*payload;
	size_t			 payload_len;
	size_t			 payload_off;

	char			*out;
	size_t			 out_len;
	size_t			 out_cap;
	size_t			 max_output;
	bool			 out_truncated;

	struct stderr_log	 err;		/* stderr into the log, within its budget */
	char			*err_who;	/* "job ID (handler)" */
};

TAILQ_HEAD(run_list, run);

struct runner {
	struct event_base	*base;
	const struct config	*cfg;
	struct runner_env	 env;		/* cfg's part of every handler env */
	struct pool		*pool;		/* persistent handlers (pool.c) */
	struct event		*sigchld;
	struct run_list		 runs;
	size_t			 nruns;
};

static void	runner_sigchld_cb(int, short, void *);
static struct run *runner_find(struct runner *, pid_t);

static struct run *run_new(struct runner *, const struct run_spec *,
		    runner_done_cb, void *);
static void	run_fail_later(struct run *, enum run_outcome, const char *);
static int	run_spawn(struct run *, const struct config *,
		    const struct run_spec *, char *, size_t, enum run_outcome *);
static void	run_arm_io(struct run *);
static void	run_stdin_cb(int, short, void *);
static void	run_stdout_cb(int, short, void *);
static void	run_stderr_cb(int, short, void *);
static bool	run_read(struct run *, int *, struct event **, bool);
static void	run_out_append(struct run *, const char *, size_t);
static void	run_exited(struct run *, int);
static void	run_timeout_cb(int, short, void *);
static void	run_finish_cb(int, short, void *);
static void	run_signal_group(struct run *, int);
static void	run_term(struct run *);
static void	run_finish(struct run *);
static void	run_result(struct run *, struct run_result *, char *, size_t);
static void	run_free(struct run *);

/* Create a runner on base that owns SIGCHLD there. */
struct runner *
runner_new(struct event_base *base, const struct config *cfg)
{
	struct runner		*r;
	struct sigaction	 sa;

	/*
	 * Writing to a handler that has closed its stdin must give EPIPE, not
	 * kill the daemon. deferd ignores SIGPIPE at start-up; make sure of it
	 * here too, since the runner cannot work without it.
	 */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		log_debug("runner: ignoring SIGPIPE");
		signal(SIGPIPE, SIG_IGN);
	}

	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->cfg = cfg;
	runner_env_base(&r->env, cfg);
	r->pool = pool_new(base, cfg, &r->env);
	TAILQ_INIT(&r->runs);
	r->sigchld = evsignal_new(base, SIGCHLD, runner_sigchld_cb, r);
	if (r->sigchld == NULL || event_add(r->sigchld, NULL) == -1)
		fatalx("runner: cannot add the SIGCHLD event");
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

/* The pool answered a persistent run: deliver it as run_finish does. */
static void
run_pool_done(const struct run_result *res, void *arg)
{
	struct run	*run = arg;
	struct runner	*r = run->runner;

	run->pjob = NULL;
	run->finished = true;
	TAILQ_REMOVE(&r->runs, run, entry);
	r->nruns--;
	run->runner = NULL;
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

/* Start a run; see runner.h. Failures are delivered later from the loop. */
/* A payload given to runner_start that no run took: free it. */
static void
spec_drop_payload(const struct run_spec *spec)
{
	if (spec->payload_give)
		free((void *)spec->payload);
}

struct run *
runner_start(struct runner *r, const struct run_spec *spec,
    runner_done_cb cb, void *arg)
{
	const struct config	*cfg = r->cfg;
	struct run		*run;
	enum run_outcome	 outcome;
	enum handler_fault	 fault;
	char			 err[RUNNER_ERRLEN];

	run = run_new(r, spec, cb, arg);
	if (config_handler_persistent(cfg, run->handler)) {
		run->pjob = pool_submit(r->pool, spec, run->timeout_ms,
		    run_pool_done, run);	/* the job line has a copy */
		spec_drop_payload(spec);
		return (run);
	}
	if (handler_check(cfg->handlers.dir, run->handler, err, sizeof(err),
	    &fault) == -1) {
		/* Only a bad name is logged here: the owner reports the rest. */
		if (fault == HANDLER_FAULT_NAME)
			log_warnx("job %s: %s", run->log_id, err);
		run_fail_later(run, fault == HANDLER_FAULT_NAME ? RUN_DEAD :
		    fault == HANDLER_FAULT_FILE ? RUN_MISSING : RUN_UNSTARTED,
		    err);
		spec_drop_payload(spec);
		return (run);
	}
	if (run_spawn(run, cfg, spec, err, sizeof(err), &outcome) == -1) {
		log_debug("job %s (%s): %s", run->log_id, run->handler, err);
		run_fail_later(run, outcome, err);
		spec_drop_payload(spec);
		return (run);
	}
	log_debug("job %s (%s): started, pid %ld", run->log_id, run->handler,
	    (long)run->pid);
	failpoint_crash("after_exec");	/* spawned, payload not yet written */
	run_arm_io(run);
	if (run->timeout_ms > 0) {
		timer_after(run->timeout_ev, run->timeout_ms);
	}
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
	}
	if (grace_ms < run->kill_grace_ms)
		run->kill_grace_ms = grace_ms;
	if (!run->term_sent)
		run_term(run);
	else if (!run->exited)
		timer_after(run->timeout_ev, run->kill_grace_ms);
}

bool
runner_exited(const struct run *run)
{
	return (run->pjob == NULL && (run->exited || run->finished));
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
	int		 status;

	if (r == NULL)
		return;
	while ((run = TAILQ_FIRST(&r->runs)) != NULL) {
		TAILQ_REMOVE(&r->runs, run, entry);
		run->runner = NULL;
		if (run->pid > 0) {
			run_signal_group(run, SIGKILL);
			if (!run->exited)
				(void)waitpid(run->pid, &status, WNOHANG);
		}
		run_free(run);
	}
	pool_free(r->pool);
	event_free(r->sigchld);
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

/* SIGCHLD: reap every child that has exited, without blocking. */
static void
runner_sigchld_cb(int sig, short what, void *arg)
{
	struct runner	*r = arg;
	struct run	*run;
	pid_t		 pid;
	int		 status;

	(void)sig;
	(void)what;
	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0)
			break;
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_warn("runner: waitpid");
			break;
		}
		if ((run = runner_find(r, pid)) == NULL) {
			if (!pool_reaped(r->pool, pid, status))
				log_debug("runner: reaped unknown child %ld",
				    (long)pid);
			continue;
		}
		/* Never finishes synchronously, so r stays valid here. */
		run_exited(run, status);
	}
}

/* The unfinished run whose handler has this pid, or NULL. */
static struct run *
runner_find(struct runner *r, pid_t pid)
{
	struct run	*run;

	TAILQ_FOREACH(run, &r->runs, entry)
		if (run->pid == pid && !run->exited)
			return (run);
	return (NULL);
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
	xasprintf(&run->err_who, "job %s (%s)", run->log_id, run->handler);
	stderr_log_init(&run->err);
	run->cb = cb;
	run->arg = arg;
	run->pid = -1;
	run->in_fd = run->out_fd = run->err_fd = -1;
	run->start_ms = util_mono_ms();
	run->timeout_ms = spec->timeout_ms > 0 ? spec->timeout_ms :
	    (cfg->handlers.timeout_ms > 0 ? cfg->handlers.timeout_ms : 0);
	run->kill_grace_ms = cfg->handlers.kill_grace_ms > 0 ?
	    cfg->handlers.kill_grace_ms : 0;
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

/*
 * Start the handler (spawn.c) with the run's environment. Returns 0, or -1
 * with the reason in err and the outcome it means.
 */
static int
run_spawn(struct run *run, const struct config *cfg,
    const struct run_spec *spec, char *err, size_t errlen,
    enum run_outcome *outcome)
{
	struct runner_env	 env;
	struct spawn_child	 child;
	const char		*cwd;
	bool			 permanent;
	int			 rc;

	cwd = config_handler_cwd(cfg);
	runner_env_run(&env, &run->runner->env, spec);
	rc = spawn_handler(cfg->handlers.dir, run->handler, cwd, env.v, &child,
	    err, errlen, &permanent);
	runner_env_free(&env);
	if (rc == -1) {
		*outcome = permanent ? RUN_MISSING : RUN_UNSTARTED;
		return (-1);
	}
	run->pid = child.pid;
	run->in_fd = child.in_fd;
	run->out_fd = child.out_fd;
	run->err_fd = child.err_fd;
	if (spec->payload_len > 0) {
		run->payload = spec->payload_give ? (void *)spec->payload :
		    xmemdup(spec->payload, spec->payload_len);
		run->payload_len = spec->payload_len;
	} else if (spec->payload_give)
		free((void *)spec->payload);
	return (0);
}

/* Add the pipe events; an empty payload closes stdin at once. */
static void
run_arm_io(struct run *run)
{
	struct event_base	*base = run->runner->base;

	run->out_ev = event_new(base, run->out_fd, EV_READ|EV_PERSIST,
	    run_stdout_cb, run);
	run->err_ev = event_new(base, run->err_fd, EV_READ|EV_PERSIST,
	    run_stderr_cb, run);
	if (run->out_ev == NULL || run->err_ev == NULL ||
	    event_add(run->out_ev, NULL) == -1 ||
	    event_add(run->err_ev, NULL) == -1)
		fatalx("runner: cannot add pipe events");
	if (run->payload_len == 0) {
		spawn_close(&run->in_fd, &run->in_ev);
		return;
	}
	run->in_ev = event_new(base, run->in_fd, EV_WRITE|EV_PERSIST,
	    run_stdin_cb, run);
	if (run->in_ev == NULL || event_add(run->in_ev, NULL) == -1)
		fatalx("runner: cannot add the stdin event");
}

/* stdin is writable: write what fits, close after the last byte or EPIPE. */
static void
run_stdin_cb(int fd, short what, void *arg)
{
	struct run	*run = arg;
	ssize_t		 n;

	(void)what;
	while (run->payload_off < run->payload_len) {
		n = write(fd, run->payload + run->payload_off,
		    run->payload_len - run->payload_off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			if (errno == EPIPE)
				log_debug("job %s (%s): stdin closed after %zu "
				    "of %zu bytes", run->log_id, run->handler,
				    run->payload_off, run->payload_len);
			else
				log_warn("job %s (%s): writing stdin",
				    run->log_id, run->handler);
			break;
		}
		run->payload_off += (size_t)n;
	}
	spawn_close(&run->in_fd, &run->in_ev);
	free(run->payload);
	run->payload = NULL;
}

/* stdout is readable. */
static void
run_stdout_cb(int fd, short what, void *arg)
{
	struct run	*run = arg;

	(void)fd;
	(void)what;
	if (run_read(run, &run->out_fd, &run->out_ev, false) &&
	    run->exited && run->err_fd == -1)
		run_finish(run);
}

/* stderr is readable. */
static void
run_stderr_cb(int fd, short what, void *arg)
{
	struct run	*run = arg;

	(void)fd;
	(void)what;
	if (run_read(run, &run->err_fd, &run->err_ev, true) &&
	    run->exited && run->out_fd == -1)
		run_finish(run);
}

/*
 * Read a bounded number of chunks from an output pipe (level-triggered, so
 * the event comes back while there is more). Returns true if the pipe was
 * closed: EOF or error.
 */
static bool
run_read(struct run *run, int *fdp, struct event **evp, bool is_stderr)
{
	static char	buf[RUNNER_CHUNK];
	ssize_t		n;

	for (int i = 0; i < RUNNER_READS_PER_EVENT; i++) {
		n = read(*fdp, buf, sizeof(buf));
		if (n > 0) {
			if (is_stderr)
				stderr_log_feed(&run->err, run->err_who, buf,
				    (size_t)n);
			else
				run_out_append(run, buf, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return (false);
		if (n == -1)
			log_warn("job %s (%s): reading %s", run->log_id,
			    run->handler, is_stderr ? "stderr" : "stdout");
		if (is_stderr)
			stderr_log_end(&run->err, run->err_who);
		spawn_close(fdp, evp);
		return (true);
	}
	return (false);
}

/* Keep stdout up to max_output; drop the rest and remember we did. */
static void
run_out_append(struct run *run, const char *buf, size_t len)
{
	size_t	room = run->max_output - run->out_len;

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

/*
 * The handler exited: stop feeding stdin and the timeout, then finish from
 * the loop once both pipes are closed, or after a bounded drain.
 */
static void
run_exited(struct run *run, int status)
{
	int64_t		drain = RUNNER_DRAIN_MS;

	run->exited = true;
	run->status = status;
	spawn_close(&run->in_fd, &run->in_ev);
	evtimer_del(run->timeout_ev);
	if (run->out_fd == -1 && run->err_fd == -1)
		drain = 0;
	else if (run->kill_grace_ms < drain)
		drain = run->kill_grace_ms;
	timer_after(run->finish_ev, drain);
}

/* The timeout (SIGTERM) or, after that, the kill grace (SIGKILL). */
static void
run_timeout_cb(int fd, short what, void *arg)
{
	struct run	*run = arg;
	char		 d[32];

	(void)fd;
	(void)what;
	if (run->term_sent) {
		log_warnx("job %s (%s): still running %lldms after SIGTERM, "
		    "sending SIGKILL", run->log_id, run->handler,
		    (long long)run->kill_grace_ms);
		run_signal_group(run, SIGKILL);
		return;
	}
	run->timed_out = true;
	units_format_duration(run->timeout_ms, d, sizeof(d));
	log_warnx("job %s (%s): timed out after %s, sending SIGTERM to "
	    "process group %ld", run->log_id, run->handler, d, (long)run->pid);
	run_term(run);
}

/* SIGTERM the group now and arm the SIGKILL after kill_grace. */
static void
run_term(struct run *run)
{

	run->term_sent = true;
	run_signal_group(run, SIGTERM);
	if (run->exited)
		return;		/* the drain timer bounds what is left */
	timer_after(run->timeout_ev, run->kill_grace_ms);
}

/*
 * Bounded drain over, or a deferred finish: if grandchildren still hold the
 * pipes, kill the group and stop waiting for them.
 */
static void
run_finish_cb(int fd, short what, void *arg)
{
	struct run	*run = arg;

	(void)fd;
	(void)what;
	if (!run->failed && (run->out_fd != -1 || run->err_fd != -1)) {
		log_warnx("job %s (%s): output still open after the handler "
		    "exited, killing process group %ld", run->log_id,
		    run->handler, (long)run->pid);
		run_signal_group(run, SIGKILL);
		if (run->out_fd != -1)
			(void)run_read(run, &run->out_fd, &run->out_ev, false);
		if (run->err_fd != -1)
			(void)run_read(run, &run->err_fd, &run->err_ev, true);
		stderr_log_end(&run->err, run->err_who);
	}
	run_finish(run);
}

/* Send sig to the run's process group; ESRCH (all gone) is fine. */
static void
run_signal_group(struct run *run, int sig)
{
	char	who[300];

	snprintf(who, sizeof(who), "job %s (%s)", run->log_id, run->handler);
	spawn_signal_group(run->pid, sig, who);
}

/*
 * Deliver the result and free the run. The run leaves the runner first, so
 * the callback may start runs, kill others or even free the runner.
 */
static void
run_finish(struct run *run)
{
	struct runner		*r = run->runner;
	struct run_result	 res;
	char			 err[RUNNER_ERRLEN];

	run->finished = true;
	TAILQ_REMOVE(&r->runs, run, entry);
	r->nruns--;
	run->runner = NULL;

	run_signal_group(run, SIGKILL);	/* nothing of a finished run survives */
	spawn_close(&run->in_fd, &run->in_ev);
	spawn_close(&run->out_fd, &run->out_ev);
	spawn_close(&run->err_fd, &run->err_ev);
	evtimer_del(run->timeout_ev);
	evtimer_del(run->finish_ev);

	run_result(run, &res, err, sizeof(err));
	if (res.outcome == RUN_DONE)
		log_debug("job %s (%s): done in %lldms", run->log_id,
		    run->handler, (long long)res.duration_ms);
	else
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

/* Free a run that is no longer in a runner's list. */
static void
run_free(struct run *run)
{
	spawn_close(&run->in_fd, &run->in_ev);
	spawn_close(&run->out_fd, &run->out_ev);
	spawn_close(&run->err_fd, &run->err_ev);
	if (run->timeout_ev != NULL)
		event_free(run->timeout_ev);
	if (run->finish_ev != NULL)
		event_free(run->finish_ev);
	free(run->job_id);
	free(run->handler);
	free(run->log_id);
	free(run->err_who);
	free(run->error);
	free(run->payload);
	free(run->out);
	free(run);
}

