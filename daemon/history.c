/* SPDX-License-Identifier: MIT */
/* The finished-job record; see history.h. */

#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "json.h"

#define HISTORY_MEMBER_MAX	4096	/* bytes of one member read back */

/*
 * Fields a reader needs to answer "what happened": the outcome, when and
 * how long, how it ended (exit status, signal, timeout) and where it ran.
 */
char *
history_record(const struct history_run *r)
{
	struct json_out	o;

	json_out_init(&o);
	json_obj_begin(&o, NULL);
	json_add_cstr(&o, "status", r->status);
	json_add_cstr(&o, "handler", r->handler);
	json_add_int(&o, "attempts", r->attempt);
	if (r->enqueued_ms > 0)
		json_add_int(&o, "enqueued_ms", r->enqueued_ms);
	if (r->started_ms > 0)
		json_add_int(&o, "started_ms", r->started_ms);
	if (r->duration_ms >= 0)
		json_add_int(&o, "duration_ms", r->duration_ms);
	if (r->exit_code >= 0)
		json_add_int(&o, "exit", r->exit_code);
	if (r->term_signal > 0)
		json_add_int(&o, "signal", r->term_signal);
	if (r->timed_out)
		json_add_bool(&o, "timed_out", true);
	if (r->error != NULL && r->error[0] != '\0')
		json_add_cstr(&o, "error", r->error);
	json_add_cstr(&o, "daemon", r->daemon);
	if (r->finished_ms > 0)
		json_add_int(&o, "finished_ms", r->finished_ms);
	json_obj_end(&o);
	return (json_out_take(&o));
}

void
history_record_members(struct json_out *o, const char *rec)
{
	struct json_iter	 it;
	char			 k[64], v[HISTORY_MEMBER_MAX], *end;
	size_t			 vlen;
	bool			 str;
	long long		 n;

	json_iter_init(&it, rec, strlen(rec));
	while (json_iter_next_len(&it, k, sizeof(k), v, sizeof(v), &vlen,
	    &str) == 1) {
		if (!str && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))
			json_add_bool(o, k, v[0] == 't');
		else if (!str && (n = strtoll(v, &end, 10), end != v &&
		    *end == '\0'))
			json_add_int(o, k, n);
		else
			json_add_str(o, k, v, vlen);
	}
}
