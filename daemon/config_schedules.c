/* SPDX-License-Identifier: MIT */
/*
 * schedules: in the configuration file. Each item is a mapping
 * {name, cron | every, handler, payload, queue, resource, timezone,
 * missed, jitter}; this file parses one through config.c's schema walk and
 * checks what a single key cannot: exactly one of cron and every, a valid
 * expression (cron.c) and time zone, a unique name. Every error names the
 * field at file:line:column. That the queue is configured is checked with
 * the other queue references in config.c.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_schedules.h"
#include "cron.h"
#include "util.h"
#include "xmalloc.h"

#define SEC	INT64_C(1000)
#define HOUR	(3600 * SEC)
#define DAY	(24 * HOUR)

#define WHAT_NAME	"a schedule name of 1-100 characters matching " \
			"[A-Za-z0-9][A-Za-z0-9_.-]*"

static int	parse_schedules(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	parse_name(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	parse_cron(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	parse_timezone(struct cs_ctx *, const struct cs_key *,
		    const struct cy_node *, void *);
static int	check_schedule(struct cs_ctx *, const struct cy_node *, void *);

const struct cs_type config_t_schedules = { parse_schedules, cs_init_none };
static const struct cs_type t_name = { parse_name, cs_init_none };
static const struct cs_type t_cron = { parse_cron, cs_init_none };
static const struct cs_type t_timezone = { parse_timezone, cs_init_none };

static const struct cs_word missed_words[] = {
	{ "skip", MISSED_SKIP }, { "once", MISSED_ONCE }, { "all", MISSED_ALL },
	{ NULL, 0 }
};

#define S(m)	offsetof(struct schedule, m)

const struct cs_key config_schedule_keys[] = {
	{ .name = "name", .type = &t_name, .off = S(name) },
	{ .name = "cron", .type = &t_cron },
	{ .name = "every", .type = &cs_t_duration, .off = S(every_ms),
	  .min = SEC, .max = 366 * DAY },
	{ .name = "handler", .type = &cs_t_handler, .off = S(handler) },
	{ .name = "payload", .type = &cs_t_optstr, .off = S(payload) },
	{ .name = "queue", .type = &cs_t_qname, .off = S(queue) },
	{ .name = "resource", .type = &cs_t_optstr, .off = S(resource) },
	{ .name = "timezone", .type = &t_timezone },
	{ .name = "missed", .type = &cs_t_enum, .off = S(missed),
	  .def = MISSED_SKIP, .aux = missed_words },
	{ .name = "jitter", .type = &cs_t_duration, .off = S(jitter_ms),
	  .max = HOUR },
	{ .name = NULL }
};

static const struct cs_section schedule_section = {
	config_schedule_keys, check_schedule
};

/* The text of n, a scalar and not null, or NULL after a type error. */
static const char *
text_of(struct cs_ctx *ctx, const struct cy_node *n)
{
	if (cy_is_null(n)) {
		cs_type_error(ctx, n, CS_WHAT_STRING);
		return (NULL);
	}
	return (cs_scalar(ctx, n, CS_WHAT_STRING));
}

/* name: unique among the schedules parsed so far. */
static int
parse_name(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	const struct config	*c = ctx->config;
	const char		*s;
	char			 buf[72];

	(void)k;
	if ((s = text_of(ctx, n)) == NULL)
		return (-1);
	if (strlen(s) > SCHEDULE_NAME_MAX ||
	    !util_valid_handler_name(s, strlen(s)))
		return (cs_type_error(ctx, n, WHAT_NAME));
	if (config_schedule(c, s) != NULL)
		return (cs_key_error(ctx, n, "duplicate schedule name '%s'",
		    cs_esc(s, buf, sizeof(buf))));
	*(char **)dst = xstrdup(s);
	return (0);
}

/* cron: an expression cron_parse takes, its message naming the field. */
static int
parse_cron(struct cs_ctx *ctx, const struct cs_key *k, const struct cy_node *n,
    void *dst)
{
	struct schedule	*sc = dst;
	const char	*s;
	char		 err[256];

	(void)k;
	if ((s = text_of(ctx, n)) == NULL)
		return (-1);
	if (cron_parse(s, &sc->cron, err, sizeof(err)) == -1)
		return (cs_key_error(ctx, n, "%s", err));
	sc->cron_expr = xstrdup(s);
	return (0);
}

/* timezone: an IANA name the system's tzdata has. */
static int
parse_timezone(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	struct schedule	*sc = dst;
	const char	*s;
	char		 err[256];

	(void)k;
	if ((s = text_of(ctx, n)) == NULL)
		return (-1);
	if (cron_check_tz(s, err, sizeof(err)) == -1)
		return (cs_key_error(ctx, n, "%s", err));
	sc->timezone = xstrdup(s);
	return (0);
}

/* An error about key of mapping n, at its value and under its name. */
static int
key_error_at(struct cs_ctx *ctx, const struct cy_node *n, const char *key,
    const char *msg)
{
	size_t	len = cs_path_push(ctx, key);

	cs_key_error(ctx, cy_map_get(n, key), "%s", msg);
	cs_path_pop(ctx, len);
	return (-1);
}

/*
 * A schedule needs a name, a handler and exactly one of cron and every;
 * timezone applies to cron only (every counts from the epoch).
 */
static int
check_schedule(struct cs_ctx *ctx, const struct cy_node *n, void *base)
{
	const struct schedule	*sc = base;

	if (sc->name == NULL)
		return (cs_key_error(ctx, n, "name is required"));
	if (sc->handler == NULL)
		return (cs_key_error(ctx, n, "handler is required"));
	if (sc->cron_expr == NULL && sc->every_ms == 0)
		return (cs_key_error(ctx, n, "one of cron and every is required"));
	if (sc->cron_expr != NULL && sc->every_ms != 0)
		return (key_error_at(ctx, n, "every",
		    "give only one of cron and every"));
	if (sc->every_ms != 0 && sc->timezone != NULL)
		return (key_error_at(ctx, n, "timezone",
		    "applies only to cron schedules; every counts from the "
		    "epoch and needs no time zone"));
	return (0);
}

/* schedules: a list of schedule mappings. */
static int
parse_schedules(struct cs_ctx *ctx, const struct cs_key *k,
    const struct cy_node *n, void *dst)
{
	struct config	*c = ctx->config;

	(void)k;
	(void)dst;
	return (cs_parse_list(ctx, n, "a list of schedules", &schedule_section,
	    (void **)&c->schedules, &c->nschedules, sizeof(*c->schedules)));
}

/* The schedule named name, or NULL. */
const struct schedule *
config_schedule(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nschedules; i++)
		if (c->schedules[i].name != NULL &&
		    strcmp(c->schedules[i].name, name) == 0)
			return (&c->schedules[i]);
	return (NULL);
}

void
config_schedules_free(struct config *c)
{
	for (size_t i = 0; i < c->nschedules; i++) {
		struct schedule	*sc = &c->schedules[i];

		free(sc->name);
		free(sc->cron_expr);
		free(sc->handler);
		free(sc->payload);
		free(sc->queue);
		free(sc->resource);
		free(sc->timezone);
	}
	free(c->schedules);
}
