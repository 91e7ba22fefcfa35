/* SPDX-License-Identifier: MIT */
/*
 * Test harness: a throwaway redis-server on a unix socket in a private temp
 * directory (no persistence), deferd instances started from a config text,
 * handler directories built from script text, and polling with a deadline.
 * Every function fails the current Check test on error.
 */
#ifndef DEFERD_HARNESS_H
#define DEFERD_HARNESS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include <check.h>
#include <hiredis/hiredis.h>

/* Sanitizer builds run several times slower: timing bounds scale by this. */
#ifdef __SANITIZE_ADDRESS__
#define SLOW	5
#else
#define SLOW	1
#endif

struct h_redis {
	pid_t	 pid;
	char	 dir[256];	/* temp dir holding the socket and log */
	char	 sock[300];	/* unix socket path */
	char	 url[320];	/* unix://SOCK */
	const char *const *extra; /* extra args, reused by h_redis_restart */
};

struct h_daemon {
	pid_t	 pid;
	char	 config[300];	/* config file path */
	char	 log[320];	/* stderr of deferd */
};

/*
 * The world of an end-to-end test: a private Redis, a client connection to
 * it, and three fresh directories: handlers (hdir), what handlers record
 * (out, world-writable) and config files and logs (work).
 */
struct h_world {
	struct h_redis	 r;
	redisContext	*c;
	char		 hdir[256];
	char		 out[256];
	char		 work[256];
};

/* Start Redis (with extra args, may be NULL) and make the directories. */
void		 h_world_setup(struct h_world *w, const char *const *redis_extra);
/* Close the client, stop Redis, remove the directories. */
void		 h_world_teardown(struct h_world *w);
/* Path of name in w->out (a static buffer; two may be used at once). */
const char	*h_world_out(const struct h_world *w, const char *name);
/*
 * A subdirectory name of w->work, made if missing (one per daemon, so
 * their logs never mix); a static buffer, two may be used at once.
 */
const char	*h_world_subdir(const struct h_world *w, const char *name);
/* Run suite s with Check's usual settings; the exit status for main(). */
int		 h_main(Suite *s);

/* A fresh temp directory (mkdtemp) under $TMPDIR; path copied to out. */
void		 h_tmpdir(char *out, size_t len);
/* Start redis-server with extra "--key value" args (NULL-terminated list). */
void		 h_redis_start(struct h_redis *r, const char *const *extra);
/* Stop (SIGTERM, then SIGKILL after 5 s) and remove its directory. */
void		 h_redis_stop(struct h_redis *r);
/*
 * Start a Redis Sentinel on 127.0.0.1:port (config and log in dir) that
 * monitors master name at 127.0.0.1:master_port: quorum 2, down after 1 s.
 * Returns its pid once it answers PING.
 */
pid_t		 h_sentinel_start(const char *dir, int port, const char *name,
		    int master_port);
/*
 * A Redis Cluster of n masters (at most H_CLUSTER_MAX) on loopback ports,
 * each with a unix socket too (nodes[i].sock), the slots spread by
 * redis-cli --cluster create; returns once every node says
 * cluster_state:ok.
 */
#define H_CLUSTER_MAX	6
struct h_cluster {
	int		 n;
	struct h_redis	 nodes[H_CLUSTER_MAX];
	char		 port[H_CLUSTER_MAX][16];
	char		 bus_port[H_CLUSTER_MAX][16];
	const char	*args[H_CLUSTER_MAX][14];
};
void		 h_cluster_start(struct h_cluster *c, int n);
/*
 * The same with replicas replicas of each master (masters * (1 + replicas)
 * nodes; which node is a master is for CLUSTER NODES to say); returns once
 * every replica's link is up too.
 */
void		 h_cluster_start_replicas(struct h_cluster *c, int masters,
		    int replicas);
void		 h_cluster_stop(struct h_cluster *c);
/* Stop a process the test started (SIGTERM, SIGKILL after 5 s) and reap it. */
void		 h_pid_stop(pid_t pid);
/* Restart on the same socket with the same args (data survives only with --appendonly yes). */
void		 h_redis_restart(struct h_redis *r);
/* A new synchronous connection; fails the test if it cannot connect. */
redisContext	*h_redis_connect(const struct h_redis *r);
/* Run a command (printf-style, hiredis format); fails the test on I/O error. */
redisReply	*h_cmd(redisContext *c, const char *fmt, ...);
/* Integer result of a command (INTEGER reply, or a numeric string; NIL = -1). */
long long	 h_cmd_int(redisContext *c, const char *fmt, ...);
/* String result, copied into buf ("" for NIL). */
const char	*h_cmd_str(redisContext *c, char *buf, size_t len, const char *fmt, ...);
/*
 * A job's field, whatever form the job has (packed in NS:{Q}:jobs, or the
 * hash NS:{Q}:job:ID): fmt formats "NS:{Q}:job:ID FIELD", as an HGET's
 * arguments would be. h_job_int: the value as a number, -1 when absent;
 * h_job_str: into buf, "" when absent.
 */
long long	 h_job_int(redisContext *c, const char *fmt, ...);
const char	*h_job_str(redisContext *c, char *buf, size_t len, const char *fmt, ...);
/*
 * The fields of job id of queue prefix ("NS:{Q}", no colon after it),
 * packed or a hash, as an HGETALL reply (empty when there is no job); the
 * caller frees it.
 */
redisReply	*h_job_fields(redisContext *c, const char *prefix, const char *id);
/*
 * In claim reply rep, replace the entry {"runs", id, token, body, ...}
 * with one {"run", id, token, body} per job, in their order, so that a
 * test finds each job in an entry of its own (the strings move; rep stays
 * the caller's to free). Any other reply is left alone.
 */
