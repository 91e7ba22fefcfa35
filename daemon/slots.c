/* SPDX-License-Identifier: MIT */
/* Concurrency slots; see slots.h. */
#include <stdlib.h>
#include <string.h>

#include "slots.h"
#include "xmalloc.h"

/* A handler with something locking or running, or pool room reserved. */
struct slots_handler {
	char	*name;
	int	 running;
	int	 waiting;	/* claimed, not started (JOB_WAITING) */
	int	 reserved;	/* pool room held by claims in flight */
};

struct slots {
	int			 concurrency;
	int			 jobs;		/* claimed jobs held, not pooled */
	int			 reporting;	/* of them, outcome sent */
	int			 pooled;	/* claimed jobs of persistent handlers */
	int			 claims;	/* reserved by claims in flight */
	int			 runs;		/* channel runs going */
	struct slots_handler	*handlers;	/* only those with a count > 0 */
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
slots_job_add(struct slots *s, bool pooled)
{
	if (pooled)
		s->pooled++;
	else
		s->jobs++;
}

void
slots_job_reporting(struct slots *s, bool pooled)
{
	if (!pooled)
		s->reporting++;
	s->cbs.freed(s->cbs.arg, pooled);
}

void
slots_job_remove(struct slots *s, bool pooled, bool was_reporting)
{
	if (pooled)
		s->pooled--;
	else {
		s->jobs--;
		if (was_reporting)
			s->reporting--;
	}
	s->cbs.gone(s->cbs.arg, pooled);
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
	s->cbs.gone(s->cbs.arg, false);
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

/* The entry of handler, added if missing. */
static struct slots_handler *
slots_get(struct slots *s, const char *handler)
{
	struct slots_handler	*h = slots_find(s, handler);

	if (h == NULL) {
		s->handlers = xreallocarray(s->handlers, s->nhandlers + 1,
		    sizeof(*s->handlers));
		h = &s->handlers[s->nhandlers++];
		h->name = xstrdup(handler);
		h->running = 0;
		h->waiting = 0;
		h->reserved = 0;
	}
	return (h);
}

/* Entries go when every count reaches 0, so names from Redis cannot pile up. */
static void
slots_put(struct slots *s, struct slots_handler *h)
{
	if (h->running > 0 || h->waiting > 0 || h->reserved > 0)
		return;
	free(h->name);
	*h = s->handlers[--s->nhandlers];
}

void
slots_handler_start(struct slots *s, const char *handler)
{
	slots_get(s, handler)->running++;
}

void
slots_handler_stop(struct slots *s, const char *handler)
{
	struct slots_handler	*h = slots_find(s, handler);

	if (h == NULL || h->running == 0)
		return;
	h->running--;
	slots_put(s, h);
}

void
slots_handler_wait(struct slots *s, const char *handler)
{
	slots_get(s, handler)->waiting++;
}

void
slots_handler_unwait(struct slots *s, const char *handler)
{
	struct slots_handler	*h = slots_find(s, handler);

	if (h == NULL || h->waiting == 0)
		return;
	h->waiting--;
	slots_put(s, h);
}

int
slots_pool_free(const struct slots *s, const char *handler, int cap)
{
	const struct slots_handler	*h = slots_find(s, handler);
	int				 n = cap;

	if (s->cbs.held(s->cbs.arg))
		return (0);
	if (h != NULL)
		n -= h->running + h->waiting + h->reserved;
	return (n > 0 ? n : 0);
}

void
slots_pool_claim_begin(struct slots *s, const char *handler, int n)
{
	slots_get(s, handler)->reserved += n;
}

void
slots_pool_claim_end(struct slots *s, const char *handler, int n)
{
	struct slots_handler	*h = slots_find(s, handler);

	if (h == NULL)
		return;
	h->reserved = h->reserved > n ? h->reserved - n : 0;
	slots_put(s, h);
}

int
slots_handler_running(const struct slots *s, const char *handler)
{
	const struct slots_handler	*h = slots_find(s, handler);

	return (h != NULL ? h->running : 0);
}

int
slots_handlers_waiting(const struct slots *s)
{
	int	n = 0;

	for (size_t i = 0; i < s->nhandlers; i++)
		if (s->handlers[i].waiting > 0)
			n++;
	return (n);
}

int
slots_jobs(const struct slots *s)
{
	return (s->jobs + s->pooled);
}

void
slots_forget_jobs(struct slots *s)
{
	s->jobs = 0;
	s->reporting = 0;
	s->pooled = 0;
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
