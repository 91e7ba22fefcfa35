/* SPDX-License-Identifier: MIT */
/*
 * The handler's environment (docs/handlers.md), built from scratch: nothing
 * comes from the daemon's own environment. The part that depends only on
 * the config (PATH, LANG, handlers.environment, DEFERD_CONFIG) is built
 * once per config; each run adds its DEFERD_* variables on top.
 */
#ifndef DEFERD_RUNNER_ENV_H
#define DEFERD_RUNNER_ENV_H

#include <stddef.h>

#include "config.h"
#include "runner.h"

/*
 * A NULL-terminated "NAME=VALUE" array for execve. The first nborrowed
 * strings belong to the base environment it was built on; the rest are
 * owned by the array (runner_env_free frees only those).
 */
struct runner_env {
	char	**v;
	size_t	  n;
	size_t	  cap;
	size_t	  nborrowed;
};

/* Build the config-only part into env (owned). */
void	runner_env_base(struct runner_env *env, const struct config *cfg);
/* Build a run's environment: base (borrowed, must outlive out) plus spec's variables. */
void	runner_env_run(struct runner_env *out, const struct runner_env *base,
	    const struct run_spec *spec);
/*
 * Build a persistent process's environment: base (borrowed) plus
 * DEFERD_HANDLER and the n variables of extra (DEFERD_PROTOCOL, ...).
 */
void	runner_env_process(struct runner_env *out, const struct runner_env *base,
	    const char *handler, const struct env_var *extra, size_t n);
/* Free what env owns and zero it. */
void	runner_env_free(struct runner_env *env);

#endif
