/* SPDX-License-Identifier: MIT */
/* Test harness: real redis-server and deferd processes, polled with deadlines. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "job_body.h"
#include "keys.h"
#include "rclient.h"
#include "scripts.h"

void
h_tmpdir(char *out, size_t len)
{
	const char	*base = getenv("TMPDIR");

	snprintf(out, len, "%s/deferd-test.XXXXXX", base ? base : "/tmp");
	ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp: %s", strerror(errno));
	chmod(out, 0755);
}

int64_t
h_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
h_real_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
h_nap(void)
{
	struct timespec	ts = { 0, 5 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/*
 * fork+exec argv with stdout/stderr sent to logpath (append) and env
 * ("NAME=VALUE", NULL-terminated, may be NULL) added to the environment;
 * a VALUE of "%pid" becomes the child's pid.
 */
static pid_t
h_spawn_env(const char *const *argv, const char *logpath, const char *const *env)
{
	pid_t	pid = fork();

	ck_assert_msg(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd != -1) {
			dup2(fd, 0);
			close(fd);
		}
		signal(SIGPIPE, SIG_DFL);
		for (; env != NULL && *env != NULL; env++) {
			char		 name[256], pid_text[32];
			const char	*eq = strchr(*env, '=');

			if (eq == NULL || (size_t)(eq - *env) >= sizeof(name))
				continue;
			snprintf(name, sizeof(name), "%.*s", (int)(eq - *env), *env);
			snprintf(pid_text, sizeof(pid_text), "%d", (int)getpid());
			setenv(name, strcmp(eq + 1, "%pid") == 0 ? pid_text : eq + 1, 1);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return (pid);
}

/* fork+exec argv with stdout/stderr sent to logpath (append). */
static pid_t
h_spawn(const char *const *argv, const char *logpath)
{
	return (h_spawn_env(argv, logpath, NULL));
}

/* Start redis-server on r->sock and wait until it answers PING. */
static void
h_redis_launch(struct h_redis *r, const char *const *extra)
{
	const char	*argv[64];
	char		 log[400];
	int		 n = 0;
	redisContext	*c = NULL;

	argv[n++] = "redis-server";
	argv[n++] = "--port"; argv[n++] = "0";
	argv[n++] = "--unixsocket"; argv[n++] = r->sock;
	argv[n++] = "--unixsocketperm"; argv[n++] = "700";
	argv[n++] = "--save"; argv[n++] = "";
	argv[n++] = "--appendonly"; argv[n++] = "no";
	argv[n++] = "--dir"; argv[n++] = r->dir;
	argv[n++] = "--daemonize"; argv[n++] = "no";
	for (; extra != NULL && *extra != NULL && n < 62; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/redis.log", r->dir);
	r->pid = h_spawn(argv, log);
	for (int64_t end = h_mono_ms() + 10000; h_mono_ms() < end; h_nap()) {
		c = redisConnectUnix(r->sock);
		if (c != NULL && c->err == 0) {
			redisReply *rep = redisCommand(c, "PING");
			/* LOADING (an AOF being read) is an error reply: not ready. */
			bool up = rep != NULL && rep->type == REDIS_REPLY_STATUS;

			if (rep != NULL)
				freeReplyObject(rep);
			if (up) {
				redisFree(c);
				return;
			}
		}
		if (c != NULL)
			redisFree(c);
	}
	ck_abort_msg("redis-server did not start on %s", r->sock);
}

void
h_redis_start(struct h_redis *r, const char *const *extra)
{
	memset(r, 0, sizeof(*r));
	h_tmpdir(r->dir, sizeof(r->dir));
	snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir);
	snprintf(r->url, sizeof(r->url), "unix://%s", r->sock);
	r->extra = extra;
	h_redis_launch(r, extra);
}

/* Terminate pid (TERM, then KILL after ms) and reap it. */
static void
h_kill_wait(pid_t pid, int64_t ms)
{
	int	status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int64_t end = h_mono_ms() + ms; h_mono_ms() < end; h_nap())
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

pid_t
h_sentinel_start(const char *dir, int port, const char *name, int master_port)
{
	char		 conf[400], log[400], text[1024], file[64];
	const char	*argv[5];
	redisContext	*c;
	pid_t		 pid;

	snprintf(file, sizeof(file), "sentinel-%d.conf", port);
	snprintf(text, sizeof(text),
	    "port %d\nbind 127.0.0.1\ndir %s\n"
	    "sentinel monitor %s 127.0.0.1 %d 2\n"
	    "sentinel down-after-milliseconds %s 1000\n"
	    "sentinel failover-timeout %s 10000\n",
	    port, dir, name, master_port, name, name);
	h_write_file(dir, file, text, 0644);
	snprintf(conf, sizeof(conf), "%s/%s", dir, file);
	snprintf(log, sizeof(log), "%s/sentinel-%d.log", dir, port);
	argv[0] = "redis-server";
	argv[1] = conf;
	argv[2] = "--sentinel";
	argv[3] = NULL;
	pid = h_spawn(argv, log);
	for (int64_t end = h_mono_ms() + 10000; h_mono_ms() < end; h_nap()) {
		if ((c = redisConnect("127.0.0.1", port)) != NULL && c->err == 0) {
			redisReply *rep = redisCommand(c, "PING");
			bool up = rep != NULL && rep->type == REDIS_REPLY_STATUS;

			if (rep != NULL)
				freeReplyObject(rep);
			redisFree(c);
			if (up)
				return (pid);
		} else if (c != NULL)
			redisFree(c);
	}
	ck_abort_msg("redis sentinel did not start on port %d", port);
	return (-1);
}

/* Whether every node of c says cluster_state:ok. */
static bool
h_cluster_ok(const struct h_cluster *c)
{
	bool	ok = true;

	for (int i = 0; i < c->n && ok; i++) {
		redisContext	*r = h_redis_connect(&c->nodes[i]);
		redisReply	*rep = redisCommand(r, "CLUSTER INFO");

		ok = rep != NULL && rep->type == REDIS_REPLY_STRING &&
		    strstr(rep->str, "cluster_state:ok") != NULL;
		if (rep != NULL)
			freeReplyObject(rep);
		redisFree(r);
	}
	return (ok);
}

void
h_cluster_start(struct h_cluster *c, int n)
{
	h_cluster_start_replicas(c, n, 0);
}

/* Whether every replica of c has its link to its master up. */
static bool
h_cluster_replicas_linked(const struct h_cluster *c)
{
	bool	ok = true;

	for (int i = 0; i < c->n && ok; i++) {
		redisContext	*r = h_redis_connect(&c->nodes[i]);
		redisReply	*rep = redisCommand(r, "INFO replication");

		ok = rep != NULL && rep->type == REDIS_REPLY_STRING &&
		    (strstr(rep->str, "role:master") != NULL ||
		    strstr(rep->str, "master_link_status:up") != NULL);
		if (rep != NULL)
			freeReplyObject(rep);
		redisFree(r);
	}
	return (ok);
}

void
h_cluster_start_replicas(struct h_cluster *c, int masters, int replicas)
{
	char		 cmd[1024];
	size_t		 used;
	const char	*argv[] = { "/bin/sh", "-c", cmd, NULL };
	char		 out[4096];
	int		 status, n = masters * (1 + replicas);

	ck_assert_int_le(n, H_CLUSTER_MAX);
	memset(c, 0, sizeof(*c));
	c->n = n;
	used = (size_t)snprintf(cmd, sizeof(cmd), "redis-cli --cluster create");
	for (int i = 0; i < n; i++) {
		const char **a = c->args[i];

		snprintf(c->port[i], sizeof(c->port[i]), "%d", h_free_port());
		a[0] = "--port"; a[1] = c->port[i];
		a[2] = "--bind"; a[3] = "127.0.0.1";
		a[4] = "--cluster-enabled"; a[5] = "yes";
		a[6] = "--cluster-node-timeout"; a[7] = "2000";
		/* The bus port: not port + 10000, which may be taken or > 65535. */
		snprintf(c->bus_port[i], sizeof(c->bus_port[i]), "%d",
		    h_free_port());
		a[8] = "--cluster-port"; a[9] = c->bus_port[i];
		a[10] = "--enable-debug-command"; a[11] = "local";
		a[12] = NULL;
		h_redis_start(&c->nodes[i], a);
		used += (size_t)snprintf(cmd + used, sizeof(cmd) - used,
		    " 127.0.0.1:%s", c->port[i]);
	}
	snprintf(cmd + used, sizeof(cmd) - used, " --cluster-replicas %d "
	    "--cluster-yes 2>&1", replicas);
	status = h_run(argv, NULL, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "redis-cli --cluster create failed: %s", out);
	ck_assert_msg(H_WAIT_UNTIL(h_cluster_ok(c), 30000),
	    "the cluster did not reach cluster_state:ok");
	ck_assert_msg(H_WAIT_UNTIL(h_cluster_replicas_linked(c), 30000),
	    "the replicas did not reach their masters");
}

void
h_cluster_stop(struct h_cluster *c)
{
	for (int i = 0; i < c->n; i++)
		if (c->nodes[i].dir[0] != '\0')
			h_redis_stop(&c->nodes[i]);
	c->n = 0;
}

void
h_pid_stop(pid_t pid)
{
	h_kill_wait(pid, 5000);
}

void
h_redis_stop(struct h_redis *r)
{
	char	cmd[400];

	h_kill_wait(r->pid, 5000);
	r->pid = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "harness: could not remove %s\n", r->dir);
}

