/* SPDX-License-Identifier: MIT */
/*
 * deferctl enqueue: one job from the command line (payload as an argument or
 * the whole of stdin), or --batch: one job per stdin line, up to
 * ENQ_BATCH_JOBS lines per enqueue_batch script call, the calls pipelined in
 * windows. The scripts (daemon/lua) do the work and the timing; the typed
 * store (store_jobs.c) builds their calls and reads their replies.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "handler.h"
#include "keys.h"
#include "log.h"
#include "rclient.h"
#include "units.h"
#include "util.h"
#include "xmalloc.h"

#define ENQ_SOURCE	""		/* the script's default: "delayed" */

/*
 * --batch. One enqueue script call costs Redis about 30us whatever it does
 * (bench/FINDINGS.md); enqueue_batch pays that once per ENQ_BATCH_JOBS jobs
 * (fewer when their payloads pass ENQ_BATCH_BYTES), which keeps one call
 * to about a millisecond of Redis time. ENQ_WINDOW_CALLS calls make one
 * pipelined window.
 */
#define ENQ_BATCH_JOBS		256
#define ENQ_BATCH_BYTES		(256 * 1024)
#define ENQ_WINDOW_CALLS	8
#define ENQ_WINDOW_LINES	(ENQ_BATCH_JOBS * ENQ_WINDOW_CALLS)

/* What the command line asked for. */
#define ENQ_DELAY_MAX	(3650LL * 86400 * 1000)	/* --in: ten years */
#define ENQ_TIMEOUT_MAX	(30LL * 86400 * 1000)	/* --timeout: as handlers.timeout */

struct enq_opts {
	const char	*mode;		/* "in" or "at" */
	int64_t		 ms;		/* delay, or epoch ms */
	bool		 have_in, have_at, batch;
	bool		 force;		/* a queue the config does not list */
	const char	*id, *resource, *handler, *payload;
	long long	 max_attempts;	/* 0: not given */
	int64_t		 timeout_ms;	/* -1: not given */
};

/* What every call of one run shares: its keys and the job's settings. */
struct enq_ctx {
	struct enq_opts			*o;
	char				*delayed, *wake, *prefix, *events;
	struct store_enqueue_args	 a;
};

/* --batch: one stdin line and its job ID; the getline buffer is reused. */
struct enq_line {
	char		 id[208];
	char		*buf;
	size_t		 cap;
};

/* --batch: one enqueue_batch call, kept until its reply is read. */
struct enq_bcall {
	struct store_call	c;
	int			njobs;
};

/* --batch: the lines and calls of one pipelined window. */
struct enq_window {
	struct enq_line	 lines[ENQ_WINDOW_LINES];
	struct enq_bcall calls[ENQ_WINDOW_CALLS];
	size_t		 ncalls;
};

static int	enq_parse(struct enq_opts *, struct ctl *, int, char **);
static int	enq_option(void *, int, const char *);
static int	enq_check(struct enq_opts *, int, char **);
static void	enq_ctx_init(struct enq_ctx *, struct ctl *, struct enq_opts *);
static void	enq_ctx_free(struct enq_ctx *);
static int	enq_one(struct ctl *, struct enq_ctx *);
static char	*enq_read_stdin(size_t *);
static int	enq_batch(struct ctl *, struct enq_ctx *);
static size_t	enq_fill(struct enq_ctx *, struct enq_window *);
static int	enq_load(struct ctl *, const struct store_call *);
static int	enq_send(struct ctl *, struct enq_window *);
static int	enq_collect(struct ctl *, struct enq_window *, long long *,
		    int *);

/*
 * Warn when this host's handlers.dir can be read and handler is not a
 * usable handler in it: a typo, or a handler not deployed yet. The job is
 * enqueued all the same (another host may have it; daemons here wait).
 */
static void
enq_warn_missing(const struct ctl *ctl, const char *handler)
{
	enum handler_fault	fault;
	char			err[512];

	if (ctl->cfg == NULL || access(ctl->cfg->handlers.dir, X_OK) == -1)
		return;
	if (handler_check(ctl->cfg->handlers.dir, handler, err, sizeof(err),
	    &fault) == -1 && fault == HANDLER_FAULT_FILE)
		log_warnx("%s; enqueued anyway: daemons on this host keep its "
		    "jobs waiting until it is there", err);
}

