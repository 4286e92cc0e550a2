/* sched: units, due times, probing, job hand-off, results and backoff. */
#include <sys/resource.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "compat/queue.h"
#include "conf.h"
#include "crawl.h"
#include "log.h"
#include "maildatd.h"
#include "pool.h"
#include "probe.h"
#include "sched.h"
#include "smburl.h"
#include "store.h"
#include "xmalloc.h"

#define SCHED_TICK_MS		250
#define SCHED_RETICK_MS		20	/* sooner while probes are all taken */
#define SCHED_MAX_PROBES	8192	/* TCP probes under way, at most */
#define SCHED_FD_RESERVE	256	/* fds kept for workers, db, control */
#define SCHED_QUEUE_PER_WORKER	4	/* jobs queued per worker, at most */
#define SCHED_PENDING_MAX	100000	/* results held while the store fails */
#define SCHED_BATCH_MAX		1000	/* results stored in one transaction */
#define SCHED_BATCH_MS		100	/* how long results wait to be stored */
#define SCHED_RETRY_MS		5000
#define SCHED_NBUCKETS		16384	/* hash of units by target and URL */

struct unit {
	TAILQ_ENTRY(unit)	 entry;
	struct unit		*hnext;		/* in sched_hash[] */
	char			*target;	/* target name */
	char			*url;		/* what the job crawls */
	int			 discover;
	char			*host;
	uint16_t		 port;
	char			*base;		/* UNC location of the URL */
	struct crawl_results	 found;		/* postoffices it has found */
	int64_t			 due_ms;	/* monotonic */
	int			 failures;	/* in a row */
	int			 busy;		/* probing, queued or crawling */
	int			 done_once;	/* crawled since start */
	int			 keep;		/* for sched_load */
};

/* Logon failures of one credential on one host. */
struct lockout {
	TAILQ_ENTRY(lockout)	 entry;
	char			*cred;
	char			*host;
	int			 count;
	int			 suspended;
};

static TAILQ_HEAD(, unit)	 units = TAILQ_HEAD_INITIALIZER(units);
/*
 * Units by target and URL, so that loading 10,000 URLs does not compare
 * each with every unit before it (50 million comparisons, half a second).
 */
static struct unit		*sched_hash[SCHED_NBUCKETS];
static TAILQ_HEAD(, lockout)	 lockouts = TAILQ_HEAD_INITIALIZER(lockouts);
static struct event		*sched_tick_ev;
static struct event		*sched_retry_ev;
static int			 sched_nunits;
static int			 sched_nbusy;
static int			 sched_once;
static int			 sched_stopped;
static struct crawl_results	 pending;	/* not yet stored */
static struct crawl_results	 batch;		/* to store at the next flush */
static struct event		*sched_batch_ev;
static int			 store_failing;
static int			 sched_max_probes = 1000;

static struct {
	int		active;
	time_t		started, finished;
	int		crawls, failed;
	int		last_crawls, last_failed;
	time_t		last_started, last_finished;
} rnd;

static void	sched_tick(evutil_socket_t, short, void *);

static const struct conf_target *
sched_target(const char *name)
{
	size_t i;

	for (i = 0; i < env->conf->ntargets; i++)
		if (strcmp(env->conf->targets[i].name, name) == 0)
			return &env->conf->targets[i];
	return NULL;
}

static unsigned
sched_hashkey(const char *target, const char *url)
{
	uint32_t h = 2166136261u;	/* FNV-1a over target, NUL, url */

	for (; *target != '\0'; target++)
		h = (h ^ (unsigned char)*target) * 16777619u;
	h *= 16777619u;
	for (; *url != '\0'; url++)
		h = (h ^ (unsigned char)*url) * 16777619u;
	return h % SCHED_NBUCKETS;
}

