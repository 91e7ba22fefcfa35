/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's live view (dashboard_live.c): the lifecycle events of
 * NS:events streamed to the browsers that watch, as Server-Sent Events.
 * A connection of its own subscribes while anyone watches and is closed
 * a while after the last one left, so that a dashboard nobody watches
 * costs Redis and the daemon nothing. Each viewer has a bounded buffer:
 * one that does not keep up is dropped, never the daemon.
 */
#ifndef DEFERD_DASHBOARD_LIVE_H
#define DEFERD_DASHBOARD_LIVE_H

#include <stdint.h>

struct deferd;
struct httpd;
struct live;

/* The live view of d's events; nothing is connected until a viewer comes. */
struct live	*live_new(struct deferd *d);
/* Stream id of http watches from now on. */
void		 live_add(struct live *, struct httpd *http, uint64_t id);
/* Stream id closed (httpd's stream_closed); unknown ids are ignored. */
void		 live_remove(struct live *, uint64_t id);
/* Drop every viewer (their server goes away), and the connection. */
void		 live_clear(struct live *);
void		 live_free(struct live *);

#endif
