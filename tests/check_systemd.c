/* SPDX-License-Identifier: MIT */
/*
 * deferd as a systemd service, without systemd: the tests play the
 * manager's side of sd_notify with their own datagram socket (a path and
 * an abstract name), and check READY/STATUS/WATCHDOG/RELOADING/STOPPING,
 * the drain on SIGTERM, SIGHUP reloads, journald and JSON log lines, the
 * installed layout of `make install`, the unit's verification and security
 * score (when systemd-analyze is present) and the man pages' cleanliness.
 * Every wait polls with a deadline; the only fixed windows are the ones
 * that assert that something does NOT happen.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "json.h"
#include "log.h"

static struct h_world	 W;	/* Redis, client, handlers/out/work dirs */

/* The manager's end of NOTIFY_SOCKET: every datagram with its arrival time. */
#define NS_MAX	4096
static struct {
	int	 fd;
	char	 env[160];	/* "NOTIFY_SOCKET=..." */
	size_t	 n;
	int64_t	 at[NS_MAX];
	char	*msg[NS_MAX];
} NS = { .fd = -1 };

/* Start Redis and make the directories. */
static void
setup(void)
{
	h_world_setup(&W, NULL);
}

/* Stop Redis, remove the directories, close the notify socket. */
static void
teardown(void)
{
	h_world_teardown(&W);
	if (NS.fd != -1)
		close(NS.fd);
	NS.fd = -1;
	for (size_t i = 0; i < NS.n; i++)
		free(NS.msg[i]);
	NS.n = 0;
}

/* A config for the test Redis; extra YAML is appended at the top level. */
static const char *
config_text(const char *url, const char *extra)
{
	static char	buf[8192];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "retry: {max_attempts: 3, backoff: 100ms, backoff_max: 2s}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 20s\n"
	    "  kill_grace: 500ms\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "%s",
	    url != NULL ? url : W.r.url, W.hdir, W.out, extra != NULL ? extra : "");
	return (buf);
}

/* Replace the daemon's config file with text. */
static void
rewrite_config(const struct h_daemon *d, const char *text)
{
	char	tmp[400];
	FILE	*f;

	snprintf(tmp, sizeof(tmp), "%s.new", d->config);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, d->config), 0);
}

/* Path of a file in OUT. */
static const char *
out(const char *name)
{
	static char	path[2][600];
	static int	n;
	char		*p = path[n++ % 2];

	snprintf(p, sizeof(path[0]), "%s/%s", W.out, name);
	return (p);
}

/* The process state letter from /proc/PID/stat ('T' when stopped). */
static char
proc_state(pid_t pid)
{
	char	path[64], *stat, *p, c = '?';

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((stat = h_read_file(path)) == NULL)
		return ('?');
	if ((p = strrchr(stat, ')')) != NULL && p[1] == ' ')
		c = p[2];
	free(stat);
	return (c);
}

/* ---- the notify socket ---------------------------------------------- */

/* Bind the manager's socket: a path in WORK, or an abstract name. */
static void
ns_open(bool abstract)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	char			name[100];

	NS.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(NS.fd, -1);
	if (abstract)
		snprintf(name, sizeof(name), "@deferd-test-%d-%" PRId64,
		    (int)getpid(), h_mono_ms());
	else
		snprintf(name, sizeof(name), "%s/notify", W.work);
	ck_assert_int_lt(strlen(name), sizeof(sun.sun_path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, strlen(name));
	if (abstract)
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	ck_assert_msg(bind(NS.fd, (struct sockaddr *)&sun, len) == 0, "bind %s: %s",
	    name, strerror(errno));
	if (!abstract)
		chmod(name, 0777);
	snprintf(NS.env, sizeof(NS.env), "NOTIFY_SOCKET=%s", name);
}

