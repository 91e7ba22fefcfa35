/* SPDX-License-Identifier: MIT */
/*
 * One dashboard API call on Redis (dashboard_call.c): an endpoint sends
 * its commands on the daemon's command connection, each reply goes to the
 * endpoint's callback with a slot that names the call, and when the last
 * answer is in the endpoint writes the JSON, which goes to the owner's
 * done callback (dashboard.c), unless the owner cancelled the call
 * because its client went away. The endpoints: dashboard_api.c.
 */
#ifndef DEFERD_DASHBOARD_CALL_H
#define DEFERD_DASHBOARD_CALL_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

struct deferd;
struct evbuffer;
struct store_call;
struct json_out;
struct api_call;

/*
 * The answer of call: json is the body (the callback may move it out), or
 * NULL when Redis could not be asked (not connected).
 */
typedef void	(*api_done_cb)(struct api_call *, struct evbuffer *json,
		    void *arg);

/* What an endpoint does with its data once every answer is in, and frees. */
struct api_kind {
	void	(*write)(const struct api_call *, const void *data,
		    struct json_out *);
	void	(*free)(void *data);
};

/* Where one reply goes: the call, and what the endpoint makes of it. */
struct api_slot {
	struct api_call	*call;
	size_t		 index;
	int		 what;
};

/* A call of endpoint kind on d with data (owned by the call from now on). */
struct api_call	*api_call_new(struct deferd *d, const struct api_kind *kind,
		    void *data, api_done_cb done, void *arg);
/* The call's daemon and data. */
struct deferd	*api_call_deferd(const struct api_call *);
void		*api_call_data(const struct api_call *);
/* A slot for one reply of call. */
struct api_slot	*api_slot(struct api_call *, size_t index, int what);
/*
 * Send a command of call; its reply (NULL when the connection was lost)
 * goes to cb with slot s, which cb frees, and cb calls api_answered.
 * When it cannot be sent the call fails (503) and s is freed here.
 */
void		 api_send(struct api_call *, void (*cb)(redisReply *, void *),
		    struct api_slot *s, int argc, const char **argv);
/* The same for a script call (store.h), which is sent and freed. */
void		 api_send_script(struct api_call *, void (*cb)(redisReply *, void *),
		    struct api_slot *s, struct store_call *);
/* One reply was handled: the last one finishes the call. */
void		 api_answered(struct api_call *);
/*
 * Every first command is sent: from now on the last answer finishes the
 * call. Returns the call, or NULL when it has finished already (nothing
 * could be sent: done was called with NULL).
 */
struct api_call	*api_call_start(struct api_call *);
/* The owner no longer wants call's answer; the call frees itself when done. */
void		 api_cancel(struct api_call *);

#endif
