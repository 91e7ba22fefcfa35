/* SPDX-License-Identifier: MIT */
/*
 * The configuration file (deferd.yaml(5)): parsed with libyaml into one struct,
 * validated, with defaults for every key so that a two-line file works.
 */
#ifndef DEFERD_CONFIG_H
#define DEFERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cron.h"
#include "log.h"
#include "redisurl.h"

#define CONFIG_DEFAULT_PATH	"/etc/deferd/deferd.yaml"

enum conflict_policy {
	CONFLICT_INHERIT = -1,	/* only in overrides: use locks.on_conflict */
	CONFLICT_REQUEUE = 0,
	CONFLICT_WAIT,
	CONFLICT_FAIL,
};

/* handlers.missing: what a job does whose handler is not on this host. */
enum missing_policy {
	MISSING_WAIT = 0,	/* back to delayed, no attempt spent (missing.c) */
	MISSING_BURY,		/* dead at once, with the reason */
};

/* handlers.overrides.NAME.mode: a process per job, or long-running ones. */
enum handler_mode {
	HANDLER_EXEC = 0,	/* default: execve per job, exit status decides */
	HANDLER_PERSISTENT,	/* processes x inflight jobs over JSON lines (proto.c) */
};

#define HANDLER_PROCESSES_MAX	1000
#define HANDLER_INFLIGHT_MAX	1000

/* Every handler's PATH; handlers.environment may not change it. */
#define HANDLER_PATH		"/usr/local/bin:/usr/bin:/bin"

/*
 * The largest integer the Lua scripts take as an argument (15 digits,
 * lib.lua's uint). Every numeric key's bound stays at or below it.
 */
#define CONFIG_SCRIPT_INT_MAX	INT64_C(999999999999999)

/* handlers.overrides.NAME: -1 / 0 / CONFLICT_INHERIT mean "not set". */
struct handler_override {
	char			*name;
	int64_t			 timeout_ms;	  /* -1: handlers.timeout */
	int			 max_concurrency; /* 0: only the global limit */
	int			 max_attempts;	  /* 0: retry.max_attempts */
	enum conflict_policy	 on_conflict;	  /* CONFLICT_INHERIT: locks.on_conflict */
	enum handler_mode	 mode;		  /* exec */
	int			 processes;	  /* persistent: copies running (1) */
	int			 inflight;	  /* persistent: jobs per process (1) */
	struct handler_rate {
		int64_t		 n;		  /* jobs per period; 0: no limit */
		int64_t		 period_ms;
	}			 rate;		  /* claims across all daemons, per queue */
};

/* expirations.rules[]: one glob on expired keys. */
struct expiration_rule {
	char	*pattern;	/* Redis glob, required */
	int	 db;		/* -1: any database */
	char	*handler;	/* required */
	char	*resource;	/* template like "order:{1}", or NULL */
	char	*queue;		/* NULL: the first of queues */
};

enum source_kind {
	SOURCE_ZSET,
	SOURCE_LIST,
	SOURCE_CHANNEL,
};

/* sources[]: exactly one of zset:, list:, channel: or pattern: names it. */
struct source {
	enum source_kind	 kind;
	char			*name;		/* key, or channel / channel pattern */
	bool			 is_pattern;	/* channel given as pattern: */
	char			*handler;	/* required */
	char			*queue;		/* NULL: the first of queues */
	int64_t			 score_unit_ms;	/* zset: 1000 for s (default), 1 for ms */
};

/* schedules[].missed: what a schedule does with ticks no daemon enqueued in time. */
enum missed_policy {
	MISSED_SKIP = 0,	/* only the ticks still ahead */
	MISSED_ONCE,		/* one run for all of them (the latest) */
	MISSED_ALL,		/* each of them, the latest SCHEDULE_MISSED_MAX */
};

#define SCHEDULE_MISSED_MAX	100	/* ticks run by missed: all */
#define SCHEDULE_NAME_MAX	100	/* bytes; the job ID is cron:NAME:EPOCH_MS */

