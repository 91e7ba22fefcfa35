/* SPDX-License-Identifier: MIT */
/*
 * deferctl cancel, retry and purge: the commands that change jobs. Each is
 * one script per job (cancel, revive, purge in daemon/lua); retry and purge
 * pipeline their calls. Nothing here decides a job's state itself.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "log.h"
#include "rclient.h"
#include "util.h"
#include "xmalloc.h"

#define ADMIN_WINDOW	1000	/* dead jobs handled per round of --all */

/* What retry and purge do to each dead job. */
enum admin_op {
	ADMIN_REVIVE,
	ADMIN_PURGE,
};

/* The IDs (or --all) given to retry or purge. */
struct admin_args {
	bool		  all;
	const char	**ids;
	size_t		  nids;
};

/* The queue's keys and channels for the job scripts (store_job_keys). */

static int	admin_all_option(void *, int, const char *);
static int	admin_parse(struct ctl *, const char *, int, char **,
		    struct admin_args *);
static void	admin_keys(struct ctl *, const char *, struct store_keyset *);
static int	admin_run(struct ctl *, enum admin_op, const char **, size_t,
		    long long *);
static int	admin_retry_all(struct ctl *, long long *);
static int	admin_purge_all(struct ctl *, long long *);
static void	admin_print(struct ctl *, const char *, long long);

/*
 * The cancel script on id: its answer into state (one of the fixed words,
 * not the reply's memory); -1 after reporting.
 */
static int
admin_cancel_once(struct ctl *ctl, const char *id, const char **state)
{
	struct store_keyset	 k;
	struct store_call	 c;
	redisReply		*r;
	char			 err[256];

	admin_keys(ctl, id, &k);
	store_cancel(&c, &k.k, id);
	r = ctl_store(ctl, &c);
	store_keyset_free(&k);
	if (r == NULL)
		return (-1);
	if (store_cancel_reply(r, state, err, sizeof(err)) == -1) {
		log_errorx("script cancel: %s", err);
		freeReplyObject(r);
		return (-1);
	}
	freeReplyObject(r);
	return (0);
}

/* cancel's own option: --kill. */
static int
admin_kill_option(void *arg, int ch, const char *optarg_)
{
	(void)optarg_;
	if (ch != CTL_OPT_KILL)
		return (ctl_usage("unexpected option"));
	*(bool *)arg = true;
	return (CTL_OK);
}

/*
 * A running job, with --kill: have its daemon stop it. "killed" when it
 * is gone, else what cancel finds now (a job whose run ended just before
 * is cancelled if requeued, or finished, or dead), or "running".
 */
static int
admin_cancel_kill(struct ctl *ctl, const char *q, const char *id,
    const char **state)
{
	int	left = ctl_kill_job(ctl, q, id);

	if (left == -1)
		return (-1);
	if (left == 0)
		return (0);		/* still "running" */
	if (admin_cancel_once(ctl, id, state) == -1)
		return (-1);
	if (strcmp(*state, "unknown") == 0)
		*state = "killed";
	return (0);
}

/*
 * deferctl cancel [--queue Q] [--kill] ID: prints the state word; 0 only
 * if cancelled (or killed).
 */
int
ctl_cmd_cancel(struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS,
		{ "kill", no_argument, NULL, CTL_OPT_KILL },
		{ NULL, 0, NULL, 0 }
	};
	const char			*q, *id, *state;
	bool				 kill = false;
	int				 status;

	if ((status = ctl_getopt(ctl, argc, argv, longopts, admin_kill_option,
	    &kill)) != CTL_OK)
		return (status);
	if (argc - optind != 1)
		return (ctl_usage("cancel: expected one job ID"));
	id = argv[optind];
	if (ctl_check_lookup_id(id) != CTL_OK)
		return (CTL_USAGE);
	if (ctl_open(ctl) == -1)
		return (CTL_FAIL);
	q = ctl_queue(ctl);
	if (admin_cancel_once(ctl, id, &state) == -1)
		return (CTL_FAIL);
	if (kill && strcmp(state, "running") == 0 &&
	    admin_cancel_kill(ctl, q, id, &state) == -1)
		return (CTL_FAIL);
	if (ctl->json) {
		printf("{\"id\":");
		ctl_json_str(id);
		printf(",\"queue\":");
		ctl_json_str(q);
		printf(",\"state\":");
		ctl_json_str(state);
		printf("}\n");
	} else
		printf("%s\n", state);
	status = strcmp(state, "cancelled") == 0 || strcmp(state, "killed") ==
	    0 ? CTL_OK : CTL_FAIL;
	if (status != CTL_OK)
		log_warnx("job %s not cancelled: %s%s", id, state,
		    strcmp(state, "running") == 0 && !kill ?
		    " (--kill stops it)" : "");
	return (status);
}

