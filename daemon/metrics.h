/* SPDX-License-Identifier: MIT */
/*
 * Observability (README "Observing deferd"): a process-wide registry of
 * Prometheus counters, gauges and histograms with its text exposition
 * (metrics.c), the hooks the daemon's modules call when something happens
 * (metrics_deferd.c: they only count, never do I/O), and the HTTP server for
 * metrics.listen with /metrics and /healthz, the periodic queue-size
 * refresh and the lateness summary for deferctl stats (metrics_http.c).
 *
 * The hooks are cheap (a hash lookup and an add) and safe to call before
 * metrics_init: they then do nothing. Label values are copied.
 */
#ifndef DEFERD_METRICS_H
#define DEFERD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct deferd;
struct evbuffer;
struct metrics_http;
struct mfamily;

/* Distinct handler label values kept; more are counted as "other". */
#define METRICS_MAX_HANDLERS	200

enum mtype {
	MTYPE_COUNTER,
	MTYPE_GAUGE,
	MTYPE_HISTOGRAM,
};

/* metrics.c: the generic registry and its exposition */
/*
 * Register a family (name and help are copied; labels: nlabels names).
 * bounds: the upper bounds of a histogram's buckets, increasing, without
 * +Inf (copied); NULL for counters and gauges.
 */
struct mfamily	*metrics_family(enum mtype, const char *name, const char *help,
		    size_t nlabels, const char *const *labels, const double *bounds,
		    size_t nbounds);
/* Counter or gauge += v, gauge = v, histogram observation v (values: nlabels). */
void		 metrics_add(struct mfamily *, const char *const *values, double v);
void		 metrics_set(struct mfamily *, const char *const *values, double v);
void		 metrics_observe(struct mfamily *, const char *const *values, double v);
/* The current value of a counter or gauge series, or the count of a histogram one (0 if absent). */
double		 metrics_value(struct mfamily *, const char *const *values);
/* Append every family in the text format 0.0.4. */
void		 metrics_render(struct evbuffer *out);
/* Free every family (tests; exit). */
void		 metrics_reset(void);

/* metrics_deferd.c: deferd's own families and hooks */
/* Register deferd's families (idempotent). */
void		 metrics_init(void);
/* Forget the hooks' state and every family (metrics_reset); for tests. */
void		 metrics_hooks_reset(void);
/* handler, or "other" once METRICS_MAX_HANDLERS names were seen or when it is not a valid name. */
const char	*metrics_handler_label(const char *handler);
/* Lateness samples (ms) are kept for the deferctl stats summary too. */
void		 metrics_job_claimed(const char *queue, const char *handler,
		    bool late_known, int64_t late_ms);
void		 metrics_job_started(const char *queue, const char *handler,
		    bool late_known, int64_t late_ms);
void		 metrics_job_done(const char *queue, const char *handler, int64_t ms);
/* duration_ms < 0: the handler did not run (lock conflict, shutdown). */
void		 metrics_job_retried(const char *queue, const char *handler, int64_t ms);
void		 metrics_job_dead(const char *queue, const char *handler, int64_t ms);
void		 metrics_job_lock_conflict(const char *queue, const char *handler);
/* n dead jobs removed for reason ("max_jobs" or "ttl"). */
void		 metrics_dead_trimmed(const char *queue, const char *reason,
		    long long n);
/* Ticks of a schedule this daemon enqueued, and missed ticks it found. */
void		 metrics_schedule_ticks(const char *schedule, uint64_t enqueued,
		    uint64_t missed);
/* A job went back because its handler is missing here (missing.c). */
void		 metrics_job_missing(const char *handler);
/* A connection role ("cmd", "sub", ...) went up or down; up again after down counts a reconnect. */
void		 metrics_redis_state(const char *role, bool up);
/* Milliseconds the role has been down (-1 when up or unknown). */
int64_t		 metrics_redis_down_ms(const char *role);
void		 metrics_redis_rtt(const char *role, int64_t us);
/* A WAIT after a durable script (redis.wait_replicas) came back short. */
void		 metrics_redis_wait_short(const char *role);
/* Expirations (expire.c may call these). */
void		 metrics_expire_event(void);
void		 metrics_expire_created(void);
void		 metrics_expire_tracked(long long keys);
void		 metrics_expire_outage(double seconds);
void		 metrics_queue_size(const char *queue, const char *state, long long n);
void		 metrics_set_running(size_t running, int limit);
/*
 * The lateness samples since the last call: p50, p99 and max (ms) of claim
 * and start lateness, and how many. Resets the window.
 */
struct lateness_summary {
	size_t	n_claim, n_start;
	int64_t	claim_p50, claim_p99, claim_max;
	int64_t	start_p50, start_p99, start_max;
};
void		 metrics_lateness_take(struct lateness_summary *);
/* The last hour, minute by minute (minutes.h), as the member "minutes" of o. */
struct json_out;
void		 metrics_minutes_json(struct json_out *o);

/* metrics_http.c */
/*
 * Serve addr (metrics.listen) on d's loop, and start the queue-size refresh
 * and the stats summary. Returns NULL, with a message in err, when the
 * address cannot be bound. addr NULL: no HTTP, the rest still runs.
 */
struct metrics_http *metrics_http_new(struct deferd *d, const char *addr,
		    char *err, size_t errlen);
/*
 * Reload: rebind when metrics.listen changed (keeps the old server on
 * failure). While the dashboard serves metrics.listen (dashboard.listen
 * is the same address) this server is off, and stays off.
 */
void		 metrics_http_reconfigure(struct metrics_http *);
/*
 * The route of /metrics and /healthz (GET and HEAD; else 404 or 405),
 * for a server that is not this one's: the dashboard's, when it shares
 * metrics.listen. arg is the metrics_http.
 */
struct httpd_req;
struct httpd_reply;
void		 metrics_http_route(const struct httpd_req *, struct httpd_reply *,
		    void *arg);
/* Stop serving; NULL is a no-op. */
void		 metrics_http_free(struct metrics_http *);

#endif
