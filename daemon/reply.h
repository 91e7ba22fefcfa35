/* SPDX-License-Identifier: MIT */
/* Reading values out of hiredis replies of our scripts. */
#ifndef DEFERD_REPLY_H
#define DEFERD_REPLY_H

#include <hiredis/hiredis.h>

/* An INTEGER reply, or a STRING holding a number; def for anything else. */
long long	reply_int(const redisReply *r, long long def);

/* The most elements an array reply may announce (far above any of ours). */
#define REPLY_MAX_ELEMENTS	(1 << 20)
/*
 * Make reader refuse arrays announcing more than REPLY_MAX_ELEMENTS: hiredis
 * 0.14 allocates the announced size up front, so one bad header could ask
 * for gigabytes. The reader then fails ("Out of memory") and the connection
 * is dropped and made again instead.
 */
void		reply_cap_reader(redisReader *reader);

#endif
