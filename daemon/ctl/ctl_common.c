/* SPDX-License-Identifier: MIT */
/*
 * deferctl plumbing shared by every command: the options all commands take,
 * loading the config and connecting, Redis calls that report their own
 * errors on stderr, and small output helpers. Commands decide what to print;
 * this file never writes to stdout except through the JSON helpers.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ctl.h"
#include "json.h"
#include "keys.h"
#include "keyslot.h"
#include "log.h"
#include "rclient.h"
#include "cluster_lookup.h"
#include "sentinel_lookup.h"
#include "util.h"

/* Report a usage error on stderr and return CTL_USAGE. */
int
ctl_usage(const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_errorx("%s (see 'deferctl help')", msg);
	return (CTL_USAGE);
}

/*
 * Handle an option every command accepts. Returns CTL_OK if ch was one,
 * CTL_USAGE after reporting a bad one, or -1 if ch is the command's own.
 */
int
ctl_common_option(struct ctl *ctl, int ch, char **argv)
{
	switch (ch) {
	case 'c':
		ctl->config_path = optarg;
		return (CTL_OK);
	case 'h':
		ctl_help(CTL_OK);
	case CTL_OPT_JSON:
		ctl->json = true;
		return (CTL_OK);
	case CTL_OPT_QUEUE:
		if (!util_valid_queue_name(optarg))
			return (ctl_usage("invalid queue name '%s'", optarg));
		ctl->queue = optarg;
		return (CTL_OK);
	case ':':
		return (ctl_usage("option '%s' needs an argument", argv[optind - 1]));
	case '?':
		if (optopt != 0)
			return (ctl_usage("unknown option '-%c'", optopt));
		return (ctl_usage("unknown option '%s'", argv[optind - 1]));
	}
	return (-1);
}

/*
 * Run getopt_long over a command's argv with longopts (which start with
 * CTL_COMMON_LONGOPTS). Common options are handled here, the others by
 * own(arg, ch, optarg); own may be NULL when there are none. On CTL_OK,
 * optind is the index of the first operand.
 */
int
ctl_getopt(struct ctl *ctl, int argc, char **argv,
    const struct option *longopts, ctl_option_fn own, void *arg)
{
	int	ch, r;

	while ((ch = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if ((r = ctl_common_option(ctl, ch, argv)) == -1)
			r = own != NULL ? own(arg, ch, optarg) :
			    ctl_usage("unexpected option");
		if (r != CTL_OK)
			return (r);
	}
	return (CTL_OK);
}

/* Parse a decimal count in [1, max] for option what; CTL_USAGE if it is not one. */
int
ctl_check_lookup_id(const char *id)
{
	size_t	len = strlen(id);

	if (len == 0 || len > 1024)
		return (ctl_usage("invalid job ID '%s': 1-1024 bytes", id));
	return (CTL_OK);
}

int
ctl_parse_count(const char *what, const char *s, long long max, long long *out)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < 1 ||
	    v > max)
		return (ctl_usage("%s must be a whole number from 1 to %lld, not "
		    "'%s'", what, max, s));
	*out = v;
	return (CTL_OK);
}

/*
 * Connect to the Redis of cfg: redis.url's server, the master that
 * redis.sentinel's sentinels name, or the redis.cluster master that holds
 * key (NULL: any node). NULL with a message in err.
 */
redisContext *
ctl_connect(const struct config *cfg, const char *key, int64_t timeout_ms,
    char *err, size_t errlen)
{
	redisContext	*c;
	char		 why[1024];

	if (cfg->redis.cluster.nodes.n > 0) {
		c = cluster_connect(cfg->redis.cluster.nodes.v,
		    cfg->redis.cluster.nodes.n, key, timeout_ms, why, sizeof(why));
		if (c == NULL)
			snprintf(err, errlen, "redis.cluster: %s", why);
		return (c);
	}
	if (cfg->redis.sentinel.master == NULL)
		return (rclient_connect(&cfg->redis.target, timeout_ms, err, errlen));
	c = sentinel_connect(cfg->redis.sentinel.master, cfg->redis.sentinel.nodes.v,
	    cfg->redis.sentinel.nodes.n, &cfg->redis.target, timeout_ms, why,
	    sizeof(why));
	if (c == NULL)
		snprintf(err, errlen, "redis.sentinel: cannot reach master '%s': %s",
		    cfg->redis.sentinel.master, why);
	return (c);
}

