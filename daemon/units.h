/* SPDX-License-Identifier: MIT */
/* The one parser and formatter for durations ("500ms 30s 5m 1h 30d"), sizes ("512KiB 1MiB") and rates ("100/s"). */
#ifndef DEFERD_UNITS_H
#define DEFERD_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a duration: a non-negative integer followed by ms, s, m, h or d
 * ("0" alone is allowed). Stores milliseconds in *ms. Returns 0, or -1 with
 * errno EINVAL (not a duration) or ERANGE (too large).
 */
int	units_parse_duration(const char *, int64_t *ms);
/*
 * Parse a size: a non-negative integer with an optional unit B, KiB, MiB,
 * GiB (powers of 1024) or KB, MB, GB (powers of 1000). Stores bytes in *bytes.
 * Returns 0, or -1 with errno EINVAL or ERANGE.
 */
int	units_parse_size(const char *, uint64_t *bytes);
/*
 * Parse a rate: a positive integer, "/", and s, m, h or d ("100/s",
 * "30/m"; N at most 1e9). Stores N and the period in ms. Returns 0, or
 * -1 with errno EINVAL or ERANGE.
 */
int	units_parse_rate(const char *, int64_t *n, int64_t *period_ms);
/* Write ms as the shortest exact duration ("90s", "1500ms") into buf. */
void	units_format_duration(int64_t ms, char *buf, size_t len);

#endif
