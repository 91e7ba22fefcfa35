/* SPDX-License-Identifier: MIT */
/*
 * Runner tests (docs/handlers.md, docs/reliability.md P8/P9): handler
 * checks, stdin, stdout and stderr, environment, fds and signal state,
 * exit-status mapping, timeouts on the whole process group, bounded drain,
 * floods, kill, counts and many concurrent runs. Real /bin/sh handlers in a
 * temp directory; no Redis. Every wait runs the event loop against a
 * deadline; nothing sleeps.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "handler.h"
#include "harness.h"
#include "runner.h"
#include "util.h"
#include "xmalloc.h"

#define T_MIB	(1024 * 1024)

/* One test's world: a handlers dir, a config, a loop and a runner. */
struct t_env {
	char			 top[256];	/* temp dir: scratch files */
	char			 dir[300];	/* top/handlers: handlers.dir */
	struct config		*cfg;
	struct event_base	*base;
	struct event		*tick;		/* wakes EVLOOP_ONCE up for the deadline */
	struct runner		*r;
};

/* What a callback saw. */
struct t_res {
	const char		*job_id;	/* NULL: "job-1" */
	int			 ncalls;
	enum run_outcome	 outcome;
	int			 exit_code;
	int			 term_signal;
	bool			 timed_out;
	bool			 killed;
	bool			 truncated;
	char			*output;	/* NUL-terminated copy */
	size_t			 output_len;
	char			*error;
	int64_t			 duration_ms;
};

static int	t_pending;	/* callbacks still expected */

/* Nothing: the tick only makes the loop return now and then. */
static void
t_tick_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Build the temp dirs, a config with test defaults, a base and a runner. */
static void
t_setup(struct t_env *e)
{
	struct timeval	tv = { 0, 50000 };

	memset(e, 0, sizeof(*e));
	signal(SIGPIPE, SIG_IGN);	/* as deferd does */
	h_tmpdir(e->top, sizeof(e->top));
	snprintf(e->dir, sizeof(e->dir), "%s/handlers", e->top);
	ck_assert_int_eq(mkdir(e->dir, 0755), 0);
	ck_assert_int_eq(chmod(e->dir, 0755), 0);
	e->cfg = xcalloc(1, sizeof(*e->cfg));
	e->cfg->handlers.dir = e->dir;
	e->cfg->handlers.timeout_ms = 20000;
	e->cfg->handlers.kill_grace_ms = 2000;
	e->cfg->handlers.max_output = T_MIB;
	e->base = event_base_new();
	ck_assert_ptr_nonnull(e->base);
	e->tick = event_new(e->base, -1, EV_PERSIST, t_tick_cb, NULL);
	event_add(e->tick, &tv);
	e->r = runner_new(e->base, e->cfg);
	t_pending = 0;
}

/* Free everything and remove the temp dir. */
static void
t_teardown(struct t_env *e)
{
	const char	*argv[] = { "/bin/rm", "-rf", e->top, NULL };
	char		 out[16];

	runner_free(e->r);
	event_free(e->tick);
	event_base_free(e->base);
	free(e->cfg);
	h_run(argv, NULL, out, sizeof(out));
}

/* Record a result and count it. */
static void
t_done(const struct run_result *res, void *arg)
{
	struct t_res	*t = arg;

	t->ncalls++;
	t->outcome = res->outcome;
	t->exit_code = res->exit_code;
	t->term_signal = res->term_signal;
	t->timed_out = res->timed_out;
	t->killed = res->killed;
	t->truncated = res->output_truncated;
	t->duration_ms = res->duration_ms;
	free(t->output);
	t->output = xmalloc(res->output_len + 1);
	memcpy(t->output, res->output, res->output_len);
	t->output[res->output_len] = '\0';
	t->output_len = res->output_len;
	free(t->error);
	t->error = xstrdup(res->error);
	t_pending--;
}

/* Free what t_done copied. */
static void
t_res_free(struct t_res *t)
{
	free(t->output);
	free(t->error);
	t->output = t->error = NULL;
}

/* Start handler with payload; the result goes to t. */
static struct run *
t_start_spec(struct t_env *e, struct run_spec *spec, struct t_res *t)
{
	struct run	*run;
	int		 before = t->ncalls;

	t_pending++;
	run = runner_start(e->r, spec, t_done, t);
	ck_assert_ptr_nonnull(run);
	ck_assert_int_eq(t->ncalls, before);	/* never synchronous */
	return (run);
}

/* Start handler with a payload and a default spec. */
static struct run *
t_start(struct t_env *e, const char *handler, const void *payload, size_t len,
    struct t_res *t)
{
	struct run_spec	spec;

	memset(&spec, 0, sizeof(spec));
	spec.job_id = t->job_id != NULL ? t->job_id : "job-1";
	spec.queue = "default";
	spec.handler = handler;
	spec.payload = payload;
	spec.payload_len = len;
	spec.attempt = 1;
	spec.max_attempts = 5;
	return (t_start_spec(e, &spec, t));
}

/* Run the loop until at most `left` callbacks are pending or ms pass. */
static bool
t_loop_until(struct t_env *e, int left, int64_t ms)
{
	int64_t	deadline = h_mono_ms() + ms;

	while (t_pending > left && h_mono_ms() < deadline)
		event_base_loop(e->base, EVLOOP_ONCE);
	return (t_pending <= left);
}

/* Run the loop until every callback came. */
static void
t_wait(struct t_env *e, int64_t ms)
{
	ck_assert_msg(t_loop_until(e, 0, ms), "%d runs still pending after "
	    "%lldms", t_pending, (long long)ms);
}

/* Run the loop until path exists or ms pass. */
static bool
t_loop_until_file(struct t_env *e, const char *path, int64_t ms)
{
	int64_t	deadline = h_mono_ms() + ms;

	while (access(path, F_OK) != 0 && h_mono_ms() < deadline)
		event_base_loop(e->base, EVLOOP_ONCE);
	return (access(path, F_OK) == 0);
}

