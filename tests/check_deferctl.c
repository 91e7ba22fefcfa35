/* SPDX-License-Identifier: MIT */
/*
 * Integration tests of deferctl: the built binary against a private
 * redis-server, with the Redis state checked after every command. Job
 * states that only the daemon produces (active, dead, finished) are set up
 * directly in Redis with the key schema of docs/keys.md.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define OUTMAX	(1 << 20)
#define Q	"deferd:{default}:"

static struct h_redis	 redis;
static redisContext	*rc;
static char		 dir[300], cfg[400];
static char		 out[OUTMAX], err[OUTMAX];

/* Start a private redis-server and write a config naming it. */
static void
setup(void)
{
	char	text[600];

	h_redis_start(&redis, NULL);
	rc = h_redis_connect(&redis);
	snprintf(dir, sizeof(dir), "%s", redis.dir);
	snprintf(text, sizeof(text), "redis: {url: \"%s\"}\n"
	    "queues: [default, other]\n", redis.url);
	h_write_file(dir, "deferd.yaml", text, 0644);
	snprintf(cfg, sizeof(cfg), "%s/deferd.yaml", dir);
}

/* Stop the server. */
static void
teardown(void)
{
	redisFree(rc);
	h_redis_stop(&redis);
}

/* Read a whole file into buf (NUL-terminated, may hold NULs before). */
static size_t
slurp(const char *path, char *buf, size_t len)
{
	int	fd = open(path, O_RDONLY);
	ssize_t	n;
	size_t	got = 0;

	ck_assert_int_ge(fd, 0);
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return (got);
}

/*
 * Run deferctl with argv (NULL-terminated, after the program name), stdin
 * from in (inlen bytes; NULL for empty), stdout into out and stderr into
 * err. Files, not pipes, so nothing can deadlock. Returns the exit status.
 */
static int
run_argv(const char *in, size_t inlen, const char *const *args)
{
	char		 pin[400], pout[400], perr[400];
	const char	*argv[64];
	int		 n = 0, status, fd;
	pid_t		 pid;

	snprintf(pin, sizeof(pin), "%s/stdin", dir);
	snprintf(pout, sizeof(pout), "%s/stdout", dir);
	snprintf(perr, sizeof(perr), "%s/stderr", dir);
	fd = open(pin, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, in ? in : "", inlen), (ssize_t)inlen);
	close(fd);
	argv[n++] = h_bin("deferctl");
	while (*args != NULL && n < 63)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (freopen(pin, "r", stdin) == NULL ||
		    freopen(pout, "w", stdout) == NULL ||
		    freopen(perr, "w", stderr) == NULL)
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	slurp(pout, out, sizeof(out));
	slurp(perr, err, sizeof(err));
	ck_assert_msg(WIFEXITED(status), "deferctl died: status %d; stderr: %s",
	    status, err);
	return (WEXITSTATUS(status));
}

/* run_argv with the arguments as varargs and "-c CONFIG" in front. */
static int
run_in(const char *in, size_t inlen, ...)
{
	const char	*args[60];
	int		 n = 0;
	va_list		 ap;

	args[n++] = "-c";
	args[n++] = cfg;
	va_start(ap, inlen);
	while ((args[n] = va_arg(ap, const char *)) != NULL && n < 58)
		n++;
	va_end(ap);
	args[n] = NULL;
	return (run_argv(in, inlen, args));
}

#define RUN(...)	run_in(NULL, 0, __VA_ARGS__, (const char *)NULL)

/* A job hash with handler h (and attempts, last_error), in zset at score. */
static void
mkjob(const char *id, const char *zset, long long score, const char *lasterr)
{
	freeReplyObject(h_cmd(rc, "HSET " Q "job:%s handler h attempts 2 "
	    "last_error %s", id, lasterr));
	if (zset != NULL)
		freeReplyObject(h_cmd(rc, "ZADD " Q "%s %lld %s", zset, score, id));
}

/* The Redis server's clock in ms. */
static long long
redis_ms(void)
{
	redisReply	*r = h_cmd(rc, "TIME");
	long long	 ms = atoll(r->element[0]->str) * 1000 +
			    atoll(r->element[1]->str) / 1000;

	freeReplyObject(r);
	return (ms);
}

