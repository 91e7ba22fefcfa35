/* SPDX-License-Identifier: MIT */
/*
 * Failpoints: crash on purpose at named points, for tests only. The names
 * are a fixed table, so a typo in DEFERD_FAILPOINT is reported at start
 * instead of silently testing nothing; the armed set is a bit mask, so a
 * daemon without the variable pays one compare per site.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failpoint.h"
#include "log.h"
#include "util.h"

#define FAILPOINT_ENV	"DEFERD_FAILPOINT"

static const char *const failpoint_names[] = {
	"after_claim",		/* a claim reply gave us a job, nothing spawned */
	"after_exec",		/* the handler was just spawned */
	"before_complete",	/* the handler succeeded, "complete" not sent */
	"lose_outcome_reply",	/* act as if each outcome's first reply were lost */
};
#define FAILPOINT_N	(sizeof(failpoint_names) / sizeof(failpoint_names[0]))

static uint32_t	failpoint_armed;	/* bit i: failpoint_names[i] */

/* Index of the failpoint named by the len bytes at s, or -1. */
static int
failpoint_index(const char *s, size_t len)
{
	for (size_t i = 0; i < FAILPOINT_N; i++)
		if (strlen(failpoint_names[i]) == len &&
		    memcmp(failpoint_names[i], s, len) == 0)
			return ((int)i);
	return (-1);
}

/*
 * Parse the comma-separated list once (blanks around names are allowed).
 * It is outside input: an unknown name is reported and ignored, never
 * fatal.
 */
void
failpoint_init(void)
{
	const char	*env = getenv(FAILPOINT_ENV), *p, *end;
	char		 armed[128], esc[64];
	size_t		 len, used = 0;
	int		 i;

	failpoint_armed = 0;
	for (p = env; p != NULL && *p != '\0'; p = *end == ',' ? end + 1 : end) {
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0)
			continue;
		if ((i = failpoint_index(p, len)) == -1) {
			util_escape(p, len, esc, sizeof(esc));
			log_warnx("%s: unknown failpoint '%s' ignored (known: "
			    "after_claim, after_exec, before_complete, "
			    "lose_outcome_reply)",
			    FAILPOINT_ENV, esc);
		} else
			failpoint_armed |= 1U << i;
	}
	if (failpoint_armed == 0)
		return;
	armed[0] = '\0';
	for (size_t k = 0; k < FAILPOINT_N; k++)
		if (failpoint_armed & (1U << k))
			used += (size_t)snprintf(armed + used, sizeof(armed) - used,
			    "%s%s", used > 0 ? "," : "", failpoint_names[k]);
	log_warnx("failpoints armed: %s (deferd kills itself with SIGKILL when "
	    "it reaches one; for crash tests only, never in production: unset %s)",
	    armed, FAILPOINT_ENV);
}

/* Whether name is armed: one compare when nothing is (production). */
bool
failpoint_hit(const char *name)
{
	int	i;

	if (failpoint_armed == 0)
		return (false);
	i = failpoint_index(name, strlen(name));
	return (i != -1 && (failpoint_armed & (1U << i)) != 0);
}

/* The crash itself: the log line tells a test which window it hit. */
void
failpoint_crash(const char *name)
{
	if (!failpoint_hit(name))
		return;
	log_warnx("failpoint %s reached: raising SIGKILL", name);
	raise(SIGKILL);
}
