/* SPDX-License-Identifier: MIT */
/*
 * JSON string escaping (json.h). Every entry point walks the input one
 * "piece" at a time (an ASCII byte, an escape, a whole UTF-8 sequence or a
 * replacement character), so truncation can never split a piece; a run of
 * bytes that stand for themselves goes in one copy. It uses
 * nothing of the project but json.h: the logger writes JSON lines with it,
 * so it sits below the logger and the allocator.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

#define JSON_PIECE_MAX	8	/* longest piece: "\u001f" is 6 bytes */

static const char	json_replacement[] = "\xef\xbf\xbd";	/* U+FFFD */

static size_t	json_plain_run(const unsigned char *, size_t);
static size_t	json_utf8_scan(const unsigned char *, size_t, bool *);
static size_t	json_piece(const unsigned char *, size_t, size_t *, char *);

/*
 * How many bytes from s on stand for themselves in a JSON string (printable
 * ASCII but the quote and the backslash): each is a piece of its own, so a
 * run of them is copied at once (a payload is mostly such a run).
 */
static size_t
json_plain_run(const unsigned char *s, size_t len)
{
	size_t	i = 0;

	while (i < len && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' &&
	    s[i] != '\\')
		i++;
	return (i);
}

/*
 * Scan the UTF-8 sequence starting with s[0] >= 0x80 (len > 0). Returns the
 * length of its longest acceptable prefix, at least 1, and sets *complete
 * when that prefix is a whole well-formed sequence. Otherwise the prefix is
 * the "maximal subpart" that one U+FFFD replaces.
 */
static size_t
json_utf8_scan(const unsigned char *s, size_t len, bool *complete)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		need, i;

	*complete = false;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return (1);
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len < 2 || s[1] < lo || s[1] > hi)
		return (1);
	for (i = 2; i < need && i < len && s[i] >= 0x80 && s[i] <= 0xbf; i++)
		;
	*complete = i == need;
	return (i);
}

/*
 * Produce the next piece of output for s (len > 0) into piece (at least
 * JSON_PIECE_MAX bytes, not NUL-terminated). Stores how many input bytes it
 * used in *used and returns the piece's length.
 */
static size_t
json_piece(const unsigned char *s, size_t len, size_t *used, char *piece)
{
	bool	complete;

	*used = 1;
	if (s[0] == '"' || s[0] == '\\') {
		piece[0] = '\\';
		piece[1] = (char)s[0];
		return (2);
	}
	if (s[0] < 0x20 || s[0] == 0x7f) {
		snprintf(piece, JSON_PIECE_MAX, "\\u%04x", s[0]);
		return (6);
	}
	if (s[0] < 0x80) {
		piece[0] = (char)s[0];
		return (1);
	}
	*used = json_utf8_scan(s, len, &complete);
	if (complete) {
		memcpy(piece, s, *used);
		return (*used);
	}
	memcpy(piece, json_replacement, 3);
	return (3);
}

/* Write src to f as a quoted JSON string literal. */
void
json_write_string(FILE *f, const void *src, size_t len)
{
	const unsigned char	*s = src;
	char			 piece[JSON_PIECE_MAX];
	size_t			 used, n;

	fputc('"', f);
	while (len > 0) {
		if ((n = json_plain_run(s, len)) > 0) {
			fwrite(s, 1, n, f);
			used = n;
		} else {
			n = json_piece(s, len, &used, piece);
			fwrite(piece, 1, n, f);
		}
		s += used;
		len -= used;
	}
	fputc('"', f);
}

/* Escape src into out without quotes, snprintf-style; see json.h. */
size_t
json_escape(char *out, size_t outlen, const void *src, size_t len)
{
	const unsigned char	*s = src;
	char			 piece[JSON_PIECE_MAX];
	size_t			 used, n, total = 0;
	bool			 full = false;

	while (len > 0) {
		if ((n = json_plain_run(s, len)) > 0) {
			/* Byte by byte, as pieces: as many as fit before the NUL. */
			size_t	fit = outlen > total ? outlen - total - 1 : 0;

			if (!full && n <= fit)
				memcpy(out + total, s, n);
			else if (!full) {
				if (fit > 0)
					memcpy(out + total, s, fit);
				full = true;
				if (outlen > 0)
					out[total + fit] = '\0';
			}
			total += n;
			s += n;
			len -= n;
			continue;
		}
		n = json_piece(s, len, &used, piece);
		if (!full && total + n < outlen)
			memcpy(out + total, piece, n);
		else if (!full) {
			full = true;
			if (outlen > 0)
				out[total] = '\0';
		}
		total += n;
		s += used;
		len -= used;
	}
	if (!full && outlen > 0)
		out[total] = '\0';
	return (total);
}

/* Whether src is well-formed UTF-8 throughout. */
bool
json_valid_utf8(const void *src, size_t len)
{
	const unsigned char	*s = src;
	size_t			 n;
	bool			 complete;

	while (len > 0) {
		if (s[0] < 0x80)
			n = 1;
		else {
			n = json_utf8_scan(s, len, &complete);
			if (!complete)
				return (false);
		}
		s += n;
		len -= n;
	}
	return (true);
}
