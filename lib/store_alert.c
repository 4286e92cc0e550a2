/*
 * store_alert: the SQL of a rule run, for rules.c: a transaction, rule
 * queries run under a time limit, and the alert table's operations.  What
 * the alerts mean (when one is raised, updated, repeated or cleared) is
 * rules.c's; how they are stored is here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <sqlite3.h>

#include "clock.h"
#include "confval.h"
#include "errbuf.h"
#include "store.h"
#include "store_int.h"
#include "xmalloc.h"

/* Begin a rule run: BEGIN IMMEDIATE, and a fresh route graph. */
int
store_rules_begin(struct store *st, char *err, size_t errlen)
{
	store_topology_reset(st);
	return store_txn(st, ST_BEGIN, err, errlen);
}

/* Commit the rule run. */
int
store_rules_commit(struct store *st, char *err, size_t errlen)
{
	if (store_txn(st, ST_COMMIT, err, errlen) == -1) {
		store_rollback(st);
		return -1;
	}
	return 0;
}

/* Undo the rule run. */
void
store_rules_rollback(struct store *st)
{
	store_rollback(st);
}

static int
store_alert_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_alert *)a)->key,
	    ((const struct store_alert *)b)->key);
}

/* Load the open alerts of rule, sorted by key. */
int
store_alerts_open(struct store *st, const char *rule, struct store_alert **out,
    size_t *n, char *err, size_t errlen)
{
	struct store_alert *v = NULL;
	sqlite3_stmt *s;
	size_t nv = 0;
	int rc, sev;

	*out = NULL;
	*n = 0;
	if ((s = store_stmt(st, ST_ALERT_OPEN, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, s, 1, rule, SIZE_MAX);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = xreallocarray(v, nv + 1, sizeof(*v));
		v[nv].id = sqlite3_column_int64(s, 0);
		v[nv].key = xstrdup((const char *)sqlite3_column_text(s, 1));
		v[nv].message = xstrdup((const char *)sqlite3_column_text(s,
		    2));
		if (confval_severity((const char *)sqlite3_column_text(s, 3),
		    &sev) == -1)
			sev = LOG_WARNING;
		v[nv].severity = sev;
		v[nv].last_notified_us = sqlite3_column_int64(s, 4);
		nv++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE) {
		errbuf_set(err, errlen, "loading alerts: %s",
		    sqlite3_errmsg(st->db));
		store_alerts_free(v, nv);
		return -1;
	}
	if (nv > 1)
		qsort(v, nv, sizeof(*v), store_alert_cmp);
	*out = v;
	*n = nv;
	return 0;
}

/* Find the open alert of key in v[0..n) (from store_alerts_open), or NULL. */
struct store_alert *
store_alerts_find(struct store_alert *v, size_t n, const char *key)
{
	struct store_alert probe;

	if (n == 0)
		return NULL;
	probe.key = (char *)key;
	return bsearch(&probe, v, n, sizeof(*v), store_alert_cmp);
}

/* Free what store_alerts_open() returned. */
void
store_alerts_free(struct store_alert *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].message);
	}
	free(v);
}

