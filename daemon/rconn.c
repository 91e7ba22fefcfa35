/* SPDX-License-Identifier: MIT */
/*
 * Async Redis connections for the daemon. Each rconn owns at most one hiredis
 * context at a time and walks DOWN -> CONNECTING -> HANDSHAKE -> READY; any
 * failure goes back to DOWN and a backoff timer starts the next attempt.
 * hiredis 0.14 has no async timeouts, so the connect deadline and the reply
 * deadline are our own evtimers, and contexts are only ever freed outside
 * hiredis callbacks (a deferred "drop" event), never from the connect
 * callback (a use-after-free in 0.14).
 */
#include <sys/queue.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fences.h"
#include "log.h"
#include "rconn.h"
#include "reply.h"
#include "util.h"
#include "xmalloc.h"
#include "timer.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
#define REFUSE_LOG_MS	60000
#define WAIT_LOG_MS	10000	/* at most one line about short WAITs per this */
#define WAIT_PAUSE_MS	5000	/* after a short WAIT, no WAIT for this long */

enum rconn_state {
	RC_DOWN,
	RC_CONNECTING,
	RC_HANDSHAKE,
	RC_READY,
};

struct rsub {
	struct rconn		*rc;
	char			*channel;
	bool			 pattern;
	rconn_message_cb	 cb;
	rconn_confirm_cb	 confirmed;	/* may be NULL */
	void			*priv;
};

/*
 * One command in flight; script calls keep their arguments for an EVAL
 * retry. Sent commands are listed in the order sent (seq), until their
 * callback has run: rconn_fence waits for the older ones.
 */
struct rcmd {
	struct rconn	*rc;
	TAILQ_ENTRY(rcmd) entry;
	uint64_t	 seq;
	bool		 listed;
	rconn_reply_cb	 cb;
	void		*priv;
	int		 script;	/* enum script_id, or -1 */
	int64_t		 sent_us;	/* for the round-trip metric */
	int		 nkeys;
	int		 argc;
	char		**argv;
	size_t		*lens;
};

struct robserver {
	rconn_event_cb	 cb;
	void		*arg;
};

struct rconn {
	struct event_base	*base;
	struct redis_target	 target;
	struct rconn_opts	 opts;
	char			*name;
	char			 desc[320];
	rconn_event_cb		 ev_cb;
	void			*ev_arg;

	redisAsyncContext	*ac;
	enum rconn_state	 state;
	bool			 started;
	bool			 up_announced;
	bool			 ever_ready;
	bool			 freeing;
	int			 attempts;
	bool			 outage_logged;
	int64_t			 down_since_ms;
	int64_t			 last_refuse_log_ms;
	int64_t			 last_wait_log_ms;
	uint64_t		 wait_short;	/* short WAITs not logged yet */
	int64_t			 wait_paused_until_ms;

	struct event		*retry_timer;
	struct event		*connect_timer;
	struct event		*deadline_timer;
	struct event		*handshake_ev;
	struct event		*drop_ev;
	char			 drop_why[256];	/* why we dropped it, or "" */

	size_t			 pending;
	int64_t			 progress_ms;

	bool			 follows;	/* the target names no server: rconn_set_master's */
	bool			 routed;	/* no socket: calls go through router */
	struct rconn_router	 router;
	bool			 routed_up;

	int			 handshake_left;
	char			 handshake_error[512];
	bool			 handshake_refused;
	bool			 policy_denied;	/* CONFIG GET refused: asked once only */
	bool			 no_script_flags; /* a "#!lua flags=" script was refused */
	char			*sha[SCRIPT_COUNT];

	struct rsub		**subs;
	size_t			 nsubs;
	struct robserver	*observers;
	size_t			 nobservers;

	TAILQ_HEAD(, rcmd)	 live;		/* sent, callback not yet run */
	uint64_t		 next_seq;
	struct fences		 fences;
	struct event		*fence_ev;	/* check the fences (zero delay) */
};

/*
 * Sentinel mode: the master's address, which every connection that follows
 * it (its target names no server) connects to, and whom to tell when one
 * found no master there.
 */
static struct {
	char		 *host;		/* NULL: not known yet */
	int		  port;
	void		(*suspect)(const char *why, void *arg);
	void		 *arg;
	struct rconn	**followers;
	size_t		  nfollowers;
} master;

static void	rconn_connect(struct rconn *);
static void	rconn_notify(struct rconn *, enum rconn_event);
static void	rconn_fence_cb(evutil_socket_t, short, void *);
static void	rconn_schedule_retry(struct rconn *);
static void	rconn_failed(struct rconn *, const char *why);
static void	rconn_drop(struct rconn *, const char *why);
static void	rconn_send_subscribe(struct rconn *, struct rsub *);

/* Remember that a reply is now awaited, and arm the reply deadline. */
static void
rconn_count_sent(struct rconn *rc)
{

	if (rc->pending++ == 0) {
		rc->progress_ms = util_mono_ms();
		timer_after(rc->deadline_timer, rc->opts.command_timeout_ms);
	}
}

