/* SPDX-License-Identifier: MIT */
/*
 * deferctl pause Q / resume Q. Pausing sets NS:{Q}:paused (the time it
 * was paused, ms), which the claim script reads: every daemon stops
 * claiming from the queue at its next claim, and the jobs it runs go on.
 * Resuming deletes the key and publishes the queue's wake, so that the
 * daemons claim at once instead of at their next poll.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "log.h"
#include "util.h"

/* The queue operand of pause or resume into ctl->queue; CTL_OK or usage. */
static int
pause_queue(struct ctl *ctl, const char *cmd, int argc, char **argv)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 }
	};
	int				status;

	if ((status = ctl_getopt(ctl, argc, argv, longopts, NULL, NULL)) !=
	    CTL_OK)
		return (status);
	if (argc - optind != 1)
		return (ctl_usage("%s: expected one queue", cmd));
	if (!util_valid_queue_name(argv[optind]))
		return (ctl_usage("%s: invalid queue name '%s'", cmd,
		    argv[optind]));
	ctl->queue = argv[optind];
	return (CTL_OK);
}

/* Print the outcome: the queue, whether it is paused now, and if that changed. */
static void
pause_print(const struct ctl *ctl, bool paused, bool changed)
{
	if (ctl->json) {
		printf("{\"queue\":");
		ctl_json_str(ctl->queue);
		printf(",\"paused\":%s,\"changed\":%s}\n", paused ? "true" :
		    "false", changed ? "true" : "false");
		return;
	}
	printf("%s %s%s\n", ctl->queue, paused ? "paused" : "resumed",
	    changed ? "" : paused ? " already" : " (was not paused)");
}

/* Open, refuse a queue the config does not list; -1 (with status) on failure. */
static int
pause_open(struct ctl *ctl, int *status)
{
	if (ctl_open(ctl) == -1) {
		*status = CTL_FAIL;
		return (-1);
	}
	if (!config_has_queue(ctl->cfg, ctl->queue)) {
		log_errorx("queue '%s' is not in the queues of %s", ctl->queue,
		    ctl->cfg->path);
		*status = CTL_USAGE;
		return (-1);
	}
	return (0);
}

/*
 * Pause (set the key, if not set) or resume (delete it and publish the
 * wake, so that the daemons claim now) the queue operand.
 */
static int
pause_set(struct ctl *ctl, int argc, char **argv, bool pause)
{
	int64_t		 now;
	char		*key;
	redisReply	*r;
	int		 status;
	bool		 changed;

	if ((status = pause_queue(ctl, pause ? "pause" : "resume", argc,
	    argv)) != CTL_OK)
		return (status);
	if (pause_open(ctl, &status) == -1)
		return (status);
	if (ctl_redis_time(ctl, &now) == -1)
		return (CTL_FAIL);
	key = keys_queue(ctl_ns(ctl), ctl->queue, "paused");
	r = pause ? ctl_cmd(ctl, "SET %s %" PRId64 " NX", key, now) :
	    ctl_cmd(ctl, "DEL %s", key);
	free(key);
	if (r == NULL)
		return (CTL_FAIL);
	changed = pause ? r->type == REDIS_REPLY_STATUS :
	    r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	freeReplyObject(r);
	if (!pause) {
		key = keys_queue(ctl_ns(ctl), ctl->queue, "wake");
		r = ctl_cmd(ctl, "PUBLISH %s %" PRId64, key, now);
		free(key);
		if (r == NULL)
			return (CTL_FAIL);
		freeReplyObject(r);
	}
	pause_print(ctl, pause, changed);
	return (CTL_OK);
}

/* deferctl pause Q */
int
ctl_cmd_pause(struct ctl *ctl, int argc, char **argv)
{
	return (pause_set(ctl, argc, argv, true));
}

/* deferctl resume Q */
int
ctl_cmd_resume(struct ctl *ctl, int argc, char **argv)
{
	return (pause_set(ctl, argc, argv, false));
}
