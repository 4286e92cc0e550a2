/* rules: evaluate rules and keep the alert table in step with them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "confval.h"
#include "rules.h"
#include "store.h"
#include "xmalloc.h"

/* One open alert of a rule, as loaded at the start of an evaluation. */
struct rules_open {
	int64_t		 id;
	char		*key;
	char		*message;
	int		 severity;
	int64_t		 last_notified_us;
	int		 seen;
};

static void
rules_adderr(struct conf_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
rules_adderr(struct conf_errors *errs, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		return;
	errs->v = xreallocarray(errs->v, errs->n + 1, sizeof(*errs->v));
	errs->v[errs->n++] = msg;
}

/*
 * Check that sql is one read-only statement returning key and message.
 * Returns NULL, or a malloc'd reason.
 */
static char *
rules_check_sql(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	const char *tail = NULL;
	int i, n, haskey = 0, hasmsg = 0;
	char *why = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, &tail) != SQLITE_OK)
		return xasprintf("%s", sqlite3_errmsg(db));
	if (stmt == NULL)
		return xstrdup("the query is empty");
	while (tail != NULL && (*tail == ' ' || *tail == '\t' ||
	    *tail == '\n' || *tail == '\r' || *tail == ';'))
		tail++;
	if (tail != NULL && *tail != '\0')
		why = xstrdup("only one statement is allowed");
	else if (!sqlite3_stmt_readonly(stmt))
		why = xstrdup("the query must only read (a SELECT over the "
		    "views)");
	else {
		n = sqlite3_column_count(stmt);
		for (i = 0; i < n; i++) {
			const char *c = sqlite3_column_name(stmt, i);

			if (c != NULL && strcmp(c, "key") == 0)
				haskey = 1;
			if (c != NULL && strcmp(c, "message") == 0)
				hasmsg = 1;
		}
		if (!haskey || !hasmsg)
			why = xasprintf("the query must return columns named "
			    "key and message (missing %s)", !haskey ? "key" :
			    "message");
	}
	sqlite3_finalize(stmt);
	return why;
}

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

/*
 * Build the rules of configuration c: the built-in rules not switched off
 * (with their configured severity and renotify), then the user rules.
 */
int
rules_build(const struct conf *c, sqlite3 *db, struct rules *out,
    struct conf_errors *errs)
{
	const struct conf_rule *cr;
	size_t i;
	char *why;
	int sev;

	memset(out, 0, sizeof(*out));
	memset(errs, 0, sizeof(*errs));
	out->unreachable_after = c->unreachable_after;
	for (i = 0; i < rules_nbuiltins; i++) {
		const struct rules_builtin *b = &rules_builtins[i];

		if (confval_severity(b->severity, &sev) == -1)
			sev = LOG_WARNING;
		cr = conf_find_rule(c, b->name);
		if (cr != NULL && !cr->enabled)
			continue;
		if (cr != NULL)
			sev = cr->severity;
		if ((why = rules_check_sql(db, b->sql)) != NULL) {
			rules_adderr(errs, "built-in rule %s: %s", b->name,
			    why);
			free(why);
			continue;
		}
		rules_add(out, b->name, 1, sev, b->sql, cr && cr->renotify_ms ?
		    cr->renotify_ms : c->renotify_ms);
	}
	for (i = 0; i < c->nrules; i++) {
		cr = &c->rules[i];
		if (cr->builtin || !cr->enabled || cr->query == NULL)
			continue;
		if ((why = rules_check_sql(db, cr->query)) != NULL) {
			rules_adderr(errs, "%s:%d: rule %s: %s", c->path,
			    cr->line, cr->name, why);
			free(why);
			continue;
		}
		rules_add(out, cr->name, 0, cr->severity, cr->query,
		    cr->renotify_ms ? cr->renotify_ms : c->renotify_ms);
	}
	if (errs->n > 0) {
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

static void
rules_event(struct rules_events *ev, enum rules_what what, int64_t id,
    const char *rule, int severity, const char *message)
{
	struct rules_event *e;

	ev->v = xreallocarray(ev->v, ev->n + 1, sizeof(*ev->v));
	e = &ev->v[ev->n++];
	e->what = what;
	e->id = id;
	e->rule = xstrdup(rule);
	e->severity = severity;
	e->message = xstrdup(message);
}

/* Free the events in ev. */
void
rules_events_free(struct rules_events *ev)
{
	size_t i;

	for (i = 0; i < ev->n; i++) {
		free(ev->v[i].rule);
		free(ev->v[i].message);
	}
	free(ev->v);
	ev->v = NULL;
	ev->n = 0;
}

static int
rules_cmp_open(const void *a, const void *b)
{
	return strcmp(((const struct rules_open *)a)->key,
	    ((const struct rules_open *)b)->key);
}

static void
rules_open_free(struct rules_open *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].message);
	}
	free(v);
}