void		 h_claim_expand(redisReply *rep);
/* Whether the job fmt formats ("NS:{Q}:job:ID") exists in either form. */
int		 h_job_exists(redisContext *c, const char *fmt, ...);
/*
 * Set a field of a job in its form: fmt formats "NS:{Q}:job:ID FIELD=VALUE"
 * (a packed job's lease and attempts are in its head line; a value with
 * no "%" or newline).
 */
void		 h_job_set(redisContext *c, const char *fmt, ...);


/*
 * Enqueue a job into queue "default" of namespace "deferd" through the
 * enqueue script (as deferctl does, with the "enqueued" event on
 * deferd:events), due delay_ms from Redis's now.
 */
void		 h_enqueue(redisContext *c, const char *id, const char *handler,
		    const void *payload, size_t len, int64_t delay_ms);
/* The same, due at due_ms (ms since the epoch; may be past). */
void		 h_enqueue_at(redisContext *c, const char *id, const char *handler,
		    const void *payload, size_t len, int64_t due_ms);
/*
 * The same with a resource (lock name, "" for none) and max_attempts (0 for
 * the config's), payload empty.
 */
void		 h_enqueue_with(redisContext *c, const char *id, const char *handler,
		    const char *resource, int max_attempts, int64_t delay_ms);
/* ZCARD of deferd:{default}:WHICH ("delayed", "active", "dead"). */
long long	 h_zcard(redisContext *c, const char *which);
/* How many times text occurs in a daemon's log. */
int		 h_log_count(const struct h_daemon *d, const char *text);
/* Whether pid is gone or a zombie (orphans may wait for a busy init). */
bool		 h_pid_gone(pid_t pid);
/* Redis's clock (TIME) in ms since the epoch. */
int64_t		 h_redis_now_ms(redisContext *c);

/* Create DIR/name with the given text and mode (e.g. 0755). */
void		 h_write_file(const char *dir, const char *name, const char *text, int mode);
/* Read a whole file into a new string (caller frees); NULL if missing. */
char		*h_read_file(const char *path);
/* How many lines of the file at path are exactly line (0 if missing). */
int		 h_count_lines_equal(const char *path, const char *line);
/* Number of lines in a file (0 if missing). */
int		 h_count_lines(const char *path);

/* Path of a built program ("deferd", "deferctl") from $DEFERD_BUILD. */
const char	*h_bin(const char *name);
/*
 * Start deferd with config text written to DIR/deferd.yaml (DIR a fresh temp
 * dir unless the config names one). stderr goes to d->log.
 */
void		 h_daemon_start(struct h_daemon *d, const char *dir, const char *config_text);
/*
 * The same with env ("NAME=VALUE", NULL-terminated) added to deferd's
 * environment; a VALUE of "%pid" becomes deferd's own pid.
 */
void		 h_daemon_start_env(struct h_daemon *d, const char *dir,
		    const char *config_text, const char *const *env);
/* Send sig; with wait, reap and return the exit status (waitpid form). */
int		 h_daemon_signal(struct h_daemon *d, int sig, bool wait);
/* Wait up to ms for the daemon to exit: its waitpid status (d->pid is then
 * 0), or -1 if it is still running. */
int		 h_daemon_wait_exit(struct h_daemon *d, int64_t ms);
/* Print the daemon's warning and error lines to stderr (at most 40). */
void		 h_daemon_print_warnings(const struct h_daemon *d);
/* Wait for the log to contain text (deadline in ms); true if it did. */
bool		 h_daemon_log_has(const struct h_daemon *d, const char *text, int64_t ms);
/* SIGKILL if still running, and reap. */
void		 h_daemon_stop(struct h_daemon *d);

/*
 * Run argv (argv[0] a path), feed stdin_text (may be NULL), capture stdout
 * into out (size outlen) and return the exit status (waitpid form).
 */
int		 h_run(const char *const *argv, const char *stdin_text, char *out, size_t outlen);

/* Whether s is exactly one JSON value (a small checker, not a full parser). */
bool		 h_json_ok(const char *s);

/*
 * A free TCP port on 127.0.0.1, from this binary's own range (see
 * harness.c): DEFERD_TEST_PORTS, or one of 64 ranges of H_PORTS_SPAN from
 * H_PORTS_LOW, below the ephemeral ports.
 */
#define H_PORTS_LOW	10000
#define H_PORTS_SPAN	300
int		 h_free_port(void);
/* A connected socket to 127.0.0.1:port (5 s receive timeout), or -1. */
int		 h_tcp_connect(int port);
/*
 * One HTTP/1.0 request to 127.0.0.1:port: the status code (-1 without an
 * answer) and the body in a new string in *body (may be NULL).
 */
int		 h_http(int port, const char *method, const char *path, char **body);
/*
 * Send request (the whole text: line, headers, blank line, body) to
 * 127.0.0.1:port: the status code (-1 without an answer), the head (status
 * line and headers, each ending in CRLF) and the body in new strings in
 * *head and *body (either may be NULL).
 */
int		 h_http_raw(int port, const char *request, char **head, char **body);

/* Current CLOCK_MONOTONIC / CLOCK_REALTIME in ms. */
int64_t		 h_mono_ms(void);
int64_t		 h_real_ms(void);
/* Sleep a few ms between polls (only inside wait loops). */
void		 h_nap(void);

/* Poll cond until true or ms pass; evaluates to whether it became true. */
#define H_WAIT_UNTIL(cond, ms) __extension__ ({				\
	int64_t _deadline = h_mono_ms() + (ms);				\
	bool _ok;							\
	while (!(_ok = (cond)) && h_mono_ms() < _deadline)		\
		h_nap();						\
	_ok;								\
})

#endif