static struct unit *
sched_find(const char *target, const char *url)
{
	struct unit *u;

	for (u = sched_hash[sched_hashkey(target, url)]; u != NULL;
	    u = u->hnext)
		if (strcmp(u->target, target) == 0 && strcmp(u->url, url) == 0)
			return u;
	return NULL;
}

static void
sched_add(const char *target, const char *url, int discover,
    const struct smburl *su)
{
	struct unit *u;
	unsigned h;

	if ((u = sched_find(target, url)) != NULL) {
		u->keep = 1;
		return;
	}
	u = xcalloc(1, sizeof(*u));
	u->target = xstrdup(target);
	u->url = xstrdup(url);
	u->discover = discover;
	u->host = xstrdup(su->host);
	u->port = su->port;
	u->base = discover ? crawl_location(su->host, su->port, "", "") :
	    crawl_location(su->host, su->port, su->share, su->path);
	u->due_ms = clock_mono_ms();
	u->keep = 1;
	TAILQ_INSERT_TAIL(&units, u, entry);
	sched_nunits++;
	h = sched_hashkey(target, url);
	u->hnext = sched_hash[h];
	sched_hash[h] = u;
}

/* Free u, which the caller took off the list of units. */
static void
sched_unit_free(struct unit *u)
{
	struct unit **pp;

	for (pp = &sched_hash[sched_hashkey(u->target, u->url)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == u) {
			*pp = u->hnext;
			break;
		}
	free(u->target);
	free(u->url);
	free(u->host);
	free(u->base);
	crawl_results_free(&u->found);
	free(u);
}

/* (Re)build the units from c, keeping the schedule of units that remain. */
void
sched_load(const struct conf *c)
{
	struct unit *u, *tmp;
	struct lockout *l;
	struct smburl su, hu;
	char **urls, err[256], *hosturl;
	size_t i, j, n;

	TAILQ_FOREACH(u, &units, entry)
		u->keep = 0;
	for (i = 0; i < c->ntargets; i++) {
		const struct conf_target *t = &c->targets[i];

		if (conf_target_urls(t, &urls, &n) == -1)
			continue;
		for (j = 0; j < n; j++) {
			if (smburl_parse(urls[j], t->discover, &su, err,
			    sizeof(err)) == -1) {
				log_warnx("target %s: %s", t->name, err);
				continue;
			}
			if (t->discover && su.path[0] == '\0') {
				/* One unit lists the host's shares. */
				memset(&hu, 0, sizeof(hu));
				hu.host = su.host;
				hu.port = su.port;
				hu.share = (char *)"";
				hu.path = (char *)"";
				hosturl = smburl_format(&hu, NULL);
				sched_add(t->name, hosturl, 1, &su);
				free(hosturl);
			} else
				sched_add(t->name, urls[j], 0, &su);
			smburl_free(&su);
		}
		conf_target_urls_free(urls, n);
	}
	/* Units no longer configured go; a busy one goes when it is done. */
	TAILQ_FOREACH_SAFE(u, &units, entry, tmp) {
		if (u->keep || u->busy)
			continue;
		TAILQ_REMOVE(&units, u, entry);
		sched_nunits--;
		sched_unit_free(u);
	}
	/* A reload forgives suspended credentials. */
	while ((l = TAILQ_FIRST(&lockouts)) != NULL) {
		TAILQ_REMOVE(&lockouts, l, entry);
		free(l->cred);
		free(l->host);
		free(l);
	}
	log_info("%d locations to crawl from %zu targets", sched_nunits,
	    c->ntargets);
}

static struct lockout *
sched_lockout(const char *cred, const char *host, int create)
{
	struct lockout *l;

	TAILQ_FOREACH(l, &lockouts, entry)
		if (strcmp(l->cred, cred) == 0 && strcmp(l->host, host) == 0)
			return l;
	if (!create)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	l->cred = xstrdup(cred);
	l->host = xstrdup(host);
	TAILQ_INSERT_TAIL(&lockouts, l, entry);
	return l;
}

/* Next due time after a crawl: the interval with jitter, or backoff. */
static void
sched_reschedule(struct unit *u, const struct conf_target *t)
{
	int64_t iv = t ? t->interval_ms : env->conf->interval_ms;
	int64_t delay, cap = env->conf->backoff_max_ms;
	int shift;

	if (u->failures == 0) {
		/* +-5% so that units that started together drift apart. */
		int64_t j = iv / 20;

		delay = iv + (j > 0 ? (int64_t)(random() % (2 * j + 1)) - j : 0);
	} else {
		shift = u->failures - 1 > 16 ? 16 : u->failures - 1;
		delay = iv << shift;
		if (cap < iv)
			cap = iv;
		if (delay > cap)
			delay = cap;
	}
	u->due_ms = clock_mono_ms() + delay;
}

static int
sched_contact(enum crawl_outcome o)
{
	return o == CRAWL_OK || o == CRAWL_MALFORMED ||
	    o == CRAWL_NOT_POSTOFFICE;
}

/* Store results, or hold them back while the store fails. */
static void
sched_store_now(struct crawl_results *rs)
{
	char err[512];
	size_t i;

	if (rs->n == 0)
		return;
	if (!store_failing && store_save_batch(env->store, rs->v, rs->n, err,
	    sizeof(err)) == 0) {
		crawl_results_free(rs);
		return;
	}
	if (!store_failing) {
		log_warnx("database: %s; holding results until it can be "
		    "written", err);
		store_failing = 1;
	}
	for (i = 0; i < rs->n; i++) {
		if (pending.n >= SCHED_PENDING_MAX) {
			log_warnx("database: %d results held; dropping the "
			    "oldest", SCHED_PENDING_MAX);
			crawl_result_free(&pending.v[0]);
			memmove(&pending.v[0], &pending.v[1],
			    (pending.n - 1) * sizeof(*pending.v));
			pending.n--;
		}
		pending.v = xreallocarray(pending.v, pending.n + 1,
		    sizeof(*pending.v));
		pending.v[pending.n++] = rs->v[i];
		memset(&rs->v[i], 0, sizeof(rs->v[i]));
	}
	crawl_results_free(rs);
	if (sched_retry_ev != NULL && !evtimer_pending(sched_retry_ev, NULL)) {
		struct timeval tv = { SCHED_RETRY_MS / 1000, 0 };

		evtimer_add(sched_retry_ev, &tv);
	}
}

/* Store the batch of results gathered so far. */
static void
sched_batch_flush(void)
{
	if (sched_batch_ev != NULL)
		event_del(sched_batch_ev);
	sched_store_now(&batch);
}

static void
sched_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sched_batch_flush();
}

