/* SPDX-License-Identifier: MIT */
/*
 * deferctl schedules: each configured schedule (periodic jobs) with its
 * next three run times, in UTC and in its zone, and the last tick enqueued
 * (from its hash in Redis). deferctl schedules --check EXPR [--tz ZONE]
 * [--count N]: the next N run times of a cron expression (cron.c), without
 * a daemon or Redis: a way to try an expression before it goes live.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "ctl.h"
#include "keys.h"
#include "log.h"
#include "schedule_ticks.h"
#include "units.h"
#include "util.h"
#include "xmalloc.h"

#define SCHED_DEFAULT_COUNT	5
#define SCHED_MAX_COUNT		1000
#define SCHED_LIST_NEXT		3	/* run times listed per schedule */

struct sched_opts {
	const char	*expr;
	const char	*tz;
	long long	 count;
};

/* --check, --tz and --count. */
static int
sched_option(void *arg, int ch, const char *optarg_)
{
	struct sched_opts	*o = arg;

	switch (ch) {
	case CTL_OPT_CHECK:
		o->expr = optarg_;
		return (CTL_OK);
	case CTL_OPT_TZ:
		o->tz = optarg_;
		return (CTL_OK);
	case CTL_OPT_COUNT:
		return (ctl_parse_count("--count", optarg_, SCHED_MAX_COUNT,
		    &o->count));
	}
	return (ctl_usage("unexpected option"));
}

/* Print the next o->count run times of c after now, text or JSON. */
static int
sched_print(const struct ctl *ctl, const struct sched_opts *o,
    const struct cron *c)
{
	char	utc[40], local[64];
	int64_t	t = (int64_t)time(NULL);

	if (ctl->json) {
		printf("{\"expr\":");
		ctl_json_str(o->expr);
		printf(",\"tz\":");
		ctl_json_str(o->tz);
		printf(",\"next\":[");
	}
	for (long long i = 0; i < o->count; i++) {
		if ((t = cron_next(c, o->tz, t)) == -1) {
			if (!ctl->json)
				printf("(no more run times within five years)\n");
			break;
		}
		util_iso_ms(t * 1000, utc, sizeof(utc));
		cron_format_local(t, o->tz, local, sizeof(local));
		if (ctl->json) {
			printf("%s{\"utc\":", i > 0 ? "," : "");
			ctl_json_str(utc);
			printf(",\"local\":");
			ctl_json_str(local);
			putchar('}');
		} else
			printf("%s  %s\n", utc, local);
	}
	if (ctl->json)
		printf("]}\n");
	return (CTL_OK);
}

/* "cron EXPR [in ZONE]" or "every DURATION" of sc, into buf. */
static const char *
sched_when(const struct schedule *sc, char *buf, size_t len)
{
	char	d[32];

	if (sc->cron_expr != NULL)
		snprintf(buf, len, "cron '%s' in %s", sc->cron_expr,
		    sc->timezone != NULL ? sc->timezone : "UTC");
	else {
		units_format_duration(sc->every_ms, d, sizeof(d));
		snprintf(buf, len, "every %s", d);
	}
	return (buf);
}

/* The last tick enqueued for sc (its hash's last field), -1 if none. */
static int64_t
sched_last(struct ctl *ctl, const struct schedule *sc)
{
	const char	*q = config_queue(ctl->cfg, sc->queue);
	char		*suffix, *key;
	redisReply	*r;
	int64_t		 last = -1;

	xasprintf(&suffix, "schedule:%s", sc->name);
	key = keys_queue(ctl_ns(ctl), q, suffix);
	free(suffix);
	r = ctl_use(ctl, key) == 0 ? ctl_cmd(ctl, "HGET %s last", key) : NULL;
	free(key);
	if (r != NULL && r->type == REDIS_REPLY_STRING)
		last = ctl_reply_ms(r);
	if (r != NULL)
		freeReplyObject(r);
	return (last);
}

