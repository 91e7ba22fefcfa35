/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of persistent handlers (handlers.overrides.NAME.mode:
 * persistent): long-running handler processes fed one JSON job per line
 * on stdin, answering one JSON line per job on stdout. A private
 * redis-server, real deferd processes and real python3 handlers that
 * record what they saw in OUT:
 *   pids  "PID PROCESS" once per process start
 *   runs  "ID ATTEMPT PROCESS PID" for every job line read
 *   eof   "PID" when stdin ended (the handler then exits)
 * Every wait polls a condition with a deadline; fixed windows only assert
 * that nothing happens. PERSIST_KEEP_LOGS=DIR keeps each test's deferd logs.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS		(15000 * SLOW)
#define NDAEMONS	2

static struct h_world	 W;		/* Redis, client, handlers/out/work dirs */
static struct h_daemon	 D[NDAEMONS];	/* static: teardown stops them */

/*
 * What every test handler starts with: helpers to record (rec), answer
 * (send, done), wait for a file the test creates (wait_for; gives up when
 * deferd is gone) and read jobs until EOF (jobs), recording each in runs.
 */
#define PY_DEFS								\
	"#!/usr/bin/python3\n"						\
	"import base64, json, os, signal, subprocess, sys, time\n"	\
	"OUT = os.environ['OUT']\n"					\
	"PID = os.getpid()\n"						\
	"PPID = os.getppid()\n"						\
	"PROC = os.environ.get('DEFERD_PROCESS', '-')\n"		\
	"def rec(name, text):\n"					\
	"    with open(os.path.join(OUT, name), 'a') as f:\n"		\
	"        f.write(text + '\\n')\n"				\
	"def send(*replies):\n"						\
	"    sys.stdout.write(''.join(json.dumps(r) + '\\n' for r in replies))\n" \
	"    sys.stdout.flush()\n"					\
	"def done(job, result=None):\n"					\
	"    send({'id': job['id'], 'status': 'done',\n"		\
	"          'result': 'r-' + job['id'] if result is None else result})\n" \
	"def wait_for(name):\n"						\
	"    while not os.path.exists(os.path.join(OUT, name)):\n"	\
	"        if os.getppid() != PPID:\n"				\
	"            sys.exit(1)\n"					\
	"        time.sleep(0.01)\n"					\
	"def jobs():\n"							\
	"    while True:\n"						\
	"        line = sys.stdin.buffer.readline()\n"			\
	"        if not line:\n"					\
	"            rec('eof', str(PID))\n"				\
	"            sys.exit(0)\n"					\
	"        job = json.loads(line)\n"				\
	"        rec('runs', '%s %d %s %d' % (job['id'], job['attempt'], PROC, PID))\n" \
	"        yield job\n"
#define PY_STARTED	"rec('pids', '%d %s' % (PID, PROC))\n"
#define PY_PRELUDE	PY_DEFS PY_STARTED

static void	kill_leftovers(void);

static void
setup(void)
{
	memset(D, 0, sizeof(D));
	h_world_setup(&W, NULL);
}

/*
 * With PERSIST_KEEP_LOGS=DIR, each daemon's log is copied to DIR (named by
 * test and daemon) before the directories go.
 */
static void
keep_logs(void)
{
	const char	*dir = getenv("PERSIST_KEEP_LOGS");
	char		 path[700], *text;
	FILE		*f;

	for (int i = 0; dir != NULL && i < NDAEMONS; i++) {
		if (D[i].log[0] == '\0' || (text = h_read_file(D[i].log)) == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s.%d.log", dir, tcase_name(), i);
		if ((f = fopen(path, "w")) != NULL) {
			fputs(text, f);
			fclose(f);
		}
		free(text);
	}
}

static void
teardown(void)
{
	for (int i = 0; i < NDAEMONS; i++)
		h_daemon_stop(&D[i]);
	keep_logs();
	kill_leftovers();
	h_world_teardown(&W);
}

/* The last lines of a daemon's log, to stderr (for a failing test). */
static void
print_log_tail(const struct h_daemon *d, int lines)
{
	char	*log = h_read_file(d->log), *p;
	int	 n = 0;

	if (log == NULL)
		return;
	for (p = log + strlen(log); p > log; p--)
		if (p[-1] == '\n' && p[0] != '\0' && ++n > lines)
			break;
	fprintf(stderr, "---- %s (last %d lines)\n%s----\n", d->log, lines, p);
	free(log);
}

/* Fail with the daemons' log tails printed, after stopping everything. */
#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		for (int _i = 0; _i < NDAEMONS; _i++)			\
			if (D[_i].log[0] != '\0')			\
				print_log_tail(&D[_i], 40);		\
		ck_abort_msg(__VA_ARGS__);				\
	}								\
} while (0)

/* A config for the test Redis: handlers.timeout, then extra YAML appended
 * inside the handlers section (indented) or at the top level (not). */
static const char *
config_timeout(const char *timeout, const char *extra)
{
	static char	buf[8192];

	snprintf(buf, sizeof(buf),
	    "redis: {url: \"%s\"}\n"
	    "concurrency: 8\n"
	    "shutdown_timeout: 3s\n"
	    "retry: {max_attempts: 3, backoff: 100ms, backoff_max: 1s}\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: %s\n"
	    "  kill_grace: 300ms\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "%s",
	    W.r.url, W.hdir, timeout, W.out, extra ? extra : "");
	return (buf);
}

static const char *
config_text(const char *extra)
{
	return (config_timeout("10s", extra));
}

/* Start daemon i with config text and wait until it is ready. */
static struct h_daemon *
start(int i, const char *text)
{
	struct h_daemon	*d = &D[i];

	int		 status = -1;

	h_daemon_start(d, W.work, text);
	EXPECT(H_WAIT_UNTIL(h_daemon_log_has(d, "ready", 0) ||
	    (status = h_daemon_wait_exit(d, 0)) != -1, 20000 * SLOW) && status == -1,
	    "deferd not ready (exit status %d)", status);
	return (d);
}

/* Rewrite d's config file and SIGHUP; wait until it was reloaded. */
static void
reload(struct h_daemon *d, const char *text)
{
	char	 tmp[400];
	FILE	*f;
	int	 before = h_log_count(d, "reloaded ");

	snprintf(tmp, sizeof(tmp), "%s.new", d->config);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, d->config), 0);
	ck_assert_int_eq(kill(d->pid, SIGHUP), 0);
	EXPECT(H_WAIT_UNTIL(h_log_count(d, "reloaded ") > before, 10000 * SLOW),
	    "no reload");
}

static const char *
out(const char *name)
{
	return (h_world_out(&W, name));
}

/* Create OUT/name (the go-files handlers wait for). */
static void
touch(const char *name)
{
	h_write_file(W.out, name, "", 0644);
}

static void
enqueue(const char *id, const char *handler, const char *payload)
{
	h_enqueue(W.c, id, handler, payload, strlen(payload), 0);
}

static bool
has_result(const char *id)
{
	return (h_cmd_int(W.c, "EXISTS deferd:{default}:result:%s", id) == 1);
}

static const char *
result_of(const char *id, char *buf, size_t len)
{
	return (h_cmd_str(W.c, buf, len, "GET deferd:{default}:result:%s", id));
}

static bool
job_exists(const char *id)
{
	return (h_job_exists(W.c, "deferd:{default}:job:%s", id) == 1);
}

static bool
is_dead(const char *id)
{
	return (h_cmd_int(W.c, "ZSCORE deferd:{default}:dead %s", id) != -1);
}

static const char *
last_error(const char *id, char *buf, size_t len)
{
	return (h_job_str(W.c, buf, len, "deferd:{default}:job:%s last_error", id));
}

static long long
attempts_of(const char *id)
{
	return (h_job_int(W.c, "deferd:{default}:job:%s attempts", id));
}

/* Whether OUT/name contains text. */
static bool
out_has(const char *name, const char *text)
{
	char	*s = h_read_file(out(name));
	bool	 found = s != NULL && strstr(s, text) != NULL;

	free(s);
	return (found);
}

/* The line of OUT/name containing needle (a new string), or NULL. */
static char *
out_line(const char *name, const char *needle)
{
	char	*s = h_read_file(out(name)), *p, *line, *found = NULL;

	for (p = s; p != NULL && found == NULL && (line = strsep(&p, "\n")) != NULL;)
		if (strstr(line, needle) != NULL)
			found = strdup(line);
	free(s);
	return (found);
}

/* Whether one line of d's log contains both a and b. */
static bool
log_line_with(const struct h_daemon *d, const char *a, const char *b)
{
	char	*s = h_read_file(d->log), *p, *line;
	bool	 found = false;

	for (p = s; p != NULL && !found && (line = strsep(&p, "\n")) != NULL;)
		found = strstr(line, a) != NULL && strstr(line, b) != NULL;
	free(s);
	return (found);
}

/* One "ID ATTEMPT PROCESS PID" line of OUT/runs. */
struct run {
	char	id[64];
	int	attempt;
	char	proc[16];
	int	pid;
};

/* The runs recorded so far (at most max, from line skip on); the count. */
static int
read_runs(struct run *v, int max, int skip)
{
	char	*s = h_read_file(out("runs")), *p, *line;
	int	 n = 0, i = 0;

	for (p = s; p != NULL && n < max && (line = strsep(&p, "\n")) != NULL;) {
		if (*line == '\0' || i++ < skip)
			continue;
		if (sscanf(line, "%63s %d %15s %d", v[n].id, &v[n].attempt,
		    v[n].proc, &v[n].pid) == 4)
			n++;
	}
	free(s);
	return (n);
}

