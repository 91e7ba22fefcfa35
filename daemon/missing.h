/* SPDX-License-Identifier: MIT */
/*
 * Handlers missing on this host (missing.c). A job whose handler is not in
 * handlers.dir here (or is not executable, or unsafe) is this host's
 * problem, not the job's: with handlers.missing: wait it goes back to
 * delayed without spending an attempt, after a delay that doubles per
 * handler from 1 s up to handlers.missing_retry, and the daemon says so
 * once a minute per handler (log_limited: with how many lines it left
 * out). A fleet
 * where only some hosts have a handler, or a deploy that renames one,
 * then loses nothing.
 */
#ifndef DEFERD_MISSING_H
#define DEFERD_MISSING_H

#include <stddef.h>
#include <stdint.h>

struct missing;

struct missing	*missing_new(void);
/*
 * A job of handler (in queue) found it missing for why: the delay before
 * the job is tried again (1 s, doubling per miss of this handler, at most
 * max_ms). Logged at most once a minute per handler, with the count.
 */
int64_t		 missing_seen(struct missing *, const char *queue,
		    const char *handler, const char *why, int64_t max_ms);
/* handler started a job: it is there again; its delay starts over. */
void		 missing_found(struct missing *, const char *handler);
/* How many handlers are missing now (seen missing, not found since). */
size_t		 missing_count(const struct missing *);
/* The name of missing handler i (i < missing_count). */
const char	*missing_at(const struct missing *, size_t i);
/* Free; NULL is a no-op. */
void		 missing_free(struct missing *);

#endif
