/* SPDX-License-Identifier: MIT */
/*
 * Handler checks (docs/handlers.md): before a handler runs, its
 * name must be valid, handlers.dir and every directory above it must be
 * changeable only by root or the daemon's user (trust.c), and the name
 * must be a regular file in it (opened with O_PATH|O_NOFOLLOW relative to the
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
#include "trust.h"
#include "util.h"

static int	check_file(const char *, const char *, const char *, char *,
		    size_t, enum handler_fault *);
static bool	executable(const struct stat *);

/* Check that name is a safe handler in dir (see handler.h). */
int
handler_check(const char *dir, const char *name, char *err, size_t errlen,
    enum handler_fault *fault)
{
	enum handler_fault	dummy;
	char			esc[300];

	if (fault == NULL)
		fault = &dummy;
	*fault = HANDLER_FAULT_NAME;
	util_escape(name, strlen(name), esc, sizeof(esc));
	if (!util_valid_handler_name(name, strlen(name))) {
		snprintf(err, errlen, "invalid handler name '%s'", esc);
		return (-1);
	}
	return (check_file(dir, name, esc, err, errlen, fault));
}

/* Whether errno says we ran out of descriptors or memory. */
static bool
out_of_resources(int e)
{
	return (e == EMFILE || e == ENFILE || e == ENOMEM);
}

/*
 * Check dir's path with trust_dir, then open it (O_PATH, not following a
 * symlink at its end). Returns the descriptor, or -1 with the reason in
 * err and the fault (a directory or resources one) in *fault.
 */
static int
open_dir(const char *dir, char *err, size_t errlen, enum handler_fault *fault)
{
	char	why[400];
	bool	transient;
	int	dfd, saved;

	if (trust_dir(dir, why, sizeof(why), &transient) == -1) {
		*fault = transient ? HANDLER_FAULT_RESOURCES : HANDLER_FAULT_DIR;
		snprintf(err, errlen, "handlers directory %s: %s",
		    dir, why);
		return (-1);
	}
	if (trust_system_dir(dir)) {	/* a symlink to /usr/bin, say */
		*fault = HANDLER_FAULT_DIR;
		snprintf(err, errlen, "handlers directory %s is a system "
		    "directory", dir);
		return (-1);
	}
	if ((dfd = open(dir, O_PATH|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC)) == -1) {
		saved = errno;
		*fault = out_of_resources(saved) ? HANDLER_FAULT_RESOURCES :
		    HANDLER_FAULT_DIR;
		snprintf(err, errlen, "handlers directory %s: %s", dir,
		    strerror(saved));
		return (-1);
	}
	return (dfd);
}

int
handler_check_dir(const char *dir, char *err, size_t errlen,
    enum handler_fault *fault)
{
	enum handler_fault	dummy;
	int			dfd;

	if (fault == NULL)
		fault = &dummy;
	*fault = HANDLER_FAULT_NONE;
	if ((dfd = open_dir(dir, err, errlen, fault)) == -1)
		return (-1);
	close(dfd);
	return (0);
}

/*
 * Check the file name (escaped as esc for messages) in dir without
 * following a symlink. Returns 0, or -1 with the reason in err.
 */
static int
check_file(const char *dir, const char *name, const char *esc, char *err,
    size_t errlen, enum handler_fault *fault)
{
	struct stat	st;
	int		dfd, fd, saved;

	if ((dfd = open_dir(dir, err, errlen, fault)) == -1)
		return (-1);
	*fault = HANDLER_FAULT_FILE;
	fd = openat(dfd, name, O_PATH|O_NOFOLLOW|O_CLOEXEC);
	saved = errno;
	close(dfd);
	if (fd == -1) {
		if (saved == ENOENT)
			snprintf(err, errlen, "handler '%s' not found in %s",
			    esc, dir);
		else {
			if (out_of_resources(saved))
				*fault = HANDLER_FAULT_RESOURCES;
			snprintf(err, errlen, "handler '%s' in %s: %s", esc,
			    dir, strerror(saved));
		}
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		*fault = HANDLER_FAULT_RESOURCES;
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
	else {
		*fault = HANDLER_FAULT_NONE;
		return (0);
	}
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
