/* SPDX-License-Identifier: MIT */
/*
 * deferctl: the command-line tool for deferd's Redis queues (deferd(8)).
 * This file reads the global options, picks the command and prints usage;
 * the commands themselves live in ctl_enqueue.c (enqueue), ctl_inspect.c
 * (show, list, stats), ctl_admin.c (cancel, retry, purge), ctl_lock.c
 * (lock) and ctl_watch.c (watch).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "version.h"

static const struct {
	const char	*name;
	ctl_command_fn	 fn;
} ctl_commands[] = {
	{ "enqueue", ctl_cmd_enqueue },
	{ "cancel", ctl_cmd_cancel },
	{ "show", ctl_cmd_show },
	{ "list", ctl_cmd_list },
	{ "stats", ctl_cmd_stats },
	{ "pause", ctl_cmd_pause },
	{ "resume", ctl_cmd_resume },
	{ "retry", ctl_cmd_retry },
	{ "purge", ctl_cmd_purge },
	{ "delete", ctl_cmd_purge },	/* the dashboard's word for it */
	{ "lock", ctl_cmd_lock },
	{ "watch", ctl_cmd_watch },
	{ "schedules", ctl_cmd_schedules },
};

static const char	ctl_usage_text[] =
"usage: deferctl [-c FILE] [--json] COMMAND [ARGS]\n"
"\n"
"commands:\n"
"  enqueue [--in D | --at T] [--id ID] [--queue Q [--force]] [--resource R]\n"
"          [--max-attempts N] [--timeout D] HANDLER [PAYLOAD | -]\n"
"  enqueue --batch [--in D | --at T] [--queue Q [--force]] [--resource R]\n"
"          [--max-attempts N] [--timeout D] HANDLER    (payloads on stdin, one a line)\n"
"  cancel [--queue Q] [--kill] ID   (--kill: stop it if it is running)\n"
"  show [--queue Q] ID\n"
"  list [--queue Q] [--limit N] delayed | active | dead | done | failed\n"
"  stats [--queue Q]   (also the daemons' lateness summaries)\n"
"  pause Q | resume Q   (stop / start claiming from queue Q on every daemon)\n"
"  watch [--queue Q] [--handler H]   (follow the lifecycle events; --json: raw)\n"
"  retry [--queue Q] ID... | --all\n"
"  purge [--queue Q] ID... | --all   (also: delete)\n"
"  lock [--ttl D] [--wait D] RESOURCE -- CMD [ARGS...]\n"
"          (run CMD holding the lock; exit status: CMD's, or 75 if the\n"
"          lock could not be had or was lost)\n"
"  schedules   (each configured schedule: last tick, next 3 run times)\n"
"  schedules --check EXPR [--tz ZONE] [--count N]\n"
"          (the next N run times of a cron expression; no daemon needed)\n"
"  help\n"
"\n"
"options:\n"
"  -c FILE    config file (default: $DEFERD_CONFIG, else " CONFIG_DEFAULT_PATH ")\n"
"  --json     machine-readable output on stdout\n"
"  --version  print the version\n"
"\n"
"D is a duration (500ms 30s 5m 1h 30d); T is 2026-11-22T10:00:00Z\n"
"(optional .mmm, Z or +HH:MM) or @EPOCH_SECONDS.\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n";

static int	ctl_global_options(struct ctl *, int, char **);
static int	ctl_dispatch(struct ctl *, int, char **);

/* Print usage (to stdout for help, else stderr) and exit with status. */
_Noreturn void
ctl_help(int status)
{
	fputs(ctl_usage_text, status == CTL_OK ? stdout : stderr);
	exit(status);
}

/*
 * Parse the options before the command. Returns the index of the command
 * in argv, or -CTL_USAGE after reporting a bad option.
 */
static int
ctl_global_options(struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "json", no_argument, NULL, CTL_OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int				ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctl->config_path = optarg;
			break;
		case CTL_OPT_JSON:
			ctl->json = true;
			break;
		case 'h':
			ctl_help(CTL_OK);
		case 'V':
			printf("deferctl %s\n", DEFERD_VERSION);
			exit(ctl_finish(CTL_OK));
		case ':':
			ctl_usage("option '%s' needs an argument", argv[optind - 1]);
			return (-CTL_USAGE);
		default:
			ctl_usage("unknown option '%s'", argv[optind - 1]);
			return (-CTL_USAGE);
		}
	}
	return (optind);
}

/* Run the command named by argv[0]. */
static int
ctl_dispatch(struct ctl *ctl, int argc, char **argv)
{
	if (strcmp(argv[0], "help") == 0)
		ctl_help(CTL_OK);
	for (size_t i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]);
	    i++) {
		if (strcmp(argv[0], ctl_commands[i].name) != 0)
			continue;
		optind = 0;	/* glibc: reinitialise getopt for the command */
		return (ctl_commands[i].fn(ctl, argc, argv));
	}
	return (ctl_usage("unknown command '%s'", argv[0]));
}

/* Parse the global options, run one command, and exit with its status. */
int
main(int argc, char **argv)
{
	struct ctl	ctl;
	int		first, status;

	log_init("deferctl");
	log_set_format(LOG_FORMAT_CLI);
	signal(SIGPIPE, SIG_IGN);	/* a closed socket or stdout is an error, not death */
	memset(&ctl, 0, sizeof(ctl));
	if ((first = ctl_global_options(&ctl, argc, argv)) < 0)
		return (CTL_USAGE);
	if (first >= argc) {
		ctl_usage("no command given");
		return (CTL_USAGE);
	}
	status = ctl_dispatch(&ctl, argc - first, argv + first);
	ctl_close(&ctl);
	return (ctl_finish(status));
}
