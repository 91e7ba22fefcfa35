/* SPDX-License-Identifier: MIT */
/*
 * The process supervisor; see proc.h. Children are reaped from one SIGCHLD
 * signal event with a waitpid(-1, WNOHANG) loop (tmux, smtpd), never with a
 * blocking wait; we do not use pidfds: this is the one reaping path of the
 * daemon. A proc ends in two steps (tmux job.c): its exit status is known,
 * and both output pipes are at EOF; the wait for the second is bounded.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "spawn.h"
#include "stderr_log.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define PROC_CHUNK		65536	/* one read() */
#define PROC_READS_PER_EVENT	16	/* a flood cannot hold the loop */

struct proc {
	struct procs		*procs;		/* NULL once it left the list */
	LIST_ENTRY(proc)	 entry;
	struct proc_cbs		 cb;
	void			*arg;
	char			*who;
	bool			 who_pid;	/* " (pid N)" once started; stderr read from then */
	struct spawn_req	*req;		/* starting: the spawner's request */
	int			 pending_sig;	/* sent once started (SIGKILL wins) */
	pid_t			 pid;		/* and process group; -1 while starting */
	int			 status;	/* waitpid form, once exited */
	bool			 exited;
	int64_t			 grace_ms;	/* kill_grace, or a shorter deadline */
	int64_t			 kill_at_ms;	/* monotonic; 0: no deadline */
	int64_t			 kill_armed_ms;	/* that deadline's length, for the log */

	int			 in_fd, out_fd, err_fd;
	struct event		*in_ev, *out_ev, *err_ev;
	struct event		*flush_ev;	/* write stdin at the end of this loop turn */
	struct evbuffer		*wbuf;		/* queued for stdin */
	bool			 close_input;	/* EOF once wbuf is written */
	struct event		*kill_ev;	/* the SIGKILL deadline */
	struct event		*drain_ev;	/* the bounded drain after the exit */
	struct stderr_log	 err;
};
LIST_HEAD(proc_list, proc);

/*
 * A child reaped before the loop heard that the spawner started it (the
 * thread had not handed it back yet): its status, for when it does. Kept
 * PROC_EARLY_KEEP_MS: the spawner hands a pid back within milliseconds,
 * and what is never claimed (a child of a cancelled start) must not pile up.
 */
struct proc_early_exit {
	pid_t	pid;
	int	status;
	int64_t	at_ms;		/* monotonic */
};
#define PROC_EARLY_KEEP_MS	60000

struct procs {
	struct event_base	*base;
	struct event		*sigchld;
	struct spawner		*spawner;
	struct proc_list	 live;
	size_t			 nlive;
	struct proc_early_exit	*early;
	size_t			 nearly;
};

static void	procs_sigchld_cb(evutil_socket_t, short, void *);
static void	proc_stdin_cb(evutil_socket_t, short, void *);
static void	proc_stdout_cb(evutil_socket_t, short, void *);
static void	proc_stderr_cb(evutil_socket_t, short, void *);
static void	proc_kill_cb(evutil_socket_t, short, void *);
static void	proc_drain_cb(evutil_socket_t, short, void *);
static void	proc_free(struct proc *);
static void	proc_unlist(struct proc *);

struct procs *
procs_new(struct event_base *base)
{
	struct procs		*ps;
	struct sigaction	 sa;

	/*
	 * Writing to a handler that has closed its stdin must give EPIPE, not
	 * kill the daemon. deferd ignores SIGPIPE at start-up; make sure of it
	 * here too, since no handler can be fed without it.
	 */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		log_debug("procs: ignoring SIGPIPE");
		signal(SIGPIPE, SIG_IGN);
	}
	ps = xcalloc(1, sizeof(*ps));
	ps->base = base;
	LIST_INIT(&ps->live);
	ps->sigchld = evsignal_new(base, SIGCHLD, procs_sigchld_cb, ps);
	if (ps->sigchld == NULL || event_add(ps->sigchld, NULL) == -1)
		fatalx("procs: cannot add the SIGCHLD event");
	ps->spawner = spawner_new(base);
	return (ps);
}