/* Whether pid is a live (not zombie) process. */
static bool
t_alive(pid_t pid)
{
	char	 path[64], *s, *p;
	bool	 alive;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((s = h_read_file(path)) == NULL)
		return (false);
	p = strrchr(s, ')');
	alive = p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	free(s);
	return (alive);
}

/* Read a pid written by a handler into top/name. */
static pid_t
t_read_pid(struct t_env *e, const char *name)
{
	char	 path[400], *s;
	long	 pid;

	snprintf(path, sizeof(path), "%s/%s", e->top, name);
	ck_assert_msg(t_loop_until_file(e, path, 10000), "no %s", name);
	/* The file exists; the shell may not have written the line yet. */
	for (int64_t end = h_mono_ms() + 5000; h_mono_ms() < end;
	    event_base_loop(e->base, EVLOOP_ONCE)) {
		s = h_read_file(path);
		pid = s != NULL ? strtol(s, NULL, 10) : 0;
		if (s != NULL && strchr(s, '\n') != NULL) {
			free(s);
			return ((pid_t)pid);
		}
		free(s);
	}
	ck_abort_msg("%s stays empty", name);
	return (-1);
}

/* Write a handler script; text may contain one %s for the top dir. */
static void
t_handler(struct t_env *e, const char *name, const char *fmt, int mode)
{
	char	text[4096];

	snprintf(text, sizeof(text), fmt, e->top);
	h_write_file(e->dir, name, text, mode);
}

/* Payload bytes, NULs and quotes included, arrive intact; no shell runs them. */
START_TEST(payload_stdin)
{
	struct t_env	 e;
	struct t_res	 a = { 0 }, b = { 0 }, c = { 0 };
	char		 hostile[512], pwned[400];
	unsigned char	*big;
	size_t		 hlen, biglen = 2 * T_MIB + 17;

	t_setup(&e);
	e.cfg->handlers.max_output = 4 * T_MIB;
	t_handler(&e, "echo-back", "#!/bin/sh\nexec cat\n", 0755);
	snprintf(pwned, sizeof(pwned), "%s/pwned", e.top);
	hlen = (size_t)snprintf(hostile, sizeof(hostile),
	    "a%cb\n'; touch %s; '\n$(touch %s)`touch %s`\xff", '\0', pwned,
	    pwned, pwned);
	big = xmalloc(biglen);
	util_random_bytes(big, biglen);
	big[10] = '\0';

	t_start(&e, "echo-back", hostile, hlen, &a);
	t_start(&e, "echo-back", big, biglen, &b);
	t_start(&e, "echo-back", NULL, 0, &c);
	t_wait(&e, 20000);

	ck_assert_int_eq(a.ncalls, 1);
	ck_assert_int_eq(a.outcome, RUN_DONE);
	ck_assert_str_eq(a.error, "");
	ck_assert_uint_eq(a.output_len, hlen);
	ck_assert(memcmp(a.output, hostile, hlen) == 0);
	ck_assert_int_ne(access(pwned, F_OK), 0);

	ck_assert_int_eq(b.outcome, RUN_DONE);
	ck_assert(!b.truncated);
	ck_assert_uint_eq(b.output_len, biglen);
	ck_assert(memcmp(b.output, big, biglen) == 0);

	ck_assert_int_eq(c.outcome, RUN_DONE);
	ck_assert_uint_eq(c.output_len, 0);
	ck_assert_int_eq(c.exit_code, 0);

	free(big);
	t_res_free(&a);
	t_res_free(&b);
	t_res_free(&c);
	t_teardown(&e);
}
END_TEST

/* A handler that never reads a big payload blocks nothing. */
START_TEST(payload_unread)
{
	struct t_env	 e;
	struct t_res	 a = { 0 }, b = { 0 };
	unsigned char	*big;
	size_t		 biglen = 2 * T_MIB;

	t_setup(&e);
	t_handler(&e, "deaf", "#!/bin/sh\necho ignored\nexit 3\n", 0755);
	t_handler(&e, "echo-back", "#!/bin/sh\nexec cat\n", 0755);
	big = xcalloc(1, biglen);

	t_start(&e, "deaf", big, biglen, &a);
	t_start(&e, "echo-back", "hi", 2, &b);
	t_wait(&e, 20000);

	ck_assert_int_eq(a.outcome, RUN_RETRY);
	ck_assert_int_eq(a.exit_code, 3);
	ck_assert_str_eq(a.error, "exit status 3");
	ck_assert_str_eq(a.output, "ignored\n");
	ck_assert_int_eq(b.outcome, RUN_DONE);
	ck_assert_str_eq(b.output, "hi");

	free(big);
	t_res_free(&a);
	t_res_free(&b);
	t_teardown(&e);
}
END_TEST

/* Sort strings for comparison. */
static int
t_strcmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/*
 * Check the environment dumped by the handler (its initial environ, NUL-
 * separated: the shell adds PWD to what it passes on, not to its own) holds
 * exactly the sorted expected NAME=VALUE strings.
 */
static void
t_check_env(const struct t_res *t, const char **want, size_t nwant)
{
	char	*got[64], *s;
	size_t	 n = 0;

	for (s = t->output; s < t->output + t->output_len; s += strlen(s) + 1) {
		ck_assert_uint_lt(n, 64);
		got[n++] = s;
	}
	qsort(got, n, sizeof(got[0]), t_strcmp);
	qsort(want, nwant, sizeof(want[0]), t_strcmp);
	for (size_t i = 0; i < n && i < nwant; i++)
		ck_assert_str_eq(got[i], want[i]);
	ck_assert_uint_eq(n, nwant);
}

