/* SPDX-License-Identifier: MIT */
/*
 * Key expirations as jobs (docs/architecture.md). On the subscriber connection:
 * `__keyevent@*__:expired` for every database, and, for the configured
 * database, `expire` and `del`. An expired key that matches a rule becomes
 * a job through the expjob script (deduplicated across daemons by a
 * marker). Keys of the configured database that match a rule are tracked
 * by the watch (expire_watch.c), which makes Redis expire them on time.
 * Rules for other databases get events but no tracking: deferd's
 * connections stay in their one database.
 *
 * Also: notify-keyspace-events is checked (and set with configure_redis)
 * at every connect, and pub/sub outages are logged and counted, since
 * events published while nobody listens are lost.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deferd.h"
#include "expire_watch.h"
#include "canary.h"
#include "cluster.h"
#include "cluster_subs.h"
#include "glob.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "rconn.h"
#include "sources.h"
#include "store.h"
#include "subs.h"
#include "template.h"
#include "timer.h"
#include "util.h"
#include "xmalloc.h"

#define EXP_MARKER_TTL_MS	300000	/* dedupe marker of a created job */
#define EXP_PENDING_MAX		100000	/* expirations kept while Redis is down */
#define EXP_FLAGS_LOG_MS	60000	/* missing flags: error once a minute */

struct exp_rule {
	const struct expiration_rule *r;	/* in the config of the start */
	char		*prefix;		/* NS:{Q}: */
	char		*k_delayed;
	char		*k_wake;
	bool		 tracked;		/* applies to the configured db */
};

/* One expiration to turn into a job: waiting for Redis or in flight. */
struct exp_req {
	TAILQ_ENTRY(exp_req)	 entry;
	struct expire		*e;
	size_t			 rule;
	int			 db;
	char			*key;
	size_t			 len;
};
TAILQ_HEAD(exp_reqs, exp_req);

struct expire {
	struct deferd	*d;
	sources_ready_cb ready_cb;	/* the first check is done */
	void		*ready_arg;
	struct exp_rule	*rules;
	size_t		 nrules;
	int		 db;		/* of our connections: the one tracked */
	struct expire_watch *watch;	/* some rule applies to db, or NULL */
	bool		 closing;	/* stopped (reload) or being freed */
	bool		 startup;	/* missing flags are fatal (before READY) */

	struct exp_reqs	 pending;	/* not sent: Redis down */
	size_t		 npending;
	uint64_t	 created, duplicates, lost;

	/* notify-keyspace-events, on every master of a cluster */
	unsigned	 flags_round;	/* of the check under way */
	size_t		 flags_waiting;	/* its nodes not answered yet */
	bool		 flags_ok_once;
	bool		 flags_denied;	/* CONFIG GET refused: not asked again */
	struct canary	*canary;	/* proves that expired events arrive */
	bool		 canary_failed;	/* the last probe heard nothing */
	bool		 checked;	/* the first check is done: READY may go out */
	struct event	*flags_timer;

	/* pub/sub outages */
	int64_t		 sub_down_mono;	/* -1: up */
	int64_t		 sub_down_real;
	int64_t		 lost_window_ms;
};

static void	expire_send(struct expire *, struct exp_req *);
static void	expire_check_flags(struct expire *);
static void	expire_checked(struct expire *);

/* Free a request. */
static void
exp_req_free(struct exp_req *q)
{
	free(q->key);
	free(q);
}

/* Keep q until the command connection is back (bounded). */
static void
expire_hold(struct expire *e, struct exp_req *q)
{
	char	key[256];

	if (e->npending >= EXP_PENDING_MAX) {
		e->lost++;
		log_errorx("expirations: key %s expired while Redis was "
		    "unreachable and %d others wait; dropped (rule %s)",
		    util_escape(q->key, q->len, key, sizeof(key)),
		    EXP_PENDING_MAX, e->rules[q->rule].r->pattern);
		exp_req_free(q);
		return;
	}
	TAILQ_INSERT_TAIL(&e->pending, q, entry);
	e->npending++;
}

