/* SPDX-License-Identifier: MIT */
/* The one way to arm a libevent timer in milliseconds. */
#ifndef DEFERD_TIMER_H
#define DEFERD_TIMER_H

#include <sys/time.h>

#include <stdint.h>

struct event;

/* ms (negative counts as 0) as a struct timeval. */
struct timeval	timer_tv(int64_t ms);
/* Add ev to fire after ms (re-arms a pending timer; persistent events repeat). */
void		timer_after(struct event *ev, int64_t ms);

#endif