/* A reply arrived: one fewer awaited, and the connection is making progress. */
static void
rconn_count_reply(struct rconn *rc)
{
	if (rc->pending > 0)
		rc->pending--;
	rc->progress_ms = util_mono_ms();
}

/* The reply deadline: no reply for command_timeout while some are awaited. */
static void
rconn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rconn	*rc = arg;
	int64_t		 idle = util_mono_ms() - rc->progress_ms;

	(void)fd;
	(void)what;
	if (rc->pending == 0 || rc->ac == NULL)
		return;
	if (idle >= rc->opts.command_timeout_ms) {
		rconn_drop(rc, "redis unresponsive: no reply within command_timeout");
		return;
	}
	idle = rc->opts.command_timeout_ms - idle;
	timer_after(rc->deadline_timer, idle);
}

/* Timer callbacks adapt the libevent signature to our functions. */
static void
rconn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rconn_connect(arg);
}

/* The connect deadline passed before hiredis called on_connect. */
static void
rconn_connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rconn		*rc = arg;
	redisAsyncContext	*ac = rc->ac;

	(void)fd;
	(void)what;
	if (ac == NULL || rc->state != RC_CONNECTING)
		return;
	/* Never connected: pending callbacks get NULL, on_disconnect is not called. */
	rc->ac = NULL;
	redisAsyncFree(ac);
	rconn_failed(rc, "connect timed out");
}

/* Deferred drop: free the context outside any hiredis callback. */
static void
rconn_drop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rconn		*rc = arg;
	redisAsyncContext	*ac = rc->ac;

	(void)fd;
	(void)what;
	if (ac == NULL)
		return;
	if (rc->state == RC_CONNECTING) {
		rc->ac = NULL;
		redisAsyncFree(ac);
		rconn_failed(rc, "connection dropped");
		return;
	}
	/* Connected: hiredis calls on_disconnect, which schedules the retry. */
	redisAsyncFree(ac);
}

static void	rconn_handshake_cb(evutil_socket_t, short, void *);

/* Where every connection reports its state and round trips (the owner's). */
static struct rconn_stats	stats_hook;

void
rconn_set_stats(const struct rconn_stats *hook)
{
	stats_hook = *hook;
}

/* Tell the stats hook whether rc is up. */
static void
rconn_report_state(const struct rconn *rc, bool up)
{
	if (stats_hook.state != NULL)
		stats_hook.state(rc->name, up);
}

/* Put rc on the followers of the master, with its address if known. */
static void
rconn_follow(struct rconn *rc)
{
	master.followers = xreallocarray(master.followers, master.nfollowers + 1,
	    sizeof(*master.followers));
	master.followers[master.nfollowers++] = rc;
	if (master.host != NULL) {
		rc->target.host = xstrdup(master.host);
		rc->target.port = master.port;
	}
}

/* Take rc off the followers. */
static void
rconn_unfollow(struct rconn *rc)
{
	for (size_t i = 0; i < master.nfollowers; i++)
		if (master.followers[i] == rc) {
			master.followers[i] = master.followers[--master.nfollowers];
			break;
		}
	if (master.nfollowers == 0) {
		free(master.followers);
		master.followers = NULL;
		free(master.host);
		master.host = NULL;
	}
}

struct rconn *
rconn_new(struct event_base *base, const struct redis_target *t,
    const struct rconn_opts *opts, rconn_event_cb cb, void *arg)
{
	struct rconn	*rc = xcalloc(1, sizeof(*rc));

	rc->base = base;
	redisurl_copy(&rc->target, t);
	rc->follows = t->host == NULL && t->unix_path == NULL;
	if (rc->follows)
		rconn_follow(rc);
	redisurl_describe(&rc->target, rc->desc, sizeof(rc->desc));
	rc->opts = *opts;
	rc->name = xstrdup(opts->name);
	rc->opts.name = rc->name;
	rc->ev_cb = cb;
	rc->ev_arg = arg;
	rc->retry_timer = evtimer_new(base, rconn_retry_cb, rc);
	rc->connect_timer = evtimer_new(base, rconn_connect_timeout_cb, rc);
	rc->deadline_timer = evtimer_new(base, rconn_deadline_cb, rc);
	rc->handshake_ev = evtimer_new(base, rconn_handshake_cb, rc);
	rc->drop_ev = evtimer_new(base, rconn_drop_cb, rc);
	rc->fence_ev = evtimer_new(base, rconn_fence_cb, rc);
	TAILQ_INIT(&rc->live);
	if (rc->retry_timer == NULL || rc->connect_timer == NULL ||
	    rc->deadline_timer == NULL || rc->handshake_ev == NULL ||
	    rc->drop_ev == NULL || rc->fence_ev == NULL)
		fatalx("redis %s: cannot create timers", rc->name);
	rconn_report_state(rc, false);
	return (rc);
}

struct rconn *
rconn_new_routed(struct event_base *base, const char *name,
    const struct rconn_router *router, rconn_event_cb cb, void *arg)
{
	struct redis_target	t;
	struct rconn_opts	o;
	struct rconn		*rc;

	memset(&t, 0, sizeof(t));
	t.unix_path = (char *)"(routed)";	/* names a server: never followed */
	memset(&o, 0, sizeof(o));
	o.name = name;
	rc = rconn_new(base, &t, &o, cb, arg);
	rc->router = *router;
	rc->routed = true;
	snprintf(rc->desc, sizeof(rc->desc), "routed");
	return (rc);
}