/* retry/purge's own option: --all. */
static int
admin_all_option(void *arg, int ch, const char *optarg_)
{
	(void)optarg_;
	if (ch != CTL_OPT_ALL)
		return (ctl_usage("unexpected option"));
	*(bool *)arg = true;
	return (CTL_OK);
}

/* Parse "[--queue Q] (ID... | --all)" for command cmd into a. */
static int
admin_parse(struct ctl *ctl, const char *cmd, int argc, char **argv,
    struct admin_args *a)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS,
		{ "all", no_argument, NULL, CTL_OPT_ALL },
		{ NULL, 0, NULL, 0 }
	};
	int				status;

	memset(a, 0, sizeof(*a));
	if ((status = ctl_getopt(ctl, argc, argv, longopts, admin_all_option,
	    &a->all)) != CTL_OK)
		return (status);
	a->ids = (const char **)argv + optind;
	a->nids = (size_t)(argc - optind);
	if (a->all && a->nids > 0)
		return (ctl_usage("%s: give job IDs or --all, not both", cmd));
	if (!a->all && a->nids == 0)
		return (ctl_usage("%s: expected job IDs or --all", cmd));
	for (size_t i = 0; i < a->nids; i++)
		if (ctl_check_lookup_id(a->ids[i]) != CTL_OK)
			return (CTL_USAGE);
	return (CTL_OK);
}

/* The script keys of ctl's queue, and of job id unless NULL. */
static void
admin_keys(struct ctl *ctl, const char *id, struct store_keyset *a)
{
	store_keyset_init(a, ctl_ns(ctl), ctl_queue(ctl), id, ctl_events(ctl));
}

/* Build call c of op for id; k must have its job key. */
static void
admin_prepare(enum admin_op op, const char *id, struct store_keyset *k,
    struct store_call *c)
{
	if (op == ADMIN_PURGE)
		store_purge(c, &k->k, id);
	else
		store_revive(c, &k->k, id);
}

/* Report a revive or purge answer n for id; false when it is a failure. */
static bool
admin_answer(struct ctl *ctl, const char *id, int64_t n)
{
	if (n == 0) {
		log_errorx("job %s is not dead in queue %s", id, ctl_queue(ctl));
		return (false);
	}
	if (n < 0) {
		log_errorx("job %s is dead but its hash is missing; purge it "
		    "instead", id);
		return (false);
	}
	return (true);
}

/*
 * Run revive or purge for n IDs, pipelined. Adds the integer replies to
 * *done; an ID whose reply is 0 was not dead, which is reported and makes
 * the result CTL_FAIL. Only an I/O error stops before every reply is read.
 */
static int
admin_run(struct ctl *ctl, enum admin_op op, const char **ids, size_t n,
    long long *done)
{
	struct store_keyset	*keys = xcalloc(n, sizeof(*keys));
	struct store_call	*calls = xcalloc(n, sizeof(*calls));
	const char		*name;
	redisReply		*r;
	bool			 io_ok = true, failed = false;
	size_t			 i, sent = 0;
	int64_t			 v;
	char			 err[256];

	for (i = 0; i < n; i++) {
		admin_keys(ctl, ids[i], &keys[i]);
		admin_prepare(op, ids[i], &keys[i], &calls[i]);
	}
	name = n > 0 ? scripts_get(calls[0].script)->name : "";
	if (n > 0 && rclient_script_load(ctl->rc, calls[0].script) != 0) {
		log_errorx("redis: SCRIPT LOAD %s: %s", name, ctl->rc->errstr);
		io_ok = false;
	}
	for (; sent < n && io_ok; sent++)
		io_ok = rclient_script_append(ctl->rc, calls[sent].script,
		    calls[sent].nkeys, calls[sent].argc, calls[sent].argv,
		    calls[sent].lens) == 0;
	for (i = 0; i < sent && io_ok; i++) {
		r = rclient_script_reply(ctl->rc, calls[i].script,
		    calls[i].nkeys, calls[i].argc, calls[i].argv,
		    calls[i].lens);
		if ((io_ok = r != NULL) == false)
			log_errorx("redis: script %s: %s", name, ctl->rc->errstr);
		else if (store_count_reply(r, &v, err, sizeof(err)) == -1) {
			log_errorx("redis: script %s: %s", name, err);
			failed = true;
		} else if (!admin_answer(ctl, ids[i], v))
			failed = true;
		else
			*done += v;
		if (r != NULL)
			freeReplyObject(r);
	}
	for (i = 0; i < n; i++) {
		store_call_free(&calls[i]);
		store_keyset_free(&keys[i]);
	}
	free(calls);
	free(keys);
	return (io_ok && !failed ? CTL_OK : CTL_FAIL);
}

