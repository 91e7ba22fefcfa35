/* SPDX-License-Identifier: MIT */
/*
 * The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of
 * its hash tag (the text between the first "{" and the next "}", when not
 * empty), modulo 16384. Every key of a deferd queue carries the tag {Q},
 * so a queue lives in one slot.
 */
#ifndef DEFERD_KEYSLOT_H
#define DEFERD_KEYSLOT_H

#include <stddef.h>

#define KEYSLOT_COUNT	16384

/* The slot (0 to 16383) of the len bytes at key. */
unsigned	keyslot(const char *key, size_t len);

#endif