/* The environment is exactly the documented set; nothing of ours leaks. */
START_TEST(environment)
{
	struct t_env	 e;
	struct t_res	 a = { 0 }, b = { 0 };
	struct env_var	 envmap[] = {
		{ "GREETING", "hello world" },
		{ "LANG", "en_US.UTF-8" },
	};
	struct env_var	 extra[] = {
		{ "DEFERD_EXPIRED_KEY", "order:timeout:42" },
		{ "DEFERD_EXPIRED_DB", "0" },
	};
	struct run_spec	 spec;
	char		 cfgpath[400], cfgvar[420];
	const char	*want_a[] = {
		"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=en_US.UTF-8",
		"GREETING=hello world", "DEFERD_JOB_ID=order-42",
		"DEFERD_QUEUE=orders", "DEFERD_HANDLER=dump-env",
		"DEFERD_ATTEMPT=3", "DEFERD_MAX_ATTEMPTS=7",
		"DEFERD_SOURCE=expired", "DEFERD_RESOURCE=order:42",
		"DEFERD_FENCING_TOKEN=1234", "DEFERD_EXPIRED_KEY=order:timeout:42",
		"DEFERD_EXPIRED_DB=0", cfgvar,
	};
	const char	*want_b[] = {
		"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
		"DEFERD_JOB_ID=job-2", "DEFERD_QUEUE=default",
		"DEFERD_HANDLER=dump-env", "DEFERD_ATTEMPT=1",
		"DEFERD_MAX_ATTEMPTS=5", "DEFERD_SOURCE=delayed",
	};
	struct config	*cfg2;

	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	setenv("WATCHDOG_USEC", "1000000", 1);
	setenv("REDIS_PASSWORD", "secret", 1);
	setenv("LD_BOGUS", "1", 1);
	t_setup(&e);
	snprintf(cfgpath, sizeof(cfgpath), "%s/deferd.yaml", e.top);
	snprintf(cfgvar, sizeof(cfgvar), "DEFERD_CONFIG=%s", cfgpath);
	e.cfg->path = cfgpath;
	e.cfg->handlers.environment = envmap;
	e.cfg->handlers.nenvironment = 2;
	runner_set_config(e.r, e.cfg);	/* the runner snapshots cfg's env */
	t_handler(&e, "dump-env", "#!/bin/sh\ncat /proc/$$/environ\n", 0755);

	memset(&spec, 0, sizeof(spec));
	spec.job_id = "order-42";
	spec.queue = "orders";
	spec.handler = "dump-env";
	spec.attempt = 3;
	spec.max_attempts = 7;
	spec.source = "expired";
	spec.resource = "order:42";
	spec.fencing_token = "1234";
	spec.extra_env = extra;
	spec.nextra_env = 2;
	t_start_spec(&e, &spec, &a);

	/* A second config (reload) without extras. */
	cfg2 = xcalloc(1, sizeof(*cfg2));
	cfg2->handlers = e.cfg->handlers;
	cfg2->handlers.environment = NULL;
	cfg2->handlers.nenvironment = 0;
	runner_set_config(e.r, cfg2);
	b.job_id = "job-2";
	t_start(&e, "dump-env", NULL, 0, &b);
	t_wait(&e, 20000);

	ck_assert_int_eq(a.outcome, RUN_DONE);
	t_check_env(&a, want_a, sizeof(want_a) / sizeof(want_a[0]));
	ck_assert_int_eq(b.outcome, RUN_DONE);
	t_check_env(&b, want_b, sizeof(want_b) / sizeof(want_b[0]));

	runner_set_config(e.r, e.cfg);
	free(cfg2);
	t_res_free(&a);
	t_res_free(&b);
	t_teardown(&e);
}
END_TEST

/* The value of "Key:\tHEX" in /proc/self/status output. */
static unsigned long long
t_status_hex(const char *status, const char *key)
{
	const char	*p = strstr(status, key);

	ck_assert_msg(p != NULL, "no %s", key);
	return (strtoull(p + strlen(key), NULL, 16));
}

/*
 * Only fds 0-2 reach the handler; no ignored or blocked signal does; it is
 * a session and process group leader, in handlers.dir or handlers.workdir.
 */
