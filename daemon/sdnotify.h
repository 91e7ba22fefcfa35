/* SPDX-License-Identifier: MIT */
/*
 * The systemd notification protocol (sd_notify(3)) without libsystemd: one
 * AF_UNIX datagram of newline-separated KEY=VALUE assignments to
 * $NOTIFY_SOCKET (a path, or "@name" for an abstract socket). When the
 * variable is unset every call is a no-op that succeeds. The variables stay
 * in our environment; handlers get a scrubbed one (runner.c).
 */
#ifndef DEFERD_SDNOTIFY_H
#define DEFERD_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Whether $NOTIFY_SOCKET is set to something we can send to. */
bool		 sdnotify_enabled(void);
/*
 * Send state ("READY=1", "STATUS=...\nWATCHDOG=1", ...) in one datagram.
 * Returns 0 when sent or when there is no socket, -1 with errno on failure.
 */
int		 sdnotify_send(const char *state);
/* As sdnotify_send, printf-style; the text is cut at 4 KiB. */
int		 sdnotify_sendf(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
/*
 * The watchdog interval in microseconds when systemd expects WATCHDOG=1
 * from this process ($WATCHDOG_USEC set, $WATCHDOG_PID unset or ours),
 * else 0.
 */
uint64_t	 sdnotify_watchdog_usec(void);
/* CLOCK_MONOTONIC in microseconds, for MONOTONIC_USEC= with RELOADING=1. */
uint64_t	 sdnotify_monotonic_usec(void);
/* Close the socket (it is opened again on the next send). */
void		 sdnotify_close(void);

#endif
