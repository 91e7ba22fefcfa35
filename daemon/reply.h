/* SPDX-License-Identifier: MIT */
/* Reading values out of hiredis replies of our scripts. */
#ifndef DEFERD_REPLY_H
#define DEFERD_REPLY_H

#include <hiredis/hiredis.h>

/* An INTEGER reply, or a STRING holding a number; def for anything else. */
long long	reply_int(const redisReply *r, long long def);

#endif