START_TEST(fds_signals_session_cwd)
{
	struct t_env	 e;
	struct t_res	 fds = { 0 }, st = { 0 }, stat = { 0 }, cwd = { 0 };
	struct t_res	 wd = { 0 };
	sigset_t	 set;
	int		 leak[2], leak2, nfd = 0;
	char		*line, *save, *p, real[4096], workdir[400];
	long		 pid, ppid, pgrp, sid;
	char		 state;

	t_setup(&e);
	/* Leaky descriptors and odd signal state in the daemon. */
	ck_assert_int_eq(pipe(leak), 0);
	ck_assert_int_ge(leak2 = open("/dev/null", O_RDONLY), 0);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	t_handler(&e, "fds", "#!/bin/sh\nexec ls -l /proc/self/fd/\n", 0755);
	t_handler(&e, "status", "#!/bin/sh\nexec cat /proc/self/status\n", 0755);
	t_handler(&e, "stat", "#!/bin/sh\nexec cat /proc/self/stat\n", 0755);
	t_handler(&e, "cwd", "#!/bin/sh\npwd -P\n", 0755);
	t_start(&e, "fds", "x", 1, &fds);
	t_start(&e, "status", NULL, 0, &st);
	t_start(&e, "stat", NULL, 0, &stat);
	t_start(&e, "cwd", NULL, 0, &cwd);
	t_wait(&e, 20000);

	/* ls has the directory it lists open itself: that one may be there. */
	ck_assert_int_eq(fds.outcome, RUN_DONE);
	for (line = strtok_r(fds.output, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((p = strstr(line, " -> ")) == NULL)
			continue;
		while (p > line && p[-1] != ' ')
			p--;
		if (atoi(p) <= 2) {
			nfd++;
			continue;
		}
		ck_assert_msg(strstr(p, "/fd") != NULL, "fd leaked: %s", line);
	}
	ck_assert_int_eq(nfd, 3);

	ck_assert_int_eq(st.outcome, RUN_DONE);
	ck_assert_uint_eq(t_status_hex(st.output, "SigIgn:"), 0);
	ck_assert_uint_eq(t_status_hex(st.output, "SigBlk:"), 0);

	ck_assert_int_eq(stat.outcome, RUN_DONE);
	p = strrchr(stat.output, ')');
	ck_assert_ptr_nonnull(p);
	pid = strtol(stat.output, NULL, 10);
	ck_assert_int_eq(sscanf(p + 1, " %c %ld %ld %ld", &state, &ppid, &pgrp,
	    &sid), 4);
	ck_assert_int_eq(pgrp, pid);
	ck_assert_int_eq(sid, pid);
	ck_assert_int_eq(ppid, getpid());

	ck_assert_ptr_nonnull(realpath(e.dir, real));
	strcat(real, "\n");
	ck_assert_str_eq(cwd.output, real);

	/* handlers.workdir, when set, is the cwd instead. */
	snprintf(workdir, sizeof(workdir), "%s/work", e.top);
	ck_assert_int_eq(mkdir(workdir, 0755), 0);
	e.cfg->handlers.workdir = workdir;
	t_start(&e, "cwd", NULL, 0, &wd);
	t_wait(&e, 20000);
	ck_assert_ptr_nonnull(realpath(workdir, real));
	strcat(real, "\n");
	ck_assert_str_eq(wd.output, real);

	close(leak[0]);
	close(leak[1]);
	close(leak2);
	t_res_free(&fds);
	t_res_free(&st);
	t_res_free(&stat);
	t_res_free(&cwd);
	t_res_free(&wd);
	t_teardown(&e);
}
END_TEST

/* Exit statuses and signals map to done, retry and dead. */
START_TEST(exit_statuses)
{
	struct t_env	 e;
	struct t_res	 ok = { 0 }, tf = { 0 }, de = { 0 }, cf = { 0 };
	struct t_res	 us = { 0 }, one = { 0 }, sig = { 0 };

	t_setup(&e);
	t_handler(&e, "ok", "#!/bin/sh\necho fine\nexit 0\n", 0755);
	t_handler(&e, "tempfail", "#!/bin/sh\nexit 75\n", 0755);
	t_handler(&e, "dataerr", "#!/bin/sh\nexit 65\n", 0755);
	t_handler(&e, "config", "#!/bin/sh\nexit 78\n", 0755);
	t_handler(&e, "usage", "#!/bin/sh\nexit 64\n", 0755);
	t_handler(&e, "one", "#!/bin/sh\nexit 1\n", 0755);
	t_handler(&e, "sig", "#!/bin/sh\nkill -KILL $$\n", 0755);
	t_start(&e, "ok", NULL, 0, &ok);
	t_start(&e, "tempfail", NULL, 0, &tf);
	t_start(&e, "dataerr", NULL, 0, &de);
	t_start(&e, "config", NULL, 0, &cf);
	t_start(&e, "usage", NULL, 0, &us);
	t_start(&e, "one", NULL, 0, &one);
	t_start(&e, "sig", NULL, 0, &sig);
	t_wait(&e, 20000);

	ck_assert_int_eq(ok.outcome, RUN_DONE);
	ck_assert_int_eq(ok.exit_code, 0);
	ck_assert_str_eq(ok.error, "");
	ck_assert_str_eq(ok.output, "fine\n");
	ck_assert(!ok.timed_out && !ok.killed && !ok.truncated);
	ck_assert_int_ge(ok.duration_ms, 0);

	ck_assert_int_eq(tf.outcome, RUN_RETRY);
	ck_assert_int_eq(tf.exit_code, 75);
	ck_assert_str_eq(tf.error, "exit status 75");
	ck_assert_int_eq(de.outcome, RUN_DEAD);
	ck_assert_str_eq(de.error, "exit status 65");
	ck_assert_int_eq(cf.outcome, RUN_DEAD);
	ck_assert_str_eq(cf.error, "exit status 78");
	ck_assert_int_eq(us.outcome, RUN_DEAD);
	ck_assert_int_eq(one.outcome, RUN_RETRY);
	ck_assert_str_eq(one.error, "exit status 1");

	ck_assert_int_eq(sig.outcome, RUN_RETRY);
	ck_assert_int_eq(sig.exit_code, -1);
	ck_assert_int_eq(sig.term_signal, SIGKILL);
	ck_assert_str_eq(sig.error, "killed by signal 9 (Killed)");

	t_res_free(&ok);
	t_res_free(&tf);
	t_res_free(&de);
	t_res_free(&cf);
	t_res_free(&us);
	t_res_free(&one);
	t_res_free(&sig);
	t_teardown(&e);
}
END_TEST

/* runner_classify on raw statuses. */
START_TEST(classify)
{
	ck_assert_int_eq(runner_classify(W_EXITCODE(0, 0)), RUN_DONE);
	ck_assert_int_eq(runner_classify(W_EXITCODE(64, 0)), RUN_DEAD);
	ck_assert_int_eq(runner_classify(W_EXITCODE(65, 0)), RUN_DEAD);
	ck_assert_int_eq(runner_classify(W_EXITCODE(77, 0)), RUN_DEAD);
	ck_assert_int_eq(runner_classify(W_EXITCODE(78, 0)), RUN_DEAD);
	ck_assert_int_eq(runner_classify(W_EXITCODE(75, 0)), RUN_RETRY);
	ck_assert_int_eq(runner_classify(W_EXITCODE(1, 0)), RUN_RETRY);
	ck_assert_int_eq(runner_classify(W_EXITCODE(127, 0)), RUN_RETRY);
	ck_assert_int_eq(runner_classify(W_EXITCODE(0, SIGTERM)), RUN_RETRY);
	ck_assert_int_eq(runner_classify(W_EXITCODE(0, SIGKILL)), RUN_RETRY);
}
END_TEST

/* A timeout kills the whole group, grandchild included. */
START_TEST(timeout_kills_group)
{
	struct t_env	e;
	struct t_res	t = { 0 };
	struct run_spec	spec;
	pid_t		gc;

	t_setup(&e);
	t_handler(&e, "hang", "#!/bin/sh\nsleep 1000 &\necho $! > %s/gc.pid\n"
	    "sleep 1000\n", 0755);
	memset(&spec, 0, sizeof(spec));
	spec.job_id = "job-t";
	spec.queue = "default";
	spec.handler = "hang";
	spec.attempt = 1;
	spec.max_attempts = 5;
	spec.timeout_ms = 800;
	t_start_spec(&e, &spec, &t);
	gc = t_read_pid(&e, "gc.pid");
	ck_assert(t_alive(gc));
	t_wait(&e, 20000);

	ck_assert_int_eq(t.outcome, RUN_RETRY);
	ck_assert(t.timed_out);
	ck_assert(!t.killed);
	ck_assert_str_eq(t.error, "timed out after 800ms");
	ck_assert_int_eq(t.term_signal, SIGTERM);
	ck_assert_int_ge(t.duration_ms, 790);
	ck_assert_int_lt(t.duration_ms, 15000);
	ck_assert_msg(H_WAIT_UNTIL(!t_alive(gc), 5000), "grandchild %ld "
	    "survived", (long)gc);
	t_res_free(&t);
	t_teardown(&e);
}
END_TEST

/* A handler that ignores SIGTERM gets SIGKILL after kill_grace. */
START_TEST(timeout_ignores_term)
{
	struct t_env	e;
	struct t_res	t = { 0 };
	struct run_spec	spec;

	t_setup(&e);
	e.cfg->handlers.kill_grace_ms = 300;
	t_handler(&e, "stubborn", "#!/bin/sh\ntrap '' TERM\necho $$ > %s/pid\n"
	    "sleep 1000\n", 0755);
	memset(&spec, 0, sizeof(spec));
	spec.job_id = "job-s";
	spec.handler = "stubborn";
	spec.timeout_ms = 300;
	t_start_spec(&e, &spec, &t);
	t_wait(&e, 20000);

	ck_assert_int_eq(t.outcome, RUN_RETRY);
	ck_assert(t.timed_out);
	ck_assert_int_eq(t.term_signal, SIGKILL);
	ck_assert_str_eq(t.error, "timed out after 300ms");
	ck_assert_int_ge(t.duration_ms, 550);
	ck_assert_int_lt(t.duration_ms, 15000);
	t_res_free(&t);
	t_teardown(&e);
}
END_TEST

/* A grandchild holding stdout after the handler exited: bounded drain. */
START_TEST(grandchild_holds_pipe)
{
	struct t_env	e;
	struct t_res	t = { 0 };
	pid_t		gc;

	t_setup(&e);
	e.cfg->handlers.kill_grace_ms = 5000;	/* drain is then 1s */
	t_handler(&e, "detach", "#!/bin/sh\nsleep 1000 &\necho $! > %s/gc.pid\n"
	    "echo done\nexit 0\n", 0755);
	t_start(&e, "detach", NULL, 0, &t);
	t_wait(&e, 15000);

	ck_assert_int_eq(t.outcome, RUN_DONE);
	ck_assert_int_eq(t.exit_code, 0);
	ck_assert_str_eq(t.output, "done\n");
	ck_assert(!t.timed_out);
	ck_assert_int_ge(t.duration_ms, 900);
	ck_assert_int_lt(t.duration_ms, 10000);
	gc = t_read_pid(&e, "gc.pid");
	ck_assert_msg(H_WAIT_UNTIL(!t_alive(gc), 5000), "grandchild %ld "
	    "survived", (long)gc);
	t_res_free(&t);
	t_teardown(&e);
}
END_TEST

/* stdout floods are capped at max_output and flagged. */
START_TEST(stdout_flood)
{
	struct t_env	e;
	struct t_res	y = { 0 }, z = { 0 };
	struct run_spec	spec;

	t_setup(&e);
	e.cfg->handlers.max_output = 1000;
	t_handler(&e, "yes", "#!/bin/sh\nexec yes\n", 0755);
	t_handler(&e, "zeros", "#!/bin/sh\nhead -c 5000000 /dev/zero\n", 0755);
	memset(&spec, 0, sizeof(spec));
	spec.job_id = "job-y";
	spec.handler = "yes";
	spec.timeout_ms = 500;
	t_start_spec(&e, &spec, &y);
	t_start(&e, "zeros", NULL, 0, &z);
	t_wait(&e, 20000);

	ck_assert_int_eq(y.outcome, RUN_RETRY);
	ck_assert(y.timed_out);
	ck_assert(y.truncated);
	ck_assert_uint_eq(y.output_len, 1000);
	for (size_t i = 0; i < y.output_len; i++)
		ck_assert_int_eq(y.output[i], i % 2 ? '\n' : 'y');

	ck_assert_int_eq(z.outcome, RUN_DONE);
	ck_assert(z.truncated);
	ck_assert_uint_eq(z.output_len, 1000);
	t_res_free(&y);
	t_res_free(&z);
	t_teardown(&e);
}
END_TEST

/* Send our stderr (the log) to a file; returns the saved fd. */
static int
t_capture_log(const char *path)
{
	int	saved, fd;

	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	return (saved);
}

/* Put stderr back. */
static void
t_restore_log(int saved)
{
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
}

/* Count lines of text containing needle. */
static int
t_count(const char *text, const char *needle)
{
	int	n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return (n);
}

/* stderr lines are logged with the job ID, escaped, partial line at EOF. */
START_TEST(stderr_logged)
{
	struct t_env	 e;
	struct t_res	 t = { 0 };
	char		 logpath[400], *log;
	int		 saved;

	t_setup(&e);
	snprintf(logpath, sizeof(logpath), "%s/log", e.top);
	t_handler(&e, "noisy", "#!/bin/sh\nprintf 'line one\\nweird \\001 "
	    "\"q\"\\n' >&2\necho to-stdout\nprintf 'partial' >&2\n", 0755);
	saved = t_capture_log(logpath);
	t.job_id = "job-77";
	t_start(&e, "noisy", NULL, 0, &t);
	t_wait(&e, 20000);
	t_restore_log(saved);

	ck_assert_int_eq(t.outcome, RUN_DONE);
	ck_assert_str_eq(t.output, "to-stdout\n");
	log = h_read_file(logpath);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, "job job-77 (noisy): line one\n") != NULL,
	    "%s", log);
	ck_assert_msg(strstr(log, "job job-77 (noisy): weird \\x01 \\\"q\\\"\n")
	    != NULL, "%s", log);
	ck_assert_msg(strstr(log, "job job-77 (noisy): partial\n") != NULL,
	    "%s", log);
	ck_assert(strstr(log, "to-stdout") == NULL);
	free(log);
	t_res_free(&t);
	t_teardown(&e);
}
END_TEST