START_TEST(usage_errors)
{
	const char	*none[] = { NULL };

	ck_assert_int_eq(run_argv(NULL, 0, none), 2);
	ck_assert_ptr_nonnull(strstr(err, "no command"));
	ck_assert_int_eq(RUN("frobnicate"), 2);
	ck_assert_ptr_nonnull(strstr(err, "unknown command 'frobnicate'"));
	ck_assert_int_eq(RUN("enqueue", "--in", "5x", "h"), 2);
	ck_assert_ptr_nonnull(strstr(err, "not a duration"));
	ck_assert_int_eq(RUN("enqueue", "--at", "2030-02-30T00:00:00Z", "h"), 2);
	ck_assert_int_eq(RUN("enqueue", "--at", "2030-01-01T00:00:00", "h"), 2);
	ck_assert_int_eq(RUN("enqueue", "--in", "1s", "--at", "@1", "h"), 2);
	ck_assert_int_eq(RUN("enqueue", "--id", "bad id", "h"), 2);
	ck_assert_ptr_nonnull(strstr(err, "invalid job ID"));
	ck_assert_int_eq(RUN("enqueue"), 2);
	ck_assert_ptr_nonnull(strstr(err, "missing HANDLER"));
	ck_assert_int_eq(RUN("enqueue", "../x"), 2);
	ck_assert_ptr_nonnull(strstr(err, "invalid handler"));
	ck_assert_int_eq(RUN("enqueue", "--max-attempts", "0", "h"), 2);
	/* Within what the configuration allows, and "too long" said so. */
	ck_assert_int_eq(RUN("enqueue", "--max-attempts", "1001", "h"), 2);
	ck_assert_int_eq(RUN("enqueue", "--in", "99999999999999999d", "h"), 2);
	ck_assert_ptr_nonnull(strstr(err, "too long: at most 3650d"));
	ck_assert_int_eq(RUN("enqueue", "--timeout", "31d", "h"), 2);
	ck_assert_ptr_nonnull(strstr(err, "too long: at most 30d"));
	/* "lock -- echo hi" has no RESOURCE: refused, nothing run. */
	ck_assert_int_eq(RUN("lock", "--", "echo", "hi"), 2);
	ck_assert_ptr_nonnull(strstr(err, "RESOURCE comes before '--'"));
	ck_assert_int_eq(RUN("enqueue", "--queue", "a{b}", "h"), 2);
	/* A queue the config does not list: refused, unless --force. */
	ck_assert_int_eq(RUN("enqueue", "--queue", "nope", "h"), 2);
	ck_assert_msg(strstr(err, "queue 'nope' is not in the queues of") != NULL,
	    "%s", err);
	ck_assert_int_eq(h_cmd_int(rc, "EXISTS deferd:{nope}:delayed"), 0);
	ck_assert_int_eq(RUN("enqueue", "--batch", "--id", "x", "h"), 2);
	ck_assert_int_eq(RUN("enqueue", "--bogus", "h"), 2);
	ck_assert_ptr_nonnull(strstr(err, "unknown option"));
	ck_assert_int_eq(RUN("enqueue", "--in"), 2);
	ck_assert_int_eq(RUN("cancel"), 2);
	ck_assert_int_eq(RUN("show", "a", "b"), 2);
	ck_assert_int_eq(RUN("list", "waiting"), 2);
	ck_assert_int_eq(RUN("list", "--limit", "0", "dead"), 2);
	ck_assert_int_eq(RUN("retry"), 2);
	ck_assert_int_eq(RUN("purge", "--all", "x"), 2);
	ck_assert_int_eq(RUN("stats", "extra"), 2);
	ck_assert_str_eq(out, "");
	/* A payload over handlers.max_payload (16MiB) is refused, not sent. */
	{
		size_t	 n = 17 << 20;
		char	*big = malloc(n);

		memset(big, 'x', n);
		ck_assert_int_eq(run_in(big, n, "enqueue", "h", "-",
		    (const char *)NULL), 1);
		ck_assert_ptr_nonnull(strstr(err, "exceeds handlers.max_payload"));
		free(big);
	}
	ck_assert_int_eq(h_cmd_int(rc, "DBSIZE"), 0);
}
END_TEST

/*
 * schedules --check: the next run times of an expression, UTC and local,
 * without Redis; bad expressions and zones are usage errors. Without
 * --check: the configured schedules (none in this config).
 */
