/*
 * location: where postoffices may be, \\host[@port]\share[\path]: the one
 * type that configuration yields, the scheduler keeps, a job carries, the
 * crawler visits and the store records.  A location is parsed once, from
 * an smb:// URL (or made from a hosts entry); every other form is derived
 * here: the smb:// URL libsmbclient opens, the UNC form users see, and the
 * key that tells two locations apart the way SMB does.
 *
 * The key ignores what SMB ignores: the case of the host name and of share
 * and folder names (ASCII and the Latin-1 letters of code page 850), an
 * explicit default port (445), a trailing '/', and how an IPv6 address is
 * written.  Two locations with one key are one location.
 *
 * An IPv6 address is kept as written (without brackets) and shown the way
 * Windows writes it in a UNC name: 2001-db8--1.ipv6-literal.net; that is
 * also the form libsmbclient 4.17 takes (it refuses [2001:db8::1]).
 */
#ifndef MAILDAT_LOCATION_H
#define MAILDAT_LOCATION_H

#include <stddef.h>
#include <stdint.h>

struct location {
	char		*host;		/* name, IPv4, or IPv6 without brackets */
	uint16_t	 port;		/* 0: the default (445, then 139) */
	char		*share;		/* "" when it names a host only */
	char		*path;		/* "" or "DIR" or "DIR/SUB", '/' separated */
	int		 discover;	/* list the host's shares (share "") */
};

/* location_parse() flags. */
#define LOCATION_NO_SHARE	0x01	/* a URL may name a host only */

/*
 * Parse url, "smb://host[:port]/share[/path]", into l.  Percent escapes are
 * decoded; credentials, queries, "." and ".." and control characters are
 * refused; port 445 is stored as 0 (the default).  A share is required
 * unless flags hold LOCATION_NO_SHARE.  Returns 0, or -1 with a message in
 * err (l then owns nothing).
 */
int	 location_parse(const char *url, int flags, struct location *l,
	    char *err, size_t errlen);

/*
 * Parse s as a user writes a location: an smb:// URL (as location_parse()
 * with flags 0) or a UNC name, \\host[@port]\share[\path].  Returns 0,
 * or -1 with err.
 */
int	 location_parse_user(const char *s, struct location *l, char *err,
	    size_t errlen);

/* Fill l with copies of host, share and path ("" for NULL) and port. */
void	 location_set(struct location *l, const char *host, uint16_t port,
	    const char *share, const char *path);

/* Make dst a copy of src. */
void	 location_copy(struct location *dst, const struct location *src);

/* Free what l owns and zero it. */
void	 location_free(struct location *l);

/*
 * Return the malloc'd smb:// URL libsmbclient opens for l plus an optional
 * extra relative path (NULL or "" for none), each component
 * percent-encoded; an IPv6 host in its ipv6-literal.net form.
 */
char	*location_url(const struct location *l, const char *extra);

/*
 * Return the malloc'd URL of l as a user would write it in the
 * configuration: IPv6 in brackets, the port when it is not the default.
 */
char	*location_config_url(const struct location *l);

/*
 * Return the malloc'd UNC form users see: \\host\share\DIR\SUB, with
 * "@port" after the host when the port is not the default, and \\host
 * for a location that names a host only.
 */
char	*location_unc(const struct location *l);

/* Return the malloc'd key of l (see above): equal keys, one location. */
char	*location_key(const struct location *l);

/* Return 1 if a and b are one location (their keys are equal), else 0. */
int	 location_same(const struct location *a, const struct location *b);

/*
 * Return the host as libsmbclient and Windows name it, in buf: an IPv6
 * address as "2001-db8--1.ipv6-literal.net", anything else as it is.
 */
const char *location_host_name(const char *host, char *buf, size_t buflen);

#endif
