/*
 * tickets: the daemon's own ticket caches, one for each [credentials]
 * section with a keytab, in its private run directory (owned by the
 * daemon's user, mode 0700).  The parent gets the tickets with the keys
 * read at start, renews them when three quarters of their life is gone,
 * and hands the cache's name to the workers in each job; the keys never
 * leave the parent.  A failed attempt is tried again after
 * TICKETS_RETRY_S, not sooner: a wrong key sent to the KDC over and over
 * would lock the account out.
 */
#ifndef MAILDAT_TICKETS_H
#define MAILDAT_TICKETS_H

struct conf;
struct event_base;

#define TICKETS_RETRY_S		300

/* Keep the ticket caches in dir (the run directory), timers on base. */
void	tickets_init(struct event_base *base, const char *dir);

/*
 * Match the caches to the keytab credentials of c (at start and after
 * each reload): new or changed ones get their tickets now (this waits for
 * the KDC), unchanged ones are kept.
 */
void	tickets_load(const struct conf *c);

/*
 * Return the ticket cache name ("FILE:...") for the credentials called
 * name, or NULL with *err saying why there are no tickets (NULL too when
 * name has no keytab).
 */
const char *tickets_ccache(const char *name, const char **err);

/* Remove the caches and stop the timer. */
void	tickets_free(void);

#endif