void
h_redis_restart(struct h_redis *r)
{
	h_kill_wait(r->pid, 5000);
	unlink(r->sock);
	h_redis_launch(r, r->extra);
}

redisContext *
h_redis_connect(const struct h_redis *r)
{
	redisContext	*c = redisConnectUnix(r->sock);

	ck_assert_msg(c != NULL && c->err == 0, "connect %s: %s", r->sock,
	    c ? c->errstr : "oom");
	return (c);
}

redisReply *
h_cmd(redisContext *c, const char *fmt, ...)
{
	va_list		 ap;
	redisReply	*rep;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(rep != NULL, "redis command '%s': %s", fmt, c->errstr);
	return (rep);
}

/* Integer value of a reply: INTEGER, numeric STRING, or -1 for NIL. */
static long long
h_reply_int(const redisReply *rep)
{
	if (rep->type == REDIS_REPLY_INTEGER)
		return (rep->integer);
	if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS)
		return (strtoll(rep->str, NULL, 10));
	if (rep->type == REDIS_REPLY_NIL)
		return (-1);
	ck_abort_msg("expected an integer reply, got type %d (%s)", rep->type,
	    rep->type == REDIS_REPLY_ERROR ? rep->str : "");
	return (-1);
}

long long
h_cmd_int(redisContext *c, const char *fmt, ...)
{
	va_list		 ap;
	redisReply	*rep;
	long long	 v;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(rep != NULL, "redis command '%s': %s", fmt, c->errstr);
	v = h_reply_int(rep);
	freeReplyObject(rep);
	return (v);
}

