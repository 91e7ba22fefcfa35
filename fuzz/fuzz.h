/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fuzz targets (fuzz/fuzz_NAME.c): the libFuzzer entry point,
 * which fuzz/replay.c also calls when the targets are built without
 * libFuzzer, and small helpers for cutting one input into several.
 * Nothing here is part of deferd or deferctl.
 */
#ifndef DEFERD_FUZZ_H
#define DEFERD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Run one input; returns 0 (a failed check aborts, so the fuzzer sees it). */
int	 LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated heap copy of size bytes of data (caller frees). */
char	*fuzz_strndup(const void *data, size_t size);
/* An exactly sized heap copy, so that ASan catches reads past the end (caller frees). */
void	*fuzz_memdup(const void *data, size_t size);
/*
 * Split data at the first byte sep: *head (headlen bytes) before it, *tail
 * (taillen) after it. Without sep, both are the whole input. Returns
 * whether sep was found.
 */
int	 fuzz_split(const uint8_t *data, size_t size, uint8_t sep,
	    const uint8_t **head, size_t *headlen, const uint8_t **tail,
	    size_t *taillen);
/* Abort with a message when a property the target checks does not hold. */
#define FUZZ_ASSERT(cond) \
	do { if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond); } while (0)
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

#endif
