/* SPDX-License-Identifier: MIT */
/* A handler process's stderr in deferd's log; see stderr_log.h. */
#include <string.h>

#include "log.h"
#include "stderr_log.h"
#include "util.h"

void
stderr_log_init(struct stderr_log *l)
{
	memset(l, 0, sizeof(*l));
	l->window_ms = util_mono_ms();
}

/* Report the bytes dropped since the last report, if any. */
static void
stderr_log_report(struct stderr_log *l, const char *who)
{
	if (l->dropped == 0)
		return;
	log_warnx("%s: %zu bytes of stderr not logged (more than %d bytes in "
	    "%ds)", who, l->dropped, STDERR_BUDGET, STDERR_WINDOW_MS / 1000);
	l->dropped = 0;
}

/* Log the collected line within the window's budget. */
static void
stderr_log_line(struct stderr_log *l, const char *who)
{
	static char	esc[STDERR_LINE_MAX * 4 + 4];
	int64_t		now = util_mono_ms();

	if (now - l->window_ms >= STDERR_WINDOW_MS) {
		stderr_log_report(l, who);
		l->window_ms = now;
		l->logged = 0;
	}
	if (l->logged + l->line_len > STDERR_BUDGET)
		l->dropped += l->line_len + 1;
	else {
		l->logged += l->line_len + 1;
		util_escape(l->line, l->line_len, esc, sizeof(esc));
		log_info("%s: %s", who, esc);
	}
	l->line_len = 0;
}

void
stderr_log_feed(struct stderr_log *l, const char *who, const char *buf,
    size_t len)
{
	const char	*nl;
	size_t		 take;

	while (len > 0) {
		nl = memchr(buf, '\n', len);
		take = nl != NULL ? (size_t)(nl - buf) : len;
		if (take > sizeof(l->line) - l->line_len)
			take = sizeof(l->line) - l->line_len;
		memcpy(l->line + l->line_len, buf, take);
		l->line_len += take;
		buf += take;
		len -= take;
		if (len > 0 && *buf == '\n') {
			buf++;
			len--;
			stderr_log_line(l, who);
		} else if (l->line_len == sizeof(l->line))
			stderr_log_line(l, who);
	}
}

void
stderr_log_end(struct stderr_log *l, const char *who)
{
	if (l->line_len > 0)
		stderr_log_line(l, who);
	stderr_log_report(l, who);
}