void
rconn_routed_event(struct rconn *rc, enum rconn_event ev)
{
	bool	up = ev == RCONN_UP;

	if (!rc->routed || up == rc->routed_up)
		return;
	rc->routed_up = up;
	rconn_report_state(rc, up);
	rconn_notify(rc, up ? RCONN_UP : RCONN_DOWN);
}

void
rconn_start(struct rconn *rc)
{
	if (rc->routed)
		return;
	if (rc->started)
		return;
	rc->started = true;
	rconn_connect(rc);
}

bool
rconn_ready(const struct rconn *rc)
{
	if (rc != NULL && rc->routed)
		return (rc->routed_up && rc->router.ready(rc->router.arg));
	return (rc != NULL && rc->state == RC_READY && rc->ac != NULL);
}

/* Log the first failure of an outage as a warning, the rest at debug level. */
static void
rconn_log_failure(struct rconn *rc, const char *why)
{
	if (!rc->outage_logged) {
		rc->outage_logged = true;
		rc->down_since_ms = util_mono_ms();
		log_warnx("redis %s: %s: %s; reconnecting", rc->name, rc->desc, why);
	} else
		log_debug("redis %s: %s: %s (attempt %d)", rc->name, rc->desc,
		    why, rc->attempts);
}

/* Tell the owner, then the observers, about ev. */
static void
rconn_notify(struct rconn *rc, enum rconn_event ev)
{
	if (rc->ev_cb != NULL)
		rc->ev_cb(rc, ev, rc->ev_arg);
	for (size_t i = 0; i < rc->nobservers && !rc->freeing; i++)
		rc->observers[i].cb(rc, ev, rc->observers[i].arg);
}

/* An attempt failed or the connection ended: tell the owner, retry later. */
static void
rconn_failed(struct rconn *rc, const char *why)
{
	bool	was_up = rc->up_announced;

	evtimer_del(rc->connect_timer);
	evtimer_del(rc->deadline_timer);
	rc->state = RC_DOWN;
	rc->up_announced = false;
	rc->pending = 0;
	if (rc->freeing)
		return;
	rconn_report_state(rc, false);
	rconn_log_failure(rc, why);
	rconn_schedule_retry(rc);
	rconn_notify(rc, was_up ? RCONN_DOWN : RCONN_FAILED);
	if (rc->follows && master.suspect != NULL)
		master.suspect(why, master.arg);
}

/* Arm the reconnect timer: capped exponential backoff with jitter. */
static void
rconn_schedule_retry(struct rconn *rc)
{
	int64_t		cap = BACKOFF_MIN_MS;
	int64_t		delay;

	for (int i = 0; i < rc->attempts && cap < BACKOFF_MAX_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_MAX_MS)
		cap = BACKOFF_MAX_MS;
	if (rc->handshake_refused)
		cap = BACKOFF_MAX_MS;
	delay = cap / 2 + util_random_below(cap / 2 + 1);
	rc->attempts++;
	timer_after(rc->retry_timer, delay);
}

/* Ask for the context to be dropped from the loop (safe inside callbacks). */
static void
rconn_drop(struct rconn *rc, const char *why)
{

	if (rc->ac == NULL)
		return;
	snprintf(rc->drop_why, sizeof(rc->drop_why), "%s", why != NULL ? why :
	    "");
	if (rc->state == RC_READY)
		rc->state = RC_HANDSHAKE;	/* not ready any more */
	timer_after(rc->drop_ev, 0);
}

/* hiredis: the TCP/unix connect finished (status REDIS_OK) or failed. */
static void
rconn_on_connect(const redisAsyncContext *ac, int status)
{
	struct rconn	*rc = ac->data;

	evtimer_del(rc->connect_timer);
	if (status != REDIS_OK) {
		char why[256];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		rc->ac = NULL;		/* hiredis frees it after we return */
		rconn_failed(rc, why);
		return;
	}
	if (rc->target.unix_path == NULL)
		redisEnableKeepAlive((redisContext *)&ac->c);
	rc->state = RC_HANDSHAKE;
	timer_after(rc->handshake_ev, 0);
}

/* hiredis: a connected context is going away (it frees it after we return). */
static void
rconn_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rconn	*rc = ac->data;
	char		 why[256];

	(void)status;
	snprintf(why, sizeof(why), "%s", rc->drop_why[0] ? rc->drop_why :
	    ac->errstr[0] ? ac->errstr : "connection closed");
	rc->drop_why[0] = '\0';
	rc->ac = NULL;
	evtimer_del(rc->drop_ev);
	evtimer_del(rc->handshake_ev);
	rconn_failed(rc, why);
}

