/* SPDX-License-Identifier: MIT */
/*
 * deferctl lock: run a command while holding a deferd resource lock, like
 * flock(1) across hosts (README: Locks). The lock is the daemon's: the same
 * scripts, token compare-and-extend every ttl/3, compare-and-delete at the
 * end, and a fencing token in the command's environment. This is a CLI, so
 * it blocks: the supervisor loop waits for signals (SIGCHLD, SIGINT,
 * SIGTERM) with sigtimedwait and extends the lock between them.
 */
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "keys.h"
#include "log.h"
#include "rclient.h"
#include "store.h"
#include "units.h"
#include "util.h"

#define LOCK_EX_TEMPFAIL	75	/* sysexits EX_TEMPFAIL: lock not had or lost */
#define LOCK_KILL_GRACE_MS	5000	/* SIGTERM, then SIGKILL after this */
#define LOCK_BACKOFF_MIN_MS	25
#define LOCK_BACKOFF_MAX_MS	500
#define LOCK_TOKEN_BYTES	16

enum {
	LOCK_OPT_TTL = 0x200,
	LOCK_OPT_WAIT,
};

/* One run of deferctl lock. */
struct lk {
	struct ctl	*ctl;
	const char	*resource;
	char		**cmd;
	int64_t		 ttl_ms;	/* -1 until parsed: locks.lease */
	int64_t		 wait_ms;
	int64_t		 io_timeout_ms;	/* per Redis call while the command runs */
	char		*key, *fence_key;
	char		 token[2 * LOCK_TOKEN_BYTES + 1];
	char		 fence[24];
	pid_t		 pid;
	int64_t		 valid_until;	/* monotonic: held at least until then */
	int64_t		 next_extend;
	int64_t		 kill_at;	/* SIGKILL time once lost, 0 before */
	bool		 lost;
	bool		 term_sent, kill_sent;
	sigset_t	 sigs, oldmask;
};

static int	lk_parse(struct lk *, int, char **);
static int	lk_acquire(struct lk *);
static int	lk_spawn(struct lk *);
static int	lk_supervise(struct lk *);
static void	lk_release(struct lk *);
static void	lk_reconnect(struct lk *);

/* deferctl lock [--ttl D] [--wait D] RESOURCE [--] CMD [ARGS...] */
int
ctl_cmd_lock(struct ctl *ctl, int argc, char **argv)
{
	struct lk	lk;
	int		status;

	memset(&lk, 0, sizeof(lk));
	lk.ctl = ctl;
	lk.ttl_ms = -1;
	if ((status = lk_parse(&lk, argc, argv)) != CTL_OK)
		return (status);
	if (ctl_open(ctl) == -1)
		return (CTL_FAIL);
	if (lk.ttl_ms < 0)
		lk.ttl_ms = ctl->cfg->locks.lease_ms;
	lk.io_timeout_ms = ctl->cfg->redis.command_timeout_ms;
	if (lk.io_timeout_ms > lk.ttl_ms / 3)
		lk.io_timeout_ms = lk.ttl_ms / 3 > 100 ? lk.ttl_ms / 3 : 100;
	lk.key = keys_lock(ctl_ns(ctl), lk.resource, ctl_tagged(ctl));
	lk.fence_key = keys_fence(ctl_ns(ctl), lk.resource, ctl_tagged(ctl));
	if (ctl_tagged(ctl))
		lk_reconnect(&lk);	/* to the master of the lock's slot */
	util_random_hex(lk.token, LOCK_TOKEN_BYTES);
	status = lk_acquire(&lk);
	if (status == CTL_OK) {
		status = lk_spawn(&lk);
		if (status == CTL_OK)
			status = lk_supervise(&lk);
		lk_release(&lk);
	}
	free(lk.key);
	free(lk.fence_key);
	return (status);
}

