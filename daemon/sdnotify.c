/* SPDX-License-Identifier: MIT */
/*
 * sd_notify(3) written out: the protocol is one datagram
 * per notification to the AF_UNIX socket named by $NOTIFY_SOCKET. The
 * socket is unconnected and addressed on every send, so a restarted
 * manager (daemon-reexec) is found again. Not here: when to notify, which
 * is daemon.c's business.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sdnotify.h"

static int	sdnotify_fd = -1;

static int	sdnotify_address(struct sockaddr_un *, socklen_t *);

/*
 * Fill sun from $NOTIFY_SOCKET. An abstract name ("@name") has no NUL
 * terminator: its length is exactly offsetof(sun_path) + strlen(value).
 * Returns 0, or -1 when unset or unusable (vsock:, relative, too long).
 */
static int
sdnotify_address(struct sockaddr_un *sun, socklen_t *len)
{
	const char	*e = getenv("NOTIFY_SOCKET");
	size_t		 n;

	if (e == NULL || (e[0] != '/' && e[0] != '@') || (n = strlen(e)) < 2 ||
	    n >= sizeof(sun->sun_path))
		return (-1);
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, e, n);
	if (sun->sun_path[0] == '@')
		sun->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	return (0);
}

bool
sdnotify_enabled(void)
{
	struct sockaddr_un	sun;
	socklen_t		len;

	return (sdnotify_address(&sun, &len) == 0);
}

int
sdnotify_send(const char *state)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	ssize_t			n;

	if (sdnotify_address(&sun, &len) == -1)
		return (0);
	if (sdnotify_fd == -1 &&
	    (sdnotify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	do {
		n = sendto(sdnotify_fd, state, strlen(state), MSG_NOSIGNAL,
		    (struct sockaddr *)&sun, len);
	} while (n == -1 && errno == EINTR);
	return (n == -1 ? -1 : 0);
}

int
sdnotify_sendf(const char *fmt, ...)
{
	char	buf[4096];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return (sdnotify_send(buf));
}

uint64_t
sdnotify_watchdog_usec(void)
{
	const char		*usec = getenv("WATCHDOG_USEC");
	const char		*pid = getenv("WATCHDOG_PID");
	char			*end;
	unsigned long long	 v;

	if (usec == NULL || *usec == '\0')
		return (0);
	if (pid != NULL && *pid != '\0' &&
	    strtoll(pid, &end, 10) != (long long)getpid())
		return (0);
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || usec[0] == '-')
		return (0);
	return ((uint64_t)v);
}

uint64_t
sdnotify_monotonic_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

void
sdnotify_close(void)
{
	if (sdnotify_fd != -1)
		close(sdnotify_fd);
	sdnotify_fd = -1;
}
