/* SPDX-License-Identifier: MIT */
/*
 * Logging. Everything goes to stderr, one line per message, written with
 * one write(2). Under systemd (JOURNAL_STREAM names the device and inode of
 * stderr) each line starts with a "<N>" syslog priority that journald
 * understands and carries no timestamp or program name of its own (journald
 * adds both); otherwise lines are "TIME PROG LEVEL: message". log.format
 * json writes one JSON object per line for log shippers, also behind a
 * "<N>" under journald (journald strips it, so MESSAGE= is the bare JSON).
 * Callers escape untrusted bytes first (see util_escape); here a line break
 * inside a message becomes a space in text, and JSON is escaped (json.c).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"

#define LOG_LINE_MAX	(8192 * 6 + 256)	/* a JSON-escaped message and the rest */

static const char	*log_procname = "deferd";
static enum log_level	 log_level = LOG_LEVEL_INFO;
static enum log_format	 log_format = LOG_FORMAT_TEXT;
static int		 log_journal;

static const char *const level_names[] = { "debug", "info", "warning", "error" };
static const char *const level_prefix[] = { "<7>", "<6>", "<4>", "<3>" };

static int	log_stderr_is_journal(void);
static void	log_write(enum log_level, const char *);
static size_t	log_format_text(char *, size_t, enum log_level, const char *);
static size_t	log_format_json(char *, size_t, enum log_level, const char *);

/* Remember the program name and whether stderr is connected to journald. */
void
log_init(const char *procname)
{
	log_procname = procname;
	log_journal = log_stderr_is_journal();
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

void
log_set_format(enum log_format format)
{
	log_format = format;
}

/* Map a config word to a level; -1 if it is not one. */
int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return ((int)i);
	return (-1);
}

/* JOURNAL_STREAM is "DEV:INODE" of the journal socket; compare with fd 2. */
static int
log_stderr_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return (0);
	if (fstat(2, &st) == -1)
		return (0);
	return ((unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino);
}

/*
 * "TIME PROG LEVEL: msg", or "<N>msg" under journald, or "PROG: msg" for a
 * command-line tool, into buf; returns its length.
 */
static size_t
log_format_text(char *buf, size_t len, enum log_level level, const char *msg)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 when[32];
	size_t		 n, start;
	int		 r;

	if (log_format == LOG_FORMAT_CLI)
		r = snprintf(buf, len, "%s: %s", log_procname,
		    level == LOG_LEVEL_WARNING ? "warning: " : "");
	else if (log_journal)
		r = snprintf(buf, len, "%s", level_prefix[level]);
	else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(buf, len, "%s.%03ldZ %s %s: ", when,
		    ts.tv_nsec / 1000000, log_procname, level_names[level]);
	}
	start = r < 0 ? 0 : (size_t)r < len ? (size_t)r : len - 1;
	r = snprintf(buf + start, len - start, "%s", msg);
	n = r < 0 ? start : start + (size_t)r < len ? start + (size_t)r : len - 1;
	for (size_t i = start; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	return (n);
}

/* One JSON object {"ts_ms","level","prog","msg"} into buf; returns its length. */
static size_t
log_format_json(char *buf, size_t len, enum log_level level, const char *msg)
{
	struct timespec	ts;
	size_t		n;
	int		r;

	clock_gettime(CLOCK_REALTIME, &ts);
	r = snprintf(buf, len, "%s{\"ts_ms\":%lld,\"level\":\"%s\",\"prog\":\"",
	    log_journal ? level_prefix[level] : "",
	    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, level_names[level]);
	n = r < 0 ? 0 : (size_t)r;
	n += json_escape(buf + n, len - n, log_procname, strlen(log_procname));
	if (n + 9 >= len)
		return (len - 1);
	memcpy(buf + n, "\",\"msg\":\"", 9);
	n += 9;
	n += json_escape(buf + n, len - n, msg, strlen(msg));
	if (n + 2 >= len)
		return (len - 1);
	memcpy(buf + n, "\"}", 3);
	return (n + 2);
}

/* Write one message in the configured format as one line, with one write. */
static void
log_write(enum log_level level, const char *msg)
{
	static char	 buf[LOG_LINE_MAX];
	size_t		 n, off = 0;
	ssize_t		 w;

	if (log_format == LOG_FORMAT_JSON)
		n = log_format_json(buf, sizeof(buf) - 1, level, msg);
	else
		n = log_format_text(buf, sizeof(buf) - 1, level, msg);
	buf[n++] = '\n';
	fflush(stderr);
	while (off < n) {
		w = write(STDERR_FILENO, buf + off, n - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

/* Format and write a message if its level is enabled. */
void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char	buf[8192];
	int	saved = errno;

	if (level < log_level) {
		errno = saved;
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_write(level, buf);
	errno = saved;
}

void
log_limited(struct log_limit *l, long long interval_ms, enum log_level level,
    const char *fmt, ...)
{
	struct timespec	ts;
	long long	now;
	va_list		ap;
	char		buf[8192];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (l->last_ms != 0 && now - l->last_ms < interval_ms) {
		l->suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (l->suppressed > 0)
		log_msg(level, "%s (%lu similar lines suppressed)", buf,
		    l->suppressed);
	else
		log_msg(level, "%s", buf);
	l->last_ms = now;
	l->suppressed = 0;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* Log at level with ": strerror(errno)" appended. */
static void
log_vmsg_errno(enum log_level level, const char *fmt, va_list ap)
{
	char	buf[8192];
	int	saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_msg(level, "%s: %s", buf, strerror(saved));
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_DEBUG, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_INFO, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_WARNING, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg_errno(LOG_LEVEL_WARNING, fmt, ap);
	va_end(ap);
}

void
log_errorx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg_errno(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg_errno(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
