/*
 * test_rules: the rule engine over a real SQLite database, filled through
 * store_save() as the daemon fills it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "crawl.h"
#include "po.h"
#include "rules.h"
#include "store.h"
#include "xmalloc.h"

struct fixture {
	char		 dir[64];
	char		 db[128];
	char		 conf[128];
	struct store	*st;
	struct conf	*c;
	struct rules	 rs;
	int64_t		 now;
};

/* A result for \\host\share with the given identity (NULL net: failed). */
static void
make_result(struct result *r, const char *host, const char *share,
    const char *net, const char *po, const char *serial, int64_t t,
    enum outcome o)
{
	struct location l;

	memset(r, 0, sizeof(*r));
	location_set(&l, host, 0, share, "");
	result_locate(r, &l);
	location_free(&l);
	r->outcome = o;
	r->started_us = t;
	r->finished_us = t;
	if (net == NULL) {
		r->error = xstrdup("host port 445: Connection refused");
		return;
	}
	r->has_master = 1;
	r->checksum_ok = 1;
	snprintf(r->master.network, sizeof(r->master.network), "%s", net);
	snprintf(r->master.postoffice, sizeof(r->master.postoffice), "%s", po);
	assert_int_equal(po_serial_encode(serial, r->master.serial_raw), 0);
	po_serial_display(r->master.serial_raw, r->master.serial,
	    sizeof(r->master.serial));
	r->master.kind = strcmp(serial, PO_SERIAL_CONNECTOR) == 0 ?
	    PO_KIND_CONNECTOR : PO_KIND_MSMAIL;
}

static void
save(struct fixture *f, const char *host, const char *share, const char *net,
    const char *po, const char *serial, enum outcome o)
{
	struct result r;
	char err[256];

	f->now += 1000000;
	make_result(&r, host, share, net, po, serial, f->now, o);
	assert_int_equal(store_save(f->st, &r, err, sizeof(err)), 0);
	result_free(&r);
}

/* Save a found postoffice that routes to each "NET/PO" of routes (NULL-ended). */
static void
save_routes(struct fixture *f, const char *host, const char *share,
    const char *net, const char *po, const char *serial,
    const char *const *routes)
{
	struct result r;
	char err[256];
	size_t n = 0, i;

	f->now += 1000000;
	make_result(&r, host, share, net, po, serial, f->now, OUTCOME_OK);
	while (routes[n] != NULL)
		n++;
	r.routes = xcalloc(n + 1, sizeof(*r.routes));
	r.nroutes = n;
	for (i = 0; i < n; i++) {
		const char *slash = strchr(routes[i], '/');

		snprintf(r.routes[i].network, PO_NAME_MAX, "%.*s",
		    (int)(slash - routes[i]), routes[i]);
		snprintf(r.routes[i].postoffice, PO_NAME_MAX, "%s", slash + 1);
		r.routes[i].type = 0;
	}
	assert_int_equal(store_save(f->st, &r, err, sizeof(err)), 0);
	result_free(&r);
}

/* Run one SQL statement on the fixture's database (test set-up). */
static void
sql(struct fixture *f, const char *stmt)
{
	assert_int_equal(sqlite3_exec(store_db(f->st), stmt, NULL, NULL,
	    NULL), SQLITE_OK);
}