/*
 * Split "PREFIX job:ID FIELD" (vsnprintf of fmt, ap into key) into the
 * queue prefix (up to "job:"), the ID and the field, in place.
 */
static void
h_job_split(char *key, size_t len, const char *fmt, va_list ap,
    char **id, char **field)
{
	char	*job, *sp;

	vsnprintf(key, len, fmt, ap);
	job = strstr(key, ":job:");
	sp = strrchr(key, ' ');
	ck_assert_msg(job != NULL, "'%s' names no job key", key);
	*job = '\0';
	*id = job + 5;
	*field = NULL;
	if (sp != NULL) {
		*sp = '\0';
		*field = sp + 1;
	}
}

/* A new string reply holding s, for h_claim_expand. */
static redisReply *
h_reply_str(const char *s)
{
	redisReply	*r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	r->type = REDIS_REPLY_STRING;
	r->str = strdup(s);
	ck_assert_ptr_nonnull(r->str);
	r->len = strlen(s);
	return (r);
}

/* Whether e is a claim reply's {"runs", ...} entry. */
static bool
h_is_runs(const redisReply *e)
{
	return (e->type == REDIS_REPLY_ARRAY && e->elements % 3 == 1 &&
	    e->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(e->element[0]->str, "runs") == 0);
}

void
h_claim_expand(redisReply *rep)
{
	redisReply	**el;
	size_t		  n = 0, at = 0;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 5)
		return;
	for (size_t i = 0; i < rep->elements; i++)
		n += h_is_runs(rep->element[i]) ? rep->element[i]->elements / 3 : 1;
	el = calloc(n + 1, sizeof(*el));
	ck_assert_ptr_nonnull(el);
	for (size_t i = 0; i < rep->elements; i++) {
		redisReply	*e = rep->element[i];

		if (!h_is_runs(e)) {
			el[at++] = e;
			continue;
		}
		for (size_t k = 1; k < e->elements; k += 3) {
			redisReply	*r = calloc(1, sizeof(*r));

			ck_assert_ptr_nonnull(r);
			r->type = REDIS_REPLY_ARRAY;
			r->elements = 4;
			r->element = calloc(4, sizeof(*r->element));
			ck_assert_ptr_nonnull(r->element);
			r->element[0] = h_reply_str("run");
			memcpy(&r->element[1], &e->element[k], 3 * sizeof(*el));
			el[at++] = r;
		}
		e->elements = 1;	/* the strings moved */
		freeReplyObject(e);
	}
	free(rep->element);
	rep->element = el;
	rep->elements = n;
}