START_TEST(schedules_check)
{
	ck_assert_int_eq(RUN("schedules", "--check", "0 0 1 1 *", "--count",
	    "2"), 0);
	ck_assert_int_eq(strlen(out) > 0, 1);
	ck_assert_ptr_nonnull(strstr(out, "-01-01T00:00:00.000Z  "));
	ck_assert_ptr_nonnull(strstr(out, "-01-01 00:00:00 UTC\n"));
	ck_assert_int_eq(RUN("--json", "schedules", "--check", "@daily", "--tz",
	    "Europe/Berlin", "--count", "1"), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"tz\":\"Europe/Berlin\""));
	/* Local midnight, CET or CEST whatever the season. */
	ck_assert_ptr_nonnull(strstr(out, " 00:00:00 CE"));
	ck_assert_int_eq(RUN("schedules", "--check", "0 0 30 2 *"), 0);
	ck_assert_ptr_nonnull(strstr(out, "no more run times"));
	ck_assert_int_eq(RUN("schedules", "--check", "* * 32 * *"), 2);
	ck_assert_ptr_nonnull(strstr(err, "field 3 (day of month): 32 is not "
	    "within 1-31"));
	ck_assert_int_eq(RUN("schedules", "--check", "@daily", "--tz",
	    "Mars/Olympus_Mons"), 2);
	ck_assert_ptr_nonnull(strstr(err, "unknown time zone"));
	/* Without --check: the configured schedules (none here). */
	ck_assert_int_eq(RUN("schedules"), 0);
	ck_assert_ptr_nonnull(strstr(out, "no schedules in "));
	ck_assert_int_eq(RUN("--json", "schedules"), 0);
	ck_assert_str_eq(out, "[]\n");
	ck_assert_int_eq(RUN("schedules", "--tz", "UTC"), 2);
	ck_assert_ptr_nonnull(strstr(err, "--tz and --count go with --check"));
}
END_TEST

START_TEST(help_and_version)
{
	const char	*v[] = { "--version", NULL }, *h[] = { "--help", NULL };

	ck_assert_int_eq(run_argv(NULL, 0, v), 0);
	ck_assert_str_eq(out, "deferctl 0.1.0\n");
	ck_assert_int_eq(run_argv(NULL, 0, h), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: deferctl"));
	ck_assert_int_eq(RUN("help"), 0);
	ck_assert_ptr_nonnull(strstr(out, "enqueue"));
	ck_assert_ptr_nonnull(strstr(out, "lock [--ttl D] [--wait D] RESOURCE"));
	ck_assert_int_eq(RUN("list", "--help"), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: deferctl"));
}
END_TEST

START_TEST(config_errors)
{
	const char	*missing[] = { "-c", "/nonexistent/deferd.yaml", "stats", NULL };
	const char	*envonly[] = { "stats", NULL };
	char		 text[600];

	ck_assert_int_eq(run_argv(NULL, 0, missing), 1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/deferd.yaml"));
	/* $DEFERD_CONFIG is used when -c is not given. */
	setenv("DEFERD_CONFIG", cfg, 1);
	ck_assert_int_eq(run_argv(NULL, 0, envonly), 0);
	ck_assert_ptr_nonnull(strstr(out, "default"));
	unsetenv("DEFERD_CONFIG");
	/* Redis not there: a failure (1), not a usage error. */
	snprintf(text, sizeof(text), "redis: {url: \"unix://%s/nosuch.sock\"}\n", dir);
	h_write_file(dir, "down.yaml", text, 0644);
	snprintf(text, sizeof(text), "%s/down.yaml", dir);
	{
		const char *down[] = { "-c", text, "enqueue", "h", NULL };

		ck_assert_int_eq(run_argv(NULL, 0, down), 1);
		ck_assert_str_eq(out, "");
		ck_assert_str_ne(err, "");
	}
}
END_TEST

START_TEST(enqueue_idempotent)
{
	char	buf[256];

	ck_assert_int_eq(RUN("enqueue", "--id", "order-timeout:42", "cancel-order",
	    "{\"order\":42}"), 0);
	ck_assert_str_eq(out, "order-timeout:42\n");
	ck_assert_str_eq(h_job_str(rc, buf, sizeof(buf), Q
	    "job:order-timeout:42 handler"), "cancel-order");
	ck_assert_str_eq(h_job_str(rc, buf, sizeof(buf), Q
	    "job:order-timeout:42 payload"), "{\"order\":42}");
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "delayed"), 1);
	/* Again, with another payload: a no-op that says so, exit 0. */
	ck_assert_int_eq(RUN("enqueue", "--id", "order-timeout:42", "other", "x"), 0);
	ck_assert_str_eq(out, "order-timeout:42\n");
	ck_assert_ptr_nonnull(strstr(err, "job order-timeout:42 already exists; "
	    "not enqueued again"));
	ck_assert_str_eq(h_job_str(rc, buf, sizeof(buf), Q
	    "job:order-timeout:42 handler"), "cancel-order");
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "delayed"), 1);
	/* --json says created false; global options may follow the command. */
	ck_assert_int_eq(RUN("enqueue", "--json", "--id", "order-timeout:42", "h"), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"created\":false"));
}
END_TEST