/* Take what arrived within ms (all that is queued, at least one poll). */
static void
ns_pump(int ms)
{
	struct pollfd	pfd = { .fd = NS.fd, .events = POLLIN };
	char		buf[8192];
	ssize_t		n;

	if (poll(&pfd, 1, ms) <= 0)
		return;
	while ((n = recv(NS.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
		buf[n] = '\0';
		ck_assert_int_lt(NS.n, NS_MAX);
		NS.at[NS.n] = h_mono_ms();
		NS.msg[NS.n++] = strdup(buf);
	}
}

/* Whether msg has a line starting with prefix. */
static bool
ns_has(const char *msg, const char *prefix)
{
	size_t	len = strlen(prefix);

	for (const char *p = msg; p != NULL && *p != '\0'; ) {
		if (strncmp(p, prefix, len) == 0)
			return (true);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return (false);
}

/* Index of the first message at or after from with a line starting with prefix; -1. */
static int
ns_find(size_t from, const char *prefix)
{
	for (size_t i = from; i < NS.n; i++)
		if (ns_has(NS.msg[i], prefix))
			return ((int)i);
	return (-1);
}

/* Receive until such a message arrives or ms pass; its index, or -1. */
static int
ns_wait(size_t from, const char *prefix, int64_t ms)
{
	int64_t	end = h_mono_ms() + ms;
	int	i;

	while ((i = ns_find(from, prefix)) < 0 && h_mono_ms() < end)
		ns_pump(50);
	return (i);
}

/* Messages at or after from with such a line. */
static int
ns_count(size_t from, const char *prefix)
{
	int	n = 0;

	for (size_t i = from; i < NS.n; i++)
		n += ns_has(NS.msg[i], prefix);
	return (n);
}

/* The value of the first "KEY=" line of message i ("" if none), in a static buffer. */
static const char *
ns_value(int i, const char *key)
{
	static char	 buf[1024];
	size_t		 len = strlen(key);
	const char	*p = NS.msg[i];

	buf[0] = '\0';
	for (; p != NULL && *p != '\0'; ) {
		if (strncmp(p, key, len) == 0) {
			const char *e = strchr(p, '\n');

			snprintf(buf, sizeof(buf), "%.*s",
			    (int)(e != NULL ? (size_t)(e - p) - len : strlen(p) - len), p + len);
			break;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return (buf);
}

/* Receive for a whole window of ms (for asserting that nothing comes). */
static void
ns_window(int64_t ms)
{
	for (int64_t end = h_mono_ms() + ms; h_mono_ms() < end; )
		ns_pump(50);
}

/* ---- sd_notify -------------------------------------------------------- */

START_TEST(notify_ready_after_redis_watchdog_reload_stop_path_socket)
{
	struct h_daemon	 d;
	const char	*env[] = { NS.env, "WATCHDOG_USEC=1000000",
			    "WATCHDOG_PID=%pid", NULL };
	int		 i, ready, status, n;
	size_t		 mark;
	int64_t		 t0;
	char		*envdump;
	pid_t		 rpid = W.r.pid;

	ns_open(false);
	/* Redis is down when deferd starts. */
	kill(rpid, SIGTERM);
	waitpid(rpid, NULL, 0);
	W.r.pid = 0;
	h_write_file(W.hdir, "env", "#!/bin/sh\nenv > \"$OUT/env\"\n", 0755);
	h_write_file(W.hdir, "gate", "#!/bin/sh\necho started >> \"$OUT/gate\"\n"
	    "while [ ! -e \"$OUT/go\" ]; do sleep 0.05; done\n", 0755);
	h_daemon_start_env(&d, W.work, config_text(NULL, NULL), env);
	ck_assert_msg(ns_wait(0, "STATUS=", 10000) >= 0, "no STATUS= at start");
	ck_assert_msg(ns_wait(0, "WATCHDOG=1", 10000) >= 0,
	    "no WATCHDOG=1 while waiting for Redis");
	ns_window(1200);
	ck_assert_msg(ns_find(0, "READY=1") < 0, "READY=1 before Redis was up");
	ck_assert(strstr(NS.msg[ns_find(0, "STATUS=")], "connecting") != NULL);
	h_redis_restart(&W.r);
	redisFree(W.c);
	W.c = h_redis_connect(&W.r);
	ready = ns_wait(0, "READY=1", 30000);
	ck_assert_msg(ready >= 0, "no READY=1 after Redis came up");
	ck_assert_msg(strstr(ns_value(ready, "STATUS="), "Redis connected") != NULL,
	    "READY=1 came with STATUS=%s", ns_value(ready, "STATUS="));
	ck_assert_int_eq(ns_count(0, "READY=1"), 1);

	/* WATCHDOG_USEC=1s: a ping about every 500 ms. */
	mark = NS.n;
	t0 = h_mono_ms();
	ns_window(3000);
	n = ns_count(mark, "WATCHDOG=1");
	ck_assert_msg(n >= 3 && n <= 10, "%d WATCHDOG=1 in %" PRId64 " ms", n,
	    h_mono_ms() - t0);

	/* STATUS= follows the counts; handlers never see our variables. */
	h_enqueue(W.c, "e1", "env", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("env")) > 0 &&
	    h_zcard(W.c, "active") == 0, 15000));
	envdump = h_read_file(out("env"));
	ck_assert_ptr_nonnull(envdump);
	ck_assert_msg(strstr(envdump, "NOTIFY_SOCKET") == NULL &&
	    strstr(envdump, "WATCHDOG_") == NULL, "handler env:\n%s", envdump);
	free(envdump);
	mark = NS.n;
	h_enqueue(W.c, "g1", "gate", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("gate")) == 1, 15000));
	i = ns_wait(mark, "STATUS=Redis connected; 1 running, 0 waiting, 1 claimed", 10000);
	ck_assert_msg(i >= 0, "no STATUS= with the running handler");
	h_write_file(W.out, "go", "", 0644);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 15000));
	ck_assert(ns_wait(mark, "STATUS=Redis connected; 0 running, 0 waiting, 0 claimed",
	    10000) >= 0);

	/* SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again. */
	mark = NS.n;
	kill(d.pid, SIGHUP);
	i = ns_wait(mark, "RELOADING=1", 10000);
	ck_assert_msg(i >= 0, "no RELOADING=1 on SIGHUP");
	{
		long long usec = strtoll(ns_value(i, "MONOTONIC_USEC="), NULL, 10);
		long long now = ((long long)h_mono_ms() + 1) * 1000;

		ck_assert_msg(usec > now - 30000000LL && usec <= now,
		    "MONOTONIC_USEC=%lld, now %lld", usec, now);
	}
	ck_assert_msg(ns_wait((size_t)i + 1, "READY=1", 10000) > i,
	    "no READY=1 after RELOADING=1");

	/* SIGSTOP: the loop does not turn, so nothing is sent. */
	kill(d.pid, SIGSTOP);
	ck_assert(H_WAIT_UNTIL(proc_state(d.pid) == 'T', 5000));
	ns_pump(100);
	mark = NS.n;
	ns_window(2000);
	ck_assert_msg(NS.n == mark, "%zu message(s) from a stopped daemon: %s",
	    NS.n - mark, NS.msg[mark]);
	kill(d.pid, SIGCONT);
	ck_assert_msg(ns_wait(mark, "WATCHDOG=1", 5000) >= 0, "no WATCHDOG=1 after SIGCONT");

	/* SIGTERM: STOPPING=1, then a clean exit. */
	mark = NS.n;
	kill(d.pid, SIGTERM);
	ck_assert_msg(ns_wait(mark, "STOPPING=1", 10000) >= 0, "no STOPPING=1");
	status = h_daemon_wait_exit(&d, 15000);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/*
 * docs/reliability.md P5: with expiration rules, READY=1 waits for the
 * notify-keyspace-events check. Flags missing and configure_redis false:
 * no READY=1, exit 1 with the message. configure_redis true: READY=1
 * arrives once the flags are set.
 */