/* One time as UTC and local to sc's zone: text, or a JSON object. */
static void
sched_print_time(const struct ctl *ctl, const struct schedule *sc, int64_t ms,
    const char *label)
{
	char	utc[40], local[64];

	util_iso_ms(ms, utc, sizeof(utc));
	cron_format_local(ms / 1000, sc->timezone, local, sizeof(local));
	if (ctl->json) {
		printf("{\"ms\":%lld,\"utc\":", (long long)ms);
		ctl_json_str(utc);
		printf(",\"local\":");
		ctl_json_str(local);
		putchar('}');
	} else
		printf("  %-10s %s  %s\n", label, utc, local);
}

/* One configured schedule: definition, last tick, next run times from now. */
static void
sched_list_one(struct ctl *ctl, const struct schedule *sc, int64_t now,
    int64_t last)
{
	static const char *const	missed[] = { "skip", "once", "all" };
	const char			*q = config_queue(ctl->cfg, sc->queue);
	char				when[160];
	int64_t				t = now;

	if (ctl->json) {
		printf("{\"name\":");
		ctl_json_str(sc->name);
		printf(",\"when\":");
		ctl_json_str(sched_when(sc, when, sizeof(when)));
		printf(",\"handler\":");
		ctl_json_str(sc->handler);
		printf(",\"queue\":");
		ctl_json_str(q);
		printf(",\"missed\":\"%s\",\"last_tick\":", missed[sc->missed]);
		if (last >= 0)
			sched_print_time(ctl, sc, last, NULL);
		else
			printf("null");
		printf(",\"next\":[");
	} else {
		printf("%s: %s, handler %s, queue %s, missed: %s\n", sc->name,
		    sched_when(sc, when, sizeof(when)), sc->handler, q,
		    missed[sc->missed]);
		if (last >= 0)
			sched_print_time(ctl, sc, last, "last tick");
		else
			printf("  last tick  (none enqueued yet)\n");
	}
	for (int i = 0; i < SCHED_LIST_NEXT; i++) {
		if ((t = schedule_next_tick(sc, t)) < 0)
			break;
		if (ctl->json && i > 0)
			putchar(',');
		sched_print_time(ctl, sc, t, i == 0 ? "next" : "");
	}
	if (ctl->json)
		printf("]}");
}

/* deferctl schedules: list the configured schedules. */
static int
sched_list(struct ctl *ctl)
{
	int64_t	now;

	if (ctl_open(ctl) == -1 || ctl_redis_time(ctl, &now) == -1)
		return (CTL_FAIL);
	if (ctl->json)
		putchar('[');
	else if (ctl->cfg->nschedules == 0)
		printf("no schedules in %s\n", ctl->cfg->path);
	for (size_t i = 0; i < ctl->cfg->nschedules; i++) {
		const struct schedule	*sc = &ctl->cfg->schedules[i];

		if (ctl->json && i > 0)
			putchar(',');
		sched_list_one(ctl, sc, now, sched_last(ctl, sc));
	}
	if (ctl->json)
		printf("]\n");
	return (CTL_OK);
}

int
ctl_cmd_schedules(struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS,
		{ "check", required_argument, NULL, CTL_OPT_CHECK },
		{ "tz", required_argument, NULL, CTL_OPT_TZ },
		{ "count", required_argument, NULL, CTL_OPT_COUNT },
		{ NULL, 0, NULL, 0 }
	};
	struct sched_opts	o = { NULL, NULL, SCHED_DEFAULT_COUNT };
	struct cron		c;
	char			err[256];
	int			r;

	if ((r = ctl_getopt(ctl, argc, argv, longopts, sched_option, &o)) !=
	    CTL_OK)
		return (r);
	if (optind != argc)
		return (ctl_usage("schedules: unexpected argument '%s'",
		    argv[optind]));
	if (o.expr == NULL && (o.tz != NULL || o.count != SCHED_DEFAULT_COUNT))
		return (ctl_usage("schedules: --tz and --count go with --check"));
	if (o.expr == NULL)
		return (sched_list(ctl));
	if (cron_parse(o.expr, &c, err, sizeof(err)) == -1)
		return (ctl_usage("--check: %s", err));
	if (o.tz == NULL)
		o.tz = "UTC";
	if (cron_check_tz(o.tz, err, sizeof(err)) == -1)
		return (ctl_usage("--tz: %s", err));
	return (sched_print(ctl, &o, &c));
}
