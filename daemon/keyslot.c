/* SPDX-License-Identifier: MIT */
/* Redis Cluster key slots, as the cluster specification defines them. */
#include <stdint.h>
#include <string.h>

#include "keyslot.h"

/* CRC16-CCITT, polynomial 0x1021, initial 0, no reflection (XMODEM). */
static uint16_t
crc16(const char *buf, size_t len)
{
	uint16_t	crc = 0;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)((unsigned char)buf[i] << 8);
		for (int bit = 0; bit < 8; bit++)
			crc = (crc & 0x8000) != 0 ? (uint16_t)((crc << 1) ^ 0x1021) :
			    (uint16_t)(crc << 1);
	}
	return (crc);
}

unsigned
keyslot(const char *key, size_t len)
{
	const char	*open = memchr(key, '{', len), *close;

	if (open != NULL) {
		close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
		if (close != NULL && close > open + 1)
			return (crc16(open + 1, (size_t)(close - open - 1)) &
			    (KEYSLOT_COUNT - 1));
	}
	return (crc16(key, len) & (KEYSLOT_COUNT - 1));
}
