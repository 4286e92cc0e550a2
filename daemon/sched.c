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
#include "json.h"
#include "location.h"
#include "log.h"
#include "pool.h"
#include "probe.h"
#include "recorder.h"
#include "result.h"
#include "sched.h"
#include "store.h"
#include "tickets.h"
#include "targets.h"
#include "xmalloc.h"

#define SCHED_TICK_MS		250
#define SCHED_RETICK_MS		20	/* sooner while probes are all taken */
#define SCHED_MAX_PROBES	8192	/* TCP probes under way, at most */
#define SCHED_FD_RESERVE	256	/* fds kept for workers, db, control */
#define SCHED_QUEUE_PER_WORKER	4	/* jobs queued per worker, at most */
#define SCHED_NBUCKETS		16384	/* hash of units by location key */

/* A postoffice a unit found (one folder down, or on a discovered share). */
struct found {
	struct location		 loc;
	char			*key;		/* location_key(&loc) */
	int			 missed;	/* crawls in a row without it */
};

/* One location to crawl, with its schedule. */
struct unit {
	TAILQ_ENTRY(unit)	 entry;
	struct unit		*hnext;		/* in sched_hash[] */
	char			*target;	/* the target it comes from */
	struct location		 loc;		/* what the job crawls */
	char			*key;		/* location_key(&loc) */
	char			*unc;		/* location_unc(&loc) */
	struct found		*found;		/* postoffices it has found */
	size_t			 nfound;
	int64_t			 due_ms;	/* monotonic */
	int			 failures;	/* crawls in a row that reached
						   no server */
	int			 busy;		/* probing, queued or crawling */
	int			 crawled;	/* since start */
	int			 configured;	/* still in the configuration */
	struct credstate	*cred;		/* counted in its inflight */
};

/*
 * The lockout guard's account of one [credentials] section: refused
 * logons in a row across every host, and the crawls under way with it.
 * A crawl is dispatched only while failures + inflight < lockout_after,
 * so that even if every crawl under way is refused, the account sees at
 * most lockout_after bad logons before the section is suspended.
 */
struct credstate {
	TAILQ_ENTRY(credstate)	 entry;
	char			*name;
	int			 failures;	/* refused in a row */
	int			 inflight;	/* crawls under way with it */
	int			 suspended;
	char			*fingerprint;	/* of the section suspended */
	char			*account;	/* DOMAIN\user */
	char			*hosts;		/* that refused, ", " joined */
	int			 nhosts;
	char			*status;	/* the last refusal's NT status */
	int64_t			 since_us;	/* suspended since, wall clock */
};

#define SCHED_HOSTS_LISTED	10	/* hosts named in a suspension */

static TAILQ_HEAD(, unit)	 units = TAILQ_HEAD_INITIALIZER(units);
/*
 * Units by location key, so that loading 10,000 locations does not compare
 * each with every unit before it.
 */
static struct unit		*sched_hash[SCHED_NBUCKETS];
static TAILQ_HEAD(, credstate)	 creds = TAILQ_HEAD_INITIALIZER(creds);
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
	int			 empty_told;	/* no units: said so once */
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

static void
sched_found_free(struct unit *u)
{
	size_t i;

	for (i = 0; i < u->nfound; i++) {
		location_free(&u->found[i].loc);
		free(u->found[i].key);
	}
	free(u->found);
	u->found = NULL;
	u->nfound = 0;
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
	sched_found_free(u);
	free(u);
}

/*
 * u is no longer configured: retire its location and the postoffices it
 * found (another unit that finds one of them brings it back).
 */
static void
sched_retire(struct unit *u)
{
	size_t i;

	recorder_retire(u->key);
	for (i = 0; i < u->nfound; i++)
		recorder_retire(u->found[i].key);
}

static void
sched_cred_free(struct credstate *cs)
{
	free(cs->name);
	free(cs->fingerprint);
	free(cs->account);
	free(cs->hosts);
	free(cs->status);
	free(cs);
}

static void
sched_creds_free(void)
{
	struct credstate *cs;

	while ((cs = TAILQ_FIRST(&creds)) != NULL) {
		TAILQ_REMOVE(&creds, cs, entry);
		sched_cred_free(cs);
	}
}

/* The guard's account of the section name, made if create. */
static struct credstate *
sched_cred(const char *name, int create)
{
	struct credstate *cs;

	TAILQ_FOREACH(cs, &creds, entry)
		if (strcmp(cs->name, name) == 0)
			return cs;
	if (!create)
		return NULL;
	cs = xcalloc(1, sizeof(*cs));
	cs->name = xstrdup(name);
	TAILQ_INSERT_TAIL(&creds, cs, entry);
	return cs;
}

