/* SPDX-License-Identifier: MIT */
/* Millisecond timers on libevent. */
#include <event2/event.h>

#include "log.h"
#include "timer.h"

/* ms (negative counts as 0) as a struct timeval. */
static struct timeval
timer_tv(int64_t ms)
{
	struct timeval	tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return (tv);
}

void
timer_after(struct event *ev, int64_t ms)
{
	struct timeval	tv = timer_tv(ms);

	if (event_add(ev, &tv) == -1)
		log_errorx("cannot arm a timer (%lld ms)", (long long)ms);
}
