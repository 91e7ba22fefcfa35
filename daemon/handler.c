/* SPDX-License-Identifier: MIT */
/*
 * Handler checks (DESIGN §4): before a handler runs, its
 * name must be valid, handlers.dir must not be writable by group or others
 * and must belong to root or the daemon's user, and the name must be a
 * regular file in it (opened with O_PATH|O_NOFOLLOW relative to the
 * directory, so a symlink is refused, not followed) with the same
 * ownership and mode rules that the effective user may execute. This file
 * only looks: it never runs, opens for reading or changes anything, and it
 * does not log; the runner reports what it returns.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "handler.h"
#include "util.h"

static int	check_dir(const char *, char *, size_t, bool *);
static int	check_file(const char *, const char *, const char *, char *,
		    size_t, bool *);
static bool	executable(const struct stat *);

/* Check that name is a safe handler in dir (see handler.h). */
int
handler_check(const char *dir, const char *name, char *err, size_t errlen,
    bool *transient)
{
	char	esc[300];
	bool	dummy;

	if (transient == NULL)
		transient = &dummy;
	*transient = false;
	util_escape(name, strlen(name), esc, sizeof(esc));
	if (!util_valid_handler_name(name, strlen(name))) {
		snprintf(err, errlen, "invalid handler name '%s'", esc);
		return (-1);
	}
	return (check_file(dir, name, esc, err, errlen, transient));
}

/*
 * Open dir (O_PATH) and check its owner and mode. Returns the descriptor,
 * or -1 with the reason in err.
 */
static int
check_dir(const char *dir, char *err, size_t errlen, bool *transient)
{
	struct stat	st;
	int		dfd, saved;

	if ((dfd = open(dir, O_PATH|O_DIRECTORY|O_CLOEXEC)) == -1 ||
	    fstat(dfd, &st) == -1) {
		saved = errno;
		if (saved == EMFILE || saved == ENFILE || saved == ENOMEM)
			*transient = true;
		snprintf(err, errlen, "handlers directory %s: %s", dir,
		    strerror(saved));
		if (dfd != -1)
			close(dfd);
		return (-1);
	}
	if (st.st_mode & (S_IWGRP|S_IWOTH)) {
		snprintf(err, errlen, "handlers directory %s is writable by "
		    "group or others", dir);
		close(dfd);
		return (-1);
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "handlers directory %s is owned by uid "
		    "%lu, not root or the daemon's user", dir,
		    (unsigned long)st.st_uid);
		close(dfd);
		return (-1);
	}
	return (dfd);
}

/*
 * Check the file name (escaped as esc for messages) in dir without
 * following a symlink. Returns 0, or -1 with the reason in err.
 */
static int
check_file(const char *dir, const char *name, const char *esc, char *err,
    size_t errlen, bool *transient)
{
	struct stat	st;
	int		dfd, fd, saved;

	if ((dfd = check_dir(dir, err, errlen, transient)) == -1)
		return (-1);
	fd = openat(dfd, name, O_PATH|O_NOFOLLOW|O_CLOEXEC);
	saved = errno;
	close(dfd);
	if (fd == -1) {
		if (saved == ENOENT)
			snprintf(err, errlen, "handler '%s' not found in %s",
			    esc, dir);
		else {
			if (saved == EMFILE || saved == ENFILE ||
			    saved == ENOMEM)
				*transient = true;
			snprintf(err, errlen, "handler '%s' in %s: %s", esc,
			    dir, strerror(saved));
		}
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		*transient = true;
		snprintf(err, errlen, "handler '%s': fstat: %s", esc,
		    strerror(saved));
		return (-1);
	}
	close(fd);

	if (S_ISLNK(st.st_mode))
		snprintf(err, errlen, "handler '%s' is a symlink", esc);
	else if (!S_ISREG(st.st_mode))
		snprintf(err, errlen, "handler '%s' is not a regular file", esc);
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		snprintf(err, errlen, "handler '%s' is owned by uid %lu, not "
		    "root or the daemon's user", esc, (unsigned long)st.st_uid);
	else if (st.st_mode & (S_IWGRP|S_IWOTH))
		snprintf(err, errlen, "handler '%s' is writable by group or "
		    "others", esc);
	else if (!executable(&st))
		snprintf(err, errlen, "handler '%s' is not executable", esc);
	else
		return (0);
	return (-1);
}

/* Whether the mode bits let the effective user execute a regular file. */
static bool
executable(const struct stat *st)
{
	uid_t	euid = geteuid();

	if (euid == 0)
		return ((st->st_mode & (S_IXUSR|S_IXGRP|S_IXOTH)) != 0);
	if (st->st_uid == euid)
		return ((st->st_mode & S_IXUSR) != 0);
	if (st->st_gid == getegid())
		return ((st->st_mode & S_IXGRP) != 0);
	return ((st->st_mode & S_IXOTH) != 0);
}