/* Prepare sql on db; on failure set err and return NULL. */
static sqlite3_stmt *
rules_prepare(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return NULL;
	}
	return stmt;
}

/* Load the open alerts of rule (NULL: of every rule not in rs). */
static int
rules_load_open(sqlite3 *db, const char *rule, struct rules_open **out,
    size_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	struct rules_open *v = NULL;
	size_t nv = 0;
	int rc, sev;

	stmt = rules_prepare(db, "SELECT id, key, message, severity, "
	    "coalesce(last_notified_us, raised_us) FROM alert "
	    "WHERE state = 'open' AND rule = ?1", err, errlen);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, rule, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		v = xreallocarray(v, nv + 1, sizeof(*v));
		v[nv].id = sqlite3_column_int64(stmt, 0);
		v[nv].key = xstrdup((const char *)sqlite3_column_text(stmt, 1));
		v[nv].message = xstrdup((const char *)sqlite3_column_text(stmt,
		    2));
		if (confval_severity((const char *)sqlite3_column_text(stmt,
		    3), &sev) == -1)
			sev = LOG_WARNING;
		v[nv].severity = sev;
		v[nv].last_notified_us = sqlite3_column_int64(stmt, 4);
		v[nv].seen = 0;
		nv++;
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "loading alerts: %s", sqlite3_errmsg(db));
		sqlite3_finalize(stmt);
		rules_open_free(v, nv);
		return -1;
	}
	sqlite3_finalize(stmt);
	if (nv > 1)
		qsort(v, nv, sizeof(*v), rules_cmp_open);
	*out = v;
	*n = nv;
	return 0;
}

/* Run statement sql with no result rows expected; 0 or -1 with err. */
static int
rules_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

struct rules_stmts {
	sqlite3_stmt	*insert;
	sqlite3_stmt	*update;
	sqlite3_stmt	*notified;
	sqlite3_stmt	*clear;
};

/* Clear open alert o at now_us and record the event. */
static int
rules_clear(struct rules_stmts *s, const char *rule,
    const struct rules_open *o, int64_t now_us, struct rules_events *ev)
{
	sqlite3_reset(s->clear);
	sqlite3_bind_int64(s->clear, 1, o->id);
	sqlite3_bind_int64(s->clear, 2, now_us);
	if (sqlite3_step(s->clear) != SQLITE_DONE)
		return -1;
	rules_event(ev, RULES_CLEARED, o->id, rule, o->severity, o->message);
	return 0;
}

