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
#include "location.h"
#include "log.h"
#include "pool.h"
#include "probe.h"
#include "recorder.h"
#include "result.h"
#include "sched.h"
#include "tickets.h"
#include "targets.h"
#include "xmalloc.h"

#define SCHED_TICK_MS		250
#define SCHED_RETICK_MS		20	/* sooner while probes are all taken */
#define SCHED_MAX_PROBES	8192	/* TCP probes under way, at most */
#define SCHED_FD_RESERVE	256	/* fds kept for workers, db, control */
#define SCHED_QUEUE_PER_WORKER	4	/* jobs queued per worker, at most */
#define SCHED_NBUCKETS		16384	/* hash of units by location key */

/* One location to crawl, with its schedule. */
struct unit {
	TAILQ_ENTRY(unit)	 entry;
	struct unit		*hnext;		/* in sched_hash[] */
	char			*target;	/* the target it comes from */
	struct location		 loc;		/* what the job crawls */
	char			*key;		/* location_key(&loc) */
	char			*unc;		/* location_unc(&loc) */
	struct results		 found;		/* postoffices it has found
						   (their locations only) */
	int64_t			 due_ms;	/* monotonic */
	int			 failures;	/* crawls in a row that reached
						   no server */
	int			 busy;		/* probing, queued or crawling */
	int			 crawled;	/* since start */
	int			 configured;	/* still in the configuration */
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
 * Units by location key, so that loading 10,000 locations does not compare
 * each with every unit before it.
 */
static struct unit		*sched_hash[SCHED_NBUCKETS];
static TAILQ_HEAD(, lockout)	 lockouts = TAILQ_HEAD_INITIALIZER(lockouts);
static struct event_base	*sched_base;
static struct sched_hooks	 sched_hooks;
static const struct conf	*sched_conf;
static struct event		*sched_tick_ev;
static int			 sched_nunits;
static int			 sched_nbusy;
static int			 sched_stopped;
static int			 sched_max_probes = 1000;
static uint64_t			 sched_outcomes[OUTCOME_COUNT];

/* The round under way (active), and the last one that finished. */
static struct {
	int			 active;
	struct sched_round	 now;
	struct sched_round	 last;
} sched_round;

static void	sched_tick(evutil_socket_t, short, void *);

static const struct conf_target *
sched_target(const char *name)
{
	size_t i;

	for (i = 0; i < sched_conf->ntargets; i++)
		if (strcmp(sched_conf->targets[i].name, name) == 0)
			return &sched_conf->targets[i];
	return NULL;
}

static unsigned
sched_hashkey(const char *key)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % SCHED_NBUCKETS;
}

static struct unit *
sched_find(const char *key)
{
	struct unit *u;

	for (u = sched_hash[sched_hashkey(key)]; u != NULL; u = u->hnext)
		if (strcmp(u->key, key) == 0)
			return u;
	return NULL;
}

/* Keep the unit for tl, making it if it is new. */
static void
sched_add(const struct target_location *tl)
{
	struct unit *u;
	unsigned h;

	if ((u = sched_find(tl->key)) != NULL) {
		u->configured = 1;
		if (strcmp(u->target, tl->target) != 0) {
			free(u->target);
			u->target = xstrdup(tl->target);
		}
		return;
	}
	u = xcalloc(1, sizeof(*u));
	u->target = xstrdup(tl->target);
	location_copy(&u->loc, &tl->loc);
	u->key = xstrdup(tl->key);
	u->unc = location_unc(&u->loc);
	u->due_ms = clock_mono_ms();
	u->configured = 1;
	TAILQ_INSERT_TAIL(&units, u, entry);
	sched_nunits++;
	h = sched_hashkey(u->key);
	u->hnext = sched_hash[h];
	sched_hash[h] = u;
}