void
procs_free(struct procs *ps)
{
	struct proc	*p;

	if (ps == NULL)
		return;
	while ((p = LIST_FIRST(&ps->live)) != NULL)
		proc_abandon(p, SIGKILL);
	spawner_free(ps->spawner);
	event_free(ps->sigchld);
	free(ps->early);
	free(ps);
}

size_t
procs_count(const struct procs *ps)
{
	return (ps->nlive);
}

/* The live proc with this pid that has not exited yet, or NULL. */
static struct proc *
procs_find(struct procs *ps, pid_t pid)
{
	struct proc	*p;

	LIST_FOREACH(p, &ps->live, entry)
		if (p->pid == pid && !p->exited)
			return (p);
	return (NULL);
}

/*
 * The process exited: no more stdin and no deadline; end it from the loop
 * once both pipes are closed, or after the bounded drain. Never ends it
 * here, so the SIGCHLD loop's supervisor stays valid.
 */
static void
proc_reaped(struct proc *p, int status)
{
	int64_t	drain = PROC_DRAIN_MS;

	p->exited = true;
	p->status = status;
	proc_close_input(p, true);
	evtimer_del(p->kill_ev);
	p->kill_at_ms = 0;
	if (p->out_fd == -1 && p->err_fd == -1)
		drain = 0;
	else if (p->grace_ms < drain)
		drain = p->grace_ms;
	timer_after(p->drain_ev, drain);
}

/* Keep the status of a child reaped before its start was handed back. */
static void
procs_early_add(struct procs *ps, pid_t pid, int status)
{
	int64_t	now = util_mono_ms();
	size_t	kept = 0;

	for (size_t i = 0; i < ps->nearly; i++)
		if (now - ps->early[i].at_ms < PROC_EARLY_KEEP_MS)
			ps->early[kept++] = ps->early[i];
	ps->early = xreallocarray(ps->early, kept + 1, sizeof(*ps->early));
	ps->early[kept] = (struct proc_early_exit){ pid, status, now };
	ps->nearly = kept + 1;
	log_debug("procs: reaped child %ld before its start was handed back",
	    (long)pid);
}

/* SIGCHLD: reap every child that has exited, without blocking. */
static void
procs_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct procs	*ps = arg;
	struct proc	*p;
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
				log_warn("procs: waitpid");
			break;
		}
		if ((p = procs_find(ps, pid)) != NULL)
			proc_reaped(p, status);
		else
			procs_early_add(ps, pid, status);
	}
}

/* Free *evp and close *fdp, if there are any, and clear both. */
static void
proc_close_fd(int *fdp, struct event **evp)
{
	if (*evp != NULL) {
		event_free(*evp);
		*evp = NULL;
	}
	if (*fdp != -1) {
		close(*fdp);
		*fdp = -1;
	}
}

/* Add the events of a started process's pipes and timers. */
static void
proc_arm(struct proc *p, struct event_base *base)
{
	p->in_ev = event_new(base, p->in_fd, EV_WRITE|EV_PERSIST,
	    proc_stdin_cb, p);
	p->out_ev = event_new(base, p->out_fd, EV_READ|EV_PERSIST,
	    proc_stdout_cb, p);
	p->err_ev = event_new(base, p->err_fd, EV_READ|EV_PERSIST,
	    proc_stderr_cb, p);
	p->kill_ev = evtimer_new(base, proc_kill_cb, p);
	p->drain_ev = evtimer_new(base, proc_drain_cb, p);
	p->flush_ev = event_new(base, -1, 0, proc_stdin_cb, p);
	p->wbuf = evbuffer_new();
	if (p->in_ev == NULL || p->out_ev == NULL || p->err_ev == NULL ||
	    p->kill_ev == NULL || p->drain_ev == NULL || p->flush_ev == NULL ||
	    p->wbuf == NULL || event_add(p->out_ev, NULL) == -1 ||
	    (!p->who_pid && event_add(p->err_ev, NULL) == -1))
		fatalx("procs: cannot add a handler's events");
}

void
proc_spec_init(struct proc_spec *spec, const struct config *cfg,
    const char *name, char *const *envv, const char *who)
{
	memset(spec, 0, sizeof(*spec));
	spec->dir = cfg->handlers.dir;
	spec->name = name;
	spec->cwd = config_handler_cwd(cfg);
	spec->envv = envv;
	spec->who = who;
	spec->kill_grace_ms = cfg->handlers.kill_grace_ms;
}