/* Forget cs's refusals (a logon went through, or the operator said so). */
static void
sched_cred_reset(struct credstate *cs)
{
	cs->failures = 0;
	cs->suspended = 0;
	cs->nhosts = 0;
	cs->since_us = 0;
	free(cs->hosts);
	free(cs->status);
	free(cs->fingerprint);
	cs->hosts = cs->status = cs->fingerprint = NULL;
}

/* Add host to the hosts that refused cs, once each, the first few named. */
static void
sched_cred_host(struct credstate *cs, const char *host)
{
	char *p, *n;
	size_t len = strlen(host);

	for (p = cs->hosts; p != NULL && (p = strstr(p, host)) != NULL;
	    p += len)
		if ((p == cs->hosts || p[-1] == ' ') &&
		    (p[len] == ',' || p[len] == '\0'))
			return;
	if (cs->nhosts++ >= SCHED_HOSTS_LISTED)
		return;
	n = cs->hosts == NULL ? xstrdup(host) :
	    xasprintf("%s, %s", cs->hosts, host);
	free(cs->hosts);
	cs->hosts = n;
}

/* The NT status named in a crawl's error ("NT_STATUS_..."), or NULL. */
static char *
sched_nt_status(const char *error)
{
	const char *p;
	size_t n;

	if (error == NULL || (p = strstr(error, "NT_STATUS_")) == NULL)
		return NULL;
	for (n = 0; p[n] == '_' || (p[n] >= 'A' && p[n] <= 'Z') ||
	    (p[n] >= '0' && p[n] <= '9'); n++)
		;
	return xstrndup(p, n);
}

/* Suspend cs (refused lockout_after times): log, record. */
static void
sched_cred_suspend(struct credstate *cs, const struct conf_credentials *cr)
{
	struct store_suspension sp;
	char account[256];

	cs->suspended = 1;
	cs->since_us = clock_wall_us();
	free(cs->account);
	cs->account = xstrdup(cr != NULL ? conf_account(cr, account,
	    sizeof(account)) : "?");
	free(cs->fingerprint);
	cs->fingerprint = xstrdup(cr != NULL ? cr->fingerprint : "");
	log_warnx("credentials %s (account %s) refused %d times in a row "
	    "(%s%s%s): suspended, so that the account is not locked out; "
	    "fix its auth file or keytab and reload, or run maildatctl "
	    "resume %s",
	    cs->name, cs->account, cs->failures, cs->status ? cs->status :
	    "refused", cs->hosts ? " by " : "", cs->hosts ? cs->hosts : "",
	    cs->name);
	sp.name = cs->name;
	sp.fingerprint = cs->fingerprint;
	sp.account = cs->account;
	sp.failures = cs->failures;
	sp.hosts = cs->hosts != NULL ? cs->hosts : "";
	sp.status = cs->status;
	sp.since_us = cs->since_us;
	recorder_suspend(&sp);
}

/* Restore a suspension recorded in the database (at start). */
void
sched_restore_suspension(const struct store_suspension *sp)
{
	struct credstate *cs = sched_cred(sp->name, 1);

	sched_cred_reset(cs);
	cs->suspended = 1;
	cs->failures = sp->failures;
	cs->fingerprint = xstrdup(sp->fingerprint);
	cs->account = xstrdup(sp->account);
	cs->hosts = sp->hosts != NULL && sp->hosts[0] != '\0' ?
	    xstrdup(sp->hosts) : NULL;
	cs->status = sp->status != NULL ? xstrdup(sp->status) : NULL;
	cs->since_us = sp->since_us;
}

/*
 * Lift the suspensions whose section is gone or changed (its auth file
 * or its account); a suspension of an unchanged section stays.
 */
static void
sched_creds_check(void)
{
	const struct conf_credentials *cr;
	struct credstate *cs, *tmp;

	TAILQ_FOREACH_SAFE(cs, &creds, entry, tmp) {
		if (!cs->suspended)
			continue;
		cr = conf_find_credentials(sched_conf, cs->name);
		if (cr != NULL && strcmp(cr->fingerprint,
		    cs->fingerprint ? cs->fingerprint : "") == 0)
			continue;
		log_info("credentials %s %s: its suspension is lifted",
		    cs->name, cr == NULL ? "are no longer configured" :
		    "changed (auth file or account)");
		recorder_unsuspend(cs->name);
		sched_cred_reset(cs);
	}
}

/*
 * The status line of the suspensions: a JSON array of objects (name,
 * account, failures, hosts, status, since), "[]" when there is none.
 */
