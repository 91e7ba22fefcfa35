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

/* The IDs (or --all) given to retry or purge. */
struct admin_args {
	bool		  all;
	const char	**ids;
	size_t		  nids;
};

/* One prepared revive or purge call. */
struct admin_call {
	const char	*argv[6];
	char		*job;
	int		 nkeys, argc;	/* argc counts keys and args */
};

static int	admin_all_option(void *, int, const char *);
static int	admin_parse(struct ctl *, const char *, int, char **,
		    struct admin_args *);
static void	admin_prepare(struct ctl *, enum script_id, const char *,
		    char **, struct admin_call *);
static int	admin_run(struct ctl *, enum script_id, const char **, size_t,
		    long long *);
static int	admin_retry_all(struct ctl *, long long *);
static int	admin_purge_all(struct ctl *, long long *);
static void	admin_print(struct ctl *, const char *, long long);

/* deferctl cancel [--queue Q] ID: prints the state word; 0 only if cancelled. */
int
ctl_cmd_cancel(struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS, { NULL, 0, NULL, 0 }
	};
	const char			*ns, *q, *id, *args[7];
	char				*keys[5];
	redisReply			*r;
	int				 status;

	if ((status = ctl_getopt(ctl, argc, argv, longopts, NULL, NULL)) !=
	    CTL_OK)
		return (status);
	if (argc - optind != 1)
		return (ctl_usage("cancel: expected one job ID"));
	id = argv[optind];
	if (ctl_check_lookup_id(id) != CTL_OK)
		return (CTL_USAGE);
	if (ctl_open(ctl) == -1)
		return (CTL_FAIL);
	ns = ctl_ns(ctl);
	q = ctl_queue(ctl);
	keys[0] = keys_queue(ns, q, "delayed");
	keys[1] = keys_queue(ns, q, "active");
	keys[2] = keys_queue(ns, q, "dead");
	keys[3] = keys_job(ns, q, id);
	keys[4] = keys_result(ns, q, id);
	for (int i = 0; i < 5; i++)
		args[i] = keys[i];
	args[5] = id;
	args[6] = ctl_events(ctl);
	r = ctl_script(ctl, SCRIPT_CANCEL, 5, 7, args, NULL);
	for (int i = 0; i < 5; i++)
		free(keys[i]);
	if (r == NULL)
		return (CTL_FAIL);
	if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
		log_errorx("script cancel: unexpected reply (type %d)", r->type);
		freeReplyObject(r);
		return (CTL_FAIL);
	}
	if (ctl->json) {
		printf("{\"id\":");
		ctl_json_str(id);
		printf(",\"queue\":");
		ctl_json_str(q);
		printf(",\"state\":");
		ctl_json_bytes(r->str, r->len);
		printf("}\n");
	} else
		printf("%s\n", r->str);
	status = strcmp(r->str, "cancelled") == 0 ? CTL_OK : CTL_FAIL;
	if (status != CTL_OK)
		log_warnx("job %s not cancelled: %s", id, r->str);
	freeReplyObject(r);
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

/*
 * Fill c for one revive (KEYS dead, delayed, job; ARGV id, wake, events) or purge
 * (KEYS dead; ARGV prefix, id) of id. k holds the queue's dead, delayed,
 * wake and prefix names. c->job is allocated (free it).
 */
static void
admin_prepare(struct ctl *ctl, enum script_id sid, const char *id, char **k,
    struct admin_call *c)
{
	c->job = NULL;
	c->argv[0] = k[0];
	if (sid == SCRIPT_PURGE) {
		c->argv[1] = k[3];
		c->argv[2] = id;
		c->nkeys = 1;
		c->argc = 3;
		return;
	}
	c->job = keys_job(ctl_ns(ctl), ctl_queue(ctl), id);
	c->argv[1] = k[1];
	c->argv[2] = c->job;
	c->argv[3] = id;
	c->argv[4] = k[2];
	c->argv[5] = ctl_events(ctl);
	c->nkeys = 3;
	c->argc = 6;
}

