/*
 * smbio: the only module that talks to libsmbclient.  It opens a context
 * isolated from the host's smb.conf, reads directories and whole files with
 * a size cap, probes TCP reachability, and turns every failure into a crawl
 * outcome with the server's NT status text where libsmbclient reveals it.
 *
 * libsmbclient is not thread-safe and keeps process-global state: use one
 * smbio per process.
 */
#ifndef MAILDAT_SMBIO_H
#define MAILDAT_SMBIO_H

#include <stddef.h>
#include <stdint.h>

#include "crawl.h"

struct smbio;

struct smbio_opts {
	const char	*username;	/* NULL or "": anonymous (guest) */
	const char	*password;
	const char	*domain;	/* NULL: libsmbclient's default */
	const char	*min_protocol;	/* NULL: "NT1" */
	const char	*max_protocol;	/* NULL: "SMB3" */
	int		 timeout_ms;	/* per SMB request; 0: 30000 */
	int		 connect_timeout_ms; /* TCP probe; 0: 5000 */
	const char	*smb_conf;	/* NULL: do not read any smb.conf */
	const char	*statedir;	/* NULL: a private temporary directory;
					   only the first session's counts */
	int		 kerberos;	/* SMBIO_KRB_* */
	const char	*ccache;	/* Kerberos tickets (KRB5CCNAME); NULL:
					   libsmbclient gets them itself with
					   the password */
};

#define SMBIO_KRB_OFF		0	/* NTLM */
#define SMBIO_KRB_DESIRED	1	/* Kerberos, then NTLM on each server
					   where Kerberos fails */
#define SMBIO_KRB_REQUIRED	2	/* Kerberos only */

/* What went wrong, as a crawl outcome and a message for humans. */
struct smbio_status {
	enum outcome outcome;
	char		 message[256];
};

struct smbio_dirent {
	char		*name;
	int		 isdir;
};

/* Create a session with options o.  Returns NULL with a message in err. */
struct smbio	*smbio_open(const struct smbio_opts *o, char *err,
		    size_t errlen);

/* Close the session, dropping its cached connections. */
void		 smbio_close(struct smbio *io);

/*
 * Remove the private directory smbio made for libsmbclient's configuration
 * and caches; call once, when the process is done with SMB.
 */
void		 smbio_cleanup(void);

/* Remove the directory tree at dir (a state directory smbio was given). */
void		 smbio_rmtree(const char *dir);

/*
 * Announce that the next operations go to share ("" for the list of
 * shares) of host:port.  Connections cached for another server or share
 * are dropped first (libsmbclient's cache does not tell servers on one
 * host apart by port); one to the same share is kept.  Call before each
 * crawl.
 */
void		 smbio_server(struct smbio *io, const char *host,
		    uint16_t port, const char *share);

/*
 * Check that host accepts TCP on port (or 445, then 139, when port is 0)
 * within the connect timeout; skipped (0) while the last operation on that
 * server through this session succeeded.  Returns 0, or -1 with st set to
 * unreachable or timeout.
 */
int		 smbio_probe(struct smbio *io, const char *host, uint16_t port,
		    struct smbio_status *st);

/*
 * List the directory at url (without "." and "..").  Returns 0 with a
 * malloc'd array in *v, or -1 with st set.
 */
int		 smbio_listdir(struct smbio *io, const char *url,
		    struct smbio_dirent **v, size_t *n, struct smbio_status *st);

/* Free a listing returned by smbio_listdir(). */
void		 smbio_dirents_free(struct smbio_dirent *v, size_t n);

/*
 * Read the whole file at url, at most cap bytes.  Returns 0 with a
 * malloc'd buffer in *buf, or -1 with st set (a file over the cap is an
 * error; a file that changes size while read is read again once).
 */
int		 smbio_readfile(struct smbio *io, const char *url, size_t cap,
		    uint8_t **buf, size_t *len, struct smbio_status *st);

#endif