/* Reply of expjob: {1, id} created, {0, id} done elsewhere already. */
static void
expire_job_reply(redisReply *reply, void *priv)
{
	struct exp_req		*q = priv;
	struct expire		*e = q->e;
	struct store_expjobbed	 x;
	char			 key[256], err[256];

	if (reply == NULL) {
		if (e->closing)
			exp_req_free(q);
		else
			expire_hold(e, q);	/* sent again on reconnect */
		return;
	}
	util_escape(q->key, q->len, key, sizeof(key));
	if (store_expjob_reply(reply, &x, err, sizeof(err)) == -1) {
		e->lost++;
		log_errorx("expirations: key %s (db %d, rule %s, handler %s): "
		    "creating the job failed: %s", key, q->db,
		    e->rules[q->rule].r->pattern, e->rules[q->rule].r->handler,
		    err);
	} else if (x.created) {
		e->created++;
		metrics_expire_created();
		log_info("expirations: key %s expired (db %d, rule %s): job %s "
		    "for %s", key, q->db, e->rules[q->rule].r->pattern, x.id,
		    e->rules[q->rule].r->handler);
	} else {
		e->duplicates++;
		log_debug("expirations: key %s: job %s already made", key, x.id);
	}
	exp_req_free(q);
}

/* The rule's resource for key with captures m, or NULL (none or error). */
static char *
expire_resource(struct expire *e, size_t rule, const char *key, size_t len,
    const struct glob_match *m)
{
	const char	*tmpl = e->rules[rule].r->resource;
	char		*caps[GLOB_MAX_CAPTURES + 1], err[256], *res;

	if (tmpl == NULL)
		return (NULL);
	caps[0] = xstrndup(key, len);
	for (size_t i = 0; i < m->n; i++)
		caps[i + 1] = xstrndup(key + m->cap[i].off, m->cap[i].len);
	res = template_expand(tmpl, (const char *const *)caps, m->n + 1, err,
	    sizeof(err));
	if (res == NULL)
		log_errorx("expirations: rule %s: resource '%s': %s; the job "
		    "runs without a lock", e->rules[rule].r->pattern, tmpl, err);
	for (size_t i = 0; i <= m->n; i++)
		free(caps[i]);
	return (res);
}

/* Send the expjob script for q (or hold it while Redis is down). */
static void
expire_send(struct expire *e, struct exp_req *q)
{
	const struct exp_rule		*r = &e->rules[q->rule];
	struct store_expjob_args	 a;
	struct store_call		 c;
	struct glob_match		 m;
	char				*res;

	if (!rconn_ready(e->d->cmd)) {
		expire_hold(e, q);
		return;
	}
	glob_match(r->r->pattern, q->key, q->len, &m);
	res = expire_resource(e, q->rule, q->key, q->len, &m);
	memset(&a, 0, sizeof(a));
	a.k_delayed = r->k_delayed;
	a.prefix = r->prefix;
	a.db = q->db;
	a.key = q->key;
	a.key_len = q->len;
	a.handler = r->r->handler;
	a.resource = res != NULL ? res : "";
	a.pattern = r->r->pattern;
	a.marker_ttl_ms = EXP_MARKER_TTL_MS;
	a.wake = r->k_wake;
	a.events = e->d->events_chan;
	store_expjob(&c, &a);
	if (store_send(e->d->cmd, &c, expire_job_reply, q) == -1)
		expire_hold(e, q);
	free(res);
}

/* The first rule matching key in database db, or -1. */
static ssize_t
expire_find_rule(const struct expire *e, int db, const char *key, size_t len)
{
	for (size_t i = 0; i < e->nrules; i++) {
		const struct expiration_rule *r = e->rules[i].r;

		if ((r->db == -1 || r->db == db) &&
		    glob_match(r->pattern, key, len, NULL))
			return ((ssize_t)i);
	}
	return (-1);
}