static void
load_conf(struct fixture *f, const char *extra)
{
	struct conf_errors errs = { NULL, 0 };
	FILE *fp;

	fp = fopen(f->conf, "w");
	assert_non_null(fp);
	fprintf(fp, "[maildatd]\ndatabase = %s\nunreachable_after = 2\n"
	    "renotify = 1h\n%s", f->db, extra);
	fclose(fp);
	if (f->c != NULL)
		conf_free(f->c);
	if (conf_load(f->conf, &f->c, &errs) != 0) {
		size_t i;

		for (i = 0; i < errs.n; i++)
			print_error("%s\n", errs.v[i]);
		fail();
	}
	rules_free(&f->rs);
	assert_int_equal(rules_build(f->c, f->st, &f->rs, &errs), 0);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-rules.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/t.db", f->dir);
	snprintf(f->conf, sizeof(f->conf), "%s/t.conf", f->dir);
	assert_int_equal(store_open(f->db, STORE_RDWR | STORE_CREATE, &f->st,
	    err, sizeof(err)), 0);
	f->now = 1700000000LL * 1000000;
	load_conf(f, "");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	rules_free(&f->rs);
	conf_free(f->c);
	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Evaluate at the fixture's time; return the events. */
static struct rules_events
eval(struct fixture *f)
{
	struct rules_events ev = { NULL, 0 };
	char err[256];

	/*
	 * With statistics, SQLite 3.40 once answered the join-based
	 * duplicate rules with no rows: evaluate as a database that has
	 * been analyzed would be.
	 */
	assert_int_equal(sqlite3_exec(store_db(f->st), "ANALYZE", NULL, NULL,
	    NULL), SQLITE_OK);

	f->now += 1000000;
	if (rules_eval(f->st, &f->rs, f->now, &ev, err, sizeof(err)) != 0) {
		print_error("rules_eval: %s\n", err);
		fail();
	}
	return ev;
}

static size_t
count_events(const struct rules_events *ev, const char *rule,
    enum rules_what what)
{
	size_t i, n = 0;

	for (i = 0; i < ev->n; i++)
		if (strcmp(ev->v[i].rule, rule) == 0 && ev->v[i].what == what)
			n++;
	return n;
}

static const struct rules_event *
find_event(const struct rules_events *ev, const char *rule)
{
	size_t i;

	for (i = 0; i < ev->n; i++)
		if (strcmp(ev->v[i].rule, rule) == 0)
			return &ev->v[i];
	return NULL;
}

static long
count_alerts(struct fixture *f, const char *where)
{
	sqlite3_stmt *stmt;
	char sql[256];
	long n;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM alerts WHERE %s",
	    where);
	assert_int_equal(sqlite3_prepare_v2(store_db(f->st), sql, -1, &stmt,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	n = (long)sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return n;
}

static void
test_builtins_compile(void **state)
{
	struct fixture *f = *state;

	/* Eight with a query; rule-failed has none. */
	assert_int_equal(rules_nbuiltins, 8);
	assert_int_equal(f->rs.n, 8);
	assert_string_equal(f->rs.v[0].name, "duplicate-serial");
	assert_int_equal(f->rs.v[0].severity, LOG_ERR);
	assert_int_equal(f->rs.v[0].renotify_ms, 3600 * 1000);
	assert_string_equal(f->rs.v[7].name, "postoffice-moved");
	assert_int_equal(f->rs.v[7].severity, LOG_NOTICE);
	assert_int_equal(f->rs.v[7].renotify_ms, 0);	/* reported once */
	assert_int_equal(f->rs.failed_enabled, 1);
	assert_int_equal(f->rs.failed_severity, LOG_ERR);
}

static void
test_duplicate_serial_latent_joined_updated_cleared(void **state)
{
	struct fixture *f = *state;
	const char *const none[] = { NULL };
	const char *const hub[] = { "CORP/HUB", NULL };
	struct rules_events ev;
	const struct rules_event *e;
	int64_t id;
	size_t i;
	char *text;

	/* Two connector postoffices that route nowhere: latent, a warning. */
	save(f, "ex1", "MAILDAT$", "CORP", "EXCH1", "22-28798", OUTCOME_OK);
	save(f, "ex2", "MAILDAT$", "CORP", "EXCH2", "22-28798", OUTCOME_OK);
	save(f, "fs1", "mail", "CORP", "HQ", "32-64537", OUTCOME_OK);
	ev = eval(f);
	assert_int_equal(ev.n, 1);
	e = find_event(&ev, "duplicate-serial");
	assert_non_null(e);
	assert_int_equal(e->what, RULES_RAISED);
	assert_int_equal(e->severity, LOG_WARNING);
	assert_string_equal(e->message, "Postoffice serial number [22-28798] "
	    "is on 2 postoffices, latent: these postoffices collide as soon as "
	    "they are joined: the postoffice CORP/EXCH1 on \\\\ex1\\MAILDAT$, "
	    "the postoffice CORP/EXCH2 on \\\\ex2\\MAILDAT$");
	assert_string_equal(e->key, "serial 64839d89681396000000");
	/* The rule row's other columns travel with the event. */
	assert_true(e->ncols >= 8);
	for (i = 0; i < e->ncols; i++)
		if (strcmp(e->names[i], "count") == 0)
			assert_string_equal(e->values[i], "2");
	id = e->id;
	rules_events_free(&ev);

	/* The next run finds it again: nothing to send. */
	ev = eval(f);
	assert_int_equal(ev.n, 0);
	rules_events_free(&ev);

	/* Both come to route to one hub: joined, Event 4188, err, at once. */
	save_routes(f, "ex1", "MAILDAT$", "CORP", "EXCH1", "22-28798", hub);
	save_routes(f, "ex2", "MAILDAT$", "CORP", "EXCH2", "22-28798", hub);
	ev = eval(f);
	assert_int_equal(ev.n, 1);
	e = find_event(&ev, "duplicate-serial");
	assert_int_equal(e->what, RULES_UPDATED);
	assert_true(e->id == id);
	assert_int_equal(e->severity, LOG_ERR);
	assert_non_null(strstr(e->message, "[22-28798] is on 2 postoffices "
	    "joined over MS Mail (CORP/EXCH1 > CORP/HUB > CORP/EXCH2): the PC "
	    "MTA stops with Event 4188: the postoffice CORP/EXCH1"));
	text = rules_event_text(e);
	assert_non_null(strstr(text, "updated: duplicate-serial [err]: "
	    "Postoffice serial number [22-28798]"));
	free(text);
	rules_events_free(&ev);

	/* A third connector joins the collision: updated at once, same id. */
	save(f, "ex3", "MAILDAT$", "CORP", "EXCH3", "22-28798", OUTCOME_OK);
	ev = eval(f);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.v[0].what, RULES_UPDATED);
	assert_true(ev.v[0].id == id);
	assert_non_null(strstr(ev.v[0].message, "is on 3 postoffices"));
	assert_non_null(strstr(ev.v[0].message, "the postoffice CORP/EXCH3 on "
	    "\\\\ex3\\MAILDAT$"));
	rules_events_free(&ev);
	assert_int_equal(count_alerts(f, "1"), 1);

	/* Two change their serials: the collision clears. */
	save(f, "ex2", "MAILDAT$", "CORP", "EXCH2", "22-28799", OUTCOME_OK);
	save(f, "ex3", "MAILDAT$", "CORP", "EXCH3", "22-28797", OUTCOME_OK);
	ev = eval(f);
	assert_int_equal(count_events(&ev, "duplicate-serial", RULES_CLEARED),
	    1);
	assert_int_equal(count_events(&ev, "serial-changed", RULES_RAISED), 2);
	rules_events_free(&ev);
	assert_int_equal(count_alerts(f, "rule = 'duplicate-serial' AND "
	    "state = 'cleared' AND cleared IS NOT NULL"), 1);

	/* serial-changed clears once a crawl finds the same serial again. */
	save(f, "ex2", "MAILDAT$", "CORP", "EXCH2", "22-28799", OUTCOME_OK);
	ev = eval(f);
	assert_int_equal(count_events(&ev, "serial-changed", RULES_CLEARED), 1);
	rules_events_free(&ev);
	(void)none;
}

static void
test_long_message_summarised(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;
	char host[16], po[16], *text;
	int i;

	for (i = 0; i < 60; i++) {
		snprintf(host, sizeof(host), "ex%02d", i);
		snprintf(po, sizeof(po), "EXCH%02d", i);
		save(f, host, "MAILDAT$", "CORP", po, "22-28798", OUTCOME_OK);
	}
	ev = eval(f);
	assert_int_equal(ev.n, 1);
	text = rules_event_text(&ev.v[0]);
	/* The count and the serial first; the rest summed up. */
	assert_true(strlen(text) <= RULES_TEXT_MAX + 100);
	assert_non_null(strstr(text, "[22-28798] is on 60 postoffices"));
	assert_non_null(strstr(text, "more)"));
	assert_null(strstr(text, "EXCH59"));
	free(text);
	/* The database keeps the whole message. */
	assert_int_equal(count_alerts(f, "message LIKE '%CORP/EXCH59 on %'"),
	    1);
	rules_events_free(&ev);
}

static void
test_duplicate_address_and_postoffice(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;
	const struct rules_event *e;

	/* Locations never identified sit in the same table (they once
	 * made SQLite 3.40 drop every row of a join-based rule). */
	save(f, "x", "nothing", NULL, NULL, NULL, OUTCOME_UNREACHABLE);
	save(f, "y", "MAILDAT$", NULL, NULL, NULL, OUTCOME_UNREACHABLE);
	save(f, "a", "mail", "NET", "PO", "11-11111", OUTCOME_OK);
	save(f, "b", "mail", "net", "po", "11-11112", OUTCOME_OK);
	save(f, "c", "mail", "NET2", "PO2", "33-33333", OUTCOME_OK);
	save(f, "d", "mail", "NET2", "PO2", "33-33333", OUTCOME_OK);
	ev = eval(f);
	e = find_event(&ev, "duplicate-address");
	assert_non_null(e);
	assert_string_equal(e->message, "The postoffice NET/PO is at 2 "
	    "locations with different serial numbers: \\\\a\\mail [11-11111], "
	    "\\\\b\\mail [11-11112]");
	e = find_event(&ev, "duplicate-postoffice");
	assert_non_null(e);
	assert_int_equal(e->severity, LOG_WARNING);
	assert_string_equal(e->message, "The postoffice NET2/PO2 with serial "
	    "number [33-33333] is at 2 locations (two paths to one "
	    "postoffice, or a copy of it): \\\\c\\mail, \\\\d\\mail");
	/* Same serial, same address: no duplicate-serial. */
	assert_null(find_event(&ev, "duplicate-serial"));
	assert_int_equal(ev.n, 2);
	rules_events_free(&ev);
}

static void
test_names_compared_as_cp850(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;
	const struct rules_event *e;

	/* GRÜN/WÄLDER and grün/wälder are one address to MS Mail. */
	save(f, "a", "mail", "GR\xc3\x9cN", "W\xc3\x84LDER", "11-11111",
	    OUTCOME_OK);
	save(f, "b", "mail", "gr\xc3\xbcn", "w\xc3\xa4lder", "11-11112",
	    OUTCOME_OK);
	ev = eval(f);
	e = find_event(&ev, "duplicate-address");
	assert_non_null(e);
	assert_string_equal(e->key, "address GR\xc3\x9cN/W\xc3\x84LDER");
	rules_events_free(&ev);
}

static void
test_unreachable_after_n_failures(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;

	save(f, "h", "MAILDAT$", "N", "P", "12-34567", OUTCOME_OK);
	save(f, "h", "MAILDAT$", NULL, NULL, NULL, OUTCOME_UNREACHABLE);
	ev = eval(f);
	assert_null(find_event(&ev, "unreachable"));	/* 1 < 2 */
	rules_events_free(&ev);
	save(f, "h", "MAILDAT$", NULL, NULL, NULL, OUTCOME_UNREACHABLE);
	ev = eval(f);
	assert_int_equal(count_events(&ev, "unreachable", RULES_RAISED), 1);
	assert_non_null(strstr(find_event(&ev, "unreachable")->message,
	    "The postoffice N/P on \\\\h\\MAILDAT$ has not been read since "));
	assert_non_null(strstr(find_event(&ev, "unreachable")->message,
	    "(unreachable: host port 445: Connection refused)"));
	rules_events_free(&ev);
	/* Another failure changes nothing that is sent. */
	save(f, "h", "MAILDAT$", NULL, NULL, NULL, OUTCOME_UNREACHABLE);
	ev = eval(f);
	assert_int_equal(ev.n, 0);
	rules_events_free(&ev);
	save(f, "h", "MAILDAT$", "N", "P", "12-34567", OUTCOME_OK);
	ev = eval(f);
	assert_int_equal(count_events(&ev, "unreachable", RULES_CLEARED), 1);
	rules_events_free(&ev);
}

static void
test_refused_from_the_start(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;

	save(f, "h", "priv", NULL, NULL, NULL, OUTCOME_AUTH_FAILED);
	ev = eval(f);
	assert_int_equal(count_events(&ev, "unreachable", RULES_RAISED), 1);
	assert_non_null(strstr(find_event(&ev, "unreachable")->message,
	    "The location \\\\h\\priv has never been read: auth-failed"));
	rules_events_free(&ev);
}

static void
test_retired_and_moved(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;
	const struct rules_event *e;

	/* The postoffice is at \\old\mail, which then stops answering ... */
	save(f, "old", "mail", "NET", "PO", "11-11111", OUTCOME_OK);
	ev = eval(f);
	rules_events_free(&ev);
	save(f, "old", "mail", NULL, NULL, NULL, OUTCOME_UNREACHABLE);
	/* ... and turns up at \\new\mail: a move, not a duplicate. */
	save(f, "new", "mail", "NET", "PO", "11-11111", OUTCOME_OK);
	ev = eval(f);
	assert_null(find_event(&ev, "duplicate-postoffice"));
	e = find_event(&ev, "postoffice-moved");
	assert_non_null(e);
	assert_int_equal(e->severity, LOG_NOTICE);
	assert_string_equal(e->message, "The postoffice NET/PO with serial "
	    "number [11-11111] moved from \\\\old\\mail to \\\\new\\mail");
	rules_events_free(&ev);
	/* Reported once: not repeated, however long it stays. */
	f->now += 48LL * 3600 * 1000000;
	ev = eval(f);
	assert_null(find_event(&ev, "postoffice-moved"));
	rules_events_free(&ev);
	/* The old location is retired: out of the rules and postoffices. */
	sql(f, "UPDATE location SET state = 'retired', retired_us = "
	    "last_crawled_us WHERE location = '\\\\old\\mail'");
	ev = eval(f);
	assert_null(find_event(&ev, "postoffice-moved"));
	rules_events_free(&ev);
	/* Seven days after, the move is history. */
	f->now += 8LL * 24 * 3600 * 1000000;
	ev = eval(f);
	assert_int_equal(count_events(&ev, "postoffice-moved", RULES_CLEARED),
	    1);
	rules_events_free(&ev);
	/* A retired copy never makes a duplicate. */
	save(f, "copy", "mail", "NET", "PO", "11-11111", OUTCOME_OK);
	sql(f, "UPDATE location SET state = 'retired', retired_us = 1 WHERE "
	    "location = '\\\\copy\\mail'");
	ev = eval(f);
	assert_null(find_event(&ev, "duplicate-postoffice"));
	rules_events_free(&ev);
}

static void
test_credentials_suspended(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;
	const struct rules_event *e;

	sql(f, "INSERT INTO credential_state VALUES ('corp', 'x', "
	    "'CORP\\monitor', 3, '\\\\ex1, \\\\ex2', "
	    "'NT_STATUS_LOGON_FAILURE', 1)");
	ev = eval(f);
	e = find_event(&ev, "credentials-suspended");
	assert_non_null(e);
	assert_int_equal(e->severity, LOG_ERR);
	assert_non_null(strstr(e->message, "The credentials corp (account "
	    "CORP\\monitor) are no longer used after 3 refused logons "
	    "(NT_STATUS_LOGON_FAILURE)"));
	rules_events_free(&ev);
	sql(f, "DELETE FROM credential_state");
	ev = eval(f);
	assert_int_equal(count_events(&ev, "credentials-suspended",
	    RULES_CLEARED), 1);
	rules_events_free(&ev);
}

static void
test_rule_failed(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;
	const struct rules_event *e;

	save(f, "a", "m", "X", "A", "11-11111", OUTCOME_OK);
	/* A user rule that runs for ever, under a 200 ms limit. */
	load_conf(f, "rule_timeout = 200ms\n"
	    "[rule slow]\nquery = WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
	    "SELECT i + 1 FROM n) SELECT i AS key, 'm' AS message FROM n "
	    "WHERE i < 0\n"
	    "[rule fine]\nquery = SELECT location AS key, 'x' AS message "
	    "FROM postoffices\n");
	ev = eval(f);
	e = find_event(&ev, "rule-failed");
	assert_non_null(e);
	assert_int_equal(e->severity, LOG_ERR);
	assert_string_equal(e->key, "rule slow");
	assert_non_null(strstr(e->message, "The rule slow could not run: "
	    "stopped after its time limit of 200 ms"));
	/* The other rules ran. */
	assert_int_equal(count_events(&ev, "fine", RULES_RAISED), 1);
	rules_events_free(&ev);
	/* Fixed: rule-failed clears. */
	load_conf(f, "[rule slow]\nquery = SELECT 1 AS key, 'm' AS message "
	    "WHERE 0\n");
	ev = eval(f);
	assert_int_equal(count_events(&ev, "rule-failed", RULES_CLEARED), 1);
	rules_events_free(&ev);
}

static void
test_renotify_repeats_open_alert(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;

	save(f, "a", "m", "X", "A", "22-28798", OUTCOME_OK);
	save(f, "b", "m", "X", "B", "22-28798", OUTCOME_OK);
	ev = eval(f);
	assert_int_equal(count_events(&ev, "duplicate-serial", RULES_RAISED), 1);
	rules_events_free(&ev);
	f->now += 30LL * 60 * 1000000;		/* 30 min: not yet */
	ev = eval(f);
	assert_int_equal(ev.n, 0);
	rules_events_free(&ev);
	f->now += 31LL * 60 * 1000000;		/* past 1 h */
	ev = eval(f);
	assert_int_equal(count_events(&ev, "duplicate-serial", RULES_REPEATED),
	    1);
	rules_events_free(&ev);
	ev = eval(f);
	assert_int_equal(ev.n, 0);
	rules_events_free(&ev);
}

static void
test_user_rule_and_switch_off(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;
	const struct rules_event *e;

	save(f, "a", "m", "X", "A", "22-28798", OUTCOME_OK);
	save(f, "b", "m", "X", "B", "22-28798", OUTCOME_OK);
	sql(f, "INSERT INTO route SELECT id, 0, 'X', 'HUB', 0, NULL FROM "
	    "location");
	load_conf(f, "[rule connector-serial]\nseverity = notice\n"
	    "query = SELECT location AS key, 'connector postoffice ' || "
	    "address AS message FROM postoffices WHERE serial = '22-28798'\n"
	    "[rule duplicate-serial]\nseverity = crit\n");
	ev = eval(f);
	assert_int_equal(count_events(&ev, "connector-serial", RULES_RAISED), 2);
	e = find_event(&ev, "connector-serial");
	assert_int_equal(e->severity, LOG_NOTICE);
	e = find_event(&ev, "duplicate-serial");
	assert_int_equal(e->severity, LOG_CRIT);
	rules_events_free(&ev);

	/* Switching a rule off clears its open alerts. */
	load_conf(f, "[rule duplicate-serial]\nenabled = no\n");
	ev = eval(f);
	assert_int_equal(count_events(&ev, "duplicate-serial", RULES_CLEARED),
	    1);
	assert_int_equal(count_events(&ev, "connector-serial", RULES_CLEARED),
	    2);
	rules_events_free(&ev);
	assert_int_equal(count_alerts(f, "state = 'open'"), 0);
}

static void
test_bad_user_rules_refused(void **state)
{
	struct fixture *f = *state;
	struct conf_errors errs = { NULL, 0 };
	struct rules rs;
	FILE *fp;

	fp = fopen(f->conf, "w");
	assert_non_null(fp);
	fprintf(fp, "[maildatd]\ndatabase = %s\n"
	    "[rule nokey]\nquery = SELECT location AS k, 'x' AS message FROM "
	    "postoffices\n"
	    "[rule writes]\nquery = DELETE FROM alert\n"
	    "[rule two]\nquery = SELECT 1 AS key, 2 AS message; SELECT 3\n"
	    "[rule nosuchview]\nquery = SELECT 1 AS key, 2 AS message FROM "
	    "no_such_view\n", f->db);
	fclose(fp);
	conf_free(f->c);
	f->c = NULL;
	assert_int_equal(conf_load(f->conf, &f->c, &errs), 0);
	assert_int_equal(rules_build(f->c, f->st, &rs, &errs), -1);
	assert_int_equal(errs.n, 4);
	assert_non_null(strstr(errs.v[0], ":3: rule nokey: the query must "
	    "return columns named key and message (missing key)"));
	assert_non_null(strstr(errs.v[1], "rule writes: the query must only "
	    "read"));
	assert_non_null(strstr(errs.v[2], "rule two: only one statement"));
	assert_non_null(strstr(errs.v[3], "rule nosuchview: no such table: "
	    "no_such_view"));
	conf_errors_free(&errs);
}

static void
test_malformed_includes_unidentified(void **state)
{
	struct fixture *f = *state;
	struct result r;
	struct rules_events ev;
	char err[256];

	f->now += 1000000;
	make_result(&r, "z", "mail", NULL, NULL, NULL, f->now,
	    OUTCOME_MALFORMED);
	free(r.error);
	r.error = xstrdup("GLB\\MASTER.GLB: MASTER.GLB is 100 bytes, not 176");
	assert_int_equal(store_save(f->st, &r, err, sizeof(err)), 0);
	result_free(&r);
	ev = eval(f);
	assert_int_equal(count_events(&ev, "malformed", RULES_RAISED), 1);
	assert_string_equal(find_event(&ev, "malformed")->message,
	    "The postoffice files at \\\\z\\mail are damaged: GLB\\MASTER.GLB: "
	    "MASTER.GLB is 100 bytes, not 176");
	rules_events_free(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_builtins_compile, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_duplicate_serial_latent_joined_updated_cleared, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_message_summarised,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_duplicate_address_and_postoffice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_compared_as_cp850,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unreachable_after_n_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_from_the_start,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_retired_and_moved, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_credentials_suspended,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rule_failed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_renotify_repeats_open_alert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_rule_and_switch_off,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_user_rules_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_malformed_includes_unidentified, setup, teardown),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