/*
 * Store results in batches: the results of the crawls that end within
 * SCHED_BATCH_MS of the first (up to SCHED_BATCH_MAX) are written in one
 * transaction, not one transaction per crawl.  A transaction writes every
 * page it touched to the WAL, and the crawls of one round touch the same
 * index and table pages: one per crawl wrote about 25 pages (100 KB) a
 * crawl, in the event loop.  The end of a round, a reload and the exit
 * write what is waiting at once.
 */
static void
sched_store(struct crawl_results *rs)
{
	struct timeval tv = { 0, SCHED_BATCH_MS * 1000 };
	size_t i;

	if (rs->n == 0)
		return;
	batch.v = xreallocarray(batch.v, batch.n + rs->n, sizeof(*batch.v));
	for (i = 0; i < rs->n; i++)
		batch.v[batch.n++] = rs->v[i];
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
	if (batch.n >= SCHED_BATCH_MAX || sched_batch_ev == NULL)
		sched_batch_flush();
	else if (!evtimer_pending(sched_batch_ev, NULL))
		evtimer_add(sched_batch_ev, &tv);
}

/*
 * Write the batch not yet stored and results that an earlier store failure
 * held back; 0 when none are left.
 */
int
sched_flush_pending(void)
{
	char err[512];

	sched_batch_flush();
	if (pending.n == 0)
		return 0;
	if (store_save_batch(env->store, pending.v, pending.n, err,
	    sizeof(err)) == -1) {
		log_debug("database still failing: %s", err);
		return -1;
	}
	log_info("database writable again: %zu held results written",
	    pending.n);
	crawl_results_free(&pending);
	store_failing = 0;
	return 0;
}

