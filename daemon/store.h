/* SPDX-License-Identifier: MIT */
/*
 * The typed store: one C function per Lua transition that orders its
 * keys and arguments (struct store_call, for rconn_script on the daemon's
 * connection or rclient_script on deferctl's), and one that parses its
 * reply into a struct, so that no caller knows a script's argument
 * positions or reply shape. The calling conventions are at the top of
 * each daemon/lua/ file. So far: the resource locks (store_lock.c), the
 * scripts of the plain zset, list and expiration sources
 * (store_sources.c), a queue's leases: claim, reap, unclaim, outcome
 * and extend (store_queue.c), periodic jobs (store_schedule.c), and
 * what deferctl does to jobs: enqueue, cancel, revive, purge
 * (store_jobs.c).
 */
#ifndef DEFERD_STORE_H
#define DEFERD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "rconn.h"
#include "scripts.h"
#include "util.h"

#define STORE_ARGS_INLINE	16	/* arguments before the call allocates */
#define STORE_NUMS_INLINE	8	/* integers before the call allocates */

/*
 * One script call: argv holds nkeys keys, then the arguments; lens is
 * NULL unless an argument is binary (then it has every length). argv
 * points into the call itself, the caller's strings or copies the call
 * owns: build it in place, never copy it, and store_call_free it after
 * sending (Redis has the arguments by then).
 */
struct store_call {
	enum script_id	 script;
	int		 nkeys;
	int		 argc;
	const char	**argv;		/* inline_argv, or allocated once grown */
	size_t		*lens;		/* NULL: every argument is a C string */
	int		 cap;
	int		 nnum;
	const char	*inline_argv[STORE_ARGS_INLINE];
	char		 num[STORE_NUMS_INLINE][UTIL_INT_TEXT];
	char		**owned;	/* integers past num, freed with the call */
	int		 nowned;
};

/* Free what a call allocated (nothing for a small one). */
void	store_call_free(struct store_call *);

/*
 * Send c on the daemon's connection rc (rconn_script: cb gets the reply,
 * or NULL when it is lost) and free it. Returns 0, or -1 when rc is not
 * connected (cb is not called then).
 */
int	store_send(struct rconn *rc, struct store_call *c,
	    rconn_reply_cb cb, void *priv);

/* lock_acquire: take k_lock with token for lease_ms, INCR k_fence. */
void	store_lock_acquire(struct store_call *, const char *k_lock,
	    const char *k_fence, const char *token, int64_t lease_ms);
/* lock_extend: push k_lock's expiry to lease_ms if it holds token. */
void	store_lock_extend(struct store_call *, const char *k_lock,
	    const char *token, int64_t lease_ms);
/* lock_release: delete k_lock if it holds token. */
void	store_lock_release(struct store_call *, const char *k_lock,
	    const char *token);

/* What lock_acquire answered. */
struct store_lock_acquired {
	bool	held;		/* ours now (or still) */
	int64_t	fence;		/* held: the fencing token */
	int64_t	pttl;		/* not held: the holder's lease left, -1: none */
};

/*
 * Parse a reply (not NULL) of lock_acquire, or of lock_extend /
 * lock_release (ok: the token matched). Return 0, or -1 with why in err:
 * Redis's error, or "unexpected reply".
 */
int	store_lock_acquire_reply(const redisReply *, struct store_lock_acquired *,
	    char *err, size_t errlen);
int	store_lock_token_reply(const redisReply *, bool *ok, char *err,
	    size_t errlen);

/*
 * zsetmove: move up to limit due members of zset (scores in unit_ms) into
 * jobs of handler in delayed (prefix "ns:{Q}:").
 */
void	store_zsetmove(struct store_call *, const char *zset,
	    const char *delayed, const char *prefix, const char *handler,
	    int64_t unit_ms, int64_t limit, const char *wake, const char *events);
struct store_zsetmoved {
	int64_t	now_ms;
	int64_t	next_due_ms;	/* -1: the zset is empty */
	int64_t	moved;
};
int	store_zsetmove_reply(const redisReply *, struct store_zsetmoved *,
	    char *err, size_t errlen);