/* Take the early exit status stored for pid, if any. */
static bool
procs_early_exit(struct procs *ps, pid_t pid, int *status)
{
	for (size_t i = 0; i < ps->nearly; i++)
		if (ps->early[i].pid == pid) {
			*status = ps->early[i].status;
			ps->early[i] = ps->early[--ps->nearly];
			return (true);
		}
	return (false);
}

/*
 * The spawner's answer for p: the child runs (send what waited for its
 * pid, take an exit reaped before now), or it could not start (tell the
 * owner, free p).
 */
static void
proc_spawned(pid_t pid, const char *why, bool permanent, void *arg)
{
	struct proc	*p = arg;
	char		*who;
	int		 status;

	p->req = NULL;
	if (pid <= 0) {
		proc_unlist(p);
		p->cb.start_failed(why, permanent ? HANDLER_FAULT_FILE :
		    HANDLER_FAULT_RESOURCES, p->arg);
		proc_free(p);
		return;
	}
	p->pid = pid;
	if (p->who_pid) {
		/* Its stderr is read from now on: every line names the pid. */
		xasprintf(&who, "%s (pid %ld)", p->who, (long)pid);
		free(p->who);
		p->who = who;
		if (event_add(p->err_ev, NULL) == -1)
			fatalx("%s: cannot add the stderr event", p->who);
	}
	if (p->cb.started != NULL)
		p->cb.started(pid, p->arg);
	if (p->pending_sig != 0)
		proc_signal(p, p->pending_sig);
	if (procs_early_exit(p->procs, pid, &status))
		proc_reaped(p, status);
}

struct proc *
proc_start(struct procs *ps, const struct proc_spec *spec,
    const struct proc_cbs *cb, void *arg, char *err, size_t errlen,
    enum handler_fault *fault)
{
	struct spawn_child	 child;
	struct proc		*p;
	bool			 permanent;

	if (handler_check(spec->dir, spec->name, err, errlen, fault) == -1)
		return (NULL);
	p = xcalloc(1, sizeof(*p));
	p->req = spawner_start(ps->spawner, spec->dir, spec->name, spec->cwd,
	    spec->envv, &child, proc_spawned, p, err, errlen, &permanent);
	if (p->req == NULL) {
		free(p);
		*fault = permanent ? HANDLER_FAULT_FILE : HANDLER_FAULT_RESOURCES;
		return (NULL);
	}
	*fault = HANDLER_FAULT_NONE;
	p->procs = ps;
	p->cb = *cb;
	p->arg = arg;
	p->pid = -1;
	p->in_fd = child.in_fd;
	p->out_fd = child.out_fd;
	p->err_fd = child.err_fd;
	p->grace_ms = spec->kill_grace_ms > 0 ? spec->kill_grace_ms : 0;
	p->who = xstrdup(spec->who);
	p->who_pid = spec->who_pid;
	stderr_log_init(&p->err);
	proc_arm(p, ps->base);
	LIST_INSERT_HEAD(&ps->live, p, entry);
	ps->nlive++;
	return (p);
}

pid_t
proc_pid(const struct proc *p)
{
	return (p->pid);
}

bool
proc_exited(const struct proc *p)
{
	return (p->exited);
}

/*
 * Something was queued for stdin: write it once this turn of the loop has
 * queued all it will (one write for every job line of a claim), without
 * an epoll change; the stdin event is armed only when the pipe is full.
 */
static void
proc_want_write(struct proc *p)
{
	if (p->in_ev != NULL && !event_pending(p->in_ev, EV_WRITE, NULL))
		event_active(p->flush_ev, 0, 0);
}

void
proc_write(struct proc *p, const void *buf, size_t len)
{
	if (p->in_fd == -1 || p->close_input || len == 0)
		return;
	if (evbuffer_add(p->wbuf, buf, len) == -1)
		fatalx("%s: out of memory queueing stdin", p->who);
	proc_want_write(p);
}

/* evbuffer cleanup of a given buffer. */
static void
proc_free_given(const void *data, size_t len, void *extra)
{
	(void)len;
	(void)extra;
	free((void *)data);
}