redisReply *
h_job_fields(redisContext *c, const char *prefix, const char *id)
{
	redisReply	*b = h_cmd(c, "HGET %s:jobs %s", prefix, id), *f;

	if (b->type == REDIS_REPLY_STRING)
		f = job_body_reply(b->str, b->len);
	else
		f = h_cmd(c, "HGETALL %s:job:%s", prefix, id);
	freeReplyObject(b);
	return (f);
}

/* A job field's value as h_job_str/h_job_int read it; NULL when absent. */
static const redisReply *
h_job_value(redisContext *c, redisReply **all, const char *fmt, va_list ap)
{
	char	 key[512], *id, *field;

	h_job_split(key, sizeof(key), fmt, ap, &id, &field);
	ck_assert_ptr_nonnull(field);
	*all = h_job_fields(c, key, id);
	return (job_reply_field(*all, field));
}

long long
h_job_int(redisContext *c, const char *fmt, ...)
{
	va_list			 ap;
	redisReply		*all;
	const redisReply	*v;
	long long		 n;

	va_start(ap, fmt);
	v = h_job_value(c, &all, fmt, ap);
	va_end(ap);
	n = v != NULL ? strtoll(v->str, NULL, 10) : -1;
	freeReplyObject(all);
	return (n);
}

const char *
h_job_str(redisContext *c, char *buf, size_t len, const char *fmt, ...)
{
	va_list			 ap;
	redisReply		*all;
	const redisReply	*v;

	va_start(ap, fmt);
	v = h_job_value(c, &all, fmt, ap);
	va_end(ap);
	snprintf(buf, len, "%.*s", v != NULL ? (int)v->len : 0,
	    v != NULL ? v->str : "");
	freeReplyObject(all);
	return (buf);
}

int
h_job_exists(redisContext *c, const char *fmt, ...)
{
	va_list		 ap;
	char		 key[512], *id, *field;

	va_start(ap, fmt);
	h_job_split(key, sizeof(key), fmt, ap, &id, &field);
	va_end(ap);
	return (h_cmd_int(c, "HEXISTS %s:jobs %s", key, id) == 1 ||
	    h_cmd_int(c, "EXISTS %s:job:%s", key, id) == 1);
}