/* Start one connection attempt. */
static void
rconn_connect(struct rconn *rc)
{
	redisAsyncContext	*ac;

	if (rc->ac != NULL || rc->freeing)
		return;
	if (rc->follows && rc->target.host == NULL)
		return;		/* rconn_set_master connects it */
	if (rc->target.unix_path != NULL)
		ac = redisAsyncConnectUnix(rc->target.unix_path);
	else
		ac = redisAsyncConnect(rc->target.host, rc->target.port);
	if (ac == NULL)
		fatalx("redis %s: out of memory", rc->name);
	if (ac->err) {
		char why[256];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		rconn_failed(rc, why);
		return;
	}
	reply_cap_reader(ac->c.reader);
	ac->data = rc;
	if (redisLibeventAttach(ac, rc->base) != REDIS_OK) {
		redisAsyncFree(ac);
		rconn_failed(rc, "cannot attach to the event loop");
		return;
	}
	redisAsyncSetConnectCallback(ac, rconn_on_connect);
	redisAsyncSetDisconnectCallback(ac, rconn_on_disconnect);
	rc->ac = ac;
	rc->state = RC_CONNECTING;
	timer_after(rc->connect_timer, rc->opts.connect_timeout_ms);
}

/* List a command that was sent: it is in flight until rcmd_free. */
static void
rcmd_listed(struct rcmd *cmd)
{
	struct rconn	*rc = cmd->rc;

	cmd->seq = rc->next_seq++;
	cmd->listed = true;
	TAILQ_INSERT_TAIL(&rc->live, cmd, entry);
}

/* Free a command record and its argument copies. */
static void
rcmd_free(struct rcmd *cmd)
{
	struct rconn	*rc = cmd->rc;

	if (cmd->listed) {
		TAILQ_REMOVE(&rc->live, cmd, entry);
		if (rc->fences.n > 0 && !rc->freeing)
			timer_after(rc->fence_ev, 0);
	}
	util_free_args(cmd->argc, cmd->argv, cmd->lens);
	free(cmd);
}

static int	rconn_send_script(struct rconn *, struct rcmd *, bool use_sha);

/* hiredis reply callback for every command we send. */
static void
rconn_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct rcmd	*cmd = privdata;
	struct rconn	*rc = cmd->rc;
	redisReply	*reply = r;

	(void)ac;
	rconn_count_reply(rc);
	if (reply != NULL && stats_hook.rtt != NULL)
		stats_hook.rtt(rc->name, util_mono_us() - cmd->sent_us);
	if (reply == NULL && rc->state == RC_READY)
		rc->state = RC_HANDSHAKE;	/* going away: refuse new commands */
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
	    cmd->script >= 0 && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
		log_info("redis %s: script %s not cached (SCRIPT FLUSH?); "
		    "sending it again", rc->name, scripts_get(cmd->script)->name);
		free(rc->sha[cmd->script]);
		rc->sha[cmd->script] = NULL;
		if (rconn_send_script(rc, cmd, false) == 0)
			return;
		reply = NULL;
	}
	cmd->cb(reply, cmd->priv);
	rcmd_free(cmd);
}

/* Queue argv on the context with cmd as privdata. Returns 0 or -1. */
static int
rconn_send_argv(struct rconn *rc, struct rcmd *cmd, int argc,
    const char **argv, const size_t *lens)
{
	if (rc->ac == NULL)
		return (-1);
	if (redisAsyncCommandArgv(rc->ac, rconn_on_reply, cmd, argc, argv,
	    lens) != REDIS_OK)
		return (-1);
	cmd->sent_us = util_mono_us();
	rconn_count_sent(rc);
	return (0);
}

int
rconn_command(struct rconn *rc, rconn_reply_cb cb, void *priv, int argc,
    const char **argv, const size_t *lens)
{
	struct rcmd	*cmd;

	if (!rconn_ready(rc))
		return (-1);
	if (rc->routed)
		return (rc->router.command(rc->router.arg, cb, priv, argc, argv,
		    lens));
	cmd = xcalloc(1, sizeof(*cmd));
	cmd->rc = rc;
	cmd->cb = cb;
	cmd->priv = priv;
	cmd->script = -1;
	if (rconn_send_argv(rc, cmd, argc, argv, lens) == -1) {
		free(cmd);
		return (-1);
	}
	rcmd_listed(cmd);
	return (0);
}

/* Send cmd's script by EVALSHA (when the SHA is known and use_sha) or EVAL. */
static int
rconn_send_script(struct rconn *rc, struct rcmd *cmd, bool use_sha)
{
	const char		**argv = xcalloc((size_t)cmd->argc + 3, sizeof(*argv));
	size_t			*lens = xcalloc((size_t)cmd->argc + 3, sizeof(*lens));
	char			 nkeys[16];
	int			 rv;

	snprintf(nkeys, sizeof(nkeys), "%d", cmd->nkeys);
	if (use_sha && rc->sha[cmd->script] != NULL) {
		argv[0] = "EVALSHA";
		argv[1] = rc->sha[cmd->script];
		lens[1] = strlen(argv[1]);
	} else {
		argv[0] = "EVAL";
		argv[1] = scripts_body(cmd->script, !rc->no_script_flags,
		    &lens[1]);
	}
	lens[0] = strlen(argv[0]);
	argv[2] = nkeys;
	lens[2] = strlen(nkeys);
	for (int i = 0; i < cmd->argc; i++) {
		argv[i + 3] = cmd->argv[i];
		lens[i + 3] = cmd->lens[i];
	}
	rv = rconn_send_argv(rc, cmd, cmd->argc + 3, argv, lens);
	free(argv);
	free(lens);
	return (rv);
}