static void
sched_retry(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { SCHED_RETRY_MS / 1000, 0 };

	(void)fd;
	(void)what;
	(void)arg;
	if (sched_flush_pending() == -1)
		evtimer_add(sched_retry_ev, &tv);
}

static void
sched_round_end(void)
{
	sched_batch_flush();		/* the rules see every crawl */
	rnd.active = 0;
	rnd.finished = time(NULL);
	rnd.last_started = rnd.started;
	rnd.last_finished = rnd.finished;
	rnd.last_crawls = rnd.crawls;
	rnd.last_failed = rnd.failed;
	log_info("round finished: %d crawls, %d failed, %lld s",
	    rnd.crawls, rnd.failed,
	    (long long)(rnd.finished - rnd.started));
	maildatd_round_end();
	if (sched_once) {
		struct unit *u;

		TAILQ_FOREACH(u, &units, entry)
			if (!u->done_once)
				return;
		env->exit_status = rnd.failed > 0 ? 1 : 0;
		maildatd_stop();
	}
}

static int
sched_has_location(const struct crawl_results *rs, const char *location)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		if (strcmp(rs->v[i].location, location) == 0)
			return 1;
	return 0;
}

/*
 * A crawl reports the postoffices it found.  One this unit found before
 * (one folder down, or on a discovered share) that it did not report now
 * gets a failed result of its own, so that its history and the unreachable
 * rule see it: the URL's failure when the URL failed, else "no longer
 * found".  Each unit answers only for what it found itself, so targets
 * that overlap (another share, other credentials) do not contradict it.
 */
static void
sched_add_missing(struct unit *u, struct crawl_results *rs)
{
	const struct crawl_result *f, *bf;
	struct crawl_result *r;
	size_t i, n = rs->n, basefail = SIZE_MAX;

	/*
	 * The URL's own failure is found by index: rs->v moves as the
	 * missing results are appended below.
	 */
	for (i = 0; i < n; i++)
		if (strcmp(rs->v[i].location, u->base) == 0 &&
		    !rs->v[i].has_master && rs->v[i].outcome !=
		    CRAWL_NOT_POSTOFFICE)
			basefail = i;
	for (i = 0; i < u->found.n; i++) {
		f = &u->found.v[i];
		if (sched_has_location(rs, f->location))
			continue;
		rs->v = xreallocarray(rs->v, rs->n + 1, sizeof(*rs->v));
		r = &rs->v[rs->n++];
		memset(r, 0, sizeof(*r));
		r->location = xstrdup(f->location);
		r->host = xstrdup(f->host);
		r->port = f->port;
		r->share = xstrdup(f->share);
		r->path = xstrdup(f->path);
		r->started_us = r->finished_us = clock_wall_us();
		if (basefail != SIZE_MAX) {
			bf = &rs->v[basefail];
			r->outcome = bf->outcome;
			r->error = xstrdup(bf->error ? bf->error :
			    crawl_outcome_name(bf->outcome));
		} else {
			r->outcome = CRAWL_NOT_POSTOFFICE;
			r->error = xasprintf("no longer found in %s (searched "
			    "there and one folder down)", u->base);
		}
	}
	/* Remember what this crawl found, for the next one. */
	for (i = 0; i < rs->n; i++) {
		if (!rs->v[i].has_master ||
		    sched_has_location(&u->found, rs->v[i].location))
			continue;
		u->found.v = xreallocarray(u->found.v, u->found.n + 1,
		    sizeof(*u->found.v));
		r = &u->found.v[u->found.n++];
		memset(r, 0, sizeof(*r));
		r->location = xstrdup(rs->v[i].location);
		r->host = xstrdup(rs->v[i].host);
		r->port = rs->v[i].port;
		r->share = xstrdup(rs->v[i].share);
		r->path = xstrdup(rs->v[i].path);
	}
}

