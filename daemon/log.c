/* SPDX-License-Identifier: MIT */
/*
 * Logging. Everything goes to stderr, one line per message. Under systemd
 * (JOURNAL_STREAM matches stderr) each line starts with a "<N>" syslog
 * priority that journald understands and carries no timestamp of its own;
 * otherwise lines are "TIME LEVEL message". log.format json writes one JSON
 * object per line for log shippers. Callers escape untrusted bytes first
 * (see util_escape); this module only escapes for JSON.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static const char	*log_procname = "deferd";
static enum log_level	 log_level = LOG_LEVEL_INFO;
static enum log_format	 log_format = LOG_FORMAT_TEXT;
static int		 log_journal;

static const char *const level_names[] = { "debug", "info", "warning", "error" };
static const char *const level_prefix[] = { "<7>", "<6>", "<4>", "<3>" };

static int	log_stderr_is_journal(void);
static void	log_write(enum log_level, const char *);
static void	log_json_string(FILE *, const char *);

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

enum log_level
log_get_level(void)
{
	return (log_level);
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

/* Write one formatted message in the configured format. */
static void
log_write(enum log_level level, const char *msg)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 when[32];

	if (log_format == LOG_FORMAT_JSON) {
		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(stderr, "{\"ts_ms\":%lld,\"level\":\"%s\",\"prog\":",
		    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
		    level_names[level]);
		log_json_string(stderr, log_procname);
		fputs(",\"msg\":", stderr);
		log_json_string(stderr, msg);
		fputs("}\n", stderr);
	} else if (log_journal) {
		fprintf(stderr, "%s%s\n", level_prefix[level], msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s %s: %s\n", when,
		    ts.tv_nsec / 1000000, log_procname, level_names[level], msg);
	}
	fflush(stderr);
}

/* Write s as a JSON string literal; bytes are passed through as they are. */
static void
log_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
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
