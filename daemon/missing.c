/* SPDX-License-Identifier: MIT */
/* Handlers missing on this host: backoff and a quiet report; see missing.h. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "missing.h"
#include "xmalloc.h"

#define MISSING_FIRST_MS	1000	/* the first delay; it doubles per miss */
#define MISSING_LOG_MS		60000	/* one line per handler this often */

struct missing_handler {
	char		*name;
	int64_t		 delay_ms;	/* the next job's delay */
	struct log_limit limit;		/* one line a minute */
};

struct missing {
	struct missing_handler	*h;
	size_t			 n;
};

struct missing *
missing_new(void)
{
	return (xcalloc(1, sizeof(struct missing)));
}

/* The record of handler, or NULL. */
static struct missing_handler *
missing_find(const struct missing *m, const char *handler)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->h[i].name, handler) == 0)
			return (&m->h[i]);
	return (NULL);
}

int64_t
missing_seen(struct missing *m, const char *queue, const char *handler,
    const char *why, int64_t max_ms)
{
	struct missing_handler	*h = missing_find(m, handler);
	int64_t			 delay;

	if (h == NULL) {
		m->h = xreallocarray(m->h, m->n + 1, sizeof(*m->h));
		h = &m->h[m->n++];
		memset(h, 0, sizeof(*h));
		h->name = xstrdup(handler);
		h->delay_ms = MISSING_FIRST_MS;
	}
	delay = h->delay_ms < max_ms ? h->delay_ms : max_ms;
	if (h->delay_ms < max_ms)
		h->delay_ms *= 2;
	log_limited(&h->limit, MISSING_LOG_MS, LOG_LEVEL_WARNING, "handler %s: "
	    "%s; its jobs (queue %s) go back to delayed without spending an "
	    "attempt, tried again in %lldms", handler, why, queue,
	    (long long)delay);
	return (delay);
}

void
missing_found(struct missing *m, const char *handler)
{
	struct missing_handler	*h = missing_find(m, handler);

	if (h == NULL)
		return;
	log_info("handler %s: found again", handler);
	free(h->name);
	*h = m->h[--m->n];
}

size_t
missing_count(const struct missing *m)
{
	return (m->n);
}

const char *
missing_at(const struct missing *m, size_t i)
{
	return (i < m->n ? m->h[i].name : NULL);
}

void
missing_free(struct missing *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->h[i].name);
	free(m->h);
	free(m);
}
