/* recorder: results and rules on a thread that owns the database. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "recorder.h"
#include "result.h"
#include "rules.h"
#include "store.h"
#include "xmalloc.h"

#define RECORDER_BATCH_MAX	1000	/* results written in one transaction */
#define RECORDER_BATCH_MS	100	/* how long results wait for company */
#define RECORDER_RETRY_MS	5000	/* between tries while writes fail */

/* The events of one rule run, on their way to the loop. */
struct recorder_run {
	struct recorder_run	*next;
	struct rules_events	 ev;
	int			 ok;
	uint64_t		 seq;		/* the last request it answers */
};

/*
 * Shared between the loop and the thread, under rec_mu.  Everything below
 * the thread's own section is touched by the thread alone.
 */
static pthread_mutex_t	 rec_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 rec_cv;
static struct results	 rec_in;		/* submitted, not yet taken */
static int		 rec_rules_asked;
static int64_t		 rec_rules_now_us;
static uint64_t		 rec_rules_seq;		/* tickets given out */
static struct rules	*rec_new_rules;
static int		 rec_have_new_rules;
static struct store	*rec_new_store;
static int		 rec_stopping;
static struct recorder_run *rec_done_head, **rec_done_tail = &rec_done_head;
static struct recorder_stats rec_stats;

/* The loop's side. */
static pthread_t	 rec_thread;
static int		 rec_started;
static int		 rec_pipe[2] = { -1, -1 };
static struct event	*rec_ev;
static recorder_events_fn *rec_events;
static void		*rec_events_arg;

/* The thread's own. */
static struct store	*rec_store;
static struct rules	*rec_rules;
static struct results	 rec_held;		/* refused, kept in order */
static int		 rec_failing;
static int64_t		 rec_last_try_ms;
static size_t		 rec_lost;
static uint64_t		 rec_silent_before;	/* on stores closed since */

static void
rec_rules_free(struct rules *rs)
{
	if (rs != NULL) {
		rules_free(rs);
		free(rs);
	}
}

/* Wake the loop: a rule run is done. */
static void
rec_wake_loop(void)
{
	char c = 1;

	while (write(rec_pipe[1], &c, 1) == -1 && errno == EINTR)
		;
}

/*
 * Write rs[0..n) in transactions of RECORDER_BATCH_MAX; return how many
 * were written before the first failure (err set then).
 */
static size_t
rec_write(struct result *v, size_t n, char *err, size_t errlen)
{
	size_t done = 0, k;

	while (done < n) {
		k = n - done > RECORDER_BATCH_MAX ? RECORDER_BATCH_MAX :
		    n - done;
		if (store_save_batch(rec_store, v + done, k, err,
		    errlen) == -1)
			break;
		done += k;
	}
	return done;
}

/* Drop the first n results of rs, which were written. */
static void
rec_drop_front(struct results *rs, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		result_free(&rs->v[i]);
	memmove(rs->v, rs->v + n, (rs->n - n) * sizeof(*rs->v));
	rs->n -= n;
	if (rs->n == 0) {
		free(rs->v);
		rs->v = NULL;
	}
}

/* Append what a failed write left of batch to the held results. */
static void
rec_hold(struct results *batch)
{
	size_t drop;

	results_move(&rec_held, batch);
	if (rec_held.n > RECORDER_HELD_MAX) {
		drop = rec_held.n - RECORDER_HELD_MAX;
		log_warnx("database: %d results held; dropping the oldest %zu",
		    RECORDER_HELD_MAX, drop);
		rec_lost += drop;
		rec_drop_front(&rec_held, drop);
	}
}

/*
 * Write the held results, then batch, unless the database failed less
 * than RECORDER_RETRY_MS ago (force: try anyway).  Whatever is not
 * written is held.  Returns the number written.
 */
static size_t
rec_store_all(struct results *batch, int force)
{
	char err[512];
	size_t n, written = 0;
	int64_t now = clock_mono_ms();

	if (rec_failing && !force && now - rec_last_try_ms < RECORDER_RETRY_MS) {
		rec_hold(batch);
		return 0;
	}
	rec_last_try_ms = now;
	if (rec_held.n > 0) {
		n = rec_write(rec_held.v, rec_held.n, err, sizeof(err));
		rec_drop_front(&rec_held, n);
		written += n;
		if (rec_held.n > 0) {
			log_debug("database still failing: %s", err);
			rec_hold(batch);
			return written;
		}
		log_info("database writable again: %zu held results written",
		    n);
		rec_failing = 0;
	}
	n = rec_write(batch->v, batch->n, err, sizeof(err));
	written += n;
	rec_drop_front(batch, n);
	if (batch->n > 0) {
		if (!rec_failing)
			log_warnx("database: %s; holding results until it "
			    "can be written", err);
		rec_failing = 1;
		rec_hold(batch);
	}
	return written;
}