/* deferctl enqueue [options] HANDLER [PAYLOAD|-], or --batch HANDLER. */
int
ctl_cmd_enqueue(struct ctl *ctl, int argc, char **argv)
{
	struct enq_opts	o;
	struct enq_ctx	x;
	int		status;

	if ((status = enq_parse(&o, ctl, argc, argv)) != CTL_OK)
		return (status);
	if (ctl_open(ctl) == -1)
		return (CTL_FAIL);
	if (!o.force && !config_has_queue(ctl->cfg, ctl_queue(ctl))) {
		log_errorx("queue '%s' is not in the queues of %s: no daemon with "
		    "this configuration claims its jobs; add it there, or give "
		    "--force to enqueue anyway", ctl_queue(ctl), ctl->cfg->path);
		return (CTL_USAGE);
	}
	enq_warn_missing(ctl, o.handler);
	enq_ctx_init(&x, ctl, &o);
	status = o.batch ? enq_batch(ctl, &x) : enq_one(ctl, &x);
	if (status == CTL_OK)
		status = ctl_wait_replicas(ctl, o.batch ? "the batch" : "the job");
	enq_ctx_free(&x);
	return (status);
}

/* Parse and validate the command line into o. */
static int
enq_parse(struct enq_opts *o, struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		CTL_COMMON_LONGOPTS,
		{ "in", required_argument, NULL, CTL_OPT_IN },
		{ "at", required_argument, NULL, CTL_OPT_AT },
		{ "id", required_argument, NULL, CTL_OPT_ID },
		{ "resource", required_argument, NULL, CTL_OPT_RESOURCE },
		{ "max-attempts", required_argument, NULL, CTL_OPT_MAX_ATTEMPTS },
		{ "timeout", required_argument, NULL, CTL_OPT_TIMEOUT },
		{ "batch", no_argument, NULL, CTL_OPT_BATCH },
		{ "force", no_argument, NULL, CTL_OPT_FORCE },
		{ NULL, 0, NULL, 0 }
	};
	int				r;

	memset(o, 0, sizeof(*o));
	o->mode = "in";
	o->timeout_ms = -1;
	if ((r = ctl_getopt(ctl, argc, argv, longopts, enq_option, o)) != CTL_OK)
		return (r);
	return (enq_check(o, argc - optind, argv + optind));
}

/* Handle one enqueue-specific option. */
/*
 * Parse the duration arg of option what into *ms: a usage error that says
 * whether it is not a duration or one above max (and names the maximum).
 */
static int
enq_duration(const char *what, const char *arg, int64_t max, int64_t *ms)
{
	char	m[32];
	int	rc;

	errno = 0;
	if ((rc = units_parse_duration(arg, ms)) == -1 && errno != ERANGE)
		return (ctl_usage("%s: '%s' is not a duration (like 30s, 5m, 1h)",
		    what, arg));
	if (rc == -1 || *ms > max) {
		units_format_duration(max, m, sizeof(m));
		return (ctl_usage("%s: '%s' is too long: at most %s", what, arg,
		    m));
	}
	return (CTL_OK);
}

