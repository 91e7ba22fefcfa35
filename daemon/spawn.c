/* SPDX-License-Identifier: MIT */
/* posix_spawn of one handler with three pipes, on the spawner's thread; see spawn.h. */
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "spawn.h"
#include "xmalloc.h"

/* Move fd to 3 or above if it is one of 0-2 (keeping close-on-exec). */
static int
spawn_fd_above_stdio(int fd)
{
	int	nfd;

	if (fd > 2)
		return (fd);
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return (nfd);
}

/*
 * Make the stdin, stdout and stderr pipes, all close-on-exec, our ends
 * non-blocking, none of them on fds 0-2 (the dup2s would clobber them).
 */
static int
spawn_pipes(int p[3][2], char *err, size_t errlen)
{
	int	i, j, saved;

	for (i = 0; i < 3; i++) {
		if (pipe2(p[i], O_CLOEXEC) == -1)
			goto fail;
		for (j = 0; j < 2; j++)
			if ((p[i][j] = spawn_fd_above_stdio(p[i][j])) == -1) {
				saved = errno;
				close(p[i][j ^ 1]);
				errno = saved;
				goto fail;
			}
		/* Ours: the write end of stdin, the read ends of the others. */
		if (fcntl(p[i][i == 0 ? 1 : 0], F_SETFL, O_NONBLOCK) == -1) {
			saved = errno;
			close(p[i][0]);
			close(p[i][1]);
			errno = saved;
			goto fail;
		}
	}
	return (0);

fail:
	saved = errno;
	while (i-- > 0) {
		close(p[i][0]);
		close(p[i][1]);
	}
	snprintf(err, errlen, "cannot create pipes: %s", strerror(saved));
	return (-1);
}

/* The spawn attributes: new session, every signal default, empty mask. */
static void
spawn_attr(posix_spawnattr_t *attr)
{
	sigset_t	all, none;
	int		rc;

	/*
	 * Not sigfillset: glibc's leaves out its two internal signals (32 and
	 * 33), and posix_spawn then sets those to SIG_IGN in the child, which
	 * exec keeps. All bits set resets them to SIG_DFL as well.
	 */
	memset(&all, 0xff, sizeof(all));
	sigemptyset(&none);
	if ((rc = posix_spawnattr_init(attr)) != 0 ||
	    (rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID|
	    POSIX_SPAWN_SETSIGDEF|POSIX_SPAWN_SETSIGMASK)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(attr, &all)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(attr, &none)) != 0)
		fatalx("spawn: posix_spawnattr: %s", strerror(rc));
}

/*
 * The interpreter named by path's "#!" line, into buf; NULL when it has
 * none (or cannot be read). For "cannot start handler: ... not found",
 * which otherwise does not say that the missing file is the interpreter.
 */
static const char *
spawn_interpreter(const char *path, char *buf, size_t len)
{
	const char	*start;
	ssize_t		 n;
	size_t		 end;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return (NULL);
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 3 || buf[0] != '#' || buf[1] != '!')
		return (NULL);
	buf[n] = '\0';
	start = buf + 2 + strspn(buf + 2, " \t");
	memmove(buf, start, strlen(start) + 1);
	end = strcspn(buf, " \t\r\n");
	buf[end] = '\0';
	return (end > 0 ? buf : NULL);
}

/* The child's ends of the pipes: its stdin, stdout and stderr. */
struct spawn_ends {
	int	in, out, err;
};

/*
 * posix_spawn path with argv {name}, the pipes' child ends on 0-2, in cwd
 * with envv; closes the child ends. Returns the pid, or -1 with why and
 * permanent set. Runs on the spawner's thread: no libevent, and no
 * logging but the fatalx of a spawn attribute that cannot be set.
 */