/* Run the rules at now_us and hand the events to the loop. */
static void
rec_run_rules(int64_t now_us, uint64_t seq)
{
	struct recorder_run *run = xcalloc(1, sizeof(*run));
	char err[512];
	int64_t t0 = clock_mono_ms();

	run->seq = seq;
	if (rec_rules == NULL)
		run->ok = 1;
	else if (rec_held.n > 0)
		/* The store refuses writes: the rules wait for it too. */
		log_info("rules deferred: %zu results are held until the "
		    "database accepts them", rec_held.n);
	else if (rules_eval(rec_store, rec_rules, now_us, &run->ev, err,
	    sizeof(err)) == -1)
		/* Locked or full: the next run tries again. */
		log_warnx("rules not evaluated: %s", err);
	else
		run->ok = 1;
	pthread_mutex_lock(&rec_mu);
	rec_stats.rule_runs++;
	rec_stats.last_rules_ms = clock_mono_ms() - t0;
	*rec_done_tail = run;
	rec_done_tail = &run->next;
	pthread_mutex_unlock(&rec_mu);
	rec_wake_loop();
}

/* Wait for work; returns with rec_mu held. */
static void
rec_wait(void)
{
	struct timespec ts;
	int64_t ms;

	while (rec_in.n == 0 && !rec_rules_asked && !rec_have_new_rules &&
	    rec_new_store == NULL && !rec_stopping) {
		if (rec_held.n == 0) {
			pthread_cond_wait(&rec_cv, &rec_mu);
			continue;
		}
		ms = rec_last_try_ms + RECORDER_RETRY_MS - clock_mono_ms();
		if (ms <= 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&rec_cv, &rec_mu, &ts) == ETIMEDOUT)
			return;
	}
}

/* Give results that trickle in a moment to gather into one batch. */
static void
rec_gather(void)
{
	struct timespec ts;

	if (rec_rules_asked || rec_stopping || rec_new_store != NULL ||
	    rec_in.n >= RECORDER_BATCH_MAX || rec_failing)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += RECORDER_BATCH_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (!rec_rules_asked && !rec_stopping && rec_new_store == NULL &&
	    rec_in.n < RECORDER_BATCH_MAX &&
	    pthread_cond_timedwait(&rec_cv, &rec_mu, &ts) != ETIMEDOUT)
		;
}

static void *
rec_main(void *arg)
{
	struct results batch;
	struct rules *newrules;
	struct store *newstore;
	size_t n;
	int asked, haverules, stopping;
	int64_t now_us;
	uint64_t seq;

	(void)arg;
	pthread_mutex_lock(&rec_mu);
	for (;;) {
		rec_wait();
		if (rec_in.n > 0)
			rec_gather();
		batch = rec_in;
		memset(&rec_in, 0, sizeof(rec_in));
		asked = rec_rules_asked;
		now_us = rec_rules_now_us;
		seq = rec_rules_seq;
		rec_rules_asked = 0;
		haverules = rec_have_new_rules;
		newrules = rec_new_rules;
		rec_have_new_rules = 0;
		rec_new_rules = NULL;
		newstore = rec_new_store;
		rec_new_store = NULL;
		stopping = rec_stopping;
		rec_stats.queued = batch.n;
		pthread_mutex_unlock(&rec_mu);

		if (haverules) {
			rec_rules_free(rec_rules);
			rec_rules = newrules;
		}
		n = rec_store_all(&batch, newstore != NULL || stopping);
		if (newstore != NULL) {
			/* What the old database still refuses goes to the new. */
			rec_silent_before += store_silent_crawls(rec_store);
			store_close(rec_store);
			rec_store = newstore;
			rec_failing = 0;
			if (rec_held.n > 0) {
				struct results empty = { NULL, 0 };

				n += rec_store_all(&empty, 1);
			}
		}
		if (asked)
			rec_run_rules(now_us, seq);

		pthread_mutex_lock(&rec_mu);
		rec_stats.written += n;
		rec_stats.summarised = rec_silent_before +
		    store_silent_crawls(rec_store);
		rec_stats.queued = rec_in.n;
		rec_stats.held = rec_held.n;
		if (stopping && rec_in.n == 0)
			break;
	}
	pthread_mutex_unlock(&rec_mu);
	rec_lost += rec_held.n;
	results_free(&rec_held);
	return NULL;
}