static void
sched_creds_status(struct evbuffer *out)
{
	struct credstate *cs;
	char *q[5], since[32];
	struct tm tm;
	time_t t;
	int n = 0, i;

	evbuffer_add_printf(out, "suspended_credentials: [");
	TAILQ_FOREACH(cs, &creds, entry) {
		if (!cs->suspended)
			continue;
		t = (time_t)(cs->since_us / 1000000);
		gmtime_r(&t, &tm);
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
		q[0] = json_quote(cs->name);
		q[1] = json_quote(cs->account);
		q[2] = json_quote(cs->hosts != NULL ? cs->hosts : "");
		q[3] = json_quote(cs->status);
		q[4] = json_quote(since);
		evbuffer_add_printf(out, "%s{\"name\": %s, \"account\": %s, "
		    "\"failures\": %d, \"hosts\": %s, \"status\": %s, "
		    "\"since\": %s}", n++ ? ", " : "", q[0], q[1], cs->failures,
		    q[2], q[3], q[4]);
		for (i = 0; i < 5; i++)
			free(q[i]);
	}
	evbuffer_add_printf(out, "]\n");
}

/* Lift the suspension of credentials name by hand; -1 if none. */
int
sched_resume(const char *name)
{
	struct credstate *cs = sched_cred(name, 0);
	struct unit *u;
	int64_t now = clock_mono_ms();
	const struct conf_target *t;

	if (cs == NULL || !cs->suspended)
		return -1;
	log_info("credentials %s: suspension lifted by hand (maildatctl "
	    "resume)", name);
	recorder_unsuspend(name);
	sched_cred_reset(cs);
	TAILQ_FOREACH(u, &units, entry)
		if (!u->busy && (t = sched_target(u->target)) != NULL &&
		    t->credentials != NULL && strcmp(t->credentials, name) == 0)
			u->due_ms = now;
	return 0;
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
	/*
	 * Units no longer configured go, and their locations retire; a busy
	 * one when its crawl ends.
	 */
	TAILQ_FOREACH_SAFE(u, &units, entry, tmp)
		if (!u->configured && !u->busy) {
			sched_retire(u);
			sched_unit_free(u);
		}
	/* Suspensions stay, unless their section changed. */
	sched_creds_check();
	log_info("%d locations to crawl from %zu targets", sched_nunits,
	    c->ntargets);
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
 * longer found".  After unreachable_after crawls in a row that reached the
 * unit's location but not the postoffice, the unit forgets it (the
 * unreachable alert stays until retire_after retires the location), so
 * that a share whose folders come and go does not make every round
 * bigger.  Each unit answers only for what it found itself, so targets
 * that overlap do not contradict it.
 */
static void
sched_add_missing(struct unit *u, struct results *rs)
{
	struct found *f;
	struct result *r;
	size_t i, j, n = rs->n, basefail = SIZE_MAX;
	int forget = sched_conf->unreachable_after > 0 ?
	    sched_conf->unreachable_after : 1;

	/*
	 * The unit's own failure is found by index: rs->v moves as the
	 * missing results are appended below.
	 */
	for (i = 0; i < n; i++)
		if (strcmp(rs->v[i].key, u->key) == 0 &&
		    !rs->v[i].has_master && rs->v[i].outcome !=
		    OUTCOME_NOT_POSTOFFICE)
			basefail = i;
	for (i = 0; i < u->nfound; ) {
		f = &u->found[i];
		if (results_find(rs, f->key) != -1) {
			f->missed = 0;
			i++;
			continue;
		}
		r = results_add(rs, &f->loc, clock_wall_us());
		r->finished_us = r->started_us;
		if (basefail != SIZE_MAX) {
			r->outcome = rs->v[basefail].outcome;
			r->error = xstrdup(rs->v[basefail].error ?
			    rs->v[basefail].error :
			    result_outcome_name(rs->v[basefail].outcome));
			i++;
			continue;
		}
		r->outcome = OUTCOME_NOT_POSTOFFICE;
		r->error = xasprintf("no longer found in %s (searched there "
		    "and one folder down)", u->unc);
		if (++f->missed < forget) {
			i++;
			continue;
		}
		log_info("%s: no longer found %d times in a row; no longer "
		    "crawled as part of %s", f->key, f->missed, u->unc);
		location_free(&f->loc);
		free(f->key);
		u->found[i] = u->found[--u->nfound];
	}
	/* Remember what this crawl found, for the next one. */
	for (i = 0; i < rs->n; i++) {
		if (!rs->v[i].has_master)
			continue;
		for (j = 0; j < u->nfound; j++)
			if (strcmp(u->found[j].key, rs->v[i].key) == 0)
				break;
		if (j < u->nfound)
			continue;
		u->found = xreallocarray(u->found, u->nfound + 1,
		    sizeof(*u->found));
		f = &u->found[u->nfound++];
		location_copy(&f->loc, &rs->v[i].loc);
		f->key = xstrdup(rs->v[i].key);
		f->missed = 0;
	}
}