/*
 * Run revive or purge for n IDs, pipelined. Adds the integer replies to
 * *done; an ID whose reply is 0 was not dead, which is reported and makes
 * the result CTL_FAIL. Only an I/O error stops before every reply is read.
 */
static int
admin_run(struct ctl *ctl, enum script_id sid, const char **ids, size_t n,
    long long *done)
{
	const char		*ns = ctl_ns(ctl), *q = ctl_queue(ctl);
	const char		*name = scripts_get(sid)->name;
	char			*k[4] = { keys_queue(ns, q, "dead"),
				    keys_queue(ns, q, "delayed"),
				    keys_queue(ns, q, "wake"), keys_prefix(ns, q) };
	struct admin_call	*calls = xcalloc(n, sizeof(*calls));
	redisReply		*r;
	bool			 io_ok = true, failed = false;
	size_t			 i, sent = 0;

	if (n > 0 && rclient_script_load(ctl->rc, sid) != 0) {
		log_errorx("redis: SCRIPT LOAD %s: %s", name, ctl->rc->errstr);
		io_ok = false;
	}
	for (; sent < n && io_ok; sent++) {
		admin_prepare(ctl, sid, ids[sent], k, &calls[sent]);
		io_ok = rclient_script_append(ctl->rc, sid, calls[sent].nkeys,
		    calls[sent].argc, calls[sent].argv, NULL) == 0;
	}
	for (i = 0; i < sent && io_ok; i++) {
		r = rclient_script_reply(ctl->rc, sid, calls[i].nkeys,
		    calls[i].argc, calls[i].argv, NULL);
		if ((io_ok = r != NULL) == false)
			log_errorx("redis: script %s: %s", name, ctl->rc->errstr);
		else if (r->type != REDIS_REPLY_INTEGER) {
			log_errorx("redis: script %s: %s", name,
			    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
			failed = true;
		} else if (r->integer == 0) {
			log_errorx("job %s is not dead in queue %s", ids[i], q);
			failed = true;
		} else if (r->integer < 0) {
			log_errorx("job %s is dead but its hash is missing; purge "
			    "it instead", ids[i]);
			failed = true;
		} else
			*done += r->integer;
		if (r != NULL)
			freeReplyObject(r);
	}
	for (i = 0; i < n; i++)
		free(calls[i].job);
	free(calls);
	for (i = 0; i < 4; i++)
		free(k[i]);
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
		status = admin_run(ctl, SCRIPT_REVIVE, ids, r->elements, done);
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
	const char	*ns = ctl_ns(ctl), *q = ctl_queue(ctl);
	char		*dead = keys_queue(ns, q, "dead"), *prefix = keys_prefix(ns, q);
	const char	*argv[3] = { dead, prefix, "" };
	redisReply	*r;
	int		 status = CTL_OK;

	for (;;) {
		if ((r = ctl_script(ctl, SCRIPT_PURGE, 1, 3, argv, NULL)) == NULL) {
			status = CTL_FAIL;
			break;
		}
		if (r->type != REDIS_REPLY_INTEGER) {
			log_errorx("script purge: unexpected reply (type %d)", r->type);
			status = CTL_FAIL;
		} else
			*done += r->integer;
		if (r->type != REDIS_REPLY_INTEGER || r->integer <= 0) {
			freeReplyObject(r);
			break;
		}
		freeReplyObject(r);
	}
	free(dead);
	free(prefix);
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
		status = admin_run(ctl, SCRIPT_REVIVE, a.ids, a.nids, &n);
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

	if ((status = admin_parse(ctl, "purge", argc, argv, &a)) != CTL_OK)
		return (status);
	if (ctl_open(ctl) == -1)
		return (CTL_FAIL);
	if (a.all)
		status = admin_purge_all(ctl, &n);
	else
		status = admin_run(ctl, SCRIPT_PURGE, a.ids, a.nids, &n);
	admin_print(ctl, "purged", n);
	return (status);
}
