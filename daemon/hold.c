/* SPDX-License-Identifier: MIT */
/* A hold on claiming while this host cannot start handlers; see hold.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "hold.h"
#include "log.h"
#include "timer.h"
#include "xmalloc.h"

#define HOLD_CHECK_MS	1000	/* the check runs this often while held */
#define HOLD_REASON_MAX	512

struct hold {
	hold_check_cb	 check;
	hold_release_cb	 release;
	void		*arg;
	struct event	*timer;
	bool		 held;
	char		 reason[HOLD_REASON_MAX];
};

static void	hold_timer_cb(evutil_socket_t, short, void *);

struct hold *
hold_new(struct event_base *base, hold_check_cb check, hold_release_cb release,
    void *arg)
{
	struct hold	*h = xcalloc(1, sizeof(*h));

	h->check = check;
	h->release = release;
	h->arg = arg;
	if ((h->timer = evtimer_new(base, hold_timer_cb, h)) == NULL)
		fatalx("hold: cannot create a timer");
	return (h);
}

void
hold_set(struct hold *h, const char *why)
{
	if (!h->held || strcmp(h->reason, why) != 0)
		log_errorx("not claiming jobs: %s; checking again every %ds",
		    why, HOLD_CHECK_MS / 1000);
	snprintf(h->reason, sizeof(h->reason), "%s", why);
	if (!h->held)
		timer_after(h->timer, HOLD_CHECK_MS);
	h->held = true;
}

void
hold_check_now(struct hold *h)
{
	char	err[HOLD_REASON_MAX];

	if (h->check(err, sizeof(err), h->arg) == -1) {
		hold_set(h, err);
		return;
	}
	if (!h->held)
		return;
	h->held = false;
	h->reason[0] = '\0';
	evtimer_del(h->timer);
	log_info("claiming jobs again: the handlers directory is usable");
	h->release(h->arg);
}

/* While held: check again, and keep checking until the check passes. */
static void
hold_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hold	*h = arg;

	(void)fd;
	(void)what;
	hold_check_now(h);
	if (h->held)
		timer_after(h->timer, HOLD_CHECK_MS);
}

const char *
hold_reason(const struct hold *h)
{
	return (h->held ? h->reason : NULL);
}

void
hold_free(struct hold *h)
{
	if (h == NULL)
		return;
	event_free(h->timer);
	free(h);
}
