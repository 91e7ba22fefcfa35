/* SPDX-License-Identifier: MIT */
/* The one way to arm a libevent timer in milliseconds. */
#ifndef DEFERD_TIMER_H
#define DEFERD_TIMER_H

#include <sys/time.h>

#include <stdint.h>

struct event;

/* Add ev to fire after ms (re-arms a pending timer; persistent events repeat). */
void		timer_after(struct event *ev, int64_t ms);

#endif