/* The pid of the run of id with attempt (-1: none yet). */
static int
run_pid(const char *id, int attempt)
{
	struct run	v[256];
	int		n = read_runs(v, 256, 0);

	for (int i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0 && v[i].attempt == attempt)
			return (v[i].pid);
	return (-1);
}

/* How many runs of id were recorded. */
static int
runs_of(const char *id)
{
	struct run	v[256];
	int		n = read_runs(v, 256, 0), k = 0;

	for (int i = 0; i < n; i++)
		k += strcmp(v[i].id, id) == 0;
	return (k);
}

/* Bit mask of the DEFERD_PROCESS values (0..30) of the runs from line skip on. */
static unsigned
procs_seen(int skip)
{
	struct run	v[256];
	int		n = read_runs(v, 256, skip);
	unsigned	mask = 0;

	for (int i = 0; i < n; i++)
		if (v[i].proc[0] >= '0' && v[i].proc[0] <= '9' && atoi(v[i].proc) < 31)
			mask |= 1u << atoi(v[i].proc);
	return (mask);
}

/* The pid on line k (0-based) of OUT/pids ("PID PROCESS"), or -1. */
static int
pid_at(int k)
{
	char	*s = h_read_file(out("pids")), *p, *line;
	int	 i = 0, pid = -1;

	for (p = s; p != NULL && (line = strsep(&p, "\n")) != NULL; i++)
		if (i == k && *line != '\0') {
			pid = atoi(line);
			break;
		}
	free(s);
	return (pid);
}

/*
 * Handler processes the tests' handlers started that are still there
 * (each should have exited on EOF when deferd was stopped): give them a
 * moment, then SIGKILL. Only pids recorded in OUT/pids and OUT/tree.
 */
static void
kill_leftovers(void)
{
	static const char *const files[] = { "pids", "tree" };

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char	*s = h_read_file(out(files[f])), *p = s;

		while (p != NULL && *p != '\0') {
			char	*end;
			long	 pid = strtol(p, &end, 10);

			if (end == p) {
				p++;
				continue;
			}
			p = end;
			if (pid <= 1)
				continue;
			if (!H_WAIT_UNTIL(h_pid_gone((pid_t)pid), 2000))
				kill((pid_t)pid, SIGKILL);
		}
		free(s);
	}
}

/* Bytes waiting in the pipe that is pid's stdin (-1 if it cannot be seen). */
static int
stdin_pending(pid_t pid)
{
	char	path[64];
	int	fd, n = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
	if ((fd = open(path, O_RDONLY | O_NONBLOCK)) == -1)
		return (-1);
	if (ioctl(fd, FIONREAD, &n) == -1)
		n = -1;
	close(fd);
	return (n);
}

/* Run deferd --check-config on config text; its exit status. */
static int
check_config(const char *text)
{
	const char	*argv[5];
	char		 path[600], outbuf[4096];
	int		 status;

	snprintf(path, sizeof(path), "%s/check.yaml", W.work);
	h_write_file(W.work, "check.yaml", text, 0644);
	argv[0] = h_bin("deferd");
	argv[1] = "--check-config";
	argv[2] = "-c";
	argv[3] = path;
	argv[4] = NULL;
	status = h_run(argv, NULL, outbuf, sizeof(outbuf));
	ck_assert(WIFEXITED(status));
	return (WEXITSTATUS(status));
}

/* ------------------------------------------------------------------ */

/* Without a mode (or with only other overrides) a handler runs once per job. */
START_TEST(exec_mode_stays_the_default)
{
	static const char SH[] =
	    "#!/bin/sh\n"
	    "cat > /dev/null\n"
	    "echo \"$DEFERD_JOB_ID $$ ${DEFERD_PROTOCOL:-none}\" >> \"$OUT/exec\"\n"
	    "echo \"out of $DEFERD_JOB_ID\"\n";
	char	buf[256];
	char	*a, *b;

	h_write_file(W.hdir, "plain", SH, 0755);
	h_write_file(W.hdir, "tuned", SH, 0755);
	start(0, config_text("  overrides: {tuned: {timeout: 5s, max_attempts: 2}}\n"));
	enqueue("e1", "plain", "x");
	enqueue("e2", "plain", "y");
	enqueue("e3", "tuned", "z");
	EXPECT(H_WAIT_UNTIL(has_result("e1") && has_result("e2") && has_result("e3"),
	    WAIT_MS), "exec jobs did not finish");
	ck_assert_str_eq(result_of("e1", buf, sizeof(buf)), "out of e1\n");
	ck_assert_str_eq(result_of("e3", buf, sizeof(buf)), "out of e3\n");
	ck_assert_int_eq(h_count_lines(out("exec")), 3);
	ck_assert(!out_has("exec", " 1\n"));	/* no DEFERD_PROTOCOL */
	a = out_line("exec", "e1 ");
	b = out_line("exec", "e2 ");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_msg(atoi(strchr(a, ' ') + 1) != atoi(strchr(b, ' ') + 1),
	    "one process ran two exec jobs: %s / %s", a, b);
	ck_assert(strstr(a, " none") != NULL);
	free(a);
	free(b);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
}
END_TEST

static const char PROTO[] = PY_PRELUDE
    "sys.stderr.write('proto up in process %s\\n' % PROC)\n"
    "sys.stderr.flush()\n"
    "keys = ['DEFERD_PROTOCOL', 'DEFERD_HANDLER', 'DEFERD_PROCESS',\n"
    "        'DEFERD_CONFIG', 'OUT', 'PATH', 'LANG']\n"
    "rec('env', json.dumps({k: os.environ.get(k) for k in keys},\n"
    "    sort_keys=True, separators=(',', ':')))\n"
    "for job in jobs():\n"
    "    rec('requests', json.dumps(job, sort_keys=True, separators=(',', ':')))\n"
    "    if job['id'] == 'flaky' and job['attempt'] == 1:\n"
    "        send({'id': job['id'], 'status': 'retry', 'error': 'try later'})\n"
    "    elif job['id'] == 'always':\n"
    "        send({'id': job['id'], 'status': 'retry', 'error': 'still failing'})\n"
    "    elif job['id'] == 'poison':\n"
    "        send({'id': job['id'], 'status': 'dead', 'error': 'poison pill'})\n"
    "    else:\n"
    "        done(job, 'got ' + job.get('payload', '?'))\n";

/*
 * The protocol end to end through one process: done (result stored),
 * retry then done on attempt 2, retry until out of attempts, dead at once
 * with its error; the request fields, a resource lock's resource and fence,
 * the process environment and its stderr in the log; SIGTERM stops it.
 */
