/* SPDX-License-Identifier: MIT */
/*
 * The channel NS:kill, on which `deferctl cancel --kill` asks the daemon
 * that holds a running job to stop it (kill_channel.c). Every daemon
 * subscribes; a message is "QUEUE ID" (neither holds a space), and the
 * daemon that holds that job hands it to its owner's callback (job_kill),
 * which stops it and records it cancelled. The others ignore it.
 */
#ifndef DEFERD_KILL_CHANNEL_H
#define DEFERD_KILL_CHANNEL_H

#include "rconn.h"

struct kill_channel;

/* Told of each well-formed request. */
typedef void	(*kill_channel_cb)(const char *queue, const char *id, void *arg);

/* Subscribe sub (not owned) to ns:kill; requests go to cb. */
struct kill_channel *kill_channel_new(struct rconn *sub, const char *ns,
		    kill_channel_cb cb, void *arg);
/* Free (after sub); NULL is a no-op. */
void		 kill_channel_free(struct kill_channel *);

#endif