START_TEST(notify_ready_waits_for_the_expiration_flags_check)
{
	struct h_daemon	 d;
	const char	*env[] = { NS.env, NULL };
	const char	*rules = "  rules: [{pattern: \"t:*\", handler: stamp}]\n";
	char		 extra[512], dir[600], flags[64];
	int		 status, ready;

	ns_open(false);
	freeReplyObject(h_cmd(W.c, "CONFIG SET notify-keyspace-events %s", ""));
	snprintf(extra, sizeof(extra), "expirations:\n%s", rules);
	snprintf(dir, sizeof(dir), "%s/refuse", W.work);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	h_daemon_start_env(&d, dir, config_text(NULL, extra), env);
	status = h_daemon_wait_exit(&d, 15000);
	ck_assert_msg(status != -1, "deferd did not exit");
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	ck_assert(h_daemon_log_has(&d, "CONFIG SET notify-keyspace-events Exg", 1000));
	ns_window(200);
	ck_assert_int_eq(ns_count(0, "READY=1"), 0);

	freeReplyObject(h_cmd(W.c, "CONFIG SET notify-keyspace-events %s", ""));
	snprintf(extra, sizeof(extra), "expirations:\n  configure_redis: true\n%s",
	    rules);
	snprintf(dir, sizeof(dir), "%s/configure", W.work);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	h_daemon_start_env(&d, dir, config_text(NULL, extra), env);
	ready = ns_wait(0, "READY=1", 15000);
	ck_assert_msg(ready >= 0, "no READY=1");
	/* By READY=1 the flags were set already. */
	{
		redisReply *r = h_cmd(W.c, "CONFIG GET notify-keyspace-events");

		snprintf(flags, sizeof(flags), "%s", r->element[1]->str);
		freeReplyObject(r);
	}
	ck_assert_msg(strchr(flags, 'E') && strchr(flags, 'x') &&
	    strchr(flags, 'g'), "flags \"%s\" at READY=1", flags);
	ck_assert(h_daemon_log_has(&d, "notify-keyspace-events set", 1000));
	ck_assert(h_daemon_log_has(&d, "ready: ", 1000));
	{
		char *log = h_read_file(d.log);

		ck_assert_ptr_nonnull(log);
		ck_assert_msg(strstr(log, "notify-keyspace-events set") <
		    strstr(log, "ready: "), "ready logged before the flags were set");
		free(log);
	}
	ck_assert_int_eq(h_daemon_signal(&d, SIGTERM, true), 0);
}
END_TEST

START_TEST(notify_abstract_socket_and_foreign_watchdog_pid)
{
	struct h_daemon	 d;
	/* The watchdog belongs to another process: deferd must not ping. */
	const char	*env[] = { NS.env, "WATCHDOG_USEC=400000", "WATCHDOG_PID=1", NULL };
	int		 ready, status;
	size_t		 mark;

	ns_open(true);
	ck_assert(NS.env[strlen("NOTIFY_SOCKET=")] == '@');
	h_daemon_start_env(&d, W.work, config_text(NULL, NULL), env);
	ready = ns_wait(0, "READY=1", 30000);
	ck_assert_msg(ready >= 0, "no READY=1 on an abstract socket");
	ck_assert(strstr(ns_value(ready, "STATUS="), "Redis connected") != NULL);
	ns_window(1500);
	ck_assert_int_eq(ns_count(0, "WATCHDOG=1"), 0);
	mark = NS.n;
	kill(d.pid, SIGTERM);
	ck_assert(ns_wait(mark, "STOPPING=1", 10000) >= 0);
	status = h_daemon_wait_exit(&d, 15000);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(no_notify_socket_is_a_quiet_no_op)
{
	struct h_daemon	d;
	int		status;

	unsetenv("NOTIFY_SOCKET");
	h_write_file(W.hdir, "ok", "#!/bin/sh\necho ok >> \"$OUT/ok\"\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL, NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	h_enqueue(W.c, "ok1", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ok")) == 1, 15000));
	kill(d.pid, SIGHUP);
	ck_assert(h_daemon_log_has(&d, "reloaded", 10000));
	kill(d.pid, SIGTERM);
	status = h_daemon_wait_exit(&d, 15000);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert(!h_daemon_log_has(&d, "sd_notify", 1));
}
END_TEST

/* ---- drain ------------------------------------------------------------ */

