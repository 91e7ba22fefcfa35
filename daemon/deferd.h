/* SPDX-License-Identifier: MIT */
/*
 * The daemon's shared state: one event loop, the current config, the two
 * Redis connections, the runner, one scheduler per queue and the jobs this
 * daemon has claimed. sched.c claims, job.c runs and reports, daemon.c owns
 * the lifecycle (start, reload, drain).
 */
#ifndef DEFERD_DEFERD_H
#define DEFERD_DEFERD_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "util.h"

struct event;
struct event_base;
struct job;
struct metrics_http;
struct dashboard;
struct rconn;
struct subcheck;
struct sentinel;
struct cluster;
struct cluster_subs;
struct faillog;
struct kill_channel;
struct runner;
struct sched;
struct pace;
struct schedules;
struct slots;
struct sources;


TAILQ_HEAD(job_list, job);

struct deferd {
	struct event_base	*base;
	struct config		*cfg;		/* current (a reference; see config_ref) */
	struct rconn		*cmd;		/* commands and scripts */
	struct rconn		*sub;		/* wake channels */
	struct subcheck		*subcheck;	/* liveness of sub */
	struct kill_channel	*kill;		/* deferctl cancel --kill requests, on sub */
	struct sentinel		*sentinel;	/* finds the master, or NULL */
	struct cluster		*cluster;	/* redis.cluster: what cmd routes through, or NULL */
	struct cluster_subs	*keysubs;	/* redis.cluster: key events of every master, or NULL */
	struct runner		*runner;
	struct sources		*sources;	/* expirations, zset, list, channel (sources.c) */
	struct schedules	*schedules;	/* periodic jobs (schedules.c) */
	struct sched		**scheds;	/* one per queue, cfg->queues order */
	size_t			 nscheds;
	struct job_list		 jobs;		/* claimed by this daemon */
	struct job_list		 waiting;	/* of them, JOB_WAITING, in claim order */
	uint64_t		 channel_runs;	/* channel messages run: their IDs */
	struct faillog		*faillog;	/* job failure lines per handler */
	struct slots		*slots;		/* what occupies concurrency (slots.c) */
	struct pace		*pace;		/* persistent pools' pace (pace.c) */
	struct job_list		 outbox;	/* outcomes for the next batch (job.c) */
	struct event		*outbox_ev;	/* sends them; NULL until the first */
	bool			 ready;		/* READY=1 sent: Redis reached, sources checked */
	bool			 cmd_up_once;	/* Redis reached once, scripts loaded */
	bool			 draining;	/* SIGTERM: no more claims */
	bool			 stopping_now;	/* second SIGTERM */
	struct event		*extend_timer;
	struct hold		*hold;		/* no claims while handlers cannot start */
	struct missing		*missing;	/* handlers not on this host (missing.c) */
	uint64_t		 extend_seq;	/* of the last lease extension sent */
	char			 extend_error[256]; /* why the last one failed, or "" */
	struct log_limit	 extend_limit;	/* "extending leases failed" lines */
	struct event		*drain_timer;
	struct event		*hard_stop_timer;
	struct event		*signals[4];
	struct event		*watchdog_timer;	/* WATCHDOG=1; NULL: no watchdog */
	struct event		*status_timer;		/* STATUS= refresh; NULL: no NOTIFY_SOCKET */
	char			 status[512];		/* the last STATUS= sent */
	char			*reload_error;		/* why the last reload failed, or NULL */
	char			*events_chan;		/* "ns:events", or "" with events: false */
	char			*host_pid;		/* "HOST:PID": who ran a job (history) */
	struct metrics_http	*http;			/* metrics.listen; NULL when off */
	struct dashboard	*dashboard;		/* dashboard.listen (dashboard.c) */
	int			 exit_code;
};

/* daemon.c */
/* A daemon running cfg (ownership passes to it); nothing starts before deferd_run. */
struct deferd *deferd_new(struct config *cfg);
/* Connect, serve until SIGTERM/SIGINT drained; returns the exit status. */
int	deferd_run(struct deferd *);
/* Free everything; NULL is a no-op. */
void	deferd_free(struct deferd *);

#endif
