/* SPDX-License-Identifier: MIT */
/* The expiration-event canary: see canary.h. */
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canary.h"
#include "log.h"
#include "rconn.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define CANARY_TTL		"50"	/* ms, the canary key's PX */
#define CANARY_TOUCH_MS		100	/* then EXISTS: a lazy expiry at the latest */
#define CANARY_WAIT_MS		1000	/* the event must arrive by then */
#define CANARY_RETRY_MS		5000	/* after a failure, probe again */

enum canary_state {
	CANARY_IDLE,
	CANARY_SETTING,		/* SET sent */
	CANARY_TOUCHING,	/* waiting to send EXISTS */
	CANARY_WAITING,		/* EXISTS sent; the event is due */
};

struct canary {
	struct rconn		*cmd;
	char			*ns;
	int			 db;
	char			 key[128];	/* of the probe under way */
	enum canary_state	 state;
	bool			 seen;		/* its event arrived */
	bool			 stopped;
	canary_result_cb	 cb;
	void			*arg;
	struct event		*timer;		/* touch, deadline or retry */
};

/* The probe is over: tell the owner; after a failure, try again later. */
static void
canary_done(struct canary *c, bool ok)
{
	c->state = CANARY_IDLE;
	evtimer_del(c->timer);
	if (c->stopped)
		return;
	if (!ok)
		timer_after(c->timer, CANARY_RETRY_MS);
	c->cb(ok, c->arg);
}

/* Reply of EXISTS: the key has surely expired now; wait for the event. */
static void
canary_touched(redisReply *reply, void *priv)
{
	struct canary	*c = priv;

	if (c->state != CANARY_WAITING)
		return;
	if (reply == NULL) {
		c->state = CANARY_IDLE;		/* probed again once cmd is back */
		return;
	}
	if (c->seen)
		canary_done(c, true);
	else
		timer_after(c->timer, CANARY_WAIT_MS);
}

/* Reply of SET: wait until the TTL has passed, then touch the key. */
static void
canary_set(redisReply *reply, void *priv)
{
	struct canary	*c = priv;

	if (c->state != CANARY_SETTING)
		return;
	if (reply == NULL) {
		c->state = CANARY_IDLE;
		return;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		log_warnx("expirations: cannot set the canary key %s (%s): "
		    "whether expiration events arrive is not checked", c->key,
		    reply->str);
		c->state = CANARY_IDLE;
		return;
	}
	c->state = CANARY_TOUCHING;
	timer_after(c->timer, CANARY_TOUCH_MS);
}

/* Timer: touch the key, time out the event, or start the next probe. */
static void
canary_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct canary	*c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CANARY_TOUCHING:
		if (rconn_command(c->cmd, canary_touched, c, 2,
		    (const char *[]){ "EXISTS", c->key }, NULL) == 0)
			c->state = CANARY_WAITING;
		else
			c->state = CANARY_IDLE;
		break;
	case CANARY_WAITING:
		canary_done(c, c->seen);
		break;
	case CANARY_IDLE:
		canary_probe(c);
		break;
	case CANARY_SETTING:
		break;
	}
}

struct canary *
canary_new(struct event_base *base, struct rconn *cmd, const char *ns, int db,
    canary_result_cb cb, void *arg)
{
	struct canary	*c = xcalloc(1, sizeof(*c));

	c->cmd = cmd;
	c->ns = xstrdup(ns);
	c->db = db;
	c->cb = cb;
	c->arg = arg;
	if ((c->timer = evtimer_new(base, canary_timer_cb, c)) == NULL)
		fatalx("expirations: cannot create the canary timer");
	return (c);
}

void
canary_probe(struct canary *c)
{
	char	id[17];

	if (c->stopped || c->state != CANARY_IDLE || !rconn_ready(c->cmd))
		return;
	evtimer_del(c->timer);
	util_random_hex(id, 8);
	snprintf(c->key, sizeof(c->key), "%s:canary:%s", c->ns, id);
	c->seen = false;
	if (rconn_command(c->cmd, canary_set, c, 5, (const char *[]){ "SET",
	    c->key, "1", "PX", CANARY_TTL }, NULL) == 0)
		c->state = CANARY_SETTING;
}

bool
canary_event(struct canary *c, int db, const char *key, size_t len)
{
	if (db != c->db || c->key[0] == '\0' || len != strlen(c->key) ||
	    memcmp(key, c->key, len) != 0)
		return (false);
	c->seen = true;
	if (c->state == CANARY_WAITING && evtimer_pending(c->timer, NULL))
		canary_done(c, true);	/* EXISTS answered, deadline running */
	return (true);
}

void
canary_stop(struct canary *c)
{
	c->stopped = true;
	evtimer_del(c->timer);
}

void
canary_free(struct canary *c)
{
	if (c == NULL)
		return;
	event_free(c->timer);
	free(c->ns);
	free(c);
}