/* The loop's end of the pipe: deliver the rule runs that are done. */
static void
rec_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct recorder_run *run, *next;
	char buf[64];

	(void)what;
	(void)arg;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&rec_mu);
	run = rec_done_head;
	rec_done_head = NULL;
	rec_done_tail = &rec_done_head;
	pthread_mutex_unlock(&rec_mu);
	for (; run != NULL; run = next) {
		next = run->next;
		if (rec_events != NULL)
			rec_events(&run->ev, run->ok, run->seq,
			    rec_events_arg);
		rules_events_free(&run->ev);
		free(run);
	}
}

/* Start the recorder on st with rules rs; events is called on base. */
void
recorder_start(struct event_base *base, struct store *st, struct rules *rs,
    recorder_events_fn *events, void *arg)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	rec_store = st;
	rec_rules = rs;
	rec_events = events;
	rec_events_arg = arg;
	if (pipe2(rec_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe2");
	rec_ev = event_new(base, rec_pipe[0], EV_READ | EV_PERSIST,
	    rec_deliver, NULL);
	if (rec_ev == NULL || event_add(rec_ev, NULL) == -1)
		fatalx("recorder: event_new");
	/* Waits are timed on the monotonic clock, like everything else. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rec_cv, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals are the loop's: the thread blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&rec_thread, NULL, rec_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		fatal("recorder: pthread_create");
	}
	rec_started = 1;
}

/* Queue the results of rs for writing; rs is left empty. */
void
recorder_submit(struct results *rs)
{
	if (rs->n == 0)
		return;
	pthread_mutex_lock(&rec_mu);
	results_move(&rec_in, rs);
	rec_stats.queued = rec_in.n;
	pthread_cond_signal(&rec_cv);
	pthread_mutex_unlock(&rec_mu);
}

/* Run the rules at now_us once every result submitted so far is written. */
uint64_t
recorder_run_rules(int64_t now_us)
{
	uint64_t seq;

	pthread_mutex_lock(&rec_mu);
	rec_rules_asked = 1;
	rec_rules_now_us = now_us;
	seq = ++rec_rules_seq;
	pthread_cond_signal(&rec_cv);
	pthread_mutex_unlock(&rec_mu);
	return seq;
}

/* Use rs (taken; NULL: none) for rule runs from the next one on. */
void
recorder_set_rules(struct rules *rs)
{
	struct rules *old;

	pthread_mutex_lock(&rec_mu);
	old = rec_have_new_rules ? rec_new_rules : NULL;
	rec_new_rules = rs;
	rec_have_new_rules = 1;
	pthread_cond_signal(&rec_cv);
	pthread_mutex_unlock(&rec_mu);
	rec_rules_free(old);
}

/* Write to st (taken) from now on. */
void
recorder_set_store(struct store *st)
{
	struct store *old;

	pthread_mutex_lock(&rec_mu);
	old = rec_new_store;
	rec_new_store = st;
	pthread_cond_signal(&rec_cv);
	pthread_mutex_unlock(&rec_mu);
	store_close(old);
}

/* Fill in the counters status shows. */
void
recorder_stats(struct recorder_stats *s)
{
	pthread_mutex_lock(&rec_mu);
	*s = rec_stats;
	pthread_mutex_unlock(&rec_mu);
}

/* Return the number of results held because the database refused them. */
size_t
recorder_held(void)
{
	size_t n;

	pthread_mutex_lock(&rec_mu);
	n = rec_stats.held;
	pthread_mutex_unlock(&rec_mu);
	return n;
}

/* Stop: write what is queued and held, stop the thread, close the store. */
size_t
recorder_stop(void)
{
	struct recorder_run *run, *next;

	if (!rec_started)
		return 0;
	pthread_mutex_lock(&rec_mu);
	rec_stopping = 1;
	pthread_cond_signal(&rec_cv);
	pthread_mutex_unlock(&rec_mu);
	pthread_join(rec_thread, NULL);
	rec_started = 0;
	for (run = rec_done_head; run != NULL; run = next) {
		next = run->next;
		rules_events_free(&run->ev);
		free(run);
	}
	rec_done_head = NULL;
	rec_done_tail = &rec_done_head;
	rec_rules_free(rec_rules);
	rec_rules = NULL;
	rec_rules_free(rec_new_rules);
	rec_new_rules = NULL;
	store_close(rec_new_store);
	rec_new_store = NULL;
	store_close(rec_store);
	rec_store = NULL;
	event_free(rec_ev);
	rec_ev = NULL;
	close(rec_pipe[0]);
	close(rec_pipe[1]);
	rec_pipe[0] = rec_pipe[1] = -1;
	pthread_cond_destroy(&rec_cv);
	return rec_lost;
}
