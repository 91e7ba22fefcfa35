/* SPDX-License-Identifier: MIT */
/* The precise-expiry watch; see expire_watch.h. */
#include <event2/event.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deferd.h"
#include "cluster.h"
#include "config.h"
#include "expire_watch.h"
#include "keys.h"
#include "keyslot.h"
#include "log.h"
#include "rconn.h"
#include "store.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define EW_TOUCH_LIMIT		500	/* due keys touched per script call */
#define EW_TRACK_BATCH		200	/* keys per track call */
#define EW_SCAN_COUNT		"1000"
#define EW_SAFETY_MS		1000	/* touch at least this often */
#define EW_SAFETY_SLOTS		16	/* a cluster's watches touched per second */

struct expire_watch {
	struct deferd	 *d;
	char		 *ns;
	char		  dbstr[16];
	char		**patterns;
	size_t		  npatterns;
	bool		  closing;

	/* one watch, or one per slot of a cluster */
	size_t		  nwatch;
	int64_t		 *due;		/* monotonic ms to touch it, -1: none */
	bool		 *has;		/* it had keys at the last reply */
	bool		 *busy;		/* a touch in flight */
	bool		 *again;	/* touch again when it is answered */
	struct event	 *touch_timer;	/* at the earliest due */
	int64_t		  touch_at;	/* -1: unarmed */
	struct event	 *safety_timer;
	size_t		  safety_next;	/* the watch the net looks at next */

	/* keys from `expire` events and SCAN pages, tracked next loop turn */
	char		**keys;
	size_t		 *lens;
	size_t		  nkeys;
	struct event	 *track_ev;

	/* SCAN of every pattern, on every master of a cluster */
	struct event	 *scan_ev;
	bool		  scanning;
	bool		  scan_again;
	size_t		  scan_pattern;
	size_t		  scan_node;
	char		  scan_cursor[32];
};

/* A call about watch i, until its reply. */
struct ew_call {
	struct expire_watch	*w;
	size_t			 i;
};

static void	ew_touch(struct expire_watch *, size_t);

/*
 * N of watch NS:{exp-N}:watch for slot: the first N whose tag "exp-N" is
 * in that slot. A table made once, the same in every daemon.
 */
static unsigned
ew_slot_tag(unsigned slot)
{
	static unsigned	*tags;
	char		 tag[32];
	size_t		 left = KEYSLOT_COUNT;

	if (tags == NULL) {
		tags = xcalloc(KEYSLOT_COUNT, sizeof(*tags));
		for (unsigned n = 1; left > 0; n++) {
			int len = snprintf(tag, sizeof(tag), "exp-%u", n);
			unsigned s = keyslot(tag, (size_t)len);

			if (tags[s] == 0) {
				tags[s] = n;
				left--;
			}
		}
	}
	return (tags[slot]);
}

/* The name of watch i (the caller frees it). */
static char *
ew_key(const struct expire_watch *w, size_t i)
{
	char	*key;

	if (w->nwatch == 1)
		key = keys_exp_watch(w->ns);
	else
		xasprintf(&key, "%s:{exp-%u}:watch", w->ns,
		    ew_slot_tag((unsigned)i));
	return (key);
}

/* The watch of key: its slot on a cluster, else the one. */
static size_t
ew_of(const struct expire_watch *w, const char *key, size_t len)
{
	return (w->nwatch == 1 ? 0 : keyslot(key, len));
}

/* Arm the touch timer for the earliest due watch, if sooner than armed. */
static void
ew_arm_timer(struct expire_watch *w, int64_t at)
{
	int64_t	now = util_mono_ms();

	if (w->touch_at != -1 && w->touch_at <= at)
		return;
	w->touch_at = at;
	timer_after(w->touch_timer, at > now ? at - now : 0);
}

/* Touch watch i delay_ms from now, unless it is due earlier. */
static void
ew_arm(struct expire_watch *w, size_t i, int64_t delay_ms)
{
	int64_t	at = util_mono_ms() + delay_ms;

	if (w->due[i] == -1 || at < w->due[i])
		w->due[i] = at;
	ew_arm_timer(w, w->due[i]);
}

/* Arm watch i for its earliest score first, given Redis's now. */
static void
ew_arm_for(struct expire_watch *w, size_t i, long long now, long long first)
{
	w->has[i] = first >= 0;
	if (first < 0)
		return;
	/* Redis expires a key once now > its expiry time. */
	ew_arm(w, i, first >= now ? first - now + 1 : 0);
}

/* A call about watch i (freed by its reply). */
static struct ew_call *
ew_call_new(struct expire_watch *w, size_t i)
{
	struct ew_call	*c = xcalloc(1, sizeof(*c));

	c->w = w;
	c->i = i;
	return (c);
}

