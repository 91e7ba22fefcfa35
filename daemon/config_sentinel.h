/* SPDX-License-Identifier: MIT */
/*
 * The redis.sentinel: key of the configuration file (Redis Sentinel finds
 * the master): its type for config.c's schema walk, and freeing what it
 * parsed. The password file and the rule that redis.url then names no host
 * are applied with the rest of redis: in config.c.
 */
#ifndef DEFERD_CONFIG_SENTINEL_H
#define DEFERD_CONFIG_SENTINEL_H

#include "config_schema.h"

struct config;

/* redis.sentinel: {master, nodes, username, password_file}. */
extern const struct cs_type	config_t_sentinel;

/* Free c's redis.sentinel. */
void	config_sentinel_free(struct config *c);

#endif