/*
 * Reply to the WAIT after a durable script: fewer replicas than asked for
 * have it, so a failover now could undo it. Counted; logged at most once
 * per WAIT_LOG_MS with how many there were. The replicas are behind or
 * gone: waiting for them after every script would stall the connection,
 * so the next WAIT_PAUSE_MS send none (a missing replica costs one
 * wait_timeout per pause, not one per script).
 */
static void
rconn_wait_reply(redisReply *reply, void *priv)
{
	struct rconn	*rc = priv;
	int64_t		 now;

	if (reply == NULL || (reply->type == REDIS_REPLY_INTEGER &&
	    reply->integer >= rc->opts.wait_replicas))
		return;
	if (stats_hook.wait_short != NULL)
		stats_hook.wait_short(rc->name);
	rc->wait_short++;
	now = util_mono_ms();
	rc->wait_paused_until_ms = now + WAIT_PAUSE_MS;
	if (now - rc->last_wait_log_ms < WAIT_LOG_MS)
		return;
	rc->last_wait_log_ms = now;
	log_warnx("redis %s: %" PRIu64 " write(s) reached fewer than %d "
	    "replica(s) within %" PRId64 "ms (WAIT: %s); a failover now may "
	    "undo them; not waiting for %ds", rc->name, rc->wait_short, rc->opts.wait_replicas,
	    rc->opts.wait_timeout_ms, reply->type == REDIS_REPLY_INTEGER ?
	    "too few" : reply->type == REDIS_REPLY_ERROR ? reply->str : "?",
	    WAIT_PAUSE_MS / 1000);
	rc->wait_short = 0;
}

/*
 * With wait_replicas, follow a durable script with WAIT on the same
 * connection: nothing sent after it runs before the replicas have the
 * script's writes or the timeout passed. (A script sent again after
 * NOSCRIPT runs after its WAIT: that rare call is not waited for.)
 */
static void
rconn_wait_after(struct rconn *rc, enum script_id id)
{
	char	n[16], ms[24];

	if (rc->opts.wait_replicas <= 0 || !scripts_durable(id) ||
	    util_mono_ms() < rc->wait_paused_until_ms)
		return;
	snprintf(n, sizeof(n), "%d", rc->opts.wait_replicas);
	snprintf(ms, sizeof(ms), "%" PRId64, rc->opts.wait_timeout_ms);
	rconn_command(rc, rconn_wait_reply, rc, 3, (const char *[]){ "WAIT",
	    n, ms }, NULL);
}

int
rconn_script(struct rconn *rc, enum script_id id, rconn_reply_cb cb,
    void *priv, int nkeys, int argc, const char **argv, const size_t *lens)
{
	struct rcmd	*cmd;

	if (!rconn_ready(rc))
		return (-1);
	if (rc->routed)
		return (rc->router.script(rc->router.arg, id, cb, priv, nkeys,
		    argc, argv, lens));
	cmd = xcalloc(1, sizeof(*cmd));
	cmd->rc = rc;
	cmd->cb = cb;
	cmd->priv = priv;
	cmd->script = (int)id;
	cmd->nkeys = nkeys;
	cmd->argc = argc;
	util_copy_args(argc, argv, lens, &cmd->argv, &cmd->lens);
	if (rconn_send_script(rc, cmd, true) == -1) {
		rcmd_free(cmd);
		return (-1);
	}
	rcmd_listed(cmd);
	rconn_wait_after(rc, id);
	return (0);
}

/* The number of the oldest command in flight, UINT64_MAX for none. */
static uint64_t
rconn_oldest_seq(void *arg)
{
	struct rconn	*rc = arg;
	struct rcmd	*oldest = TAILQ_FIRST(&rc->live);

	return (oldest != NULL ? oldest->seq : UINT64_MAX);
}

/* Zero-delay event: run the fences that no older command holds back. */
static void
rconn_fence_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rconn	*rc = arg;

	(void)fd;
	(void)what;
	fences_run(&rc->fences, rconn_oldest_seq, rc);
}

void
rconn_fence(struct rconn *rc, void (*cb)(void *), void *arg)
{
	if (rc->routed) {
		rc->router.fence(rc->router.arg, cb, arg);
		return;
	}
	fences_add(&rc->fences, rc->next_seq, cb, arg);
	timer_after(rc->fence_ev, 0);
}

/* One step of the handshake; which step is told by the privdata tag. */
struct hs_step {
	struct rconn	*rc;
	int		 kind;		/* HS_* */
	int		 script;
	bool		 flagged;	/* HS_SCRIPT: the text had script flags */
};

enum { HS_AUTH, HS_SELECT, HS_SETNAME, HS_ROLE, HS_POLICY, HS_SCRIPT };