void
h_job_set(redisContext *c, const char *fmt, ...)
{
	static const char lua[] =
	    "local b = redis.call('HGET', KEYS[1], ARGV[1]) "
	    "if not b then return redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end "
	    "local att, lease, rest = string.match(b, '^J1 (%d+) (%S+) (.*)$') "
	    "if ARGV[2] == 'lease' then lease = ARGV[3] "
	    "elseif ARGV[2] == 'attempts' then att = ARGV[3] "
	    "else rest = string.gsub(rest, '\\n' .. ARGV[2] .. '=[^\\n]*', '', 1) "
	    "rest = string.gsub(rest, '\\n', '\\n' .. ARGV[2] .. '=' .. ARGV[3] .. '\\n', 1) end "
	    "return redis.call('HSET', KEYS[1], ARGV[1], 'J1 ' .. att .. ' ' .. lease .. ' ' .. rest)";
	va_list		 ap;
	char		 key[512], *id, *field, *value, jobs[600], hash[600];

	va_start(ap, fmt);
	h_job_split(key, sizeof(key), fmt, ap, &id, &field);
	va_end(ap);
	ck_assert_ptr_nonnull(field);
	value = strchr(field, '=');
	ck_assert_msg(value != NULL, "h_job_set: FIELD=VALUE");
	*value++ = '\0';
	snprintf(jobs, sizeof(jobs), "%s:jobs", key);
	snprintf(hash, sizeof(hash), "%s:job:%s", key, id);
	freeReplyObject(h_cmd(c, "EVAL %s 2 %s %s %s %s %s", lua, jobs, hash,
	    id, field, value));
}

const char *
h_cmd_str(redisContext *c, char *buf, size_t len, const char *fmt, ...)
{
	va_list		 ap;
	redisReply	*rep;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(rep != NULL, "redis command '%s': %s", fmt, c->errstr);
	if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS ||
	    rep->type == REDIS_REPLY_ERROR)
		snprintf(buf, len, "%.*s", (int)rep->len, rep->str);
	else if (rep->type == REDIS_REPLY_INTEGER)
		snprintf(buf, len, "%lld", rep->integer);
	else
		buf[0] = '\0';
	freeReplyObject(rep);
	return (buf);
}

void
h_write_file(const char *dir, const char *name, const char *text, int mode)
{
	char	 path[600];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "create %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, (mode_t)mode), 0);
}