/* A key event of the configured database: expire (track) or del (untrack). */
static void
expire_tracking_event(struct expire *e, const char *event, const char *key,
    size_t len)
{
	ssize_t	 rule = expire_find_rule(e, e->db, key, len);

	if (rule == -1 || !e->rules[rule].tracked)
		return;
	if (strcmp(event, "expire") == 0)
		expire_watch_track(e->watch, key, len);
	else
		expire_watch_forget(e->watch, key, len);
}

/* Parse "__keyevent@DB__:EVENT"; returns the event name or NULL. */
static const char *
expire_parse_channel(const char *channel, int *db)
{
	const char	*p;
	char		*end;
	long		 n;

	if (strncmp(channel, "__keyevent@", 11) != 0)
		return (NULL);
	n = strtol(channel + 11, &end, 10);
	if (end == channel + 11 || n < 0 || n > 1000000 ||
	    strncmp(end, "__:", 3) != 0)
		return (NULL);
	p = end + 3;
	*db = (int)n;
	return (p);
}

/* A key event from the subscriber connection. */
static void
expire_event_cb(const char *channel, const char *payload, size_t len,
    void *priv)
{
	struct expire	*e = priv;
	struct exp_req	*q;
	const char	*event;
	ssize_t		 rule;
	int		 db;

	if ((event = expire_parse_channel(channel, &db)) == NULL || len == 0)
		return;
	if (strcmp(event, "expired") != 0) {
		if (db == e->db && e->watch != NULL)
			expire_tracking_event(e, event, payload, len);
		return;
	}
	if (canary_event(e->canary, db, payload, len))
		return;
	if ((rule = expire_find_rule(e, db, payload, len)) == -1)
		return;
	metrics_expire_event();
	if (db == e->db && e->rules[rule].tracked)
		expire_tracking_event(e, "del", payload, len);
	q = xcalloc(1, sizeof(*q));
	q->e = e;
	q->rule = (size_t)rule;
	q->db = db;
	q->key = xmemdup(payload, len);
	q->len = len;
	expire_send(e, q);
}

/* Send every expiration held while Redis was down. */
static void
expire_flush_pending(struct expire *e)
{
	struct exp_req	*q;
	size_t		 n = e->npending;

	if (n > 0)
		log_info("expirations: sending %zu expiration(s) held while "
		    "Redis was unreachable", n);
	while (n-- > 0 && (q = TAILQ_FIRST(&e->pending)) != NULL) {
		TAILQ_REMOVE(&e->pending, q, entry);
		e->npending--;
		expire_send(e, q);
	}
}

/* The flags notify-keyspace-events lacks for expirations (E, x, g; A = g + x). */
static void
expire_missing_flags(const char *have, char *out, size_t outlen)
{
	bool	all = strchr(have, 'A') != NULL;

	snprintf(out, outlen, "%s%s%s", strchr(have, 'E') ? "" : "E",
	    all || strchr(have, 'x') ? "" : "x",
	    all || strchr(have, 'g') ? "" : "g");
}

/* The first flags check is done (passed, set, or unverifiable): maybe READY. */
static void
expire_checked(struct expire *e)
{
	if (e->checked)
		return;
	e->checked = true;
	e->ready_cb(e->ready_arg);
}

/* One node's question about notify-keyspace-events, in flight. */
struct exp_flags_ask {
	struct expire	*e;
	int		 master;	/* cluster master index, or -1: cmd */
	unsigned	 round;
};

/* Send argv to the node of ask (a is freed here if it cannot be sent). */
static int
expire_flags_send(struct exp_flags_ask *a, rconn_reply_cb cb, int argc,
    const char **argv)
{
	struct deferd	*d = a->e->d;
	int		 rc;

	if (a->master == -1)
		rc = rconn_command(d->cmd, cb, a, argc, argv, NULL);
	else
		rc = cluster_command_master(d->cluster, (size_t)a->master, cb, a,
		    argc, argv, NULL);
	if (rc == -1)
		free(a);
	return (rc);
}