static int
enq_option(void *arg_o, int ch, const char *arg)
{
	struct enq_opts	*o = arg_o;

	switch (ch) {
	case CTL_OPT_IN:
		o->have_in = true;
		o->mode = "in";
		return (enq_duration("--in", arg, ENQ_DELAY_MAX, &o->ms));
	case CTL_OPT_AT:
		o->have_at = true;
		o->mode = "at";
		if (ctl_parse_at(arg, &o->ms) == -1)
			return (ctl_usage("--at: '%s' is not a time (like "
			    "2026-11-22T10:00:00Z or @1795000000)", arg));
		return (CTL_OK);
	case CTL_OPT_ID:
		o->id = arg;
		if (!util_valid_job_id(arg, strlen(arg)))
			return (ctl_usage("invalid job ID '%s': 1-200 bytes of "
			    "[A-Za-z0-9_.:@-]", arg));
		return (CTL_OK);
	case CTL_OPT_RESOURCE:
		o->resource = arg;
		if (*arg == '\0')
			return (ctl_usage("--resource must not be empty"));
		return (CTL_OK);
	case CTL_OPT_MAX_ATTEMPTS:	/* as retry.max_attempts allows */
		return (ctl_parse_count("--max-attempts", arg, 1000,
		    &o->max_attempts));
	case CTL_OPT_TIMEOUT:
		if (enq_duration("--timeout", arg, ENQ_TIMEOUT_MAX,
		    &o->timeout_ms) != CTL_OK)
			return (CTL_USAGE);
		if (o->timeout_ms == 0)
			return (ctl_usage("--timeout: '%s' is not a positive "
			    "duration", arg));
		return (CTL_OK);
	case CTL_OPT_BATCH:
		o->batch = true;
		return (CTL_OK);
	case CTL_OPT_FORCE:
		o->force = true;
		return (CTL_OK);
	}
	return (ctl_usage("unexpected option"));
}

/* Check the combination of options and the operands HANDLER [PAYLOAD]. */
static int
enq_check(struct enq_opts *o, int argc, char **argv)
{
	if (o->have_in && o->have_at)
		return (ctl_usage("give --in or --at, not both"));
	if (o->batch && o->id != NULL)
		return (ctl_usage("--id cannot be used with --batch"));
	if (argc < 1)
		return (ctl_usage("enqueue: missing HANDLER"));
	if (argc > (o->batch ? 1 : 2))
		return (ctl_usage("enqueue: too many arguments%s", o->batch ?
		    " (--batch reads payloads from stdin)" : ""));
	o->handler = argv[0];
	if (!util_valid_handler_name(o->handler, strlen(o->handler)))
		return (ctl_usage("invalid handler name '%s': "
		    "[A-Za-z0-9][A-Za-z0-9_.-]*", o->handler));
	o->payload = argc == 2 ? argv[1] : NULL;
	return (CTL_OK);
}

/* Build what every call of this run shares. */
static void
enq_ctx_init(struct enq_ctx *x, struct ctl *ctl, struct enq_opts *o)
{
	struct store_enqueue_args	*a = &x->a;

	memset(x, 0, sizeof(*x));
	x->o = o;
	x->delayed = keys_queue(ctl_ns(ctl), ctl_queue(ctl), "delayed");
	x->wake = keys_queue(ctl_ns(ctl), ctl_queue(ctl), "wake");
	x->prefix = keys_prefix(ctl_ns(ctl), ctl_queue(ctl));
	x->events = ctl->cfg != NULL && ctl->cfg->events ?
	    keys_events(ctl_ns(ctl)) : xstrdup("");
	a->k_delayed = x->delayed;
	a->prefix = x->prefix;
	a->handler = o->handler;
	a->at = strcmp(o->mode, "at") == 0;
	a->ms = o->ms;
	a->max_attempts = o->max_attempts;
	a->resource = o->resource != NULL ? o->resource : "";
	a->source = ENQ_SOURCE;
	a->wake = x->wake;
	a->events = x->events;
	a->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 0;
}

/* Free what enq_ctx_init built. */
static void
enq_ctx_free(struct enq_ctx *x)
{
	free(x->delayed);
	free(x->wake);
	free(x->prefix);
	free(x->events);
}