static pid_t
spawn_exec(const char *path, const char *name, const char *cwd,
    char *const envv[], const struct spawn_ends *ends, char *why,
    size_t whylen, bool *permanent)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	char				*argv[2], ibuf[256];
	const char			*interp;
	int				 rc;
	pid_t				 pid;

	argv[0] = (char *)name;
	argv[1] = NULL;
	spawn_attr(&attr);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, ends->in, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, ends->out, 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, ends->err, 2)) != 0 ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (rc = posix_spawn_file_actions_addchdir_np(&fa, cwd)) != 0)
		fatalx("spawn: posix_spawn_file_actions: %s", strerror(rc));

	rc = posix_spawn(&pid, path, &fa, &attr, argv, envv);

	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(ends->in);
	close(ends->out);
	close(ends->err);
	*permanent = rc == ENOENT || rc == EACCES || rc == ENOEXEC;
	if (rc == 0)
		return (pid);
	if (rc == ENOENT && (interp = spawn_interpreter(path, ibuf,
	    sizeof(ibuf))) != NULL)
		snprintf(why, whylen, "cannot start handler: its interpreter "
		    "%s: %s", interp, strerror(rc));
	else
		snprintf(why, whylen, "cannot start handler: %s",
		    strerror(rc));
	return (-1);
}

/* One start, from spawner_start to its callback. */
struct spawn_req {
	TAILQ_ENTRY(spawn_req)	 entry;
	struct spawner		*sp;
	char			*path;		/* dir/name */
	char			*name;
	char			*cwd;
	char			**envv;		/* a copy, NULL-terminated */
	struct spawn_ends	 ends;		/* closed by the thread */
	spawn_done_cb		 done;
	void			*arg;
	bool			 queued;	/* on todo (under the lock) */
	bool			 cancelled;	/* loop only */
	/* Set by the thread. */
	pid_t			 pid;
	bool			 permanent;
	char			 why[320];
};
TAILQ_HEAD(spawn_req_list, spawn_req);

struct spawner {
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake_thread;
	struct spawn_req_list	 todo;		/* for the thread */
	struct spawn_req_list	 done;		/* for the loop */
	bool			 stopping;
	int			 wake[2];	/* the thread wakes the loop */
	struct event		*wake_ev;
};

/* Free a request and its copies (not its fds). */
static void
spawn_req_free(struct spawn_req *req)
{
	if (req->envv != NULL)
		for (char **e = req->envv; *e != NULL; e++)
			free(*e);
	free(req->envv);
	free(req->path);
	free(req->name);
	free(req->cwd);
	free(req);
}

/* The spawner's thread: start what is queued, hand each back to the loop. */
static void *
spawner_main(void *arg)
{
	struct spawner		*sp = arg;
	struct spawn_req	*req;
	ssize_t			 n;

	pthread_mutex_lock(&sp->lock);
	for (;;) {
		while (!sp->stopping && TAILQ_EMPTY(&sp->todo))
			pthread_cond_wait(&sp->wake_thread, &sp->lock);
		if (sp->stopping)
			break;
		req = TAILQ_FIRST(&sp->todo);
		TAILQ_REMOVE(&sp->todo, req, entry);
		req->queued = false;
		pthread_mutex_unlock(&sp->lock);
		req->pid = spawn_exec(req->path, req->name, req->cwd,
		    req->envv, &req->ends, req->why, sizeof(req->why),
		    &req->permanent);
		pthread_mutex_lock(&sp->lock);
		TAILQ_INSERT_TAIL(&sp->done, req, entry);
		/* A full pipe already has a wake-up pending: nothing lost. */
		do
			n = write(sp->wake[1], "", 1);
		while (n == -1 && errno == EINTR);
	}
	pthread_mutex_unlock(&sp->lock);
	return (NULL);
}

/* Kill a child whose owner has gone, with its whole group. */
static void
spawn_req_orphan(struct spawn_req *req)
{
	if (req->pid > 0)
		kill(-req->pid, SIGKILL);
	spawn_req_free(req);
}

/* Starts are done: deliver each (or kill it when cancelled), on the loop. */
static void
spawner_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spawner		*sp = arg;
	struct spawn_req_list	 ready;
	struct spawn_req	*req;
	char			 buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	TAILQ_INIT(&ready);
	pthread_mutex_lock(&sp->lock);
	TAILQ_CONCAT(&ready, &sp->done, entry);
	pthread_mutex_unlock(&sp->lock);
	while ((req = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, req, entry);
		if (req->cancelled)
			spawn_req_orphan(req);
		else {
			req->done(req->pid, req->why, req->permanent,
			    req->arg);
			spawn_req_free(req);
		}
	}
}