/* ROLE on a connection that follows the master: is this node the master? */
static void
rconn_role_ok(struct rconn *rc, const redisReply *reply)
{
	const redisReply	*role;

	if (rc->handshake_error[0] != '\0')
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(rc->handshake_error, sizeof(rc->handshake_error),
		    "ROLE failed: %s", reply->str);
		return;
	}
	role = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 ?
	    reply->element[0] : NULL;
	if (role != NULL && role->type == REDIS_REPLY_STRING &&
	    strcmp(role->str, "master") == 0)
		return;
	snprintf(rc->handshake_error, sizeof(rc->handshake_error),
	    "not the master (ROLE says '%.32s'); asking the sentinels again",
	    role != NULL && role->type == REDIS_REPLY_STRING ? role->str : "?");
}

/* Check CONFIG GET maxmemory-policy; returns false if Redis may evict. */
static bool
rconn_policy_ok(struct rconn *rc, const redisReply *reply)
{
	const char	*policy;

	if (reply->type == REDIS_REPLY_ERROR) {
		/* A least-privilege ACL user has no CONFIG: say so once, go on. */
		rc->policy_denied = true;
		log_warnx("redis %s: cannot read maxmemory-policy (%s), not "
		    "checked again; make sure it is noeviction in redis.conf, or "
		    "Redis may evict jobs and locks", rc->name, reply->str);
		return (true);
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
	    reply->element[1]->type != REDIS_REPLY_STRING)
		return (true);
	policy = reply->element[1]->str;
	if (strcmp(policy, "noeviction") == 0)
		return (true);
	if (rc->opts.allow_eviction) {
		log_warnx("redis %s: maxmemory-policy is '%s': Redis may evict "
		    "jobs and locks (allowed by redis.allow_eviction)", rc->name,
		    policy);
		return (true);
	}
	snprintf(rc->handshake_error, sizeof(rc->handshake_error),
	    "maxmemory-policy is '%s': Redis may evict jobs and locks; run "
	    "'CONFIG SET maxmemory-policy noeviction' (and set it in redis.conf) "
	    "or set redis.allow_eviction: true", policy);
	rc->handshake_refused = true;
	return (false);
}

/* The handshake succeeded: ready, subscriptions renewed, owner told. */
static void
rconn_handshake_done(struct rconn *rc)
{
	rc->state = RC_READY;
	rc->attempts = 0;
	rc->handshake_refused = false;
	if (rc->outage_logged)
		log_info("redis %s: connected to %s again after %.1fs", rc->name,
		    rc->desc, (double)(util_mono_ms() - rc->down_since_ms) / 1000);
	else if (!rc->ever_ready)
		log_info("redis %s: connected to %s", rc->name, rc->desc);
	rc->outage_logged = false;
	rc->ever_ready = true;
	for (size_t i = 0; i < rc->nsubs; i++)
		rconn_send_subscribe(rc, rc->subs[i]);
	rc->up_announced = true;
	rconn_report_state(rc, true);
	rconn_notify(rc, RCONN_UP);
}

/* The handshake failed: log why, maybe refuse for good, drop and retry. */
static void
rconn_handshake_failed(struct rconn *rc)
{
	int64_t	now = util_mono_ms();

	if (rc->handshake_refused) {
		if (!rc->ever_ready && rc->ev_cb != NULL) {
			log_errorx("redis %s: %s", rc->name, rc->handshake_error);
			rc->ev_cb(rc, RCONN_REFUSED, rc->ev_arg);
			return;
		}
		if (now - rc->last_refuse_log_ms >= REFUSE_LOG_MS) {
			rc->last_refuse_log_ms = now;
			log_errorx("redis %s: %s", rc->name, rc->handshake_error);
		}
	}
	rconn_drop(rc, rc->handshake_error);
}

static void	rconn_load_script(struct rconn *, int);

/*
 * SCRIPT LOAD of a script with flags failed: the server predates script
 * flags (Redis 7). Load the plain text of it (and of every later one):
 * they run, but not when Redis is out of memory.
 */
static void
rconn_script_flags_refused(struct rconn *rc, int script, const char *why)
{
	if (!rc->no_script_flags)
		log_warnx("redis %s: script flags refused (%s); Redis before 7 "
		    "cannot run lease extensions and outcomes when it is out "
		    "of memory, so leave it room (maxmemory)", rc->name, why);
	rc->no_script_flags = true;
	rconn_load_script(rc, script);
}

/* Reply to one handshake step. */
static void
rconn_handshake_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct hs_step	*step = privdata;
	struct rconn	*rc = step->rc;
	redisReply	*reply = r;

	(void)ac;
	rconn_count_reply(rc);
	rc->handshake_left--;
	if (reply == NULL) {
		free(step);
		return;
	}
	if (step->kind == HS_POLICY)
		rconn_policy_ok(rc, reply);
	else if (step->kind == HS_ROLE)
		rconn_role_ok(rc, reply);
	else if (step->kind == HS_SCRIPT && step->flagged &&
	    reply->type == REDIS_REPLY_ERROR)
		rconn_script_flags_refused(rc, step->script, reply->str);
	else if (reply->type == REDIS_REPLY_ERROR &&
	    rc->handshake_error[0] == '\0')
		snprintf(rc->handshake_error, sizeof(rc->handshake_error),
		    "%s failed: %s", step->kind == HS_AUTH ? "AUTH" :
		    step->kind == HS_SELECT ? "SELECT" :
		    step->kind == HS_SETNAME ? "CLIENT SETNAME" : "SCRIPT LOAD",
		    reply->str);
	else if (step->kind == HS_SCRIPT && reply->type == REDIS_REPLY_STRING) {
		free(rc->sha[step->script]);
		rc->sha[step->script] = xstrdup(reply->str);
	}
	free(step);
	if (rc->handshake_left > 0 || rc->state != RC_HANDSHAKE)
		return;
	if (rc->handshake_error[0] != '\0')
		rconn_handshake_failed(rc);
	else
		rconn_handshake_done(rc);
}