/* Handle one lock option; CTL_USAGE after reporting a bad one. */
static int
lk_option(struct lk *lk, int ch, const char *arg)
{
	int64_t	*dst = ch == LOCK_OPT_TTL ? &lk->ttl_ms : &lk->wait_ms;

	if (ch != LOCK_OPT_TTL && ch != LOCK_OPT_WAIT)
		return (ctl_usage("unexpected option"));
	if (units_parse_duration(arg, dst) == -1 ||
	    (ch == LOCK_OPT_TTL && *dst == 0))
		return (ctl_usage("%s: '%s' is not a%s duration (like 500ms, "
		    "30s, 5m)", ch == LOCK_OPT_TTL ? "--ttl" : "--wait", arg,
		    ch == LOCK_OPT_TTL ? " positive" : ""));
	return (CTL_OK);
}

/*
 * Parse the command line. Options stop at RESOURCE ("+"), so the command's
 * own options are never taken for ours; a "--" after RESOURCE is skipped.
 */
static int
lk_parse(struct lk *lk, int argc, char **argv)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS,
		{ "ttl", required_argument, NULL, LOCK_OPT_TTL },
		{ "wait", required_argument, NULL, LOCK_OPT_WAIT },
		{ NULL, 0, NULL, 0 }
	};
	int				ch, r;
	bool				dash_before;

	while ((ch = getopt_long(argc, argv, "+" CTL_COMMON_SHORTOPTS,
	    longopts, NULL)) != -1) {
		if ((r = ctl_common_option(lk->ctl, ch, argv)) == -1)
			r = lk_option(lk, ch, optarg);
		if (r != CTL_OK)
			return (r);
	}
	/* getopt consumed a "--" that came before RESOURCE. */
	dash_before = optind > 1 && strcmp(argv[optind - 1], "--") == 0;
	if (optind < argc && strcmp(argv[optind], "--") == 0) {
		optind++;	/* "--" before RESOURCE */
		dash_before = true;
	}
	if (optind >= argc || argv[optind][0] == '\0')
		return (ctl_usage("lock: RESOURCE and a command are required"));
	lk->resource = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	else if (dash_before)	/* "lock -- echo hi": no RESOURCE was given */
		return (ctl_usage("lock: RESOURCE comes before '--' (deferctl "
		    "lock RESOURCE -- COMMAND [ARG]...); '%s' would be taken for "
		    "the resource", lk->resource));
	if (optind >= argc)
		return (ctl_usage("lock: no command given after RESOURCE"));
	lk->cmd = argv + optind;
	return (CTL_OK);
}

/*
 * One acquire call: 1 held (fence set), 0 busy (*pttl its remaining
 * lease), -1 after reporting an error.
 */
static int
lk_try(struct lk *lk, int64_t *pttl)
{
	struct store_call		c;
	struct store_lock_acquired	a;
	redisReply			*r;
	char				err[256];
	int				rc;

	store_lock_acquire(&c, lk->key, lk->fence_key, lk->token, lk->ttl_ms);
	if ((r = ctl_store(lk->ctl, &c)) == NULL)
		return (-1);
	rc = store_lock_acquire_reply(r, &a, err, sizeof(err));
	freeReplyObject(r);
	if (rc == -1) {
		log_errorx("redis: script lock_acquire: %s", err);
		return (-1);
	}
	if (a.held)
		snprintf(lk->fence, sizeof(lk->fence), "%" PRId64, a.fence);
	else
		*pttl = a.pttl;
	return (a.held);
}

/* Take the lock, trying again with backoff for up to --wait; 75 if busy. */
static int
lk_acquire(struct lk *lk)
{
	int64_t	start = util_mono_ms(), backoff = LOCK_BACKOFF_MIN_MS;
	int64_t	pttl = -1, left, delay;
	int	r;

	for (;;) {
		int64_t sent = util_mono_ms();

		if ((r = lk_try(lk, &pttl)) == -1)
			return (CTL_FAIL);
		if (r == 1) {
			lk->valid_until = sent + lk->ttl_ms;
			return (CTL_OK);
		}
		left = start + lk->wait_ms - util_mono_ms();
		if (left <= 0)
			break;
		delay = backoff / 2 + util_random_below(backoff / 2 + 1);
		ctl_sleep_ms(delay < left ? delay : left);
		if (backoff < LOCK_BACKOFF_MAX_MS)
			backoff *= 2;
	}
	log_errorx("resource %s is locked by another holder (its lease ends in "
	    "%" PRId64 "ms)%s", lk->resource, pttl, lk->wait_ms > 0 ?
	    "; --wait passed" : "");
	return (LOCK_EX_TEMPFAIL);
}

