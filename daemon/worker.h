/* worker: the crawl worker process (maildatd --worker). */
#ifndef MAILDAT_WORKER_H
#define MAILDAT_WORKER_H

/*
 * Serve crawl jobs arriving on fd until it reaches end of file, then
 * return the exit status.  Holds no database and no configuration.
 */
int	worker_main(int fd);

#endif