START_TEST(protocol_done_retry_dead_end_to_end)
{
	struct h_daemon	*d;
	char		 buf[1024], want[600], *env, *line, *p;
	int64_t		 t0, deadline;
	int		 pid, status;

	h_write_file(W.hdir, "proto", PROTO, 0755);
	d = start(0, config_text("  overrides: {proto: {mode: persistent}}\n"));
	EXPECT(H_WAIT_UNTIL(pid_at(0) > 0, WAIT_MS), "the process never started");
	t0 = h_real_ms();
	enqueue("plain", "proto", "hello");
	enqueue("flaky", "proto", "f");
	enqueue("poison", "proto", "p");
	h_enqueue_with(W.c, "always", "proto", "", 2, 0);
	h_enqueue_with(W.c, "locked", "proto", "res-1", 0, 0);
	EXPECT(H_WAIT_UNTIL(has_result("plain") && has_result("flaky") &&
	    has_result("locked") && h_zcard(W.c, "dead") == 2, WAIT_MS),
	    "jobs did not finish (results %d %d %d, dead %lld)",
	    has_result("plain"), has_result("flaky"), has_result("locked"),
	    h_zcard(W.c, "dead"));

	ck_assert_str_eq(result_of("plain", buf, sizeof(buf)), "got hello");
	ck_assert_str_eq(result_of("flaky", buf, sizeof(buf)), "got f");
	ck_assert_str_eq(result_of("locked", buf, sizeof(buf)), "got ");
	ck_assert(!job_exists("plain"));
	ck_assert(run_pid("flaky", 1) > 0 && run_pid("flaky", 2) > 0);
	ck_assert_int_eq(runs_of("flaky"), 2);
	ck_assert(is_dead("poison"));
	ck_assert_int_eq(attempts_of("poison"), 1);
	last_error("poison", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "poison pill") != NULL, "last_error: %s", buf);
	ck_assert(is_dead("always"));
	ck_assert_int_eq(attempts_of("always"), 2);
	last_error("always", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "still failing") != NULL, "last_error: %s", buf);
	EXPECT(H_WAIT_UNTIL(h_cmd_int(W.c, "EXISTS deferd:lock:res-1") == 0, WAIT_MS),
	    "the lock of the done job was not released");
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);

	/* One process did all of it. */
	ck_assert_int_eq(h_count_lines(out("pids")), 1);
	pid = pid_at(0);
	ck_assert_int_eq(h_count_lines(out("runs")), 7);

	/* The request lines. */
	line = out_line("requests", "\"id\":\"plain\"");
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strstr(line, "\"queue\":\"default\"") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "\"handler\":\"proto\"") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "\"attempt\":1,") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "\"max_attempts\":3,") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "\"source\":\"delayed\"") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "\"payload\":\"hello\"") != NULL, "%s", line);
	ck_assert_msg(strstr(line, "payload_base64") == NULL, "%s", line);
	ck_assert_msg(strstr(line, "\"resource\"") == NULL, "%s", line);
	ck_assert_msg(strstr(line, "\"fence\"") == NULL, "%s", line);
	p = strstr(line, "\"deadline_ms\":");
	ck_assert_msg(p != NULL, "%s", line);
	deadline = strtoll(p + strlen("\"deadline_ms\":"), NULL, 10);
	/* handlers.timeout is 10s: the deadline is the dispatch plus that. */
	ck_assert_msg(deadline >= t0 + 10000 - 1000 && deadline <= h_real_ms() + 10000 + 1000,
	    "deadline_ms %" PRId64 " is not about 10 s after the dispatch (%" PRId64 ")",
	    deadline, t0);
	free(line);
	line = out_line("requests", "\"id\":\"always\"");
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strstr(line, "\"max_attempts\":2") != NULL, "%s", line);
	free(line);
	line = out_line("requests", "\"attempt\":2,");
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strstr(line, "\"id\":\"flaky\"") != NULL ||
	    strstr(line, "\"id\":\"always\"") != NULL, "%s", line);
	free(line);
	line = out_line("requests", "\"id\":\"locked\"");
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strstr(line, "\"resource\":\"res-1\"") != NULL, "%s", line);
	p = strstr(line, "\"fence\":");
	ck_assert_msg(p != NULL && strtoll(p + 8, NULL, 10) >= 1, "%s", line);
	ck_assert_msg(strstr(line, "\"payload\":\"\"") != NULL, "%s", line);
	free(line);

	/* The process environment. */
	env = h_read_file(out("env"));
	ck_assert_ptr_nonnull(env);
	ck_assert_msg(strstr(env, "\"DEFERD_PROTOCOL\":\"1\"") != NULL, "%s", env);
	ck_assert_msg(strstr(env, "\"DEFERD_HANDLER\":\"proto\"") != NULL, "%s", env);
	ck_assert_msg(strstr(env, "\"DEFERD_PROCESS\":\"0\"") != NULL, "%s", env);
	snprintf(want, sizeof(want), "\"OUT\":\"%s\"", W.out);
	ck_assert_msg(strstr(env, want) != NULL, "%s", env);
	ck_assert_msg(strstr(env, "\"PATH\":\"/usr/local/bin:/usr/bin:/bin\"") != NULL,
	    "%s", env);
	ck_assert_msg(strstr(env, "\"LANG\":\"C.UTF-8\"") != NULL, "%s", env);
	p = strrchr(d->config, '/');
	snprintf(want, sizeof(want), "%s\"", p + 1);
	ck_assert_msg(strstr(env, "\"DEFERD_CONFIG\":\"") != NULL &&
	    strstr(env, want) != NULL, "%s", env);
	free(env);

	/* stderr in the log, with the handler's name and pid. */
	snprintf(want, sizeof(want), "handler proto (pid %d): proto up in process 0", pid);
	EXPECT(h_daemon_log_has(d, want, 5000), "no '%s' in the log", want);

	/* SIGTERM: deferd exits 0 and the process goes too. */
	h_daemon_signal(d, SIGTERM, false);
	status = h_daemon_wait_exit(d, 10000 * SLOW);
	EXPECT(status != -1, "deferd did not exit on SIGTERM");
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "deferd exit status %d", status);
	EXPECT(H_WAIT_UNTIL(h_pid_gone(pid), 5000 * SLOW),
	    "handler process %d outlived deferd", pid);
}
END_TEST

static const char BIN[] = PY_PRELUDE
    "for job in jobs():\n"
    "    if 'payload_base64' in job:\n"
    "        data, kind = base64.b64decode(job['payload_base64']), 'base64'\n"
    "    else:\n"
    "        data, kind = job['payload'].encode('utf-8'), 'text'\n"
    "    if 'payload_base64' in job and 'payload' in job:\n"
    "        kind = 'both'\n"
    "    with open(os.path.join(OUT, 'payload-' + job['id']), 'wb') as f:\n"
    "        f.write(data)\n"
    "    done(job, kind)\n";

/* Payloads that are not UTF-8 arrive as payload_base64, others as payload. */
START_TEST(binary_payload_arrives_as_base64)
{
	static const struct {
		const char	*id;
		const char	*payload;
		size_t		 len;
		const char	*kind;
	} cases[] = {
#define P(s)	s, sizeof(s) - 1
		{ "bin-ff", P("\x00\xff\xfe bin\x80\n"), "base64" },
		{ "bin-overlong", P("a\xc0\xaf" "b"), "base64" },
		{ "bin-surrogate", P("a\xed\xa0\x80" "b"), "base64" },
		{ "bin-truncated", P("abc\xe2\x82"), "base64" },
		{ "text", P("line1\nline2\t\"quoted\" back\\slash \x01 caf\xc3\xa9 "
		    "\xf0\x9f\x98\x80 \xe2\x82\xac"), "text" },
#undef P
	};
	size_t	n = sizeof(cases) / sizeof(cases[0]);
	char	buf[256], name[128];

	h_write_file(W.hdir, "bin", BIN, 0755);
	start(0, config_text("  overrides: {bin: {mode: persistent}}\n"));
	for (size_t i = 0; i < n; i++)
		h_enqueue(W.c, cases[i].id, "bin", cases[i].payload, cases[i].len, 0);
	EXPECT(H_WAIT_UNTIL(({
		bool all = true;
		for (size_t i = 0; i < n; i++)
			all = all && has_result(cases[i].id);
		all;
	}), WAIT_MS), "not every job finished");
	for (size_t i = 0; i < n; i++) {
		char	*got;
		FILE	*f;
		size_t	 len;

		result_of(cases[i].id, buf, sizeof(buf));
		ck_assert_msg(strcmp(buf, cases[i].kind) == 0,
		    "%s came as %s, not %s", cases[i].id, buf, cases[i].kind);
		snprintf(name, sizeof(name), "payload-%s", cases[i].id);
		f = fopen(out(name), "rb");
		ck_assert_ptr_nonnull(f);
		got = malloc(cases[i].len + 16);
		len = fread(got, 1, cases[i].len + 16, f);
		fclose(f);
		ck_assert_msg(len == cases[i].len && memcmp(got, cases[i].payload, len) == 0,
		    "%s: the payload decoded to other bytes (%zu of %zu)",
		    cases[i].id, len, cases[i].len);
		free(got);
	}
	ck_assert_int_eq(h_count_lines(out("pids")), 1);
}
END_TEST

static const char POOL[] = PY_PRELUDE
    "for job in jobs():\n"
    "    if job['payload']:\n"
    "        rec('held', job['id'])\n"
    "        wait_for(job['payload'])\n"
    "    done(job, PROC)\n";

/* processes: 3 runs three copies; each holds one job (inflight 1). */
START_TEST(three_processes_share_the_jobs)
{
	char	id[16], buf[64], seen[8];
	int	pids[3];

	h_write_file(W.hdir, "pool", POOL, 0755);
	start(0, config_text("  overrides: {pool: {mode: persistent, processes: 3}}\n"));
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("pids")) == 3, WAIT_MS),
	    "not three processes");
	for (int i = 0; i < 3; i++)
		pids[i] = pid_at(i);
	ck_assert(pids[0] != pids[1] && pids[1] != pids[2] && pids[0] != pids[2]);
	ck_assert(out_has("pids", " 0\n") && out_has("pids", " 1\n") &&
	    out_has("pids", " 2\n"));
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "s%d", i);
		enqueue(id, "pool", "go");
	}
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("held")) == 3, WAIT_MS),
	    "three processes did not each hold a job");
	EXPECT(procs_seen(0) == 7, "the held jobs are not on processes 0, 1 and 2 "
	    "(mask %x)", procs_seen(0));
	usleep(300 * 1000);
	ck_assert_msg(h_count_lines(out("held")) == 3,
	    "a process was given a second job with inflight 1");
	touch("go");
	EXPECT(H_WAIT_UNTIL(({
		bool all = true;
		for (int i = 0; i < 6; i++) {
			snprintf(id, sizeof(id), "s%d", i);
			all = all && has_result(id);
		}
		all;
	}), WAIT_MS), "not every job finished");
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "s%d", i);
		result_of(id, buf, sizeof(buf));
		ck_assert_msg(strlen(buf) == 1 && buf[0] >= '0' && buf[0] <= '2',
		    "%s: result '%s'", id, buf);
		seen[buf[0] - '0'] = 1;
	}
	ck_assert(seen[0] + seen[1] + seen[2] >= 2);
	ck_assert_int_eq(h_count_lines(out("pids")), 3);	/* none restarted */
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
}
END_TEST

static const char WIDE[] = PY_PRELUDE
    "held = []\n"
    "for job in jobs():\n"
    "    rec('held', job['id'])\n"
    "    held.append(job)\n"
    "    if len(held) == 12:\n"
    "        wait_for('go')\n"
    "        for j in held:\n"
    "            done(j)\n"
    "        held = []\n";

