/* SPDX-License-Identifier: MIT */
/*
 * deferctl internals shared by daemon/deferctl.c and the command files
 * daemon/ctl_*.c: the per-run state, option handling every command shares,
 * Redis helpers that report their own errors, and time formats.
 */
#ifndef DEFERD_CTL_H
#define DEFERD_CTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "scripts.h"
#include "store.h"

/* Exit statuses (deferd(8)). */
#define CTL_OK		0
#define CTL_FAIL	1
#define CTL_USAGE	2

/* getopt_long codes of long-only options; short options use their letter. */
enum ctl_opt {
	CTL_OPT_JSON = 0x100,
	CTL_OPT_QUEUE,
	CTL_OPT_IN,
	CTL_OPT_AT,
	CTL_OPT_ID,
	CTL_OPT_RESOURCE,
	CTL_OPT_MAX_ATTEMPTS,
	CTL_OPT_TIMEOUT,
	CTL_OPT_BATCH,
	CTL_OPT_LIMIT,
	CTL_OPT_ALL,
	CTL_OPT_CHECK,
	CTL_OPT_TZ,
	CTL_OPT_COUNT,
	CTL_OPT_FORCE,
	CTL_OPT_KILL,
};

/* The entries every command's long option table starts with. */
#define CTL_COMMON_LONGOPTS						\
	{ "json", no_argument, NULL, CTL_OPT_JSON },			\
	{ "help", no_argument, NULL, 'h' },				\
	{ "queue", required_argument, NULL, CTL_OPT_QUEUE }
/* The short options every command accepts (after "+" or before its own). */
#define CTL_COMMON_SHORTOPTS	":c:h"

/* One run of deferctl. */
struct ctl {
	const char	*config_path;	/* -c FILE, or NULL for the default */
	bool		 json;		/* --json: machine output on stdout */
	const char	*queue;		/* --queue, or NULL: the config's first queue */
	struct config	*cfg;		/* set by ctl_open */
	redisContext	*rc;		/* set by ctl_open, moved by ctl_use */
	int		 slot;		/* the slot rc was opened for (redis.cluster) */
};

/* A command's own option handler: returns CTL_OK or CTL_USAGE. */
typedef int	(*ctl_option_fn)(void *arg, int ch, const char *optarg);

/* A command: argv[0] is its name; returns an exit status. */
typedef int	(*ctl_command_fn)(struct ctl *, int argc, char **argv);

/* deferctl.c */
_Noreturn void	 ctl_help(int status);

/* ctl_common.c */
int		 ctl_usage(const char *, ...) __attribute__((format(printf, 1, 2)));
int		 ctl_common_option(struct ctl *, int ch, char **argv);
int		 ctl_getopt(struct ctl *, int argc, char **argv,
		    const struct option *longopts, ctl_option_fn, void *arg);
int		 ctl_parse_count(const char *what, const char *s, long long max,
		    long long *out);
/*
 * Whether id may name an existing job for show, cancel, retry and purge:
 * any 1-1024 bytes, looser than the ID rules of enqueue, so that a job a
 * producer gave a bad ID (buried for it at claim) can still be reached.
 * A usage error is reported when not.
 */
int		 ctl_check_lookup_id(const char *id);
int		 ctl_open(struct ctl *);
/*
 * With redis.cluster, make rc a connection to the master of key's slot
 * (for a command about another queue than ctl_queue's); without it there
 * is one server and nothing changes. -1 after reporting.
 */
int		 ctl_use(struct ctl *, const char *key);
int		 ctl_wait_replicas(struct ctl *, const char *what);
redisContext	*ctl_connect(const struct config *, const char *key,
		    int64_t timeout_ms, char *err, size_t errlen);
void		 ctl_close(struct ctl *);
void		 ctl_sleep_ms(int64_t ms);
const char	*ctl_queue(const struct ctl *);
const char	*ctl_ns(const struct ctl *);
/* Whether keys that are not a queue's carry a hash tag (redis.cluster). */
bool		 ctl_tagged(const struct ctl *);
redisReply	*ctl_cmd(struct ctl *, const char *fmt, ...);
/* Run a typed store call and free it; NULL after reporting an error. */
redisReply	*ctl_store(struct ctl *, struct store_call *);
redisReply	*ctl_get_reply(struct ctl *);
int		 ctl_redis_time(struct ctl *, int64_t *ms);
int64_t		 ctl_reply_ms(const redisReply *);
void		 ctl_json_str(const char *);
void		 ctl_json_bytes(const char *, size_t);
int		 ctl_finish(int status);

int		 ctl_parse_at(const char *, int64_t *ms);

/* ctl_enqueue.c */
int		 ctl_cmd_enqueue(struct ctl *, int, char **);

/* ctl_inspect.c */
int		 ctl_cmd_show(struct ctl *, int, char **);
int		 ctl_cmd_list(struct ctl *, int, char **);
int		 ctl_cmd_stats(struct ctl *, int, char **);

/* ctl_admin.c */
int		 ctl_cmd_cancel(struct ctl *, int, char **);
int		 ctl_cmd_retry(struct ctl *, int, char **);
int		 ctl_cmd_purge(struct ctl *, int, char **);

/* ctl_watch.c */
int		 ctl_cmd_watch(struct ctl *, int, char **);
/* The events channel ARGV of the scripts: "ns:events", or "" with events: false. */
const char	*ctl_events(struct ctl *);

/*
 * ctl_kill.c: ask the daemon running job id of queue to stop it (deferctl
 * cancel --kill) and wait until it has left the active set: 1 when it
 * has, 0 when it is still there after the wait, -1 after reporting.
 */
int		 ctl_kill_job(struct ctl *, const char *queue, const char *id);

/*
 * ctl_history.c: deferctl list done|failed (the newest limit records),
 * and a finished job's record (an HGET reply holding a string) in show.
 */
int		 ctl_history_list(struct ctl *, const char *which,
		    long long limit);
void		 ctl_history_show_text(const redisReply *rec);
void		 ctl_history_show_json(const redisReply *rec);
/* ctl_pause.c: deferctl pause Q, resume Q */
int		 ctl_cmd_pause(struct ctl *, int, char **);
int		 ctl_cmd_resume(struct ctl *, int, char **);

/* ctl_lock.c */
int		 ctl_cmd_lock(struct ctl *, int, char **);
/* deferctl schedules --check EXPR [--tz ZONE] [--count N] (ctl_schedules.c) */
int		 ctl_cmd_schedules(struct ctl *, int, char **);

#endif