/*
 * listtake: our processing list proc and up to batch items of list main
 * into jobs of handler (IDs "list:NONCE-k") in delayed.
 */
void	store_listtake(struct store_call *, const char *proc, const char *main,
	    const char *delayed, const char *prefix, const char *handler,
	    const char *nonce, int64_t batch, const char *wake,
	    const char *events);
struct store_listtaken {
	int64_t	now_ms;
	int64_t	created;
};
int	store_listtake_reply(const redisReply *, struct store_listtaken *,
	    char *err, size_t errlen);

/*
 * listrecover: the processing lists of registered owners whose liveness
 * key is gone go back to the head of main (never me's).
 */
void	store_listrecover(struct store_call *, const char *registry,
	    const char *main, const char *proc_prefix, const char *alive_prefix,
	    const char *me);
struct store_listrecovered {
	int64_t	moved;		/* items */
	int64_t	owners;
};
int	store_listrecover_reply(const redisReply *,
	    struct store_listrecovered *, char *err, size_t errlen);

/*
 * listreturn: the processing list proc of a stopped list source back to
 * the head of main; the reply (store_count_reply) counts the items.
 */
void	store_listreturn(struct store_call *, const char *proc,
	    const char *main);

/* touch: EXISTS up to limit due keys of database db in the watch zset. */
void	store_touch(struct store_call *, const char *watch, const char *db,
	    int64_t limit);
struct store_touched {
	int64_t	now_ms;
	int64_t	first_ms;	/* earliest expiry left, -1: none */
	int64_t	touched;
	int64_t	removed;
};
int	store_touch_reply(const redisReply *, struct store_touched *,
	    char *err, size_t errlen);

/* claim (lua/claim.lua): reap expired leases, then lease due jobs. */
struct store_claim_cap {
	const char	*handler;
	int64_t		 cap;		/* its jobs at most; 0: skip them */
	bool		 pool;		/* persistent: outside shared_limit */
	int64_t		 rate_n;	/* > 0: at most rate_n jobs per */
	int64_t		 rate_period_ms; /* period, in the queue's bucket */
};
struct store_claim_args {
	const char		*k_delayed;
	const char		*k_active;
	const char		*k_dead;
	const char		*prefix;	/* "ns:{Q}:" */
	int64_t			 limit;		/* jobs at most */
	int64_t			 lease_ms;
	const char		*nonce;		/* the k-th job's token is nonce-k */
	uint64_t		 max_payload;	/* 0: no limit */
	int64_t			 scan;		/* due candidates looked at, >= limit */
	int64_t			 dead_max;
	int64_t			 dead_ttl_ms;
	int64_t			 reap_limit;	/* 0: no reaping */
	int64_t			 max_attempts;	/* for jobs without the field */
	const char		*events;	/* "" = none */
	int64_t			 shared_limit;	/* jobs not of pool handlers */
	const char		*probe_channel;	/* PUBLISH probe_message on it */
	const char		*probe_message;	/* (NULL: no probe) */
	const struct store_claim_cap *caps;	/* skipped jobs stay delayed */
	size_t			 ncaps;
};
void	store_claim(struct store_call *, const struct store_claim_args *);

struct store_claimed {
	int64_t			 now_ms;
	int64_t			 next_due_ms;	/* -1: delayed is empty */
	int64_t			 skipped;
	int64_t			 requeued;	/* by the reap before the claim */
	int64_t			 buried;
	const redisReply *const	*entries;	/* see store_entry_parse */
	size_t			 nentries;
};
int	store_claim_reply(const redisReply *, struct store_claimed *,
	    char *err, size_t errlen);

