/* SPDX-License-Identifier: MIT */
/* posix_spawn of one handler with three pipes; see spawn.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int
spawn_handler(const char *dir, const char *name, const char *cwd,
    char *const envv[], struct spawn_child *child, char *err, size_t errlen,
    bool *permanent)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	char				*path, *argv[2], ibuf[256];
	const char			*interp;
	int				 p[3][2], rc;
	pid_t				 pid;

	*permanent = false;
	if (spawn_pipes(p, err, errlen) == -1)
		return (-1);
	xasprintf(&path, "%s/%s", dir, name);
	argv[0] = (char *)name;
	argv[1] = NULL;
	spawn_attr(&attr);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, p[0][0], 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, p[1][1], 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, p[2][1], 2)) != 0 ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (rc = posix_spawn_file_actions_addchdir_np(&fa, cwd)) != 0)
		fatalx("spawn: posix_spawn_file_actions: %s", strerror(rc));

	rc = posix_spawn(&pid, path, &fa, &attr, argv, envv);

	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc == ENOENT && (interp = spawn_interpreter(path, ibuf,
	    sizeof(ibuf))) != NULL)
		snprintf(err, errlen, "cannot start handler: its interpreter %s: "
		    "%s", interp, strerror(rc));
	else if (rc != 0)
		snprintf(err, errlen, "cannot start handler: %s", strerror(rc));
	free(path);
	close(p[0][0]);
	close(p[1][1]);
	close(p[2][1]);
	if (rc != 0) {
		close(p[0][1]);
		close(p[1][0]);
		close(p[2][0]);
		*permanent = rc == ENOENT || rc == EACCES || rc == ENOEXEC;
		return (-1);
	}
	child->pid = pid;
	child->in_fd = p[0][1];
	child->out_fd = p[1][0];
	child->err_fd = p[2][0];
	return (0);
}
