/* SPDX-License-Identifier: MIT */
/* Reading values out of hiredis replies of our scripts. */
#include <stdlib.h>

#include "reply.h"

/* The type of createArray's element count: int in 0.14, size_t in 1.x. */
#if HIREDIS_MAJOR >= 1
typedef size_t	array_len_t;
#else
typedef int	array_len_t;
#endif

static redisReplyObjectFunctions	  capped_fn;
static void				*(*hiredis_array)(const redisReadTask *,
					    array_len_t);

long long
reply_int(const redisReply *r, long long def)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return (r->integer);
	if (r->type == REDIS_REPLY_STRING)
		return (strtoll(r->str, NULL, 10));
	return (def);
}

/* hiredis's own createArray, but NULL (out of memory) past the cap. */
static void *
capped_array(const redisReadTask *task, array_len_t n)
{
	if ((size_t)n > REPLY_MAX_ELEMENTS)
		return (NULL);
	return (hiredis_array(task, n));
}

void
reply_cap_reader(redisReader *reader)
{
	if (hiredis_array == NULL) {
		capped_fn = *reader->fn;
		hiredis_array = capped_fn.createArray;
		capped_fn.createArray = capped_array;
	}
	reader->fn = &capped_fn;
}