/* One entry of a claim's (or an outcome batch's) reply. */
struct store_entry {
	enum {
		STORE_ENTRY_RUN,	/* raw: {"run", id, token, field, value, ...} */
		STORE_ENTRY_RUNS,	/* raw: {"runs", id, token, body, ...} */
		STORE_ENTRY_BURIED,	/* id and reason */
		STORE_ENTRY_TRIMMED,	/* the dead set lost old entries */
		STORE_ENTRY_PAUSED,	/* claim: jobs are due, the queue is paused */
		STORE_ENTRY_PROBE,	/* claim: subscribers the probe reached */
		STORE_ENTRY_UNKNOWN,
	}			 kind;
	const redisReply	*raw;
	const char		*id, *reason;	/* BURIED */
	size_t			 id_len, reason_len;
	int64_t			 trimmed_max;	/* TRIMMED: by dead.max_jobs */
	int64_t			 trimmed_ttl;	/* TRIMMED: by dead.ttl */
	int64_t			 subscribers;	/* PROBE */
	size_t			 nruns;		/* RUN: 1; RUNS: the jobs */
};
void	store_entry_parse(const redisReply *, struct store_entry *);

/*
 * A job a claim leased: its ID, the lease token, and its fields: a packed
 * job's body alone (nfields 1), or a hash job's field/value pairs as
 * HGETALL read them followed by "attempts", N. Borrowed from the reply.
 */
struct store_run {
	const redisReply	*id, *token;
	const redisReply *const	*fields;
	size_t			 nfields;
};
/*
 * The i-th (< nruns) job of RUN or RUNS entry e into out; -1 when it is
 * malformed (an ID or token that is not a string).
 */
int	store_entry_run(const struct store_entry *e, size_t i,
	    struct store_run *out);

/* reap (lua/reap.lua): return up to limit jobs whose lease expired. */
struct store_reap_args {
	const char	*k_active;
	const char	*k_delayed;
	const char	*k_dead;
	const char	*prefix;
	int64_t		 limit;
	const char	*wake;
	int64_t		 dead_max;
	int64_t		 dead_ttl_ms;
	int64_t		 max_attempts;
	const char	*events;
};
void	store_reap(struct store_call *, const struct store_reap_args *);
struct store_reaped {
	int64_t	requeued;
	int64_t	buried;
	int64_t	trimmed_max;
	int64_t	trimmed_ttl;
};
int	store_reap_reply(const redisReply *, struct store_reaped *, char *err,
	    size_t errlen);

/*
 * unclaim (lua/unclaim.lua): give back the jobs of the claims with these
 * nonces, whose replies were lost; active members scored below min_score
 * are not looked at.
 */
void	store_unclaim(struct store_call *, const char *k_active,
	    const char *k_delayed, const char *prefix, int64_t min_score,
	    int64_t lease_ms, const char *wake, const char *events,
	    const char *const *nonces, size_t nnonces);
/* The number of jobs given back. */
int	store_unclaim_reply(const redisReply *, int64_t *given_back,
	    char *err, size_t errlen);

/*
 * outcome (lua/outcome.lua): the outcomes of several claimed jobs of one
 * queue in one call: store_outcome_begin, then store_outcome_add per job.
 */
struct store_outcome_args {
	const char	*k_active;
	const char	*k_delayed;
	const char	*k_dead;
	const char	*prefix;
	int64_t		 result_ttl_ms;	/* 0: results are not kept */
	int64_t		 dead_max;
	int64_t		 dead_ttl_ms;
	const char	*wake;
	const char	*events;
	int64_t		 history_max;	/* records per list; 0: none */
	int64_t		 history_ttl_ms; /* 0: no age limit */
};
enum store_outcome_kind {
	STORE_COMPLETE,
	STORE_RETRY,
	STORE_BURY,
	STORE_CANCEL,		/* deferctl cancel --kill: removed */
};
struct store_outcome {
	enum store_outcome_kind	 kind;
	const char		*id;
	const char		*token;		/* the claim's lease token */
	const char		*text;		/* result or error; may hold NULs */
	size_t			 text_len;
	int64_t			 delay_ms;	/* retry, bury */
	bool			 refund;	/* retry: the attempt is given back */
	bool			 conflict;	/* the resource was locked */
	int64_t			 duration_ms;	/* of the run; < 0: none */
	const char		*record;	/* history JSON object; NULL: none */
};
void	store_outcome_begin(struct store_call *,
	    const struct store_outcome_args *);
