/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's JSON API endpoints, read from Redis (dashboard_api.c
 * for the overview, dashboard_jobs.c for jobs), each an api_call
 * (dashboard_call.h): done is called exactly once with the JSON, unless
 * the call is cancelled first. Each returns the call, or NULL when done
 * was called already (Redis not connected: nothing could be sent).
 */
#ifndef DEFERD_DASHBOARD_API_H
#define DEFERD_DASHBOARD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dashboard_call.h"

struct deferd;

/*
 * GET /api/overview: per queue the counts of delayed, due now, active,
 * dead, done and failed jobs and whether it is paused; the daemons that
 * wrote a lateness summary in the last minute; Redis's version and
 * memory.
 */
struct api_call	*api_overview(struct deferd *d, api_done_cb done, void *arg);

/* The lists of a queue that /api/jobs pages through. */
enum api_list { API_DELAYED, API_ACTIVE, API_DEAD, API_DONE, API_FAILED };
/* The list named name ("delayed", ... "failed") into *list; false if none. */
bool		 api_list_parse(const char *name, enum api_list *list);

struct api_jobs_query {
	const char	*queue;		/* one of the config's */
	enum api_list	 list;
	size_t		 limit;		/* jobs per page */
	const char	*handler;	/* only this handler's jobs; NULL: any */
	const char	*prefix;	/* only IDs that start so; NULL: any */
	bool		 has_cursor;	/* else the first page */
	int64_t		 cursor_ms;	/* the page starts at this score, */
	int64_t		 cursor_skip;	/* after this many rows of it */
};

/*
 * GET /api/jobs: one page of a list (delayed and active soonest first,
 * dead, done and failed newest first), each job with its handler,
 * attempts and last error (done, failed: its history record), and the
 * cursor of the next page ("MS:SKIP", null at the end): the score to
 * start from and how many rows of that score were looked at, so that
 * jobs sharing a score are neither skipped nor repeated. With filters a
 * page looks at up to 1,000 jobs for its matches, and the next page goes
 * on from the last one looked at.
 */
struct api_call	*api_jobs(struct deferd *d, const struct api_jobs_query *q,
		    api_done_cb done, void *arg);
/*
 * GET /api/job: one job of queue: its state (delayed, active, dead,
 * finished or unknown) and time, every field of its hash (a payload or
 * result over 64 KiB cut, and said so), its result and the record of
 * its last finished run.
 */
struct api_call	*api_job(struct deferd *d, const char *queue, const char *id,
		    api_done_cb done, void *arg);

/* What the dashboard's buttons do: deferctl's scripts. */
enum api_action {
	API_RETRY,		/* revive: a dead job back to delayed, due now */
	API_DELETE,		/* purge: a dead job deleted */
	API_CANCEL,		/* cancel: a job that has not started removed */
	API_RETRY_ALL,		/* revive the oldest 1000 dead jobs */
	API_DELETE_ALL,		/* purge up to 1000 dead jobs */
};

/*
 * POST /api/retry, /api/delete, /api/cancel (queue and id), /api/retry_all,
 * /api/delete_all (queue): {"action", "id", "result"} with the script's
 * word (retried, not dead; deleted; cancelled, running, dead, finished,
 * unknown), or {"action", "count", "more"} for the _all ones.
 */
struct api_call	*api_action(struct deferd *d, enum api_action act,
		    const char *queue, const char *id, api_done_cb done,
		    void *arg);

#endif
