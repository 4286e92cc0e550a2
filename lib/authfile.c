/* authfile: smbclient-style credentials files. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "authfile.h"
#include "errbuf.h"
#include "log.h"
#include "safefile.h"
#include "xmalloc.h"

/* Strip leading and trailing blanks (and a trailing CR) in place. */
static char *
authfile_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static void
authfile_wipe(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Replace *slot with a copy of v, wiping the old value. */
static void
authfile_set(char **slot, const char *v)
{
	authfile_wipe(*slot);
	*slot = xstrdup(v);
}

/*
 * username = as smbclient reads it: DOMAIN\user (or DOMAIN/user),
 * user@REALM, and a %password after either.
 */
static void
authfile_user(struct authfile *a, char *v)
{
	char *p;

	if ((p = strchr(v, '%')) != NULL) {
		*p = '\0';
		authfile_set(&a->password, p + 1);
	}
	if ((p = strchr(v, '\\')) != NULL || (p = strchr(v, '/')) != NULL) {
		*p = '\0';
		authfile_set(&a->domain, v);
		v = p + 1;
	} else if ((p = strrchr(v, '@')) != NULL) {
		*p = '\0';
		authfile_set(&a->realm, p + 1);
	}
	authfile_set(&a->username, authfile_trim(v));
}

/* Read path into a. */
int
authfile_read(const char *path, struct authfile *a, char *err, size_t errlen)
{
	struct stat sb;
	char *line = NULL, *key, *val, *eq, *e;
	size_t cap = 0;
	ssize_t n;
	int fd, lineno = 0, rc = -1;
	FILE *f;

	memset(a, 0, sizeof(*a));
	/*
	 * Never through a link, and never a file linked in from elsewhere:
	 * root reads this before it drops privileges, possibly in a
	 * directory the daemon's user may change.  (safefile_open() also
	 * refuses a FIFO without waiting for a writer.)
	 */
	if ((fd = safefile_open(path, O_RDONLY, 0, (uid_t)-1, err,
	    errlen)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1) {
		errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((sb.st_mode & 07777 & ~0600) != 0) {
		errbuf_set(err, errlen, "%s: mode %04o is too open; it "
		    "must be 0600 or 0400 (chmod 600 %s)", path,
		    (unsigned)(sb.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/*
	 * As smbclient -A reads it: keys in any case, the value after '='
	 * and the blanks after it, to the end of the line (a password keeps
	 * its trailing blanks), lines without '=' and unknown keys ignored.
	 * A line's text is never echoed: it may hold a password.
	 */
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		e = line + strlen(line);
		while (e > line && (e[-1] == '\n' || e[-1] == '\r'))
			*--e = '\0';
		for (key = line; *key == ' ' || *key == '\t'; key++)
			;
		if (*key == '\0' || *key == '#' || *key == ';')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			log_warnx("%s:%d: no '=' in the line; ignored", path,
			    lineno);
			continue;
		}
		*eq = '\0';
		key = authfile_trim(line);
		for (val = eq + 1; *val == ' ' || *val == '\t'; val++)
			;
		if (strcasecmp(key, "username") == 0)
			authfile_user(a, val);
		else if (strcasecmp(key, "password") == 0)
			authfile_set(&a->password, val);
		else if (strcasecmp(key, "domain") == 0)
			authfile_set(&a->domain, authfile_trim(val));
		else if (strcasecmp(key, "realm") == 0)
			authfile_set(&a->realm, authfile_trim(val));
		else
			log_warnx("%s:%d: unknown key ignored (smbclient reads "
			    "username, password, domain and realm)", path,
			    lineno);
	}
	if (ferror(f)) {
		errbuf_set(err, errlen, "%s: read error", path);
		goto out;
	}
	if (a->username == NULL || a->username[0] == '\0') {
		errbuf_set(err, errlen, "%s: no username", path);
		goto out;
	}
	if (a->password == NULL)
		a->password = xstrdup("");
	rc = 0;
out:
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(f);
	if (rc == -1)
		authfile_clear(a);
	return rc;
}

/* Wipe and free what a holds. */
void
authfile_clear(struct authfile *a)
{
	authfile_wipe(a->username);
	authfile_wipe(a->password);
	authfile_wipe(a->domain);
	authfile_wipe(a->realm);
	memset(a, 0, sizeof(*a));
}