START_TEST(sigterm_lets_three_running_handlers_finish)
{
	struct h_daemon	 d;
	const char	*env[] = { NS.env, NULL };
	int		 status;
	int64_t		 t0;

	ns_open(false);
	h_write_file(W.hdir, "gate", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/started\"\n"
	    "while [ ! -e \"$OUT/go\" ]; do sleep 0.05; done\n"
	    "echo \"$DEFERD_JOB_ID\" >> \"$OUT/done\"\n", 0755);
	h_daemon_start_env(&d, W.work, config_text(NULL, "shutdown_timeout: 20s\n"), env);
	ck_assert(ns_wait(0, "READY=1", 15000) >= 0);
	h_enqueue(W.c, "a", "gate", "", 0, 0);
	h_enqueue(W.c, "b", "gate", "", 0, 0);
	h_enqueue(W.c, "c", "gate", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("started")) == 3, 15000));
	kill(d.pid, SIGTERM);
	ck_assert(ns_wait(0, "STOPPING=1", 10000) >= 0);
	ck_assert(h_daemon_log_has(&d, "draining 3 job(s)", 10000));
	/* No new claims while draining. */
	h_enqueue(W.c, "late", "gate", "", 0, 0);
	h_write_file(W.out, "go", "", 0644);
	t0 = h_mono_ms();
	status = h_daemon_wait_exit(&d, 20000);
	ck_assert_msg(status != -1, "deferd did not exit after its handlers finished");
	ck_assert_msg(h_mono_ms() - t0 < 15000, "drain took %" PRId64 " ms",
	    h_mono_ms() - t0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(h_count_lines(out("done")), 3);
	ck_assert_int_eq(h_count_lines(out("started")), 3);
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:{default}:result:a "
	    "deferd:{default}:result:b deferd:{default}:result:c"), 3);
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 1);
	ck_assert_int_gt(h_cmd_int(W.c, "ZSCORE deferd:{default}:delayed late"), 0);
	/* Never claimed: no attempt made, so no attempts field. */
	ck_assert_int_le(h_job_int(W.c, "deferd:{default}:job:late attempts"), 0);
}
END_TEST

START_TEST(sigterm_kills_a_handler_that_outlives_shutdown_timeout)
{
	struct h_daemon	d;
	int		status;
	int64_t		t0;

	h_write_file(W.hdir, "quick", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/started\"\n"
	    "while [ ! -e \"$OUT/go\" ]; do sleep 0.05; done\n", 0755);
	h_write_file(W.hdir, "stuck", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/started\"\n"
	    "exec sleep 1000\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL, "shutdown_timeout: 1s\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	h_enqueue(W.c, "q1", "quick", "", 0, 0);
	h_enqueue(W.c, "q2", "quick", "", 0, 0);
	h_enqueue(W.c, "s1", "stuck", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("started")) == 3, 15000));
	ck_assert_int_eq(h_job_int(W.c, "deferd:{default}:job:s1 attempts"), 1);
	kill(d.pid, SIGTERM);
	ck_assert(h_daemon_log_has(&d, "draining", 10000));
	h_write_file(W.out, "go", "", 0644);
	t0 = h_mono_ms();
	status = h_daemon_wait_exit(&d, 20000);
	ck_assert_msg(status != -1, "deferd did not exit");
	/* shutdown_timeout 1s + kill_grace 0.5s, with room for a busy machine. */
	ck_assert_msg(h_mono_ms() - t0 < 10000, "exit took %" PRId64 " ms", h_mono_ms() - t0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert(h_daemon_log_has(&d, "shutdown_timeout passed", 1));
	ck_assert_int_eq(h_cmd_int(W.c, "EXISTS deferd:{default}:result:q1 "
	    "deferd:{default}:result:q2"), 2);
	ck_assert_int_gt(h_cmd_int(W.c, "ZSCORE deferd:{default}:delayed s1"), 0);
	/* The attempt the drain interrupted is given back: as before the claim. */
	ck_assert_int_eq(h_job_int(W.c, "deferd:{default}:job:s1 attempts"), 0);
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
}
END_TEST

START_TEST(second_sigterm_stops_at_once)
{
	struct h_daemon	d;
	int		status;
	int64_t		t0;

	h_write_file(W.hdir, "stuck", "#!/bin/sh\necho started >> \"$OUT/started\"\n"
	    "exec sleep 1000\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL, "shutdown_timeout: 60s\n"));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	h_enqueue(W.c, "s1", "stuck", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("started")) == 1, 15000));
	kill(d.pid, SIGTERM);
	ck_assert(h_daemon_log_has(&d, "draining", 10000));
	t0 = h_mono_ms();
	kill(d.pid, SIGTERM);
	status = h_daemon_wait_exit(&d, 15000);
	ck_assert_msg(status != -1, "deferd did not stop after a second SIGTERM");
	ck_assert_msg(h_mono_ms() - t0 < 10000, "took %" PRId64 " ms", h_mono_ms() - t0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert(h_daemon_log_has(&d, "stopping handlers now", 1));
	ck_assert_int_gt(h_cmd_int(W.c, "ZSCORE deferd:{default}:delayed s1"), 0);
	ck_assert_int_eq(h_job_int(W.c, "deferd:{default}:job:s1 attempts"), 0);
}
END_TEST

/* ---- reload ----------------------------------------------------------- */

START_TEST(sighup_applies_concurrency_and_a_new_timeout_override)
{
	struct h_daemon	 d;
	const char	*env[] = { NS.env, NULL };
	char		 buf[1024], text[8192];
	size_t		 mark;

	ns_open(false);
	h_write_file(W.hdir, "gate1", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/started1\"\n"
	    "while [ ! -e \"$OUT/go1\" ]; do sleep 0.05; done\n", 0755);
	h_write_file(W.hdir, "gate2", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/started2\"\n"
	    "while [ ! -e \"$OUT/go2\" ]; do sleep 0.05; done\n", 0755);
	h_write_file(W.hdir, "slow", "#!/bin/sh\nexec sleep 30\n", 0755);
	/* Logging at warning: the info line "reloaded" shows the new level too. */
	h_daemon_start_env(&d, W.work, config_text(NULL,
	    "concurrency: 1\nlog: {level: warning}\n"), env);
	ck_assert(ns_wait(0, "READY=1", 15000) >= 0);

	/* concurrency 1: one gate1 runs, the other waits for it. */
	h_enqueue(W.c, "a1", "gate1", "", 0, 0);
	h_enqueue(W.c, "a2", "gate1", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("started1")) == 1, 15000));
	ns_window(1000);
	ck_assert_int_eq(h_count_lines(out("started1")), 1);
	h_write_file(W.out, "go1", "", 0644);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("started1")) == 2 &&
	    h_zcard(W.c, "active") == 0, 15000));

	/* Reload: concurrency 3 and a timeout for slow (under handlers:). */
	snprintf(text, sizeof(text), "%s", config_text(NULL,
	    "  overrides: {slow: {timeout: 300ms, max_attempts: 1}}\n"
	    "concurrency: 3\nlog: {level: info}\n"));
	rewrite_config(&d, text);
	mark = NS.n;
	kill(d.pid, SIGHUP);
	ck_assert(ns_wait(mark, "RELOADING=1", 10000) >= 0);
	ck_assert(ns_wait(mark, "READY=1", 10000) >= 0);
	ck_assert(h_daemon_log_has(&d, "reloaded", 10000));
	ck_assert(h_daemon_log_has(&d, "concurrency 3, 1 handler override(s)", 1));

	h_enqueue(W.c, "b1", "gate2", "", 0, 0);
	h_enqueue(W.c, "b2", "gate2", "", 0, 0);
	h_enqueue(W.c, "b3", "gate2", "", 0, 0);
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(out("started2")) == 3, 15000),
	    "concurrency 3 did not run 3 handlers at once");
	h_write_file(W.out, "go2", "", 0644);
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0 && h_zcard(W.c, "delayed") == 0, 15000));

	h_enqueue(W.c, "slow1", "slow", "", 0, 0);
	ck_assert_msg(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 1, 15000),
	    "the new timeout override did not stop the slow handler");
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:slow1 last_error");
	ck_assert_msg(strstr(buf, "timed out") != NULL, "last_error: %s", buf);
	h_daemon_stop(&d);
}
END_TEST

