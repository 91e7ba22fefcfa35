/* SPDX-License-Identifier: MIT */
/*
 * Periodic jobs (schedules[] of the config): each tick of each schedule
 * becomes the job cron:NAME:TICK_MS of its queue, enqueued ahead of its
 * time by whichever daemon gets there first (the schedule script refuses
 * a tick at or before the latest one enqueued), so a tick runs once
 * however many daemons run the schedule, and a restart neither repeats
 * nor, within the missed policy, skips one. Ticks themselves come from
 * schedule_ticks.c; this module keeps one timer per schedule, talks to
 * Redis on the daemon's command connection and follows reloads.
 */
#ifndef DEFERD_SCHEDULES_H
#define DEFERD_SCHEDULES_H

#include <stdint.h>

struct config;
struct deferd;
struct schedules;

/* The schedules of d->cfg; idle until schedules_up. */
struct schedules	*schedules_new(struct deferd *d);
/* The command connection is up: plan every schedule now. */
void			 schedules_up(struct schedules *);
/* It is down, or the daemon drains: stop the timers, ignore replies. */
void			 schedules_down(struct schedules *);
/*
 * d->cfg replaced old (still valid): a removed schedule's pending ticks
 * are cancelled, a changed one's replaced, an added one starts.
 */
void			 schedules_reload(struct schedules *, const struct config *old);
/* Free; replies still in flight must be gone (free after the connection). */
void			 schedules_free(struct schedules *);

#endif
