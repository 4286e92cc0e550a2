/*
 * sched: what to crawl and when.  Each location of the configuration's
 * targets (see targets.h) is a unit with its own due time.  A due unit is
 * probed for TCP reachability in the parent, then handed to a worker; its
 * results go to the recorder.  Failing units back off exponentially; a
 * credential refused too often by one host is suspended there until the
 * next reload.  When a round of crawls is over (a round begins when a unit
 * falls due while none is being crawled, and ends when none is), the
 * round_done hook says so.
 */
#ifndef MAILDAT_SCHED_H
#define MAILDAT_SCHED_H

#include <stddef.h>
#include <time.h>

struct conf;
struct event_base;
struct evbuffer;

/* One round of crawls, as the round_done hook sees it. */
struct sched_round {
	time_t	started, finished;	/* wall clock */
	int	crawls, failed;		/* results, and those not ok */
	int	all_crawled;		/* every unit crawled since start */
};

struct sched_hooks {
	/* A round is over; called from the loop. */
	void	(*round_done)(const struct sched_round *r, void *arg);
	void	*arg;
};

/* Set up on base; hooks (copied) report to the caller. */
void	sched_init(struct event_base *base, const struct sched_hooks *hooks);

/*
 * (Re)build the units from c, keeping the schedule of units that remain.
 * c must stay valid until the next sched_load() or sched_free().
 */
void	sched_load(const struct conf *c);

/* Start the scheduling timer: every unit is due at once. */
void	sched_start(void);

/* Make the units of target (NULL: all) due now; returns how many. */
int	sched_crawl_now(const char *target);

/* Stop starting new crawls (work under way goes on). */
void	sched_stop(void);

/* Append status lines ("key: value") to out. */
void	sched_status(struct evbuffer *out);

/* Free all units. */
void	sched_free(void);

#endif
