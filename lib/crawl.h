/*
 * crawl: visit one location, find the postoffice(s) in it, read and parse
 * their files, and describe each as a result.  A crawl never aborts on bad
 * data: every failure becomes an outcome with a message.
 */
#ifndef MAILDAT_CRAWL_H
#define MAILDAT_CRAWL_H

#include <stddef.h>

#include "result.h"

struct smbio;

/* crawl_run() flags. */
#define CRAWL_PROBE	0x01	/* check TCP reachability first (maildatctl
				   scan; the daemon's parent probes before
				   it hands out a job) */

/*
 * Crawl loc over an open smbio session and append to out one result per
 * postoffice found: at the location's folder or one folder below it.
 * When none is found, one result says why.
 *
 * A location with discover set names a host: its shares are listed and
 * each that holds a postoffice is crawled the same way; shares without one
 * add nothing, and when no share holds one, or the shares cannot be
 * listed, one result for \\host says so.
 *
 * Returns the number of results appended.
 */
size_t	crawl_run(struct smbio *io, const struct location *loc, int flags,
	    struct results *out);

#endif