/* Add one job (its strings are borrowed until the call is sent). */
void	store_outcome_add(struct store_call *, const struct store_outcome *);

/* What Redis said of one job's lease token (outcome, extend). */
enum store_lease {
	STORE_LEASE_OK,		/* it matched: recorded (extended) */
	STORE_LEASE_OTHER,	/* another claim holds the job */
	STORE_LEASE_NONE,	/* no claim holds it: finished or requeued */
	STORE_LEASE_UNKNOWN,	/* no usable answer for this job */
};
struct store_outcomes {
	const redisReply *const	*answers;	/* one per job */
	size_t			 n;
	int64_t			 trimmed_max;	/* dead entries dropped */
	int64_t			 trimmed_ttl;
};
/* Parse the reply of an outcome call for njobs jobs. */
int	store_outcome_reply(const redisReply *, size_t njobs,
	    struct store_outcomes *, char *err, size_t errlen);
/* The answer for job i (of an outcome or extend reply). */
enum store_lease store_lease_answer(const redisReply *const *answers,
	    size_t n, size_t i);

/* extend (lua/extend.lua): push the leases of running jobs of one queue. */
void	store_extend_begin(struct store_call *, const char *k_active,
	    const char *prefix, int64_t lease_ms);
void	store_extend_add(struct store_call *, const char *id,
	    const char *token);
/* The reply: one answer per job, in the order added. */
struct store_extended {
	const redisReply *const	*answers;
	size_t			 n;
};
int	store_extend_reply(const redisReply *, struct store_extended *,
	    char *err, size_t errlen);

/*
 * expjob: the expiration of key (len bytes) in database db becomes a job
 * of handler in delayed, once across daemons (marker_ttl_ms dedupes).
 */
struct store_expjob_args {
	const char	*k_delayed;
	const char	*prefix;
	int		 db;
	const char	*key;
	size_t		 key_len;
	const char	*handler;
	const char	*resource;	/* "" = none */
	const char	*pattern;	/* the rule's, stored as match */
	int64_t		 marker_ttl_ms;
	const char	*wake;
	const char	*events;
};
void	store_expjob(struct store_call *, const struct store_expjob_args *);
struct store_expjobbed {
	bool		 created;	/* false: another daemon made it */
	const char	*id;		/* points into the reply */
};
int	store_expjob_reply(const redisReply *, struct store_expjobbed *,
	    char *err, size_t errlen);

/*
 * track: the expiry times of keys (the application's, only read: given as
 * arguments, see lua/track.lua) into the watch zset of database db.
 */
void	store_track(struct store_call *, const char *watch, const char *db,
	    char *const *keys, const size_t *lens, size_t n);
struct store_tracked {
	int64_t	now_ms;
	int64_t	first_ms;	/* earliest expiry in the zset, -1: none */
	int64_t	tracked;
};
int	store_track_reply(const redisReply *, struct store_tracked *,
	    char *err, size_t errlen);

/*
 * schedule (lua/schedule.lua): one periodic job's ticks. Every call names
 * the schedule (store_schedule); an enqueue then gives the job
 * (store_schedule_job) and its ticks (store_schedule_tick each).
 */
enum store_schedule_mode {
	STORE_SCHEDULE_STATE,	/* {now, last, spec} */
	STORE_SCHEDULE_ENQUEUE,	/* {now, last, created} */
	STORE_SCHEDULE_REPLACE,	/* {now, last, cancelled} */
	STORE_SCHEDULE_REMOVE,	/* {now, -1, cancelled} */
};
struct store_schedule_ref {
	const char	*key;		/* the schedule hash */
	const char	*k_delayed;
	const char	*prefix;
	const char	*name;
	const char	*fp;		/* the definition's fingerprint */
};
void	store_schedule(struct store_call *, enum store_schedule_mode,
	    const struct store_schedule_ref *);