/* A unit's crawl is over: record, reschedule, account. */
static void
sched_unit_done(struct unit *u, struct crawl_results *rs)
{
	const struct conf_target *t = sched_target(u->target);
	struct lockout *l;
	size_t i;
	int contact = 0, authfail = 0;

	for (i = 0; i < rs->n; i++) {
		enum crawl_outcome o = rs->v[i].outcome;

		env->outcomes[o < CRAWL_NOUTCOMES ? o : CRAWL_ERROR]++;
		rnd.crawls++;
		if (o != CRAWL_OK)
			rnd.failed++;
		if (sched_contact(o))
			contact = 1;
		if (o == CRAWL_AUTH_FAILED)
			authfail = 1;
	}
	if (t != NULL && t->credentials != NULL) {
		l = sched_lockout(t->credentials, u->host, authfail);
		if (l != NULL && authfail && !contact) {
			l->count++;
			if (env->conf->lockout_after > 0 && !l->suspended &&
			    l->count >= env->conf->lockout_after) {
				l->suspended = 1;
				log_warnx("credentials %s refused %d times by "
				    "%s: no longer used there until reload, "
				    "so the account is not locked out",
				    l->cred, l->count, u->host);
			}
		} else if (l != NULL && contact)
			l->count = 0;
	}
	sched_store(rs);
	u->failures = contact ? 0 : u->failures + 1;
	u->busy = 0;
	u->done_once = 1;
	sched_nbusy--;
	if (t != NULL)
		sched_reschedule(u, t);
	else {
		/* Removed by a reload while it ran. */
		TAILQ_REMOVE(&units, u, entry);
		sched_nunits--;
		sched_unit_free(u);
	}
	if (rnd.active && sched_nbusy == 0)
		sched_round_end();
}

static void
sched_job_done(void *arg, struct crawl_results *rs, enum crawl_outcome fail,
    const char *msg, int64_t started_us)
{
	struct unit *u = arg;
	struct crawl_results mine;

	if (rs == NULL) {
		/* Cancelled before it ran: nothing happened, nothing to keep. */
		u->busy = 0;
		sched_nbusy--;
		return;
	}
	mine = *rs;
	rs->v = NULL;
	rs->n = 0;
	if (fail != CRAWL_OK) {
		crawl_result_fail(&mine, u->url, fail, msg);
		if (started_us != 0)	/* the crawl began when the job did */
			mine.v[mine.n - 1].started_us = started_us;
	}
	sched_add_missing(u, &mine);
	sched_unit_done(u, &mine);
}

static char *
sched_dup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
sched_probed(void *arg, int ok, const char *msg)
{
	struct unit *u = arg;
	const struct conf_target *t = sched_target(u->target);
	const struct conf_credentials *cr = NULL;
	struct crawl_results rs = { NULL, 0 };
	struct pool_job *job;
	static uint64_t jobid;

	if (!ok || t == NULL || sched_stopped) {
		if (sched_stopped || t == NULL)
			msg = "not crawled: maildatd is stopping or the target "
			    "was removed";
		crawl_result_fail(&rs, u->url, ok ? CRAWL_ERROR :
		    CRAWL_UNREACHABLE, msg);
		sched_add_missing(u, &rs);
		sched_unit_done(u, &rs);
		return;
	}
	if (t->credentials != NULL)
		cr = conf_find_credentials(env->conf, t->credentials);
	job = xcalloc(1, sizeof(*job));
	job->mj.id = ++jobid;
	job->mj.url = xstrdup(u->url);
	job->mj.discover = u->discover;
	if (cr != NULL) {
		job->mj.username = sched_dup(cr->username);
		job->mj.password = sched_dup(cr->password);
		job->mj.domain = sched_dup(cr->domain);
	}
	job->mj.min_protocol = sched_dup(t->min_protocol);
	job->mj.max_protocol = sched_dup(t->max_protocol);
	job->mj.timeout_ms = (int32_t)t->timeout_ms;
	job->mj.connect_timeout_ms = (int32_t)env->conf->connect_timeout_ms;
	job->mj.smb_conf = sched_dup(env->conf->smb_conf);
	job->deadline_ms = t->timeout_ms;
	job->done = sched_job_done;
	job->arg = u;
	pool_submit(job);
}