/* Reply callback for commands whose answer does not matter (ZREM). */
static void
ew_ignore_reply(redisReply *reply, void *priv)
{
	(void)reply;
	(void)priv;
}

/* Reply of track: {now, first, tracked}. */
static void
ew_track_reply(redisReply *reply, void *priv)
{
	struct ew_call		*c = priv;
	struct expire_watch	*w = c->w;
	struct store_tracked	 t;
	char			 err[256], *key;

	if (reply != NULL && !w->closing) {
		if (store_track_reply(reply, &t, err, sizeof(err)) == -1) {
			key = ew_key(w, c->i);
			log_errorx("expirations: tracking keys in %s failed: %s",
			    key, err);
			free(key);
		} else
			ew_arm_for(w, c->i, t.now_ms, t.first_ms);
	}
	free(c);
}

/*
 * One track call of keys[0..n) into watch i. The application's keys go in
 * ARGV, not KEYS: Redis's ACL requires write access to every declared key
 * of EVALSHA, and deferd only reads them.
 */
static void
ew_track_send(struct expire_watch *w, size_t i, char **keys, size_t *lens,
    size_t n)
{
	struct store_call	 c;
	struct ew_call		*call = ew_call_new(w, i);
	char			*watch = ew_key(w, i);

	store_track(&c, watch, w->dbstr, keys, lens, n);
	if (store_send(w->d->cmd, &c, ew_track_reply, call) == -1)
		free(call);
	free(watch);
}

/* A key waiting to be tracked, with its watch, for sorting by watch. */
struct ew_pending {
	size_t	i;
	size_t	k;
};

static int
ew_pending_cmp(const void *a, const void *b)
{
	const struct ew_pending	*x = a, *y = b;

	if (x->i != y->i)
		return (x->i < y->i ? -1 : 1);
	return (x->k < y->k ? -1 : x->k > y->k);
}

/* Send the waiting keys, in batches of one watch each. */
static void
ew_track_flush(struct expire_watch *w)
{
	struct ew_pending	*p = xcalloc(w->nkeys + 1, sizeof(*p));
	char			**keys = xcalloc(EW_TRACK_BATCH, sizeof(*keys));
	size_t			*lens = xcalloc(EW_TRACK_BATCH, sizeof(*lens));

	for (size_t k = 0; k < w->nkeys; k++) {
		p[k].i = ew_of(w, w->keys[k], w->lens[k]);
		p[k].k = k;
	}
	qsort(p, w->nkeys, sizeof(*p), ew_pending_cmp);
	for (size_t k = 0; k < w->nkeys; ) {
		size_t n = 0, i = p[k].i;

		while (k < w->nkeys && p[k].i == i && n < EW_TRACK_BATCH) {
			keys[n] = w->keys[p[k].k];
			lens[n++] = w->lens[p[k++].k];
		}
		ew_track_send(w, i, keys, lens, n);
	}
	free(keys);
	free(lens);
	free(p);
}

/* Zero-delay event: track the keys gathered since the last turn. */
static void
ew_track_cb(evutil_socket_t fd, short what, void *arg)
{
	struct expire_watch	*w = arg;

	(void)fd;
	(void)what;
	if (rconn_ready(w->d->cmd))
		ew_track_flush(w);
	for (size_t k = 0; k < w->nkeys; k++)
		free(w->keys[k]);
	w->nkeys = 0;
}

void
expire_watch_track(struct expire_watch *w, const char *key, size_t len)
{
	w->keys = xreallocarray(w->keys, w->nkeys + 1, sizeof(*w->keys));
	w->lens = xreallocarray(w->lens, w->nkeys + 1, sizeof(*w->lens));
	w->keys[w->nkeys] = xmemdup(key, len);
	w->lens[w->nkeys++] = len;
	if (w->nkeys == 1)
		timer_after(w->track_ev, 0);
}

void
expire_watch_forget(struct expire_watch *w, const char *key, size_t len)
{
	size_t	 plen = strlen(w->dbstr), mlen = plen + 1 + len;
	char	*member, *watch;

	if (!rconn_ready(w->d->cmd))
		return;		/* the touch removes it at its deadline */
	member = xmalloc(mlen);
	memcpy(member, w->dbstr, plen);
	member[plen] = ':';
	memcpy(member + plen + 1, key, len);
	watch = ew_key(w, ew_of(w, key, len));
	rconn_command(w->d->cmd, ew_ignore_reply, NULL, 3, (const char *[]){
	    "ZREM", watch, member }, (const size_t[]){ 4, strlen(watch), mlen });
	free(watch);
	free(member);
}

