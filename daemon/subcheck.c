/* SPDX-License-Identifier: MIT */
/* Liveness of the subscriber connection: see subcheck.h. */
#include <event2/event.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rconn.h"
#include "subcheck.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define SUBCHECK_BACKLOG_MAX	4	/* timeouts a busy subscriber may take */

struct subcheck {
	struct rconn	*cmd, *sub;
	char		*channel;
	struct event	*tick;		/* persistent: every interval */
	struct event	*deadline;	/* the probe's message is late */
	int64_t		 interval_ms;
	int64_t		 timeout_ms;
	int64_t		 sub_up_ms;	/* monotonic; -1 while sub is down */
	uint64_t	 counter;
	uint64_t	 probe;		/* sequence number awaited; 0 = none */
	int64_t		 probe_ms;	/* monotonic: when it was published */
	bool		 publishing;	/* the PUBLISH reply is awaited */
};

/* Give up on the subscriber connection: it reconnects and resubscribes. */
static void
subcheck_fail(struct subcheck *sc, const char *why)
{
	sc->probe = 0;
	evtimer_del(sc->deadline);
	rconn_reset(sc->sub, why);
}

/* The PUBLISH reply: how many subscribers the server has on our channel. */
static void
subcheck_published(redisReply *reply, void *priv)
{
	struct subcheck	*sc = priv;

	sc->publishing = false;
	if (reply == NULL) {
		sc->probe = 0;	/* cmd went away: probe again once it is back */
		return;
	}
	if (sc->probe == 0)
		return;		/* the message is back already */
	if (reply->type != REDIS_REPLY_INTEGER) {
		log_warnx("redis sub: liveness probe failed: %s",
		    reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "unexpected reply");
		sc->probe = 0;
		return;
	}
	if (reply->integer == 0) {
		subcheck_fail(sc, "the server has no subscription of ours "
		    "(half-open connection)");
		return;
	}
	timer_after(sc->deadline, sc->timeout_ms);
}

/* Every interval: publish the next probe unless one is out or sub is new. */
static void
subcheck_tick(evutil_socket_t fd, short what, void *arg)
{
	struct subcheck	*sc = arg;
	char		 seq[24];
	const char	*argv[3];

	(void)fd;
	(void)what;
	if (sc->probe != 0 || sc->publishing || !rconn_ready(sc->cmd) ||
	    !rconn_ready(sc->sub) || sc->sub_up_ms < 0 ||
	    util_mono_ms() - sc->sub_up_ms < sc->interval_ms)
		return;		/* a fresh subscription may not be confirmed yet */
	snprintf(seq, sizeof(seq), "%" PRIu64, ++sc->counter);
	argv[0] = "PUBLISH";
	argv[1] = sc->channel;
	argv[2] = seq;
	if (rconn_command(sc->cmd, subcheck_published, sc, 3, argv, NULL) == 0) {
		sc->probe = sc->counter;
		sc->probe_ms = util_mono_ms();
		sc->publishing = true;
	}
}

/*
 * The probe's message did not come back in time. A subscriber still
 * receiving other messages is backlogged (a burst of key events ahead of
 * the probe), not half-open: give it up to SUBCHECK_BACKLOG_MAX timeouts.
 */
static void
subcheck_late(evutil_socket_t fd, short what, void *arg)
{
	struct subcheck	*sc = arg;
	int64_t		 now = util_mono_ms();

	(void)fd;
	(void)what;
	if (sc->probe == 0)
		return;
	if (now - rconn_progress_ms(sc->sub) < sc->timeout_ms &&
	    now - sc->probe_ms < SUBCHECK_BACKLOG_MAX * sc->timeout_ms) {
		timer_after(sc->deadline, sc->timeout_ms);
		return;
	}
	subcheck_fail(sc, "liveness probe not received within command_timeout");
}

/* A message on our channel: the awaited probe ends it. */
static void
subcheck_message(const char *channel, const char *payload, size_t len,
    void *priv)
{
	struct subcheck	*sc = priv;
	char		 want[24];

	(void)channel;
	if (sc->probe == 0)
		return;
	snprintf(want, sizeof(want), "%" PRIu64, sc->probe);
	if (len == strlen(want) && memcmp(payload, want, len) == 0) {
		sc->probe = 0;
		evtimer_del(sc->deadline);
	}
}

/* The subscriber went up or down: a probe in flight is void either way. */
static void
subcheck_sub_event(struct rconn *rc, enum rconn_event ev, void *arg)
{
	struct subcheck	*sc = arg;

	(void)rc;
	sc->probe = 0;
	evtimer_del(sc->deadline);
	sc->sub_up_ms = ev == RCONN_UP ? util_mono_ms() : -1;
}

struct subcheck *
subcheck_new(struct event_base *base, struct rconn *cmd, struct rconn *sub,
    const char *channel, int64_t interval_ms, int64_t timeout_ms)
{
	struct subcheck	*sc = xcalloc(1, sizeof(*sc));

	sc->cmd = cmd;
	sc->sub = sub;
	sc->channel = xstrdup(channel);
	sc->sub_up_ms = -1;
	sc->tick = event_new(base, -1, EV_PERSIST, subcheck_tick, sc);
	sc->deadline = evtimer_new(base, subcheck_late, sc);
	if (sc->tick == NULL || sc->deadline == NULL)
		fatalx("subscriber check: cannot create timers");
	rconn_subscribe(sub, sc->channel, false, subcheck_message, NULL,
	    sc);
	rconn_observe(sub, subcheck_sub_event, sc);
	subcheck_set(sc, interval_ms, timeout_ms);
	return (sc);
}

void
subcheck_set(struct subcheck *sc, int64_t interval_ms, int64_t timeout_ms)
{
	sc->interval_ms = interval_ms;
	sc->timeout_ms = timeout_ms;
	timer_after(sc->tick, interval_ms);
}

void
subcheck_free(struct subcheck *sc)
{
	if (sc == NULL)
		return;
	event_free(sc->tick);
	event_free(sc->deadline);
	free(sc->channel);
	free(sc);
}
