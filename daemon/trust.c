/* SPDX-License-Identifier: MIT */
/*
 * Path trust (like OpenSSH's StrictModes and sudo's secure_path): whether
 * a directory can be changed only by root and the daemon's user, all the
 * way from "/". Every component must be a directory owned by root or the
 * effective user and not writable by group or others; a root-owned sticky
 * directory (such as /tmp) may be writable by all, but only as a parent:
 * no one can rename or replace an entry of it that they do not own, and
 * the entry itself must pass the same rules. A symbolic link on the way is
 * trusted only if root or the daemon's user owns it, and its target is
 * checked the same way. This file only looks (lstat) and never logs.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trust.h"

#define TRUST_MAX_LINKS	8	/* symbolic links followed on one path */

static int	trust_walk(const char *, int, char *, size_t, bool *);

/* Whether uid is root or the daemon's effective user. */
static bool
trusted_owner(uid_t uid)
{
	return (uid == 0 || uid == geteuid());
}

/* The rules for one directory component; last: it is the checked dir itself. */
static int
trust_component(const char *path, const struct stat *st, bool last, char *err,
    size_t errlen)
{
	if (!S_ISDIR(st->st_mode))
		snprintf(err, errlen, "%s is not a directory", path);
	else if (!trusted_owner(st->st_uid))
		snprintf(err, errlen, "%s is owned by uid %lu, not root or the "
		    "daemon's user", path, (unsigned long)st->st_uid);
	else if ((st->st_mode & (S_IWGRP|S_IWOTH)) == 0)
		return (0);
	else if (last)
		snprintf(err, errlen, "%s is writable by group or others", path);
	else if ((st->st_mode & S_ISVTX) == 0 || st->st_uid != 0)
		snprintf(err, errlen, "%s is writable by group or others (only a "
		    "root-owned sticky directory such as /tmp may be)", path);
	else
		return (0);
	return (-1);
}

/*
 * A symbolic link at path (its parent already trusted): trusted if its
 * owner is, and then its target, resolved, is walked in turn.
 */
static int
trust_link(const char *path, const struct stat *st, int links, char *err,
    size_t errlen, bool *transient)
{
	char	*target;
	int	 rc;

	if (!trusted_owner(st->st_uid)) {
		snprintf(err, errlen, "%s is a symbolic link owned by uid %lu, "
		    "not root or the daemon's user", path,
		    (unsigned long)st->st_uid);
		return (-1);
	}
	if (links >= TRUST_MAX_LINKS) {
		snprintf(err, errlen, "%s: too many symbolic links", path);
		return (-1);
	}
	if ((target = realpath(path, NULL)) == NULL) {
		*transient = errno == ENOMEM;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	rc = trust_walk(target, links + 1, err, errlen, transient);
	free(target);
	return (rc);
}

/* Check each prefix of the absolute path, from "/" to path itself. */
static int
trust_walk(const char *path, int links, char *err, size_t errlen,
    bool *transient)
{
	char		 prefix[PATH_MAX];
	size_t		 len = strlen(path), end = 1;
	struct stat	 st;

	while (len > 1 && path[len - 1] == '/')
		len--;			/* "/a/b/" is "/a/b" */
	if (path[0] != '/' || len >= sizeof(prefix)) {
		snprintf(err, errlen, "%s: not an absolute path", path);
		return (-1);
	}
	for (;;) {
		memcpy(prefix, path, end);
		prefix[end] = '\0';
		if (lstat(prefix, &st) == -1) {
			*transient = errno == ENOMEM;
			snprintf(err, errlen, "%s: %s", prefix, strerror(errno));
			return (-1);
		}
		if (S_ISLNK(st.st_mode)) {
			if (trust_link(prefix, &st, links, err, errlen,
			    transient) == -1)
				return (-1);
		} else if (trust_component(prefix, &st, end >= len, err,
		    errlen) == -1)
			return (-1);
		while (end < len && path[end] == '/')
			end++;
		if (end >= len)
			return (0);
		while (end < len && path[end] != '/')
			end++;
	}
}

int
trust_dir(const char *path, char *err, size_t errlen, bool *transient)
{
	bool	dummy;

	if (transient == NULL)
		transient = &dummy;
	*transient = false;
	return (trust_walk(path, 0, err, errlen, transient));
}

bool
trust_system_dir(const char *path)
{
	static const char *const system_dirs[] = {
		"/", "/bin", "/sbin", "/lib", "/lib64", "/usr", "/usr/bin",
		"/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec",
		"/usr/local", "/usr/local/bin", "/usr/local/sbin",
		"/usr/local/lib", "/usr/games", "/etc", NULL
	};
	char	*real = realpath(path, NULL);
	bool	 found = false;

	for (size_t i = 0; system_dirs[i] != NULL && !found; i++)
		found = strcmp(path, system_dirs[i]) == 0 ||
		    (real != NULL && strcmp(real, system_dirs[i]) == 0);
	free(real);
	return (found);
}