/* schedules[]: a periodic job (schedules.c). Exactly one of cron, every. */
struct schedule {
	char			*name;		/* required, unique */
	char			*cron_expr;	/* cron:, or NULL */
	struct cron		 cron;		/* cron_expr parsed */
	int64_t			 every_ms;	/* every: (>= 1s), or 0 */
	char			*handler;	/* required */
	char			*payload;	/* NULL: empty */
	char			*queue;		/* NULL: the first of queues */
	char			*resource;	/* lock name, or NULL */
	char			*timezone;	/* cron only; NULL: UTC */
	enum missed_policy	 missed;	/* skip */
	int64_t			 jitter_ms;	/* 0: run at the tick */
};

/* The intervals that follow from the lease, derived once (config_lease_timing). */
struct lease_timing {
	int64_t	extend_ms;	/* lease/3: extend the leases of running jobs */
	int64_t	reap_ms;	/* lease/2 within 1s-30s: look for expired leases */
	int64_t	subcheck_ms;	/* lease/2 within 1s-15s: probe the subscriber connection */
};

struct env_var {
	char	*name;
	char	*value;
};

/* A list of Redis nodes (sentinels, cluster seeds), each with its credentials. */
struct redis_nodes {
	struct redis_target	*v;
	size_t			 n;
};

struct config {
	int	 refs;			/* config_ref / config_unref; 1 from the loader */
	char	*path;			/* the file this came from */

	struct {
		char			*url;
		struct redis_target	 target;	/* parsed url, plus username/password below */
		char			*password_file;
		int64_t			 connect_timeout_ms;	/* 2s */
		int64_t			 command_timeout_ms;	/* 10s: a reply later than this drops the connection */
		bool			 allow_eviction;	/* false */
		int			 wait_replicas;		/* 0: enqueues and outcomes do not WAIT */
		int64_t			 wait_timeout_ms;	/* 1s: WAIT's timeout, below command_timeout */
		struct {
			char			*master;	/* the monitored name; NULL: no sentinel */
			struct redis_nodes	 nodes;		/* the sentinels */
			char			*username;
			char			*password_file;
		} sentinel;		/* redis.sentinel: the master is asked for, not configured */
		struct {
			struct redis_nodes	 nodes;		/* seeds; none: no cluster */
		} cluster;		/* redis.cluster: queues spread over a Redis Cluster */
	} redis;

	char	*namespace;		/* "deferd" */
	char	**queues;		/* ["default"] */
	int	 *queue_weights;	/* parallel to queues: 1 to 1000 (1) */
	size_t	 nqueues;
	enum queues_order {
		QUEUES_WEIGHTED,	/* busy queues share slots by weight */
		QUEUES_STRICT,		/* a queue claims when earlier ones have nothing due */
	}	 queues_order;
	int	 concurrency;		/* 8 */
	int64_t	 poll_interval_ms;	/* 1s */
	int64_t	 lease_ms;		/* 30s */
	struct lease_timing timing;	/* derived from lease_ms at load */
	int64_t	 shutdown_timeout_ms;	/* 25s */

	struct {
		int	max_attempts;	/* 5 */
		int64_t	backoff_ms;	/* 1s */
		int64_t	backoff_max_ms;	/* 10m */
	} retry;

	struct {
		int64_t	ttl_ms;		/* 1h; 0 keeps no result */
		int64_t	history;	/* 1000 records per list; 0: none */
	} results;

	struct {
		int64_t	max_jobs;	/* 10000 */
		int64_t	ttl_ms;		/* 30d */
	} dead;

	struct {
		char			*dir;		/* absolute; "/etc/deferd/handlers.d" */
		char			*workdir;	/* absolute, or NULL: dir */
		int64_t			 timeout_ms;	/* 60s */
		int64_t			 kill_grace_ms;	/* 5s */
		uint64_t		 max_output;	/* 1MiB */
		uint64_t		 max_payload;	/* 16MiB: larger payloads are buried */
		enum missing_policy	 missing;	/* wait */
		int64_t			 missing_retry_ms; /* 1m: longest wait for one */
		struct env_var		*environment;
		size_t			 nenvironment;
		struct handler_override	*overrides;
		size_t			 noverrides;
	} handlers;