START_TEST(sighup_with_a_broken_file_keeps_running_and_says_why)
{
	struct h_daemon	 d;
	const char	*env[] = { NS.env, NULL };
	int		 i;
	size_t		 mark;

	ns_open(false);
	h_write_file(W.hdir, "ok", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ok\"\n", 0755);
	h_daemon_start_env(&d, W.work, config_text(NULL, "concurrency: 2\n"), env);
	ck_assert(ns_wait(0, "READY=1", 15000) >= 0);
	rewrite_config(&d, "redis: {url: [not, a, url]\nconcurrency: 0\n");
	mark = NS.n;
	kill(d.pid, SIGHUP);
	ck_assert(ns_wait(mark, "RELOADING=1", 10000) >= 0);
	i = ns_wait(mark, "READY=1", 10000);
	ck_assert(i >= 0);
	ck_assert_msg(strstr(ns_value(i, "STATUS="), "last reload failed: ") != NULL,
	    "STATUS=%s", ns_value(i, "STATUS="));
	ck_assert(h_daemon_log_has(&d, "reload failed, keeping the current configuration", 10000));
	ck_assert(h_daemon_log_has(&d, ".yaml:", 1));
	h_enqueue(W.c, "after-hup", "ok", "", 0, 0);
	ck_assert(H_WAIT_UNTIL(h_count_lines(out("ok")) == 1, 15000));
	ck_assert_int_eq(kill(d.pid, 0), 0);

	/* A good file again clears the note. */
	rewrite_config(&d, config_text(NULL, "concurrency: 2\n"));
	mark = NS.n;
	kill(d.pid, SIGHUP);
	i = ns_wait(mark, "READY=1", 10000);
	ck_assert(i >= 0);
	ck_assert_msg(strstr(ns_value(i, "STATUS="), "reload failed") == NULL,
	    "STATUS=%s", ns_value(i, "STATUS="));
	h_daemon_stop(&d);
}
END_TEST

START_TEST(sighup_with_a_new_redis_url_reconnects)
{
	struct h_daemon	 d;
	struct h_redis	 r2;
	redisContext	*c2;

	h_write_file(W.hdir, "ok", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/ok\"\n", 0755);
	h_daemon_start(&d, W.work, config_text(NULL, NULL));
	ck_assert(h_daemon_log_has(&d, "ready", 15000));
	h_redis_start(&r2, NULL);
	c2 = h_redis_connect(&r2);
	rewrite_config(&d, config_text(r2.url, NULL));
	kill(d.pid, SIGHUP);
	ck_assert(h_daemon_log_has(&d, "reloaded", 10000));
	h_enqueue(c2, "on-r2", "ok", "", 0, 0);
	ck_assert_msg(H_WAIT_UNTIL(h_count_lines(out("ok")) == 1, 30000),
	    "the job on the new Redis did not run");
	ck_assert(H_WAIT_UNTIL(h_cmd_int(c2, "EXISTS deferd:{default}:result:on-r2") == 1,
	    15000));
	h_daemon_stop(&d);
	redisFree(c2);
	h_redis_stop(&r2);
}
END_TEST

/* ---- logging ---------------------------------------------------------- */

/*
 * Run fn with stderr redirected to a fresh file in WORK; with journal, set
 * JOURNAL_STREAM to that file's device and inode first (as systemd does for
 * the journal's stream socket), else to another file's. Returns the output.
 */
static char *
capture_log(bool journal, void (*fn)(void))
{
	char		path[400], other[400];
	struct stat	st;
	char		js[64], *text;
	int		fd, saved;

	h_tmpdir(W.work, sizeof(W.work));
	snprintf(path, sizeof(path), "%s/stderr", W.work);
	snprintf(other, sizeof(other), "%s/other", W.work);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	if (!journal) {
		int ofd = open(other, O_WRONLY | O_CREAT, 0644);

		ck_assert_int_ne(ofd, -1);
		ck_assert_int_eq(fstat(ofd, &st), 0);
		close(ofd);
	}
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);
	log_init("deferd");
	fn();
	dup2(saved, 2);
	close(saved);
	text = h_read_file(path);
	snprintf(path, sizeof(path), "rm -rf '%s'", W.work);
	if (system(path) != 0)
		fprintf(stderr, "could not remove %s\n", W.work);
	return (text);
}

