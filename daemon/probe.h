/*
 * probe: asynchronous TCP reachability checks in the parent's event loop,
 * so that a dead or silent host never occupies a crawl worker.  A host name
 * is resolved as the system resolves it (getaddrinfo, NSS) in resolver
 * threads that never block the loop; the probe connects to the given port,
 * or to 445 and then 139, trying each of the name's addresses in turn, each
 * attempt bounded by the connect timeout.
 */
#ifndef MAILDAT_PROBE_H
#define MAILDAT_PROBE_H

#include <stdint.h>

struct event_base;

/* Called once per probe: ok is 1 when a port accepted, else msg says why. */
typedef void	probe_cb(void *arg, int ok, const char *msg);

/* Set up probing on base. */
void	probe_init(struct event_base *base);

/*
 * Probe host:port (port 0: 445 then 139) within timeout_ms per attempt and
 * call cb(arg, ...) exactly once, never from inside probe_start.
 */
void	probe_start(const char *host, uint16_t port, int timeout_ms,
	    probe_cb *cb, void *arg);

/* Return the number of probes under way. */
int	probe_inflight(void);

/* Abandon every probe under way without calling their callbacks. */
void	probe_cancel_all(void);

/* Stop watching the resolver threads (at exit, after probe_cancel_all). */
void	probe_close(void);

#endif
