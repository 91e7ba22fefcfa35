/* SPDX-License-Identifier: MIT */
/*
 * Path trust: whether only root and the daemon's user can change what a
 * directory path names, from "/" down (trust.c). handler.c holds
 * handlers.dir to it before every run; config.c refuses system directories.
 */
#ifndef DEFERD_TRUST_H
#define DEFERD_TRUST_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Check every component of the absolute path dir (see trust.c for the
 * rules). Returns 0, or -1 with the first offending component and why in
 * err; *transient (if not NULL) is then true when we only ran out of
 * memory.
 */
int	trust_dir(const char *dir, char *err, size_t errlen, bool *transient);
/* Whether dir is, or resolves to, a system directory such as /usr/bin. */
bool	trust_system_dir(const char *dir);

#endif