/* One message at each level, a multi-line one, and one with JSON's special characters. */
static void
log_some(void)
{
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("dbg %d", 1);
	log_info("hello");
	log_warnx("careful");
	log_errorx("broken");
	log_info("two\nlines");
	log_info("q\"uote b\\ack\ttab \x01 caf\xc3\xa9 bad\xff");
}

static void
log_some_text(void)
{
	log_set_format(LOG_FORMAT_TEXT);
	log_some();
}

static void
log_some_json(void)
{
	log_set_format(LOG_FORMAT_JSON);
	log_some();
}

START_TEST(log_journal_stream_gives_priority_prefixes)
{
	char	*s = capture_log(true, log_some_text);
	const char *want = "<7>dbg 1\n<6>hello\n<4>careful\n<3>broken\n"
	    "<6>two lines\n<6>q\"uote b\\ack\ttab \x01 caf\xc3\xa9 bad\xff\n";

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strcmp(s, want) == 0, "got:\n%s", s);
	free(s);
}
END_TEST

START_TEST(log_plain_when_stderr_is_not_the_journal)
{
	char	*s = capture_log(false, log_some_text);

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strchr(s, '<') == NULL, "got:\n%s", s);
	ck_assert_msg(strstr(s, "Z deferd info: hello\n") != NULL, "got:\n%s", s);
	ck_assert(strstr(s, "Z deferd warning: careful\n") != NULL);
	ck_assert(strstr(s, "Z deferd error: broken\n") != NULL);
	ck_assert(strstr(s, "Z deferd info: two lines\n") != NULL);
	free(s);
	unsetenv("JOURNAL_STREAM");
}
END_TEST

/* Check one JSON log line: an object with the four fields, valid UTF-8. */
static void
check_json_line(const char *line, size_t len, const char *level, const char *msg)
{
	char	want[256];

	ck_assert_msg(len > 2 && line[0] == '{' && line[len - 1] == '}',
	    "not an object: %.*s", (int)len, line);
	ck_assert(json_valid_utf8(line, len));
	for (size_t i = 0; i < len; i++)
		ck_assert_msg((unsigned char)line[i] >= 0x20, "control byte in %.*s",
		    (int)len, line);
	ck_assert(strncmp(line, "{\"ts_ms\":", 9) == 0);
	snprintf(want, sizeof(want), "\"level\":\"%s\",\"prog\":\"deferd\",\"msg\":\"%s\"}",
	    level, msg);
	ck_assert_msg(len >= strlen(want) &&
	    memcmp(line + len - strlen(want), want, strlen(want)) == 0,
	    "line %.*s does not end with %s", (int)len, line, want);
}

START_TEST(log_json_one_object_per_line)
{
	static const struct { const char *level, *msg; } want[] = {
		{ "debug", "dbg 1" }, { "info", "hello" }, { "warning", "careful" },
		{ "error", "broken" }, { "info", "two\\u000alines" },
		{ "info", "q\\\"uote b\\\\ack\\u0009tab \\u0001 caf\xc3\xa9 bad\xef\xbf\xbd" },
	};
	char	*s = capture_log(false, log_some_json), *p, *nl;
	size_t	 i = 0;

	ck_assert_ptr_nonnull(s);
	for (p = s; (nl = strchr(p, '\n')) != NULL; p = nl + 1, i++) {
		ck_assert_uint_lt(i, sizeof(want) / sizeof(want[0]));
		check_json_line(p, (size_t)(nl - p), want[i].level, want[i].msg);
	}
	ck_assert_uint_eq(i, sizeof(want) / sizeof(want[0]));
	ck_assert_str_eq(p, "");
	free(s);
}
END_TEST

START_TEST(log_json_under_the_journal_keeps_the_priority)
{
	char	*s = capture_log(true, log_some_json);

	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strncmp(s, "<7>{\"ts_ms\":", 12) == 0, "got:\n%s", s);
	ck_assert(strstr(s, "\n<3>{\"ts_ms\":") != NULL);
	free(s);
}
END_TEST

START_TEST(daemon_logs_json_lines)
{
	struct h_daemon	 d;
	char		*s, *p, *nl;
	int		 lines = 0;

	h_daemon_start(&d, W.work, config_text(NULL, "log: {format: json}\n"));
	ck_assert(h_daemon_log_has(&d, "\"msg\":\"ready:", 15000));
	kill(d.pid, SIGTERM);
	ck_assert(WIFEXITED(h_daemon_wait_exit(&d, 15000)));
	s = h_read_file(d.log);
	ck_assert_ptr_nonnull(s);
	for (p = s; (nl = strchr(p, '\n')) != NULL; p = nl + 1, lines++) {
		/* The very first lines may come before the config was read. */
		if (*p != '{')
			continue;
		ck_assert_msg(nl[-1] == '}', "line: %.*s", (int)(nl - p), p);
		ck_assert(json_valid_utf8(p, (size_t)(nl - p)));
	}
	ck_assert_int_gt(lines, 2);
	ck_assert(strstr(s, "\"msg\":\"exited with status 0\"") != NULL);
	free(s);
}
END_TEST

/* ---- install, unit, man pages ----------------------------------------- */

