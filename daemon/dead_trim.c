/* SPDX-License-Identifier: MIT */
/* Counting and logging dead-set trims; see dead_trim.h. */
#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>

#include "dead_trim.h"
#include "log.h"
#include "metrics.h"
#include "timer.h"
#include "units.h"
#include "xmalloc.h"

#define DEAD_TRIM_WINDOW_MS	10000	/* at most one line this often */

struct dead_trim {
	char		*queue;
	struct event	*window;	/* pending: trims are being summed */
	long long	 by_max, by_ttl;	/* not logged yet */
	int64_t		 max_jobs, ttl_ms;	/* the limits last seen */
};

/* Log the sums not logged yet, if any. */
static void
dead_trim_flush(struct dead_trim *t)
{
	char	ttl[32];

	if (t->by_max > 0)
		log_warnx("queue %s: dead set over dead.max_jobs (%lld): the "
		    "%lld oldest dead job(s) removed; they are gone", t->queue,
		    (long long)t->max_jobs, t->by_max);
	if (t->by_ttl > 0) {
		units_format_duration(t->ttl_ms, ttl, sizeof(ttl));
		log_info("queue %s: %lld dead job(s) older than dead.ttl (%s) "
		    "removed; they are gone", t->queue, t->by_ttl, ttl);
	}
	t->by_max = t->by_ttl = 0;
}

/* The window is over: log what it summed, and keep summing if it did. */
static void
dead_trim_window_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dead_trim	*t = arg;
	bool			 any = t->by_max + t->by_ttl > 0;

	(void)fd;
	(void)what;
	dead_trim_flush(t);
	if (any)
		timer_after(t->window, DEAD_TRIM_WINDOW_MS);
}

struct dead_trim *
dead_trim_new(struct event_base *base, const char *queue)
{
	struct dead_trim	*t = xcalloc(1, sizeof(*t));

	t->queue = xstrdup(queue);
	if ((t->window = evtimer_new(base, dead_trim_window_cb, t)) == NULL)
		fatalx("dead set: cannot create a timer");
	return (t);
}

void
dead_trim_note(struct dead_trim *t, long long by_max_jobs, long long by_ttl,
    int64_t max_jobs, int64_t ttl_ms)
{
	if (by_max_jobs <= 0 && by_ttl <= 0)
		return;
	if (by_max_jobs > 0)
		metrics_dead_trimmed(t->queue, "max_jobs", by_max_jobs);
	if (by_ttl > 0)
		metrics_dead_trimmed(t->queue, "ttl", by_ttl);
	t->by_max += by_max_jobs > 0 ? by_max_jobs : 0;
	t->by_ttl += by_ttl > 0 ? by_ttl : 0;
	t->max_jobs = max_jobs;
	t->ttl_ms = ttl_ms;
	if (evtimer_pending(t->window, NULL))
		return;		/* summed until the window ends */
	dead_trim_flush(t);
	timer_after(t->window, DEAD_TRIM_WINDOW_MS);
}

void
dead_trim_free(struct dead_trim *t)
{
	if (t == NULL)
		return;
	dead_trim_flush(t);
	event_free(t->window);
	free(t->queue);
	free(t);
}
