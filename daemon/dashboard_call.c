/* SPDX-License-Identifier: MIT */
/* One dashboard API call on Redis; see dashboard_call.h. */
#include <event2/buffer.h>

#include <stdlib.h>

#include "dashboard_call.h"
#include "deferd.h"
#include "json.h"
#include "rconn.h"
#include "store.h"
#include "xmalloc.h"

struct api_call {
	struct deferd		*d;
	const struct api_kind	*kind;
	void			*data;
	api_done_cb		 done;		/* NULL once cancelled */
	void			*arg;
	int			 pending;	/* replies still to come, +1 until started */
	bool			 failed;	/* a command could not be sent */
};

struct api_call *
api_call_new(struct deferd *d, const struct api_kind *kind, void *data,
    api_done_cb done, void *arg)
{
	struct api_call	*c = xcalloc(1, sizeof(*c));

	c->d = d;
	c->kind = kind;
	c->data = data;
	c->done = done;
	c->arg = arg;
	c->pending = 1;
	return (c);
}

struct deferd *
api_call_deferd(const struct api_call *c)
{
	return (c->d);
}

void *
api_call_data(const struct api_call *c)
{
	return (c->data);
}

struct api_slot *
api_slot(struct api_call *c, size_t index, int what)
{
	struct api_slot	*s = xcalloc(1, sizeof(*s));

	s->call = c;
	s->index = index;
	s->what = what;
	return (s);
}

void
api_send(struct api_call *c, void (*cb)(redisReply *, void *),
    struct api_slot *s, int argc, const char **argv)
{
	c->pending++;
	if (rconn_command(c->d->cmd, cb, s, argc, argv, NULL) == -1) {
		c->pending--;
		c->failed = true;
		free(s);
	}
}

void
api_send_script(struct api_call *c, void (*cb)(redisReply *, void *),
    struct api_slot *s, struct store_call *sc)
{
	c->pending++;
	if (store_send(c->d->cmd, sc, cb, s) == -1) {
		c->pending--;
		c->failed = true;
		free(s);
	}
}

/* Every answer is in: hand the JSON to the owner (unless it left), then free. */
static void
api_finish(struct api_call *c)
{
	struct json_out	 o;
	struct evbuffer	*body;

	if (c->done != NULL) {
		if (c->failed || (body = evbuffer_new()) == NULL)
			c->done(c, NULL, c->arg);
		else {
			json_out_init(&o);
			c->kind->write(c, c->data, &o);
			evbuffer_add(body, json_out_str(&o), o.len);
			json_out_free(&o);
			c->done(c, body, c->arg);
			evbuffer_free(body);
		}
	}
	c->kind->free(c->data);
	free(c);
}

void
api_answered(struct api_call *c)
{
	if (--c->pending == 0)
		api_finish(c);
}

struct api_call *
api_call_start(struct api_call *c)
{
	if (--c->pending == 0) {
		api_finish(c);
		return (NULL);
	}
	return (c);
}

void
api_cancel(struct api_call *c)
{
	c->done = NULL;
}