/* Enqueue one job; print its ID (or JSON). */
static int
enq_one(struct ctl *ctl, struct enq_ctx *x)
{
	struct store_enqueue_args	 a = x->a;
	struct store_enqueued		 e;
	struct store_call		 c;
	redisReply			*r;
	char				*payload = NULL, *key, id[208];
	char				 when[40], err[256];
	size_t				 len = 0;
	int				 status = CTL_FAIL;

	if (x->o->payload != NULL && strcmp(x->o->payload, "-") == 0) {
		if ((payload = enq_read_stdin(&len)) == NULL)
			return (CTL_FAIL);
	} else if (x->o->payload != NULL)
		payload = xmemdup(x->o->payload, len = strlen(x->o->payload));
	if (ctl->cfg != NULL && len > ctl->cfg->handlers.max_payload) {
		log_errorx("payload of %zu bytes exceeds handlers.max_payload "
		    "(%llu bytes): deferd would bury the job at once; not "
		    "enqueued", len,
		    (unsigned long long)ctl->cfg->handlers.max_payload);
		free(payload);
		return (CTL_FAIL);
	}
	if (x->o->id != NULL)
		snprintf(id, sizeof(id), "%s", x->o->id);
	else
		util_new_job_id(id, sizeof(id));
	a.k_job = key = keys_job(ctl_ns(ctl), ctl_queue(ctl), id);
	a.id = id;
	a.payload = payload != NULL ? payload : "";
	a.payload_len = len;
	store_enqueue(&c, &a);
	r = ctl_store(ctl, &c);
	if (r != NULL && store_enqueue_reply(r, &e, err, sizeof(err)) == -1)
		log_errorx("script enqueue: %s", err);
	else if (r != NULL) {
		status = CTL_OK;
		if (e.created == 0)
			log_warnx("job %s already exists; not enqueued again", id);
		if (ctl->json) {
			printf("{\"id\":");
			ctl_json_str(id);
			printf(",\"queue\":");
			ctl_json_str(ctl_queue(ctl));
			printf(",\"created\":%s", e.created ? "true" : "false");
			if (e.due_ms >= 0)
				printf(",\"due_ms\":%" PRId64 ",\"due\":\"%s\"}\n",
				    e.due_ms, util_iso_ms(e.due_ms, when,
				    sizeof(when)));
			else
				printf(",\"due_ms\":null,\"due\":null}\n");
		} else
			printf("%s\n", id);
	}
	if (r != NULL)
		freeReplyObject(r);
	free(key);
	free(payload);
	return (status);
}

/* Read all of stdin, binary-safe; NULL after reporting a read error. */
static char *
enq_read_stdin(size_t *lenp)
{
	size_t	 cap = 65536, len = 0, n;
	char	*buf = xmalloc(cap);

	while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	if (ferror(stdin)) {
		log_errorx("stdin: %s", strerror(errno));
		free(buf);
		return (NULL);
	}
	*lenp = len;
	return (buf);
}

/*
 * --batch: one job per stdin line. Two windows of up to ENQ_WINDOW_CALLS
 * enqueue_batch calls alternate: while Redis runs one, the replies of the
 * other are read and the next lines prepared, so the server never waits
 * for the client.
 */
static int
enq_batch(struct ctl *ctl, struct enq_ctx *x)
{
	struct enq_window	*win = xcalloc(2, sizeof(*win));
	struct enq_window	*cur, *pending = NULL;
	long long		 created = 0;
	size_t			 n;
	int			 status = CTL_OK, io = 0;
	bool			 loaded = false;

	for (int w = 0; io == 0; w ^= 1) {
		cur = &win[w];
		n = enq_fill(x, cur);
		if (n > 0 && !loaded) {
			io = enq_load(ctl, &cur->calls[0].c);
			loaded = true;
		}
		if (n > 0 && io == 0)
			io = enq_send(ctl, cur);
		if (io == 0 && pending != NULL &&
		    enq_collect(ctl, pending, &created, &io) != CTL_OK)
			status = CTL_FAIL;
		if (n == 0)
			break;
		pending = cur;
	}
	if (io != 0 || ferror(stdin))
		status = CTL_FAIL;
	if (ferror(stdin))
		log_errorx("stdin: %s", strerror(errno));
	if (ctl->json) {
		printf("{\"queue\":");
		ctl_json_str(ctl_queue(ctl));
		printf(",\"enqueued\":%lld}\n", created);
	} else
		printf("%lld\n", created);
	for (int w = 0; w < 2; w++) {
		for (n = 0; n < ENQ_WINDOW_LINES; n++)
			free(win[w].lines[n].buf);
		for (n = 0; n < ENQ_WINDOW_CALLS; n++)
			store_call_free(&win[w].calls[n].c);
	}
	free(win);
	return (status);
}

