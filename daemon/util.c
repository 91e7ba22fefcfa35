/* SPDX-License-Identifier: MIT */
/* Clocks, randomness, name checks and log escaping shared by both programs. */
#include <sys/random.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"

int64_t
util_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
util_mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

int64_t
util_real_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* The host name falls back to "localhost" when it cannot be read. */
char *
util_host_pid(void)
{
	char	 host[256], *s;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	xasprintf(&s, "%s:%ld", host, (long)getpid());
	return (s);
}

/* getrandom() blocks only before the kernel pool is seeded, at early boot. */
void
util_random_bytes(void *buf, size_t len)
{
	unsigned char	*p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		p += n;
		len -= (size_t)n;
	}
}

int64_t
util_random_below(int64_t n)
{
	uint64_t	r;

	if (n <= 0)
		return (0);
	util_random_bytes(&r, sizeof(r));
	return ((int64_t)(r % (uint64_t)n));
}

void
util_random_hex(char *out, size_t nbytes)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 b[64];

	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	util_random_bytes(b, nbytes);
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 0xf];
	}
	out[2 * nbytes] = '\0';
}

bool
util_valid_job_id(const char *s, size_t len)
{
	if (len == 0 || len > 200)
		return (false);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("_.:@-", c) != NULL) ||
		    c == '\0')
			return (false);
	}
	return (true);
}

bool
util_valid_handler_name(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return (false);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || c == '\0' || strchr("_.-", c) == NULL))
			return (false);
	}
	return (true);
}

bool
util_valid_queue_name(const char *s)
{
	size_t	len = strlen(s);

	return (len <= 100 && util_valid_job_id(s, len));
}

size_t
util_int_text(char *out, int64_t v)
{
	char		 digits[20];
	uint64_t	 u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t		 n = 0, len = 0;

	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		out[len++] = '-';
	while (n > 0)
		out[len++] = digits[--n];
	out[len] = '\0';
	return (len);
}

char *
util_escape(const void *src, size_t len, char *out, size_t outlen)
{
	const unsigned char	*s = src;
	size_t			 o = 0;

	if (outlen == 0)
		return (out);
	for (size_t i = 0; i < len; i++) {
		char	tmp[5];
		size_t	n;

		switch (s[i]) {
		case '\n': memcpy(tmp, "\\n", 3); break;
		case '\r': memcpy(tmp, "\\r", 3); break;
		case '\t': memcpy(tmp, "\\t", 3); break;
		case '\\': memcpy(tmp, "\\\\", 3); break;
		case '"': memcpy(tmp, "\\\"", 3); break;
		default:
			if (s[i] >= 0x20 && s[i] < 0x7f) {
				tmp[0] = (char)s[i];
				tmp[1] = '\0';
			} else
				snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
		}
		n = strlen(tmp);
		if (o + n + 4 > outlen) {
			if (outlen >= 4) {
				o = o < outlen - 4 ? o : outlen - 4;
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o < outlen ? o : outlen - 1] = '\0';
	return (out);
}

void
util_new_job_id(char *out, size_t outlen)
{
	char	rnd[17];

	util_random_hex(rnd, 8);
	snprintf(out, outlen, "%" PRIx64 "-%s", (uint64_t)util_real_ms(), rnd);
}

char *
util_base64(const void *src, size_t len)
{
	static const char	 abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*s = src;
	char			*out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	uint32_t		 v;

	for (size_t i = 0; i < len; i += 3) {
		v = (uint32_t)s[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < len)
			v |= s[i + 2];
		*o++ = abc[(v >> 18) & 63];
		*o++ = abc[(v >> 12) & 63];
		*o++ = i + 1 < len ? abc[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? abc[v & 63] : '=';
	}
	*o = '\0';
	return (out);
}

int
util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

int64_t
util_days_from_civil(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

int
util_days_in_month(int y, int m)
{
	static const int	days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
				    31, 30, 31 };
	bool			leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return (m == 2 && leap ? 29 : days[m - 1]);
}

/* Format ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf; returns buf. */
char *
util_iso_ms(int64_t ms, char *buf, size_t len)
{
	time_t		secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int		frac = (int)(ms - (int64_t)secs * 1000);
	struct tm	tm;

	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "%lld", (long long)ms);
		return (buf);
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
	return (buf);
}

void
util_copy_args(int argc, const char **argv, const size_t *lens, char ***out,
    size_t **outlens)
{
	char	**a = xcalloc((size_t)argc + 1, sizeof(*a));
	size_t	 *l = xcalloc((size_t)argc + 1, sizeof(*l));

	for (int i = 0; i < argc; i++) {
		l[i] = lens != NULL ? lens[i] : strlen(argv[i]);
		a[i] = xmalloc(l[i] + 1);
		memcpy(a[i], argv[i], l[i]);
		a[i][l[i]] = '\0';
	}
	*out = a;
	*outlens = l;
}

void
util_free_args(int argc, char **argv, size_t *lens)
{
	for (int i = 0; argv != NULL && i < argc; i++)
		free(argv[i]);
	free(argv);
	free(lens);
}