/* The source tree: DEFERD_BUILD's parent when it holds the Makefile, else ".". */
static const char *
source_root(void)
{
	static char	 root[600];
	const char	*build = getenv("DEFERD_BUILD");
	char		 probe[700], *slash;

	if (build != NULL && build[0] == '/') {
		snprintf(root, sizeof(root), "%s", build);
		while (strlen(root) > 1 && root[strlen(root) - 1] == '/')
			root[strlen(root) - 1] = '\0';
		if ((slash = strrchr(root, '/')) != NULL) {
			*slash = '\0';
			snprintf(probe, sizeof(probe), "%s/systemd/deferd.service",
			    root[0] != '\0' ? root : "/");
			if (access(probe, R_OK) == 0)
				return (root);
		}
	}
	ck_assert_msg(access("systemd/deferd.service", R_OK) == 0,
	    "cannot find the source tree (set DEFERD_BUILD to an absolute build dir)");
	return (".");
}

/* The build directory as make should see it: $DEFERD_BUILD, else "build". */
static const char *
build_dir(void)
{
	const char	*b = getenv("DEFERD_BUILD");

	return (b != NULL && *b != '\0' ? b : "build");
}

/* The last 1000 bytes of s (which it takes and leaks: only for failure messages). */
static const char *
tail(char *s)
{
	size_t	len;

	if (s == NULL)
		return ("");
	len = strlen(s);
	return (len > 1000 ? s + len - 1000 : s);
}

/* Run a shell command; its exit status (0 success), output to outpath. */
static int
shell(const char *outpath, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
shell(const char *outpath, const char *fmt, ...)
{
	char	cmd[4096], full[4800];
	va_list	ap;
	int	st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "( %s ) > '%s' 2>&1", cmd, outpath);
	st = system(full);
	return (st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128);
}

/* Whether DESTDIR-relative path exists with exactly mode (type bits ignored). */
static void
check_installed(const char *dest, const char *path, mode_t mode)
{
	char		full[800];
	struct stat	st;

	snprintf(full, sizeof(full), "%s%s", dest, path);
	ck_assert_msg(stat(full, &st) == 0, "not installed: %s", path);
	ck_assert_msg((st.st_mode & 07777) == mode, "%s: mode %o, want %o", path,
	    (unsigned)(st.st_mode & 07777), (unsigned)mode);
}

static bool
have_program(const char *name)
{
	char	cmd[300];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return (system(cmd) == 0);
}

START_TEST(make_install_lays_out_every_file_and_uninstall_removes_them)
{
	const char	*root = source_root();
	const char	*B = build_dir();
	char		 log[400], unit[800], *text;
	FILE		*f;

	h_tmpdir(W.work, sizeof(W.work));
	snprintf(log, sizeof(log), "%s/make.log", W.work);
	ck_assert_msg(shell(log, "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' BUILD='%s' -o '%s/deferd' -o '%s/deferctl' install DESTDIR='%s/dest'",
	    root, B, B, B, W.work) == 0,
	    "make install failed:\n%s", tail(h_read_file(log)));
	snprintf(unit, sizeof(unit), "%s/dest", W.work);
	check_installed(unit, "/usr/local/sbin/deferd", 0755);
	check_installed(unit, "/usr/local/bin/deferctl", 0755);
	check_installed(unit, "/usr/local/lib/systemd/system/deferd.service", 0644);
	check_installed(unit, "/usr/local/lib/sysusers.d/deferd.conf", 0644);
	check_installed(unit, "/etc/deferd/deferd.yaml", 0640);
	check_installed(unit, "/etc/deferd/handlers.d", 0755);
	check_installed(unit, "/usr/local/share/man/man8/deferd.8", 0644);
	check_installed(unit, "/usr/local/share/man/man1/deferctl.1", 0644);
	check_installed(unit, "/usr/local/share/man/man5/deferd.yaml.5", 0644);

	snprintf(unit, sizeof(unit), "%s/dest/usr/local/lib/systemd/system/deferd.service", W.work);
	text = h_read_file(unit);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "\nExecStart=/usr/local/sbin/deferd -c "
	    "/etc/deferd/deferd.yaml\n") != NULL, "unit:\n%s", text);
	ck_assert(strstr(text, "\nType=notify\n") != NULL);
	ck_assert(strstr(text, "\nExecReload=/bin/kill -HUP $MAINPID\n") != NULL);
	free(text);
	snprintf(unit, sizeof(unit), "%s/dest/etc/deferd/deferd.yaml", W.work);
	text = h_read_file(unit);
	ck_assert_ptr_nonnull(text);
	ck_assert(strstr(text, "\n  dir: /etc/deferd/handlers.d") != NULL);
	free(text);
	snprintf(unit, sizeof(unit), "%s/dest/usr/local/lib/sysusers.d/deferd.conf", W.work);
	text = h_read_file(unit);
	ck_assert(text != NULL && strstr(text, "\nu deferd ") != NULL);
	free(text);

	/* A second install keeps an edited configuration. */
	snprintf(unit, sizeof(unit), "%s/dest/etc/deferd/deferd.yaml", W.work);
	f = fopen(unit, "w");
	ck_assert_ptr_nonnull(f);
	fputs("concurrency: 3\n", f);
	fclose(f);
	ck_assert(shell(log, "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' BUILD='%s' -o '%s/deferd' -o '%s/deferctl' install DESTDIR='%s/dest'",
	    root, B, B, B, W.work) == 0);
	text = h_read_file(unit);
	ck_assert_str_eq(text, "concurrency: 3\n");
	free(text);

	ck_assert(shell(log, "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' BUILD='%s' uninstall DESTDIR='%s/dest'",
	    root, B, W.work) == 0);
	ck_assert(shell(log, "cd '%s/dest' && find . -type f | sort", W.work) == 0);
	text = h_read_file(log);
	ck_assert_str_eq(text, "./etc/deferd/deferd.yaml\n");
	free(text);
	shell(log, "rm -rf '%s'", W.work);
}
END_TEST