/* Gives up after 60 s or when the test's OUT is gone (a failed test). */
static const char EXEC_HOLD[] = "#!/bin/sh\n"
    "echo \"$DEFERD_JOB_ID\" >> \"$OUT/ex\"\n"
    "n=0\n"
    "while [ ! -e \"$OUT/go\" ]; do\n"
    "    [ -d \"$OUT\" ] && [ $n -lt 6000 ] || exit 1\n"
    "    n=$((n + 1))\n"
    "    sleep 0.01\n"
    "done\n";

/*
 * A persistent handler's jobs take no slot of `concurrency`: its pool
 * (processes x inflight, 1 x 12) holds 12 at once under concurrency 2, while
 * exec jobs beside them still run 2 at a time.
 */
START_TEST(pool_jobs_take_no_concurrency_slot)
{
	char	text[2048], id[16];

	h_write_file(W.hdir, "wide", WIDE, 0755);
	h_write_file(W.hdir, "ex", EXEC_HOLD, 0755);
	snprintf(text, sizeof(text),
	    "redis: {url: \"%s\"}\n"
	    "concurrency: 2\n"
	    "shutdown_timeout: 3s\n"
	    "handlers:\n"
	    "  dir: %s\n"
	    "  timeout: 30s\n"
	    "  environment: {OUT: \"%s\"}\n"
	    "  overrides: {wide: {mode: persistent, inflight: 12}}\n",
	    W.r.url, W.hdir, W.out);
	start(0, text);
	for (int i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "e%d", i);
		enqueue(id, "ex", "");
	}
	for (int i = 0; i < 12; i++) {
		snprintf(id, sizeof(id), "w%02d", i);
		enqueue(id, "wide", "");
	}
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("held")) == 12, WAIT_MS),
	    "the pool holds %d jobs, not 12", h_count_lines(out("held")));
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("ex")) == 2, WAIT_MS),
	    "%d exec jobs run, not 2", h_count_lines(out("ex")));
	usleep(300 * 1000);
	ck_assert_int_eq(h_count_lines(out("ex")), 2);	/* concurrency holds */
	ck_assert_int_eq(h_count_lines(out("held")), 12);
	touch("go");
	EXPECT(H_WAIT_UNTIL(h_zcard(W.c, "delayed") + h_zcard(W.c, "active") == 0,
	    WAIT_MS), "not every job finished");
	ck_assert_int_eq(h_count_lines(out("ex")), 4);
	for (int i = 0; i < 12; i++) {
		snprintf(id, sizeof(id), "w%02d", i);
		ck_assert_msg(has_result(id), "%s has no result", id);
	}
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
}
END_TEST

static const char REVERSE[] = PY_PRELUDE
    "held = []\n"
    "for job in jobs():\n"
    "    held.append(job)\n"
    "    if len(held) == 4:\n"
    "        for j in reversed(held):\n"
    "            rec('replied', j['id'])\n"
    "            done(j, 'r-' + j['id'])\n"
    "            time.sleep(0.02)\n"
    "        held = []\n";

/* inflight: 4 hands one process four jobs; it answers them in reverse. */
START_TEST(inflight_jobs_answered_out_of_order)
{
	char	id[16], buf[64], want[64], *runs, *replied;

	h_write_file(W.hdir, "rev", REVERSE, 0755);
	start(0, config_text("  overrides: {rev: {mode: persistent, inflight: 4}}\n"));
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 4; i++) {
			snprintf(id, sizeof(id), "o%d", round * 4 + i);
			enqueue(id, "rev", "");
		}
		EXPECT(H_WAIT_UNTIL(h_count_lines(out("replied")) == 4 * (round + 1),
		    WAIT_MS), "round %d: four jobs were not in flight at once", round);
	}
	EXPECT(H_WAIT_UNTIL(({
		bool all = true;
		for (int i = 0; i < 8; i++) {
			snprintf(id, sizeof(id), "o%d", i);
			all = all && has_result(id);
		}
		all;
	}), WAIT_MS), "not every job finished");
	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "o%d", i);
		snprintf(want, sizeof(want), "r-%s", id);
		ck_assert_str_eq(result_of(id, buf, sizeof(buf)), want);
		ck_assert(!job_exists(id));
	}
	/* They were answered in the reverse of the order they came. */
	runs = h_read_file(out("runs"));
	replied = h_read_file(out("replied"));
	{
		char	first_run[16] = "", last_replied[16] = "";

		sscanf(runs, "%15s", first_run);
		sscanf(replied, "%*s %*s %*s %15s", last_replied);
		ck_assert_str_eq(first_run, last_replied);
	}
	free(runs);
	free(replied);
	ck_assert_int_eq(h_count_lines(out("pids")), 1);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
}
END_TEST

static const char SPLIT[] = PY_PRELUDE
    "for job in jobs():\n"
    "    if job['id'] == 'esc':\n"
    "        done(job, 'caf\\u00e9 \\U0001F600 \"q\" back\\\\slash\\nnext\\ttab \\x01')\n"
    "    elif job['id'] == 'esc-err':\n"
    "        send({'id': job['id'], 'status': 'dead', 'error': 'bad \\u00e9 thing'})\n"
    "    else:\n"
    "        line = json.dumps({'id': job['id'], 'status': 'done', 'result': 'whole'}) + '\\n'\n"
    "        sys.stdout.write(line[:7])\n"
    "        sys.stdout.flush()\n"
    "        time.sleep(0.2)\n"
    "        sys.stdout.write(line[7:])\n"
    "        sys.stdout.flush()\n";

/*
 * Replies are parsed as JSON, not matched as text: \u escapes (a surrogate
 * pair too) and backslash escapes decode to UTF-8 bytes, and a line that
 * comes in two writes is put together.
 */
START_TEST(replies_are_decoded_and_reassembled)
{
	static const char want[] = "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" back\\slash\n"
	    "next\ttab \x01";
	char	buf[256];

	h_write_file(W.hdir, "split", SPLIT, 0755);
	start(0, config_text("  overrides: {split: {mode: persistent, inflight: 2}}\n"));
	enqueue("esc", "split", "");
	h_enqueue_with(W.c, "esc-err", "split", "", 1, 0);
	enqueue("halves", "split", "");
	EXPECT(H_WAIT_UNTIL(has_result("esc") && has_result("halves") &&
	    is_dead("esc-err"), WAIT_MS), "the jobs did not finish");
	result_of("esc", buf, sizeof(buf));
	ck_assert_msg(strcmp(buf, want) == 0, "result decoded to '%s'", buf);
	ck_assert_str_eq(result_of("halves", buf, sizeof(buf)), "whole");
	last_error("esc-err", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "bad \xc3\xa9 thing") != NULL, "last_error: %s", buf);
	ck_assert_int_eq(h_count_lines(out("pids")), 1);
}
END_TEST

static const char BATCH[] = PY_PRELUDE
    "held = []\n"
    "for job in jobs():\n"
    "    if len(held) < 4:\n"
    "        held.append(job)\n"
    "        rec('held', job['id'])\n"
    "        if len(held) == 4:\n"
    "            wait_for('go')\n"
    "            send(*[{'id': j['id'], 'status': 'done', 'result': 'res-' + j['id']}\n"
    "                   for j in held])\n"
    "    else:\n"
    "        done(job)\n";

/*
 * Read MONITOR lines from m until one contains every string of want, for
 * at most ms; whether one did.
 */
static bool
monitor_saw(redisContext *m, const char *const *want, size_t n, int64_t ms)
{
	struct timeval	 tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	int64_t		 end = h_mono_ms() + ms;
	redisReply	*r;

	redisSetTimeout(m, tv);
	while (h_mono_ms() < end && redisGetReply(m, (void **)&r) == REDIS_OK) {
		bool all = r->type == REDIS_REPLY_STATUS;

		for (size_t i = 0; all && i < n; i++)
			all = strstr(r->str, want[i]) != NULL;
		freeReplyObject(r);
		if (all)
			return (true);
	}
	return (false);
}

/*
 * Four replies in one write are recorded in one script call; the one job
 * whose lease was taken meanwhile is refused alone, the other three done.
 */
START_TEST(batched_outcomes_refuse_only_the_lost_lease)
{
	static const char *const ids[] = { "batch-a", "batch-b", "batch-c", "batch-d" };
	static const char *const good[] = { "res-batch-a", "res-batch-c", "res-batch-d" };
	struct h_daemon	*d;
	redisContext	*m;
	redisReply	*r;
	char		 buf[64];
	bool		 batched;

	h_write_file(W.hdir, "batch", BATCH, 0755);
	d = start(0, config_text("  overrides: {batch: {mode: persistent, inflight: 4}}\n"));
	for (int i = 0; i < 4; i++)
		enqueue(ids[i], "batch", "");
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("held")) == 4, WAIT_MS),
	    "the process was not given four jobs");
	m = h_redis_connect(&W.r);
	r = h_cmd(m, "MONITOR");
	freeReplyObject(r);
	h_job_set(W.c, "deferd:{default}:job:batch-b lease=bogus");
	touch("go");
	EXPECT(H_WAIT_UNTIL(has_result("batch-a") && has_result("batch-c") &&
	    has_result("batch-d"), WAIT_MS), "the three good jobs were not done");
	EXPECT(H_WAIT_UNTIL(log_line_with(d, "batch-b",
	    "lease lost before the outcome was recorded"), WAIT_MS),
	    "no lost-lease warning for batch-b");
	ck_assert(!log_line_with(d, "batch-a", "lease lost before"));
	ck_assert(!log_line_with(d, "batch-c", "lease lost before"));
	ck_assert(!log_line_with(d, "batch-d", "lease lost before"));
	for (int i = 0; i < 4; i++)
		if (i != 1) {
			ck_assert_msg(!job_exists(ids[i]), "%s still has its hash", ids[i]);
			ck_assert_str_eq(result_of(ids[i], buf, sizeof(buf)), good[i == 0 ? 0 : i - 1]);
		}
	ck_assert_msg(job_exists("batch-b"), "the refused job's hash is gone");
	ck_assert(!has_result("batch-b"));
	h_job_str(W.c, buf, sizeof(buf), "deferd:{default}:job:batch-b lease");
	ck_assert_str_eq(buf, "bogus");
	batched = monitor_saw(m, good, 3, 5000 * SLOW);
	redisFree(m);
	EXPECT(batched, "no single Redis command carried the three outcomes");
	ck_assert_int_eq(h_count_lines(out("pids")), 1);
}
END_TEST

