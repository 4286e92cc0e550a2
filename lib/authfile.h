/*
 * authfile: read credentials from an smbclient -A style file
 * (username = , password = , domain = , realm = ) as smbclient reads it:
 * keys in any case, DOMAIN\\user and user@REALM split, unknown keys and
 * lines without '=' ignored with a warning that never shows a value.  The file must be a regular file
 * of mode 0600 or 0400 (no group or other bits) with a single link, not
 * reached through a symbolic link, or it is refused.
 */
#ifndef MAILDAT_AUTHFILE_H
#define MAILDAT_AUTHFILE_H

#include <stddef.h>

struct authfile {
	char	*username;
	char	*password;
	char	*domain;		/* NULL when the file names none */
	char	*realm;			/* realm = or user@REALM; NULL: none */
};

/*
 * Read path into a.  Returns 0, or -1 with a message (file:line where a
 * line is at fault) in err.  The password is never put in err.
 */
int	authfile_read(const char *path, struct authfile *a, char *err,
	    size_t errlen);

/* Wipe and free what a holds. */
void	authfile_clear(struct authfile *a);

#endif
