/*
 * topo: the MS Mail route graph, to tell whether postoffices are joined.
 *
 * Nodes are postoffice addresses, NETWORK/POSTOFFICE, compared as MS Mail
 * compares names (po_name_upper); an edge is a route that one crawled
 * postoffice holds to another (NETWORK.GLB and XTN: an MS Mail network or
 * an Exchange connection, not a gateway).  Mail, and with it the PC MTA's
 * serial check, goes along routes in both directions, so the graph is
 * taken as undirected: two postoffices are joined when a path links them,
 * one routing to the other, both reaching a common postoffice, or longer.
 */
#ifndef MAILDAT_TOPO_H
#define MAILDAT_TOPO_H

#include <stddef.h>

struct topo;

/* Return a new, empty graph. */
struct topo	*topo_new(void);

/* Add the route from address a to address b (any case; repeats are fine). */
void		 topo_edge(struct topo *t, const char *a, const char *b);

/*
 * Find the shortest path between two different addresses of members[0..n)
 * (addresses repeated in members count once).  Returns 1 with a malloc'd
 * "A > B > C" (names as first given to the graph) in *path, from the one
 * of the two that comes first in members, or 0 with *path NULL when no
 * two of them are joined.
 */
int		 topo_path(struct topo *t, const char *const *members, size_t n,
		    char **path);

/* Return the number of addresses in t. */
size_t		 topo_size(const struct topo *t);

/* Free t; NULL is ignored. */
void		 topo_free(struct topo *t);

#endif
