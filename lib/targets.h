/*
 * targets: the locations a configuration's targets name, in the order the
 * scheduler takes them: for each target, every hosts entry as
 * smb://HOST/SHARE (an IPv4 range gives its addresses but the network and
 * broadcast address), then every url.  With discover, a hosts entry and a
 * url that names no folder stand for the host's shares (one location for
 * the host).  A location that an earlier one already names (the same key:
 * see location.h) is dropped, within a target and across targets, and a
 * note says so.
 */
#ifndef MAILDAT_TARGETS_H
#define MAILDAT_TARGETS_H

#include <stddef.h>

#include "location.h"

struct conf;
struct conf_errors;

/* One location to crawl, and the target it came from. */
struct target_location {
	const char	*target;	/* the target's name (the conf's string) */
	struct location	 loc;
	char		*key;		/* location_key(&loc) */
};

/*
 * Expand every target of c.  Returns 0 with a malloc'd array in *v, or -1
 * if an entry is invalid (conf_load() has checked them all: a bug).  When
 * notes is not NULL, a dropped repeat appends "FILE:LINE: ..." to it.
 */
int	targets_expand(const struct conf *c, struct target_location **v,
	    size_t *n, struct conf_errors *notes);

/* Free an array returned by targets_expand(). */
void	targets_free(struct target_location *v, size_t n);

#endif
