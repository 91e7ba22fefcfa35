/* SPDX-License-Identifier: MIT */
/*
 * Channel source (docs/architecture.md): every daemon subscribed to a
 * channel (or pattern) runs the handler once per message, with the message
 * as payload and DEFERD_CHANNEL set: a broadcast, with no job in Redis and
 * no retry. A run holds one of the daemon's concurrency slots and counts
 * against its handler's max_concurrency (slots.c, so the schedulers claim
 * less meanwhile); a message that finds no room (or the daemon draining) is
 * dropped, counted and logged at most once every few seconds, never queued
 * without bound. A reload that replaces the sources deregisters the old
 * instance from its subscription (sources.c); runs still going finish into
 * it.
 */
#include <sys/queue.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deferd.h"
#include "log.h"
#include "rconn.h"
#include "runner.h"
#include "slots.h"
#include "sources.h"
#include "subs.h"
#include "util.h"
#include "xmalloc.h"

#define CSRC_DROP_LOG_MS	10000

/* One handler run for one message. */
struct crun {
	LIST_ENTRY(crun)	 entry;
	struct csrc		*c;
	char			 id[64];
	struct env_var		 env;
};

struct csrc {
	struct deferd	*d;
	LIST_HEAD(, crun) runs_live;	/* freed at exit: runner_free calls no one */
	char		*name;
	bool		 pattern;
	char		*handler;
	char		*queue;
	uint64_t	 dropped;
	uint64_t	 dropped_unlogged;
	int64_t		 last_drop_log_ms;
};

/* Count a dropped message; log the first and then a summary now and then. */
static void
csrc_drop(struct csrc *c, const char *why)
{
	int64_t	now = util_mono_ms();

	c->dropped++;
	c->dropped_unlogged++;
	if (c->last_drop_log_ms != 0 && now - c->last_drop_log_ms < CSRC_DROP_LOG_MS)
		return;
	log_warnx("channel source %s (handler %s): %" PRIu64 " message(s) "
	    "dropped: %s (%" PRIu64 " in all)", c->name, c->handler,
	    c->dropped_unlogged, why, c->dropped);
	c->dropped_unlogged = 0;
	c->last_drop_log_ms = now;
}

/* Runner callback: a message's run ended (no retry either way). */
static void
csrc_done(const struct run_result *r, void *arg)
{
	struct crun	*run = arg;
	struct csrc	*c = run->c;
	struct deferd	*d = c->d;

	/* As a job's outcome (job.c), with the channel it came on. */
	if (r->outcome == RUN_DONE)
		log_debug("job %s (%s): done in %" PRId64 "ms (channel %s)",
		    run->id, c->handler, r->duration_ms, c->name);
	else
		log_warnx("job %s (%s): failed: %s (channel %s; not retried)",
		    run->id, c->handler, r->error, c->name);
	LIST_REMOVE(run, entry);
	free(run->env.value);
	free(run);
	slots_run_end(d->slots, c->handler);
}

/* Whether a new run fits: a free slot and the handler's max_concurrency. */
static const char *
csrc_no_room(const struct csrc *c)
{
	const struct deferd	*d = c->d;
	int			 max;

	if (d->draining)
		return ("the daemon is stopping");
	if (!slots_run_fits(d->slots))
		return ("all concurrency slots busy");
	max = config_handler_max_concurrency(d->cfg, c->handler);
	if (max > 0 && slots_handler_running(d->slots, c->handler) >= max)
		return ("the handler is at its max_concurrency");
	return (NULL);
}

/* A message: run the handler with it, or drop it when there is no room. */
static void
csrc_message_cb(const char *channel, const char *payload, size_t len,
    void *priv)
{
	struct csrc	*c = priv;
	struct deferd	*d = c->d;
	struct crun	*run;
	struct run_spec	 spec;
	const char	*why;

	if ((why = csrc_no_room(c)) != NULL) {
		csrc_drop(c, why);
		return;
	}
	run = xcalloc(1, sizeof(*run));
	run->c = c;
	/* Unique in the daemon: one counter for every channel source. */
	snprintf(run->id, sizeof(run->id), "channel-%" PRIu64 "-%ld",
	    ++d->channel_runs, (long)getpid());
	run->env.name = "DEFERD_CHANNEL";
	run->env.value = xstrdup(channel);
	memset(&spec, 0, sizeof(spec));
	spec.job_id = run->id;
	spec.queue = c->queue;
	spec.handler = c->handler;
	spec.payload = payload;
	spec.payload_len = len;
	spec.attempt = 1;
	spec.max_attempts = 1;
	spec.timeout_ms = config_handler_timeout_ms(d->cfg, c->handler);
	spec.source = "channel";
	spec.extra_env = &run->env;
	spec.nextra_env = 1;
	slots_run_start(d->slots, c->handler);
	LIST_INSERT_HEAD(&c->runs_live, run, entry);
	runner_start(d->runner, &spec, csrc_done, run);
}

bool
csrc_idle(const struct csrc *c)
{
	return (LIST_EMPTY(&c->runs_live));
}

struct csrc *
csrc_new(struct deferd *d, struct subs *s, const struct source *src)
{
	struct csrc	*c = xcalloc(1, sizeof(*c));

	c->d = d;
	LIST_INIT(&c->runs_live);
	c->name = xstrdup(src->name);
	c->pattern = src->is_pattern;
	c->handler = xstrdup(src->handler);
	c->queue = xstrdup(config_queue(d->cfg, src->queue));
	subs_add(s, c->name, c->pattern, csrc_message_cb, c);
	return (c);
}

void
csrc_free(struct csrc *c)
{
	struct crun	*run;

	if (c == NULL)
		return;
	while ((run = LIST_FIRST(&c->runs_live)) != NULL) {
		LIST_REMOVE(run, entry);
		free(run->env.value);
		free(run);
	}
	free(c->name);
	free(c->handler);
	free(c->queue);
	free(c);
}