static const char SPACED[] = PY_PRELUDE
    "held = []\n"
    "for job in jobs():\n"
    "    held.append(job)\n"
    "    rec('held', job['id'])\n"
    "    if len(held) == 5:\n"
    "        wait_for('go')\n"
    "        for j in held:\n"
    "            done(j)\n"
    "            time.sleep(0.02)\n"
    "        held = []\n";

/*
 * Outcomes that come while the queue's outcome call is in flight wait for
 * its answer and go together. Redis holds the first call (CLIENT PAUSE
 * WRITE) while the handler answers four more jobs, one write 20 ms apart:
 * they go in one call after it, not in four.
 */
START_TEST(outcomes_wait_for_the_call_in_flight_and_go_together)
{
	static const char *const ids[] = { "gap-a", "gap-b", "gap-c", "gap-d", "gap-e" };
	static const char *const later[] = { "r-gap-b", "r-gap-c", "r-gap-d", "r-gap-e" };
	redisContext	*m;
	redisReply	*r;
	bool		 together;

	h_write_file(W.hdir, "spaced", SPACED, 0755);
	start(0, config_text("  overrides: {spaced: {mode: persistent, inflight: 5}}\n"));
	for (int i = 0; i < 5; i++)
		enqueue(ids[i], "spaced", "");
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("held")) == 5, WAIT_MS),
	    "the process was not given five jobs");
	m = h_redis_connect(&W.r);
	r = h_cmd(m, "MONITOR");
	freeReplyObject(r);
	r = h_cmd(W.c, "CLIENT PAUSE %d WRITE", 2000);
	freeReplyObject(r);
	touch("go");
	together = monitor_saw(m, later, 4, 10000 * SLOW);
	redisFree(m);
	EXPECT(together, "the four outcomes held behind the first went in "
	    "more than one call");
	for (int i = 0; i < 5; i++)
		EXPECT(H_WAIT_UNTIL(has_result(ids[i]), WAIT_MS), "%s not done",
		    ids[i]);
}
END_TEST

/* Scripts run by Redis so far (INFO commandstats: EVALSHA and EVAL calls). */
static long long
script_calls(void)
{
	static const char *const keys[] = { "cmdstat_evalsha:calls=",
					    "cmdstat_eval:calls=" };
	redisReply	*rep = h_cmd(W.c, "INFO commandstats");
	long long	 n = 0;

	ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *at = strstr(rep->str, keys[i]);

		if (at != NULL)
			n += strtoll(at + strlen(keys[i]), NULL, 10);
	}
	freeReplyObject(rep);
	return (n);
}

static const char QUICK[] = PY_DEFS
    "for job in jobs():\n"
    "    done(job)\n";

/*
 * One process that takes one job at a time is still fed by claims of many
 * jobs: deferd claims ahead what the pool gets through in a few ms, so a
 * burst of 2,000 costs Redis few claims beside the outcomes (with two
 * jobs a claim, as before, it was a claim per job or so).
 */
START_TEST(a_fast_pool_is_claimed_ahead_in_few_calls)
{
	enum { N = 2000 };
	char		 id[32];
	long long	 calls;

	h_write_file(W.hdir, "quick", QUICK, 0755);
	start(0, config_text("  overrides: {quick: {mode: persistent}}\n"));
	freeReplyObject(h_cmd(W.c, "SET deferd:{default}:paused 1"));
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "q%d", i);
		enqueue(id, "quick", "");
	}
	freeReplyObject(h_cmd(W.c, "CONFIG RESETSTAT"));
	h_cmd_int(W.c, "DEL deferd:{default}:paused");
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("runs")) >= N &&
	    h_zcard(W.c, "delayed") + h_zcard(W.c, "active") == 0, 60000 * SLOW),
	    "the burst did not drain: %d runs", h_count_lines(out("runs")));
	calls = script_calls();
	ck_assert_int_eq(h_count_lines(out("runs")), N);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert_int_eq(h_cmd_int(W.c, "EVAL %s 0", "return "
	    "#redis.call('KEYS', 'deferd:{default}:result:q*')"), N);
	EXPECT(calls < N * 5 / 4, "%lld scripts for %d jobs: claims did not "
	    "carry many jobs", calls, N);
}
END_TEST

static const char BADJSON[] = PY_PRELUDE
    "for job in jobs():\n"
    "    if job['attempt'] > 1 or job['id'] == 'after':\n"
    "        done(job)\n"
    "    elif job['id'] == 'garbage':\n"
    "        sys.stdout.write('this is {not json\\n')\n"
    "        sys.stdout.flush()\n";

/* A line that is not JSON: the process restarted, all its jobs retried. */
START_TEST(invalid_json_restarts_and_retries_its_jobs)
{
	struct h_daemon	*d;
	char		 buf[1024];

	h_write_file(W.hdir, "bad", BADJSON, 0755);
	d = start(0, config_text("  overrides: {bad: {mode: persistent, inflight: 2}}\n"));
	enqueue("hold", "bad", "");
	EXPECT(H_WAIT_UNTIL(run_pid("hold", 1) > 0, WAIT_MS), "hold never ran");
	h_enqueue_with(W.c, "garbage", "bad", "", 1, 0);
	EXPECT(H_WAIT_UNTIL(is_dead("garbage"), WAIT_MS), "garbage is not dead");
	last_error("garbage", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "invalid JSON") != NULL, "last_error: %s", buf);
	/* The error quotes the bad line: it may be another job's fault. */
	ck_assert_msg(strstr(buf, "\"this is {not json\"") != NULL,
	    "last_error: %s", buf);
	ck_assert_int_eq(attempts_of("garbage"), 1);
	EXPECT(H_WAIT_UNTIL(has_result("hold"), WAIT_MS),
	    "the other job in flight was not retried");
	ck_assert_msg(run_pid("hold", 2) > 0 && run_pid("hold", 2) != run_pid("hold", 1),
	    "hold's attempt 2 did not run in a new process");
	ck_assert(h_daemon_log_has(d, "restarting", 1000));
	ck_assert_int_ge(h_count_lines(out("pids")), 2);
	enqueue("after", "bad", "");
	EXPECT(H_WAIT_UNTIL(has_result("after"), WAIT_MS), "after never finished");
	ck_assert_int_eq(h_zcard(W.c, "dead"), 1);
}
END_TEST

static const char LONGLINE[] = PY_PRELUDE
    "for job in jobs():\n"
    "    if job['attempt'] == 1:\n"
    "        send({'id': job['id'], 'status': 'done', 'result': 'x' * (200 * 1024)})\n"
    "    else:\n"
    "        done(job)\n";

/* A line longer than max_output + 64 KiB: restarted, the job retried. */
START_TEST(overlong_line_restarts_and_retries)
{
	struct h_daemon	*d;
	char		 buf[1024];

	h_write_file(W.hdir, "long", LONGLINE, 0755);
	d = start(0, config_text("  max_output: 1KiB\n"
	    "  overrides: {long: {mode: persistent}}\n"));
	h_enqueue_with(W.c, "long1", "long", "", 1, 0);
	EXPECT(H_WAIT_UNTIL(is_dead("long1"), WAIT_MS), "long1 is not dead");
	last_error("long1", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "too long") != NULL, "last_error: %s", buf);
	ck_assert_int_eq(attempts_of("long1"), 1);
	enqueue("long2", "long", "");
	EXPECT(H_WAIT_UNTIL(has_result("long2"), WAIT_MS), "long2 never finished");
	ck_assert_str_eq(result_of("long2", buf, sizeof(buf)), "r-long2");
	ck_assert(run_pid("long2", 1) > 0 && run_pid("long2", 2) > 0);
	ck_assert_int_ge(h_log_count(d, "restarting"), 2);
	ck_assert_int_ge(h_count_lines(out("pids")), 3);
}
END_TEST

static const char DUP[] = PY_PRELUDE
    "for job in jobs():\n"
    "    if job['id'] == 'u1':\n"
    "        send({'id': 'no-such-job', 'status': 'done', 'result': 'stray'})\n"
    "        done(job, 'first')\n"
    "    elif job['id'] == 'u2':\n"
    "        send({'id': 'u2', 'status': 'done', 'result': 'first'},\n"
    "             {'id': 'u2', 'status': 'dead', 'error': 'second'})\n"
    "    else:\n"
    "        done(job)\n";

