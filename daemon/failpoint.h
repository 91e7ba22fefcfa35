/* SPDX-License-Identifier: MIT */
/*
 * Deterministic failpoints for crash tests (docs/reliability.md P1): the
 * environment variable DEFERD_FAILPOINT names, comma-separated, the points
 * at which the daemon kills itself with SIGKILL, so that a test can hit
 * exactly one window of a job's life: after_claim, after_exec,
 * before_complete. One more, lose_outcome_reply, does not crash: the
 * daemon acts as if the reply to each outcome's first copy were lost
 * after Redis ran it, and sends it again. Unset (production), every check
 * is one load and a compare.
 */
#ifndef DEFERD_FAILPOINT_H
#define DEFERD_FAILPOINT_H

#include <stdbool.h>

/*
 * Read DEFERD_FAILPOINT once; warn when failpoints are armed and about
 * names that are not failpoints (they are ignored).
 */
void	failpoint_init(void);
/* Whether the failpoint name is armed (always false before failpoint_init). */
bool	failpoint_hit(const char *name);
/* If name is armed: log that it was reached, then raise SIGKILL. */
void	failpoint_crash(const char *name);

#endif
