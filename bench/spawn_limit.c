/* SPDX-License-Identifier: MIT */
/*
 * The spawn limit: how fast this machine can run a handler at all. Runs
 * HANDLER COUNT times, keeping PARALLEL children in flight, each spawned the
 * way deferd's runner does it (posix_spawn in a new session, default signal
 * dispositions, empty mask, fds above 2 closed, cwd = the handler's
 * directory, a small fixed environment) with PAYLOAD written to its stdin
 * through a pipe. stdout and stderr go to /dev/null: there is no output to
 * capture, Redis or event loop, so this is an upper bound for deferd.
 *
 * usage: spawn_limit COUNT PARALLEL HANDLER PAYLOAD
 * Prints "spawned COUNT in SECONDS s: RATE/s" on stdout. The handler's
 * environment gets PROBE_OUT from ours.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Spawn one child with payload on stdin; exits on failure. */
static void
spawn_one(const char *path, const char *dir, char *const env[],
    const char *payload)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 all, none;
	char				*argv[] = { (char *)path, NULL };
	pid_t				 pid;
	int				 p[2], devnull, rc;
	size_t				 len = strlen(payload);

	if (pipe2(p, O_CLOEXEC) == -1 ||
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1) {
		perror("spawn_limit: pipe");
		exit(1);
	}
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawn_file_actions_addchdir_np(&fa, dir);
	rc = posix_spawn(&pid, path, &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		fprintf(stderr, "spawn_limit: %s: %s\n", path, strerror(rc));
		exit(1);
	}
	close(p[0]);
	close(devnull);
	if (write(p[1], payload, len) != (ssize_t)len)
		perror("spawn_limit: write");
	close(p[1]);
}

int
main(int argc, char **argv)
{
	char		 dir[PATH_MAX], penv[PATH_MAX + 16], *slash;
	char		*env[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
			    "LANG=C.UTF-8", penv, NULL };
	long		 count, par, started = 0, done = 0;
	double		 t0, t;
	int		 status;

	if (argc != 5 || (count = atol(argv[1])) <= 0 ||
	    (par = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: spawn_limit COUNT PARALLEL HANDLER "
		    "PAYLOAD\n");
		return (2);
	}
	snprintf(dir, sizeof(dir), "%s", argv[3]);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	snprintf(penv, sizeof(penv), "PROBE_OUT=%s",
	    getenv("PROBE_OUT") != NULL ? getenv("PROBE_OUT") : "");
	signal(SIGPIPE, SIG_IGN);
	t0 = now_s();
	while (done < count) {
		while (started < count && started - done < par) {
			spawn_one(argv[3], dir, env, argv[4]);
			started++;
		}
		if (waitpid(-1, &status, 0) == -1) {
			if (errno == EINTR)
				continue;
			perror("spawn_limit: waitpid");
			return (1);
		}
		done++;
	}
	t = now_s() - t0;
	printf("spawned %ld in %.3f s: %.0f/s\n", count, t, count / t);
	return (0);
}
