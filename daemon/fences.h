/* SPDX-License-Identifier: MIT */
/*
 * Fences over a stream of numbered calls (rconn.c, cluster.c): cb(arg)
 * once every call numbered below the fence's number has been answered.
 * The owner numbers its calls, says which unanswered one is oldest, and
 * runs the fences from its loop.
 */
#ifndef DEFERD_FENCES_H
#define DEFERD_FENCES_H

#include <stddef.h>
#include <stdint.h>

struct fence {
	uint64_t	 seq;		/* runs once no call below seq is unanswered */
	void		(*cb)(void *);
	void		*arg;
};

struct fences {
	struct fence	*v;
	size_t		 n;
};

/* Add a fence for the calls numbered below seq. */
void	fences_add(struct fences *, uint64_t seq, void (*cb)(void *), void *arg);
/*
 * Run (and drop) every fence no unanswered call holds back; oldest(arg)
 * gives the oldest unanswered call's number, or UINT64_MAX for none, and
 * is asked again after each callback (which may add fences or calls).
 */
void	fences_run(struct fences *, uint64_t (*oldest)(void *), void *arg);
/* Drop every fence unrun (their owners are going too). */
void	fences_free(struct fences *);

#endif