/*
 * A stderr flood is logged up to the budget (stderr_log.c, 64 KiB in 10 s),
 * then one line says how much was not logged.
 */
START_TEST(stderr_flood)
{
	struct t_env	 e;
	struct t_res	 t = { 0 }, l = { 0 };
	char		 logpath[400], *log;
	int		 saved, lines;

	t_setup(&e);
	snprintf(logpath, sizeof(logpath), "%s/log", e.top);
	t_handler(&e, "errflood", "#!/bin/sh\nseq 1 200000 >&2\necho ok\n",
	    0755);
	t_handler(&e, "longline", "#!/bin/sh\nhead -c 3000 /dev/zero | "
	    "tr '\\000' x >&2\n", 0755);
	saved = t_capture_log(logpath);
	t.job_id = "job-f";
	l.job_id = "job-l";
	t_start(&e, "errflood", NULL, 0, &t);
	t_start(&e, "longline", NULL, 0, &l);
	t_wait(&e, 20000);
	t_restore_log(saved);

	ck_assert_int_eq(t.outcome, RUN_DONE);
	ck_assert_str_eq(t.output, "ok\n");
	log = h_read_file(logpath);
	ck_assert_ptr_nonnull(log);
	lines = t_count(log, "job job-f (errflood): ");
	ck_assert_int_gt(lines, 5000);		/* ~64 KiB of "NNNNN\n" */
	ck_assert_int_lt(lines, 20000);
	ck_assert_int_eq(t_count(log, "bytes of stderr not logged (more than "
	    "65536 bytes in 10s)"), 1);
	ck_assert(strstr(log, "(errflood): 1\n") != NULL);
	ck_assert(strstr(log, "(errflood): 200000\n") == NULL);
	ck_assert(strlen(log) < 1000000);
	/* A 3000-byte line is logged in pieces, nothing lost. */
	ck_assert_int_eq(l.outcome, RUN_DONE);
	ck_assert_int_eq(t_count(log, "job job-l (longline): "), 3);
	free(log);
	t_res_free(&t);
	t_res_free(&l);
	t_teardown(&e);
}
END_TEST

