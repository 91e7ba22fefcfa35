/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's static files (daemon/dashboard/), embedded at build time
 * by tools/embed-assets.sh, like the Lua scripts: the binary serves them
 * itself, offline, with no framework fetched from anywhere.
 */
#ifndef DEFERD_DASHBOARD_ASSETS_H
#define DEFERD_DASHBOARD_ASSETS_H

#include <stddef.h>

struct dashboard_asset {
	const char	*path;		/* "/index.html" */
	const char	*content_type;
	const char	*data;
	size_t		 len;
};

/* Every file, then an entry with path NULL. */
extern const struct dashboard_asset dashboard_assets[];

#endif
