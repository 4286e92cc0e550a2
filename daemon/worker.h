/* worker: the crawl worker process (maildatd --worker). */
#ifndef MAILDAT_WORKER_H
#define MAILDAT_WORKER_H

/*
 * Serve crawl jobs arriving on fd until it reaches end of file, then
 * return the exit status.  Holds no database and no configuration.
 * libsmbclient keeps its state in statedir/w<pid> (NULL: a directory of
 * its own under /tmp).
 */
int	worker_main(int fd, const char *statedir);

#endif
