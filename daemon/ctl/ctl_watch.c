/* SPDX-License-Identifier: MIT */
/*
 * deferctl watch: follow the lifecycle events on ns:events (docs/keys.md).
 * SUBSCRIBE on the synchronous client, which then simply blocks in
 * redisGetReply until a message comes. One readable line per event, or the
 * event's JSON unchanged with --json; --queue and --handler filter. When
 * Redis goes away it says so once on stderr and reconnects with backoff.
 * SIGINT and SIGTERM end it with status 0: output is flushed after every
 * event, with the signals blocked while it is written, so the handler can
 * just _exit.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "rclient.h"
#include "util.h"
#include "xmalloc.h"

#define WATCH_BACKOFF_MIN_MS	100
#define WATCH_BACKOFF_MAX_MS	5000
#define WATCH_FIELD_MAX		2048

struct watch {
	struct ctl	*ctl;
	const char	*handler;	/* --handler, or NULL */
	char		*channel;
	sigset_t	 stop_sigs;
};

static int	watch_option(void *, int, const char *);
static void	watch_stop(int);
static int	watch_subscribe(struct watch *, bool quiet);
static void	watch_loop(struct watch *);
static bool	watch_wanted(const struct watch *, const char *, size_t);
static void	watch_print(const struct watch *, const char *, size_t);

/* The events channel ARGV of the scripts: "ns:events", or "" when off. */
const char *
ctl_events(struct ctl *ctl)
{
	static char	*chan;

	if (ctl->cfg == NULL || !ctl->cfg->events)
		return ("");
	if (chan == NULL)
		chan = keys_events(ctl_ns(ctl));
	return (chan);
}

/* watch's own option: --handler H. */
static int
watch_option(void *arg, int ch, const char *optarg_)
{
	struct watch	*w = arg;

	if (ch != 'H')
		return (ctl_usage("unexpected option"));
	w->handler = optarg_;
	return (CTL_OK);
}

/* SIGINT/SIGTERM: everything written is flushed already. */
static void
watch_stop(int sig)
{
	(void)sig;
	_exit(CTL_OK);
}

/* deferctl watch [--queue Q] [--handler H] [--json] */
int
ctl_cmd_watch(struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS,
		{ "handler", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	struct watch			w;
	struct sigaction		sa;
	int				status;

	memset(&w, 0, sizeof(w));
	w.ctl = ctl;
	if ((status = ctl_getopt(ctl, argc, argv, longopts, watch_option,
	    &w)) != CTL_OK)
		return (status);
	if (argc - optind != 0)
		return (ctl_usage("watch: unexpected argument '%s'", argv[optind]));
	if (ctl_open(ctl) == -1)
		return (CTL_FAIL);
	if (!ctl->cfg->events)
		log_warnx("events: false in %s: the daemons publish no events",
		    ctl->cfg->path);
	w.channel = keys_events(ctl_ns(ctl));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&w.stop_sigs);
	sigaddset(&w.stop_sigs, SIGINT);
	sigaddset(&w.stop_sigs, SIGTERM);
	if (watch_subscribe(&w, false) == -1) {
		free(w.channel);
		return (CTL_FAIL);
	}
	watch_loop(&w);
	free(w.channel);
	return (CTL_OK);
}

/*
 * SUBSCRIBE on ctl->rc (connecting first when it is NULL) and wait for the
 * confirmation; replies then block without a timeout. Returns 0, or -1
 * (reported unless quiet) with ctl->rc freed.
 */
static int
watch_subscribe(struct watch *w, bool quiet)
{
	struct ctl	*ctl = w->ctl;
	redisReply	*r = NULL;
	char		 err[512];
	struct timeval	 none = { 0, 0 };

	if (ctl->rc == NULL) {
		ctl->rc = ctl_connect(ctl->cfg, NULL,
		    ctl->cfg->redis.connect_timeout_ms, err, sizeof(err));
		if (ctl->rc == NULL) {
			if (!quiet)
				log_errorx("%s", err);
			return (-1);
		}
	}
	r = redisCommand(ctl->rc, "SUBSCRIBE %s", w->channel);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (!quiet)
			log_errorx("redis: SUBSCRIBE %s: %s", w->channel,
			    r != NULL && r->type == REDIS_REPLY_ERROR ? r->str :
			    ctl->rc->errstr[0] ? ctl->rc->errstr : "unexpected reply");
		if (r != NULL)
			freeReplyObject(r);
		redisFree(ctl->rc);
		ctl->rc = NULL;
		return (-1);
	}
	freeReplyObject(r);
	redisSetTimeout(ctl->rc, none);
	if (ctl->cfg->redis.target.unix_path == NULL)
		redisEnableKeepAlive(ctl->rc);
	return (0);
}