START_TEST(installed_unit_verifies_and_scores_at_most_2)
{
	const char	*root = source_root();
	const char	*B = build_dir();
	char		 log[400], *s, *p;
	double		 score;

	if (!have_program("systemd-analyze")) {
		fprintf(stderr, "note: systemd-analyze not found; unit verification "
		    "and security score skipped\n");
		return;
	}
	h_tmpdir(W.work, sizeof(W.work));
	snprintf(log, sizeof(log), "%s/out.log", W.work);
	ck_assert(shell(log, "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' BUILD='%s' -o '%s/deferd' -o '%s/deferctl' install DESTDIR='%s/dest'",
	    root, B, B, B, W.work) == 0);
	/*
	 * verify checks that ExecStart= exists and that Documentation= man
	 * pages resolve: point both into DESTDIR for a copy of the unit.
	 */
	ck_assert(shell(log, "mkdir '%s/v' && sed 's|^ExecStart=|ExecStart=%s/dest|' "
	    "'%s/dest/usr/local/lib/systemd/system/deferd.service' > '%s/v/deferd.service'",
	    W.work, W.work, W.work, W.work) == 0);
	ck_assert_msg(shell(log, "cd '%s' && MANPATH='%s/dest/usr/local/share/man' "
	    "systemd-analyze verify '%s/v/deferd.service'", W.work, W.work, W.work) == 0,
	    "systemd-analyze verify:\n%s", tail(h_read_file(log)));
	s = h_read_file(log);
	ck_assert_msg(s != NULL && s[0] == '\0', "systemd-analyze verify said:\n%s", s);
	free(s);
	ck_assert(shell(log, "cd '%s' && systemd-analyze security --offline=yes "
	    "'%s/dest/usr/local/lib/systemd/system/deferd.service'", W.work, W.work) == 0);
	s = h_read_file(log);
	ck_assert_ptr_nonnull(s);
	p = strstr(s, "Overall exposure level for deferd.service: ");
	ck_assert_msg(p != NULL, "no score in:\n%s", s);
	score = strtod(p + strlen("Overall exposure level for deferd.service: "), NULL);
	fprintf(stderr, "note: systemd-analyze security score %.1f\n", score);
	ck_assert_msg(score > 0.0 && score <= 2.0, "security score %.1f > 2.0", score);
	free(s);
	shell(log, "rm -rf '%s'", W.work);
}
END_TEST

START_TEST(man_pages_format_without_warnings)
{
	static const char *const pages[] = { "man/deferd.8", "man/deferctl.1",
	    "man/deferd.yaml.5" };
	const char	*root = source_root();
	char		 log[400], *s;

	if (!have_program("man")) {
		fprintf(stderr, "note: man not found; man page check skipped\n");
		return;
	}
	h_tmpdir(W.work, sizeof(W.work));
	snprintf(log, sizeof(log), "%s/man.log", W.work);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		shell(log, "cd '%s' && LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l %s "
		    ">/dev/null", root, pages[i]);
		s = h_read_file(log);
		ck_assert_msg(s != NULL && s[0] == '\0', "%s:\n%s", pages[i], s);
		free(s);
	}
	shell(log, "rm -rf '%s'", W.work);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("systemd");
	TCase	*tn = tcase_create("notify");
	TCase	*td = tcase_create("drain");
	TCase	*tr = tcase_create("reload");
	TCase	*tl = tcase_create("log");
	TCase	*ti = tcase_create("install");

	tcase_add_checked_fixture(tn, setup, teardown);
	tcase_set_timeout(tn, 180);
	tcase_add_test(tn, notify_ready_after_redis_watchdog_reload_stop_path_socket);
	tcase_add_test(tn, notify_abstract_socket_and_foreign_watchdog_pid);
	tcase_add_test(tn, no_notify_socket_is_a_quiet_no_op);
	tcase_add_test(tn, notify_ready_waits_for_the_expiration_flags_check);
	suite_add_tcase(s, tn);
	tcase_add_checked_fixture(td, setup, teardown);
	tcase_set_timeout(td, 120);
	tcase_add_test(td, sigterm_lets_three_running_handlers_finish);
	tcase_add_test(td, sigterm_kills_a_handler_that_outlives_shutdown_timeout);
	tcase_add_test(td, second_sigterm_stops_at_once);
	suite_add_tcase(s, td);
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 120);
	tcase_add_test(tr, sighup_applies_concurrency_and_a_new_timeout_override);
	tcase_add_test(tr, sighup_with_a_broken_file_keeps_running_and_says_why);
	tcase_add_test(tr, sighup_with_a_new_redis_url_reconnects);
	tcase_add_test(tr, daemon_logs_json_lines);
	suite_add_tcase(s, tr);
	tcase_set_timeout(tl, 30);
	tcase_add_test(tl, log_journal_stream_gives_priority_prefixes);
	tcase_add_test(tl, log_plain_when_stderr_is_not_the_journal);
	tcase_add_test(tl, log_json_one_object_per_line);
	tcase_add_test(tl, log_json_under_the_journal_keeps_the_priority);
	suite_add_tcase(s, tl);
	tcase_set_timeout(ti, 300);
	tcase_add_test(ti, make_install_lays_out_every_file_and_uninstall_removes_them);
	tcase_add_test(ti, installed_unit_verifies_and_scores_at_most_2);
	tcase_add_test(ti, man_pages_format_without_warnings);
	suite_add_tcase(s, ti);
	return (h_main(s));
}
