/*
 * recorder: the daemon's database, on a thread of its own, so that the
 * event loop never waits on SQLite: not on a busy or full database, not on
 * a batch of writes, not on the rules.
 *
 * The loop hands it crawl results (recorder_submit) and asks for the rules
 * to run (recorder_run_rules).  The thread writes the results in batches
 * (one transaction each), in the order they came; while the database
 * refuses them (locked by an outside writer, disk full) it holds them, up
 * to RECORDER_HELD_MAX, and tries again every few seconds.  A rule run
 * waits until every result submitted before it is written.  Its alert
 * events come back to the loop, which gets them through the events hook,
 * called from the loop, never from the thread.
 *
 * Everything here is called from the loop's thread; the recorder's own
 * thread touches only what recorder.c keeps private.
 */
#ifndef MAILDAT_RECORDER_H
#define MAILDAT_RECORDER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct results;
struct rules;
struct rules_events;
struct store;
struct store_suspension;

#define RECORDER_HELD_MAX	100000	/* results held while writes fail */

/*
 * Called on the loop with the events of one rule run; ok is 0 when the
 * rules could not run.  seq is the latest recorder_run_rules() ticket the
 * run answers (each run answers every request made before it began).
 */
typedef void	recorder_events_fn(const struct rules_events *ev, int ok,
		    uint64_t seq, void *arg);

/* How the recorder keeps the database's size (from the configuration). */
struct recorder_policy {
	int64_t		 retention_ms;		/* crawl rows; 0: for ever */
	int64_t		 alert_retention_ms;	/* cleared alerts; 0: for ever */
	int64_t		 retire_after_ms;	/* failing locations; 0: never */
};

/* What the recorder tells the loop, called on the loop. */
struct recorder_hooks {
	recorder_events_fn	*events;	/* a rule run is done */
	/*
	 * The database file was deleted or replaced under the store: the
	 * recorder holds every result until recorder_set_store() gives it
	 * one opened anew.
	 */
	void			(*replaced)(void *arg);
	void			*arg;
};

/* What status shows of the recorder. */
struct recorder_stats {
	size_t		 queued;	/* submitted, not yet written */
	size_t		 held;		/* refused by the database, held */
	uint64_t	 written;	/* results written since start */
	uint64_t	 summarised;	/* of those, counted on their location
					   only (never answered) */
	uint64_t	 rule_runs;	/* rule runs finished */
	uint64_t	 rule_runs_skipped; /* asked for, nothing new to see */
	uint64_t	 pruned;	/* rows deleted by retention */
	uint64_t	 retired;	/* locations retired as failing */
	uint64_t	 prune_passes;	/* finished */
	uint64_t	 replaced;	/* times the file was found replaced */
	int64_t		 last_rules_ms;	/* how long the last one took */
};

/*
 * Start the recorder on st (it takes the store; the loop must not use it
 * again) with rules rs (taken too; NULL: none) and policy pol; hooks
 * (copied) are called on base.  Exits on failure to start the thread.
 */
void	recorder_start(struct event_base *base, struct store *st,
	    struct rules *rs, const struct recorder_policy *pol,
	    const struct recorder_hooks *hooks);

/* Keep the database's size by pol from now on. */
void	recorder_set_policy(const struct recorder_policy *pol);

/*
 * Retire the location key (no longer configured, or no longer found) once
 * every result submitted before is written.
 */
void	recorder_retire(const char *key);

/* Record the lockout guard's suspension sp (copied; since now). */
void	recorder_suspend(const struct store_suspension *sp);

/* Forget the suspension of credentials name. */
void	recorder_unsuspend(const char *name);

/* Queue the results of rs for writing; rs is left empty. */
void	recorder_submit(struct results *rs);

/*
 * Run the rules at wall-clock time now_us once every result submitted so
 * far is written; a run already asked for and not begun is not repeated.
 * Unless force, a run is skipped (answered with no events) when nothing
 * was written since the last one and that was less than 15 minutes ago.
 * Returns the request's ticket, 1 for the first and one more each time.
 */
uint64_t recorder_run_rules(int64_t now_us, int force);

/* Use rs (taken; NULL: none) for rule runs from the next one on. */
void	recorder_set_rules(struct rules *rs);

/*
 * Write to st (taken) from now on: what is queued or held is first tried
 * once on the store in use, which is then closed.
 */
void	recorder_set_store(struct store *st);

/* Fill in the counters status shows. */
void	recorder_stats(struct recorder_stats *s);

/* Return the number of results held because the database refused them. */
size_t	recorder_held(void);

/*
 * Stop: write what is queued and held (one last try), stop the thread and
 * close the store.  Returns the number of results that could not be
 * written and are lost.
 */
size_t	recorder_stop(void);

#endif