/* A unit's crawl is over: account, record, reschedule. */
static void
sched_unit_done(struct unit *u, struct results *rs)
{
	const struct conf_target *t = sched_target(u->target);
	struct credstate *cs;
	char *st;
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
	if ((cs = u->cred) != NULL) {
		u->cred = NULL;
		cs->inflight--;
		if (authfail && !contact && !cs->suspended) {
			cs->failures++;
			sched_cred_host(cs, u->loc.host);
			for (i = 0; i < rs->n; i++)
				if (rs->v[i].outcome == OUTCOME_AUTH_FAILED &&
				    (st = sched_nt_status(rs->v[i].error)) !=
				    NULL) {
					free(cs->status);
					cs->status = st;
				}
			if (sched_conf->lockout_after > 0 &&
			    cs->failures >= sched_conf->lockout_after)
				sched_cred_suspend(cs, conf_find_credentials(
				    sched_conf, cs->name));
		} else if (contact && !cs->suspended)
			sched_cred_reset(cs);
	}
	recorder_submit(rs);
	u->failures = contact ? 0 : u->failures + 1;
	u->busy = 0;
	u->crawled = 1;
	sched_nbusy--;
	if (t != NULL && u->configured)
		sched_reschedule(u, t);
	else {
		/* Removed by a reload while it ran: its results are in. */
		sched_retire(u);
		sched_unit_free(u);
	}
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
		if (u->cred != NULL) {
			u->cred->inflight--;
			u->cred = NULL;
		}
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

/*
 * Start the crawl of a due unit, unless its credentials are suspended, or
 * as many crawls with them are under way as may still be refused.
 */
static void
sched_begin(struct unit *u, int64_t now)
{
	const struct conf_target *t = sched_target(u->target);
	struct credstate *cs = NULL;

	if (t != NULL && t->credentials != NULL) {
		cs = sched_cred(t->credentials, 1);
		if (cs->suspended) {
			/* Not tried: look again after an interval. */
			u->due_ms = now + t->interval_ms;
			u->crawled = 1;
			return;
		}
		if (sched_conf->lockout_after > 0 && cs->failures +
		    cs->inflight >= sched_conf->lockout_after) {
			/* Wait for the answers of those under way. */
			u->due_ms = now + SCHED_TICK_MS;
			return;
		}
		cs->inflight++;
		u->cred = cs;
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
	if (sched_nunits == 0 && !sched_round.empty_told) {
		/* Nothing to crawl: an empty round (--once exits on it). */
		sched_round.empty_told = 1;
		memset(&sched_round.now, 0, sizeof(sched_round.now));
		sched_round.now.started = time(NULL);
		sched_round_end();
	}
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

/* Retire the location loc by hand (maildatctl forget). */
int
sched_forget(const char *loc, char *msg, size_t msglen)
{
	struct location l;
	struct unit *u;
	char err[512], *key;
	size_t i;
	int found = 0;

	if (location_parse_user(loc, &l, err, sizeof(err)) == -1) {
		snprintf(msg, msglen, "%s", err);
		return -1;
	}
	key = location_key(&l);
	location_free(&l);
	if ((u = sched_find(key)) != NULL && u->configured) {
		snprintf(msg, msglen, "%s is in the configuration (target %s): "
		    "remove it there and reload", u->unc, u->target);
		free(key);
		return -1;
	}
	TAILQ_FOREACH(u, &units, entry)
		for (i = 0; i < u->nfound; i++)
			if (strcmp(u->found[i].key, key) == 0) {
				location_free(&u->found[i].loc);
				free(u->found[i].key);
				u->found[i] = u->found[--u->nfound];
				found = 1;
				break;
			}
	recorder_retire(key);
	log_info("%s: retired by hand (maildatctl forget)", key);
	snprintf(msg, msglen, "%s retired%s", loc, found ? "; a crawl that "
	    "finds it again brings it back" : "");
	free(key);
	return 0;
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
	int nloc = 0, i;

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
	sched_creds_status(out);
}

/* Free all units. */
void
sched_free(void)
{
	struct unit *u;

	while ((u = TAILQ_FIRST(&units)) != NULL)
		sched_unit_free(u);
	sched_creds_free();
	if (sched_tick_ev != NULL)
		event_free(sched_tick_ev);
	sched_tick_ev = NULL;
}
