/* recorder: results and rules on a thread that owns the database. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
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
/*
 * SQLite's busy timeout.  The daemon is the only writer and WAL readers
 * never block it: a lock means an outside writer.  The recorder waits this
 * long, then holds the results and tries again later.
 */
#define RECORDER_BUSY_MS	2000
#define RECORDER_CHECK_MS	10000	/* between looks at the database file */
#define RECORDER_PRUNE_FIRST_MS	60000	/* the first prune pass after start */
#define RECORDER_PRUNE_EVERY_MS	3600000	/* between prune passes */
#define RECORDER_QUIET_US	(15 * 60 * 1000000LL) /* rules run at least
					   this often, written or not */

/* What the recorder does to the database besides writing results. */
enum rec_op_kind {
	REC_OP_RETIRE,		/* retire the location key */
	REC_OP_SUSPEND,		/* record a suspension */
	REC_OP_UNSUSPEND	/* forget the suspension of name */
};

struct rec_op {
	struct rec_op		*next;
	enum rec_op_kind	 kind;
	int64_t			 now_us;
	char			*key;		/* RETIRE: key; else the name */
	char			*fingerprint, *account, *hosts, *status;
	int			 failures;
};

/* The events of one rule run, on their way to the loop. */
struct recorder_run {
	struct recorder_run	*next;
	struct rules_events	 ev;
	int			 ok;
	int			 skipped;	/* nothing new: not evaluated */
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
static int		 rec_rules_force;
static struct recorder_run *rec_done_head, **rec_done_tail = &rec_done_head;
static struct recorder_stats rec_stats;
static struct rec_op	*rec_ops_head, **rec_ops_tail = &rec_ops_head;
static struct recorder_policy rec_policy;
static int		 rec_replaced_notice;	/* for the loop: reopen */

/* The loop's side. */
static pthread_t	 rec_thread;
static int		 rec_started;
static int		 rec_pipe[2] = { -1, -1 };
static struct event	*rec_ev;
static struct recorder_hooks rec_hooks;

/* The thread's own. */
static struct store	*rec_store;
static struct rules	*rec_rules;
static struct results	 rec_held;		/* refused, kept in order */
static int		 rec_failing;
static int64_t		 rec_last_try_ms;
static size_t		 rec_lost;
static uint64_t		 rec_silent_before;	/* on stores closed since */
static struct rec_op	*rec_held_ops, **rec_held_ops_tail = &rec_held_ops;
static int		 rec_replaced;		/* the file is not ours now */
static int64_t		 rec_next_check_ms;
static int64_t		 rec_next_prune_ms;
static int64_t		 rec_prune_cursor;
static uint64_t		 rec_pass_deleted;
static int		 rec_pass_retired;
static uint64_t		 rec_dirty;		/* rows written since rules */
static int64_t		 rec_last_rules_us;

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

static void
rec_op_free(struct rec_op *op)
{
	free(op->key);
	free(op->fingerprint);
	free(op->account);
	free(op->hosts);
	free(op->status);
	free(op);
}

/* Apply op to the store; 0, or -1 with err. */
static int
rec_op_apply(struct rec_op *op, char *err, size_t errlen)
{
	struct store_suspension sp;

	switch (op->kind) {
	case REC_OP_RETIRE:
		if (store_retire(rec_store, op->key, op->now_us, err,
		    errlen) == -1)
			return -1;
		rec_dirty++;
		return 0;
	case REC_OP_SUSPEND:
		sp.name = op->key;
		sp.fingerprint = op->fingerprint;
		sp.account = op->account;
		sp.failures = op->failures;
		sp.hosts = op->hosts;
		sp.status = op->status;
		sp.since_us = op->now_us;
		return store_suspension_set(rec_store, &sp, err, errlen);
	case REC_OP_UNSUSPEND:
		return store_suspension_clear(rec_store, op->key, err, errlen);
	}
	return 0;
}

/*
 * Apply the held operations, then ops (taken), in order, while the store
 * takes them; what it refuses is held.  Results come first: nothing is
 * applied while results are held.
 */
static void
rec_ops_apply(struct rec_op *ops)
{
	struct rec_op *op;
	char err[512];

	*rec_held_ops_tail = ops;
	while (ops != NULL) {
		rec_held_ops_tail = &ops->next;
		ops = ops->next;
	}
	while (rec_held.n == 0 && !rec_replaced &&
	    (op = rec_held_ops) != NULL) {
		if (rec_op_apply(op, err, sizeof(err)) == -1) {
			if (!rec_failing)
				log_warnx("database: %s; holding the change "
				    "until it can be written", err);
			rec_failing = 1;
			rec_last_try_ms = clock_mono_ms();
			return;
		}
		rec_held_ops = op->next;
		if (rec_held_ops == NULL)
			rec_held_ops_tail = &rec_held_ops;
		rec_op_free(op);
	}
	if (rec_held.n == 0 && rec_held_ops == NULL)
		rec_failing = 0;
}

/*
 * Whether the database file is still the one the store has open; once it
 * is not (deleted, or replaced by another file), say so loudly, write
 * nothing more into it and ask the loop to open the file anew.
 */
static void
rec_check_file(void)
{
	if (rec_replaced || !store_file_replaced(rec_store))
		return;
	log_crit("database %s was deleted or replaced while the daemon "
	    "had it open; holding results until it is opened again",
	    store_path(rec_store));
	rec_replaced = 1;
	pthread_mutex_lock(&rec_mu);
	rec_replaced_notice = 1;
	rec_stats.replaced++;
	pthread_mutex_unlock(&rec_mu);
	rec_wake_loop();
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

	if (now >= rec_next_check_ms) {
		rec_next_check_ms = now + RECORDER_CHECK_MS;
		rec_check_file();
	}
	if (rec_replaced ||
	    (rec_failing && !force && now - rec_last_try_ms < RECORDER_RETRY_MS)) {
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
	rec_dirty += written;
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

/*
 * Idle work, one short step at a time: look at the database file, and
 * prune (one batch per step; a pass every RECORDER_PRUNE_EVERY_MS, which
 * also retires the locations failing for longer than retire_after, and
 * ends with a WAL checkpoint).  Returns the monotonic time the next step
 * is due.
 */
static int64_t
rec_maintain(const struct recorder_policy *pol)
{
	char err[512];
	int64_t now = clock_mono_ms(), wall = clock_wall_us(), next;
	int deleted, n;

	if (now >= rec_next_check_ms) {
		rec_next_check_ms = now + RECORDER_CHECK_MS;
		rec_check_file();
	}
	if (rec_replaced || rec_failing || rec_held.n > 0 ||
	    rec_next_prune_ms == 0 || now < rec_next_prune_ms)
		goto out;
	if (rec_prune_cursor == 0 && pol->retire_after_ms > 0) {
		/* A pass begins. */
		if (store_retire_failing(rec_store, wall,
		    pol->retire_after_ms * 1000, &n, err, sizeof(err)) == -1) {
			log_warnx("database: retiring failing locations: %s",
			    err);
			rec_next_prune_ms = now + RECORDER_RETRY_MS;
			goto out;
		}
		rec_pass_retired = n;
		rec_dirty += (uint64_t)n;
	}
	if (pol->retention_ms == 0 && pol->alert_retention_ms == 0)
		deleted = 0, rec_prune_cursor = 0;
	else if (store_prune(rec_store, pol->retention_ms > 0 ?
	    wall - pol->retention_ms * 1000 : 0,
	    pol->alert_retention_ms > 0 ?
	    wall - pol->alert_retention_ms * 1000 : 0, &rec_prune_cursor,
	    &deleted, err, sizeof(err)) == -1) {
		log_warnx("database: pruning: %s", err);
		rec_next_prune_ms = now + RECORDER_RETRY_MS;
		goto out;
	}
	rec_pass_deleted += (uint64_t)deleted;
	pthread_mutex_lock(&rec_mu);
	rec_stats.pruned += (uint64_t)deleted;
	pthread_mutex_unlock(&rec_mu);
	if (rec_prune_cursor != 0) {
		rec_next_prune_ms = now;	/* the next batch, after any work */
		goto out;
	}
	/* The pass is over. */
	if (store_checkpoint(rec_store, err, sizeof(err)) == -1)
		log_warnx("database: %s", err);
	if (rec_pass_deleted > 0 || rec_pass_retired > 0)
		log_info("database pruned: %llu old rows deleted, %d failing "
		    "locations retired", (unsigned long long)rec_pass_deleted,
		    rec_pass_retired);
	pthread_mutex_lock(&rec_mu);
	rec_stats.retired += (uint64_t)rec_pass_retired;
	rec_stats.prune_passes++;
	pthread_mutex_unlock(&rec_mu);
	rec_pass_deleted = 0;
	rec_pass_retired = 0;
	rec_next_prune_ms = now + RECORDER_PRUNE_EVERY_MS;
out:
	next = rec_next_check_ms;
	if (!rec_replaced && rec_next_prune_ms != 0 &&
	    rec_next_prune_ms < next)
		next = rec_next_prune_ms;
	return next;
}

/*
 * How long rule runs with nothing new written may be skipped: until an
 * alert may be due for renotify, and never longer than RECORDER_QUIET_US
 * (rules that read the time, such as postoffice-moved's seven days).
 */
static int64_t
rec_quiet_us(const struct rules *rs)
{
	int64_t r = rules_renotify_min(rs) * 1000;

	return r > 0 && r < RECORDER_QUIET_US ? r : RECORDER_QUIET_US;
}

/* Run the rules at now_us and hand the events to the loop. */
static void
rec_run_rules(int64_t now_us, uint64_t seq, int force)
{
	struct recorder_run *run = xcalloc(1, sizeof(*run));
	char err[512];
	int64_t t0 = clock_mono_ms();

	run->seq = seq;
	if (rec_rules == NULL)
		run->ok = 1;
	else if (!force && rec_dirty == 0 && rec_held.n == 0 &&
	    now_us - rec_last_rules_us < rec_quiet_us(rec_rules)) {
		/* Nothing written since the last run: it would find the same. */
		run->ok = 1;
		run->skipped = 1;
	}
	else if (rec_held.n > 0)
		/* The store refuses writes: the rules wait for it too. */
		log_info("rules deferred: %zu results are held until the "
		    "database accepts them", rec_held.n);
	else if (rules_eval(rec_store, rec_rules, now_us, &run->ev, err,
	    sizeof(err)) == -1)
		/* Locked or full: the next run tries again. */
		log_warnx("rules not evaluated: %s", err);
	else {
		run->ok = 1;
		rec_dirty = 0;
		rec_last_rules_us = now_us;
	}
	pthread_mutex_lock(&rec_mu);
	if (run->skipped)
		rec_stats.rule_runs_skipped++;
	else {
		rec_stats.rule_runs++;
		rec_stats.last_rules_ms = clock_mono_ms() - t0;
	}
	*rec_done_tail = run;
	rec_done_tail = &run->next;
	pthread_mutex_unlock(&rec_mu);
	rec_wake_loop();
}

/*
 * Wait for work, or until due_ms (monotonic) when idle work is due then;
 * returns with rec_mu held.
 */
static void
rec_wait(int64_t due_ms)
{
	struct timespec ts;
	int64_t ms, until;

	while (rec_in.n == 0 && !rec_rules_asked && !rec_have_new_rules &&
	    rec_new_store == NULL && !rec_stopping && rec_ops_head == NULL) {
		until = due_ms;
		if ((rec_held.n > 0 || rec_held_ops != NULL) &&
		    rec_last_try_ms + RECORDER_RETRY_MS < until)
			until = rec_last_try_ms + RECORDER_RETRY_MS;
		ms = until - clock_mono_ms();
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
	struct recorder_policy pol;
	struct results batch;
	struct rules *newrules;
	struct store *newstore;
	struct rec_op *ops;
	size_t n;
	int asked, force, haverules, stopping;
	int64_t now_us, due_ms;
	uint64_t seq;

	(void)arg;
	rec_next_check_ms = clock_mono_ms() + RECORDER_CHECK_MS;
	rec_next_prune_ms = clock_mono_ms() + RECORDER_PRUNE_FIRST_MS;
	due_ms = rec_next_check_ms;
	pthread_mutex_lock(&rec_mu);
	for (;;) {
		rec_wait(due_ms);
		if (rec_in.n > 0)
			rec_gather();
		batch = rec_in;
		memset(&rec_in, 0, sizeof(rec_in));
		ops = rec_ops_head;
		rec_ops_head = NULL;
		rec_ops_tail = &rec_ops_head;
		asked = rec_rules_asked;
		force = rec_rules_force;
		now_us = rec_rules_now_us;
		seq = rec_rules_seq;
		rec_rules_asked = 0;
		rec_rules_force = 0;
		haverules = rec_have_new_rules;
		newrules = rec_new_rules;
		rec_have_new_rules = 0;
		rec_new_rules = NULL;
		newstore = rec_new_store;
		rec_new_store = NULL;
		stopping = rec_stopping;
		pol = rec_policy;
		rec_stats.queued = batch.n;
		pthread_mutex_unlock(&rec_mu);

		if (haverules) {
			rec_rules_free(rec_rules);
			rec_rules = newrules;
			force = 1;
		}
		n = rec_store_all(&batch, newstore != NULL || stopping);
		rec_ops_apply(ops);
		if (newstore != NULL) {
			/*
			 * What the old database still refuses goes to the new
			 * (all of it, when the old file is gone).
			 */
			rec_silent_before += store_silent_crawls(rec_store);
			store_close(rec_store);
			rec_store = newstore;
			rec_failing = 0;
			rec_replaced = 0;
			rec_prune_cursor = 0;
			rec_next_check_ms = clock_mono_ms() + RECORDER_CHECK_MS;
			if (rec_held.n > 0) {
				struct results empty = { NULL, 0 };

				n += rec_store_all(&empty, 1);
			}
			rec_ops_apply(NULL);
			force = 1;
		} else if (rec_held.n > 0 || rec_held_ops != NULL) {
			/* The retry is due (rec_store_all decides). */
			struct results empty = { NULL, 0 };

			n += rec_store_all(&empty, 0);
			rec_ops_apply(NULL);
		}
		if (asked)
			rec_run_rules(now_us, seq, force);
		if (stopping)
			due_ms = 0;
		else if (batch.n == 0 && !asked)
			/* Idle: the database's own upkeep. */
			due_ms = rec_maintain(&pol);
		else
			due_ms = clock_mono_ms();

		pthread_mutex_lock(&rec_mu);
		rec_stats.written += n;
		rec_stats.summarised = rec_silent_before +
		    store_silent_crawls(rec_store);
		rec_stats.queued = rec_in.n;
		rec_stats.held = rec_held.n;
		if (stopping && rec_in.n == 0 && rec_ops_head == NULL)
			break;
	}
	pthread_mutex_unlock(&rec_mu);
	rec_lost += rec_held.n;
	results_free(&rec_held);
	while ((ops = rec_held_ops) != NULL) {
		rec_held_ops = ops->next;
		rec_lost++;
		rec_op_free(ops);
	}
	rec_held_ops_tail = &rec_held_ops;
	return NULL;
}

/* The loop's end of the pipe: deliver the rule runs that are done. */
static void
rec_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct recorder_run *run, *next;
	char buf[64];
	int replaced;

	(void)what;
	(void)arg;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&rec_mu);
	run = rec_done_head;
	rec_done_head = NULL;
	rec_done_tail = &rec_done_head;
	replaced = rec_replaced_notice;
	rec_replaced_notice = 0;
	pthread_mutex_unlock(&rec_mu);
	if (replaced && rec_hooks.replaced != NULL)
		rec_hooks.replaced(rec_hooks.arg);
	for (; run != NULL; run = next) {
		next = run->next;
		if (rec_hooks.events != NULL)
			rec_hooks.events(&run->ev, run->ok, run->seq,
			    rec_hooks.arg);
		rules_events_free(&run->ev);
		free(run);
	}
}

/* Start the recorder on st with rules rs and policy pol; hooks on base. */
void
recorder_start(struct event_base *base, struct store *st, struct rules *rs,
    const struct recorder_policy *pol, const struct recorder_hooks *hooks)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	rec_store = st;
	store_set_busy_timeout(st, RECORDER_BUSY_MS);
	rec_rules = rs;
	rec_policy = *pol;
	rec_hooks = *hooks;
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
recorder_run_rules(int64_t now_us, int force)
{
	uint64_t seq;

	pthread_mutex_lock(&rec_mu);
	rec_rules_asked = 1;
	rec_rules_force |= force;
	rec_rules_now_us = now_us;
	seq = ++rec_rules_seq;
	pthread_cond_signal(&rec_cv);
	pthread_mutex_unlock(&rec_mu);
	return seq;
}

/* Use pol from now on. */
void
recorder_set_policy(const struct recorder_policy *pol)
{
	pthread_mutex_lock(&rec_mu);
	rec_policy = *pol;
	pthread_mutex_unlock(&rec_mu);
}

static void
rec_op_queue(struct rec_op *op)
{
	op->now_us = clock_wall_us();
	pthread_mutex_lock(&rec_mu);
	*rec_ops_tail = op;
	rec_ops_tail = &op->next;
	pthread_cond_signal(&rec_cv);
	pthread_mutex_unlock(&rec_mu);
}

/* Retire the location key once the results submitted so far are written. */
void
recorder_retire(const char *key)
{
	struct rec_op *op = xcalloc(1, sizeof(*op));

	op->kind = REC_OP_RETIRE;
	op->key = xstrdup(key);
	rec_op_queue(op);
}

/* Record the suspension sp (copied; since_us is now). */
void
recorder_suspend(const struct store_suspension *sp)
{
	struct rec_op *op = xcalloc(1, sizeof(*op));

	op->kind = REC_OP_SUSPEND;
	op->key = xstrdup(sp->name);
	op->fingerprint = xstrdup(sp->fingerprint);
	op->account = xstrdup(sp->account);
	op->hosts = xstrdup(sp->hosts);
	op->status = sp->status != NULL ? xstrdup(sp->status) : NULL;
	op->failures = sp->failures;
	rec_op_queue(op);
}

/* Forget the suspension of credentials name. */
void
recorder_unsuspend(const char *name)
{
	struct rec_op *op = xcalloc(1, sizeof(*op));

	op->kind = REC_OP_UNSUSPEND;
	op->key = xstrdup(name);
	rec_op_queue(op);
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

	store_set_busy_timeout(st, RECORDER_BUSY_MS);
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