char *
h_read_file(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if (f == NULL)
		return (NULL);
	do {
		if (cap - len < 4096) {
			cap = cap * 2 + 8192;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return (buf);
}

int
h_count_lines(const char *path)
{
	char	*s = h_read_file(path);
	int	 n = 0;

	if (s == NULL)
		return (0);
	for (char *p = s; *p; p++)
		if (*p == '\n')
			n++;
	free(s);
	return (n);
}

const char *
h_bin(const char *name)
{
	static char	 path[4][600];
	static int	 next;
	const char	*build = getenv("DEFERD_BUILD");
	char		*p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", build ? build : "build", name);
	return (p);
}

void
h_daemon_start(struct h_daemon *d, const char *dir, const char *config_text)
{
	h_daemon_start_env(d, dir, config_text, NULL);
}

void
h_daemon_start_env(struct h_daemon *d, const char *dir, const char *config_text,
    const char *const *env)
{
	const char	*argv[4];

	memset(d, 0, sizeof(*d));
	snprintf(d->config, sizeof(d->config), "%s/deferd-%d.yaml", dir,
	    (int)(h_mono_ms() % 100000));
	snprintf(d->log, sizeof(d->log), "%s.log", d->config);
	{
		FILE *f = fopen(d->config, "w");

		ck_assert_ptr_nonnull(f);
		fputs(config_text, f);
		fclose(f);
	}
	argv[0] = h_bin("deferd");
	argv[1] = "-c";
	argv[2] = d->config;
	argv[3] = NULL;
	d->pid = h_spawn_env(argv, d->log, env);
}

int
h_daemon_wait_exit(struct h_daemon *d, int64_t ms)
{
	int	status = -1;

	if (!H_WAIT_UNTIL(waitpid(d->pid, &status, WNOHANG) == d->pid, ms))
		return (-1);
	d->pid = 0;
	return (status);
}

int
h_daemon_signal(struct h_daemon *d, int sig, bool wait)
{
	int	status = -1;

	if (d->pid <= 0)
		return (-1);
	kill(d->pid, sig);
	if (wait) {
		waitpid(d->pid, &status, 0);
		d->pid = 0;
	}
	return (status);
}

bool
h_daemon_log_has(const struct h_daemon *d, const char *text, int64_t ms)
{
	return (H_WAIT_UNTIL(({
		char *s = h_read_file(d->log);
		bool found = s != NULL && strstr(s, text) != NULL;
		free(s);
		found;
	}), ms));
}

void
h_daemon_print_warnings(const struct h_daemon *d)
{
	char	*log = h_read_file(d->log), *p, *line;
	int	 n = 0;

	for (p = log; p != NULL && n < 40 &&
	    (line = strsep(&p, "\n")) != NULL;)
		if (strstr(line, " warning: ") != NULL ||
		    strstr(line, " error: ") != NULL) {
			fprintf(stderr, "deferd: %s\n", line);
			n++;
		}
	free(log);
}

void
h_daemon_stop(struct h_daemon *d)
{
	int	status;

	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
}

int
h_run(const char *const *argv, const char *stdin_text, char *out, size_t outlen)
{
	int	 in[2], outp[2], status;
	pid_t	 pid;
	size_t	 got = 0;
	ssize_t	 n;

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(outp), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(outp[1], 1);
		close(in[0]); close(in[1]); close(outp[0]); close(outp[1]);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(outp[1]);
	if (stdin_text != NULL) {
		signal(SIGPIPE, SIG_IGN);
		if (write(in[1], stdin_text, strlen(stdin_text)) < 0)
			fprintf(stderr, "harness: stdin write: %s\n", strerror(errno));
	}
	close(in[1]);
	while (outlen > 0 && (n = read(outp[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	if (outlen > 0)
		out[got] = '\0';
	close(outp[0]);
	waitpid(pid, &status, 0);
	return (status);
}

/* The enqueue script with mode "in" (ms from now) or "at" (ms since the epoch). */
static void
enqueue_mode(redisContext *c, const char *id, const char *handler,
    const void *payload, size_t len, const char *mode, int64_t ms)
{
	char		*jkey = keys_job("deferd", "default", id);
	char		 delay[32];
	const char	*argv[] = { jkey, "deferd:{default}:delayed", id, handler,
			    payload, mode, delay, "", "", "",
			    "deferd:{default}:wake", "deferd:events" };
	size_t		 lens[12];
	redisReply	*rep;

	snprintf(delay, sizeof(delay), "%" PRId64, ms);
	for (int i = 0; i < 12; i++)
		lens[i] = i == 4 ? len : strlen(argv[i]);
	rep = rclient_script(c, SCRIPT_ENQUEUE, 2, 12, argv, lens);
	ck_assert_msg(rep != NULL && rep->type == REDIS_REPLY_ARRAY,
	    "enqueue failed: %s", rep && rep->type == REDIS_REPLY_ERROR ?
	    rep->str : c->errstr);
	freeReplyObject(rep);
	free(jkey);
}

void
h_enqueue(redisContext *c, const char *id, const char *handler,
    const void *payload, size_t len, int64_t delay_ms)
{
	enqueue_mode(c, id, handler, payload, len, "in", delay_ms);
}

void
h_enqueue_at(redisContext *c, const char *id, const char *handler,
    const void *payload, size_t len, int64_t due_ms)
{
	enqueue_mode(c, id, handler, payload, len, "at", due_ms);
}

void
h_enqueue_with(redisContext *c, const char *id, const char *handler,
    const char *resource, int max_attempts, int64_t delay_ms)
{
	char		*jkey = keys_job("deferd", "default", id);
	char		 delay[32], maxa[16];
	const char	*argv[] = { jkey, "deferd:{default}:delayed", id, handler,
			    "", "in", delay, maxa, resource, "",
			    "deferd:{default}:wake", "deferd:events" };
	redisReply	*rep;

	snprintf(delay, sizeof(delay), "%" PRId64, delay_ms);
	if (max_attempts > 0)
		snprintf(maxa, sizeof(maxa), "%d", max_attempts);
	else
		maxa[0] = '\0';
	rep = rclient_script(c, SCRIPT_ENQUEUE, 2, 12, argv, NULL);
	ck_assert_msg(rep != NULL && rep->type == REDIS_REPLY_ARRAY,
	    "enqueue failed: %s", rep && rep->type == REDIS_REPLY_ERROR ?
	    rep->str : c->errstr);
	freeReplyObject(rep);
	free(jkey);
}

int64_t
h_redis_now_ms(redisContext *c)
{
	redisReply	*r = h_cmd(c, "TIME");
	int64_t		 ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
			    strtoll(r->element[1]->str, NULL, 10) / 1000;

	freeReplyObject(r);
	return (ms);
}

/*
 * A small JSON checker (shared by the deferctl and metrics tests): js_value
 * returns the end of the value at p, or NULL if there is none. Enough to
 * prove that --json output and events parse.
 */
static const char	*js_value(const char *);

/* Skip JSON whitespace. */
static const char *
js_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return (p);
}

/* End of the JSON string at p, or NULL. */
static const char *
js_string(const char *p)
{
	if (*p++ != '"')
		return (NULL);
	for (; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return (NULL);
		if (*p != '\\')
			continue;
		p++;
		if (*p == 'u') {
			for (int i = 1; i <= 4; i++)
				if (strchr("0123456789abcdefABCDEF", p[i]) == NULL ||
				    p[i] == '\0')
					return (NULL);
			p += 4;
		} else if (*p == '\0' || strchr("\"\\/bfnrt", *p) == NULL)
			return (NULL);
	}
	return (p + 1);
}

/* End of the object (keyed) or array at p, closed by close, or NULL. */
static const char *
js_list(const char *p, char close, bool keyed)
{
	p = js_ws(p + 1);
	if (*p == close)
		return (p + 1);
	for (;;) {
		if (keyed) {
			if ((p = js_string(js_ws(p))) == NULL)
				return (NULL);
			if (*(p = js_ws(p)) != ':')
				return (NULL);
			p++;
		}
		if ((p = js_value(p)) == NULL)
			return (NULL);
		p = js_ws(p);
		if (*p == close)
			return (p + 1);
		if (*p++ != ',')
			return (NULL);
	}
}

/* End of the JSON value at p, or NULL. */
static const char *
js_value(const char *p)
{
	p = js_ws(p);
	if (*p == '{')
		return (js_list(p, '}', true));
	if (*p == '[')
		return (js_list(p, ']', false));
	if (*p == '"')
		return (js_string(p));
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
		return (p + 4);
	if (strncmp(p, "false", 5) == 0)
		return (p + 5);
	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return (NULL);
	while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
	    *p == '+' || *p == '-')
		p++;
	return (p);
}

/* Whether s is exactly one JSON value (whitespace around it allowed). */
bool
h_json_ok(const char *s)
{
	const char	*end = js_value(s);

	return (end != NULL && *js_ws(end) == '\0');
}

void
h_world_setup(struct h_world *w, const char *const *redis_extra)
{
	signal(SIGPIPE, SIG_IGN);	/* a connection the server closed */
	h_redis_start(&w->r, redis_extra);
	w->c = h_redis_connect(&w->r);
	h_tmpdir(w->hdir, sizeof(w->hdir));
	h_tmpdir(w->out, sizeof(w->out));
	h_tmpdir(w->work, sizeof(w->work));
	chmod(w->out, 0777);
}

void
h_world_teardown(struct h_world *w)
{
	char	cmd[1024];

	if (w->c != NULL)
		redisFree(w->c);
	w->c = NULL;
	h_redis_stop(&w->r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s'", w->hdir, w->out,
	    w->work);
	if (system(cmd) != 0)
		fprintf(stderr, "harness: could not remove test directories\n");
}

const char *
h_world_out(const struct h_world *w, const char *name)
{
	static char	 path[2][600];
	static int	 n;
	char		*p = path[n++ % 2];

	snprintf(p, sizeof(path[0]), "%s/%s", w->out, name);
	return (p);
}

const char *
h_world_subdir(const struct h_world *w, const char *name)
{
	static char	 path[2][600];
	static int	 n;
	char		*p = path[n++ % 2];

	snprintf(p, sizeof(path[0]), "%s/%s", w->work, name);
	ck_assert_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", p,
	    strerror(errno));
	return (p);
}

int
h_main(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed ? EXIT_FAILURE : EXIT_SUCCESS);
}

long long
h_zcard(redisContext *c, const char *which)
{
	return (h_cmd_int(c, "ZCARD deferd:{default}:%s", which));
}

int
h_log_count(const struct h_daemon *d, const char *text)
{
	char	*s = h_read_file(d->log);
	int	 n = 0;

	for (char *p = s; p != NULL && (p = strstr(p, text)) != NULL; p++)
		n++;
	free(s);
	return (n);
}

bool
h_pid_gone(pid_t pid)
{
	char	path[64], *stat, *p;
	bool	gone;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((stat = h_read_file(path)) == NULL)
		return (true);
	p = strrchr(stat, ')');
	gone = p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	free(stat);
	return (gone);
}

/*
 * A free TCP port on 127.0.0.1. Ports come from a range of their own, below
 * the kernel's ephemeral ports (where bind to port 0 and every outgoing
 * connection take theirs), so that no connection and no other test binary
 * takes one between this check and the server's bind: tools/run-tests.sh
 * gives each binary it runs at once its own range in DEFERD_TEST_PORTS
 * ("FIRST-LAST"); without it, a range is picked from the process ID. Each
 * call hands out the next port of the range that binds now, without
 * SO_REUSEADDR, so that a port an earlier test left in TIME_WAIT is
 * passed over (a test may bind the port as plainly).
 */
int
h_free_port(void)
{
	static int		 next, last;
	struct sockaddr_in	 sa;
	const char		*env = getenv("DEFERD_TEST_PORTS");
	int			 fd, ok;

	if (next == 0) {
		if (env == NULL || sscanf(env, "%d-%d", &next, &last) != 2 ||
		    next < 1024 || last > 65535 || next > last) {
			next = H_PORTS_LOW + (int)(getpid() % 64) * H_PORTS_SPAN;
			last = next + H_PORTS_SPAN - 1;
		}
	}
	for (; next <= last; next++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(fd, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = htons((uint16_t)next);
		ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return (next++);
	}
	ck_abort_msg("no free TCP port left in the test range (DEFERD_TEST_PORTS=%s)",
	    env != NULL ? env : "unset");
	return (-1);
}

/* A connected socket to 127.0.0.1:port, or -1. */
int
h_tcp_connect(int port)
{
	struct sockaddr_in	sa;
	struct timeval		tv = { 5, 0 };
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * One HTTP/1.0 request; returns the status code (-1 if no answer) and the
 * body in a new string (*body, may be NULL).
 */
int
h_http_raw(int port, const char *request, char **head, char **body)
{
	char	*buf = NULL, *b;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd, code = -1;

	if (head != NULL)
		*head = NULL;
	if (body != NULL)
		*body = NULL;
	if ((fd = h_tcp_connect(port)) == -1)
		return (-1);
	if (write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
		close(fd);
		return (-1);
	}
	do {
		if (cap - len < 4096) {
			cap = cap * 2 + 65536;
			buf = realloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n > 0)
			len += (size_t)n;
	} while (n > 0);
	close(fd);
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
		code = -1;
	if ((b = strstr(buf, "\r\n\r\n")) != NULL) {
		if (body != NULL)
			*body = strdup(b + 4);
		b[2] = '\0';
	}
	if (head != NULL)
		*head = strdup(buf);
	free(buf);
	return (code);
}

int
h_http(int port, const char *method, const char *path, char **body)
{
	char	 req[512];

	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\n\r\n", method, path);
	return (h_http_raw(port, req, NULL, body));
}

int
h_count_lines_equal(const char *path, const char *line)
{
	char	*buf, *p, *l;
	int	 n = 0;

	if ((buf = h_read_file(path)) == NULL)
		return (0);
	for (p = buf; (l = strsep(&p, "\n")) != NULL;)
		n += strcmp(l, line) == 0;
	free(buf);
	return (n);
}
