/* SPDX-License-Identifier: MIT */
/* The clock of a periodic job; see schedule_ticks.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "schedule_ticks.h"

#define HOUR_MS		INT64_C(3600000)
#define MISSED_WINDOW_GROWTH	16	/* the search window grows by this */

int64_t
schedule_next_tick(const struct schedule *sc, int64_t after_ms)
{
	int64_t	s;

	if (after_ms < 0)
		after_ms = -1;
	if (sc->every_ms > 0)
		return ((after_ms < 0 ? 0 : after_ms / sc->every_ms + 1) *
		    sc->every_ms);
	s = cron_next(&sc->cron, sc->timezone, after_ms < 0 ? -1 :
	    after_ms / 1000);
	return (s < 0 ? -1 : s * 1000);
}

int64_t
schedule_lookahead_ms(const struct schedule *sc, int64_t now_ms)
{
	int64_t	t1 = schedule_next_tick(sc, now_ms), t2, gap;

	if (t1 < 0 || (t2 = schedule_next_tick(sc, t1)) < 0)
		return (SCHEDULE_LOOKAHEAD_MAX_MS);
	gap = t2 - t1;
	if (gap < SCHEDULE_LOOKAHEAD_MIN_MS)
		return (SCHEDULE_LOOKAHEAD_MIN_MS);
	return (gap > SCHEDULE_LOOKAHEAD_MAX_MS ? SCHEDULE_LOOKAHEAD_MAX_MS : gap);
}

/*
 * The missed ticks, (last, now]: count them, and put the latest keep of
 * them (ascending) at the start of p->ticks. The search starts an hour
 * back and widens until it reaches last or holds keep ticks, so a long
 * outage of a one-second schedule costs no more than the ticks kept.
 */
static void
plan_missed(const struct schedule *sc, int64_t last, int64_t now, size_t keep,
    struct tick_plan *p)
{
	int64_t		 ring[SCHEDULE_MISSED_MAX], window = HOUR_MS, from, t;
	uint64_t	 n;
	size_t		 want = keep > 0 ? keep : 1;

	for (;;) {
		from = now - window > last ? now - window : last;
		n = 0;
		for (t = schedule_next_tick(sc, from); t >= 0 && t <= now;
		    t = schedule_next_tick(sc, t))
			ring[n++ % SCHEDULE_MISSED_MAX] = t;
		if (from == last || n >= want)
			break;
		window *= MISSED_WINDOW_GROWTH;
	}
	p->missed = n;
	p->missed_more = from != last;
	if (keep > n)
		keep = (size_t)n;
	for (size_t i = 0; i < keep; i++)
		p->ticks[i] = ring[(n - keep + i) % SCHEDULE_MISSED_MAX];
	p->nticks = p->nrun_missed = keep;
}

void
schedule_plan(const struct schedule *sc, int64_t last, int64_t now,
    struct tick_plan *p)
{
	int64_t	ahead = schedule_lookahead_ms(sc, now);
	int64_t	t, from = last > now ? last : now;
	size_t	keep = sc->missed == MISSED_ALL ? SCHEDULE_MISSED_MAX :
		    sc->missed == MISSED_ONCE ? 1 : 0;

	memset(p, 0, sizeof(*p));
	if (last >= 0 && last < now)
		plan_missed(sc, last, now, keep, p);
	for (t = schedule_next_tick(sc, from); t >= 0 && t <= now + ahead &&
	    p->nticks < SCHEDULE_PLAN_MAX; t = schedule_next_tick(sc, t)) {
		p->ticks[p->nticks++] = t;
		from = t;
	}
	/* The first tick not enqueued now comes into the window at t - ahead. */
	p->wake_ms = t < 0 ? -1 : t - ahead;
	if (p->wake_ms >= 0 && p->wake_ms <= now)
		p->wake_ms = now + 1;
}

char *
schedule_tick_text(const struct schedule *sc, int64_t tick_ms, char *buf,
    size_t len)
{
	char	local[64], off[8];
	int64_t	s = tick_ms / 1000;
	struct tm tm;
	time_t	tt = (time_t)s;

	if (sc->timezone == NULL || strcmp(sc->timezone, "UTC") == 0) {
		gmtime_r(&tt, &tm);
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return (buf);
	}
	cron_format_iso(s, sc->timezone, local, sizeof(local), off, sizeof(off));
	snprintf(buf, len, "%s%s", local, off);
	return (buf);
}

/* FNV-1a over n bytes, continuing from h. */
static uint64_t
fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char	*p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return (h);
}

/* Add a string field (NULL and "" differ), length first so fields cannot blur. */
static uint64_t
fnv1a_field(uint64_t h, const char *s)
{
	uint64_t	len = s != NULL ? strlen(s) + 1 : 0;

	h = fnv1a(h, &len, sizeof(len));
	return (s != NULL ? fnv1a(h, s, len) : h);
}

void
schedule_fingerprint(const struct schedule *sc, const char *queue, char *buf,
    size_t len)
{
	uint64_t	h = UINT64_C(0xcbf29ce484222325);

	h = fnv1a_field(h, sc->cron_expr);
	h = fnv1a(h, &sc->every_ms, sizeof(sc->every_ms));
	h = fnv1a_field(h, sc->timezone);
	h = fnv1a_field(h, sc->handler);
	h = fnv1a_field(h, sc->payload);
	h = fnv1a_field(h, queue);
	h = fnv1a_field(h, sc->resource);
	h = fnv1a(h, &sc->jitter_ms, sizeof(sc->jitter_ms));
	snprintf(buf, len, "%016" PRIx64, h);
}
