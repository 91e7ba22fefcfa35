/* SPDX-License-Identifier: MIT */
/*
 * deferctl cancel --kill: a running job cannot be cancelled by a script,
 * since a daemon runs its handler. deferctl publishes "QUEUE ID" on
 * NS:kill, which every daemon hears; the one that holds the job stops its
 * handler (SIGTERM to its process group, SIGKILL after kill_grace) and
 * records it cancelled, which takes it out of the active set. deferctl
 * waits for that, polling, for kill_grace plus a margin.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "keys.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define KILL_POLL_MS	50
#define KILL_MARGIN_MS	5000	/* beyond kill_grace: the outcome's way back */

/* Whether id is in queue's active set: 1, 0, or -1 after reporting. */
static int
kill_is_active(struct ctl *ctl, const char *active, const char *id)
{
	redisReply	*r = ctl_cmd(ctl, "ZSCORE %s %s", active, id);
	int		 in;

	if (r == NULL)
		return (-1);
	in = r->type != REDIS_REPLY_NIL;
	freeReplyObject(r);
	return (in);
}

int
ctl_kill_job(struct ctl *ctl, const char *queue, const char *id)
{
	char		*channel, *msg, *active;
	redisReply	*r;
	long long	 heard;
	int64_t		 deadline;
	int		 in = 1;

	channel = keys_kill(ctl_ns(ctl));
	xasprintf(&msg, "%s %s", queue, id);
	r = ctl_cmd(ctl, "PUBLISH %s %s", channel, msg);
	free(channel);
	free(msg);
	if (r == NULL)
		return (-1);
	heard = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	if (heard == 0) {
		log_warnx("no daemon listens for kill requests: job %s goes on",
		    id);
		return (0);
	}
	active = keys_queue(ctl_ns(ctl), queue, "active");
	deadline = util_mono_ms() + ctl->cfg->handlers.kill_grace_ms +
	    ctl->cfg->redis.command_timeout_ms + KILL_MARGIN_MS;
	while ((in = kill_is_active(ctl, active, id)) == 1 &&
	    util_mono_ms() < deadline)
		ctl_sleep_ms(KILL_POLL_MS);
	free(active);
	if (in == 1)
		log_warnx("job %s is still running %" PRId64 "ms after the kill "
		    "request (no daemon holds it, or its handler outlived "
		    "kill_grace)", id, ctl->cfg->handlers.kill_grace_ms +
		    KILL_MARGIN_MS);
	return (in == -1 ? -1 : in == 0);
}
