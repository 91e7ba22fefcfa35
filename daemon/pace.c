/* SPDX-License-Identifier: MIT */
/* Persistent pools' recent pace; see pace.h. */
#include <stdlib.h>
#include <string.h>

#include "pace.h"
#include "xmalloc.h"

#define PACE_WINDOW_MS	100	/* jobs are counted per window of this length */
#define PACE_STALE_MS	10000	/* an entry this long without a job goes */

struct pace_entry {
	char	*handler;	/* owned */
	int64_t	 window_ms;	/* start of the window being counted */
	int	 count;		/* jobs answered in it so far */
	int	 per_s;		/* the last full window's rate */
};

struct pace {
	struct pace_entry	*entries;
	size_t			 n;
};

struct pace *
pace_new(void)
{
	return (xcalloc(1, sizeof(struct pace)));
}

/* The index of handler's entry, p->n if it has none. */
static size_t
pace_index(const struct pace *p, const char *handler)
{
	size_t	i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->entries[i].handler, handler) == 0)
			break;
	return (i);
}

/* Drop the entries of handlers idle for PACE_STALE_MS (a reload removed them). */
static void
pace_drop_stale(struct pace *p, int64_t now_ms)
{
	for (size_t i = 0; i < p->n; ) {
		if (now_ms - p->entries[i].window_ms < PACE_STALE_MS) {
			i++;
			continue;
		}
		free(p->entries[i].handler);
		p->entries[i] = p->entries[--p->n];
	}
}

/* handler's entry, made (with a window starting now) if it has none. */
static struct pace_entry *
pace_get(struct pace *p, const char *handler, int64_t now_ms)
{
	size_t			 i = pace_index(p, handler);
	struct pace_entry	*e;

	if (i < p->n)
		return (&p->entries[i]);
	pace_drop_stale(p, now_ms);
	p->entries = xreallocarray(p->entries, p->n + 1, sizeof(*p->entries));
	e = &p->entries[p->n++];
	e->handler = xstrdup(handler);
	e->window_ms = now_ms;
	e->count = 0;
	e->per_s = 0;
	return (e);
}

void
pace_count(struct pace *p, const char *handler, int64_t now_ms)
{
	struct pace_entry	*e = pace_get(p, handler, now_ms);
	int64_t			 age = now_ms - e->window_ms;

	if (age >= PACE_WINDOW_MS) {
		/* A window with a gap after it counts as slower, not as full. */
		e->per_s = age >= 2 * PACE_WINDOW_MS ? 0 :
		    (int)(e->count * 1000 / age);
		e->window_ms = now_ms;
		e->count = 0;
	}
	e->count++;
}

int
pace_per_s(const struct pace *p, const char *handler, int64_t now_ms)
{
	size_t	i = pace_index(p, handler);

	if (i == p->n || now_ms - p->entries[i].window_ms >= 2 * PACE_WINDOW_MS)
		return (0);
	return (p->entries[i].per_s);
}

void
pace_free(struct pace *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->entries[i].handler);
	free(p->entries);
	free(p);
}
