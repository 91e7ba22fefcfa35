/* SPDX-License-Identifier: MIT */
/* Reading values out of hiredis replies of our scripts. */
#include <stdlib.h>

#include "reply.h"

long long
reply_int(const redisReply *r, long long def)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return (r->integer);
	if (r->type == REDIS_REPLY_STRING)
		return (strtoll(r->str, NULL, 10));
	return (def);
}
