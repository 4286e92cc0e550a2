/*
 * maildatd: state shared by the parent's modules (scheduler, worker pool,
 * control socket).  The parent is one libevent loop; nothing here is
 * touched from a signal handler.
 */
#ifndef MAILDAT_MAILDATD_H
#define MAILDAT_MAILDATD_H

#include <stdint.h>
#include <time.h>

#include "crawl.h"

struct event_base;
struct evdns_base;
struct conf;
struct rules;
struct sink;
struct store;

struct maildatd {
	struct event_base	*base;
	struct evdns_base	*dns;
	struct conf		*conf;
	const char		*conf_path;
	struct store		*store;
	int			 store_lock;	/* store_lock() of its file */
	struct rules		*rules;		/* checked against the schema */
	struct sink		*sink;		/* where alerts go */
	int			 once;		/* --once: one round, then exit */
	int			 stopping;	/* SIGTERM/SIGINT seen */
	int			 exit_status;
	time_t			 started;	/* wall clock */
	int64_t			 started_ms;	/* monotonic, for the uptime */
	time_t			 loaded;	/* when the config was loaded */
	uint64_t		 outcomes[CRAWL_NOUTCOMES]; /* since start */
};

extern struct maildatd *env;

/* Reload the configuration: parse, then swap.  0, or -1 keeping the old. */
int	maildatd_reload(char *msg, size_t msglen);

/* A crawl round is over: run the rules and send the alerts. */
void	maildatd_round_end(void);

/* Begin an orderly stop (as on SIGTERM). */
void	maildatd_stop(void);

#endif
