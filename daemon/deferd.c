/* SPDX-License-Identifier: MIT */
/*
 * deferd: runs delayed and timeout jobs kept in Redis. Runs in the
 * foreground (no fork, no pidfile); systemd or a terminal supervises it.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <event2/event.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "deferd.h"
#include "handler.h"
#include "log.h"
#include "version.h"

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: deferd [-c FILE] [--check-config] [--version]\n"
	    "  -c, --config FILE   configuration file (default: $DEFERD_CONFIG or "
	    CONFIG_DEFAULT_PATH ")\n"
	    "  -n, --check-config  validate the configuration and exit\n"
	    "  -V, --version       print the version and exit\n");
	exit(status);
}

/*
 * Check the handlers directory as every run will (handler_check_dir: the
 * path is trusted from "/", not a system directory): -1 (and an error)
 * when handlers in it would be refused, 0 when it is fine or only missing
 * (a warning: a package or a deploy may create it later; until then
 * deferd claims nothing).
 */
static int
check_handlers_dir(const struct config *cfg)
{
	struct stat	st;
	char		err[512];

	if (stat(cfg->handlers.dir, &st) == -1 && errno == ENOENT) {
		log_warnx("handlers.dir %s does not exist; no job is claimed "
		    "until it does", cfg->handlers.dir);
		return (0);
	}
	if (handler_check_dir(cfg->handlers.dir, err, sizeof(err), NULL) == -1) {
		log_errorx("%s; no job is claimed until this is fixed", err);
		return (-1);
	}
	return (0);
}

/*
 * Raise the soft descriptor limit to the hard one: handlers' pipes, Redis
 * and HTTP clients all take descriptors, and systemd's soft default (1024)
 * runs out under load. The unit sets the hard limit (LimitNOFILE).
 */
static void
raise_nofile(void)
{
	struct rlimit	rl;
	rlim_t		was;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
		return;
	was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("cannot raise the descriptor limit from %llu",
		    (unsigned long long)was);
	else
		log_debug("descriptor limit raised from %llu to %llu",
		    (unsigned long long)was, (unsigned long long)rl.rlim_max);
}

/*
 * libevent's own messages go through deferd's logger, each kind at most
 * once a minute with a count of the ones left out (a failing accept()
 * once wrote millions of lines).
 */
static void
libevent_log(int severity, const char *msg)
{
	static struct log_limit	limits[4];
	int			i = severity == EVENT_LOG_DEBUG ? 0 :
				    severity == EVENT_LOG_MSG ? 1 :
				    severity == EVENT_LOG_WARN ? 2 : 3;
	static const enum log_level levels[4] = { LOG_LEVEL_DEBUG,
				    LOG_LEVEL_INFO, LOG_LEVEL_WARNING,
				    LOG_LEVEL_ERROR };

	log_limited(&limits[i], 60000, levels[i], "libevent: %s", msg);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*path = NULL;
	bool		 check_only = false;
	struct config	*cfg;
	struct deferd	*d;
	char		 err[1024];
	int		 ch, status;

	log_init("deferd");
	while ((ch = getopt_long(argc, argv, "c:nVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check_only = true;
			break;
		case 'V':
			printf("deferd %s\n", DEFERD_VERSION);
			return (0);
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	path = config_default_path(path);
	if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "deferd: %s\n", err);
		return (1);
	}
	log_set_level(cfg->log.level);
	log_set_format(cfg->log.format);
	if (check_only) {
		status = check_handlers_dir(cfg) == 0 ? 0 : 1;
		if (status == 0)
			printf("configuration OK: %s\n", path);
		config_free(cfg);
		return (status);
	}
	check_handlers_dir(cfg);
	raise_nofile();
	event_set_log_callback(libevent_log);
	d = deferd_new(cfg);
	status = deferd_run(d);
	deferd_free(d);
	log_info("exited with status %d", status);
	return (status);
}
