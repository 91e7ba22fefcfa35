/* SPDX-License-Identifier: MIT */
/*
 * The one logging call of deferd and deferctl: levelled messages to stderr,
 * with journald priority prefixes when stderr is the journal, or JSON lines.
 */
#ifndef DEFERD_LOG_H
#define DEFERD_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
	LOG_FORMAT_CLI,		/* "prog: msg", "prog: warning: msg": for deferctl */
};

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Set the program name and detect the journal (JOURNAL_STREAM). */
void	log_init(const char *procname);
void	log_set_level(enum log_level);
void	log_set_format(enum log_format);
/* Parse "debug", "info", "warning" or "error"; -1 when unknown. */
int	log_level_parse(const char *);

void	log_debug(const char *, ...) LOG_PRINTF(1, 2);
void	log_info(const char *, ...) LOG_PRINTF(1, 2);
/* log_warn and log_error append strerror(errno); the x forms do not. */
void	log_warn(const char *, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	log_error(const char *, ...) LOG_PRINTF(1, 2);
void	log_errorx(const char *, ...) LOG_PRINTF(1, 2);
void	log_msg(enum log_level, const char *, ...) LOG_PRINTF(2, 3);
void	log_vmsg(enum log_level, const char *, va_list) LOG_PRINTF(2, 0);

/*
 * The one rate limit for repeated lines (one per call site and subject,
 * zeroed to start): log_limited writes at most one line per interval_ms
 * through it; the next line written after others were dropped ends with
 * "(N similar lines suppressed)".
 */
struct log_limit {
	long long	 last_ms;	/* monotonic ms of the last line written */
	unsigned long	 suppressed;	/* lines dropped since */
};
void	log_limited(struct log_limit *, long long interval_ms, enum log_level,
	    const char *, ...) LOG_PRINTF(4, 5);

/* Only at start-up or for "cannot happen": log and exit(1). */
_Noreturn void fatal(const char *, ...) LOG_PRINTF(1, 2);
_Noreturn void fatalx(const char *, ...) LOG_PRINTF(1, 2);

#endif