START_TEST(enqueue_generated_id_and_fields)
{
	char		id[256], buf[256];
	long long	due, now = redis_ms();

	ck_assert_int_eq(RUN("enqueue", "--queue", "other", "--resource", "order:7",
	    "--max-attempts", "3", "--timeout", "5s", "h.x-1"), 0);
	ck_assert_int_gt(strlen(out), 1);
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(out, "\n"), out);
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "delayed"), 0);
	due = h_cmd_int(rc, "ZSCORE deferd:{other}:delayed %s", id);
	ck_assert_int_ge(due, now);
	ck_assert_int_le(due, redis_ms());
	ck_assert_str_eq(h_job_str(rc, buf, sizeof(buf),
	    "deferd:{other}:job:%s resource", id), "order:7");
	ck_assert_str_eq(h_job_str(rc, buf, sizeof(buf),
	    "deferd:{other}:job:%s max_attempts", id), "3");
	ck_assert_str_eq(h_job_str(rc, buf, sizeof(buf),
	    "deferd:{other}:job:%s timeout_ms", id), "5000");
	ck_assert_str_eq(h_job_str(rc, buf, sizeof(buf),
	    "deferd:{other}:job:%s payload", id), "");
	ck_assert_int_gt(h_job_int(rc, "deferd:{other}:job:%s enqueued_ms",
	    id), 0);
	/* --force: into a queue the config does not list. */
	ck_assert_int_eq(RUN("enqueue", "--queue", "nope", "--force", "h"), 0);
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD deferd:{nope}:delayed"), 1);
}
END_TEST

/*
 * A handler not in this host's handlers.dir (a typo, or not deployed
 * here): the job is enqueued all the same, with a warning that says so.
 */
START_TEST(enqueue_warns_of_a_handler_missing_here)
{
	char	text[800], hdir[400];

	snprintf(hdir, sizeof(hdir), "%s/handlers", dir);
	ck_assert_int_eq(mkdir(hdir, 0755), 0);
	h_write_file(hdir, "real", "#!/bin/sh\nexit 0\n", 0755);
	snprintf(text, sizeof(text), "redis: {url: \"%s\"}\n"
	    "queues: [default, other]\nhandlers: {dir: %s}\n", redis.url, hdir);
	h_write_file(dir, "deferd.yaml", text, 0644);
	ck_assert_int_eq(RUN("enqueue", "--id", "t1", "reall"), 0);
	ck_assert_msg(strstr(err, "enqueued anyway") != NULL, "%s", err);
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "delayed"), 1);
	ck_assert_int_eq(RUN("enqueue", "--id", "t2", "real"), 0);
	ck_assert_msg(strstr(err, "enqueued anyway") == NULL, "%s", err);
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "delayed"), 2);
}
END_TEST

START_TEST(enqueue_due_times)
{
	long long	t0, t1, due;

	t0 = redis_ms();
	ck_assert_int_eq(RUN("enqueue", "--id", "in10m", "--in", "10m", "h"), 0);
	t1 = redis_ms();
	due = h_cmd_int(rc, "ZSCORE " Q "delayed in10m");
	ck_assert_int_ge(due, t0 + 600000);
	ck_assert_int_le(due, t1 + 600000);
	ck_assert_int_eq(h_job_int(rc, Q "job:in10m due_ms"), due);
	ck_assert_int_eq(RUN("enqueue", "--id", "at1", "--at",
	    "2030-01-02T03:04:05.678Z", "h"), 0);
	ck_assert_int_eq(h_cmd_int(rc, "ZSCORE " Q "delayed at1"), 1893553445678LL);
	ck_assert_int_eq(RUN("enqueue", "--id", "at2", "--at",
	    "2030-01-02T03:04:05+02:00", "h"), 0);
	ck_assert_int_eq(h_cmd_int(rc, "ZSCORE " Q "delayed at2"), 1893546245000LL);
	ck_assert_int_eq(RUN("enqueue", "--id", "at3", "--at",
	    "2030-01-02T03:04:05-05:30", "h"), 0);
	ck_assert_int_eq(h_cmd_int(rc, "ZSCORE " Q "delayed at3"), 1893573245000LL);
	ck_assert_int_eq(RUN("enqueue", "--id", "at4", "--at", "@1893553445", "h"), 0);
	ck_assert_int_eq(h_cmd_int(rc, "ZSCORE " Q "delayed at4"), 1893553445000LL);
	/* --json reports the due time as the script computed it. */
	ck_assert_int_eq(RUN("--json", "enqueue", "--id", "at5", "--at",
	    "2030-01-02T03:04:05.678Z", "h"), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"due_ms\":1893553445678"));
	ck_assert_ptr_nonnull(strstr(out, "\"due\":\"2030-01-02T03:04:05.678Z\""));
}
END_TEST