/* Queue one handshake command. */
static struct hs_step *
rconn_handshake_send(struct rconn *rc, int kind, int script, int argc,
    const char **argv, const size_t *lens)
{
	struct hs_step	*step = xcalloc(1, sizeof(*step));

	step->rc = rc;
	step->kind = kind;
	step->script = script;
	if (redisAsyncCommandArgv(rc->ac, rconn_handshake_reply, step, argc,
	    argv, lens) != REDIS_OK) {
		free(step);
		snprintf(rc->handshake_error, sizeof(rc->handshake_error),
		    "cannot send the handshake");
		return (NULL);
	}
	rc->handshake_left++;
	rconn_count_sent(rc);
	return (step);
}

/* SCRIPT LOAD one script, with its flags unless the server refused them. */
static void
rconn_load_script(struct rconn *rc, int script)
{
	size_t		 len;
	const char	*body = scripts_body((enum script_id)script,
			    !rc->no_script_flags, &len);
	struct hs_step	*step;

	step = rconn_handshake_send(rc, HS_SCRIPT, script, 3, (const char *[]){
	    "SCRIPT", "LOAD", body }, (const size_t[]){ 6, 4, len });
	if (step != NULL)
		step->flagged = body != scripts_get((enum script_id)script)->body;
}

/* Connected: AUTH, SELECT, CLIENT SETNAME, policy check, SCRIPT LOAD. */
static void
rconn_handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rconn		*rc = arg;
	const struct redis_target *t = &rc->target;
	char			 db[16], setname[64];

	(void)fd;
	(void)what;
	if (rc->ac == NULL || rc->state != RC_HANDSHAKE)
		return;
	rc->handshake_error[0] = '\0';
	rc->handshake_left = 0;
	if (t->password != NULL && t->username != NULL)
		rconn_handshake_send(rc, HS_AUTH, -1, 3, (const char *[]){ "AUTH",
		    t->username, t->password }, NULL);
	else if (t->password != NULL)
		rconn_handshake_send(rc, HS_AUTH, -1, 2, (const char *[]){ "AUTH",
		    t->password }, NULL);
	if (t->db != 0) {
		snprintf(db, sizeof(db), "%d", t->db);
		rconn_handshake_send(rc, HS_SELECT, -1, 2,
		    (const char *[]){ "SELECT", db }, NULL);
	}
	snprintf(setname, sizeof(setname), "deferd-%s-%ld", rc->name,
	    (long)getpid());
	rconn_handshake_send(rc, HS_SETNAME, -1, 3,
	    (const char *[]){ "CLIENT", "SETNAME", setname }, NULL);
	if (rc->follows)
		rconn_handshake_send(rc, HS_ROLE, -1, 1, (const char *[]){
		    "ROLE" }, NULL);
	if (rc->opts.check_eviction && !rc->policy_denied)
		rconn_handshake_send(rc, HS_POLICY, -1, 3, (const char *[]){
		    "CONFIG", "GET", "maxmemory-policy" }, NULL);
	for (int i = 0; rc->opts.load_scripts && i < SCRIPT_COUNT; i++)
		if (scripts_get(i)->daemon)
			rconn_load_script(rc, i);
	if (rc->handshake_left == 0)
		rconn_handshake_failed(rc);
}

/* hiredis callback for a subscription: confirmations and messages. */
static void
rconn_sub_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct rsub	*sub = privdata;
	redisReply	*reply = r;
	redisReply	*ch, *msg;
	const char	*kind;

	(void)ac;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements < 3 || reply->element[0]->type != REDIS_REPLY_STRING)
		return;
	sub->rc->progress_ms = util_mono_ms();	/* the connection is alive */
	kind = reply->element[0]->str;
	if (reply->elements == 3 && strcmp(kind, "message") == 0) {
		ch = reply->element[1];
		msg = reply->element[2];
	} else if (reply->elements == 4 && strcmp(kind, "pmessage") == 0) {
		ch = reply->element[2];
		msg = reply->element[3];
	} else {
		if ((strcmp(kind, "subscribe") == 0 ||
		    strcmp(kind, "psubscribe") == 0) && sub->confirmed != NULL)
			sub->confirmed(sub->priv);
		return;
	}
	if (ch->type != REDIS_REPLY_STRING || msg->type != REDIS_REPLY_STRING)
		return;
	sub->cb(ch->str, msg->str, msg->len, sub->priv);
}

