/* SPDX-License-Identifier: MIT */
/* Concurrency slots; see slots.h. */
#include <stdlib.h>
#include <string.h>

#include "slots.h"
#include "xmalloc.h"

/* A handler with something locking or running. */
struct slots_handler {
	char	*name;
	int	 running;
};

struct slots {
	int			 concurrency;
	int			 jobs;		/* claimed jobs held */
	int			 reporting;	/* of them, outcome sent */
	int			 claims;	/* reserved by claims in flight */
	int			 runs;		/* channel runs going */
	struct slots_handler	*handlers;	/* only those with running > 0 */
	size_t			 nhandlers;
	struct slots_cbs	 cbs;
};

struct slots *
slots_new(int concurrency, const struct slots_cbs *cbs)
{
	struct slots	*s = xcalloc(1, sizeof(*s));

	s->concurrency = concurrency;
	s->cbs = *cbs;
	return (s);
}

void
slots_set_concurrency(struct slots *s, int concurrency)
{
	s->concurrency = concurrency;
}

int
slots_free(const struct slots *s)
{
	int	n = s->concurrency - (s->jobs - s->reporting) - s->runs - s->claims;
	int	cap = 2 * s->concurrency - s->jobs - s->runs - s->claims;

	if (s->cbs.held(s->cbs.arg))
		return (0);
	if (cap < n)
		n = cap;
	return (n > 0 ? n : 0);
}

bool
slots_run_fits(const struct slots *s)
{
	return (s->concurrency - (s->jobs - s->reporting) - s->runs > 0);
}

void
slots_claim_begin(struct slots *s, int n)
{
	s->claims += n;
}

void
slots_claim_end(struct slots *s, int n)
{
	s->claims -= n;
}

void
slots_job_add(struct slots *s)
{
	s->jobs++;
}

void
slots_job_reporting(struct slots *s)
{
	s->reporting++;
	s->cbs.freed(s->cbs.arg);
}

void
slots_job_remove(struct slots *s, bool was_reporting)
{
	s->jobs--;
	if (was_reporting)
		s->reporting--;
	s->cbs.gone(s->cbs.arg);
}

void
slots_run_start(struct slots *s, const char *handler)
{
	s->runs++;
	slots_handler_start(s, handler);
}

void
slots_run_end(struct slots *s, const char *handler)
{
	s->runs--;
	slots_handler_stop(s, handler);
	s->cbs.gone(s->cbs.arg);
}

/* The entry of handler, or NULL. */
static struct slots_handler *
slots_find(const struct slots *s, const char *handler)
{
	for (size_t i = 0; i < s->nhandlers; i++)
		if (strcmp(s->handlers[i].name, handler) == 0)
			return (&s->handlers[i]);
	return (NULL);
}

void
slots_handler_start(struct slots *s, const char *handler)
{
	struct slots_handler	*h = slots_find(s, handler);

	if (h == NULL) {
		s->handlers = xreallocarray(s->handlers, s->nhandlers + 1,
		    sizeof(*s->handlers));
		h = &s->handlers[s->nhandlers++];
		h->name = xstrdup(handler);
		h->running = 0;
	}
	h->running++;
}

/* Entries go when they reach 0, so names from Redis cannot pile up. */
void
slots_handler_stop(struct slots *s, const char *handler)
{
	struct slots_handler	*h = slots_find(s, handler);

	if (h == NULL || --h->running > 0)
		return;
	free(h->name);
	*h = s->handlers[--s->nhandlers];
}

int
slots_handler_running(const struct slots *s, const char *handler)
{
	const struct slots_handler	*h = slots_find(s, handler);

	return (h != NULL ? h->running : 0);
}

int
slots_jobs(const struct slots *s)
{
	return (s->jobs);
}

void
slots_forget_jobs(struct slots *s)
{
	s->jobs = 0;
	s->reporting = 0;
}

void
slots_free_all(struct slots *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nhandlers; i++)
		free(s->handlers[i].name);
	free(s->handlers);
	free(s);
}
