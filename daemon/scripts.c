/* SPDX-License-Identifier: MIT */
/* The table of embedded Lua scripts; the bodies come from scripts_gen.c. */
#include <string.h>

#include "scripts.h"
#include "xmalloc.h"

#define SCRIPT_FLAGS_LINE	"#!lua flags=allow-oom\n"

extern const char script_src_enqueue[], script_src_claim[],
    script_src_extend[], script_src_complete[], script_src_retry[],
    script_src_bury[], script_src_reap[], script_src_cancel[],
    script_src_revive[], script_src_purge[], script_src_lock_acquire[],
    script_src_lock_extend[], script_src_lock_release[];
extern const char script_src_expjob[], script_src_track[],
    script_src_touch[], script_src_zsetmove[], script_src_listtake[],
    script_src_listrecover[];
extern const char script_src_enqueue_batch[], script_src_unclaim[],
    script_src_outcome[];
extern const char script_src_schedule[], script_src_listreturn[];

static struct script scripts[SCRIPT_COUNT] = {
	[SCRIPT_ENQUEUE] = { "enqueue", script_src_enqueue, 0, false, false, NULL, 0 },
	[SCRIPT_CLAIM] = { "claim", script_src_claim, 0, false, true, NULL, 0 },
	[SCRIPT_EXTEND] = { "extend", script_src_extend, 0, true, true, NULL, 0 },
	[SCRIPT_COMPLETE] = { "complete", script_src_complete, 0, true, false, NULL, 0 },
	[SCRIPT_RETRY] = { "retry", script_src_retry, 0, false, false, NULL, 0 },
	[SCRIPT_BURY] = { "bury", script_src_bury, 0, false, false, NULL, 0 },
	[SCRIPT_REAP] = { "reap", script_src_reap, 0, true, true, NULL, 0 },
	[SCRIPT_UNCLAIM] = { "unclaim", script_src_unclaim, 0, true, true, NULL, 0 },
	[SCRIPT_CANCEL] = { "cancel", script_src_cancel, 0, true, false, NULL, 0 },
	[SCRIPT_REVIVE] = { "revive", script_src_revive, 0, false, false, NULL, 0 },
	[SCRIPT_PURGE] = { "purge", script_src_purge, 0, false, false, NULL, 0 },
	[SCRIPT_EXPJOB] = { "expjob", script_src_expjob, 0, false, true, NULL, 0 },
	[SCRIPT_TRACK] = { "track", script_src_track, 0, false, true, NULL, 0 },
	[SCRIPT_TOUCH] = { "touch", script_src_touch, 0, false, true, NULL, 0 },
	[SCRIPT_ZSETMOVE] = { "zsetmove", script_src_zsetmove, 0, false, true, NULL, 0 },
	[SCRIPT_LISTTAKE] = { "listtake", script_src_listtake, 0, false, true, NULL, 0 },
	[SCRIPT_LISTRECOVER] = { "listrecover", script_src_listrecover, 0, false, true, NULL, 0 },
	[SCRIPT_ENQUEUE_BATCH] = { "enqueue_batch", script_src_enqueue_batch, 0, false, false, NULL, 0 },
	[SCRIPT_OUTCOME] = { "outcome", script_src_outcome, 0, true, true, NULL, 0 },
	[SCRIPT_SCHEDULE] = { "schedule", script_src_schedule, 0, false, true, NULL, 0 },
	[SCRIPT_LISTRETURN] = { "listreturn", script_src_listreturn, 0, true, true, NULL, 0 },
	[SCRIPT_LOCK_ACQUIRE] = { "lock_acquire", script_src_lock_acquire, 0, false, true, NULL, 0 },
	[SCRIPT_LOCK_EXTEND] = { "lock_extend", script_src_lock_extend, 0, true, true, NULL, 0 },
	[SCRIPT_LOCK_RELEASE] = { "lock_release", script_src_lock_release, 0, true, true, NULL, 0 },
};

bool
scripts_durable(enum script_id id)
{
	switch (id) {
	case SCRIPT_ENQUEUE:
	case SCRIPT_ENQUEUE_BATCH:
	case SCRIPT_COMPLETE:
	case SCRIPT_RETRY:
	case SCRIPT_BURY:
	case SCRIPT_OUTCOME:
	case SCRIPT_EXPJOB:
	case SCRIPT_ZSETMOVE:
	case SCRIPT_LISTTAKE:
	case SCRIPT_SCHEDULE:
		return (true);
	default:
		return (false);
	}
}

const struct script *
scripts_get(enum script_id id)
{
	struct script	*s = &scripts[id];

	if (s->len == 0)
		s->len = strlen(s->body);
	return (s);
}

const char *
scripts_body(enum script_id id, bool flags, size_t *len)
{
	struct script	*s = &scripts[id];

	scripts_get(id);
	if (!flags || !s->allow_oom) {
		*len = s->len;
		return (s->body);
	}
	if (s->flagged == NULL)
		s->flagged_len = (size_t)xasprintf(&s->flagged, "%s%s",
		    SCRIPT_FLAGS_LINE, s->body);
	*len = s->flagged_len;
	return (s->flagged);
}
