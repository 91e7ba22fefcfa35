/* SPDX-License-Identifier: MIT */
/*
 * A hold on claiming (hold.c): while this host cannot start handlers
 * (handlers.dir missing or untrusted, out of descriptors or memory), the
 * daemon claims nothing, so that jobs wait in Redis, where another daemon
 * may run them, instead of being claimed only to be handed back. The owner
 * gives a check (is the cause gone?) and a release callback (claim again).
 */
#ifndef DEFERD_HOLD_H
#define DEFERD_HOLD_H

#include <stddef.h>

struct event_base;
struct hold;

/* 0 when the cause is gone, else -1 with the current reason in err. */
typedef int	(*hold_check_cb)(char *err, size_t errlen, void *arg);
/* The hold was lifted: claim again. */
typedef void	(*hold_release_cb)(void *arg);

struct hold	*hold_new(struct event_base *, hold_check_cb, hold_release_cb,
		    void *arg);
/*
 * Hold claiming for why (copied): the check runs every second and the
 * hold lasts until it passes. Logged when the hold starts or its reason
 * changes, and when it ends.
 */
void		 hold_set(struct hold *, const char *why);
/* Run the check now: hold if it fails, release if it passes. */
void		 hold_check_now(struct hold *);
/* The reason while held, else NULL. */
const char	*hold_reason(const struct hold *);
/* Free; NULL is a no-op. */
void		 hold_free(struct hold *);

#endif