/* Start the crawl of a due unit, unless its credential is suspended. */
static void
sched_begin(struct unit *u, int64_t now)
{
	const struct conf_target *t = sched_target(u->target);
	struct lockout *l;

	if (t != NULL && t->credentials != NULL &&
	    (l = sched_lockout(t->credentials, u->host, 0)) != NULL &&
	    l->suspended) {
		/* Not tried: check again after an interval. */
		u->due_ms = now + t->interval_ms;
		u->done_once = 1;
		return;
	}
	if (!rnd.active) {
		rnd.active = 1;
		rnd.started = time(NULL);
		rnd.crawls = rnd.failed = 0;
	}
	u->busy = 1;
	sched_nbusy++;
	probe_start(u->host, u->port, (int)env->conf->connect_timeout_ms,
	    sched_probed, u);
}

static void
sched_tick(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, SCHED_TICK_MS * 1000 };
	struct unit *u;
	int64_t now = clock_mono_ms();
	int room;

	(void)fd;
	(void)what;
	(void)arg;
	if (sched_stopped)
		return;
	TAILQ_FOREACH(u, &units, entry) {
		if (u->busy || u->due_ms > now)
			continue;
		/* Bound probes and queued jobs; the rest wait a tick. */
		room = pool_size() * SCHED_QUEUE_PER_WORKER - pool_queued();
		if (room <= 0)
			break;
		if (probe_inflight() >= sched_max_probes) {
			/*
			 * Every probe is taken, most likely by hosts that do
			 * not answer.  Those refused free their probe within
			 * milliseconds: look again soon, so that the units
			 * behind them (live hosts among them) do not wait a
			 * whole tick.
			 */
			tv.tv_usec = SCHED_RETICK_MS * 1000;
			break;
		}
		sched_begin(u, now);
	}
	if (rnd.active && sched_nbusy == 0)
		sched_round_end();
	evtimer_add(sched_tick_ev, &tv);
}