/* In the child: the lock's environment, clean signals, exec the command. */
static _Noreturn void
lk_exec(struct lk *lk)
{
	int	e;

	setenv("DEFERD_FENCING_TOKEN", lk->fence, 1);
	setenv("DEFERD_RESOURCE", lk->resource, 1);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &lk->oldmask, NULL);
	execvp(lk->cmd[0], lk->cmd);
	e = errno;
	fprintf(stderr, "deferctl: %s: %s\n", lk->cmd[0], strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

/* Block the signals the supervisor waits for, then fork and exec the command. */
static int
lk_spawn(struct lk *lk)
{
	struct timeval	tv;

	sigemptyset(&lk->sigs);
	sigaddset(&lk->sigs, SIGCHLD);
	sigaddset(&lk->sigs, SIGINT);
	sigaddset(&lk->sigs, SIGTERM);
	sigaddset(&lk->sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &lk->sigs, &lk->oldmask);
	fflush(NULL);
	if ((lk->pid = fork()) == -1) {
		log_error("fork");
		sigprocmask(SIG_SETMASK, &lk->oldmask, NULL);
		return (CTL_FAIL);
	}
	if (lk->pid == 0)
		lk_exec(lk);
	tv.tv_sec = lk->io_timeout_ms / 1000;
	tv.tv_usec = (lk->io_timeout_ms % 1000) * 1000;
	redisSetTimeout(lk->ctl->rc, tv);
	lk->next_extend = util_mono_ms() + lk->ttl_ms / 3;
	return (CTL_OK);
}

/* Connect again after an I/O error (the old context is unusable). */
static void
lk_reconnect(struct lk *lk)
{
	char	err[512];

	redisFree(lk->ctl->rc);
	lk->ctl->rc = ctl_connect(lk->ctl->cfg, lk->key,
	    lk->io_timeout_ms, err, sizeof(err));
	if (lk->ctl->rc == NULL)
		log_warnx("reconnecting: %s", err);
}

/*
 * Run c (lock_extend or lock_release) on the connection, reconnecting if
 * need be: 1 when the token matched, 0 when not, -1 when it failed (logged).
 */
static int
lk_call(struct lk *lk, struct store_call *c)
{
	redisReply	*r;
	char		 err[256];
	bool		 ok = false;
	int		 rc;

	if (lk->ctl->rc == NULL)
		lk_reconnect(lk);
	r = lk->ctl->rc == NULL ? NULL : rclient_script(lk->ctl->rc, c->script,
	    c->nkeys, c->argc, c->argv, c->lens);
	store_call_free(c);
	if (lk->ctl->rc == NULL)
		return (-1);
	if (r == NULL) {
		log_warnx("redis: script %s: %s", scripts_get(c->script)->name,
		    lk->ctl->rc->errstr);
		redisFree(lk->ctl->rc);
		lk->ctl->rc = NULL;
		return (-1);
	}
	rc = store_lock_token_reply(r, &ok, err, sizeof(err));
	freeReplyObject(r);
	if (rc == -1) {
		log_warnx("redis: script %s: %s", scripts_get(c->script)->name,
		    err);
		return (-1);
	}
	return (ok ? 1 : 0);
}

/* The lock is lost: say so and stop the command (TERM now, KILL later). */
static void
lk_lose(struct lk *lk, const char *why)
{
	lk->lost = true;
	log_errorx("lock on resource %s lost: %s; stopping the command "
	    "(pid %ld)", lk->resource, why, (long)lk->pid);
	kill(lk->pid, SIGTERM);
	lk->term_sent = true;
	lk->kill_at = util_mono_ms() + LOCK_KILL_GRACE_MS;
}

/* Compare-and-extend once; a refusal or an overdue lease loses the lock. */
static void
lk_extend(struct lk *lk)
{
	int64_t			sent = util_mono_ms();
	struct store_call	c;
	int			rc;

	lk->next_extend = sent + (lk->ttl_ms / 3 > 0 ? lk->ttl_ms / 3 : 1);
	store_lock_extend(&c, lk->key, lk->token, lk->ttl_ms);
	if ((rc = lk_call(lk, &c)) == 1)
		lk->valid_until = sent + lk->ttl_ms;
	else if (rc == 0)
		lk_lose(lk, "the lock key expired or holds another token");
}

/* Time until the next thing the supervisor must do, in ms (>= 1). */
static int64_t
lk_next_wakeup(const struct lk *lk)
{
	int64_t	next, now = util_mono_ms();

	if (lk->lost)
		next = lk->kill_sent ? now + 1000 : lk->kill_at;
	else
		next = lk->next_extend < lk->valid_until ? lk->next_extend :
		    lk->valid_until;
	return (next - now > 0 ? next - now : 1);
}

/* A signal arrived: forward INT/TERM/HUP unless the terminal sent it to the command too. */
static void
lk_signal(struct lk *lk, const siginfo_t *si)
{
	if (si->si_signo == SIGCHLD || si->si_code == SI_KERNEL)
		return;
	kill(lk->pid, si->si_signo);
}

/* The command's status as an exit status: its code, or 128+N for signal N. */
static int
lk_exit_status(int st)
{
	if (WIFEXITED(st))
		return (WEXITSTATUS(st));
	if (WIFSIGNALED(st))
		return (128 + WTERMSIG(st));
	return (CTL_FAIL);
}

/* Wait for the command, extending the lock; its exit status, or 75 if lost. */
static int
lk_supervise(struct lk *lk)
{
	struct timespec	ts;
	siginfo_t	si;
	int64_t		wait;
	pid_t		r;
	int		st;

	while ((r = waitpid(lk->pid, &st, WNOHANG)) != lk->pid) {
		int64_t now = util_mono_ms();

		if (r == -1 && errno != EINTR) {
			log_error("waitpid %ld", (long)lk->pid);
			sigprocmask(SIG_SETMASK, &lk->oldmask, NULL);
			return (CTL_FAIL);
		}

		if (!lk->lost && now >= lk->next_extend)
			lk_extend(lk);
		if (!lk->lost && util_mono_ms() >= lk->valid_until)
			lk_lose(lk, "no successful extension within the ttl");
		if (lk->lost && !lk->kill_sent && util_mono_ms() >= lk->kill_at) {
			kill(lk->pid, SIGKILL);
			lk->kill_sent = true;
		}
		wait = lk_next_wakeup(lk);
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000;
		if (sigtimedwait(&lk->sigs, &si, &ts) > 0)
			lk_signal(lk, &si);
	}
	sigprocmask(SIG_SETMASK, &lk->oldmask, NULL);
	if (lk->lost) {
		log_errorx("lock on resource %s was lost while the command ran",
		    lk->resource);
		return (LOCK_EX_TEMPFAIL);
	}
	return (lk_exit_status(st));
}

/* Compare-and-delete: never removes a lock another holder has taken since. */
static void
lk_release(struct lk *lk)
{
	struct store_call	c;
	int			rc;

	store_lock_release(&c, lk->key, lk->token);
	if ((rc = lk_call(lk, &c)) == 0 && !lk->lost)
		log_warnx("lock on resource %s had expired before release",
		    lk->resource);
	else if (rc == -1)
		log_warnx("releasing the lock on %s failed; it expires within "
		    "%" PRId64 "ms", lk->resource, lk->ttl_ms);
}
