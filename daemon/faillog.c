/* SPDX-License-Identifier: MIT */
/* Job failure lines, rate-limited per handler; see faillog.h. */
#include <stdlib.h>
#include <string.h>

#include "faillog.h"
#include "xmalloc.h"

struct faillog_handler {
	char		*name;
	struct log_limit limits[2];	/* by enum faillog_kind */
};

struct faillog {
	struct faillog_handler	*h;
	size_t			 n;
	struct log_limit	 others[2];	/* beyond FAILLOG_HANDLERS */
};

struct faillog *
faillog_new(void)
{
	return (xcalloc(1, sizeof(struct faillog)));
}

struct log_limit *
faillog_limit(struct faillog *f, const char *handler, enum faillog_kind kind)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->h[i].name, handler) == 0)
			return (&f->h[i].limits[kind]);
	if (f->n == FAILLOG_HANDLERS)
		return (&f->others[kind]);
	f->h = xreallocarray(f->h, f->n + 1, sizeof(*f->h));
	memset(&f->h[f->n], 0, sizeof(f->h[f->n]));
	f->h[f->n].name = xstrdup(handler);
	return (&f->h[f->n++].limits[kind]);
}

void
faillog_free(struct faillog *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->h[i].name);
	free(f->h);
	free(f);
}