/* Hostile and unsafe handlers are refused with a reason; nothing runs. */
START_TEST(unsafe_handlers)
{
	struct t_env	 e;
	struct t_res	 t[16];
	char		 marker[] = "#!/bin/sh\ntouch %s/ran\n";
	char		 err[512], path[400], link[400], want[600];
	/* A file missing or unsafe here is RUN_MISSING; a bad name RUN_DEAD. */
	const struct {
		const char	*name;
		const char	*reason;	/* %s: the dir, when it appears */
		enum run_outcome outcome;
	} cases[] = {
		{ "nope", "handler 'nope' not found in %s", RUN_MISSING },
		{ "noexec", "handler 'noexec' is not executable", RUN_MISSING },
		{ "worldw", "handler 'worldw' is writable by group or others",
		  RUN_MISSING },
		{ "groupw", "handler 'groupw' is writable by group or others",
		  RUN_MISSING },
		{ "link", "handler 'link' is a symlink", RUN_MISSING },
		{ "sh", "handler 'sh' is a symlink", RUN_MISSING },
		{ "sub", "handler 'sub' is not a regular file", RUN_MISSING },
		{ "../x", "invalid handler name '../x'", RUN_DEAD },
		{ "a/b", "invalid handler name 'a/b'", RUN_DEAD },
		{ ".hidden", "invalid handler name '.hidden'", RUN_DEAD },
		{ "", "invalid handler name ''", RUN_DEAD },
		{ "x\n", "invalid handler name 'x\\n'", RUN_DEAD },
		{ "-rf", "invalid handler name '-rf'", RUN_DEAD },
	};
	size_t		 n = sizeof(cases) / sizeof(cases[0]);

	t_setup(&e);
	t_handler(&e, "good", marker, 0755);
	t_handler(&e, "noexec", marker, 0644);
	t_handler(&e, "worldw", marker, 0757);
	t_handler(&e, "groupw", marker, 0775);
	t_handler(&e, ".hidden", marker, 0755);
	snprintf(path, sizeof(path), "%s/good", e.dir);
	snprintf(link, sizeof(link), "%s/link", e.dir);
	ck_assert_int_eq(symlink(path, link), 0);
	snprintf(link, sizeof(link), "%s/sh", e.dir);
	ck_assert_int_eq(symlink("/bin/sh", link), 0);
	snprintf(path, sizeof(path), "%s/a", e.dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	t_handler(&e, "a/b", marker, 0755);
	snprintf(path, sizeof(path), "%s/sub", e.dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	h_write_file(e.top, "x", "#!/bin/sh\ntouch ran\n", 0755);

	memset(t, 0, sizeof(t));
	for (size_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), cases[i].reason, e.dir);
		ck_assert_int_eq(handler_check(e.dir, cases[i].name,
		    err, sizeof(err), NULL), -1);
		ck_assert_str_eq(err, want);
		t_start(&e, cases[i].name, "p", 1, &t[i]);
	}
	ck_assert_uint_eq(runner_count(e.r), n);
	t_wait(&e, 10000);
	for (size_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), cases[i].reason, e.dir);
		ck_assert_int_eq(t[i].ncalls, 1);
		ck_assert_int_eq(t[i].outcome, cases[i].outcome);
		ck_assert_str_eq(t[i].error, want);
		ck_assert_int_eq(t[i].exit_code, -1);
		t_res_free(&t[i]);
	}
	snprintf(path, sizeof(path), "%s/ran", e.top);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/ran", e.dir);
	ck_assert_int_ne(access(path, F_OK), 0);

	/* The good one passes; a group-writable directory fails everything. */
	ck_assert_int_eq(handler_check(e.dir, "good", err, sizeof(err), NULL),
	    0);
	ck_assert_int_eq(chmod(e.dir, 0775), 0);
	ck_assert_int_eq(handler_check(e.dir, "good", err, sizeof(err), NULL),
	    -1);
	snprintf(want, sizeof(want), "handlers directory %s: %s is writable by "
	    "group or others", e.dir, e.dir);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(chmod(e.dir, 0755), 0);

	/* Owned by someone else (needs root to set up). */
	if (geteuid() == 0) {
		t_handler(&e, "foreign", marker, 0755);
		snprintf(path, sizeof(path), "%s/foreign", e.dir);
		ck_assert_int_eq(chown(path, 65534, 65534), 0);
		ck_assert_int_eq(handler_check(e.dir, "foreign", err,
		    sizeof(err), NULL), -1);
		ck_assert_str_eq(err, "handler 'foreign' is owned by uid 65534, "
		    "not root or the daemon's user");
	}
	t_teardown(&e);
}
END_TEST