START_TEST(enqueue_binary_stdin)
{
	static const char	payload[] = "a\0b\xff\n\0\r\"end";
	size_t			len = sizeof(payload) - 1;
	redisReply		*r;

	ck_assert_int_eq(run_in(payload, len, "enqueue", "--id", "bin", "h", "-",
	    (const char *)NULL), 0);
	r = h_cmd(rc, "HGET " Q "jobs bin");	/* packed: the payload ends it */
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_uint_gt(r->len, len + 2);
	ck_assert(memcmp(r->str + r->len - len - 2, "\n\n", 2) == 0);
	ck_assert(memcmp(r->str + r->len - len, payload, len) == 0);
	freeReplyObject(r);
	/* show --json escapes it into valid JSON; text mode escapes it too. */
	ck_assert_int_eq(RUN("show", "--json", "bin"), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"payload\":\"a\\u0000b\xef\xbf\xbd"
	    "\\u000a\\u0000\\u000d\\\"end\""));
	ck_assert_int_eq(RUN("show", "bin"), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"a\\x00b\\xff\\n\\x00\\r\\\"end\""));
}
END_TEST

START_TEST(enqueue_batch)
{
	enum { N = 10000 };
	char		*in = malloc(N * 16), buf[64];
	const char	*argv[] = { h_bin("deferctl"), "-c", cfg, "enqueue",
			    "--batch", "--in", "1h", "h", NULL };
	size_t		 len = 0;
	int64_t		 t0;
	redisReply	*r;

	ck_assert_ptr_nonnull(in);
	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(in + len, "line-%d\n", i);
	t0 = h_mono_ms();
	ck_assert_int_eq(h_run(argv, in, out, sizeof(out)), 0);
	fprintf(stderr, "enqueue --batch: %d jobs in %lld ms\n", N,
	    (long long)(h_mono_ms() - t0));
	ck_assert_str_eq(out, "10000\n");
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "delayed"), N);
	/* Every line became one job with that payload. */
	r = h_cmd(rc, "ZRANGE " Q "delayed 0 -1");
	ck_assert_uint_eq(r->elements, N);
	{
		int seen[N] = { 0 };

		for (size_t i = 0; i < r->elements; i++) {
			int k;

			h_job_str(rc, buf, sizeof(buf), Q "job:%s payload",
			    r->element[i]->str);
			ck_assert_int_eq(sscanf(buf, "line-%d", &k), 1);
			ck_assert(k >= 0 && k < N && !seen[k]);
			seen[k] = 1;
		}
	}
	freeReplyObject(r);
	free(in);
	/* A last line without a newline counts; --json gives the count. */
	ck_assert_int_eq(run_in("x\ny", 3, "--json", "enqueue", "--batch", "h",
	    (const char *)NULL), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"enqueued\":2"));
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "delayed"), N + 2);
}
END_TEST

START_TEST(cancel_states)
{
	ck_assert_int_eq(RUN("enqueue", "--id", "c1", "--in", "1h", "h"), 0);
	ck_assert_int_eq(RUN("cancel", "c1"), 0);
	ck_assert_str_eq(out, "cancelled\n");
	ck_assert_int_eq(h_job_exists(rc, Q "job:c1"), 0);
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "delayed"), 0);

	mkjob("c2", "active", 1, "");
	ck_assert_int_eq(RUN("cancel", "c2"), 1);
	ck_assert_str_eq(out, "running\n");
	ck_assert_int_eq(h_job_exists(rc, Q "job:c2"), 1);

	mkjob("c3", "dead", 1, "boom");
	ck_assert_int_eq(RUN("cancel", "c3"), 1);
	ck_assert_str_eq(out, "dead\n");

	freeReplyObject(h_cmd(rc, "SET " Q "result:c4 done EX 60"));
	ck_assert_int_eq(RUN("cancel", "c4"), 1);
	ck_assert_str_eq(out, "finished\n");
	/* A new job with a finished job's ID: the old result goes. */
	ck_assert_int_eq(RUN("enqueue", "--id", "c4", "--in", "1h", "h"), 0);
	ck_assert_int_eq(h_cmd_int(rc, "EXISTS " Q "result:c4"), 0);
	ck_assert_int_eq(RUN("cancel", "c4"), 0);
	ck_assert_str_eq(out, "cancelled\n");
	ck_assert_int_eq(RUN("cancel", "c4"), 1);
	ck_assert_str_eq(out, "unknown\n");

	ck_assert_int_eq(RUN("cancel", "c5"), 1);
	ck_assert_str_eq(out, "unknown\n");

	ck_assert_int_eq(RUN("cancel", "--json", "c2"), 1);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"state\":\"running\""));
	/* The other queue is another namespace of keys. */
	ck_assert_int_eq(RUN("cancel", "--queue", "other", "c3"), 1);
	ck_assert_str_eq(out, "unknown\n");
}
END_TEST

