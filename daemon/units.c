/* SPDX-License-Identifier: MIT */
/* Durations, sizes and rates as the config file and deferctl write them. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

struct unit {
	const char	*suffix;
	uint64_t	 factor;
};

static const struct unit duration_units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	{ "d", 86400000 }, { NULL, 0 }
};

static const struct unit size_units[] = {
	{ "", 1 }, { "B", 1 },
	{ "KiB", 1024ULL }, { "MiB", 1024ULL * 1024 }, { "GiB", 1024ULL * 1024 * 1024 },
	{ "KB", 1000ULL }, { "MB", 1000ULL * 1000 }, { "GB", 1000ULL * 1000 * 1000 },
	{ NULL, 0 }
};

/*
 * Split s into a decimal number and a suffix found in units; multiply.
 * Returns 0, or -1 with errno set (EINVAL, ERANGE).
 */
static int
units_parse(const char *s, const struct unit *units, uint64_t *out)
{
	uint64_t	 n = 0;
	const char	*p = s;

	if (!isdigit((unsigned char)*p)) {
		errno = EINVAL;
		return (-1);
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (UINT64_MAX - 9) / 10) {
			errno = ERANGE;
			return (-1);
		}
		n = n * 10 + (uint64_t)(*p - '0');
	}
	for (const struct unit *u = units; u->suffix != NULL; u++) {
		if (strcmp(p, u->suffix) != 0)
			continue;
		if (n > INT64_MAX / u->factor) {
			errno = ERANGE;
			return (-1);
		}
		*out = n * u->factor;
		return (0);
	}
	errno = EINVAL;
	return (-1);
}

int
units_parse_duration(const char *s, int64_t *ms)
{
	uint64_t	v;

	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return (0);
	}
	if (units_parse(s, duration_units, &v) == -1)
		return (-1);
	*ms = (int64_t)v;
	return (0);
}

int
units_parse_size(const char *s, uint64_t *bytes)
{
	return (units_parse(s, size_units, bytes));
}

int
units_parse_rate(const char *s, int64_t *n, int64_t *period_ms)
{
	static const struct unit	 count_unit[] = { { "", 1 }, { NULL, 0 } };
	static const struct unit	 periods[] = {
		{ "/s", 1000 }, { "/m", 60000 }, { "/h", 3600000 },
		{ "/d", 86400000 }, { NULL, 0 }
	};
	const char			*slash = strchr(s, '/');
	uint64_t			 count;
	char				 num[24];

	if (slash == NULL || (size_t)(slash - s) >= sizeof(num)) {
		errno = slash == NULL ? EINVAL : ERANGE;
		return (-1);
	}
	memcpy(num, s, (size_t)(slash - s));
	num[slash - s] = '\0';
	if (units_parse(num, count_unit, &count) == -1)
		return (-1);
	if (count == 0 || count > 1000000000) {
		errno = count == 0 ? EINVAL : ERANGE;
		return (-1);
	}
	for (const struct unit *u = periods; u->suffix != NULL; u++)
		if (strcmp(slash, u->suffix) == 0) {
			*n = (int64_t)count;
			*period_ms = (int64_t)u->factor;
			return (0);
		}
	errno = EINVAL;
	return (-1);
}

void
units_format_duration(int64_t ms, char *buf, size_t len)
{
	const struct unit	*best = &duration_units[0];

	for (const struct unit *u = duration_units; u->suffix != NULL; u++)
		if (ms != 0 && ms % (int64_t)u->factor == 0)
			best = u;
	snprintf(buf, len, "%" PRId64 "%s", ms / (int64_t)best->factor,
	    best->suffix);
}