/* " on host:port" for a cluster master's ask, "" otherwise; returns buf. */
static const char *
expire_flags_where(const struct exp_flags_ask *a, char *buf, size_t len)
{
	struct redis_target	t;
	char			desc[300];

	buf[0] = '\0';
	if (a->master != -1 && cluster_master(a->e->d->cluster,
	    (size_t)a->master, &t)) {
		snprintf(buf, len, " on %s", redisurl_describe(&t, desc,
		    sizeof(desc)));
		redisurl_clear(&t);
	}
	return (buf);
}

/* A node of the current check answered (checked, set, or refused). */
static void
expire_flags_node_done(struct exp_flags_ask *a)
{
	struct expire	*e = a->e;

	if (a->round == e->flags_round && e->flags_waiting > 0 &&
	    --e->flags_waiting == 0)
		expire_checked(e);
	free(a);
}

/* Reply of CONFIG SET notify-keyspace-events. */
static void
expire_flags_set_reply(redisReply *reply, void *priv)
{
	struct exp_flags_ask	*a = priv;
	struct expire		*e = a->e;
	char			 where[320];

	if (reply == NULL || e->closing) {
		free(a);
		return;
	}
	expire_flags_where(a, where, sizeof(where));
	if (reply->type == REDIS_REPLY_ERROR)
		log_warnx("expirations: cannot set notify-keyspace-events%s (%s); "
		    "CONFIG is disabled or denied (managed Redis?): set it to "
		    "include Exg yourself, or key expirations may not arrive",
		    where, reply->str);	/* degraded, and said so */
	else {
		e->flags_ok_once = true;
		log_info("expirations: notify-keyspace-events set%s "
		    "(expirations.configure_redis)", where);
	}
	expire_flags_node_done(a);
}

/* Missing flags without configure_redis: refuse at start, else nag. */
static void
expire_flags_missing(struct exp_flags_ask *a, const char *have,
    const char *missing)
{
	struct expire	*e = a->e;
	char		 merged[128], where[320];

	snprintf(merged, sizeof(merged), "%s%s", have, missing);
	log_errorx("expirations: Redis notify-keyspace-events%s is \"%s\", "
	    "which lacks %s: expired keys publish no events and no rule can "
	    "fire. Run 'CONFIG SET notify-keyspace-events %s' and put "
	    "'notify-keyspace-events %s' in redis.conf%s (or set "
	    "expirations.configure_redis: true)", expire_flags_where(a, where,
	    sizeof(where)), have, missing, merged, merged,
	    e->d->cluster != NULL ? " of every master" : "");
	if (!e->flags_ok_once && e->startup) {
		e->d->exit_code = 1;
		event_base_loopbreak(e->d->base);
		return;
	}
	timer_after(e->flags_timer, EXP_FLAGS_LOG_MS);
}

/* Reply of CONFIG GET notify-keyspace-events. */
static void
expire_flags_reply(redisReply *reply, void *priv)
{
	struct exp_flags_ask	*a = priv;
	struct expire		*e = a->e;
	const char		*have;
	char			 missing[8], merged[128], where[320];

	if (reply == NULL || e->closing) {
		free(a);
		return;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		log_warnx("expirations: cannot read notify-keyspace-events (%s), "
		    "not checked again; CONFIG is disabled or denied (managed "
		    "Redis or a least-privilege ACL user): make sure it includes "
		    "Exg in redis.conf, or key expirations will not arrive",
		    reply->str);
		e->flags_denied = true;
		e->flags_ok_once = true;
		expire_flags_node_done(a);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
	    reply->element[1]->type != REDIS_REPLY_STRING) {
		free(a);
		return;
	}
	have = reply->element[1]->str;
	expire_missing_flags(have, missing, sizeof(missing));
	if (missing[0] == '\0') {
		e->flags_ok_once = true;
		expire_flags_node_done(a);
		return;
	}
	if (!e->d->cfg->expirations.configure_redis) {
		expire_flags_missing(a, have, missing);
		free(a);
		return;
	}
	snprintf(merged, sizeof(merged), "%s%s", have, missing);
	log_info("expirations: notify-keyspace-events%s is \"%s\"; setting it "
	    "to \"%s\"", expire_flags_where(a, where, sizeof(where)), have,
	    merged);
	(void)expire_flags_send(a, expire_flags_set_reply, 4, (const char *[]){
	    "CONFIG", "SET", "notify-keyspace-events", merged });
}