/* How long a connect or a command may take: the longer of the two timeouts. */
static int64_t
ctl_timeout(const struct config *cfg)
{
	int64_t	timeout = cfg->redis.command_timeout_ms;

	if (cfg->redis.connect_timeout_ms > timeout)
		timeout = cfg->redis.connect_timeout_ms;
	return (timeout);
}

/* Load the config and connect to Redis; reports and returns -1 on failure. */
int
ctl_open(struct ctl *ctl)
{
	char		 err[1024];
	const char	*path = config_default_path(ctl->config_path);
	char		*key;

	ctl->cfg = config_load(path, err, sizeof(err));
	if (ctl->cfg == NULL) {
		log_errorx("%s", err);
		return (-1);
	}
	key = keys_prefix(ctl_ns(ctl), ctl_queue(ctl));	/* the queue's slot */
	ctl->rc = ctl_connect(ctl->cfg, key, ctl_timeout(ctl->cfg), err,
	    sizeof(err));
	ctl->slot = (int)keyslot(key, strlen(key));
	free(key);
	if (ctl->rc == NULL) {
		log_errorx("%s", err);
		return (-1);
	}
	return (0);
}

int
ctl_use(struct ctl *ctl, const char *key)
{
	char		 err[1024];
	int		 slot = (int)keyslot(key, strlen(key));
	redisContext	*c;

	if (ctl->cfg->redis.cluster.nodes.n == 0 || slot == ctl->slot)
		return (0);
	c = ctl_connect(ctl->cfg, key, ctl_timeout(ctl->cfg), err, sizeof(err));
	if (c == NULL) {
		log_errorx("%s", err);
		return (-1);
	}
	if (ctl->rc != NULL)
		redisFree(ctl->rc);
	ctl->rc = c;
	ctl->slot = slot;
	return (0);
}

/*
 * With redis.wait_replicas: WAIT until that many replicas have every
 * write of this connection. CTL_OK, or CTL_FAIL after saying that what
 * (e.g. "the job") may be lost in a failover.
 */
int
ctl_wait_replicas(struct ctl *ctl, const char *what)
{
	int		 want = ctl->cfg->redis.wait_replicas;
	redisReply	*r;
	long long	 got;

	if (want <= 0)
		return (CTL_OK);
	r = redisCommand(ctl->rc, "WAIT %d %lld", want,
	    (long long)ctl->cfg->redis.wait_timeout_ms);
	if (r == NULL) {
		log_errorx("WAIT: %s; %s may be lost in a failover", ctl->rc->errstr,
		    what);
		return (CTL_FAIL);
	}
	got = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	if (got < want)
		log_errorx("%s reached %lld of %d replica(s) within %lldms "
		    "(redis.wait_replicas): it is on the master but may be lost in "
		    "a failover%s%s", what, got < 0 ? 0 : got, want,
		    (long long)ctl->cfg->redis.wait_timeout_ms,
		    r->type == REDIS_REPLY_ERROR ? "; WAIT: " : "",
		    r->type == REDIS_REPLY_ERROR ? r->str : "");
	freeReplyObject(r);
	return (got < want ? CTL_FAIL : CTL_OK);
}

