/* SPDX-License-Identifier: MIT */
/* The helpers the store_*.c files share to build calls and read replies. */
#ifndef DEFERD_STORE_CALL_H
#define DEFERD_STORE_CALL_H

#include "store.h"

/* Start c for script with its nkeys keys. */
void	store_begin(struct store_call *c, enum script_id script, int nkeys,
	    const char *const *keys);
/* Append a string argument (borrowed until the call is sent). */
void	store_arg(struct store_call *c, const char *s);
/* Append len bytes (borrowed until the call is sent; may hold NULs). */
void	store_arg_bin(struct store_call *c, const void *buf, size_t len);
/* Append a copy of s (owned by the call). */
void	store_arg_copy(struct store_call *c, const char *s);
/* Append an integer argument (formatted into the call). */
void	store_arg_int(struct store_call *c, int64_t v);
/* Why r is not the reply expected: Redis's error or "unexpected reply"; -1. */
int	store_bad_reply(const redisReply *r, char *err, size_t errlen);
/* An integer element, or one given as digits. */
bool	store_int(const redisReply *r, int64_t *v);
/* The first n elements of an array reply as integers into v; 0 or -1. */
int	store_ints(const redisReply *r, size_t n, int64_t *v, char *err,
	    size_t errlen);

#endif