/*
 * Check notify-keyspace-events (once only if CONFIG GET was refused): on
 * the server, or on every master of a cluster, each of which publishes
 * its own keys' events.
 */
static void
expire_check_flags(struct expire *e)
{
	size_t	nodes = e->d->cluster != NULL ? cluster_masters(e->d->cluster) : 1;

	if (e->flags_denied) {
		expire_checked(e);
		return;
	}
	e->flags_round++;
	e->flags_waiting = 0;
	for (size_t i = 0; i < nodes; i++) {
		struct exp_flags_ask *a = xcalloc(1, sizeof(*a));

		a->e = e;
		a->master = e->d->cluster != NULL ? (int)i : -1;
		a->round = e->flags_round;
		if (expire_flags_send(a, expire_flags_reply, 3, (const char *[]){
		    "CONFIG", "GET", "notify-keyspace-events" }) == 0)
			e->flags_waiting++;
	}
}

/* Timer: check the flags again (they were missing). */
static void
expire_flags_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	expire_check_flags(arg);
}

/* The canary's verdict: say when events stop or start arriving. */
static void
expire_canary_result(bool ok, void *arg)
{
	struct expire	*e = arg;

	if (ok && e->canary_failed)
		log_info("expirations: key expiration events arrive again");
	else if (!ok && !e->canary_failed)
		log_errorx("expirations: a canary key expired but no expired event "
		    "arrived within 1s: notify-keyspace-events lacks Ex, or the "
		    "subscription is broken. Degraded: only the sweep finds "
		    "expired keys now (rules for other databases: none). "
		    "Checking again every 5s");
	e->canary_failed = !ok;
}

/* The subscriber's events (via sources.c): log and count outages, then resync. */
void
expire_sub_event(struct expire *e, enum rconn_event ev)
{
	int64_t		 ms;

	if (e->closing)
		return;
	if (ev == RCONN_DOWN) {
		if (e->sub_down_mono == -1) {
			e->sub_down_mono = util_mono_ms();
			e->sub_down_real = util_real_ms();
		}
		return;
	}
	if (ev == RCONN_UP)
		canary_probe(e->canary);	/* the subscription is renewed */
	if (ev != RCONN_UP || e->sub_down_mono == -1)
		return;
	ms = util_mono_ms() - e->sub_down_mono;
	e->lost_window_ms += ms;
	metrics_expire_outage((double)ms / 1000);
	log_warnx("expirations: the key event subscription was down for %.1fs "
	    "(since %.3f, epoch seconds): keys that expired in that window "
	    "published events nobody heard and may have made no job (%.1fs "
	    "lost so far; run two daemons to cover such windows)",
	    (double)ms / 1000, (double)e->sub_down_real / 1000,
	    (double)e->lost_window_ms / 1000);
	e->sub_down_mono = -1;
	if (rconn_ready(e->d->cmd) && e->watch != NULL)
		expire_watch_rescan(e->watch);
}

void
expire_up(struct expire *e)
{
	if (e == NULL || e->closing)
		return;
	expire_check_flags(e);
	if (e->d->keysubs != NULL ? cluster_subs_ready(e->d->keysubs) :
	    rconn_ready(e->d->sub))
		canary_probe(e->canary);
	expire_flush_pending(e);
	if (e->watch != NULL)
		expire_watch_up(e->watch);
}

void
expire_down(struct expire *e)
{
	if (e == NULL || e->watch == NULL)
		return;
	expire_watch_down(e->watch);
}