/* Revive every dead job, a window at a time, until none is left. */
static int
admin_retry_all(struct ctl *ctl, long long *done)
{
	char		*dead = keys_queue(ctl_ns(ctl), ctl_queue(ctl), "dead");
	const char	**ids;
	redisReply	*r;
	long long	 before;
	int		 status = CTL_OK;

	while (status == CTL_OK) {
		r = ctl_cmd(ctl, "ZRANGE %s 0 %d", dead, ADMIN_WINDOW - 1);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
			if (r != NULL)
				freeReplyObject(r);
			status = CTL_FAIL;
			break;
		}
		if (r->elements == 0) {
			freeReplyObject(r);
			break;
		}
		ids = xcalloc(r->elements, sizeof(*ids));
		for (size_t i = 0; i < r->elements; i++)
			ids[i] = r->element[i]->str;
		before = *done;
		status = admin_run(ctl, ADMIN_REVIVE, ids, r->elements, done);
		free(ids);
		freeReplyObject(r);
		if (*done == before)	/* raced with another client: stop */
			break;
	}
	free(dead);
	return (status);
}

/* Purge every dead job: the script removes up to 1000 per call; loop to 0. */
static int
admin_purge_all(struct ctl *ctl, long long *done)
{
	struct store_keyset	 k;
	struct store_call	 c;
	redisReply		*r;
	int64_t			 n = 0;
	int			 status = CTL_OK;
	char			 err[256];

	admin_keys(ctl, NULL, &k);
	for (;;) {
		store_purge(&c, &k.k, NULL);
		if ((r = ctl_store(ctl, &c)) == NULL) {
			status = CTL_FAIL;
			break;
		}
		if (store_count_reply(r, &n, err, sizeof(err)) == -1) {
			log_errorx("script purge: %s", err);
			status = CTL_FAIL;
		} else
			*done += n;
		freeReplyObject(r);
		if (status != CTL_OK || n <= 0)
			break;
	}
	store_keyset_free(&k);
	return (status);
}

/* Print the count of a retry or purge under key (JSON) or alone (text). */
static void
admin_print(struct ctl *ctl, const char *key, long long n)
{
	if (ctl->json) {
		printf("{\"queue\":");
		ctl_json_str(ctl_queue(ctl));
		printf(",\"%s\":%lld}\n", key, n);
	} else
		printf("%lld\n", n);
}

/* deferctl retry [--queue Q] (ID... | --all): dead jobs back to delayed. */
int
ctl_cmd_retry(struct ctl *ctl, int argc, char **argv)
{
	struct admin_args	a;
	long long		n = 0;
	int			status;

	if ((status = admin_parse(ctl, "retry", argc, argv, &a)) != CTL_OK)
		return (status);
	if (ctl_open(ctl) == -1)
		return (CTL_FAIL);
	if (a.all)
		status = admin_retry_all(ctl, &n);
	else
		status = admin_run(ctl, ADMIN_REVIVE, a.ids, a.nids, &n);
	admin_print(ctl, "retried", n);
	return (status);
}

/* deferctl purge [--queue Q] (ID... | --all): delete dead jobs. */
int
ctl_cmd_purge(struct ctl *ctl, int argc, char **argv)
{
	struct admin_args	a;
	long long		n = 0;
	int			status;

	if ((status = admin_parse(ctl, argv[0], argc, argv, &a)) != CTL_OK)
		return (status);
	if (ctl_open(ctl) == -1)
		return (CTL_FAIL);
	if (a.all)
		status = admin_purge_all(ctl, &n);
	else
		status = admin_run(ctl, ADMIN_PURGE, a.ids, a.nids, &n);
	admin_print(ctl, "purged", n);
	return (status);
}
