/*
 * sched: what to crawl and when.  Each location of the configuration's
 * targets (see targets.h) is a unit with its own due time.  A due unit is
 * probed for TCP reachability in the parent, then handed to a worker; its
 * results go to the recorder.  Failing units back off exponentially.  The
 * lockout guard counts refused logons per [credentials] section across
 * all hosts, with the crawls under way counted before more are sent, and
 * suspends a section after lockout_after refusals: the suspension is
 * recorded, survives restarts and reloads, and is lifted when the section
 * changes or by sched_resume().  Units no longer configured, and
 * postoffices no longer found, have their locations retired.  When a round of crawls is over (a round begins when a unit
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
struct store_suspension;

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

/*
 * Restore a suspension of the lockout guard recorded in the database
 * (before the first sched_load(), which lifts it if its section changed).
 */
void	sched_restore_suspension(const struct store_suspension *sp);

/*
 * Lift the suspension of credentials name by hand (maildatctl resume);
 * its locations are due at once.  Returns 0, or -1 if it is not
 * suspended.
 */
int	sched_resume(const char *name);

/*
 * Retire the location loc (an smb:// URL or a UNC name) by hand
 * (maildatctl forget): not one the configuration names.  Returns 0, or -1;
 * a message in msg either way.
 */
int	sched_forget(const char *loc, char *msg, size_t msglen);

/* Stop starting new crawls (work under way goes on). */
void	sched_stop(void);

/* Append status lines ("key: value") to out. */
void	sched_status(struct evbuffer *out);

/* Free all units. */
void	sched_free(void);

#endif