/* Subscribe to the key events (through s) and create the timers. */
static void
expire_subscribe(struct subs *s, struct expire *e)
{
	struct deferd	*d = e->d;
	char		 ch[64];

	subs_add(s, "__keyevent@*__:expired", true, expire_event_cb, e);
	if (e->watch != NULL) {
		snprintf(ch, sizeof(ch), "__keyevent@%d__:expire", e->db);
		subs_add(s, ch, false, expire_event_cb, e);
		snprintf(ch, sizeof(ch), "__keyevent@%d__:del", e->db);
		subs_add(s, ch, false, expire_event_cb, e);
	}
	e->flags_timer = evtimer_new(d->base, expire_flags_cb, e);
	if (e->flags_timer == NULL)
		fatalx("expirations: cannot create timers");
}

struct expire *
expire_new(struct deferd *d, struct subs *s, bool startup,
    sources_ready_cb ready, void *arg)
{
	const struct config	*cfg = d->cfg;
	struct expire		*e;
	const char		**patterns;
	size_t			 ntracked = 0;

	if (cfg->expirations.nrules == 0)
		return (NULL);
	e = xcalloc(1, sizeof(*e));
	e->d = d;
	e->ready_cb = ready;
	e->ready_arg = arg;
	e->startup = startup;
	e->db = cfg->redis.target.db;
	TAILQ_INIT(&e->pending);
	e->sub_down_mono = -1;
	e->rules = xcalloc(cfg->expirations.nrules, sizeof(*e->rules));
	patterns = xcalloc(cfg->expirations.nrules, sizeof(*patterns));
	for (size_t i = 0; i < cfg->expirations.nrules; i++) {
		struct exp_rule	*r = &e->rules[e->nrules++];
		const char	*q;

		r->r = &cfg->expirations.rules[i];	/* template checked by config.c */
		q = config_queue(d->cfg, r->r->queue);
		r->prefix = keys_prefix(cfg->namespace, q);
		r->k_delayed = keys_queue(cfg->namespace, q, "delayed");
		r->k_wake = keys_queue(cfg->namespace, q, "wake");
		r->tracked = r->r->db == -1 || r->r->db == e->db;
		if (r->tracked)
			patterns[ntracked++] = r->r->pattern;
	}
	if (ntracked > 0)
		e->watch = expire_watch_new(d, patterns, ntracked);
	free(patterns);
	expire_subscribe(s, e);
	e->canary = canary_new(d->base, d->cmd, cfg->namespace, e->db,
	    expire_canary_result, e);
	return (e);
}

bool
expire_ready(const struct expire *e)
{
	return (e->checked);
}

void
expire_stop(struct expire *e)
{
	e->closing = true;
	canary_stop(e->canary);
	expire_watch_stop(e->watch);
	evtimer_del(e->flags_timer);
}

void
expire_handover(struct expire *to, struct expire *from)
{
	struct exp_req	*q;
	ssize_t		 rule;
	char		 key[256];

	while ((q = TAILQ_FIRST(&from->pending)) != NULL) {
		TAILQ_REMOVE(&from->pending, q, entry);
		from->npending--;
		rule = to != NULL ? expire_find_rule(to, q->db, q->key, q->len) : -1;
		if (rule == -1) {
			log_warnx("expirations: key %s (db %d) expired while Redis "
			    "was unreachable; no rule of the reloaded configuration "
			    "matches it, so it makes no job",
			    util_escape(q->key, q->len, key, sizeof(key)), q->db);
			exp_req_free(q);
			continue;
		}
		q->e = to;
		q->rule = (size_t)rule;
		TAILQ_INSERT_TAIL(&to->pending, q, entry);
		to->npending++;
	}
}

void
expire_free(struct expire *e)
{
	struct exp_req	*q;

	if (e == NULL)
		return;
	e->closing = true;
	while ((q = TAILQ_FIRST(&e->pending)) != NULL) {
		TAILQ_REMOVE(&e->pending, q, entry);
		exp_req_free(q);
	}
	for (size_t i = 0; i < e->nrules; i++) {
		free(e->rules[i].prefix);
		free(e->rules[i].k_delayed);
		free(e->rules[i].k_wake);
	}
	free(e->rules);
	expire_watch_free(e->watch);
	event_free(e->flags_timer);
	canary_free(e->canary);
	free(e);
}