void
proc_write_give(struct proc *p, void *buf, size_t len)
{
	if (p->in_fd == -1 || p->close_input || len == 0) {
		free(buf);
		return;
	}
	if (evbuffer_add_reference(p->wbuf, buf, len, proc_free_given,
	    NULL) == -1)
		fatalx("%s: out of memory queueing stdin", p->who);
	proc_want_write(p);
}

void
proc_close_input(struct proc *p, bool discard)
{
	size_t	left = p->wbuf != NULL ? evbuffer_get_length(p->wbuf) : 0;

	if (p->in_fd == -1)
		return;
	if (left > 0 && !discard) {
		p->close_input = true;	/* the stdin event closes it */
		return;
	}
	if (left > 0)
		log_debug("%s: stdin closed with %zu bytes unwritten", p->who,
		    left);
	proc_close_fd(&p->in_fd, &p->in_ev);
	if (p->wbuf != NULL)
		evbuffer_drain(p->wbuf, left);
}

/*
 * Write what is queued for stdin; EOF after it when asked. A full pipe
 * arms the stdin event, which calls this again when there is room.
 */
static void
proc_stdin_write(struct proc *p)
{
	int	n, error;

	if (p->in_fd == -1)
		return;
	while (evbuffer_get_length(p->wbuf) > 0) {
		n = evbuffer_write(p->wbuf, p->in_fd);
		if (n > 0 || (n == -1 && errno == EINTR))
			continue;
		if (n == -1 && errno == EAGAIN) {
			if (!event_pending(p->in_ev, EV_WRITE, NULL) &&
			    event_add(p->in_ev, NULL) == -1)
				log_errorx("%s: cannot add the stdin event",
				    p->who);
			return;
		}
		error = n == -1 ? errno : EPIPE;
		proc_close_input(p, true);
		if (p->cb.input_failed != NULL)
			p->cb.input_failed(error, p->arg);
		return;
	}
	if (p->close_input)
		proc_close_fd(&p->in_fd, &p->in_ev);
	else if (event_pending(p->in_ev, EV_WRITE, NULL))
		event_del(p->in_ev);
}

/* stdin has room again, or the loop turn that queued it ends (flush_ev). */
static void
proc_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	proc_stdin_write(arg);
}

/* Both pipes closed after the exit: the proc can end now. */
static bool
proc_drained(const struct proc *p)
{
	return (p->exited && p->out_fd == -1 && p->err_fd == -1);
}

static void	proc_end(struct proc *);

/*
 * Read a bounded number of chunks from stdout or stderr (level-triggered:
 * the event comes back while there is more). Returns true at EOF or error,
 * with the pipe closed.
 */
static bool
proc_read(struct proc *p, bool is_stderr)
{
	static char	 buf[PROC_CHUNK];
	int		*fdp = is_stderr ? &p->err_fd : &p->out_fd;
	struct event	**evp = is_stderr ? &p->err_ev : &p->out_ev;
	ssize_t		 n;

	for (int i = 0; i < PROC_READS_PER_EVENT && *fdp != -1; i++) {
		n = read(*fdp, buf, sizeof(buf));
		if (n > 0) {
			if (is_stderr)
				stderr_log_feed(&p->err, p->who, buf, (size_t)n);
			else if (p->cb.output != NULL)
				p->cb.output(buf, (size_t)n, p->arg);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return (false);
		if (n == -1)
			log_warn("%s: reading %s", p->who,
			    is_stderr ? "stderr" : "stdout");
		proc_close_fd(fdp, evp);
		if (is_stderr)
			stderr_log_end(&p->err, p->who);
		else if (p->cb.output_end != NULL)
			p->cb.output_end(p->arg);
		return (true);
	}
	return (*fdp == -1);
}

/* stdout is readable. */
static void
proc_stdout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)what;
	if (proc_read(p, false) && proc_drained(p))
		proc_end(p);
}

/* stderr is readable. */
static void
proc_stderr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)what;
	if (proc_read(p, true) && proc_drained(p))
		proc_end(p);
}

/*
 * Send sig to the process group of a handler (its pid is its group): ESRCH,
 * nothing left, is fine. The one place in the daemon that signals a
 * process group.
 */
