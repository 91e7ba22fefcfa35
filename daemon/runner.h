/* SPDX-License-Identifier: MIT */
/*
 * The runner (docs/handlers.md): starts handler executables from
 * handlers.dir with posix_spawn, never through a shell, each in its own
 * session/process group; writes the payload to stdin without blocking,
 * captures stdout (up to handlers.max_output) as the result, logs stderr
 * line by line with the job ID, enforces the timeout (SIGTERM to the group,
 * SIGKILL after kill_grace) and reaps children from a SIGCHLD event with
 * waitpid(WNOHANG). A run is finished only when its exit status is known
 * and its pipes are closed (or a bounded drain after exit has passed).
 */
#ifndef DEFERD_RUNNER_H
#define DEFERD_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct event_base;
struct runner;
struct run;

/*
 * What to run. runner_start copies everything it keeps, except a payload
 * given with payload_give: then it takes that malloc'd buffer (and frees
 * it once written to the handler's stdin, or at once when the run does not
 * start), so a big payload is not held twice while the handler reads it.
 */
struct run_spec {
	const char		*job_id;
	const char		*queue;
	const char		*handler;
	const void		*payload;
	size_t			 payload_len;
	bool			 payload_give;	/* runner_start owns payload now */
	int			 attempt;	/* 1 on the first run */
	int			 max_attempts;
	int64_t			 timeout_ms;	/* effective timeout */
	const char		*source;	/* "delayed" etc.; NULL: "delayed" */
	const char		*resource;	/* NULL when none */
	const char		*fencing_token;	/* NULL when none */
	const struct env_var	*extra_env;	/* more DEFERD_* (expired key, channel...) */
	size_t			 nextra_env;
};

enum run_outcome {
	RUN_DONE,	/* exit 0 */
	RUN_RETRY,	/* other exit, signal, timeout, killed, spawn failure of a transient kind */
	RUN_DEAD,	/* exit 64 65 77 78, or a handler that is missing or unsafe */
	RUN_MISSING,	/* the handler (or its interpreter) is missing, not
			   executable or unsafe on this host: handlers.missing
			   decides (wait: no attempt spent) */
	RUN_UNSTARTED,	/* not started for this host's or daemon's reason:
			   handlers.dir missing or untrusted, out of fds,
			   memory or processes; the job is not to blame */
};

/* Delivered once per run; pointers are valid only during the callback. */
struct run_result {
	enum run_outcome	 outcome;
	int			 exit_code;	/* -1 when signalled or never started */
	int			 term_signal;	/* 0 unless killed by a signal */
	bool			 timed_out;
	bool			 killed;	/* runner_kill was called */
	bool			 output_truncated;
	const char		*output;	/* captured stdout */
	size_t			 output_len;
	const char		*error;		/* why it is not RUN_DONE, "" when done */
	int64_t			 duration_ms;
};

typedef void (*runner_done_cb)(const struct run_result *, void *arg);

/*
 * A runner on base. cfg is borrowed: it must not change and must outlive the
 * runner or the next runner_set_config (the config's part of the handler
 * environment is built from it once, there).
 */
struct runner	*runner_new(struct event_base *base, const struct config *cfg);
/* Use cfg for runs started from now on (reload). */
void		 runner_set_config(struct runner *, const struct config *cfg);
/*
 * Start a run. cb is always called exactly once, later, from the loop (also
 * when the handler is missing or unsafe: RUN_DEAD with the reason). The
 * returned handle is valid until cb has returned.
 */
struct run	*runner_start(struct runner *, const struct run_spec *,
		    runner_done_cb cb, void *arg);
/* Stop a run: SIGTERM to its group now, SIGKILL after kill_grace. Its result has killed = true, outcome RUN_RETRY and error reason. */
void		 runner_kill(struct run *, const char *reason);
/* The same, with SIGKILL at most grace_ms from now (a lease about to end). */
void		 runner_kill_within(struct run *, const char *reason,
		    int64_t grace_ms);
/* Whether the run's handler process has exited (an exec run; false for a persistent one). */
bool		 runner_exited(const struct run *);
/* Kill every run (as runner_kill). */
void		 runner_kill_all(struct runner *, const char *reason);
/* Number of runs not yet finished. */
size_t		 runner_count(const struct runner *);
/* SIGKILL every process group, free everything; no callbacks. NULL is a no-op. */
void		 runner_free(struct runner *);

/* Map a waitpid status to an outcome (0 done; 64 65 77 78 dead; else retry). */
enum run_outcome runner_classify(int status);

#endif