/* Replies for an unknown id, or a second reply for a job: logged, ignored. */
START_TEST(unknown_and_duplicate_replies_are_ignored)
{
	struct h_daemon	*d;
	char		 buf[256];

	h_write_file(W.hdir, "dup", DUP, 0755);
	d = start(0, config_text("  overrides: {dup: {mode: persistent}}\n"));
	enqueue("u1", "dup", "");
	EXPECT(H_WAIT_UNTIL(has_result("u1"), WAIT_MS), "u1 never finished");
	ck_assert_str_eq(result_of("u1", buf, sizeof(buf)), "first");
	EXPECT(h_daemon_log_has(d, "unknown job", 5000 * SLOW),
	    "no 'unknown job' for the stray reply");
	ck_assert(!has_result("no-such-job"));
	/* The duplicate is ignored (its line may be one of those left out). */
	enqueue("u2", "dup", "");
	EXPECT(H_WAIT_UNTIL(has_result("u2"), WAIT_MS), "u2 never finished");
	ck_assert_str_eq(result_of("u2", buf, sizeof(buf)), "first");
	ck_assert(!job_exists("u2"));
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	enqueue("u3", "dup", "");
	EXPECT(H_WAIT_UNTIL(has_result("u3"), WAIT_MS), "u3 never finished");
	ck_assert_int_eq(h_count_lines(out("pids")), 1);
	ck_assert_int_eq(h_log_count(d, "restarting"), 0);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
}
END_TEST

static const char QUIT[] = PY_PRELUDE
    "for job in jobs():\n"
    "    if job['attempt'] == 1 and job['id'].startswith('exit'):\n"
    "        sys.exit(3)\n"
    "    if job['attempt'] == 1 and job['id'].startswith('sig'):\n"
    "        os.kill(PID, signal.SIGKILL)\n"
    "    done(job)\n";

/* A process that exits (or is killed) mid-job: restarted, the job retried. */
START_TEST(process_exit_mid_job_is_retried)
{
	struct h_daemon	*d;
	char		 buf[1024];

	h_write_file(W.hdir, "quit", QUIT, 0755);
	d = start(0, config_text("  overrides: {quit: {mode: persistent, processes: 2}}\n"));
	h_enqueue_with(W.c, "exit1", "quit", "", 1, 0);
	EXPECT(H_WAIT_UNTIL(is_dead("exit1"), WAIT_MS), "exit1 is not dead");
	last_error("exit1", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "handler process exited with status 3") != NULL,
	    "last_error: %s", buf);
	ck_assert_int_eq(attempts_of("exit1"), 1);
	h_enqueue_with(W.c, "sig1", "quit", "", 1, 0);
	EXPECT(H_WAIT_UNTIL(is_dead("sig1"), WAIT_MS), "sig1 is not dead");
	last_error("sig1", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "killed by signal") != NULL, "last_error: %s", buf);
	enqueue("exit2", "quit", "");
	EXPECT(H_WAIT_UNTIL(has_result("exit2"), WAIT_MS), "exit2 never finished");
	ck_assert(run_pid("exit2", 1) > 0 && run_pid("exit2", 2) > 0);
	ck_assert(run_pid("exit2", 1) != run_pid("exit2", 2));
	ck_assert_int_ge(h_log_count(d, "restarting"), 3);
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("pids")) >= 5, WAIT_MS),
	    "not every crashed process was started again");
	/* A restarted process keeps its number: only 0 and 1, ever. */
	{
		char	*pids = h_read_file(out("pids")), *p, *line;
		int	 n[2] = { 0, 0 };

		for (p = pids; (line = strsep(&p, "\n")) != NULL;) {
			const char *sp = strchr(line, ' ');

			if (*line == '\0')
				continue;
			ck_assert_msg(sp != NULL && (strcmp(sp, " 0") == 0 ||
			    strcmp(sp, " 1") == 0), "pids line '%s'", line);
			n[sp[1] - '0']++;
		}
		free(pids);
		ck_assert(n[0] >= 1 && n[1] >= 1 && n[0] + n[1] >= 5);
	}
	ck_assert_int_eq(h_zcard(W.c, "dead"), 2);
}
END_TEST

static const char SLOWH[] = PY_PRELUDE
    "child = subprocess.Popen(['sleep', '1000'])\n"
    "rec('tree', '%d %d' % (PID, child.pid))\n"
    "for job in jobs():\n"
    "    if job['attempt'] > 1:\n"
    "        done(job)\n";

/*
 * A job not answered within overrides.NAME.timeout: timed out, the
 * process group killed (its child too), the process restarted, the job
 * retried.
 */
START_TEST(unanswered_job_times_out_and_the_group_is_killed)
{
	struct h_daemon	*d;
	char		 buf[1024], *tree;
	int		 pids[2];
	int64_t		 t0;

	h_write_file(W.hdir, "slow", SLOWH, 0755);
	d = start(0, config_text("  overrides: {slow: {mode: persistent, timeout: 500ms}}\n"));
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("tree")) == 1, WAIT_MS),
	    "the process never started");
	tree = h_read_file(out("tree"));
	ck_assert_int_eq(sscanf(tree, "%d %d", &pids[0], &pids[1]), 2);
	free(tree);
	t0 = h_mono_ms();
	h_enqueue_with(W.c, "t1", "slow", "", 1, 0);
	/* Well before handlers.timeout (10s): the override's 500ms counts. */
	EXPECT(H_WAIT_UNTIL(is_dead("t1"), 5000 * SLOW), "t1 is not dead in time");
	ck_assert_int_ge(h_mono_ms() - t0, 400);
	last_error("t1", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "timed out after") != NULL, "last_error: %s", buf);
	for (int i = 0; i < 2; i++)
		EXPECT(H_WAIT_UNTIL(h_pid_gone(pids[i]), 5000 * SLOW),
		    "process %d of the handler's group survived", pids[i]);
	EXPECT(h_daemon_log_has(d, "restarting", 5000 * SLOW), "no restart logged");
	enqueue("t2", "slow", "");
	EXPECT(H_WAIT_UNTIL(has_result("t2"), WAIT_MS), "t2 never finished");
	ck_assert(run_pid("t2", 1) > 0 && run_pid("t2", 2) > 0);
	ck_assert_int_ge(h_count_lines(out("tree")), 3);
}
END_TEST

/*
 * Jobs of one pool share one deadline timer: a job with a short timeout
 * (its timeout_ms field) submitted after one with a long timeout still
 * times out on time, not when the first one's deadline comes.
 */
START_TEST(a_sooner_deadline_is_kept_behind_a_later_one)
{
	struct h_daemon	*d;
	redisReply	*rep;

	h_write_file(W.hdir, "slow", SLOWH, 0755);
	d = start(0, config_text("  overrides: {slow: {mode: persistent, "
	    "inflight: 2, timeout: 1h}}\n"));
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("tree")) == 1, WAIT_MS),
	    "the process never started");
	enqueue("long", "slow", "");
	EXPECT(H_WAIT_UNTIL(h_zcard(W.c, "active") == 1, WAIT_MS),
	    "long was never claimed");
	rep = redisCommand(W.c, "HSET deferd:{default}:job:short handler slow "
	    "timeout_ms 300");
	freeReplyObject(rep);
	rep = redisCommand(W.c, "ZADD deferd:{default}:delayed 0 short");
	freeReplyObject(rep);
	rep = redisCommand(W.c, "PUBLISH deferd:{default}:wake 0");
	freeReplyObject(rep);
	EXPECT(h_daemon_log_has(d, "job short (slow): timed out after 300ms",
	    10000 * SLOW), "short did not time out before long's hour");
	/* Both come back (the stopped process held them) and finish. */
	EXPECT(H_WAIT_UNTIL(has_result("short") && has_result("long"),
	    WAIT_MS), "the jobs never finished");
}
END_TEST

static const char DEAF[] = PY_PRELUDE
    "while os.getppid() == PPID:\n"
    "    time.sleep(0.05)\n";

/*
 * A process that never reads its stdin while deferd has megabytes to
 * write to it: the loop is not blocked (exec jobs still run), and its jobs
 * time out (handlers.timeout) and are retried.
 */
START_TEST(handler_that_never_reads_does_not_block_the_loop)
{
	char	 timeout[32], id[16], buf[1024], *big;
	size_t	 len = 1024 * 1024;
	int	 pid;

	h_write_file(W.hdir, "deaf", DEAF, 0755);
	h_write_file(W.hdir, "quick", "#!/bin/sh\necho \"$DEFERD_JOB_ID\" >> \"$OUT/quick\"\n",
	    0755);
	snprintf(timeout, sizeof(timeout), "%dms", 1500 * SLOW);
	start(0, config_timeout(timeout,
	    "  overrides: {deaf: {mode: persistent, inflight: 4, max_attempts: 2}}\n"));
	EXPECT(H_WAIT_UNTIL((pid = pid_at(0)) > 0, WAIT_MS), "deaf never started");
	big = malloc(len);
	memset(big, 'x', len);
	for (int i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "deaf%d", i);
		h_enqueue(W.c, id, "deaf", big, len, 0);
	}
	free(big);
	/* deferd has filled the pipe the process does not read. */
	EXPECT(H_WAIT_UNTIL(stdin_pending(pid) >= 60000, WAIT_MS),
	    "deferd did not fill the deaf process's stdin (%d bytes)",
	    stdin_pending(pid));
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "quick%d", i);
		enqueue(id, "quick", "");
	}
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("quick")) == 5 && has_result("quick0") &&
	    has_result("quick4"), 10000 * SLOW),
	    "exec jobs did not run while a persistent process did not read");
	EXPECT(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 4, 30000 * SLOW),
	    "the deaf jobs were not timed out twice");
	for (int i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "deaf%d", i);
		ck_assert(is_dead(id));
		ck_assert_int_eq(attempts_of(id), 2);
		last_error(id, buf, sizeof(buf));
		ck_assert_msg(strstr(buf, "timed out after") != NULL, "%s: last_error: %s",
		    id, buf);
	}
	ck_assert_int_ge(h_count_lines(out("pids")), 2);
	EXPECT(H_WAIT_UNTIL(h_pid_gone(pid), 5000 * SLOW),
	    "the timed-out process %d was not killed", pid);
}
END_TEST