void	store_schedule_job(struct store_call *, const char *handler,
	    const char *payload, const char *resource, const char *wake,
	    const char *events);
/* A tick (ms), its due time (with jitter) and its text (copied). */
void	store_schedule_tick(struct store_call *, int64_t tick_ms,
	    int64_t due_ms, const char *text);
struct store_scheduled {
	int64_t		 now_ms;
	int64_t		 last_ms;	/* -1: none */
	int64_t		 count;		/* created or cancelled; 0 for state */
	const char	*spec;		/* state: the stored fingerprint, "" none */
};
int	store_schedule_reply(const redisReply *, enum store_schedule_mode,
	    struct store_scheduled *, char *err, size_t errlen);

/*
 * enqueue and enqueue_batch (lua/enqueue.lua, enqueue_batch.lua): create
 * jobs. One job: store_enqueue. Many that share all but ID and payload:
 * store_enqueue_batch, then store_enqueue_batch_add per job.
 */
struct store_enqueue_args {
	const char	*k_delayed;
	const char	*k_job;		/* store_enqueue: the job hash */
	const char	*id;		/* store_enqueue */
	const void	*payload;	/* store_enqueue; may hold NULs */
	size_t		 payload_len;
	const char	*prefix;	/* store_enqueue_batch: "ns:{Q}:" */
	const char	*handler;
	bool		 at;		/* ms is epoch ms, not a delay */
	int64_t		 ms;
	int64_t		 max_attempts;	/* 0: the field is left unset */
	const char	*resource;	/* "" = none */
	const char	*source;	/* "" = "delayed" */
	const char	*wake;
	const char	*events;
	int64_t		 timeout_ms;	/* 0: none */
};
void	store_enqueue(struct store_call *, const struct store_enqueue_args *);
void	store_enqueue_batch(struct store_call *,
	    const struct store_enqueue_args *);
/* id and payload are borrowed until the call is sent. */
void	store_enqueue_batch_add(struct store_call *, const char *id,
	    const void *payload, size_t len);
struct store_enqueued {
	int64_t	created;	/* jobs created (0 or 1 for one job) */
	int64_t	due_ms;		/* one job that existed: its due time or -1 */
};
int	store_enqueue_reply(const redisReply *, struct store_enqueued *,
	    char *err, size_t errlen);

/* cancel (lua/cancel.lua): remove a job that has not started. */
struct store_job_keys {
	const char	*k_delayed;
	const char	*k_active;
	const char	*k_dead;
	const char	*k_job;
	const char	*k_result;
	const char	*prefix;
	const char	*wake;
	const char	*events;
};
/* store_job_keys with the key names it owns: store_keyset_init, _free. */
struct store_keyset {
	struct store_job_keys	 k;
	char			*delayed, *active, *dead, *prefix, *wake;
	char			*job, *result;	/* of one ID, when given */
};
/* The keys of queue q in namespace ns, and of job id unless NULL. */
void	store_keyset_init(struct store_keyset *, const char *ns, const char *q,
	    const char *id, const char *events);
void	store_keyset_free(struct store_keyset *);
void	store_cancel(struct store_call *, const struct store_job_keys *,
	    const char *id);
/*
 * What the job was: "cancelled", "running", "dead", "finished" or
 * "unknown" (also for an answer that is none of them); a static word,
 * not the reply's memory.
 */
int	store_cancel_reply(const redisReply *, const char **state,
	    char *err, size_t errlen);
/* revive (lua/revive.lua): a dead job back to delayed, due now. */
void	store_revive(struct store_call *, const struct store_job_keys *,
	    const char *id);
/* purge (lua/purge.lua): delete dead job id, or up to 1000 when id is NULL. */
void	store_purge(struct store_call *, const struct store_job_keys *,
	    const char *id);
/*
 * The integer answer of revive (1 revived, 0 not dead, -1 dead without a
 * hash) or purge (how many deleted).
 */
int	store_count_reply(const redisReply *, int64_t *n, char *err,
	    size_t errlen);

#endif
