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
	assert_int_equal(rules_build(f->c, store_db(f->st), &f->rs, &errs), 0);
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

	assert_int_equal(rules_nbuiltins, 6);
	assert_int_equal(f->rs.n, 6);
	assert_string_equal(f->rs.v[0].name, "duplicate-serial");
	assert_int_equal(f->rs.v[0].severity, LOG_ERR);
	assert_int_equal(f->rs.v[0].renotify_ms, 3600 * 1000);
}

static void
test_duplicate_serial_raised_once_then_cleared(void **state)
{
	struct fixture *f = *state;
	struct rules_events ev;
	const struct rules_event *e;
	char *text;

	save(f, "ex1", "MAILDAT$", "CORP", "EXCH1", "22-28798", OUTCOME_OK);
	save(f, "ex2", "MAILDAT$", "CORP", "EXCH2", "22-28798", OUTCOME_OK);
	save(f, "fs1", "mail", "CORP", "HQ", "32-64537", OUTCOME_OK);
	ev = eval(f);
	assert_int_equal(ev.n, 1);
	e = find_event(&ev, "duplicate-serial");
	assert_non_null(e);
	assert_int_equal(e->what, RULES_RAISED);
	assert_int_equal(e->severity, LOG_ERR);
	assert_string_equal(e->message, "The postoffice CORP/EXCH1 on "
	    "\\\\ex1\\MAILDAT$ and the postoffice CORP/EXCH2 on "
	    "\\\\ex2\\MAILDAT$ have the same postoffice serial number "
	    "[22-28798]");
	text = rules_event_text(e);
	assert_non_null(strstr(text, "raised: duplicate-serial [err]: The "
	    "postoffice CORP/EXCH1"));
	free(text);
	rules_events_free(&ev);
	assert_int_equal(count_alerts(f, "state = 'open'"), 1);

	/* The next round finds it again: no new message, same alert. */
	ev = eval(f);
	assert_int_equal(ev.n, 0);
	rules_events_free(&ev);
	assert_int_equal(count_alerts(f, "1"), 1);

	/* A third connector joins: still one alert, message names all. */
	save(f, "ex3", "MAILDAT$", "CORP", "EXCH3", "22-28798", OUTCOME_OK);
	ev = eval(f);
	assert_int_equal(ev.n, 0);
	rules_events_free(&ev);
	assert_int_equal(count_alerts(f, "message LIKE '%EXCH1 on %, the "
	    "postoffice CORP/EXCH2 on % and the postoffice CORP/EXCH3 on %'"),
	    1);

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
	    "number [33-33333] is at 2 locations: \\\\c\\mail, \\\\d\\mail "
	    "(two paths to one postoffice, or a copy of it)");
	/* Same serial, same address: no duplicate-serial. */
	assert_null(find_event(&ev, "duplicate-serial"));
	assert_int_equal(ev.n, 2);
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
	    "could not be read in its last 2 crawls (unreachable: host port "
	    "445: Connection refused)"));
	rules_events_free(&ev);
	save(f, "h", "MAILDAT$", "N", "P", "12-34567", OUTCOME_OK);
	ev = eval(f);
	assert_int_equal(count_events(&ev, "unreachable", RULES_CLEARED), 1);
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
	assert_int_equal(rules_build(f->c, store_db(f->st), &rs, &errs), -1);
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
		    test_duplicate_serial_raised_once_then_cleared, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_duplicate_address_and_postoffice, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unreachable_after_n_failures, setup, teardown),
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
