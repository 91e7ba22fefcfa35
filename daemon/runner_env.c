/* SPDX-License-Identifier: MIT */
/* Handler environments: a per-config base plus per-run DEFERD_* variables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "runner_env.h"
#include "xmalloc.h"

#define RUNNER_DEFAULT_LANG	"C.UTF-8"

/*
 * Set name=value, replacing an earlier owned value of the same name (the
 * borrowed base is never replaced: run variables are all DEFERD_* names that
 * the base cannot hold). Bad names are skipped.
 */
static void
env_set(struct runner_env *env, const char *name, const char *value)
{
	size_t	 len;
	char	*s;

	if (name == NULL || *name == '\0' || strchr(name, '=') != NULL) {
		log_warnx("runner: skipping a bad environment variable name");
		return;
	}
	len = strlen(name);
	xasprintf(&s, "%s=%s", name, value != NULL ? value : "");
	for (size_t i = env->nborrowed; i < env->n; i++) {
		if (strncmp(env->v[i], name, len) == 0 && env->v[i][len] == '=') {
			free(env->v[i]);
			env->v[i] = s;
			return;
		}
	}
	if (env->n + 2 > env->cap) {
		env->cap = env->cap == 0 ? 32 : env->cap * 2;
		env->v = xreallocarray(env->v, env->cap, sizeof(*env->v));
	}
	env->v[env->n++] = s;
	env->v[env->n] = NULL;
}

void
runner_env_base(struct runner_env *env, const struct config *cfg)
{
	memset(env, 0, sizeof(*env));
	env_set(env, "PATH", HANDLER_PATH);
	env_set(env, "LANG", RUNNER_DEFAULT_LANG);
	for (size_t i = 0; i < cfg->handlers.nenvironment; i++)
		env_set(env, cfg->handlers.environment[i].name,
		    cfg->handlers.environment[i].value);
	if (cfg->path != NULL)
		env_set(env, "DEFERD_CONFIG", cfg->path);
}

/* Start out as a borrowing copy of base with room for more. */
static void
env_borrow(struct runner_env *out, const struct runner_env *base)
{
	memset(out, 0, sizeof(*out));
	out->cap = base->n + 16;
	out->v = xcalloc(out->cap, sizeof(*out->v));
	memcpy(out->v, base->v, base->n * sizeof(*out->v));
	out->n = out->nborrowed = base->n;
}

void
runner_env_process(struct runner_env *out, const struct runner_env *base,
    const char *handler, const struct env_var *extra, size_t n)
{
	env_borrow(out, base);
	env_set(out, "DEFERD_HANDLER", handler);
	for (size_t i = 0; i < n; i++)
		env_set(out, extra[i].name, extra[i].value);
}

void
runner_env_run(struct runner_env *out, const struct runner_env *base,
    const struct run_spec *spec)
{
	char	num[32];

	env_borrow(out, base);
	env_set(out, "DEFERD_JOB_ID", spec->job_id);
	env_set(out, "DEFERD_QUEUE", spec->queue);
	env_set(out, "DEFERD_HANDLER", spec->handler);
	snprintf(num, sizeof(num), "%d", spec->attempt);
	env_set(out, "DEFERD_ATTEMPT", num);
	snprintf(num, sizeof(num), "%d", spec->max_attempts);
	env_set(out, "DEFERD_MAX_ATTEMPTS", num);
	env_set(out, "DEFERD_SOURCE",
	    spec->source != NULL ? spec->source : "delayed");
	if (spec->resource != NULL)
		env_set(out, "DEFERD_RESOURCE", spec->resource);
	if (spec->fencing_token != NULL)
		env_set(out, "DEFERD_FENCING_TOKEN", spec->fencing_token);
	for (size_t i = 0; i < spec->nextra_env; i++)
		env_set(out, spec->extra_env[i].name, spec->extra_env[i].value);
}

void
runner_env_free(struct runner_env *env)
{
	for (size_t i = env->nborrowed; i < env->n; i++)
		free(env->v[i]);
	free(env->v);
	memset(env, 0, sizeof(*env));
}
