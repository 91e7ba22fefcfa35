/* SPDX-License-Identifier: MIT */
/* Redis key names (docs/keys.md). */
#include "keys.h"
#include "xmalloc.h"

char *
keys_prefix(const char *ns, const char *queue)
{
	char	*s;

	xasprintf(&s, "%s:{%s}:", ns, queue);
	return (s);
}

char *
keys_queue(const char *ns, const char *queue, const char *suffix)
{
	char	*s;

	xasprintf(&s, "%s:{%s}:%s", ns, queue, suffix);
	return (s);
}

char *
keys_job(const char *ns, const char *queue, const char *id)
{
	char	*s;

	xasprintf(&s, "%s:{%s}:job:%s", ns, queue, id);
	return (s);
}

char *
keys_result(const char *ns, const char *queue, const char *id)
{
	char	*s;

	xasprintf(&s, "%s:{%s}:result:%s", ns, queue, id);
	return (s);
}

char *
keys_lock(const char *ns, const char *resource, bool tagged)
{
	char	*s;

	xasprintf(&s, tagged ? "%s:lock:{%s}" : "%s:lock:%s", ns, resource);
	return (s);
}

char *
keys_stats_index(const char *ns, bool tagged)
{
	char	*s;

	xasprintf(&s, tagged ? "%s:{stats}:daemons" : "%s:stats", ns);
	return (s);
}

char *
keys_stats(const char *ns, const char *member, bool tagged)
{
	char	*s;

	xasprintf(&s, tagged ? "%s:{stats}:daemon:%s" : "%s:stats:%s", ns,
	    member);
	return (s);
}

char *
keys_exp_watch(const char *ns)
{
	char	*s;

	xasprintf(&s, "%s:{exp}:watch", ns);
	return (s);
}

char *
keys_kill(const char *ns)
{
	char	*s;

	xasprintf(&s, "%s:kill", ns);
	return (s);
}

char *
keys_events(const char *ns)
{
	char	*s;

	xasprintf(&s, "%s:events", ns);
	return (s);
}

char *
keys_fence(const char *ns, const char *resource, bool tagged)
{
	char	*s;

	xasprintf(&s, tagged ? "%s:fence:{%s}" : "%s:fence:%s", ns, resource);
	return (s);
}
