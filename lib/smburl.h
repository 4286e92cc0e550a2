/*
 * smburl: parse and build the smb:// URLs that name crawl locations:
 * smb://host[:port]/share[/path].  Credentials inside a URL are refused
 * (they would end up in argv, logs and the database).
 */
#ifndef MAILDAT_SMBURL_H
#define MAILDAT_SMBURL_H

#include <stddef.h>
#include <stdint.h>

struct smburl {
	char		*host;		/* name, IPv4, or IPv6 without brackets */
	uint16_t	 port;		/* 0: the default (445, then 139) */
	char		*share;		/* NULL or "" when the URL names a host */
	char		*path;		/* "" or "DIR" or "DIR/SUB", '/' separated */
};

/*
 * Parse url into u.  Returns 0, or -1 with a message in err.  Percent
 * escapes are decoded; "." and ".." path components are refused.  When
 * allow_no_share is 0 a share is required.
 */
int	 smburl_parse(const char *url, int allow_no_share, struct smburl *u,
	    char *err, size_t errlen);

/*
 * Build the URL libsmbclient should open for u plus an optional extra
 * relative path (NULL or "" for none), percent-encoding each component.
 */
char	*smburl_format(const struct smburl *u, const char *extra);

/* Free what u owns and zero it. */
void	 smburl_free(struct smburl *u);

#endif
