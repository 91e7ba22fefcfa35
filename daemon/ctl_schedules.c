/* SPDX-License-Identifier: MIT */
/*
 * deferctl schedules --check EXPR [--tz ZONE] [--count N]: the next N run
 * times of a cron expression (cron.c), in UTC and in the zone, without a
 * daemon or Redis: a way to try an expression before it goes live.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "ctl.h"
#include "log.h"

#define SCHED_DEFAULT_COUNT	5
#define SCHED_MAX_COUNT		1000

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
		ctl_iso_time(t * 1000, utc, sizeof(utc));
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
	struct sched_opts	o = { NULL, "UTC", SCHED_DEFAULT_COUNT };
	struct cron		c;
	char			err[256];
	int			r;

	if ((r = ctl_getopt(ctl, argc, argv, longopts, sched_option, &o)) !=
	    CTL_OK)
		return (r);
	if (optind != argc)
		return (ctl_usage("schedules: unexpected argument '%s'",
		    argv[optind]));
	if (o.expr == NULL)
		return (ctl_usage("schedules: --check EXPR is required (listing "
		    "the configured schedules comes with periodic jobs)"));
	if (cron_parse(o.expr, &c, err, sizeof(err)) == -1)
		return (ctl_usage("--check: %s", err));
	if (cron_check_tz(o.tz, err, sizeof(err)) == -1)
		return (ctl_usage("--tz: %s", err));
	return (sched_print(ctl, &o, &c));
}
