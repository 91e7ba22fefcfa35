/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's JSON API, read from Redis (dashboard_api.c). Each call
 * sends its commands on the daemon's command connection and hands the
 * JSON to its done callback once every answer is in; the owner
 * (dashboard.c) may cancel a call whose client went away.
 */
#ifndef DEFERD_DASHBOARD_API_H
#define DEFERD_DASHBOARD_API_H

#include <stdint.h>

struct deferd;
struct evbuffer;
struct api_call;

/*
 * The answer of call: json is the body (the callback may move it out), or
 * NULL when Redis could not be asked (not connected).
 */
typedef void	(*api_done_cb)(struct api_call *, struct evbuffer *json,
		    void *arg);

/*
 * GET /api/overview: per queue the counts of delayed, due now, active,
 * dead, done and failed jobs and whether it is paused; the daemons that
 * wrote a lateness summary in the last minute; Redis's version and
 * memory. done is called exactly once, unless the call is cancelled
 * first. Returns the call, or NULL when done was called already (Redis
 * not connected: nothing could be sent).
 */
struct api_call	*api_overview(struct deferd *d, api_done_cb done, void *arg);
/* The owner no longer wants call's answer; the call frees itself when done. */
void		 api_cancel(struct api_call *);

#endif
