/*
 * sched: what to crawl and when.  Each configured URL (or, for a target
 * with discover = yes, each host) is a unit with its own due time.  A due
 * unit is probed for TCP reachability in the parent, then handed to a
 * worker; its results are written to the store in one transaction.  Failing
 * units back off exponentially; a credential refused too often by one host
 * is suspended there until the next reload.
 */
#ifndef MAILDAT_SCHED_H
#define MAILDAT_SCHED_H

#include <stddef.h>

struct conf;
struct evbuffer;

/* (Re)build the units from c, keeping the schedule of units that remain. */
void	sched_load(const struct conf *c);

/* Start the scheduling timer; with once, crawl every unit now, one round. */
void	sched_start(int once);

/* Make the units of target (NULL: all) due now; returns how many. */
int	sched_crawl_now(const char *target);

/* Stop starting new crawls (work under way goes on). */
void	sched_stop(void);

/* Return 1 when no probe, queued job or crawl is under way. */
int	sched_idle(void);

/* Append status lines ("key: value") to out. */
void	sched_status(struct evbuffer *out);

/* Write results that an earlier store failure held back; 0 when none left. */
int	sched_flush_pending(void);

/* Return the number of results held back because the store refused them. */
size_t	sched_held(void);

/* Return the number of crawls of the current or last round that failed. */
int	sched_round_failed(void);

/* Free all units and held-back results. */
void	sched_free(void);

#endif