START_TEST(show_states)
{
	char	big[301];

	memset(big, 'p', 300);
	big[300] = '\0';
	ck_assert_int_eq(RUN("enqueue", "--id", "s1", "--at", "@1893553445",
	    "h", big), 0);
	ck_assert_int_eq(RUN("show", "s1"), 0);
	ck_assert_ptr_nonnull(strstr(out, "state        delayed\n"));
	ck_assert_ptr_nonnull(strstr(out, "due          2030-01-02T03:04:05.000Z\n"));
	ck_assert_ptr_nonnull(strstr(out, "handler      h\n"));
	ck_assert_ptr_nonnull(strstr(out, "... (300 bytes)"));
	ck_assert_ptr_null(strstr(out, big));
	ck_assert_int_eq(RUN("show", "--json", "s1"), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, big));
	ck_assert_ptr_nonnull(strstr(out, "\"due_ms\":1893553445000"));

	mkjob("s2", "dead", 1893553445000LL, "exit 65\nbad input");
	ck_assert_int_eq(RUN("show", "s2"), 0);
	ck_assert_ptr_nonnull(strstr(out, "state        dead\n"));
	ck_assert_ptr_nonnull(strstr(out, "died         2030-01-02T03:04:05.000Z\n"));
	ck_assert_ptr_nonnull(strstr(out, "last_error   exit 65\\nbad input\n"));

	mkjob("s3", "active", 1893553445000LL, "");
	ck_assert_int_eq(RUN("show", "--json", "s3"), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"state\":\"active\""));
	ck_assert_ptr_nonnull(strstr(out, "\"deadline_ms\":1893553445000"));

	freeReplyObject(h_cmd(rc, "SET " Q "result:s4 %s EX 60", "all \"done\""));
	ck_assert_int_eq(RUN("show", "s4"), 0);
	ck_assert_ptr_nonnull(strstr(out, "state        finished\n"));
	ck_assert_ptr_nonnull(strstr(out, "result       \"all \\\"done\\\"\"\n"));
	ck_assert_int_eq(RUN("show", "--json", "s4"), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"job\":null"));

	ck_assert_int_eq(RUN("show", "nosuch"), 1);
	ck_assert_ptr_nonnull(strstr(out, "state        unknown\n"));
	ck_assert_ptr_nonnull(strstr(err, "unknown"));
}
END_TEST