static const char HOLD[] = PY_PRELUDE
    "for job in jobs():\n"
    "    if job['attempt'] > 1:\n"
    "        done(job)\n";

/*
 * kill -9 of deferd while its processes hold jobs: the processes see EOF
 * and exit; the jobs come back by lease and another deferd completes them.
 */
START_TEST(kill_9_orphans_exit_and_jobs_come_back)
{
	const char	*extra = "  overrides: {hold: {mode: persistent, processes: 2, inflight: 2}}\n"
			    "lease: 2s\n";
	char		 id[16], *eof, want[32];
	int		 pids[2];

	h_write_file(W.hdir, "hold", HOLD, 0755);
	start(0, config_text(extra));
	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "k%d", i);
		enqueue(id, "hold", "");
	}
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("runs")) == 3 &&
	    h_count_lines(out("pids")) == 2, WAIT_MS), "the jobs were not all held");
	pids[0] = pid_at(0);
	pids[1] = pid_at(1);
	h_daemon_signal(&D[0], SIGKILL, true);
	for (int i = 0; i < 2; i++) {
		EXPECT(H_WAIT_UNTIL(h_pid_gone(pids[i]), 5000 * SLOW),
		    "orphaned handler process %d did not exit", pids[i]);
		eof = h_read_file(out("eof"));
		snprintf(want, sizeof(want), "%d\n", pids[i]);
		ck_assert_msg(eof != NULL && strstr(eof, want) != NULL,
		    "process %d did not see EOF on stdin", pids[i]);
		free(eof);
	}
	start(1, config_text(extra));
	EXPECT(H_WAIT_UNTIL(has_result("k0") && has_result("k1") && has_result("k2"),
	    20000 * SLOW), "the jobs did not come back by lease");
	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "k%d", i);
		ck_assert(run_pid(id, 1) > 0 && run_pid(id, 2) > 0);
		ck_assert(run_pid(id, 2) != pids[0] && run_pid(id, 2) != pids[1]);
	}
	ck_assert(H_WAIT_UNTIL(h_zcard(W.c, "active") == 0, 5000 * SLOW));
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
}
END_TEST

/* SIGHUP with processes 1 -> 3: more processes, no job lost or run twice. */
START_TEST(reload_grows_processes_without_losing_jobs)
{
	static const char *const ids[] = { "a1", "a2", "b1", "b2", "b3" };
	struct h_daemon	*d;
	int		 before;

	h_write_file(W.hdir, "grow", POOL, 0755);
	d = start(0, config_text("  overrides: {grow: {mode: persistent}}\n"));
	enqueue("a1", "grow", "go1");
	enqueue("a2", "grow", "go1");
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("held")) == 1, WAIT_MS), "a1 not held");
	before = h_count_lines(out("runs"));
	ck_assert_int_eq(before, 1);
	reload(d, config_text("  overrides: {grow: {mode: persistent, processes: 3}}\n"));
	enqueue("b1", "grow", "go2");
	enqueue("b2", "grow", "go2");
	enqueue("b3", "grow", "go2");
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("held")) >= 3, WAIT_MS),
	    "the new processes took no jobs");
	touch("go1");
	EXPECT(H_WAIT_UNTIL(procs_seen(before) == 7, WAIT_MS),
	    "processes 0, 1 and 2 did not all run jobs after the reload (mask %x)",
	    procs_seen(before));
	touch("go2");
	EXPECT(H_WAIT_UNTIL(({
		bool all = true;
		for (size_t i = 0; i < 5; i++)
			all = all && has_result(ids[i]);
		all;
	}), WAIT_MS), "not every job finished");
	for (size_t i = 0; i < 5; i++)
		ck_assert_msg(runs_of(ids[i]) == 1, "%s ran %d times", ids[i],
		    runs_of(ids[i]));
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	ck_assert_int_eq(h_zcard(W.c, "active"), 0);
	ck_assert_int_eq(h_zcard(W.c, "delayed"), 0);
}
END_TEST

static const char SWITCH[] = PY_DEFS
    "if 'DEFERD_PROTOCOL' not in os.environ:\n"
    "    payload = sys.stdin.buffer.read().decode()\n"
    "    rec('modes', 'exec %s %d' % (os.environ['DEFERD_JOB_ID'], PID))\n"
    "    if payload:\n"
    "        wait_for(payload)\n"
    "    sys.stdout.write('exec ' + os.environ['DEFERD_JOB_ID'])\n"
    "    sys.exit(0)\n"
    PY_STARTED
    "for job in jobs():\n"
    "    rec('modes', 'persistent %s %d' % (job['id'], PID))\n"
    "    done(job, 'persistent ' + job['id'])\n";

/* SIGHUP with mode exec -> persistent -> exec: each takes effect, nothing lost. */
START_TEST(reload_switches_mode_without_losing_jobs)
{
	static const char *const want[][2] = {
		{ "e1", "exec e1" }, { "e2", "exec e2" }, { "p1", "persistent p1" },
		{ "p2", "persistent p2" }, { "x1", "exec x1" },
	};
	struct h_daemon	*d;
	char		 buf[128];
	int		 pid;

	h_write_file(W.hdir, "switch", SWITCH, 0755);
	d = start(0, config_text(NULL));
	enqueue("e1", "switch", "");
	EXPECT(H_WAIT_UNTIL(has_result("e1"), WAIT_MS), "e1 never finished");
	enqueue("e2", "switch", "go");
	EXPECT(H_WAIT_UNTIL(out_has("modes", "exec e2 "), WAIT_MS), "e2 never started");
	ck_assert_int_eq(h_count_lines(out("pids")), 0);

	reload(d, config_text("  overrides: {switch: {mode: persistent}}\n"));
	enqueue("p1", "switch", "");
	enqueue("p2", "switch", "");
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("pids")) == 1, WAIT_MS),
	    "no persistent process after the reload");
	/*
	 * e2 still runs in exec mode and counts against the handler's limit
	 * (processes x inflight = 1): p1 and p2 may wait for it.
	 */
	touch("go");
	EXPECT(H_WAIT_UNTIL(has_result("e2"), WAIT_MS),
	    "the exec job running across the reload did not finish");
	EXPECT(H_WAIT_UNTIL(has_result("p1") && has_result("p2"), WAIT_MS),
	    "jobs after the reload did not finish");
	ck_assert_int_eq(h_count_lines(out("pids")), 1);
	pid = pid_at(0);

	reload(d, config_text(NULL));
	enqueue("x1", "switch", "");
	EXPECT(H_WAIT_UNTIL(has_result("x1"), WAIT_MS), "x1 never finished");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		result_of(want[i][0], buf, sizeof(buf));
		EXPECT(strcmp(buf, want[i][1]) == 0, "%s: result '%s', not '%s'",
		    want[i][0], buf, want[i][1]);
	}
	/* Each ran once: the reload neither killed nor repeated e2. */
	ck_assert_int_eq(h_count_lines(out("modes")), 5);
	ck_assert_int_eq(h_zcard(W.c, "dead"), 0);
	EXPECT(H_WAIT_UNTIL(h_pid_gone(pid), 10000 * SLOW),
	    "the persistent process %d is still running in exec mode", pid);
}
END_TEST

/*
 * The exec mode's checks of the handler file: with handlers.missing: bury,
 * dead with the same reason (the default, wait, is in check_daemon).
 */
