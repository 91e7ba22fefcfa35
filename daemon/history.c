/* SPDX-License-Identifier: MIT */
/* The finished-job record; see history.h. */

#include "history.h"
#include "json.h"

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
	json_obj_end(&o);
	return (json_out_take(&o));
}