/*
 * Read up to ENQ_WINDOW_LINES lines into w and group them into calls of at
 * most ENQ_BATCH_JOBS jobs (or about ENQ_BATCH_BYTES of payload); returns
 * the number of lines read.
 */
static size_t
enq_fill(struct enq_ctx *x, struct enq_window *w)
{
	struct enq_bcall	*c = NULL;
	size_t			 n, bytes = 0;
	ssize_t			 got;
	bool			 full;

	w->ncalls = 0;
	for (n = 0; n < ENQ_WINDOW_LINES; n++) {
		struct enq_line *l = &w->lines[n];

		full = c == NULL || c->njobs == ENQ_BATCH_JOBS ||
		    bytes >= ENQ_BATCH_BYTES;
		if (full && w->ncalls == ENQ_WINDOW_CALLS)
			break;		/* big payloads filled the window early */
		if ((got = getline(&l->buf, &l->cap, stdin)) == -1)
			break;
		if (got > 0 && l->buf[got - 1] == '\n')
			got--;
		if (full) {
			c = &w->calls[w->ncalls++];
			store_call_free(&c->c);		/* the window's last use */
			store_enqueue_batch(&c->c, &x->a);
			c->njobs = 0;
			bytes = 0;
		}
		util_new_job_id(l->id, sizeof(l->id));
		store_enqueue_batch_add(&c->c, l->id, l->buf, (size_t)got);
		c->njobs++;
		bytes += (size_t)got;
	}
	return (n);
}

/* SCRIPT LOAD the script of c (for the pipeline); 0, or -1 after reporting. */
static int
enq_load(struct ctl *ctl, const struct store_call *c)
{
	if (rclient_script_load(ctl->rc, c->script) == 0)
		return (0);
	log_errorx("redis: SCRIPT LOAD %s: %s", scripts_get(c->script)->name,
	    ctl->rc->err != 0 ? ctl->rc->errstr : "unexpected reply");
	return (-1);
}

/* Queue the calls of w; 0, or -1 after reporting an I/O error. */
static int
enq_send(struct ctl *ctl, struct enq_window *w)
{
	for (size_t i = 0; i < w->ncalls; i++) {
		struct enq_bcall *c = &w->calls[i];

		if (rclient_script_append(ctl->rc, c->c.script, c->c.nkeys,
		    c->c.argc, c->c.argv, c->c.lens) != 0) {
			log_errorx("redis: %s", ctl->rc->errstr);
			return (-1);
		}
	}
	return (0);
}

/*
 * Read the replies {created, due_ms} of the calls of w and count
 * creations. An error reply makes the result CTL_FAIL (that call's jobs
 * were not enqueued); an I/O error also sets *io to -1 (the remaining
 * replies are lost).
 */
static int
enq_collect(struct ctl *ctl, struct enq_window *w, long long *created,
    int *io)
{
	struct store_enqueued	 e;
	redisReply		*r;
	char			 err[256];
	int			 status = CTL_OK;

	for (size_t i = 0; i < w->ncalls; i++) {
		struct enq_bcall *c = &w->calls[i];

		r = rclient_script_reply(ctl->rc, c->c.script, c->c.nkeys,
		    c->c.argc, c->c.argv, c->c.lens);
		if (r == NULL) {
			log_errorx("redis: %s", ctl->rc->errstr);
			*io = -1;
			return (CTL_FAIL);
		}
		if (r->type == REDIS_REPLY_ERROR) {
			log_errorx("redis: script enqueue_batch: %s (%d jobs "
			    "not enqueued)", r->str, c->njobs);
			status = CTL_FAIL;
		} else if (store_enqueue_reply(r, &e, err, sizeof(err)) == 0)
			*created += e.created;
		else {
			log_errorx("script enqueue_batch: %s", err);
			status = CTL_FAIL;
		}
		freeReplyObject(r);
	}
	return (status);
}