/* Return the names of the rules with open alerts. */
int
store_alert_rules(struct store *st, char ***names, size_t *n, char *err,
    size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	*names = NULL;
	*n = 0;
	if ((s = store_stmt(st, ST_ALERT_RULES, err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*names = xreallocarray(*names, *n + 1, sizeof(**names));
		(*names)[(*n)++] = xstrdup((const char *)sqlite3_column_text(s,
		    0));
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		errbuf_set(err, errlen, "loading alerts: %s",
		    sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* Open a new alert; 1 if an open one of rule and key exists already. */
int
store_alert_raise(struct store *st, const char *rule, int severity,
    const char *key, const char *message, int64_t now_us, int64_t *id,
    char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = store_stmt(st, ST_ALERT_RAISE, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, s, 1, rule, SIZE_MAX);
	store_bind_text(st, s, 2, confval_severity_name(severity), SIZE_MAX);
	store_bind_text(st, s, 3, key, SIZE_MAX);
	store_bind_text(st, s, 4, message, SIZE_MAX);
	store_bind_int(st, s, 5, now_us);
	rc = st->bind_failed ? SQLITE_ERROR : sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_CONSTRAINT)
		return 1;
	if (rc != SQLITE_DONE) {
		errbuf_set(err, errlen, "alert: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	*id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

/*
 * An open alert was found again at now_us: its message and severity are
 * now these; with notified, it was sent again (updated or repeated).
 */
int
store_alert_seen(struct store *st, int64_t id, int64_t now_us, int severity,
    const char *message, int notified, char *err, size_t errlen)
{
	sqlite3_stmt *s;

	if ((s = store_stmt(st, ST_ALERT_SEEN, err, errlen)) == NULL)
		return -1;
	store_bind_int(st, s, 1, id);
	store_bind_int(st, s, 2, now_us);
	store_bind_text(st, s, 3, message, SIZE_MAX);
	store_bind_text(st, s, 4, confval_severity_name(severity), SIZE_MAX);
	store_bind_int(st, s, 5, notified);
	return store_done(st, s, "alert", err, errlen);
}

/* Clear an open alert at now_us. */
int
store_alert_clear(struct store *st, int64_t id, int64_t now_us, char *err,
    size_t errlen)
{
	sqlite3_stmt *s;

	if ((s = store_stmt(st, ST_ALERT_CLEAR, err, errlen)) == NULL)
		return -1;
	store_bind_int(st, s, 1, id);
	store_bind_int(st, s, 2, now_us);
	return store_done(st, s, "alert", err, errlen);
}

/* Check that sql is one read-only statement returning key and message. */
int
store_rule_check(struct store *st, const char *sql, char *err,
    size_t errlen)
{
	sqlite3_stmt *s = NULL;
	const char *tail = NULL;
	int i, n, haskey = 0, hasmsg = 0, rc = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, &tail) != SQLITE_OK) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (s == NULL) {
		errbuf_set(err, errlen, "the query is empty");
		return -1;
	}
	while (tail != NULL && (*tail == ' ' || *tail == '\t' ||
	    *tail == '\n' || *tail == '\r' || *tail == ';'))
		tail++;
	if (tail != NULL && *tail != '\0')
		errbuf_set(err, errlen, "only one statement is allowed");
	else if (!sqlite3_stmt_readonly(s))
		errbuf_set(err, errlen, "the query must only read (a SELECT "
		    "over the views)");
	else {
		n = sqlite3_column_count(s);
		for (i = 0; i < n; i++) {
			const char *c = sqlite3_column_name(s, i);

			if (c != NULL && strcmp(c, "key") == 0)
				haskey = 1;
			if (c != NULL && strcmp(c, "message") == 0)
				hasmsg = 1;
		}
		if (!haskey || !hasmsg)
			errbuf_set(err, errlen, "the query must return columns "
			    "named key and message (missing %s)", !haskey ?
			    "key" : "message");
		else
			rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

/* The progress handler of a rule query: stop it at its deadline. */
static int
store_rule_progress(void *arg)
{
	return clock_mono_ms() > *(const int64_t *)arg;
}

/*
 * Run the rule query sql, binding each named parameter of params that it
 * uses, and call fn for each row until fn returns non-zero.  The query is
 * stopped after limit_ms (0: no limit).  Returns 0, STORE_TIMEOUT when the
 * limit stopped it, or -1 with err.
 */
int
store_rule_run(struct store *st, const char *sql,
    const struct store_param *params, size_t nparams, int64_t limit_ms,
    store_finding_fn *fn, void *arg, char *err, size_t errlen)
{
	struct store_finding f;
	const char *names[64], *values[64];
	sqlite3_stmt *s;
	int64_t deadline = clock_mono_ms() + limit_ms;
	size_t i;
	int rc, idx, ncols, c, ki = -1, mi = -1, si = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	for (i = 0; i < nparams; i++)
		if ((idx = sqlite3_bind_parameter_index(s, params[i].name)) > 0)
			sqlite3_bind_int64(s, idx, params[i].value);
	ncols = sqlite3_column_count(s);
	if (ncols > 64)
		ncols = 64;
	for (c = 0; c < ncols; c++) {
		names[c] = sqlite3_column_name(s, c);
		if (strcmp(names[c], "key") == 0)
			ki = c;
		else if (strcmp(names[c], "message") == 0)
			mi = c;
		else if (strcmp(names[c], "severity") == 0)
			si = c;
	}
	if (ki == -1 || mi == -1) {
		errbuf_set(err, errlen, "the query returns no key or no "
		    "message column");
		sqlite3_finalize(s);
		return -1;
	}
	if (limit_ms > 0)
		sqlite3_progress_handler(st->db, 1000, store_rule_progress,
		    &deadline);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (c = 0; c < ncols; c++)
			values[c] = (const char *)sqlite3_column_text(s, c);
		f.key = values[ki];
		f.message = values[mi];
		f.severity = si >= 0 ? values[si] : NULL;
		f.ncols = (size_t)ncols;
		f.names = names;
		f.values = values;
		if (fn(arg, &f) != 0)
			break;
	}
	sqlite3_progress_handler(st->db, 0, NULL, NULL);
	if (rc == SQLITE_INTERRUPT) {
		errbuf_set(err, errlen, "stopped after its time limit of "
		    "%lld ms", (long long)limit_ms);
		sqlite3_finalize(s);
		return STORE_TIMEOUT;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	return 0;
}