	struct {
		int64_t			lease_ms;	 /* 30s */
		enum conflict_policy	on_conflict;	 /* requeue */
		int64_t			requeue_delay_ms; /* 1s */
		int64_t			wait_timeout_ms; /* 30s */
	} locks;

	struct {
		bool			 configure_redis;	/* false */
		struct expiration_rule	*rules;
		size_t			 nrules;
	} expirations;

	struct source	*sources;
	size_t		 nsources;

	struct schedule	*schedules;
	size_t		 nschedules;

	struct {
		enum log_level	level;	/* info */
		enum log_format	format;	/* text */
	} log;

	struct {
		char	*listen;	/* "host:port", or NULL: off */
		int	 max_connections;	/* 256: HTTP connections at once */
		int64_t	 request_timeout_ms;	/* 10s: a whole request and reply */
	} metrics;

	struct {
		char	*listen;	/* "host:port", or NULL: off */
		char	*token_file;	/* absolute, or NULL: no token asked */
		bool	 read_only;	/* false */
		int	 max_connections;	/* 64 */
		int64_t	 request_timeout_ms;	/* 10s */
	} dashboard;

	bool	events;			/* true */
};

/* Whether dashboard.listen is metrics.listen: the dashboard serves both. */
bool	config_dashboard_serves_metrics(const struct config *);

/*
 * Load and validate path. Returns a new config, or NULL with one message in
 * err: "FILE:LINE:COLUMN: what is wrong" (1-based), or "FILE: ..." when there
 * is no position (unreadable file). An unknown key's message ends with
 * "; did you mean 'KEY'?" when a known key is close.
 */
struct config	*config_load(const char *path, char *err, size_t errlen);
/* Same, from a buffer; name is used in messages in place of a file name. */
struct config	*config_load_string(const char *name, const char *text, size_t len,
		    char *err, size_t errlen);
/* Free a config now, whatever its references; NULL is a no-op. */
void		 config_free(struct config *);
/*
 * Reference counting for a config shared by the daemon and what was built
 * from it (a source set): config_ref adds a reference and returns c;
 * config_unref drops one and frees c with the last. NULL is a no-op.
 */
struct config	*config_ref(struct config *c);
void		 config_unref(struct config *c);
/* The override for handler, or NULL. */
const struct handler_override *config_override(const struct config *, const char *handler);
/* Effective per-handler values (override, else global). */
int64_t		 config_handler_timeout_ms(const struct config *, const char *handler);
int		 config_handler_max_attempts(const struct config *, const char *handler);
int		 config_handler_max_concurrency(const struct config *, const char *handler);
int		 config_override_max_concurrency(const struct config *,
		    const struct handler_override *);
/* The working directory of handlers: handlers.workdir, else handlers.dir. */
const char	*config_handler_cwd(const struct config *);
/* Whether handler runs in persistent mode (its override says so). */
bool		 config_handler_persistent(const struct config *, const char *handler);
/* queue (of a rule, source or schedule), or NULL: the first of queues. */
const char	*config_queue(const struct config *, const char *queue);
/* Whether name is one of the configured queues. */
bool		 config_has_queue(const struct config *, const char *name);
/* The schedule named name, or NULL (config_schedules.c). */
const struct schedule *config_schedule(const struct config *, const char *name);
/* The intervals derived from lease_ms (config_load sets cfg->timing). */
/* Whether a and b name the same sentinels, master and credentials (config_ha.c). */
bool		 config_same_sentinel(const struct config *a, const struct config *b);
/* Whether a and b name the same cluster seeds (config_ha.c). */
bool		 config_same_cluster(const struct config *a, const struct config *b);
void		 config_lease_timing(int64_t lease_ms, struct lease_timing *);
/* Path from -c, else $DEFERD_CONFIG, else CONFIG_DEFAULT_PATH. */
const char	*config_default_path(const char *from_cli);
/* A numeric key bound beyond CONFIG_SCRIPT_INT_MAX, or NULL (tests). */
const char	*config_unbounded_key(void);

#endif