START_TEST(unsafe_or_missing_persistent_handler_is_dead)
{
	static const struct { const char *id, *handler, *why; } cases[] = {
		{ "m1", "missing", "not found" },
		{ "m2", "noexec", "not executable" },
		{ "m3", "worldw", "writable" },
	};
	struct h_daemon	*d;
	char		 buf[1024];

	h_write_file(W.hdir, "noexec", PROTO, 0644);
	h_write_file(W.hdir, "worldw", PROTO, 0757);
	h_write_file(W.hdir, "proto", PROTO, 0755);
	d = start(0, config_text("  missing: bury\n"
	    "  overrides: {missing: {mode: persistent}, "
	    "noexec: {mode: persistent}, worldw: {mode: persistent}, "
	    "proto: {mode: persistent}}\n"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		enqueue(cases[i].id, cases[i].handler, "");
	enqueue("fine", "proto", "x");
	EXPECT(H_WAIT_UNTIL(h_zcard(W.c, "dead") == 3, WAIT_MS),
	    "the jobs of unusable handlers are not dead (%lld)", h_zcard(W.c, "dead"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		last_error(cases[i].id, buf, sizeof(buf));
		ck_assert_msg(strstr(buf, cases[i].why) != NULL,
		    "%s: last_error '%s' lacks '%s'", cases[i].id, buf, cases[i].why);
	}
	EXPECT(H_WAIT_UNTIL(has_result("fine"), WAIT_MS), "fine never finished");
	ck_assert_int_eq(h_count_lines(out("pids")), 1);	/* only proto ran */
	ck_assert_int_eq(kill(d->pid, 0), 0);
}
END_TEST

/*
 * 200,000 replies for jobs no one sent: the log stays under 1 MB (one
 * line per process every 10 s, with a count of the lines left out) and
 * every real job is done. Before, each bogus line became a log line.
 */
START_TEST(a_flood_of_unknown_replies_does_not_fill_the_log)
{
	static const char FLOOD[] = PY_PRELUDE
	    "sys.stdout.write(''.join('{\"id\":\"bogus-%d\",\"status\":"
	    "\"done\"}\\n' % i for i in range(200000)))\n"
	    "sys.stdout.flush()\n"
	    "for job in jobs():\n"
	    "    done(job)\n";
	struct h_daemon	*d;
	struct stat	 st;
	char		 id[32];

	h_write_file(W.hdir, "flood", FLOOD, 0755);
	d = start(0, config_text("  overrides: {flood: {mode: persistent}}\n"));
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "f%d", i);
		enqueue(id, "flood", "");
	}
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "f%d", i);
		EXPECT(H_WAIT_UNTIL(has_result(id), WAIT_MS * 2), "%s never "
		    "finished", id);
	}
	ck_assert_int_eq(stat(d->log, &st), 0);
	ck_assert_msg(st.st_size < 1024 * 1024, "log of %lld bytes",
	    (long long)st.st_size);
	ck_assert_int_ge(h_log_count(d, "unknown job"), 1);
	ck_assert_int_le(h_log_count(d, "unknown job"), 5);
}
END_TEST

/* Whether every pid listed in file (one a line) is gone; 0 listed is false. */
static bool
all_gone(const char *file)
{
	char	*text = h_read_file(file), *p;
	int	 n = 0;
	bool	 gone = true;

	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n') + 1) {
		gone = gone && h_pid_gone((pid_t)strtol(p, NULL, 10));
		n++;
		if (strchr(p, '\n') == NULL)
			break;
	}
	free(text);
	return (n > 0 && gone);
}

/*
 * A persistent handler that starts a child (holding its stdout) and
 * exits: each time the process is reaped, its whole group is killed, as
 * exec mode does at the end of a run, so no child outlives it; nor does
 * any after deferd stops. Before, every child survived (adopted by init).
 */
START_TEST(children_of_an_exited_process_are_killed)
{
	static const char SH[] =
	    "#!/bin/sh\n"
	    "sleep 300 &\n"
	    "echo $! >> \"$OUT/sleepers\"\n"
	    "exit 0\n";
	struct h_daemon	*d;

	h_write_file(W.hdir, "forker", SH, 0755);
	d = start(0, config_text("  overrides: {forker: {mode: persistent}}\n"));
	EXPECT(H_WAIT_UNTIL(h_count_lines(out("sleepers")) >= 3, WAIT_MS),
	    "the handler was not restarted 3 times");
	EXPECT(H_WAIT_UNTIL(all_gone(out("sleepers")), 5000 * SLOW),
	    "a child of an exited handler process is still running");
	ck_assert_int_eq(h_daemon_signal(d, SIGTERM, true) != -1, 1);
	EXPECT(H_WAIT_UNTIL(all_gone(out("sleepers")), 5000 * SLOW),
	    "a handler's child outlived deferd");
}
END_TEST

/* The mode, processes and inflight keys and their bounds. */
START_TEST(config_checks_mode_processes_inflight)
{
	static const struct { const char *override; int status; } cases[] = {
		{ "{mode: persistent}", 0 },
		{ "{mode: exec}", 0 },
		{ "{mode: persistent, processes: 1000, inflight: 1000}", 0 },
		{ "{mode: persistent, processes: 1, inflight: 1}", 0 },
		{ "{mode: bogus}", 1 },
		{ "{mode: persistent, processes: 0}", 1 },
		{ "{mode: persistent, processes: 1001}", 1 },
		{ "{mode: persistent, inflight: 0}", 1 },
		{ "{mode: persistent, inflight: 1001}", 1 },
		{ "{mode: persistent, processes: many}", 1 },
	};
	char	extra[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(extra, sizeof(extra), "  overrides: {p: %s}\n", cases[i].override);
		ck_assert_msg(check_config(config_text(extra)) == cases[i].status,
		    "--check-config of %s: not %d", cases[i].override, cases[i].status);
	}
}
END_TEST

/* Path of the example handler in the source tree. */
static const char *
example_path(void)
{
	static char	 path[700];
	const char	*build = getenv("DEFERD_BUILD");

	snprintf(path, sizeof(path), "handlers/persistent-echo");
	if (access(path, R_OK) == 0 || build == NULL)
		return (path);
	snprintf(path, sizeof(path), "%s/../handlers/persistent-echo", build);
	return (path);
}

/* handlers/persistent-echo: alone on a pipe, and under deferd. */
START_TEST(example_persistent_echo_handler)
{
	const char	*argv[2];
	char		 outbuf[4096], buf[256];
	char		*text;
	struct stat	 st;
	struct h_daemon	*d;
	int		 status;

	ck_assert_msg(stat(example_path(), &st) == 0, "no %s", example_path());
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	argv[0] = example_path();
	argv[1] = NULL;
	/* It answers each line and exits at EOF. */
	status = h_run(argv, "{\"id\":\"a\",\"attempt\":1,\"payload\":\"hello\"}\n"
	    "{\"id\":\"b\",\"attempt\":1,\"payload_base64\":\"/w==\"}\n",
	    outbuf, sizeof(outbuf));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_msg(strstr(outbuf, "\"id\": \"a\", \"status\": \"done\", "
	    "\"result\": \"HELLO\"}\n") != NULL, "%s", outbuf);
	ck_assert_msg(strstr(outbuf, "\"id\": \"b\"") != NULL, "%s", outbuf);

	text = h_read_file(example_path());
	ck_assert_ptr_nonnull(text);
	h_write_file(W.hdir, "persistent-echo", text, 0755);
	free(text);
	d = start(0, config_text("  overrides: {persistent-echo: "
	    "{mode: persistent, processes: 2, inflight: 4}}\n"));
	enqueue("echo1", "persistent-echo", "hello world");
	h_enqueue(W.c, "echo2", "persistent-echo", "\xff\x01", 2, 0);
	EXPECT(H_WAIT_UNTIL(has_result("echo1") && has_result("echo2"), WAIT_MS),
	    "the example's jobs did not finish");
	ck_assert_str_eq(result_of("echo1", buf, sizeof(buf)), "HELLO WORLD");
	ck_assert_str_eq(result_of("echo2", buf, sizeof(buf)), "/wE=");
	EXPECT(h_daemon_log_has(d, "persistent-echo: process 1 ready", 5000 * SLOW),
	    "the second process's stderr is not in the log");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("persist");
	TCase	*tc = tcase_create("protocol");
	TCase	*tf = tcase_create("faults");
	TCase	*tr = tcase_create("reload");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60 * SLOW);
	tcase_add_test(tc, exec_mode_stays_the_default);
	tcase_add_test(tc, protocol_done_retry_dead_end_to_end);
	tcase_add_test(tc, binary_payload_arrives_as_base64);
	tcase_add_test(tc, three_processes_share_the_jobs);
	tcase_add_test(tc, inflight_jobs_answered_out_of_order);
	tcase_add_test(tc, pool_jobs_take_no_concurrency_slot);
	tcase_add_test(tc, replies_are_decoded_and_reassembled);
	tcase_add_test(tc, batched_outcomes_refuse_only_the_lost_lease);
	tcase_add_test(tc, outcomes_wait_for_the_call_in_flight_and_go_together);
	tcase_add_test(tc, a_fast_pool_is_claimed_ahead_in_few_calls);
	tcase_add_test(tc, config_checks_mode_processes_inflight);
	tcase_add_test(tc, example_persistent_echo_handler);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_set_timeout(tf, 90 * SLOW);
	tcase_add_test(tf, invalid_json_restarts_and_retries_its_jobs);
	tcase_add_test(tf, overlong_line_restarts_and_retries);
	tcase_add_test(tf, unknown_and_duplicate_replies_are_ignored);
	tcase_add_test(tf, process_exit_mid_job_is_retried);
	tcase_add_test(tf, unanswered_job_times_out_and_the_group_is_killed);
	tcase_add_test(tf, a_sooner_deadline_is_kept_behind_a_later_one);
	tcase_add_test(tf, handler_that_never_reads_does_not_block_the_loop);
	tcase_add_test(tf, kill_9_orphans_exit_and_jobs_come_back);
	tcase_add_test(tf, children_of_an_exited_process_are_killed);
	tcase_add_test(tf, a_flood_of_unknown_replies_does_not_fill_the_log);
	tcase_add_test(tf, unsafe_or_missing_persistent_handler_is_dead);
	suite_add_tcase(s, tf);

	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 90 * SLOW);
	tcase_add_test(tr, reload_grows_processes_without_losing_jobs);
	tcase_add_test(tr, reload_switches_mode_without_losing_jobs);
	suite_add_tcase(s, tr);
	return (h_main(s));
}