/* Start the scheduling timer; with once, crawl every unit now, one round. */
void
sched_start(int once)
{
	struct timeval tv = { 0, 0 };
	struct rlimit rl;

	sched_once = once;
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	/*
	 * A probe holds one socket for up to connect_timeout: as many as the
	 * fd limit allows, so that thousands of dead hosts pass quickly.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		sched_max_probes = rl.rlim_cur > SCHED_MAX_PROBES +
		    SCHED_FD_RESERVE ? SCHED_MAX_PROBES :
		    (int)rl.rlim_cur - SCHED_FD_RESERVE;
	else
		sched_max_probes = SCHED_MAX_PROBES;
	if (sched_max_probes < 16)
		sched_max_probes = 16;
	log_debug("up to %d TCP probes at once", sched_max_probes);
	sched_tick_ev = evtimer_new(env->base, sched_tick, NULL);
	sched_retry_ev = evtimer_new(env->base, sched_retry, NULL);
	sched_batch_ev = evtimer_new(env->base, sched_batch_cb, NULL);
	if (sched_tick_ev == NULL || sched_retry_ev == NULL ||
	    sched_batch_ev == NULL)
		fatalx("evtimer_new");
	evtimer_add(sched_tick_ev, &tv);
}

/* Make the units of target (NULL: all) due now; returns how many. */
int
sched_crawl_now(const char *target)
{
	struct unit *u;
	int64_t now = clock_mono_ms();
	int n = 0;

	TAILQ_FOREACH(u, &units, entry) {
		if (target != NULL && strcmp(u->target, target) != 0)
			continue;
		if (!u->busy)
			u->due_ms = now;
		n++;
	}
	return n;
}

/* Stop starting new crawls (work under way goes on). */
void
sched_stop(void)
{
	sched_stopped = 1;
	if (sched_tick_ev != NULL)
		evtimer_del(sched_tick_ev);
}

/* Return 1 when no probe, queued job or crawl is under way. */
int
sched_idle(void)
{
	return sched_nbusy == 0;
}

/* Return the number of results held back because the store refused them. */
size_t
sched_held(void)
{
	return pending.n;
}

/* Return the number of crawls of the current or last round that failed. */
int
sched_round_failed(void)
{
	return rnd.active ? rnd.failed : rnd.last_failed;
}

static void
sched_time(struct evbuffer *out, const char *key, time_t t)
{
	char buf[32];
	struct tm tm;

	if (t == 0) {
		evbuffer_add_printf(out, "%s: never\n", key);
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	evbuffer_add_printf(out, "%s: %s\n", key, buf);
}

/* Append status lines ("key: value") to out. */
void
sched_status(struct evbuffer *out)
{
	struct lockout *l;
	int nsusp = 0, i;

	evbuffer_add_printf(out, "locations: %d\n", sched_nunits);
	evbuffer_add_printf(out, "in_progress: %d\n", sched_nbusy);
	evbuffer_add_printf(out, "probing: %d\n", probe_inflight());
	evbuffer_add_printf(out, "round_active: %s\n", rnd.active ? "yes" :
	    "no");
	sched_time(out, "last_round_started", rnd.last_started);
	sched_time(out, "last_round_finished", rnd.last_finished);
	evbuffer_add_printf(out, "last_round_crawls: %d\n", rnd.last_crawls);
	evbuffer_add_printf(out, "last_round_failed: %d\n", rnd.last_failed);
	for (i = 0; i < CRAWL_NOUTCOMES; i++)
		evbuffer_add_printf(out, "crawls_%s: %llu\n",
		    crawl_outcome_name((enum crawl_outcome)i),
		    (unsigned long long)env->outcomes[i]);
	evbuffer_add_printf(out, "results_held: %zu\n", pending.n);
	TAILQ_FOREACH(l, &lockouts, entry)
		if (l->suspended) {
			evbuffer_add_printf(out, "suspended_credentials: %s on "
			    "%s\n", l->cred, l->host);
			nsusp++;
		}
	if (nsusp == 0)
		evbuffer_add_printf(out, "suspended_credentials: none\n");
}

/* Free all units and held-back results. */
void
sched_free(void)
{
	struct unit *u;
	struct lockout *l;

	while ((u = TAILQ_FIRST(&units)) != NULL) {
		TAILQ_REMOVE(&units, u, entry);
		sched_unit_free(u);
	}
	while ((l = TAILQ_FIRST(&lockouts)) != NULL) {
		TAILQ_REMOVE(&lockouts, l, entry);
		free(l->cred);
		free(l->host);
		free(l);
	}
	crawl_results_free(&pending);
	crawl_results_free(&batch);
	if (sched_tick_ev != NULL)
		event_free(sched_tick_ev);
	if (sched_retry_ev != NULL)
		event_free(sched_retry_ev);
	if (sched_batch_ev != NULL)
		event_free(sched_batch_ev);
	sched_tick_ev = sched_retry_ev = sched_batch_ev = NULL;
	sched_nunits = 0;
}