/* Take u off the list of units and free it. */
static void
sched_unit_free(struct unit *u)
{
	struct unit **pp;

	for (pp = &sched_hash[sched_hashkey(u->key)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == u) {
			*pp = u->hnext;
			break;
		}
	TAILQ_REMOVE(&units, u, entry);
	sched_nunits--;
	free(u->target);
	location_free(&u->loc);
	free(u->key);
	free(u->unc);
	results_free(&u->found);
	free(u);
}

static void
sched_lockouts_free(void)
{
	struct lockout *l;

	while ((l = TAILQ_FIRST(&lockouts)) != NULL) {
		TAILQ_REMOVE(&lockouts, l, entry);
		free(l->cred);
		free(l->host);
		free(l);
	}
}

/* Set up on base; hooks (copied) report to the caller. */
void
sched_init(struct event_base *base, const struct sched_hooks *hooks)
{
	sched_base = base;
	sched_hooks = *hooks;
}

/* (Re)build the units from c, keeping the schedule of units that remain. */
void
sched_load(const struct conf *c)
{
	struct target_location *v;
	struct unit *u, *tmp;
	size_t i, n;

	sched_conf = c;
	TAILQ_FOREACH(u, &units, entry)
		u->configured = 0;
	if (targets_expand(c, &v, &n, NULL) == -1)
		fatalx("sched: the targets of %s do not expand", c->path);
	for (i = 0; i < n; i++)
		sched_add(&v[i]);
	targets_free(v, n);
	/* Units no longer configured go; a busy one when its crawl ends. */
	TAILQ_FOREACH_SAFE(u, &units, entry, tmp)
		if (!u->configured && !u->busy)
			sched_unit_free(u);
	/* A reload forgives suspended credentials. */
	sched_lockouts_free();
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
	int64_t iv = t->interval_ms;
	int64_t delay, cap = sched_conf->backoff_max_ms;
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

/* Return 1 if a crawl with outcome o reached a postoffice server. */
static int
sched_reached_server(enum outcome o)
{
	return o == OUTCOME_OK || o == OUTCOME_MALFORMED ||
	    o == OUTCOME_NOT_POSTOFFICE;
}

static void
sched_round_end(void)
{
	struct unit *u;

	sched_round.active = 0;
	sched_round.now.finished = time(NULL);
	sched_round.now.all_crawled = 1;
	TAILQ_FOREACH(u, &units, entry)
		if (!u->crawled)
			sched_round.now.all_crawled = 0;
	sched_round.last = sched_round.now;
	log_info("round finished: %d crawls, %d failed, %lld s",
	    sched_round.now.crawls, sched_round.now.failed,
	    (long long)(sched_round.now.finished - sched_round.now.started));
	if (sched_hooks.round_done != NULL)
		sched_hooks.round_done(&sched_round.last, sched_hooks.arg);
}

/*
 * Return 1 if r is of u's location: the same server and share, and u's
 * folder or one below it (on a discovered host, any share).  A worker
 * that says otherwise may have been taken over by a hostile server.
 */
static int
sched_result_of(const struct unit *u, const struct result *r)
{
	const char *p = r->loc.path;
	size_t n = strlen(u->loc.path);

	if (strcmp(r->loc.host, u->loc.host) != 0 || r->loc.port != u->loc.port)
		return 0;
	if (u->loc.discover)
		return r->loc.share[0] == '\0' ? p[0] == '\0' :
		    strchr(p, '/') == NULL;
	if (strcmp(r->loc.share, u->loc.share) != 0)
		return 0;
	if (strncmp(p, u->loc.path, n) != 0)
		return 0;
	p += n;
	if (*p == '\0')
		return 1;
	if (n > 0 && *p++ != '/')
		return 0;
	return *p != '\0' && strchr(p, '/') == NULL;
}

/*
 * A crawl reports the postoffices it found.  One this unit found before
 * (one folder down, or on a discovered share) that it did not report now
 * gets a failed result of its own, so that its history and the unreachable
 * rule see it: the unit's failure when its own location failed, else "no
 * longer found".  Each unit answers only for what it found itself, so
 * targets that overlap do not contradict it.
 */
static void
sched_add_missing(struct unit *u, struct results *rs)
{
	const struct result *f;
	struct result *r;
	size_t i, n = rs->n, basefail = SIZE_MAX;

	/*
	 * The unit's own failure is found by index: rs->v moves as the
	 * missing results are appended below.
	 */
	for (i = 0; i < n; i++)
		if (strcmp(rs->v[i].key, u->key) == 0 &&
		    !rs->v[i].has_master && rs->v[i].outcome !=
		    OUTCOME_NOT_POSTOFFICE)
			basefail = i;
	for (i = 0; i < u->found.n; i++) {
		f = &u->found.v[i];
		if (results_find(rs, f->key) != -1)
			continue;
		r = results_add(rs, &f->loc, clock_wall_us());
		r->finished_us = r->started_us;
		if (basefail != SIZE_MAX) {
			r->outcome = rs->v[basefail].outcome;
			r->error = xstrdup(rs->v[basefail].error ?
			    rs->v[basefail].error :
			    result_outcome_name(rs->v[basefail].outcome));
		} else {
			r->outcome = OUTCOME_NOT_POSTOFFICE;
			r->error = xasprintf("no longer found in %s (searched "
			    "there and one folder down)", u->unc);
		}
	}
	/* Remember what this crawl found, for the next one. */
	for (i = 0; i < rs->n; i++)
		if (rs->v[i].has_master &&
		    results_find(&u->found, rs->v[i].key) == -1)
			results_add(&u->found, &rs->v[i].loc, 0);
}

/* A unit's crawl is over: account, record, reschedule. */
static void
sched_unit_done(struct unit *u, struct results *rs)
{
	const struct conf_target *t = sched_target(u->target);
	struct lockout *l;
	size_t i;
	int contact = 0, authfail = 0;

	for (i = 0; i < rs->n; i++) {
		enum outcome o = rs->v[i].outcome;

		sched_outcomes[o < OUTCOME_COUNT ? o : OUTCOME_ERROR]++;
		sched_round.now.crawls++;
		if (o != OUTCOME_OK)
			sched_round.now.failed++;
		if (sched_reached_server(o))
			contact = 1;
		if (o == OUTCOME_AUTH_FAILED)
			authfail = 1;
	}
	if (t != NULL && t->credentials != NULL) {
		l = sched_lockout(t->credentials, u->loc.host, authfail);
		if (l != NULL && authfail && !contact) {
			l->count++;
			if (sched_conf->lockout_after > 0 && !l->suspended &&
			    l->count >= sched_conf->lockout_after) {
				l->suspended = 1;
				log_warnx("credentials %s refused %d times by "
				    "%s: no longer used there until reload, "
				    "so the account is not locked out",
				    l->cred, l->count, u->loc.host);
			}
		} else if (l != NULL && contact)
			l->count = 0;
	}
	recorder_submit(rs);
	u->failures = contact ? 0 : u->failures + 1;
	u->busy = 0;
	u->crawled = 1;
	sched_nbusy--;
	if (t != NULL && u->configured)
		sched_reschedule(u, t);
	else
		sched_unit_free(u);	/* removed by a reload while it ran */
	if (sched_round.active && sched_nbusy == 0)
		sched_round_end();
}

static void
sched_job_done(void *arg, struct results *rs, enum outcome fail,
    const char *msg, int64_t started_us)
{
	struct unit *u = arg;
	struct results mine = { NULL, 0 };
	size_t i;

	if (rs == NULL) {
		/* Cancelled before it ran: nothing happened, nothing to keep. */
		u->busy = 0;
		sched_nbusy--;
		return;
	}
	for (i = 0; i < rs->n; i++) {
		if (sched_result_of(u, &rs->v[i])) {
			results_take(&mine, &rs->v[i]);
			continue;
		}
		log_warnx("a crawl worker reported %s for a crawl of %s; "
		    "ignored", rs->v[i].unc, u->unc);
	}
	if (fail != OUTCOME_OK) {
		results_fail(&mine, &u->loc, fail, msg);
		if (started_us != 0)	/* the crawl began when the job did */
			mine.v[mine.n - 1].started_us = started_us;
	} else if (mine.n == 0)
		results_fail(&mine, &u->loc, OUTCOME_ERROR, "the crawl worker "
		    "reported nothing");
	sched_add_missing(u, &mine);
	sched_unit_done(u, &mine);
}

/* What the worker needs for Kerberos with credentials cr. */
static void
sched_kerberos(struct ipc_job *j, const struct conf_credentials *cr)
{
	const char *cc, *err;

	j->kerberos = cr->kerberos == CONF_KRB_REQUIRED ? IPC_KRB_REQUIRED :
	    cr->kerberos == CONF_KRB_YES ? IPC_KRB_YES : IPC_KRB_NO;
	if (j->kerberos == IPC_KRB_NO)
		return;
	if (cr->ccache != NULL)
		j->ccache = cr->ccache[0] == '/' ?
		    xasprintf("FILE:%s", cr->ccache) : xstrdup(cr->ccache);
	else if (cr->kt != NULL) {
		if ((cc = tickets_ccache(cr->name, &err)) != NULL)
			j->ccache = xstrdup(cc);
		else
			j->krb_error = xstrdup(err != NULL ? err :
			    "Kerberos: no ticket for these credentials");
	}
}

static void
sched_probed(void *arg, int ok, const char *msg)
{
	struct unit *u = arg;
	const struct conf_target *t = sched_target(u->target);
	const struct conf_credentials *cr = NULL;
	struct results rs = { NULL, 0 };
	struct pool_job *job;
	static uint64_t jobid;

	if (!ok || t == NULL || !u->configured || sched_stopped) {
		if (sched_stopped || t == NULL || !u->configured)
			msg = "not crawled: maildatd is stopping or the target "
			    "was removed";
		results_fail(&rs, &u->loc, ok ? OUTCOME_ERROR :
		    OUTCOME_UNREACHABLE, msg);
		sched_add_missing(u, &rs);
		sched_unit_done(u, &rs);
		return;
	}
	if (t->credentials != NULL)
		cr = conf_find_credentials(sched_conf, t->credentials);
	job = xcalloc(1, sizeof(*job));
	job->mj.id = ++jobid;
	location_copy(&job->mj.loc, &u->loc);
	if (cr != NULL) {
		job->mj.username = xstrdup_null(cr->username);
		job->mj.password = xstrdup_null(cr->password);
		job->mj.domain = xstrdup_null(cr->domain);
		sched_kerberos(&job->mj, cr);
	}
	job->mj.min_protocol = xstrdup_null(t->min_protocol);
	job->mj.max_protocol = xstrdup_null(t->max_protocol);
	job->mj.timeout_ms = (int32_t)t->timeout_ms;
	job->mj.connect_timeout_ms = (int32_t)sched_conf->connect_timeout_ms;
	job->mj.smb_conf = xstrdup_null(sched_conf->smb_conf);
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
	    (l = sched_lockout(t->credentials, u->loc.host, 0)) != NULL &&
	    l->suspended) {
		/* Not tried: check again after an interval. */
		u->due_ms = now + t->interval_ms;
		u->crawled = 1;
		return;
	}
	if (!sched_round.active) {
		sched_round.active = 1;
		memset(&sched_round.now, 0, sizeof(sched_round.now));
		sched_round.now.started = time(NULL);
	}
	u->busy = 1;
	sched_nbusy++;
	probe_start(u->loc.host, u->loc.port,
	    (int)sched_conf->connect_timeout_ms, sched_probed, u);
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
	if (sched_round.active && sched_nbusy == 0)
		sched_round_end();
	evtimer_add(sched_tick_ev, &tv);
}

/* Start the scheduling timer: every unit is due at once. */
void
sched_start(void)
{
	struct timeval tv = { 0, 0 };
	struct rlimit rl;

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
	if ((sched_tick_ev = evtimer_new(sched_base, sched_tick, NULL)) == NULL)
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
		if (!u->configured || (target != NULL &&
		    strcmp(u->target, target) != 0))
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
	struct unit *u;
	struct lockout *l;
	int nsusp = 0, nloc = 0, i;

	TAILQ_FOREACH(u, &units, entry)
		if (u->configured)
			nloc++;
	evbuffer_add_printf(out, "locations: %d\n", nloc);
	evbuffer_add_printf(out, "in_progress: %d\n", sched_nbusy);
	evbuffer_add_printf(out, "probing: %d\n", probe_inflight());
	evbuffer_add_printf(out, "round_active: %s\n", sched_round.active ?
	    "yes" : "no");
	sched_time(out, "last_round_started", sched_round.last.started);
	sched_time(out, "last_round_finished", sched_round.last.finished);
	evbuffer_add_printf(out, "last_round_crawls: %d\n",
	    sched_round.last.crawls);
	evbuffer_add_printf(out, "last_round_failed: %d\n",
	    sched_round.last.failed);
	for (i = 0; i < OUTCOME_COUNT; i++)
		evbuffer_add_printf(out, "crawls_%s: %llu\n",
		    result_outcome_name((enum outcome)i),
		    (unsigned long long)sched_outcomes[i]);
	evbuffer_add_printf(out, "results_held: %zu\n", recorder_held());
	TAILQ_FOREACH(l, &lockouts, entry)
		if (l->suspended) {
			evbuffer_add_printf(out, "suspended_credentials: %s on "
			    "%s\n", l->cred, l->host);
			nsusp++;
		}
	if (nsusp == 0)
		evbuffer_add_printf(out, "suspended_credentials: none\n");
}

/* Free all units. */
void
sched_free(void)
{
	struct unit *u;

	while ((u = TAILQ_FIRST(&units)) != NULL)
		sched_unit_free(u);
	sched_lockouts_free();
	if (sched_tick_ev != NULL)
		event_free(sched_tick_ev);
	sched_tick_ev = NULL;
}