/* The connection failed: say so once, reconnect with backoff until it works. */
static void
watch_reconnect(struct watch *w)
{
	int64_t	backoff = WATCH_BACKOFF_MIN_MS, t0 = util_mono_ms();

	log_warnx("redis: %s; reconnecting", w->ctl->rc->errstr[0] ?
	    w->ctl->rc->errstr : "connection lost");
	redisFree(w->ctl->rc);
	w->ctl->rc = NULL;
	for (;;) {
		ctl_sleep_ms(backoff / 2 + util_random_below(backoff / 2 + 1));
		if (watch_subscribe(w, true) == 0)
			break;
		backoff = backoff * 2 > WATCH_BACKOFF_MAX_MS ?
		    WATCH_BACKOFF_MAX_MS : backoff * 2;
	}
	log_info("redis: watching %s again after %.1fs (events in between are "
	    "lost)", w->channel, (double)(util_mono_ms() - t0) / 1000);
}

/* Read messages forever. */
static void
watch_loop(struct watch *w)
{
	void		*v;
	redisReply	*r;
	sigset_t	 old;

	for (;;) {
		if (redisGetReply(w->ctl->rc, &v) != REDIS_OK || v == NULL) {
			watch_reconnect(w);
			continue;
		}
		r = v;
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[0]->str, "message") == 0 &&
		    r->element[2]->type == REDIS_REPLY_STRING &&
		    watch_wanted(w, r->element[2]->str, r->element[2]->len)) {
			sigprocmask(SIG_BLOCK, &w->stop_sigs, &old);
			watch_print(w, r->element[2]->str, r->element[2]->len);
			fflush(stdout);
			sigprocmask(SIG_SETMASK, &old, NULL);
		}
		freeReplyObject(r);
	}
}

/* Whether the event passes --queue and --handler. */
static bool
watch_wanted(const struct watch *w, const char *msg, size_t len)
{
	char	val[WATCH_FIELD_MAX];

	if (w->ctl->queue != NULL && (!json_get(msg, len, "queue", val,
	    sizeof(val)) || strcmp(val, w->ctl->queue) != 0))
		return (false);
	if (w->handler != NULL && (!json_get(msg, len, "handler", val,
	    sizeof(val)) || strcmp(val, w->handler) != 0))
		return (false);
	return (true);
}

/*
 * One line: time event queue id handler #attempt, then the other fields
 * as key=value (strings quoted and escaped). Text that is not an event
 * object is printed escaped as it is.
 */
static void
watch_print(const struct watch *w, const char *msg, size_t len)
{
	static const char	*fixed[] = { "event", "queue", "id", "handler",
				    "attempt", "ts_ms" };
	char			 k[128], v[WATCH_FIELD_MAX], esc[WATCH_FIELD_MAX * 4];
	char			 f[6][256], iso[40];
	struct json_iter	 it;
	bool			 str;
	size_t			 i;

	if (w->ctl->json) {
		fwrite(msg, 1, len, stdout);
		putchar('\n');
		return;
	}
	for (i = 0; i < 6; i++)
		if (!json_get(msg, len, fixed[i], f[i], sizeof(f[i])))
			snprintf(f[i], sizeof(f[i]), "-");
	if (strcmp(f[0], "-") == 0) {
		printf("%s\n", util_escape(msg, len, esc, sizeof(esc)));
		return;
	}
	printf("%s %-13s %s %s %s", util_iso_ms(strtoll(f[5], NULL, 10), iso,
	    sizeof(iso)), f[0], f[1], f[2], f[3]);
	if (strcmp(f[4], "-") != 0)
		printf(" #%s", f[4]);
	json_iter_init(&it, msg, len);
	while (json_iter_next(&it, k, sizeof(k), v, sizeof(v), &str) == 1) {
		for (i = 0; i < 6 && strcmp(k, fixed[i]) != 0; i++)
			;
		if (i < 6)
			continue;
		util_escape(v, strlen(v), esc, sizeof(esc));
		printf(str ? " %s=\"%s\"" : " %s=%s", k, esc);
	}
	putchar('\n');
}
