/* safefile: root's files in directories its unprivileged user may change. */
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"
#include "safefile.h"

/*
 * Return 1 when a user other than root may change the directory that holds
 * path, or a directory above it; 0 when only root may; -1 with err.
 */
int
safefile_shared_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX], real[PATH_MAX], *slash;
	struct stat sb;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		errbuf_set(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (realpath(dir, real) == NULL) {
		errbuf_set(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	/* From the directory up to "/": each must be root's alone. */
	for (;;) {
		if (stat(real, &sb) == -1) {
			errbuf_set(err, errlen, "%s: %s", real,
			    strerror(errno));
			return -1;
		}
		if (sb.st_uid != 0 || (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
			return 1;
		if (strcmp(real, "/") == 0)
			return 0;
		slash = strrchr(real, '/');
		if (slash == real)
			real[1] = '\0';
		else
			*slash = '\0';
	}
}

/*
 * Before root works on path in a shared directory, make uid:gid the
 * file-system ids until safefile_leave(saved).
 */
int
safefile_enter(const char *path, uid_t uid, gid_t gid,
    struct safefile_ids *saved, char *err, size_t errlen)
{
	int shared;

	memset(saved, 0, sizeof(*saved));
	if (uid == (uid_t)-1 || geteuid() != 0)
		return 0;
	if ((shared = safefile_shared_dir(path, err, errlen)) == -1)
		return -1;
	if (!shared)
		return 0;
	/* setfsuid() answers with the old id, also when it fails. */
	saved->fsgid = (gid_t)setfsgid(gid);
	saved->fsuid = (uid_t)setfsuid(uid);
	saved->switched = 1;
	if ((gid_t)setfsgid((gid_t)-1) != gid ||
	    (uid_t)setfsuid((uid_t)-1) != uid) {
		safefile_leave(saved);
		errbuf_set(err, errlen, "%s: cannot take the file-system ids "
		    "%ld:%ld", path, (long)uid, (long)gid);
		return -1;
	}
	return 0;
}

/* Restore the file-system ids that safefile_enter() replaced. */
void
safefile_leave(struct safefile_ids *saved)
{
	if (!saved->switched)
		return;
	setfsuid(saved->fsuid);
	setfsgid(saved->fsgid);
	saved->switched = 0;
}

/*
 * Open path without following a link, never blocking on a FIFO; refuse
 * anything but a regular file with one link owned by root or owner (any
 * owner when owner is (uid_t)-1).
 */
int
safefile_open(const char *path, int flags, mode_t mode, uid_t owner,
    char *err, size_t errlen)
{
	struct stat sb;
	int fd;

	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
	    O_NOCTTY, mode);
	if (fd == -1) {
		if (errno == ELOOP)
			errbuf_set(err, errlen, "%s is a symbolic link; "
			    "refusing to follow it", path);
		else
			errbuf_set(err, errlen, "%s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode))
		errbuf_set(err, errlen, "%s is not a regular file", path);
	else if (sb.st_nlink != 1)
		errbuf_set(err, errlen, "%s has %ju hard links; refusing a "
		    "file that is also elsewhere", path,
		    (uintmax_t)sb.st_nlink);
	else if (owner != (uid_t)-1 && sb.st_uid != 0 && sb.st_uid != owner)
		errbuf_set(err, errlen, "%s is owned by uid %ld, not by root "
		    "or uid %ld", path, (long)sb.st_uid, (long)owner);
	else {
		/* Blocking from here on, as callers expect. */
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1)
			log_debug("%s: fcntl: %s", path, strerror(errno));
		return fd;
	}
	close(fd);
	return -1;
}
