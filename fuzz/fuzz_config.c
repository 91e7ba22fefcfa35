/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the configuration loader. The input is a YAML file given to
 * config_load_string, the loader that config_load uses after reading the
 * file, so it covers libyaml, the tree builder (config_yaml.c), the key
 * tables (config_schema.c) and the cross-key checks (config.c).
 * Checks: a refused file has a message that starts with the file name, and
 * an accepted one answers the per-handler lookups. A file that names
 * redis.password_file is only parsed, not loaded, because loading reads
 * that file (it could be /dev/stdin).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_yaml.h"
#include "fuzz.h"

#define FUZZ_CONFIG_NAME	"fuzz.yaml"

/* Whether scalar node n is the key key. */
static bool
is_key(const struct cy_node *n, const char *key)
{
	return (n->type == CY_SCALAR && strcmp(n->value, key) == 0);
}

/* Whether the file sets redis.password_file (under any of its redis: keys). */
static bool
sets_password_file(const struct cy_node *root)
{
	if (root == NULL || root->type != CY_MAP)
		return (false);
	for (size_t i = 0; i + 1 < root->nitems; i += 2) {
		const struct cy_node *redis = root->items[i + 1];

		if (!is_key(root->items[i], "redis") || redis->type != CY_MAP)
			continue;
		for (size_t j = 0; j + 1 < redis->nitems; j += 2)
			if (is_key(redis->items[j], "password_file"))
				return (true);
	}
	return (false);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cy_node		*root;
	struct cy_error		 yerr;
	struct config		*c;
	char			 err[1024], desc[300];
	bool			 skip;

	/* The tree alone: it must agree with itself on success and failure. */
	if (cy_parse((const char *)data, size, &root, &yerr) == -1) {
		FUZZ_ASSERT(root == NULL);
		FUZZ_ASSERT(memchr(yerr.msg, '\0', sizeof(yerr.msg)) != NULL);
	}
	skip = sets_password_file(root);
	cy_free(root);
	if (skip)
		return (0);

	err[0] = '\0';
	c = config_load_string(FUZZ_CONFIG_NAME, (const char *)data, size, err,
	    sizeof(err));
	if (c == NULL) {
		FUZZ_ASSERT(strncmp(err, FUZZ_CONFIG_NAME ":",
		    strlen(FUZZ_CONFIG_NAME ":")) == 0);
		return (0);
	}
	FUZZ_ASSERT(c->nqueues > 0 && c->queues[0] != NULL);
	for (size_t i = 0; i < c->handlers.noverrides; i++) {
		const char *h = c->handlers.overrides[i].name;

		FUZZ_ASSERT(config_override(c, h) != NULL);
		(void)config_handler_timeout_ms(c, h);
		(void)config_handler_max_attempts(c, h);
		(void)config_handler_max_concurrency(c, h);
	}
	(void)config_handler_timeout_ms(c, "no-such-handler");
	redisurl_describe(&c->redis.target, desc, sizeof(desc));
	config_free(c);
	return (0);
}
