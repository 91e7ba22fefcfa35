/* SPDX-License-Identifier: MIT */
/*
 * Process supervisor tests (daemon/proc.c, docs/reliability.md P8/P9):
 * stdin in, stdout out, the exit status, SIGTERM escalating to SIGKILL
 * after the deadline, nothing of the group left after the end, and the
 * bounded drain when a grandchild holds the pipes. Real /bin/sh handlers
 * in a temp directory; every wait runs the loop against a deadline.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "harness.h"
#include "proc.h"
#include "xmalloc.h"

/* One test's world: a handlers dir, a loop, a supervisor. */
struct t_env {
	char			 top[256];
	char			 dir[300];
	struct event_base	*base;
	struct event		*tick;
	struct procs		*ps;
};

/* What the callbacks saw of one proc. */
struct t_seen {
	char		 out[4096];
	size_t		 out_len;
	int		 nends;		/* output_end calls */
	int		 nexits;	/* exited calls */
	int		 status;
	int64_t		 exited_ms;	/* monotonic */
};

static void
t_tick_cb(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
t_setup(struct t_env *e)
{
	struct timeval	tv = { 0, 50000 };

	memset(e, 0, sizeof(*e));
	signal(SIGPIPE, SIG_IGN);
	h_tmpdir(e->top, sizeof(e->top));
	snprintf(e->dir, sizeof(e->dir), "%s/handlers", e->top);
	ck_assert_int_eq(mkdir(e->dir, 0755), 0);
	ck_assert_int_eq(chmod(e->dir, 0755), 0);
	e->base = event_base_new();
	ck_assert_ptr_nonnull(e->base);
	e->tick = event_new(e->base, -1, EV_PERSIST, t_tick_cb, NULL);
	event_add(e->tick, &tv);
	e->ps = procs_new(e->base);
}

static void
t_teardown(struct t_env *e)
{
	const char	*argv[] = { "/bin/rm", "-rf", e->top, NULL };
	char		 out[16];

	procs_free(e->ps);
	event_free(e->tick);
	event_base_free(e->base);
	h_run(argv, NULL, out, sizeof(out));
}

static void
t_output(const char *buf, size_t len, void *arg)
{
	struct t_seen	*s = arg;
	size_t		 room = sizeof(s->out) - 1 - s->out_len;

	if (len > room)
		len = room;
	memcpy(s->out + s->out_len, buf, len);
	s->out_len += len;
	s->out[s->out_len] = '\0';
}

static void
t_output_end(void *arg)
{
	((struct t_seen *)arg)->nends++;
}

static void
t_exited(int status, void *arg)
{
	struct t_seen	*s = arg;

	s->nexits++;
	s->status = status;
	s->exited_ms = h_mono_ms();
}

/* Write handler name with text and start it under the supervisor. */
static struct proc *
t_start(struct t_env *e, const char *name, const char *text, int64_t grace_ms,
    struct t_seen *s)
{
	static const struct proc_cbs cbs = {
		.output = t_output,
		.output_end = t_output_end,
		.exited = t_exited,
	};
	char *const		 envv[] = { (char *)"PATH=/usr/bin:/bin", NULL };
	struct proc_spec	 spec;
	struct proc		*p;
	enum handler_fault	 fault;
	char			 err[256];

	h_write_file(e->dir, name, text, 0755);
	memset(s, 0, sizeof(*s));
	memset(&spec, 0, sizeof(spec));
	spec.dir = e->dir;
	spec.name = name;
	spec.cwd = e->top;
	spec.envv = envv;
	spec.who = name;
	spec.kill_grace_ms = grace_ms;
	p = proc_start(e->ps, &spec, &cbs, s, err, sizeof(err), &fault);
	ck_assert_msg(p != NULL, "%s", err);
	return (p);
}

/* Run the loop until the proc has ended or ms pass. */
static bool
t_wait_exit(struct t_env *e, struct t_seen *s, int64_t ms)
{
	int64_t	deadline = h_mono_ms() + ms;

	while (s->nexits == 0 && h_mono_ms() < deadline)
		event_base_loop(e->base, EVLOOP_ONCE);
	return (s->nexits == 1);
}

/* stdin reaches the handler and its stdout and exit status come back. */
START_TEST(stdin_to_stdout_and_status)
{
	struct t_env	 e;
	struct t_seen	 s;
	struct proc	*p;

	t_setup(&e);
	p = t_start(&e, "echoer", "#!/bin/sh\ncat\necho to-stderr >&2\n"
	    "exit 3\n", 2000, &s);
	ck_assert_int_eq(procs_count(e.ps), 1);
	proc_write(p, "hello ", 6);
	proc_write_give(p, xstrdup("world"), 5);
	proc_close_input(p, false);
	ck_assert_msg(t_wait_exit(&e, &s, 10000 * SLOW), "never ended");
	ck_assert_str_eq(s.out, "hello world");
	ck_assert_int_eq(s.nends, 1);
	ck_assert(WIFEXITED(s.status));
	ck_assert_int_eq(WEXITSTATUS(s.status), 3);
	ck_assert_int_eq(procs_count(e.ps), 0);
	t_teardown(&e);
}
END_TEST

/* A handler that ignores SIGTERM gets SIGKILL when the deadline passes. */
START_TEST(stop_escalates_to_sigkill)
{
	struct t_env	 e;
	struct t_seen	 s;
	struct proc	*p;
	int64_t		 stopped;

	t_setup(&e);
	p = t_start(&e, "stubborn", "#!/bin/sh\ntrap '' TERM\necho up\n"
	    "while :; do sleep 1; done\n", 60000, &s);
	ck_assert(H_WAIT_UNTIL((event_base_loop(e.base, EVLOOP_ONCE),
	    s.out_len > 0), 10000 * SLOW));
	stopped = h_mono_ms();
	proc_stop(p, 300);	/* sooner than its 60 s kill_grace */
	ck_assert_msg(t_wait_exit(&e, &s, 10000 * SLOW), "never ended");
	ck_assert(WIFSIGNALED(s.status));
	ck_assert_int_eq(WTERMSIG(s.status), SIGKILL);
	ck_assert_msg(s.exited_ms - stopped >= 250, "killed after %lldms, "
	    "before the deadline", (long long)(s.exited_ms - stopped));
	t_teardown(&e);
}
END_TEST

/*
 * What a handler leaves in its group dies with it, and a grandchild that
 * holds stdout open cannot hold the end past the bounded drain.
 */
START_TEST(end_kills_the_group_after_a_bounded_drain)
{
	struct t_env	 e;
	struct t_seen	 s;
	pid_t		 grandchild;

	t_setup(&e);
	(void)t_start(&e, "leaver", "#!/bin/sh\nsleep 60 &\necho $!\nexit 0\n",
	    300, &s);
	ck_assert_msg(t_wait_exit(&e, &s, 10000 * SLOW), "never ended");
	ck_assert(WIFEXITED(s.status));
	ck_assert_int_eq(WEXITSTATUS(s.status), 0);
	grandchild = (pid_t)strtol(s.out, NULL, 10);
	ck_assert_int_gt(grandchild, 1);
	ck_assert_int_eq(s.nends, 1);
	ck_assert_msg(H_WAIT_UNTIL(h_pid_gone(grandchild), 5000 * SLOW),
	    "grandchild %ld outlived its handler", (long)grandchild);
	t_teardown(&e);
}
END_TEST

/* A handler that cannot start says whose fault it is and starts nothing. */
START_TEST(start_failures_name_the_fault)
{
	static const struct proc_cbs cbs = { .exited = t_exited };
	struct t_env		 e;
	struct t_seen		 s;
	struct proc_spec	 spec;
	enum handler_fault	 fault;
	char			 err[256];
	char *const		 envv[] = { NULL };

	t_setup(&e);
	memset(&s, 0, sizeof(s));
	memset(&spec, 0, sizeof(spec));
	spec.dir = e.dir;
	spec.cwd = e.top;
	spec.envv = envv;
	spec.who = "t";
	spec.name = "../escape";
	ck_assert_ptr_null(proc_start(e.ps, &spec, &cbs, &s, err, sizeof(err),
	    &fault));
	ck_assert_int_eq(fault, HANDLER_FAULT_NAME);
	spec.name = "absent";
	ck_assert_ptr_null(proc_start(e.ps, &spec, &cbs, &s, err, sizeof(err),
	    &fault));
	ck_assert_int_eq(fault, HANDLER_FAULT_FILE);
	ck_assert_int_eq(procs_count(e.ps), 0);
	ck_assert_int_eq(s.nexits, 0);
	t_teardown(&e);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("proc");
	TCase	*tc = tcase_create("proc");
	SRunner	*sr;
	int	 failed;

	tcase_set_timeout(tc, 60 * SLOW);
	tcase_add_test(tc, stdin_to_stdout_and_status);
	tcase_add_test(tc, stop_escalates_to_sigkill);
	tcase_add_test(tc, end_kills_the_group_after_a_bounded_drain);
	tcase_add_test(tc, start_failures_name_the_fault);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