START_TEST(list_jobs)
{
	char	*line2;

	mkjob("d2", "dead", 2000, "second\tone");
	mkjob("d1", "dead", 1000, "first");
	mkjob("d3", "dead", 3000, "third");
	ck_assert_int_eq(RUN("list", "dead"), 0);
	ck_assert_int_eq((int)(strchr(out, '\n') - out), (int)strlen(
	    "d1 1970-01-01T00:00:01.000Z h 2 first"));
	ck_assert(strncmp(out, "d1 1970-01-01T00:00:01.000Z h 2 first\n", 38) == 0);
	line2 = strchr(out, '\n') + 1;
	ck_assert(strncmp(line2, "d2 1970-01-01T00:00:02.000Z h 2 second\\tone\n",
	    44) == 0);
	ck_assert_int_eq(RUN("list", "--limit", "2", "dead"), 0);
	ck_assert_ptr_null(strstr(out, "d3"));
	ck_assert_ptr_nonnull(strstr(out, "d2"));
	ck_assert_int_eq(RUN("--json", "list", "dead"), 0);
	ck_assert(h_json_ok(out));
	ck_assert(out[0] == '[');
	ck_assert_ptr_nonnull(strstr(out, "{\"id\":\"d1\",\"time_ms\":1000,"
	    "\"time\":\"1970-01-01T00:00:01.000Z\",\"handler\":\"h\","
	    "\"attempts\":2,\"last_error\":\"first\"}"));
	ck_assert_int_eq(RUN("list", "delayed"), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(RUN("list", "--json", "active"), 0);
	ck_assert_str_eq(out, "[]\n");
	/* A member whose hash is gone still lists, with "-" for the handler. */
	freeReplyObject(h_cmd(rc, "ZADD " Q "active 5000 ghost"));
	ck_assert_int_eq(RUN("list", "active"), 0);
	ck_assert_str_eq(out, "ghost 1970-01-01T00:00:05.000Z - 0\n");
}
END_TEST

START_TEST(stats_counts)
{
	long long	later = redis_ms() + 3600000;

	mkjob("a", "delayed", 1000, "");
	mkjob("b", "delayed", 2000, "");
	mkjob("c", "delayed", later, "");
	mkjob("d", "active", later, "");
	freeReplyObject(h_cmd(rc, "ZADD deferd:{other}:dead 1 x 2 y"));
	ck_assert_int_eq(RUN("stats"), 0);
	ck_assert_ptr_nonnull(strstr(out, "QUEUE"));
	ck_assert_int_eq(RUN("--json", "stats"), 0);
	ck_assert(h_json_ok(out));
	ck_assert_str_eq(out, "{\"default\":{\"delayed\":3,\"due\":2,\"active\":1,"
	    "\"dead\":0,\"paused\":false},\"other\":{\"delayed\":0,\"due\":0,"
	    "\"active\":0,\"dead\":2,\"paused\":false}}\n");
	ck_assert_int_eq(RUN("stats", "--json", "--queue", "other"), 0);
	ck_assert_str_eq(out, "{\"other\":{\"delayed\":0,\"due\":0,\"active\":0,"
	    "\"dead\":2,\"paused\":false}}\n");
	/* pause and resume: the key, what stats shows, what each says. */
	ck_assert_int_eq(RUN("pause", "other"), 0);
	ck_assert_str_eq(out, "other paused\n");
	ck_assert_int_eq(h_cmd_int(rc, "EXISTS deferd:{other}:paused"), 1);
	ck_assert_int_eq(RUN("pause", "other"), 0);
	ck_assert_str_eq(out, "other paused already\n");
	ck_assert_int_eq(RUN("stats"), 0);
	ck_assert_msg(strstr(out, "  paused\n") != NULL, "%s", out);
	ck_assert_int_eq(RUN("stats", "--json", "--queue", "other"), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"paused\":true"));
	ck_assert_int_eq(RUN("--json", "resume", "other"), 0);
	ck_assert_str_eq(out, "{\"queue\":\"other\",\"paused\":false,"
	    "\"changed\":true}\n");
	ck_assert_int_eq(h_cmd_int(rc, "EXISTS deferd:{other}:paused"), 0);
	ck_assert_int_eq(RUN("resume", "other"), 0);
	ck_assert_str_eq(out, "other resumed (was not paused)\n");
	ck_assert_int_eq(RUN("pause", "nope"), 2);
	ck_assert_int_eq(RUN("pause"), 2);
}
END_TEST

START_TEST(retry_dead)
{
	mkjob("r1", "dead", 1000, "x");
	mkjob("r2", "dead", 2000, "y");
	mkjob("r3", "dead", 3000, "z");
	ck_assert_int_eq(RUN("retry", "r1"), 0);
	ck_assert_str_eq(out, "1\n");
	ck_assert_int_eq(h_cmd_int(rc, "ZSCORE " Q "dead r1"), -1);
	ck_assert_int_ge(h_cmd_int(rc, "ZSCORE " Q "delayed r1"), 0);
	/* Attempts reset: the field is gone, which counts as none. */
	ck_assert_int_eq(h_cmd_int(rc, "HEXISTS " Q "job:r1 attempts"), 0);
	/* r1 is no longer dead: the other IDs still run, the status is 1. */
	ck_assert_int_eq(RUN("retry", "r1", "r2"), 1);
	ck_assert_str_eq(out, "1\n");
	ck_assert_ptr_nonnull(strstr(err, "job r1 is not dead"));
	ck_assert_int_ge(h_cmd_int(rc, "ZSCORE " Q "delayed r2"), 0);
	ck_assert_int_eq(RUN("--json", "retry", "--all"), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"retried\":1"));
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "dead"), 0);
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "delayed"), 3);
	ck_assert_int_eq(RUN("retry", "--all"), 0);
	ck_assert_str_eq(out, "0\n");
}
END_TEST