/* Reply of touch: {now, first, touched, removed}. */
static void
ew_touch_reply(redisReply *reply, void *priv)
{
	struct ew_call		*c = priv;
	struct expire_watch	*w = c->w;
	size_t			 i = c->i;
	struct store_touched	 t;
	char			 err[256], *key;

	free(c);
	if (w->closing)
		return;
	w->busy[i] = false;
	if (reply == NULL)
		return;
	if (store_touch_reply(reply, &t, err, sizeof(err)) == -1) {
		key = ew_key(w, i);
		log_errorx("expirations: touching due keys of %s failed: %s",
		    key, err);
		free(key);
		return;
	}
	if (t.touched > 0)
		log_debug("expirations: touched %" PRId64 " due key(s), %" PRId64
		    " gone", t.touched, t.removed);
	if (w->again[i] || (t.first_ms >= 0 && t.first_ms <= t.now_ms)) {
		w->again[i] = false;
		w->has[i] = true;
		ew_arm(w, i, 0);	/* more due than one call takes */
	} else
		ew_arm_for(w, i, t.now_ms, t.first_ms);
}

/* Touch the due keys of watch i. */
static void
ew_touch(struct expire_watch *w, size_t i)
{
	struct store_call	 c;
	struct ew_call		*call;
	char			*watch;

	if (!rconn_ready(w->d->cmd))
		return;
	if (w->busy[i]) {
		w->again[i] = true;
		return;
	}
	call = ew_call_new(w, i);
	watch = ew_key(w, i);
	store_touch(&c, watch, w->dbstr, EW_TOUCH_LIMIT);
	if (store_send(w->d->cmd, &c, ew_touch_reply, call) == 0)
		w->busy[i] = true;
	else
		free(call);
	free(watch);
}

/* Timer: touch every watch that is due, then arm for the next. */
static void
ew_touch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct expire_watch	*w = arg;
	int64_t			 now = util_mono_ms(), next = -1;

	(void)fd;
	(void)what;
	w->touch_at = -1;
	for (size_t i = 0; i < w->nwatch; i++) {
		if (w->due[i] == -1)
			continue;
		if (w->due[i] <= now) {
			w->due[i] = -1;
			ew_touch(w, i);
		} else if (next == -1 || w->due[i] < next)
			next = w->due[i];
	}
	if (next != -1)
		ew_arm_timer(w, next);
}

/*
 * Every second: touch the watch, for keys another daemon tracked and
 * whose events we missed. On a cluster, the next EW_SAFETY_SLOTS watches
 * that had keys, in turn, so that the net costs a few calls a second
 * however many slots hold watched keys.
 */
static void
ew_safety_cb(evutil_socket_t fd, short what, void *arg)
{
	struct expire_watch	*w = arg;
	size_t			 done = 0;

	(void)fd;
	(void)what;
	if (w->nwatch == 1) {
		ew_touch(w, 0);
		return;
	}
	for (size_t n = 0; n < w->nwatch && done < EW_SAFETY_SLOTS; n++) {
		size_t i = (w->safety_next + n) % w->nwatch;

		if (w->has[i]) {
			ew_touch(w, i);
			done++;
			w->safety_next = i + 1;
		}
	}
}

/* Send one SCAN page (on the master being scanned, on a cluster). */
static int
ew_scan_send(struct expire_watch *w, rconn_reply_cb cb)
{
	const char	*argv[] = { "SCAN", w->scan_cursor, "MATCH",
			    w->patterns[w->scan_pattern], "COUNT", EW_SCAN_COUNT };

	if (w->d->cluster != NULL)
		return (cluster_command_master(w->d->cluster, w->scan_node, cb,
		    w, 6, argv, NULL));
	return (rconn_command(w->d->cmd, cb, w, 6, argv, NULL));
}

/* The next pattern (or, after the last, the next master) to scan. */
static void
ew_scan_next(struct expire_watch *w)
{
	snprintf(w->scan_cursor, sizeof(w->scan_cursor), "0");
	if (++w->scan_pattern < w->npatterns)
		return;
	w->scan_pattern = 0;
	w->scan_node++;
}

/* Reply of one SCAN page: {cursor, keys}; track them, go on next turn. */
static void
ew_scan_reply(redisReply *reply, void *priv)
{
	struct expire_watch	*w = priv;
	redisReply		*keys;

	w->scanning = false;
	if (reply == NULL || w->closing)
		return;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[1]->type != REDIS_REPLY_ARRAY) {
		log_errorx("expirations: SCAN for rule %s failed: %s",
		    w->patterns[w->scan_pattern],
		    reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
		return;
	}
	keys = reply->element[1];
	for (size_t i = 0; i < keys->elements; i++)
		if (keys->element[i]->type == REDIS_REPLY_STRING)
			expire_watch_track(w, keys->element[i]->str,
			    keys->element[i]->len);
	snprintf(w->scan_cursor, sizeof(w->scan_cursor), "%s",
	    reply->element[0]->str);
	if (strcmp(w->scan_cursor, "0") == 0)
		ew_scan_next(w);
	if (w->scan_again) {
		w->scan_again = false;
		w->scan_pattern = w->scan_node = 0;
		snprintf(w->scan_cursor, sizeof(w->scan_cursor), "0");
	}
	timer_after(w->scan_ev, 0);
}

