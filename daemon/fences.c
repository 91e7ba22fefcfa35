/* SPDX-License-Identifier: MIT */
/* Fences over numbered calls; see fences.h. */
#include <stdlib.h>

#include "fences.h"
#include "xmalloc.h"

void
fences_add(struct fences *fs, uint64_t seq, void (*cb)(void *), void *arg)
{
	fs->v = xreallocarray(fs->v, fs->n + 1, sizeof(*fs->v));
	fs->v[fs->n].seq = seq;
	fs->v[fs->n].cb = cb;
	fs->v[fs->n].arg = arg;
	fs->n++;
}

void
fences_run(struct fences *fs, uint64_t (*oldest)(void *), void *arg)
{
	struct fence	f;
	size_t		i = 0;

	while (i < fs->n) {
		f = fs->v[i];
		if (oldest(arg) < f.seq) {
			i++;
			continue;
		}
		fs->v[i] = fs->v[--fs->n];
		f.cb(f.arg);	/* may add fences: they are checked too */
	}
}

void
fences_free(struct fences *fs)
{
	free(fs->v);
	fs->v = NULL;
	fs->n = 0;
}
