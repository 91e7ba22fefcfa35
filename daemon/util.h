/* SPDX-License-Identifier: MIT */
/* Small helpers shared by deferd and deferctl: clocks, randomness, names, escaping. */
#ifndef DEFERD_UTIL_H
#define DEFERD_UTIL_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The BSD macro glibc's <sys/queue.h> lacks: the loop may free var. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

/*
 * Calendar arithmetic without a time zone (proleptic Gregorian): days from
 * 1970-01-01 to y-m-d (H. Hinnant's days_from_civil), and the days of
 * month m (1-12) of year y. For --at parsing and cron wall times.
 */
int64_t	util_days_from_civil(int64_t y, int m, int d);
int	util_days_in_month(int y, int m);

/* Milliseconds on CLOCK_MONOTONIC: for leases, timeouts and backoff. */
int64_t	util_mono_ms(void);
/* The same in microseconds. */
int64_t	util_mono_us(void);
/* Milliseconds since the epoch on CLOCK_REALTIME: only for display and estimates. */
int64_t	util_real_ms(void);
/* Fill buf with len random bytes (getrandom); never fails. */
void	util_random_bytes(void *buf, size_t len);
/* A uniformly random integer in [0, n); 0 when n <= 0. */
int64_t	util_random_below(int64_t n);
/* Write 2*nbytes random hex digits and a NUL into out (size >= 2*nbytes+1). */
void	util_random_hex(char *out, size_t nbytes);
/* A job ID is 1-200 bytes of [A-Za-z0-9_.:@-]. */
bool	util_valid_job_id(const char *, size_t len);
/* A handler name is [A-Za-z0-9][A-Za-z0-9_.-]*, at most 255 bytes. */
bool	util_valid_handler_name(const char *, size_t len);
/* A queue name: like a job ID, but no braces (it becomes a hash tag). */
bool	util_valid_queue_name(const char *);
/*
 * Copy len untrusted bytes into out (size outlen) so that they are safe to
 * log: printable ASCII is kept, \n \r \t \\ and " become C escapes, other bytes
 * \xNN. Truncates with "..." if out is too small. Returns out.
 */
char	*util_escape(const void *src, size_t len, char *out, size_t outlen);
/*
 * v in decimal into out (at least UTIL_INT_TEXT bytes), NUL-terminated;
 * returns its length. What snprintf's "%" PRId64 writes, without the cost
 * of printf's machinery (numbers go into every job's outcome and record).
 */
#define UTIL_INT_TEXT	24
size_t	util_int_text(char *out, int64_t v);
/* The value of hex digit c, or -1. */
int	util_hexval(int c);
/* src as standard base64 (with padding), NUL-terminated; the caller frees it. */
char	*util_base64(const void *src, size_t len);
/* Generate a fresh job ID "<epoch-ms-hex>-<16 hex random>" into out (>= 40 bytes). */
void	util_new_job_id(char *out, size_t outlen);

/*
 * Copy argc arguments (lens NULL: C strings) into new arrays *out and
 * *outlens, each copy NUL-terminated; util_free_args frees them.
 */
void	util_copy_args(int argc, const char **argv, const size_t *lens,
	    char ***out, size_t **outlens);
void	util_free_args(int argc, char **argv, size_t *lens);
/* ms since the epoch as ISO 8601 UTC with milliseconds ("...T19:00:00.000Z"). */
char	*util_iso_ms(int64_t ms, char *buf, size_t len);
/* "HOST:PID", this process's name in Redis (lists, summaries, history); caller frees. */
char	*util_host_pid(void);

#endif
