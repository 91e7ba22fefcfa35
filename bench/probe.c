/* SPDX-License-Identifier: MIT */
/*
 * Lateness probe: a handler that trusts nobody's clock but its own. It takes
 * its start time (CLOCK_REALTIME) before doing anything else, reads the
 * payload from stdin, finds the job's due time in it (the first run of 13 or
 * more digits, epoch milliseconds, optionally followed by ".fraction"), and
 * appends one line "DUE_MS START_MS" (START_MS with microseconds) to the
 * file named by $PROBE_OUT with a single O_APPEND write, so lines from
 * concurrent probes never interleave. Without a due time in the payload,
 * the job ID gives it ($DEFERD_JOB_ID: a periodic job's tick,
 * cron:NAME:TICK_MS); else DUE_MS is "-". Exit 0 at once; 1 if it cannot
 * record.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The first run of 13-19 digits in s (with a ".fraction") into due. */
static void
find_due(const char *s, char *due, size_t duelen)
{
	const char	*p;
	size_t		 k;
	int		 len;

	for (p = s; *p != '\0'; p += k) {
		for (k = 0; isdigit((unsigned char)p[k]); k++)
			;
		if (k >= 13 && k < 20) {
			len = (int)k;
			if (p[k] == '.' && isdigit((unsigned char)p[k + 1]))
				for (len++; isdigit((unsigned char)p[len]) &&
				    len < (int)duelen - 1; len++)
					;
			snprintf(due, duelen, "%.*s", len, p);
			return;
		}
		if (k == 0)
			k = 1;
	}
}

int
main(void)
{
	struct timespec	 ts;
	char		 in[512], line[128], due[40] = "-";
	const char	*path, *id;
	size_t		 n = 0;
	ssize_t		 r;
	int		 fd, len;

	clock_gettime(CLOCK_REALTIME, &ts);
	while (n < sizeof(in) - 1 &&
	    (r = read(STDIN_FILENO, in + n, sizeof(in) - 1 - n)) > 0)
		n += (size_t)r;
	in[n] = '\0';
	find_due(in, due, sizeof(due));
	if (strcmp(due, "-") == 0 && (id = getenv("DEFERD_JOB_ID")) != NULL)
		find_due(id, due, sizeof(due));
	if ((path = getenv("PROBE_OUT")) == NULL)
		return (1);
	len = snprintf(line, sizeof(line), "%s %lld.%03ld\n", due,
	    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
	    (ts.tv_nsec / 1000) % 1000);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return (1);
	if (write(fd, line, (size_t)len) != len)
		return (1);
	close(fd);
	return (0);
}
