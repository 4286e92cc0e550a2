/* rules: evaluate rules and keep the alert table in step with them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "confval.h"
#include "errbuf.h"
#include "rules.h"
#include "store.h"
#include "xmalloc.h"

#define RULES_DEFAULT_TIMEOUT_MS	10000

/* Built-in rules that are reported once and never repeated. */
static const char *const rules_once[] = { "postoffice-moved", NULL };

static void
rules_add(struct rules *rs, const char *name, int builtin, int severity,
    const char *sql, int64_t renotify_ms)
{
	struct rule *r;

	rs->v = xreallocarray(rs->v, rs->n + 1, sizeof(*rs->v));
	r = &rs->v[rs->n++];
	r->name = xstrdup(name);
	r->builtin = builtin;
	r->severity = severity;
	r->sql = xstrdup(sql);
	r->renotify_ms = renotify_ms;
}

static int
rules_listed(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

/*
 * Build the rules of configuration c: the built-in rules not switched off,
 * then the user rules, each query checked on st.
 */
int
rules_build(const struct conf *c, struct store *st, struct rules *out,
    struct conf_errors *errs)
{
	const struct conf_rule *cr;
	size_t i, before = errs->n;
	char why[512];
	int sev;
	int64_t renotify;

	memset(out, 0, sizeof(*out));
	out->unreachable_after = c->unreachable_after;
	out->timeout_ms = c->rule_timeout_ms > 0 ? c->rule_timeout_ms :
	    RULES_DEFAULT_TIMEOUT_MS;
	cr = conf_find_rule(c, RULES_FAILED);
	out->failed_enabled = cr == NULL || cr->enabled;
	out->failed_severity = cr != NULL ? cr->severity : LOG_ERR;
	for (i = 0; i < rules_nbuiltins; i++) {
		const struct rules_builtin *b = &rules_builtins[i];

		if (confval_severity(b->severity, &sev) == -1)
			sev = LOG_WARNING;
		cr = conf_find_rule(c, b->name);
		if (cr != NULL && !cr->enabled)
			continue;
		if (cr != NULL)
			sev = cr->severity;
		if (store_rule_check(st, b->sql, why, sizeof(why)) == -1) {
			conf_errors_add(errs, "built-in rule %s: %s", b->name,
			    why);
			continue;
		}
		renotify = cr != NULL && cr->renotify_ms ? cr->renotify_ms :
		    rules_listed(rules_once, b->name) ? 0 : c->renotify_ms;
		rules_add(out, b->name, 1, sev, b->sql, renotify);
	}
	for (i = 0; i < c->nrules; i++) {
		cr = &c->rules[i];
		if (cr->builtin || !cr->enabled || cr->query == NULL)
			continue;
		if (store_rule_check(st, cr->query, why, sizeof(why)) == -1) {
			conf_errors_add(errs, "%s:%d: rule %s: %s", c->path,
			    cr->line, cr->name, why);
			continue;
		}
		rules_add(out, cr->name, 0, cr->severity, cr->query,
		    cr->renotify_ms ? cr->renotify_ms : c->renotify_ms);
	}
	if (errs->n > before) {
		rules_free(out);
		return -1;
	}
	return 0;
}

/* Free the rules in rs. */
void
rules_free(struct rules *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++) {
		free(rs->v[i].name);
		free(rs->v[i].sql);
	}
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

/* Append an event; f (may be NULL) gives the rule row's columns. */
static void
rules_event(struct rules_events *ev, enum rules_what what, int64_t id,
    const char *rule, int severity, const char *key, const char *message,
    const struct store_finding *f)
{
	struct rules_event *e;
	size_t i;

	ev->v = xreallocarray(ev->v, ev->n + 1, sizeof(*ev->v));
	e = &ev->v[ev->n++];
	memset(e, 0, sizeof(*e));
	e->what = what;
	e->id = id;
	e->rule = xstrdup(rule);
	e->severity = severity;
	e->key = xstrdup(key);
	e->message = xstrdup(message);
	if (f == NULL)
		return;
	e->ncols = f->ncols;
	e->names = xcalloc(f->ncols + 1, sizeof(*e->names));
	e->values = xcalloc(f->ncols + 1, sizeof(*e->values));
	for (i = 0; i < f->ncols; i++) {
		e->names[i] = xstrdup(f->names[i]);
		e->values[i] = xstrdup_null(f->values[i]);
	}
}

static void
rules_event_free(struct rules_event *e)
{
	size_t i;

	for (i = 0; i < e->ncols; i++) {
		free(e->names[i]);
		free(e->values[i]);
	}
	free(e->names);
	free(e->values);
	free(e->rule);
	free(e->key);
	free(e->message);
}

/* Free the events in ev. */
void
rules_events_free(struct rules_events *ev)
{
	size_t i;

	for (i = 0; i < ev->n; i++)
		rules_event_free(&ev->v[i]);
	free(ev->v);
	ev->v = NULL;
	ev->n = 0;
}

/* What one rule run of one rule has to go on. */
struct rules_run {
	struct store		*st;
	const struct rules	*rs;
	const struct rule	*r;
	int64_t			 now_us;
	struct store_alert	*open;
	size_t			 nopen;
	char			*seen;		/* open[i] found again */
	struct rules_events	*ev;
	int			 failed;	/* a store operation failed */
	char			 err[512];
};

/* One finding of the rule being run: raise, update, repeat or keep. */
static int
rules_finding(void *arg, const struct store_finding *f)
{
	struct rules_run *x = arg;
	const struct rule *r = x->r;
	struct store_alert *o;
	const char *msg;
	int64_t id;
	int sev = r->severity, rc, changed, due;

	if (f->key == NULL)
		return 0;		/* a finding needs a key */
	msg = f->message != NULL ? f->message : f->key;
	if (f->severity != NULL && confval_severity(f->severity, &sev) == -1)
		sev = r->severity;
	if ((o = store_alerts_find(x->open, x->nopen, f->key)) != NULL) {
		if (x->seen[o - x->open])
			return 0;	/* a key twice: the first wins */
		x->seen[o - x->open] = 1;
		changed = strcmp(o->message, msg) != 0 || o->severity != sev;
		due = r->renotify_ms > 0 &&
		    x->now_us >= o->last_notified_us + r->renotify_ms * 1000;
		if (store_alert_seen(x->st, o->id, x->now_us, sev, msg,
		    changed || due, x->err, sizeof(x->err)) == -1) {
			x->failed = 1;
			return 1;
		}
		if (changed || due)
			rules_event(x->ev, changed ? RULES_UPDATED :
			    RULES_REPEATED, o->id, r->name, sev, f->key, msg, f);
		return 0;
	}
	rc = store_alert_raise(x->st, r->name, sev, f->key, msg, x->now_us,
	    &id, x->err, sizeof(x->err));
	if (rc == 1)
		return 0;		/* the same new key twice: first wins */
	if (rc == -1) {
		x->failed = 1;
		return 1;
	}
	rules_event(x->ev, RULES_RAISED, id, r->name, sev, f->key, msg, f);
	return 0;
}

/* Clear the open alerts of x that were not found again. */
static int
rules_clear_unseen(struct rules_run *x, const char *rule)
{
	size_t i;

	for (i = 0; i < x->nopen; i++) {
		if (x->seen != NULL && x->seen[i])
			continue;
		if (store_alert_clear(x->st, x->open[i].id, x->now_us, x->err,
		    sizeof(x->err)) == -1)
			return -1;
		rules_event(x->ev, RULES_CLEARED, x->open[i].id, rule,
		    x->open[i].severity, x->open[i].key, x->open[i].message,
		    NULL);
	}
	return 0;
}

/* The findings of one query, copied, applied once the query succeeded. */
struct rules_found {
	struct rules_row {
		char	**values;	/* ncols, NULL for NULL */
		int	  key, message, severity;	/* column index or -1 */
	}		*v;
	size_t		 n;
	size_t		 ncols;
	char		**names;
};

static int
rules_collect(void *arg, const struct store_finding *f)
{
	struct rules_found *fd = arg;
	struct rules_row *row;
	size_t i;

	if (fd->names == NULL) {
		fd->ncols = f->ncols;
		fd->names = xcalloc(f->ncols + 1, sizeof(*fd->names));
		for (i = 0; i < f->ncols; i++)
			fd->names[i] = xstrdup(f->names[i]);
	}
	fd->v = xreallocarray(fd->v, fd->n + 1, sizeof(*fd->v));
	row = &fd->v[fd->n++];
	row->values = xcalloc(f->ncols + 1, sizeof(*row->values));
	row->key = row->message = row->severity = -1;
	for (i = 0; i < f->ncols; i++) {
		row->values[i] = xstrdup_null(f->values[i]);
		if (strcmp(f->names[i], "key") == 0 && row->key == -1)
			row->key = (int)i;
		else if (strcmp(f->names[i], "message") == 0 &&
		    row->message == -1)
			row->message = (int)i;
		else if (strcmp(f->names[i], "severity") == 0 &&
		    row->severity == -1)
			row->severity = (int)i;
	}
	return 0;
}

static void
rules_found_free(struct rules_found *fd)
{
	size_t i, j;

	for (i = 0; i < fd->n; i++) {
		for (j = 0; j < fd->ncols; j++)
			free(fd->v[i].values[j]);
		free(fd->v[i].values);
	}
	for (j = 0; j < fd->ncols; j++)
		free(fd->names[j]);
	free(fd->names);
	free(fd->v);
}

/*
 * Run rule r.  Returns 0; 1 when its query failed (why in fail, its alerts
 * left as they are); -1 when the store failed (err).
 */
static int
rules_eval_one(struct rules_run *x, const struct rule *r, char *fail,
    size_t faillen)
{
	struct store_param params[] = {
		{ ":unreachable_after", x->rs->unreachable_after },
		{ ":now_us", x->now_us },
	};
	struct rules_found fd;
	struct store_finding f;
	size_t i;
	int rc, ret = 0;

	memset(&fd, 0, sizeof(fd));
	x->r = r;
	x->failed = 0;
	rc = store_rule_run(x->st, r->sql, params,
	    sizeof(params) / sizeof(params[0]), x->rs->timeout_ms,
	    rules_collect, &fd, fail, faillen);
	if (rc != 0) {
		rules_found_free(&fd);
		return 1;	/* the query failed: keep its alerts */
	}
	if (store_alerts_open(x->st, r->name, &x->open, &x->nopen, x->err,
	    sizeof(x->err)) == -1) {
		rules_found_free(&fd);
		return -1;
	}
	x->seen = xcalloc(x->nopen + 1, 1);
	for (i = 0; i < fd.n && !x->failed; i++) {
		struct rules_row *row = &fd.v[i];

		f.key = row->key >= 0 ? row->values[row->key] : NULL;
		f.message = row->message >= 0 ? row->values[row->message] :
		    NULL;
		f.severity = row->severity >= 0 ? row->values[row->severity] :
		    NULL;
		f.ncols = fd.ncols;
		f.names = (const char *const *)fd.names;
		f.values = (const char *const *)row->values;
		rules_finding(x, &f);
	}
	if (x->failed || rules_clear_unseen(x, r->name) == -1)
		ret = -1;
	rules_found_free(&fd);
	store_alerts_free(x->open, x->nopen);
	free(x->seen);
	x->open = NULL;
	x->seen = NULL;
	x->nopen = 0;
	return ret;
}

/* A failed rule's finding for rule-failed. */
struct rules_failure {
	const char	*rule;
	char		 why[512];
};

/* Reconcile the alerts of rule-failed with the failures of this run. */
static int
rules_eval_failed(struct rules_run *x, const struct rules_failure *fv,
    size_t nf)
{
	struct rule r = { (char *)RULES_FAILED, 1, x->rs->failed_severity,
	    NULL, 0 };
	struct store_finding f;
	const char *names[3] = { "key", "message", "rule" }, *values[3];
	char key[128], *msg;
	size_t i;
	int rc = 0;

	x->r = &r;
	x->failed = 0;
	if (store_alerts_open(x->st, RULES_FAILED, &x->open, &x->nopen, x->err,
	    sizeof(x->err)) == -1)
		return -1;
	x->seen = xcalloc(x->nopen + 1, 1);
	for (i = 0; i < nf && rc == 0; i++) {
		snprintf(key, sizeof(key), "rule %s", fv[i].rule);
		msg = xasprintf("The rule %s could not run: %s; its alerts "
		    "stay as they were", fv[i].rule, fv[i].why);
		values[0] = key;
		values[1] = msg;
		values[2] = fv[i].rule;
		f.key = key;
		f.message = msg;
		f.severity = NULL;
		f.ncols = 3;
		f.names = names;
		f.values = values;
		rules_finding(x, &f);
		free(msg);
		if (x->failed)
			rc = -1;
	}
	if (rc == 0 && rules_clear_unseen(x, RULES_FAILED) == -1)
		rc = -1;
	store_alerts_free(x->open, x->nopen);
	free(x->seen);
	x->open = NULL;
	x->seen = NULL;
	x->nopen = 0;
	return rc;
}

/* Return 1 if rule name is one of rs, or rule-failed while it is on. */
static int
rules_active(const struct rules *rs, const char *name)
{
	size_t i;

	if (strcmp(name, RULES_FAILED) == 0)
		return rs->failed_enabled;
	for (i = 0; i < rs->n; i++)
		if (strcmp(rs->v[i].name, name) == 0)
			return 1;
	return 0;
}

/* Clear the open alerts of rules that are no longer in rs. */
static int
rules_clear_orphans(struct rules_run *x)
{
	char **names;
	size_t n, i;
	int rc = 0;

	if (store_alert_rules(x->st, &names, &n, x->err, sizeof(x->err)) == -1)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		if (rules_active(x->rs, names[i]))
			continue;
		if (store_alerts_open(x->st, names[i], &x->open, &x->nopen,
		    x->err, sizeof(x->err)) == -1) {
			rc = -1;
			break;
		}
		rc = rules_clear_unseen(x, names[i]);
		store_alerts_free(x->open, x->nopen);
		x->open = NULL;
		x->nopen = 0;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/*
 * Run every rule of rs over st's database at time now_us and reconcile the
 * alerts in one transaction.
 */
int
rules_eval(struct store *st, const struct rules *rs, int64_t now_us,
    struct rules_events *ev, char *err, size_t errlen)
{
	struct rules_events mine = { NULL, 0 };
	struct rules_failure *fv;
	struct rules_run x;
	size_t i, nf = 0;
	int rc;

	memset(&x, 0, sizeof(x));
	x.st = st;
	x.rs = rs;
	x.now_us = now_us;
	x.ev = &mine;
	if (store_rules_begin(st, err, errlen) == -1)
		return -1;
	fv = xcalloc(rs->n + 1, sizeof(*fv));
	for (i = 0; i < rs->n; i++) {
		rc = rules_eval_one(&x, &rs->v[i], fv[nf].why,
		    sizeof(fv[nf].why));
		if (rc == -1)
			goto fail;
		if (rc == 1)
			fv[nf++].rule = rs->v[i].name;
	}
	if (rs->failed_enabled && rules_eval_failed(&x, fv, nf) == -1)
		goto fail;
	if (rules_clear_orphans(&x) == -1)
		goto fail;
	if (store_rules_commit(st, err, errlen) == -1)
		goto fail_quiet;
	free(fv);
	for (i = 0; i < mine.n; i++) {
		ev->v = xreallocarray(ev->v, ev->n + 1, sizeof(*ev->v));
		ev->v[ev->n++] = mine.v[i];
	}
	free(mine.v);
	return 0;
fail:
	errbuf_set(err, errlen, "rule %s: %s", x.r ? x.r->name : "?", x.err);
	store_rules_rollback(st);
fail_quiet:
	free(fv);
	rules_events_free(&mine);
	return -1;
}

/* Return the name of an event kind: "raised", "updated", ... */
const char *
rules_what_name(enum rules_what w)
{
	static const char *const what[] = { "raised", "updated", "repeated",
	    "cleared" };

	return (unsigned)w < 4 ? what[w] : "?";
}

/*
 * Cut msg near max bytes at a ", " between items and say how many more
 * there are; a malloc'd copy of msg when it fits.
 */
static char *
rules_summarise(const char *msg, size_t max)
{
	const char *cut = NULL, *p;
	size_t more = 0;

	if (strlen(msg) <= max)
		return xstrdup(msg);
	for (p = msg; (p = strstr(p, ", ")) != NULL && (size_t)(p - msg) <
	    max; p += 2)
		cut = p;
	if (cut == NULL)
		cut = msg + max;
	for (p = cut; (p = strstr(p, ", ")) != NULL; p += 2)
		more++;
	if (more == 0)
		more = 1;
	return xasprintf("%.*s (and %zu more)", (int)(cut - msg), msg, more);
}

/*
 * Return the text of event e for syslog: "alert 17 raised: RULE [SEV]:
 * MESSAGE", the message cut near RULES_TEXT_MAX.
 */
char *
rules_event_text(const struct rules_event *e)
{
	char *msg = rules_summarise(e->message, RULES_TEXT_MAX), *text;

	/* The sink escapes control characters on the way out. */
	text = xasprintf("alert %lld %s: %s [%s]: %s", (long long)e->id,
	    rules_what_name(e->what), e->rule,
	    confval_severity_name(e->severity), msg);
	free(msg);
	return text;
}

/* Return the shortest renotify of rs's rules, or 0 when none repeats. */
int64_t
rules_renotify_min(const struct rules *rs)
{
	int64_t m = 0;
	size_t i;

	for (i = 0; i < rs->n; i++)
		if (rs->v[i].renotify_ms > 0 &&
		    (m == 0 || rs->v[i].renotify_ms < m))
			m = rs->v[i].renotify_ms;
	return m;
}