START_TEST(retry_all_many)
{
	enum { N = 2500 };

	for (int i = 0; i < N; i++)
		redisAppendCommand(rc, "HSET " Q "job:m%d handler h", i);
	for (int i = 0; i < N; i++)
		redisAppendCommand(rc, "ZADD " Q "dead %d m%d", i, i);
	for (int i = 0; i < 2 * N; i++) {
		void *r;

		ck_assert_int_eq(redisGetReply(rc, &r), REDIS_OK);
		freeReplyObject(r);
	}
	ck_assert_int_eq(RUN("retry", "--all"), 0);
	ck_assert_str_eq(out, "2500\n");
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "delayed"), N);
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "dead"), 0);
}
END_TEST

START_TEST(purge_dead)
{
	enum { N = 2500 };

	mkjob("p1", "dead", 1, "x");
	mkjob("keep", "delayed", 1, "");
	ck_assert_int_eq(RUN("purge", "p1"), 0);
	ck_assert_str_eq(out, "1\n");
	ck_assert_int_eq(h_job_exists(rc, Q "job:p1"), 0);
	ck_assert_int_eq(RUN("purge", "p1"), 1);
	ck_assert_str_eq(out, "0\n");
	ck_assert_ptr_nonnull(strstr(err, "not dead"));
	ck_assert_int_eq(RUN("purge", "keep"), 1);
	ck_assert_int_eq(h_job_exists(rc, Q "job:keep"), 1);
	/* A dead job whose ID breaks the ID rules can be shown and purged. */
	mkjob("bad/id", "dead", 1, "x");
	ck_assert_int_eq(RUN("show", "bad/id"), 0);
	ck_assert_ptr_nonnull(strstr(out, "bad/id"));
	ck_assert_int_eq(RUN("purge", "bad/id"), 0);
	ck_assert_int_eq(h_job_exists(rc, Q "job:bad/id"), 0);
	/* delete: the dashboard's word, the same command. */
	mkjob("p2", "dead", 1, "x");
	ck_assert_int_eq(RUN("delete", "p2"), 0);
	ck_assert_str_eq(out, "1\n");
	ck_assert_int_eq(h_job_exists(rc, Q "job:p2"), 0);
	ck_assert_int_eq(RUN("delete"), 2);
	ck_assert_ptr_nonnull(strstr(err, "delete: expected job IDs or --all"));
	for (int i = 0; i < N; i++)
		redisAppendCommand(rc, "HSET " Q "job:m%d handler h", i);
	for (int i = 0; i < N; i++)
		redisAppendCommand(rc, "ZADD " Q "dead %d m%d", i, i);
	for (int i = 0; i < 2 * N; i++) {
		void *r;

		ck_assert_int_eq(redisGetReply(rc, &r), REDIS_OK);
		freeReplyObject(r);
	}
	ck_assert_int_eq(RUN("--json", "purge", "--all"), 0);
	ck_assert(h_json_ok(out));
	ck_assert_ptr_nonnull(strstr(out, "\"purged\":2500"));
	ck_assert_int_eq(h_cmd_int(rc, "ZCARD " Q "dead"), 0);
	ck_assert_int_eq(h_job_exists(rc, Q "job:m0"), 0);
	ck_assert_int_eq(h_job_exists(rc, Q "job:keep"), 1);
}
END_TEST

/* Run the deferctl integration suite. */
int
main(void)
{
	Suite	*s = suite_create("deferctl");
	TCase	*tc = tcase_create("integration");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, schedules_check);
	tcase_add_test(tc, config_errors);
	tcase_add_test(tc, enqueue_idempotent);
	tcase_add_test(tc, enqueue_generated_id_and_fields);
	tcase_add_test(tc, enqueue_warns_of_a_handler_missing_here);
	tcase_add_test(tc, enqueue_due_times);
	tcase_add_test(tc, enqueue_binary_stdin);
	tcase_add_test(tc, enqueue_batch);
	tcase_add_test(tc, cancel_states);
	tcase_add_test(tc, show_states);
	tcase_add_test(tc, list_jobs);
	tcase_add_test(tc, stats_counts);
	tcase_add_test(tc, retry_dead);
	tcase_add_test(tc, retry_all_many);
	tcase_add_test(tc, purge_dead);
	suite_add_tcase(s, tc);
	return (h_main(s));
}