/* Zero-delay event: the next SCAN page, until every node and pattern is done. */
static void
ew_scan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct expire_watch	*w = arg;
	size_t			 nodes = w->d->cluster != NULL ?
				    cluster_masters(w->d->cluster) : 1;

	(void)fd;
	(void)what;
	if (w->scan_node >= nodes || w->npatterns == 0) {
		log_debug("expirations: SCAN of tracked keys done");
		return;
	}
	if (!rconn_ready(w->d->cmd))
		return;		/* started again on the next up */
	if (ew_scan_send(w, ew_scan_reply) == 0)
		w->scanning = true;
}

void
expire_watch_rescan(struct expire_watch *w)
{
	if (w->scanning) {
		w->scan_again = true;
		return;
	}
	w->scan_pattern = w->scan_node = 0;
	snprintf(w->scan_cursor, sizeof(w->scan_cursor), "0");
	timer_after(w->scan_ev, 0);
}

void
expire_watch_up(struct expire_watch *w)
{
	struct timeval	tv = { EW_SAFETY_MS / 1000, (EW_SAFETY_MS % 1000) * 1000 };

	if (w->closing)
		return;
	expire_watch_rescan(w);
	event_add(w->safety_timer, &tv);
	ew_safety_cb(-1, 0, w);
}

void
expire_watch_down(struct expire_watch *w)
{
	event_del(w->safety_timer);
	evtimer_del(w->touch_timer);
	w->touch_at = -1;
	for (size_t i = 0; i < w->nwatch; i++)
		w->due[i] = -1;
}

struct expire_watch *
expire_watch_new(struct deferd *d, const char *const *patterns,
    size_t npatterns)
{
	struct expire_watch	*w = xcalloc(1, sizeof(*w));

	w->d = d;
	w->ns = xstrdup(d->cfg->namespace);
	snprintf(w->dbstr, sizeof(w->dbstr), "%d", d->cfg->redis.target.db);
	w->patterns = xcalloc(npatterns + 1, sizeof(*w->patterns));
	for (size_t i = 0; i < npatterns; i++)
		w->patterns[i] = xstrdup(patterns[i]);
	w->npatterns = npatterns;
	w->nwatch = d->cluster != NULL ? KEYSLOT_COUNT : 1;
	w->due = xcalloc(w->nwatch, sizeof(*w->due));
	for (size_t i = 0; i < w->nwatch; i++)
		w->due[i] = -1;
	w->has = xcalloc(w->nwatch, sizeof(*w->has));
	w->busy = xcalloc(w->nwatch, sizeof(*w->busy));
	w->again = xcalloc(w->nwatch, sizeof(*w->again));
	w->touch_at = -1;
	w->touch_timer = evtimer_new(d->base, ew_touch_cb, w);
	w->safety_timer = event_new(d->base, -1, EV_PERSIST, ew_safety_cb, w);
	w->track_ev = evtimer_new(d->base, ew_track_cb, w);
	w->scan_ev = evtimer_new(d->base, ew_scan_cb, w);
	if (w->touch_timer == NULL || w->safety_timer == NULL ||
	    w->track_ev == NULL || w->scan_ev == NULL)
		fatalx("expirations: cannot create timers");
	return (w);
}

void
expire_watch_stop(struct expire_watch *w)
{
	if (w == NULL)
		return;
	w->closing = true;
	evtimer_del(w->touch_timer);
	event_del(w->safety_timer);
	evtimer_del(w->track_ev);
	evtimer_del(w->scan_ev);
	for (size_t k = 0; k < w->nkeys; k++)
		free(w->keys[k]);
	w->nkeys = 0;
}

void
expire_watch_free(struct expire_watch *w)
{
	if (w == NULL)
		return;
	for (size_t k = 0; k < w->nkeys; k++)
		free(w->keys[k]);
	free(w->keys);
	free(w->lens);
	for (size_t i = 0; i < w->npatterns; i++)
		free(w->patterns[i]);
	free(w->patterns);
	free(w->due);
	free(w->has);
	free(w->busy);
	free(w->again);
	event_free(w->touch_timer);
	event_free(w->safety_timer);
	event_free(w->track_ev);
	event_free(w->scan_ev);
	free(w->ns);
	free(w);
}
