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
	struct event	*alone;		/* no carrier took the due probe */
	int64_t		 interval_ms;
	int64_t		 timeout_ms;
	int64_t		 sub_up_ms;	/* monotonic; -1 while sub is down */
	uint64_t	 counter;
	uint64_t	 probe;		/* sequence number awaited; 0 = none */
	int64_t		 probe_ms;	/* monotonic: when it was published */
	bool		 publishing;	/* the PUBLISH reply is awaited */
	int64_t		 grace_ms;	/* a carrier's time to take it; 0: none */
	bool		 wanted;	/* a probe is due, for the carrier */
	char		 seq[24];	/* the carried probe's message */
};

/* Give up on the subscriber connection: it reconnects and resubscribes. */
static void
subcheck_fail(struct subcheck *sc, const char *why)
{
	sc->probe = 0;
	evtimer_del(sc->deadline);
	rconn_reset(sc->sub, why);
}

/*
 * The PUBLISH's answer, alone or carried: how many subscribers the server
 * has on our channel (-1: the command failed; probe again later).
 */
static void
subcheck_answer(struct subcheck *sc, long long subscribers)
{
	sc->publishing = false;
	if (subscribers < 0) {
		sc->probe = 0;
		return;
	}
	if (sc->probe == 0)
		return;		/* the message is back already */
	if (subscribers == 0) {
		subcheck_fail(sc, "the server has no subscription of ours "
		    "(half-open connection)");
		return;
	}
	timer_after(sc->deadline, sc->timeout_ms);
}

/* The reply of a PUBLISH of our own. */
static void
subcheck_published(redisReply *reply, void *priv)
{
	struct subcheck	*sc = priv;

	if (reply != NULL && reply->type != REDIS_REPLY_INTEGER) {
		log_warnx("redis sub: liveness probe failed: %s",
		    reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "unexpected reply");
		subcheck_answer(sc, -1);
		return;
	}
	/* NULL: cmd went away; probe again once it is back. */
	subcheck_answer(sc, reply != NULL ? reply->integer : -1);
}

/* Start probe number ++counter: its message in sc->seq. */
static void
subcheck_next(struct subcheck *sc)
{
	snprintf(sc->seq, sizeof(sc->seq), "%" PRIu64, ++sc->counter);
	sc->probe = sc->counter;
	sc->probe_ms = util_mono_ms();
	sc->publishing = true;
}

/* Publish the next probe through the command connection. */
static void
subcheck_publish(struct subcheck *sc)
{
	const char	*argv[3];

	subcheck_next(sc);
	argv[0] = "PUBLISH";
	argv[1] = sc->channel;
	argv[2] = sc->seq;
	if (rconn_command(sc->cmd, subcheck_published, sc, 3, argv, NULL) != 0) {
		sc->probe = 0;		/* not sent: the next tick tries again */
		sc->publishing = false;
	}
}

/*
 * Every interval: the next probe is due unless one is out or sub is new.
 * A carrier has the grace to take it; without one it goes at once.
 */
static void
subcheck_tick(evutil_socket_t fd, short what, void *arg)
{
	struct subcheck	*sc = arg;

	(void)fd;
	(void)what;
	if (sc->probe != 0 || sc->publishing || sc->wanted ||
	    !rconn_ready(sc->cmd) || !rconn_ready(sc->sub) ||
	    sc->sub_up_ms < 0 ||
	    util_mono_ms() - sc->sub_up_ms < sc->interval_ms)
		return;		/* a fresh subscription may not be confirmed yet */
	if (sc->grace_ms > 0) {
		sc->wanted = true;
		timer_after(sc->alone, sc->grace_ms);
		return;
	}
	subcheck_publish(sc);
}

/* The grace passed and no carrier took the due probe: publish it alone. */
static void
subcheck_alone(evutil_socket_t fd, short what, void *arg)
{
	struct subcheck	*sc = arg;

	(void)fd;
	(void)what;
	if (!sc->wanted)
		return;
	sc->wanted = false;
	if (rconn_ready(sc->cmd) && rconn_ready(sc->sub))
		subcheck_publish(sc);
}

bool
subcheck_take(struct subcheck *sc, const char **channel, const char **message)
{
	if (!sc->wanted)
		return (false);
	sc->wanted = false;
	evtimer_del(sc->alone);
	subcheck_next(sc);
	*channel = sc->channel;
	*message = sc->seq;
	return (true);
}

void
subcheck_carried(struct subcheck *sc, long long subscribers)
{
	subcheck_answer(sc, subscribers);
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
	sc->wanted = false;
	evtimer_del(sc->deadline);
	evtimer_del(sc->alone);
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
	sc->alone = evtimer_new(base, subcheck_alone, sc);
	if (sc->tick == NULL || sc->deadline == NULL || sc->alone == NULL)
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
subcheck_set_carrier(struct subcheck *sc, int64_t grace_ms)
{
	sc->grace_ms = grace_ms;
}

void
subcheck_free(struct subcheck *sc)
{
	if (sc == NULL)
		return;
	event_free(sc->tick);
	event_free(sc->deadline);
	event_free(sc->alone);
	free(sc->channel);
	free(sc);
}