/* Sleep ms (deferctl is a command-line tool: it may block). */
void
ctl_sleep_ms(int64_t ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Close the connection and free the config; safe to call twice. */
void
ctl_close(struct ctl *ctl)
{
	if (ctl->rc != NULL)
		redisFree(ctl->rc);
	ctl->rc = NULL;
	config_free(ctl->cfg);
	ctl->cfg = NULL;
}

/* The queue this run works on: --queue, else the config's first queue. */
const char *
ctl_queue(const struct ctl *ctl)
{
	if (ctl->queue != NULL)
		return (ctl->queue);
	if (ctl->cfg != NULL && ctl->cfg->nqueues > 0)
		return (ctl->cfg->queues[0]);
	return ("default");
}

bool
ctl_tagged(const struct ctl *ctl)
{
	return (ctl->cfg->redis.cluster.nodes.n > 0);
}

/* The key namespace of the config. */
const char *
ctl_ns(const struct ctl *ctl)
{
	return (ctl->cfg->namespace);
}

/*
 * Check a reply: NULL (I/O error) and error replies are reported with what
 * and freed. Returns the reply, or NULL after reporting.
 */
static redisReply *
ctl_checked(struct ctl *ctl, redisReply *r, const char *what)
{
	if (r == NULL) {
		log_errorx("redis: %s: %s", what, ctl->rc->errstr[0] != '\0' ?
		    ctl->rc->errstr : "connection lost");
		return (NULL);
	}
	if (r->type == REDIS_REPLY_ERROR) {
		log_errorx("redis: %s: %s", what, r->str);
		freeReplyObject(r);
		return (NULL);
	}
	return (r);
}

/* Run a command (hiredis format); NULL after reporting an error. */
redisReply *
ctl_cmd(struct ctl *ctl, const char *fmt, ...)
{
	va_list		 ap;
	redisReply	*r;
	char		 what[32];

	va_start(ap, fmt);
	r = redisvCommand(ctl->rc, fmt, ap);
	va_end(ap);
	snprintf(what, sizeof(what), "%.*s", (int)strcspn(fmt, " "), fmt);
	return (ctl_checked(ctl, r, what));
}

/* Run a typed store call (rclient_script) and free it; NULL after reporting. */
redisReply *
ctl_store(struct ctl *ctl, struct store_call *c)
{
	redisReply	*r;
	char		 what[64];

	r = rclient_script(ctl->rc, c->script, c->nkeys, c->argc, c->argv,
	    c->lens);
	snprintf(what, sizeof(what), "script %s", scripts_get(c->script)->name);
	store_call_free(c);
	return (ctl_checked(ctl, r, what));
}

/* Read the next pipelined reply; NULL after reporting an error. */
redisReply *
ctl_get_reply(struct ctl *ctl)
{
	void	*r = NULL;

	if (redisGetReply(ctl->rc, &r) != REDIS_OK)
		r = NULL;
	return (ctl_checked(ctl, r, "pipelined reply"));
}

/* The Redis server's clock (TIME) in ms since the epoch; -1 after reporting. */
int
ctl_redis_time(struct ctl *ctl, int64_t *ms)
{
	redisReply	*r = ctl_cmd(ctl, "TIME");

	if (r == NULL)
		return (-1);
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		log_errorx("redis: TIME: unexpected reply");
		freeReplyObject(r);
		return (-1);
	}
	*ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
	    strtoll(r->element[1]->str, NULL, 10) / 1000;
	freeReplyObject(r);
	return (0);
}

/* A time in ms from an integer reply or a zset score string; -1 if neither. */
int64_t
ctl_reply_ms(const redisReply *r)
{
	if (r == NULL)
		return (-1);
	if (r->type == REDIS_REPLY_INTEGER)
		return ((int64_t)r->integer);
	if (r->type == REDIS_REPLY_STRING)
		return ((int64_t)strtod(r->str, NULL));
	return (-1);
}

/* Write a NUL-terminated string to stdout as a JSON string literal. */
void
ctl_json_str(const char *s)
{
	json_write_string(stdout, s, strlen(s));
}

/* Write len bytes to stdout as a JSON string literal. */
void
ctl_json_bytes(const char *s, size_t len)
{
	json_write_string(stdout, s, len);
}

/* Flush stdout; a failed write turns success into CTL_FAIL. */
int
ctl_finish(int status)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_errorx("stdout: %s", strerror(errno));
		return (status == CTL_OK ? CTL_FAIL : status);
	}
	return (status);
}
