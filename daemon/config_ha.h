/* SPDX-License-Identifier: MIT */
/*
 * The keys of the configuration file for more than one Redis:
 * redis.sentinel (Redis Sentinel finds the master) and redis.cluster (a
 * Redis Cluster's nodes): their types for config.c's schema walk, and
 * freeing what they parsed. The password files and the rules between them
 * and redis.url are applied with the rest of redis: in config.c.
 */
#ifndef DEFERD_CONFIG_HA_H
#define DEFERD_CONFIG_HA_H

#include "config_schema.h"

struct config;

/* redis.sentinel: {master, nodes, username, password_file}. */
extern const struct cs_type	config_t_sentinel;
/* redis.cluster: {nodes}. */
extern const struct cs_type	config_t_cluster;

/* Free c's redis.sentinel and redis.cluster. */
void	config_ha_free(struct config *c);

#endif
