/* SPDX-License-Identifier: MIT */
/*
 * The schedules: key of the configuration file (periodic jobs): its table
 * for config.c's schema walk, and freeing what it parsed.
 */
#ifndef DEFERD_CONFIG_SCHEDULES_H
#define DEFERD_CONFIG_SCHEDULES_H

#include "config_schema.h"

struct config;

/* schedules: a list of schedule mappings (config.c's root table). */
extern const struct cs_type	config_t_schedules;
/* The keys of one schedule (config_unbounded_key checks their bounds). */
extern const struct cs_key	config_schedule_keys[];

/* Free c's schedules. */
void	config_schedules_free(struct config *c);

#endif