void
proc_signal(struct proc *p, int sig)
{
	if (p->req != NULL) {	/* starting: send it once there is a pid */
		if (p->pending_sig != SIGKILL)
			p->pending_sig = sig;
		return;
	}
	if (p->pid <= 0)
		return;
	if (kill(-p->pid, sig) == -1 && errno != ESRCH)
		log_warn("%s: kill(-%ld, %d)", p->who, (long)p->pid, sig);
}

void
proc_kill_after(struct proc *p, int64_t ms)
{
	int64_t	now = util_mono_ms();

	if (ms < 0 || ms > p->grace_ms)
		ms = p->grace_ms;
	p->grace_ms = ms;
	if (p->exited)
		return;
	if (p->kill_at_ms != 0 && p->kill_at_ms <= now + ms)
		return;
	p->kill_at_ms = now + ms;
	p->kill_armed_ms = ms;
	timer_after(p->kill_ev, ms);
}

void
proc_stop(struct proc *p, int64_t grace_ms)
{
	proc_signal(p, SIGTERM);
	proc_kill_after(p, grace_ms);
}

/* The SIGKILL deadline passed and the process is still there. */
static void
proc_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)what;
	p->kill_at_ms = 0;
	log_warnx("%s: still running %lldms after it was told to stop, "
	    "sending SIGKILL to process group %ld", p->who,
	    (long long)p->kill_armed_ms, (long)p->pid);
	proc_signal(p, SIGKILL);
}

/*
 * The bounded drain after the exit is over (or it was not needed): if
 * grandchildren still hold the pipes, kill the group, take what is
 * buffered and stop waiting for them.
 */
static void
proc_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)what;
	if (p->out_fd != -1 || p->err_fd != -1) {
		log_warnx("%s: output still open after the handler exited, "
		    "killing process group %ld", p->who, (long)p->pid);
		proc_signal(p, SIGKILL);
		if (p->out_fd != -1 && !proc_read(p, false)) {
			proc_close_fd(&p->out_fd, &p->out_ev);
			if (p->cb.output_end != NULL)
				p->cb.output_end(p->arg);
		}
		if (p->err_fd != -1)
			(void)proc_read(p, true);
		if (p->err_fd != -1) {
			proc_close_fd(&p->err_fd, &p->err_ev);
			stderr_log_end(&p->err, p->who);
		}
	}
	proc_end(p);
}

/* Take p off the supervisor's list. */
static void
proc_unlist(struct proc *p)
{
	if (p->procs == NULL)
		return;
	LIST_REMOVE(p, entry);
	p->procs->nlive--;
	p->procs = NULL;
}

/*
 * The exit is known and the pipes are closed: SIGKILL what is left of the
 * group (nothing of an ended process survives), tell the owner, free p.
 */
static void
proc_end(struct proc *p)
{
	proc_unlist(p);
	proc_signal(p, SIGKILL);
	proc_close_fd(&p->in_fd, &p->in_ev);
	evtimer_del(p->kill_ev);
	evtimer_del(p->drain_ev);
	p->cb.exited(p->status, p->arg);
	proc_free(p);
}

void
proc_abandon(struct proc *p, int sig)
{
	int	status;

	if (p == NULL)
		return;
	proc_unlist(p);
	proc_close_fd(&p->in_fd, &p->in_ev);	/* EOF */
	if (p->req != NULL) {	/* not started yet: the spawner kills it */
		spawner_cancel(p->req);
		proc_free(p);
		return;
	}
	proc_signal(p, sig);
	if (!p->exited)
		(void)waitpid(p->pid, &status, WNOHANG);
	proc_free(p);
}

/* Free a proc that is on no list. */
static void
proc_free(struct proc *p)
{
	proc_close_fd(&p->in_fd, &p->in_ev);
	proc_close_fd(&p->out_fd, &p->out_ev);
	proc_close_fd(&p->err_fd, &p->err_ev);
	if (p->kill_ev != NULL)
		event_free(p->kill_ev);
	if (p->drain_ev != NULL)
		event_free(p->drain_ev);
	if (p->flush_ev != NULL)
		event_free(p->flush_ev);
	if (p->wbuf != NULL)
		evbuffer_free(p->wbuf);
	free(p->who);
	free(p);
}