struct spawner *
spawner_new(struct event_base *base)
{
	struct spawner	*sp = xcalloc(1, sizeof(*sp));
	sigset_t	 all, old;
	int		 rc;

	TAILQ_INIT(&sp->todo);
	TAILQ_INIT(&sp->done);
	if (pipe2(sp->wake, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("spawner: pipe");
	sp->wake_ev = event_new(base, sp->wake[0], EV_READ | EV_PERSIST,
	    spawner_wake_cb, sp);
	if (sp->wake_ev == NULL || event_add(sp->wake_ev, NULL) == -1)
		fatalx("spawner: cannot add its event");
	if (pthread_mutex_init(&sp->lock, NULL) != 0 ||
	    pthread_cond_init(&sp->wake_thread, NULL) != 0)
		fatalx("spawner: cannot make its lock");
	/* Signals stay with the loop's thread: the new one blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&sp->thread, NULL, spawner_main, sp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		fatalx("spawner: cannot start its thread: %s", strerror(rc));
	return (sp);
}

void
spawner_free(struct spawner *sp)
{
	struct spawn_req	*req;

	if (sp == NULL)
		return;
	pthread_mutex_lock(&sp->lock);
	sp->stopping = true;
	pthread_cond_signal(&sp->wake_thread);
	pthread_mutex_unlock(&sp->lock);
	pthread_join(sp->thread, NULL);
	while ((req = TAILQ_FIRST(&sp->todo)) != NULL) {
		TAILQ_REMOVE(&sp->todo, req, entry);
		close(req->ends.in);
		close(req->ends.out);
		close(req->ends.err);
		spawn_req_free(req);
	}
	while ((req = TAILQ_FIRST(&sp->done)) != NULL) {
		TAILQ_REMOVE(&sp->done, req, entry);
		spawn_req_orphan(req);
	}
	event_free(sp->wake_ev);
	close(sp->wake[0]);
	close(sp->wake[1]);
	pthread_cond_destroy(&sp->wake_thread);
	pthread_mutex_destroy(&sp->lock);
	free(sp);
}

/* A NULL-terminated copy of envv. */
static char **
spawn_copy_env(char *const envv[])
{
	size_t	 n = 0;
	char	**copy;

	while (envv[n] != NULL)
		n++;
	copy = xcalloc(n + 1, sizeof(*copy));
	for (size_t i = 0; i < n; i++)
		copy[i] = xstrdup(envv[i]);
	return (copy);
}

struct spawn_req *
spawner_start(struct spawner *sp, const char *dir, const char *name,
    const char *cwd, char *const envv[], struct spawn_child *child,
    spawn_done_cb done, void *arg, char *err, size_t errlen,
    bool *permanent)
{
	struct spawn_req	*req;
	int			 p[3][2];

	*permanent = false;
	if (spawn_pipes(p, err, errlen) == -1)
		return (NULL);
	req = xcalloc(1, sizeof(*req));
	req->sp = sp;
	xasprintf(&req->path, "%s/%s", dir, name);
	req->name = xstrdup(name);
	req->cwd = xstrdup(cwd);
	req->envv = spawn_copy_env(envv);
	req->ends.in = p[0][0];
	req->ends.out = p[1][1];
	req->ends.err = p[2][1];
	req->done = done;
	req->arg = arg;
	req->pid = -1;
	child->pid = -1;
	child->in_fd = p[0][1];
	child->out_fd = p[1][0];
	child->err_fd = p[2][0];
	pthread_mutex_lock(&sp->lock);
	req->queued = true;
	TAILQ_INSERT_TAIL(&sp->todo, req, entry);
	pthread_cond_signal(&sp->wake_thread);
	pthread_mutex_unlock(&sp->lock);
	return (req);
}

void
spawner_cancel(struct spawn_req *req)
{
	struct spawner	*sp = req->sp;
	bool		 queued;

	pthread_mutex_lock(&sp->lock);
	if ((queued = req->queued))
		TAILQ_REMOVE(&sp->todo, req, entry);
	else
		req->cancelled = true;
	pthread_mutex_unlock(&sp->lock);
	if (queued) {
		close(req->ends.in);
		close(req->ends.out);
		close(req->ends.err);
		spawn_req_free(req);
	}
}