/* Evaluate one rule inside the open transaction. */
static int
rules_eval_one(sqlite3 *db, struct rules_stmts *s, const struct rules *rs,
    const struct rule *r, int64_t now_us, struct rules_events *ev,
    char *err, size_t errlen)
{
	struct rules_open *open = NULL, probe, *o;
	sqlite3_stmt *q;
	size_t nopen = 0, i;
	int rc, idx, ki = -1, mi = -1, si = -1, sev, ncol;

	if (rules_load_open(db, r->name, &open, &nopen, err, errlen) == -1)
		return -1;
	if ((q = rules_prepare(db, r->sql, err, errlen)) == NULL) {
		rules_open_free(open, nopen);
		return -1;
	}
	if ((idx = sqlite3_bind_parameter_index(q, ":unreachable_after")) > 0)
		sqlite3_bind_int(q, idx, rs->unreachable_after);
	ncol = sqlite3_column_count(q);
	for (i = 0; i < (size_t)ncol; i++) {
		const char *c = sqlite3_column_name(q, (int)i);

		if (strcmp(c, "key") == 0)
			ki = (int)i;
		else if (strcmp(c, "message") == 0)
			mi = (int)i;
		else if (strcmp(c, "severity") == 0)
			si = (int)i;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(q, ki);
		const char *msg = (const char *)sqlite3_column_text(q, mi);

		if (key == NULL)
			continue;	/* a finding needs a key */
		if (msg == NULL)
			msg = key;
		sev = r->severity;
		if (si >= 0 && sqlite3_column_text(q, si) != NULL)
			(void)confval_severity((const char *)
			    sqlite3_column_text(q, si), &sev);
		probe.key = (char *)key;
		o = nopen ? bsearch(&probe, open, nopen, sizeof(*open),
		    rules_cmp_open) : NULL;
		if (o != NULL) {
			int64_t due;

			if (o->seen)
				continue;	/* a key twice: first wins */
			o->seen = 1;
			sqlite3_reset(s->update);
			sqlite3_bind_int64(s->update, 1, o->id);
			sqlite3_bind_int64(s->update, 2, now_us);
			sqlite3_bind_text(s->update, 3, msg, -1, SQLITE_STATIC);
			if (sqlite3_step(s->update) != SQLITE_DONE)
				goto dberr;
			due = o->last_notified_us + r->renotify_ms * 1000;
			if (r->renotify_ms > 0 && now_us >= due) {
				sqlite3_reset(s->notified);
				sqlite3_bind_int64(s->notified, 1, o->id);
				sqlite3_bind_int64(s->notified, 2, now_us);
				if (sqlite3_step(s->notified) != SQLITE_DONE)
					goto dberr;
				rules_event(ev, RULES_REPEATED, o->id, r->name,
				    o->severity, msg);
			}
			continue;
		}
		sqlite3_reset(s->insert);
		sqlite3_bind_text(s->insert, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->insert, 2, confval_severity_name(sev), -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(s->insert, 3, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->insert, 4, msg, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s->insert, 5, now_us);
		rc = sqlite3_step(s->insert);
		if (rc == SQLITE_CONSTRAINT)
			continue;	/* the same new key twice: first wins */
		if (rc != SQLITE_DONE)
			goto dberr;
		rules_event(ev, RULES_RAISED, sqlite3_last_insert_rowid(db),
		    r->name, sev, msg);
	}
	if (rc != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(q);
	q = NULL;
	for (i = 0; i < nopen; i++)
		if (!open[i].seen && rules_clear(s, r->name, &open[i], now_us,
		    ev) == -1)
			goto dberr;
	rules_open_free(open, nopen);
	return 0;
dberr:
	snprintf(err, errlen, "rule %s: %s", r->name, sqlite3_errmsg(db));
	sqlite3_finalize(q);
	rules_open_free(open, nopen);
	return -1;
}

/* Clear the open alerts of rules that are no longer in rs. */
static int
rules_clear_orphans(sqlite3 *db, struct rules_stmts *s,
    const struct rules *rs, int64_t now_us, struct rules_events *ev,
    char *err, size_t errlen)
{
	sqlite3_stmt *q;
	char **names = NULL;
	size_t n = 0, i, j;
	int rc, active;

	q = rules_prepare(db, "SELECT DISTINCT rule FROM alert WHERE state = "
	    "'open'", err, errlen);
	if (q == NULL)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup((const char *)sqlite3_column_text(q, 0));
	}
	sqlite3_finalize(q);
	rc = rc == SQLITE_DONE ? 0 : -1;
	for (i = 0; i < n && rc == 0; i++) {
		struct rules_open *open = NULL;
		size_t nopen = 0, k;

		for (active = 0, j = 0; j < rs->n; j++)
			if (strcmp(rs->v[j].name, names[i]) == 0)
				active = 1;
		if (active)
			continue;
		if (rules_load_open(db, names[i], &open, &nopen, err,
		    errlen) == -1) {
			rc = -1;
			break;
		}
		for (k = 0; k < nopen && rc == 0; k++)
			if (rules_clear(s, names[i], &open[k], now_us, ev) == -1)
				rc = -1;
		rules_open_free(open, nopen);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc == -1 && err[0] == '\0')
		snprintf(err, errlen, "clearing alerts: %s",
		    sqlite3_errmsg(db));
	return rc;
}

/*
 * Run every rule of rs over st's database at time now_us and reconcile the
 * alerts in one BEGIN IMMEDIATE transaction; open alerts of rules no longer
 * in rs are cleared.
 */
int
rules_eval(struct store *st, const struct rules *rs, int64_t now_us,
    struct rules_events *ev, char *err, size_t errlen)
{
	sqlite3 *db = store_db(st);
	struct rules_stmts s;
	struct rules_events mine = { NULL, 0 };
	size_t i;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	err[0] = '\0';
	if (rules_exec(db, "BEGIN IMMEDIATE", err, errlen) == -1)
		return -1;
	s.insert = rules_prepare(db, "INSERT INTO alert (rule, severity, "
	    "state, key, message, raised_us, last_seen_us, last_notified_us) "
	    "VALUES (?1, ?2, 'open', ?3, ?4, ?5, ?5, ?5)", err, errlen);
	s.update = rules_prepare(db, "UPDATE alert SET last_seen_us = ?2, "
	    "message = ?3 WHERE id = ?1", err, errlen);
	s.notified = rules_prepare(db, "UPDATE alert SET last_notified_us = "
	    "?2 WHERE id = ?1", err, errlen);
	s.clear = rules_prepare(db, "UPDATE alert SET state = 'cleared', "
	    "cleared_us = ?2 WHERE id = ?1", err,
	    errlen);
	if (!s.insert || !s.update || !s.notified || !s.clear)
		goto out;
	for (i = 0; i < rs->n; i++)
		if (rules_eval_one(db, &s, rs, &rs->v[i], now_us, &mine, err,
		    errlen) == -1)
			goto out;
	if (rules_clear_orphans(db, &s, rs, now_us, &mine, err, errlen) == -1)
		goto out;
	if (rules_exec(db, "COMMIT", err, errlen) == -1)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(s.insert);
	sqlite3_finalize(s.update);
	sqlite3_finalize(s.notified);
	sqlite3_finalize(s.clear);
	if (rc == -1) {
		char ignore[64];

		rules_exec(db, "ROLLBACK", ignore, sizeof(ignore));
		rules_events_free(&mine);
		return -1;
	}
	for (i = 0; i < mine.n; i++) {
		ev->v = xreallocarray(ev->v, ev->n + 1, sizeof(*ev->v));
		ev->v[ev->n++] = mine.v[i];
	}
	free(mine.v);
	return 0;
}

/*
 * Return the text of event e for syslog (the sink escapes control
 * characters): "alert 17 raised: duplicate-serial [err]: The postoffice
 * ...".
 */
char *
rules_event_text(const struct rules_event *e)
{
	static const char *const what[] = { "raised", "cleared", "repeated" };

	/* The sink escapes control characters on the way out. */
	return xasprintf("alert %lld %s: %s [%s]: %s", (long long)e->id,
	    what[e->what], e->rule, confval_severity_name(e->severity),
	    e->message);
}