/* Files that pass the checks but cannot be executed: RUN_MISSING, with why. */
START_TEST(spawn_failures)
{
	struct t_env	e;
	struct t_res	a = { 0 }, b = { 0 };

	t_setup(&e);
	t_handler(&e, "garbage", "this is not a program\n", 0755);
	t_handler(&e, "badinterp", "#!/nonexistent/interpreter\n", 0755);
	t_start(&e, "garbage", NULL, 0, &a);
	t_start(&e, "badinterp", "x", 1, &b);
	t_wait(&e, 10000);
	ck_assert_int_eq(a.outcome, RUN_MISSING);
	ck_assert_msg(strstr(a.error, "Exec format error") != NULL, "%s",
	    a.error);
	ck_assert_int_eq(b.outcome, RUN_MISSING);
	ck_assert_msg(strstr(b.error, "interpreter /nonexistent/interpreter") !=
	    NULL, "%s", b.error);
	ck_assert_msg(strstr(b.error, "No such file") != NULL, "%s", b.error);
	t_res_free(&a);
	t_res_free(&b);
	t_teardown(&e);
}
END_TEST

/* Counts, runner_kill and runner_kill_all. */
START_TEST(counts_and_kill)
{
	struct t_env	 e;
	struct t_res	 slow[3], quick[2], miss = { 0 };
	struct run	*s0;

	memset(slow, 0, sizeof(slow));
	memset(quick, 0, sizeof(quick));
	t_setup(&e);
	t_handler(&e, "slow", "#!/bin/sh\nexec sleep 1000\n", 0755);
	t_handler(&e, "quick", "#!/bin/sh\nexit 0\n", 0755);
	s0 = t_start(&e, "slow", NULL, 0, &slow[0]);
	t_start(&e, "slow", NULL, 0, &slow[1]);
	t_start(&e, "slow", NULL, 0, &slow[2]);
	t_start(&e, "quick", NULL, 0, &quick[0]);
	t_start(&e, "quick", NULL, 0, &quick[1]);
	t_start(&e, "missing", NULL, 0, &miss);
	ck_assert_uint_eq(runner_count(e.r), 6);

	ck_assert(t_loop_until(&e, 3, 10000));
	ck_assert_uint_eq(runner_count(e.r), 3);
	ck_assert_int_eq(miss.outcome, RUN_MISSING);

	runner_kill(s0, "lock lost");
	ck_assert_uint_eq(runner_count(e.r), 3);	/* asynchronous */
	ck_assert(t_loop_until(&e, 2, 10000));
	ck_assert_int_eq(slow[0].ncalls, 1);
	ck_assert_int_eq(slow[0].outcome, RUN_RETRY);
	ck_assert(slow[0].killed);
	ck_assert(!slow[0].timed_out);
	ck_assert_str_eq(slow[0].error, "lock lost");
	ck_assert_int_eq(slow[0].term_signal, SIGTERM);

	runner_kill_all(e.r, "shutting down");
	t_wait(&e, 10000);
	for (int i = 1; i < 3; i++) {
		ck_assert_int_eq(slow[i].ncalls, 1);
		ck_assert_int_eq(slow[i].outcome, RUN_RETRY);
		ck_assert(slow[i].killed);
		ck_assert_str_eq(slow[i].error, "shutting down");
	}
	ck_assert_uint_eq(runner_count(e.r), 0);
	for (int i = 0; i < 3; i++)
		t_res_free(&slow[i]);
	t_res_free(&quick[0]);
	t_res_free(&quick[1]);
	t_res_free(&miss);
	t_teardown(&e);
}
END_TEST

/* 50 runs at once all complete with their own output. */
START_TEST(fifty_concurrent)
{
	struct t_env	 e;
	struct t_res	 t[50];
	char		 ids[50][16], payload[50][16], want[64];

	memset(t, 0, sizeof(t));
	t_setup(&e);
	t_handler(&e, "hello", "#!/bin/sh\nread x\necho \"$DEFERD_JOB_ID $x\"\n",
	    0755);
	for (int i = 0; i < 50; i++) {
		snprintf(ids[i], sizeof(ids[i]), "job-%d", i);
		snprintf(payload[i], sizeof(payload[i]), "p%d\n", i);
		t[i].job_id = ids[i];
		t_start(&e, "hello", payload[i], strlen(payload[i]), &t[i]);
	}
	ck_assert_uint_eq(runner_count(e.r), 50);
	t_wait(&e, 25000);
	for (int i = 0; i < 50; i++) {
		snprintf(want, sizeof(want), "job-%d p%d\n", i, i);
		ck_assert_int_eq(t[i].ncalls, 1);
		ck_assert_int_eq(t[i].outcome, RUN_DONE);
		ck_assert_str_eq(t[i].output, want);
		t_res_free(&t[i]);
	}
	ck_assert_uint_eq(runner_count(e.r), 0);
	t_teardown(&e);
}
END_TEST

static struct t_env	*chain_env;
static int		 chain_left;

/* A callback that starts the next run (re-entrancy). */
static void
t_chain_done(const struct run_result *res, void *arg)
{
	struct run_spec	spec;

	(void)arg;
	ck_assert_int_eq(res->outcome, RUN_DONE);
	t_pending--;
	if (--chain_left == 0)
		return;
	memset(&spec, 0, sizeof(spec));
	spec.job_id = "chain";
	spec.handler = "quick";
	t_pending++;
	ck_assert_ptr_nonnull(runner_start(chain_env->r, &spec, t_chain_done,
	    NULL));
}