/* Send SUBSCRIBE or PSUBSCRIBE for sub on the current context. */
static void
rconn_send_subscribe(struct rconn *rc, struct rsub *sub)
{
	const char	*argv[2];

	if (rc->ac == NULL)
		return;
	argv[0] = sub->pattern ? "PSUBSCRIBE" : "SUBSCRIBE";
	argv[1] = sub->channel;
	if (redisAsyncCommandArgv(rc->ac, rconn_sub_cb, sub, 2, argv, NULL) !=
	    REDIS_OK)
		log_warnx("redis %s: cannot subscribe to %s", rc->name,
		    sub->channel);
}

void
rconn_subscribe(struct rconn *rc, const char *channel, bool pattern,
    rconn_message_cb cb, rconn_confirm_cb confirmed, void *priv)
{
	struct rsub	*sub = xcalloc(1, sizeof(*sub));

	sub->rc = rc;
	sub->channel = xstrdup(channel);
	sub->pattern = pattern;
	sub->cb = cb;
	sub->confirmed = confirmed;
	sub->priv = priv;
	rc->subs = xreallocarray(rc->subs, rc->nsubs + 1, sizeof(*rc->subs));
	rc->subs[rc->nsubs++] = sub;
	if (rconn_ready(rc))
		rconn_send_subscribe(rc, sub);
}

void
rconn_observe(struct rconn *rc, rconn_event_cb cb, void *arg)
{
	rc->observers = xreallocarray(rc->observers, rc->nobservers + 1,
	    sizeof(*rc->observers));
	rc->observers[rc->nobservers].cb = cb;
	rc->observers[rc->nobservers++].arg = arg;
}

int64_t
rconn_progress_ms(const struct rconn *rc)
{
	return (rc->progress_ms);
}

void
rconn_reset(struct rconn *rc, const char *why)
{
	rconn_drop(rc, why);
}

const struct redis_target *
rconn_target(const struct rconn *rc)
{
	return (rc->routed ? NULL : &rc->target);
}

void
rconn_set_target(struct rconn *rc, const struct redis_target *t)
{
	struct redis_target	nt;
	char			desc[320];

	if (rc->routed)
		return;
	redisurl_copy(&nt, t);
	if (rc->follows && nt.host == NULL && nt.unix_path == NULL &&
	    rc->target.host != NULL) {
		nt.host = xstrdup(rc->target.host);	/* the master stays */
		nt.port = rc->target.port;
	}
	if (redisurl_same(&nt, &rc->target)) {
		redisurl_clear(&nt);
		return;
	}
	redisurl_describe(&nt, desc, sizeof(desc));
	redisurl_clear(&rc->target);
	rc->target = nt;
	snprintf(rc->desc, sizeof(rc->desc), "%s", desc);
	if (rc->ac != NULL)
		log_info("redis %s: target changed to %s; reconnecting", rc->name,
		    desc);
	rconn_drop(rc, "target changed");	/* else the backoff goes on */
}

/* Point a follower at the master's new address and reconnect now. */
static void
rconn_move_to_master(struct rconn *rc)
{
	if (rc->target.host != NULL && strcmp(rc->target.host, master.host) == 0 &&
	    rc->target.port == master.port)
		return;
	free(rc->target.host);
	rc->target.host = xstrdup(master.host);
	rc->target.port = master.port;
	redisurl_describe(&rc->target, rc->desc, sizeof(rc->desc));
	rc->attempts = 0;
	if (rc->ac != NULL)
		rconn_drop(rc, "the master moved");
	else if (rc->started)
		timer_after(rc->retry_timer, 0);
}

void
rconn_set_master(const char *host, int port)
{
	if (master.host != NULL && strcmp(master.host, host) == 0 &&
	    master.port == port)
		return;
	free(master.host);
	master.host = xstrdup(host);
	master.port = port;
	for (size_t i = 0; i < master.nfollowers; i++)
		rconn_move_to_master(master.followers[i]);
}

void
rconn_set_master_hook(void (*suspect)(const char *why, void *arg), void *arg)
{
	master.suspect = suspect;
	master.arg = arg;
}

void
rconn_free(struct rconn *rc)
{
	if (rc == NULL)
		return;
	rc->freeing = true;
	if (rc->follows)
		rconn_unfollow(rc);
	if (rc->ac != NULL) {
		redisAsyncContext *ac = rc->ac;

		rc->ac = NULL;
		redisAsyncFree(ac);
	}
	event_free(rc->retry_timer);
	event_free(rc->connect_timer);
	event_free(rc->deadline_timer);
	event_free(rc->handshake_ev);
	event_free(rc->drop_ev);
	event_free(rc->fence_ev);
	fences_free(&rc->fences);	/* never run: their owners are going too */
	for (size_t i = 0; i < rc->nsubs; i++) {
		free(rc->subs[i]->channel);
		free(rc->subs[i]);
	}
	free(rc->subs);
	free(rc->observers);
	for (int i = 0; i < SCRIPT_COUNT; i++)
		free(rc->sha[i]);
	redisurl_clear(&rc->target);
	free(rc->name);
	free(rc);
}
