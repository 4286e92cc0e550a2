/*
 * safefile: files that root opens or makes in directories its
 * unprivileged user may change (the run directory, the database
 * directory).  Root never follows a link there and never changes a file
 * there by name: in such a directory it acts with the user's file-system
 * ids (setfsuid), so it can do nothing there that the user could not.
 */
#ifndef MAILDAT_SAFEFILE_H
#define MAILDAT_SAFEFILE_H

#include <stddef.h>
#include <sys/types.h>

/* The file-system ids in force before safefile_enter(). */
struct safefile_ids {
	uid_t	fsuid;
	gid_t	fsgid;
	int	switched;	/* safefile_enter() changed them */
};

/*
 * Return 1 when a user other than root may change the directory that
 * holds path, or a directory above it (it is not root's, or group or
 * others may write it); 0 when only root may; -1 with err when the
 * directory cannot be examined.
 */
int	safefile_shared_dir(const char *path, char *err, size_t errlen);

/*
 * Before root works on path: when uid is not (uid_t)-1, the process is
 * root and path's directory is shared (safefile_shared_dir), make
 * uid:gid the file-system ids until safefile_leave(saved).  Returns 0,
 * or -1 with err (nothing changed).
 */
int	safefile_enter(const char *path, uid_t uid, gid_t gid,
	    struct safefile_ids *saved, char *err, size_t errlen);

/* Restore the file-system ids that safefile_enter() replaced. */
void	safefile_leave(struct safefile_ids *saved);

/*
 * Open path (O_RDONLY or O_RDWR in flags, with O_CREAT creating it with
 * mode) without following a link at its last component, without blocking
 * on a FIFO and close-on-exec.  Anything but a regular file with a single
 * link, owned by root or by owner (by anyone when owner is (uid_t)-1), is
 * refused.  Returns the descriptor, or
 * -1 with err.
 */
int	safefile_open(const char *path, int flags, mode_t mode, uid_t owner,
	    char *err, size_t errlen);

#endif