/* Starting runs from a callback works. */
START_TEST(start_from_callback)
{
	struct t_env	e;
	struct run_spec	spec;

	t_setup(&e);
	t_handler(&e, "quick", "#!/bin/sh\nexit 0\n", 0755);
	chain_env = &e;
	chain_left = 5;
	memset(&spec, 0, sizeof(spec));
	spec.job_id = "chain";
	spec.handler = "quick";
	t_pending++;
	runner_start(e.r, &spec, t_chain_done, NULL);
	t_wait(&e, 20000);
	ck_assert_int_eq(chain_left, 0);
	t_teardown(&e);
}
END_TEST

/* runner_free kills running groups and calls no callback. */
START_TEST(free_with_runs)
{
	struct t_env	e;
	struct t_res	a = { 0 }, b = { 0 };
	pid_t		pid;

	t_setup(&e);
	t_handler(&e, "slow", "#!/bin/sh\necho $$ > %s/pid\nexec sleep 1000\n",
	    0755);
	t_start(&e, "slow", "payload", 7, &a);
	pid = t_read_pid(&e, "pid");
	ck_assert(t_alive(pid));
	t_start(&e, "missing", NULL, 0, &b);	/* its callback is pending */
	runner_free(e.r);
	e.r = NULL;
	ck_assert_msg(H_WAIT_UNTIL(!t_alive(pid), 5000), "%ld survived",
	    (long)pid);
	event_base_loop(e.base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(a.ncalls, 0);
	ck_assert_int_eq(b.ncalls, 0);
	t_teardown(&e);
}
END_TEST

/*
 * Starts happen on the spawner's thread: a run stopped before its child
 * even exists is stopped once it does (the signal waits for the pid),
 * and reports killed like any other.
 */
START_TEST(kill_before_the_exec)
{
	struct t_env	 e;
	struct t_res	 a = { 0 };
	struct run	*run;

	t_setup(&e);
	t_handler(&e, "slow", "#!/bin/sh\nexec sleep 1000\n", 0755);
	run = t_start(&e, "slow", NULL, 0, &a);
	runner_kill(run, "stopped at once");	/* no loop turn: not started */
	t_wait(&e, 10000);
	ck_assert_int_eq(a.ncalls, 1);
	ck_assert_int_eq(a.outcome, RUN_RETRY);
	ck_assert(a.killed);
	ck_assert_str_eq(a.error, "stopped at once");
	ck_assert_uint_eq(runner_count(e.r), 0);
	t_res_free(&a);
	t_teardown(&e);
}
END_TEST

/*
 * runner_free while starts are queued or under way: no callback, and no
 * child that was started survives (the spawner kills what it started
 * for an owner that has gone).
 */
START_TEST(free_during_starts)
{
	struct t_env	e;
	struct t_res	t[20];
	char		path[400], *s;
	int		killed = 0;

	memset(t, 0, sizeof(t));
	t_setup(&e);
	t_handler(&e, "slow", "#!/bin/sh\necho $$ >> %s/pids\n"
	    "exec sleep 1000\n", 0755);
	for (int i = 0; i < 20; i++)
		t_start(&e, "slow", NULL, 0, &t[i]);
	runner_free(e.r);
	e.r = NULL;
	event_base_loop(e.base, EVLOOP_NONBLOCK);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(t[i].ncalls, 0);
	/* A child may still be writing its pid: give them a moment to. */
	snprintf(path, sizeof(path), "%s/pids", e.top);
	for (int64_t end = h_mono_ms() + 500; h_mono_ms() < end; )
		usleep(20000);
	if ((s = h_read_file(path)) != NULL) {
		for (char *line = strtok(s, "\n"); line != NULL;
		    line = strtok(NULL, "\n")) {
			pid_t pid = (pid_t)strtol(line, NULL, 10);

			ck_assert_msg(H_WAIT_UNTIL(!t_alive(pid), 5000),
			    "%ld survived", (long)pid);
			killed++;
		}
		free(s);
	}
	ck_assert_int_le(killed, 20);
	t_teardown(&e);
}
END_TEST

/*
 * Children that exit at once, many at a time: an exit reaped before the
 * loop learnt the child's pid from the spawner is kept for it, so every
 * run reports its own status and none waits for a timeout.
 */
START_TEST(instant_exits_are_not_lost)
{
	struct t_env	e;
	struct t_res	t[100];

	memset(t, 0, sizeof(t));
	t_setup(&e);
	t_handler(&e, "three", "#!/bin/sh\nexit 3\n", 0755);
	for (int i = 0; i < 100; i++)
		t_start(&e, "three", NULL, 0, &t[i]);
	t_wait(&e, 15000);	/* the timeout is 20 s: none may reach it */
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(t[i].ncalls, 1);
		ck_assert_int_eq(t[i].exit_code, 3);
		ck_assert(!t[i].timed_out);
		t_res_free(&t[i]);
	}
	t_teardown(&e);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("runner");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, payload_stdin);
	tcase_add_test(tc, payload_unread);
	tcase_add_test(tc, environment);
	tcase_add_test(tc, fds_signals_session_cwd);
	tcase_add_test(tc, exit_statuses);
	tcase_add_test(tc, classify);
	tcase_add_test(tc, timeout_kills_group);
	tcase_add_test(tc, timeout_ignores_term);
	tcase_add_test(tc, grandchild_holds_pipe);
	tcase_add_test(tc, stdout_flood);
	tcase_add_test(tc, stderr_logged);
	tcase_add_test(tc, stderr_flood);
	tcase_add_test(tc, unsafe_handlers);
	tcase_add_test(tc, spawn_failures);
	tcase_add_test(tc, counts_and_kill);
	tcase_add_test(tc, fifty_concurrent);
	tcase_add_test(tc, start_from_callback);
	tcase_add_test(tc, free_with_runs);
	tcase_add_test(tc, kill_before_the_exec);
	tcase_add_test(tc, free_during_starts);
	tcase_add_test(tc, instant_exits_are_not_lost);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
