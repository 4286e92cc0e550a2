/*
 * krb: Kerberos for the parent: keytabs read once, as root, into memory,
 * and tickets got from them into a ticket cache that the crawl workers
 * (running as the daemon's user) read.  A keytab is opened like an auth
 * file (no link, a single link, mode 0600 or 0400); its keys then live in
 * a MEMORY: keytab of this process only, so the daemon can renew its
 * tickets after it has dropped root without reading the file again.
 */
#ifndef MAILDAT_KRB_H
#define MAILDAT_KRB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct krb_keytab;

/*
 * Read the keytab at path into memory.  Returns 0 with *out, or -1 with a
 * message in err (no key is ever put in it).
 */
int	krb_keytab_load(const char *path, struct krb_keytab **out, char *err,
	    size_t errlen);

/* Take one more reference to kt (a reload keeps it); returns kt. */
struct krb_keytab *krb_keytab_ref(struct krb_keytab *kt);

/* Drop a reference to kt, destroying the keys with the last; NULL is ignored. */
void	krb_keytab_free(struct krb_keytab *kt);

/* Return the principal of kt's first entry (malloc'd), or NULL with err. */
char	*krb_keytab_principal(struct krb_keytab *kt, char *err, size_t errlen);

/*
 * Get a ticket-granting ticket for principal (NULL: the keytab's first)
 * with kt's keys and store it in the FILE ticket cache at path, replaced
 * atomically.  Returns 0 with the ticket's start and end times, or -1
 * with the Kerberos error text in err.  Blocks for the KDC's answer.
 */
int	krb_get_tickets(struct krb_keytab *kt, const char *principal,
	    const char *path, time_t *start, time_t *end, char *err,
	    size_t errlen);

/*
 * Return the principal of the ticket cache called name ("FILE:/path",
 * "KEYRING:..."; NULL: the default cache) as a malloc'd string, or NULL
 * with err.
 */
char	*krb_ccache_principal(const char *name, char *err, size_t errlen);

#endif
