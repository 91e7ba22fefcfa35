/* SPDX-License-Identifier: MIT */
/* The deferctl cancel --kill channel; see kill_channel.h. */
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "kill_channel.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

struct kill_channel {
	char		*channel;
	kill_channel_cb	 cb;
	void		*arg;
};

/* A message "QUEUE ID": checked, then handed on. */
static void
kill_channel_message(const char *channel, const char *payload, size_t len,
    void *priv)
{
	struct kill_channel	*k = priv;
	char			 buf[512], *id;

	(void)channel;
	if (len >= sizeof(buf))
		return;
	memcpy(buf, payload, len);
	buf[len] = '\0';
	if ((id = strchr(buf, ' ')) == NULL)
		return;
	*id++ = '\0';
	if (!util_valid_queue_name(buf) || !util_valid_job_id(id, strlen(id))) {
		log_debug("kill channel: ignored a malformed request");
		return;
	}
	k->cb(buf, id, k->arg);
}

struct kill_channel *
kill_channel_new(struct rconn *sub, const char *ns, kill_channel_cb cb,
    void *arg)
{
	struct kill_channel	*k = xcalloc(1, sizeof(*k));

	k->channel = keys_kill(ns);
	k->cb = cb;
	k->arg = arg;
	rconn_subscribe(sub, k->channel, false, kill_channel_message, NULL, k);
	return (k);
}

void
kill_channel_free(struct kill_channel *k)
{
	if (k == NULL)
		return;
	free(k->channel);
	free(k);
}
