/*
 * test_store: the store against real SQLite files in a temporary directory.
 * Results are built by hand; nothing is mocked.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "crawl.h"
#include "po.h"
#include "store.h"

/* 2026-11-24T02:39:27Z, and one minute. */
#define T0	(INT64_C(1795487967) * 1000000)
#define MIN	(INT64_C(60) * 1000000)


/* The schema version this build creates, as PRAGMA user_version prints it. */
static const char *
latest_version(void)
{
	static char buf[16];

	snprintf(buf, sizeof(buf), "%d", store_schema_latest());
	return buf;
}

static char	 tmpdir[] = "/tmp/test_store.XXXXXX";
static int	 dbcount;

/* A crawl result with its own storage. */
struct res {
	struct result r;
	char		 location[128];
	char		 key[128];
	char		 host[32];
	char		 share[32];
	char		 path[32];
	struct result_route routes[8];
};

static int
setup_dir(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown_dir(void **state)
{
	struct dirent *de;
	DIR *d;
	char path[512];

	(void)state;
	if ((d = opendir(tmpdir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(tmpdir);
}

/* A fresh database path in the temporary directory. */
static void
dbpath(char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/db%d.sqlite", tmpdir, ++dbcount);
}

static struct store *
open_new(char *path, size_t pathlen)
{
	struct store *st;
	char err[512];

	dbpath(path, pathlen);
	if (store_open(path, STORE_RDWR | STORE_CREATE, &st, err,
	    sizeof(err)) == -1)
		fail_msg("store_open %s: %s", path, err);
	return st;
}

/* Set x's key from its host, share and path, as location_key() does. */
static void
setkey(struct res *x)
{
	struct location l = { x->host, 0, x->share, x->path, 0 };
	char *k = location_key(&l);

	snprintf(x->key, sizeof(x->key), "%s", k);
	free(k);
	x->r.key = x->key;
}

/* Fill a result for \\host\share, found or not, at time t. */
static void
mkres(struct res *x, const char *host, const char *share,
    enum outcome o, const char *net, const char *po,
    const char *serial, int64_t t)
{
	struct po_master *m = &x->r.master;

	memset(x, 0, sizeof(*x));
	snprintf(x->host, sizeof(x->host), "%s", host);
	snprintf(x->share, sizeof(x->share), "%s", share);
	snprintf(x->location, sizeof(x->location), "\\\\%s\\%s", host, share);
	x->r.unc = x->location;
	setkey(x);
	x->r.loc.host = x->host;
	x->r.loc.share = x->share;
	x->r.loc.path = x->path;
	x->r.outcome = o;
	x->r.started_us = t - 2000000;
	x->r.finished_us = t;
	x->r.routes = x->routes;
	if (net == NULL)
		return;
	x->r.has_master = 1;
	x->r.checksum_ok = 1;
	snprintf(m->network, sizeof(m->network), "%s", net);
	snprintf(m->postoffice, sizeof(m->postoffice), "%s", po);
	assert_int_equal(po_serial_encode(serial, m->serial_raw), 0);
	po_serial_display(m->serial_raw, m->serial, sizeof(m->serial));
	m->flags = 0x1234;
	m->product_version = 2;
	if (strcmp(serial, PO_SERIAL_CONNECTOR) == 0)
		m->kind = PO_KIND_CONNECTOR;
	else if (strcmp(serial, PO_SERIAL_WGPO) == 0)
		m->kind = PO_KIND_WGPO;
	else
		m->kind = PO_KIND_MSMAIL;
}

static void
addroute(struct res *x, const char *net, const char *po, uint8_t type)
{
	struct result_route *rt = &x->routes[x->r.nroutes++];

	snprintf(rt->network, sizeof(rt->network), "%s", net);
	snprintf(rt->postoffice, sizeof(rt->postoffice), "%s", po);
	rt->type = type;
}

static void
save(struct store *st, struct res *x)
{
	char err[512];

	if (store_save(st, &x->r, err, sizeof(err)) == -1)
		fail_msg("store_save: %s", err);
}

/* Collect rows as "a|b|c" lines joined by '\n'. */
struct rows {
	char	buf[4096];
	int	n;
};

static int
collect(void *arg, int ncols, sqlite3_stmt *s)
{
	struct rows *rs = arg;
	size_t len = strlen(rs->buf);
	const char *t;
	int i;

	if (rs->n > 0)
		len += (size_t)snprintf(rs->buf + len, sizeof(rs->buf) - len,
		    "\n");
	for (i = 0; i < ncols; i++) {
		t = (const char *)sqlite3_column_text(s, i);
		len += (size_t)snprintf(rs->buf + len, sizeof(rs->buf) - len,
		    "%s%s", i ? "|" : "", t != NULL ? t : "NULL");
	}
	rs->n++;
	return 0;
}

/* Run sql (with optional text parameters) and return its rows as text. */
static const char *
q(struct store *st, struct rows *rs, const char *sql, ...)
{
	const char *params[8];
	char err[512];
	va_list ap;
	int n = 0;

	va_start(ap, sql);
	while (n < 8 && (params[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	memset(rs, 0, sizeof(*rs));
	if (store_query_params(st, sql, params, n, collect, rs, err,
	    sizeof(err)) != 0)
		fail_msg("query %s: %s", sql, err);
	return rs->buf;
}

#define Q(st, ...)	q((st), &rows, __VA_ARGS__, (const char *)NULL)

static void
test_create(void **state)
{
	struct store *st;
	struct rows rows;
	char path[256];

	(void)state;
	st = open_new(path, sizeof(path));
	assert_int_equal(store_schema_version(st), store_nmigrations);
	assert_int_equal(store_schema_latest(), store_nmigrations);
	assert_true(store_nmigrations >= 2);
	assert_string_equal(Q(st, "PRAGMA user_version"), latest_version());
	assert_string_equal(Q(st, "PRAGMA application_id"), "1296323661");
	assert_int_equal(STORE_APPLICATION_ID, 1296323661);
	assert_string_equal(Q(st, "PRAGMA journal_mode"), "wal");
	assert_string_equal(Q(st, "PRAGMA foreign_keys"), "1");
	assert_string_equal(Q(st, "PRAGMA synchronous"), "1");
	assert_string_equal(Q(st, "SELECT group_concat(name, ',') FROM "
	    "(SELECT name FROM sqlite_master WHERE type = 'view' "
	    "ORDER BY name)"),
	    "alerts,crawls,locations,postoffice_history,postoffices,routes");
	assert_string_equal(Q(st, "SELECT count(*) FROM postoffices"), "0");
	assert_string_equal(Q(st, "SELECT count(*) FROM alerts"), "0");
	assert_int_equal(store_set_busy_timeout(st, 100), 0);
	assert_int_equal(store_set_busy_timeout(st, -1), -1);
	store_close(st);
	store_close(NULL);
}

/* The schema as embed.sh compiled it: split and escaped. */
static void
test_embedded(void **state)
{
	(void)state;
	assert_int_equal(store_nmigrations, 5);
	assert_int_equal(strncmp(store_migrations[0], "-- migration 1\n", 15),
	    0);
	assert_int_equal(strncmp(store_migrations[1], "-- migration 2\n", 15),
	    0);
	assert_null(strstr(store_migrations[0], "-- migration 2"));
	assert_non_null(strstr(store_migrations[0], "CREATE VIEW postoffices"));
	/* Backslashes and quotes survive. */
	assert_non_null(strstr(store_schema_sql, "-- \\\\host[@port]\\share"));
	assert_non_null(strstr(store_schema_sql, "\"MDTM\""));
	assert_true(strlen(store_schema_sql) > strlen(store_migrations[0]) +
	    strlen(store_migrations[1]));
}

static void
test_save_views(void **state)
{
	struct store *st;
	struct rows rows;
	struct res x;
	char path[256];

	(void)state;
	st = open_new(path, sizeof(path));
	mkres(&x, "ex1", "MAILDAT$", OUTCOME_OK, "CORP", "HQ", "22-28798", T0);
	addroute(&x, "CORP", "BRANCH", 0);
	addroute(&x, "CORP", "LAB", 16);
	addroute(&x, "INET", "", 12);
	addroute(&x, "X4", "PRMD", 8);
	addroute(&x, "MHS1", "", 14);
	addroute(&x, "GW", "", 120);
	addroute(&x, "ODD", "", 5);
	save(st, &x);

	assert_string_equal(Q(st, "SELECT location, host, share, network, "
	    "postoffice, address, serial, serial_raw, kind, first_seen, "
	    "last_seen, last_outcome, port, path, checksum_ok, flags, "
	    "product_version, last_error, last_ok, failures FROM postoffices"),
	    "\\\\ex1\\MAILDAT$|ex1|MAILDAT$|CORP|HQ|CORP/HQ|22-28798|"
	    "64839d89681396000000|connector|2026-11-24T02:39:27Z|"
	    "2026-11-24T02:39:27Z|ok|0||1|4660|2|NULL|2026-11-24T02:39:27Z|0");
	assert_string_equal(Q(st, "SELECT id, location, started, finished, "
	    "outcome, error FROM crawls"),
	    "1|\\\\ex1\\MAILDAT$|2026-11-24T02:39:25Z|2026-11-24T02:39:27Z|"
	    "ok|NULL");
	assert_string_equal(Q(st, "SELECT location, address, to_address, type "
	    "FROM routes"),
	    "\\\\ex1\\MAILDAT$|CORP/HQ|CORP/BRANCH|msmail\n"
	    "\\\\ex1\\MAILDAT$|CORP/HQ|CORP/LAB|connector\n"
	    "\\\\ex1\\MAILDAT$|CORP/HQ|INET|smtp\n"
	    "\\\\ex1\\MAILDAT$|CORP/HQ|X4/PRMD|x400\n"
	    "\\\\ex1\\MAILDAT$|CORP/HQ|MHS1|mhs\n"
	    "\\\\ex1\\MAILDAT$|CORP/HQ|GW|gateway-120\n"
	    "\\\\ex1\\MAILDAT$|CORP/HQ|ODD|type-5");
	assert_string_equal(Q(st, "SELECT count(*) FROM postoffice_history"),
	    "0");
	/* Bound parameters. */
	assert_string_equal(Q(st, "SELECT address FROM postoffices WHERE "
	    "serial = ?1 AND host = ?2", "22-28798", "ex1"), "CORP/HQ");
	assert_string_equal(Q(st, "SELECT count(*) FROM postoffices WHERE "
	    "serial = ?1", "0799-99992"), "0");
	store_close(st);
}

static void
test_serial_raw_hex(void **state)
{
	struct store *st;
	struct rows rows;
	struct res x;
	char path[256], hex[PO_SERIAL_HEX];

	(void)state;
	st = open_new(path, sizeof(path));
	mkres(&x, "h", "s", OUTCOME_OK, "N", "P", "0799-99992", T0);
	/* Bytes no display form covers. */
	memcpy(x.r.master.serial_raw,
	    "\x01\xff\x10\x00\x7f\x80\x00\x00\x00\xab", PO_SERIAL_LEN);
	po_serial_display(x.r.master.serial_raw, x.r.master.serial,
	    sizeof(x.r.master.serial));
	x.r.master.kind = PO_KIND_UNKNOWN;
	save(st, &x);
	po_serial_hex(x.r.master.serial_raw, hex, sizeof(hex));
	assert_string_equal(hex, "01ff10007f80000000ab");
	assert_string_equal(Q(st, "SELECT serial_raw, serial, kind FROM "
	    "postoffices"), "01ff10007f80000000ab|raw:01ff10007f80000000ab|"
	    "unknown");
	store_close(st);
}

static void
test_history(void **state)
{
	struct store *st;
	struct rows rows;
	struct res x;
	char path[256];

	(void)state;
	st = open_new(path, sizeof(path));
	mkres(&x, "h1", "s", OUTCOME_OK, "NET", "PO", "12-34567", T0);
	save(st, &x);
	/* The same identity again: no history. */
	mkres(&x, "h1", "s", OUTCOME_OK, "NET", "PO", "12-34567", T0 + MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT count(*) FROM postoffice_history"),
	    "0");
	/* Serial changed. */
	mkres(&x, "h1", "s", OUTCOME_OK, "NET", "PO", "22-28798", T0 + 2 * MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT location, changed, field, old, new "
	    "FROM postoffice_history"),
	    "\\\\h1\\s|2026-11-24T02:41:27Z|serial|12-34567|22-28798");
	/* Network and postoffice changed, then serial back. */
	mkres(&x, "h1", "s", OUTCOME_OK, "NET2", "PO2", "22-28798",
	    T0 + 3 * MIN);
	save(st, &x);
	mkres(&x, "h1", "s", OUTCOME_OK, "NET2", "PO2", "12-34567",
	    T0 + 4 * MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT changed, field, old, new "
	    "FROM postoffice_history"),
	    "2026-11-24T02:41:27Z|serial|12-34567|22-28798\n"
	    "2026-11-24T02:42:27Z|network|NET|NET2\n"
	    "2026-11-24T02:42:27Z|postoffice|PO|PO2\n"
	    "2026-11-24T02:43:27Z|serial|22-28798|12-34567");
	/* A failed crawl in between does not make a change. */
	mkres(&x, "h1", "s", OUTCOME_UNREACHABLE, NULL, NULL, NULL,
	    T0 + 5 * MIN);
	save(st, &x);
	mkres(&x, "h1", "s", OUTCOME_OK, "NET2", "PO2", "12-34567",
	    T0 + 6 * MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT count(*) FROM postoffice_history"),
	    "4");
	assert_string_equal(Q(st, "SELECT address, serial, kind, first_seen, "
	    "last_seen FROM postoffices"), "NET2/PO2|12-34567|msmail|"
	    "2026-11-24T02:39:27Z|2026-11-24T02:45:27Z");
	assert_string_equal(Q(st, "SELECT count(*) FROM crawls"), "7");
	store_close(st);
}

static void
test_routes_last_good(void **state)
{
	struct store *st;
	struct rows rows;
	struct res x;
	char path[256];
	const char *two = "CORP/A|msmail\nCORP/B|msmail";

	(void)state;
	st = open_new(path, sizeof(path));
	mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ", "12-34567", T0);
	addroute(&x, "CORP", "A", 0);
	addroute(&x, "CORP", "B", 0);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT to_address, type FROM routes"), two);

	/* Unreachable: no master, no routes; the routes stay. */
	mkres(&x, "h", "s", OUTCOME_UNREACHABLE, NULL, NULL, NULL, T0 + MIN);
	x.r.error = "connection refused";
	save(st, &x);
	assert_string_equal(Q(st, "SELECT to_address, type FROM routes"), two);

	/* Master read, NETWORK.GLB damaged, no routes: the routes stay. */
	mkres(&x, "h", "s", OUTCOME_MALFORMED, "CORP", "HQ", "12-34567",
	    T0 + 2 * MIN);
	x.r.error = "GLB\\NETWORK.GLB: bad size";
	save(st, &x);
	assert_string_equal(Q(st, "SELECT to_address, type FROM routes"), two);

	/* Master read but NETWORK.GLB unreadable: the routes stay. */
	mkres(&x, "h", "s", OUTCOME_ACCESS_DENIED, "CORP", "HQ", "12-34567",
	    T0 + 3 * MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT to_address, type FROM routes"), two);

	/* A good crawl replaces them. */
	mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ", "12-34567", T0 + 4 * MIN);
	addroute(&x, "INET", "", 12);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT to_address, type FROM routes"),
	    "INET|smtp");

	/* Malformed with the routes it could read replaces them too. */
	mkres(&x, "h", "s", OUTCOME_MALFORMED, "CORP", "HQ", "12-34567",
	    T0 + 5 * MIN);
	addroute(&x, "CORP", "C", 0);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT to_address, type FROM routes"),
	    "CORP/C|msmail");

	/* A good crawl with no routes empties them. */
	mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ", "12-34567", T0 + 6 * MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT count(*) FROM routes"), "0");
	store_close(st);
}

static void
test_failed_keeps_identity(void **state)
{
	struct store *st;
	struct rows rows;
	struct res x;
	char path[256];
	int i;

	(void)state;
	st = open_new(path, sizeof(path));
	mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ", "12-34567", T0);
	save(st, &x);
	for (i = 1; i <= 3; i++) {
		mkres(&x, "h", "s", i == 3 ? OUTCOME_TIMEOUT : OUTCOME_UNREACHABLE,
		    NULL, NULL, NULL, T0 + i * MIN);
		x.r.error = i == 3 ? "timed out after 30s" : "no route to host";
		save(st, &x);
	}
	assert_string_equal(Q(st, "SELECT address, serial, serial_raw, kind, "
	    "first_seen, last_seen, last_outcome, last_error, last_ok, "
	    "last_crawled, failures FROM postoffices"),
	    "CORP/HQ|12-34567|67839c856a1c99000000|msmail|"
	    "2026-11-24T02:39:27Z|2026-11-24T02:39:27Z|timeout|"
	    "timed out after 30s|2026-11-24T02:39:27Z|2026-11-24T02:42:27Z|3");
	assert_string_equal(Q(st, "SELECT outcome, error FROM crawls "
	    "ORDER BY id"), "ok|NULL\nunreachable|no route to host\n"
	    "unreachable|no route to host\ntimeout|timed out after 30s");
	/* It comes back: failures reset, last_error cleared. */
	mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ", "12-34567", T0 + 4 * MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT last_outcome, last_error, failures, "
	    "last_seen FROM postoffices"),
	    "ok|NULL|0|2026-11-24T02:43:27Z");
	store_close(st);
}

static void
test_never_postoffice(void **state)
{
	struct store *st;
	struct rows rows;
	struct res x;
	char path[256];

	(void)state;
	st = open_new(path, sizeof(path));
	mkres(&x, "h", "public", OUTCOME_NOT_POSTOFFICE, NULL, NULL, NULL, T0);
	x.r.error = "no GLB\\MASTER.GLB";
	save(st, &x);
	/* An address that never answered: counted, not a crawl row a round. */
	mkres(&x, "dead", "s", OUTCOME_UNREACHABLE, NULL, NULL, NULL, T0);
	save(st, &x);
	mkres(&x, "dead", "s", OUTCOME_UNREACHABLE, NULL, NULL, NULL, T0 + MIN);
	save(st, &x);
	assert_int_equal(store_silent_crawls(st), 2);
	assert_string_equal(Q(st, "SELECT count(*) FROM postoffices"), "0");
	assert_string_equal(Q(st, "SELECT location, outcome, error FROM "
	    "crawls ORDER BY id"),
	    "\\\\h\\public|not-postoffice|no GLB\\MASTER.GLB");
	assert_string_equal(Q(st, "SELECT silent_crawls, last_outcome, "
	    "first_crawled, last_crawled FROM locations WHERE location = "
	    "'\\\\dead\\s'"), "2|unreachable|2026-11-24T02:39:27Z|"
	    "2026-11-24T02:40:27Z");
	/* Once it answers, its crawls are rows like any other. */
	mkres(&x, "dead", "s", OUTCOME_ACCESS_DENIED, NULL, NULL, NULL,
	    T0 + 2 * MIN);
	save(st, &x);
	mkres(&x, "dead", "s", OUTCOME_UNREACHABLE, NULL, NULL, NULL,
	    T0 + 3 * MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT outcome FROM crawls WHERE location "
	    "= '\\\\dead\\s' ORDER BY id"), "access-denied\nunreachable");
	/* Found later: it appears, first_seen is when it was found. */
	mkres(&x, "h", "public", OUTCOME_OK, "N", "P", "12-34567", T0 + MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT location, first_seen FROM "
	    "postoffices"), "\\\\h\\public|2026-11-24T02:40:27Z");
	/* And it stays when it goes away again. */
	mkres(&x, "h", "public", OUTCOME_NOT_POSTOFFICE, NULL, NULL, NULL,
	    T0 + 2 * MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT address, last_outcome FROM "
	    "postoffices"), "N/P|not-postoffice");
	store_close(st);
}

static void
test_batch(void **state)
{
	struct store *st;
	struct rows rows;
	struct res *xs;
	struct result *v;
	char path[256], host[32], err[512];
	size_t i, n = 200;

	(void)state;
	st = open_new(path, sizeof(path));
	xs = calloc(n, sizeof(*xs));
	v = calloc(n, sizeof(*v));
	assert_non_null(xs);
	assert_non_null(v);
	for (i = 0; i < n; i++) {
		snprintf(host, sizeof(host), "host%03zu", i);
		mkres(&xs[i], host, "MAILDAT$", OUTCOME_OK, "NET", host,
		    "12-34567", T0);
		addroute(&xs[i], "NET", "OTHER", 0);
		v[i] = xs[i].r;
	}
	assert_int_equal(store_save_batch(st, v, n, err, sizeof(err)), 0);
	assert_string_equal(Q(st, "SELECT count(*), count(DISTINCT serial), "
	    "min(postoffice), max(postoffice) FROM postoffices"),
	    "200|1|host000|host199");
	assert_string_equal(Q(st, "SELECT count(*) FROM routes"), "200");
	assert_string_equal(Q(st, "SELECT count(*) FROM crawls"), "200");

	/* One bad result: nothing of the batch is saved. */
	for (i = 0; i < 10; i++) {
		snprintf(host, sizeof(host), "more%03zu", i);
		mkres(&xs[i], host, "s", OUTCOME_OK, "NET", host, "12-34567",
		    T0 + MIN);
		v[i] = xs[i].r;
	}
	v[7].unc = NULL;
	assert_int_equal(store_save_batch(st, v, 10, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "result 8 of 10"));
	assert_non_null(strstr(err, "without its location"));
	v[7] = xs[7].r;
	v[3].outcome = (enum outcome)99;
	assert_int_equal(store_save_batch(st, v, 10, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "outcome 99"));
	assert_string_equal(Q(st, "SELECT count(*) FROM crawls"), "200");
	assert_string_equal(Q(st, "SELECT count(*) FROM postoffices"), "200");
	/* And the store still works after the rollback. */
	v[3] = xs[3].r;
	assert_int_equal(store_save_batch(st, v, 10, err, sizeof(err)), 0);
	assert_string_equal(Q(st, "SELECT count(*) FROM postoffices"), "210");
	store_close(st);
	free(xs);
	free(v);
}

static void
test_reopen(void **state)
{
	struct store *st;
	struct rows rows;
	struct res x;
	char path[256], err[512];

	(void)state;
	st = open_new(path, sizeof(path));
	mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ", "12-34567", T0);
	addroute(&x, "CORP", "A", 0);
	save(st, &x);
	store_close(st);

	assert_int_equal(store_open(path, STORE_RDWR, &st, err, sizeof(err)),
	    0);
	assert_string_equal(Q(st, "SELECT address, serial FROM postoffices"),
	    "CORP/HQ|12-34567");
	mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ", "22-28798", T0 + MIN);
	save(st, &x);
	store_close(st);

	assert_int_equal(store_open(path, STORE_RDONLY, &st, err,
	    sizeof(err)), 0);
	assert_string_equal(Q(st, "SELECT field, old, new FROM "
	    "postoffice_history"), "serial|12-34567|22-28798");
	assert_string_equal(Q(st, "SELECT count(*) FROM crawls"), "2");
	assert_int_equal(store_save(st, &x.r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "read-only"));
	store_close(st);

	/* Missing file without STORE_CREATE. */
	snprintf(path, sizeof(path), "%s/missing.db", tmpdir);
	assert_int_equal(store_open(path, STORE_RDWR, &st, err, sizeof(err)),
	    -1);
	assert_null(st);
	assert_non_null(strstr(err, "cannot open"));
	assert_int_equal(store_open(path, STORE_RDONLY, &st, err,
	    sizeof(err)), -1);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_refuse_garbage(void **state)
{
	struct store *st;
	char path[256], err[512], junk[4096];
	FILE *f;
	size_t i;

	(void)state;
	dbpath(path, sizeof(path));
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	fclose(f);
	assert_int_equal(store_open(path, STORE_RDWR | STORE_CREATE, &st, err,
	    sizeof(err)), -1);
	assert_null(st);
	assert_non_null(strstr(err,
	    "not a maildatd database: file is not a database"));
	assert_int_equal(store_open(path, STORE_RDONLY, &st, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err,
	    "not a maildatd database: file is not a database"));
	/* Left as it was. */
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fread(junk, 1, sizeof(junk), f), sizeof(junk));
	fclose(f);
	assert_int_equal(junk[1], (char)10);
}

static void
test_refuse_foreign(void **state)
{
	struct store *st;
	sqlite3 *db;
	struct rows rows;
	char path[256], err[512];

	(void)state;
	/* Another application's database, no application_id. */
	dbpath(path, sizeof(path));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (a); "
	    "INSERT INTO t VALUES (1)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, STORE_RDWR | STORE_CREATE, &st, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a maildatd database"));
	assert_non_null(strstr(err, "application_id"));
	/* Untouched: still rollback journal mode, no tables of ours. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "SELECT * FROM location", NULL, NULL,
	    NULL), SQLITE_ERROR);
	sqlite3_close(db);

	/* Another application's database with its own application_id. */
	dbpath(path, sizeof(path));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA application_id = 1234; "
	    "CREATE TABLE t (a)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, STORE_RDWR | STORE_CREATE, &st, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a maildatd database: application_id "
	    "is 0x000004d2, not 0x4d44544d"));
	assert_int_equal(store_open(path, STORE_RDONLY, &st, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "application_id is 0x000004d2"));

	/* An empty SQLite file is adopted read-write, refused read-only. */
	dbpath(path, sizeof(path));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(path, STORE_RDONLY, &st, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "the database is empty"));
	assert_int_equal(store_open(path, STORE_RDWR, &st, err, sizeof(err)),
	    0);
	assert_string_equal(Q(st, "PRAGMA user_version"), latest_version());
	store_close(st);
}

static void
test_refuse_newer(void **state)
{
	struct store *st;
	sqlite3 *db;
	char path[256], err[512], want[256];

	(void)state;
	st = open_new(path, sizeof(path));
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	snprintf(want, sizeof(want), "database schema version 99 is newer "
	    "than this maildatd (%d); upgrade maildatd", store_nmigrations);
	assert_int_equal(store_open(path, STORE_RDWR, &st, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, want));
	assert_int_equal(store_open(path, STORE_RDONLY, &st, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, want));
	assert_int_equal(store_open(path, STORE_QUERY, &st, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, want));
}

static void
test_migrate_from_1(void **state)
{
	struct store *st;
	struct rows rows;
	struct res x;
	sqlite3 *db;
	char path[256], err[512];

	(void)state;
	/* A version 1 database, as a maildatd of that version made it. */
	dbpath(path, sizeof(path));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, store_migrations[0], NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	    "PRAGMA user_version = 1;"
	    "INSERT INTO location (id, location, host, share,"
	    " first_crawled_us, last_crawled_us, last_outcome, first_seen_us,"
	    " last_seen_us, network, postoffice, serial_raw, serial, kind)"
	    " VALUES (1, '\\\\old\\s', 'old', 's', 1795487967000000,"
	    " 1795488147000000, 'unreachable', 1795487967000000,"
	    " 1795487967000000, 'OLD', 'PO', x'67839c856a1c99000000',"
	    " '12-34567', 'msmail');"
	    "INSERT INTO crawl (location_id, started_us, finished_us, outcome,"
	    " serial_raw) VALUES"
	    " (1, 1795487967000000, 1795487967000000, 'ok',"
	    "  x'67839c856a1c99000000'),"
	    " (1, 1795488027000000, 1795488027000000, 'unreachable', NULL),"
	    " (1, 1795488087000000, 1795488087000000, 'timeout', NULL);"
	    "INSERT INTO route VALUES (1, 0, 'OLD', 'X', 0, 1);"
	    "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	/* Read-only opens say how to upgrade and change nothing. */
	assert_int_equal(store_open(path, STORE_RDONLY, &st, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "database schema version 1 is older than "
	    "this maildatd"));
	assert_non_null(strstr(err, "run maildatd or maildatctl scan --save "
	    "once to upgrade"));
	assert_int_equal(store_open(path, STORE_QUERY, &st, err,
	    sizeof(err)), -1);

	/* Read-write upgrades in place and keeps the data. */
	assert_int_equal(store_open(path, STORE_RDWR, &st, err, sizeof(err)),
	    0);
	assert_int_equal(store_schema_version(st), store_nmigrations);
	assert_string_equal(Q(st, "PRAGMA user_version"), latest_version());
	assert_string_equal(Q(st, "SELECT location, address, serial, "
	    "first_seen, last_outcome, failures FROM postoffices"),
	    "\\\\old\\s|OLD/PO|12-34567|2026-11-24T02:39:27Z|unreachable|2");
	assert_string_equal(Q(st, "SELECT count(*) FROM crawls"), "3");
	assert_string_equal(Q(st, "SELECT to_address FROM routes"), "OLD/X");
	assert_string_equal(Q(st, "SELECT count(*) FROM sqlite_master WHERE "
	    "name IN ('location_serial', 'location_serial_hex')"), "2");
	assert_string_equal(Q(st, "PRAGMA foreign_key_check"), "");
	assert_string_equal(Q(st, "PRAGMA integrity_check"), "ok");
	/* And it goes on from there. */
	mkres(&x, "old", "s", OUTCOME_UNREACHABLE, NULL, NULL, NULL,
	    T0 + 10 * MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT failures FROM postoffices"), "3");
	mkres(&x, "old", "s", OUTCOME_OK, "OLD", "PO", "22-28798",
	    T0 + 11 * MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT failures, serial FROM postoffices"),
	    "0|22-28798");
	assert_string_equal(Q(st, "SELECT field, old, new FROM "
	    "postoffice_history"), "serial|12-34567|22-28798");
	store_close(st);
	/* The upgraded file opens read-only now. */
	assert_int_equal(store_open(path, STORE_RDONLY, &st, err,
	    sizeof(err)), 0);
	store_close(st);
}

#define DAY	(INT64_C(86400) * 1000000)

/*
 * Retention: old crawl rows go in batches, except the last crawl of each
 * location, the crawls that changed an identity and those whose routes
 * are in force; cleared alerts go after their own retention, open ones
 * stay; the pass ends (cursor 0) and a second one finds nothing.
 */
static void
test_prune(void **state)
{
	struct store *st;
	struct rows rows;
	struct res x;
	char path[256], err[512], cnt[32];
	int64_t cursor = 0, id, t;
	int deleted, total = 0, passes = 0, i;

	(void)state;
	st = open_new(path, sizeof(path));
	assert_string_equal(Q(st, "PRAGMA auto_vacuum"), "2");
	/* Day 0: the identity; then 1,199 crawls over 100 days. */
	mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ", "12-34567", T0);
	addroute(&x, "CORP", "A", 0);
	save(st, &x);
	for (i = 1; i < 1200; i++) {
		t = T0 + (int64_t)i * 2 * 3600 * 1000000;
		if (i == 600)	/* the serial changes on day 50 */
			mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ",
			    "12-34568", t);
		else if (i % 2)
			mkres(&x, "h", "s", OUTCOME_UNREACHABLE, NULL, NULL,
			    NULL, t);
		else
			mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ",
			    i < 600 ? "12-34567" : "12-34568", t);
		save(st, &x);
	}
	/* Another location crawled once, on day 0: its only crawl stays. */
	mkres(&x, "g", "s", OUTCOME_AUTH_FAILED, NULL, NULL, NULL, T0 + MIN);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT count(*) FROM crawl"), "1201");

	assert_int_equal(store_alert_raise(st, "r", 3, "old", "m", T0, &id,
	    err, sizeof(err)), 0);
	assert_int_equal(store_alert_clear(st, id, T0 + DAY, err,
	    sizeof(err)), 0);
	assert_int_equal(store_alert_raise(st, "r", 3, "young", "m", T0, &id,
	    err, sizeof(err)), 0);
	assert_int_equal(store_alert_clear(st, id, T0 + 90 * DAY, err,
	    sizeof(err)), 0);
	assert_int_equal(store_alert_raise(st, "r", 3, "open", "m", T0, &id,
	    err, sizeof(err)), 0);

	/* Keep 30 days of crawls (from day 70), 60 days of cleared alerts. */
	do {
		assert_int_equal(store_prune(st, T0 + 70 * DAY, T0 + 60 * DAY,
		    &cursor, &deleted, err, sizeof(err)), 0);
		assert_true(deleted <= 2 * 500);
		total += deleted;
		passes++;
	} while (cursor != 0);
	assert_true(passes >= 2);	/* more than one batch */
	/*
	 * Day 70 is crawl 840: crawls 840..1199 stay (360), and of the
	 * older ones the first (routes? no: replaced since) is gone, the
	 * serial change (crawl 600) and g's only crawl stay.
	 */
	snprintf(cnt, sizeof(cnt), "%d", 360 + 2);
	assert_string_equal(Q(st, "SELECT count(*) FROM crawl"), cnt);
	assert_int_equal(total, 1201 - (360 + 2) + 1);
	assert_string_equal(Q(st, "SELECT count(*) FROM crawls WHERE "
	    "location = '\\\\g\\s'"), "1");
	assert_string_equal(Q(st, "SELECT old, new FROM postoffice_history "
	    "WHERE field = 'serial'"), "12-34567|12-34568");
	assert_string_equal(Q(st, "SELECT key FROM alerts ORDER BY key"),
	    "open\nyoung");
	/* The routes in force keep their crawl. */
	assert_string_equal(Q(st, "SELECT count(*) FROM route r JOIN crawl c "
	    "ON c.id = r.crawl_id"), Q(st, "SELECT count(*) FROM route"));
	/* A second pass has nothing to do. */
	assert_int_equal(store_prune(st, T0 + 70 * DAY, T0 + 60 * DAY,
	    &cursor, &deleted, err, sizeof(err)), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(store_checkpoint(st, err, sizeof(err)), 0);
	store_close(st);
}

/* Retirement by key and of locations failing longer than retire_after. */
static void
test_retire(void **state)
{
	struct store *st;
	struct rows rows;
	struct res x;
	char path[256], err[512];
	int n;

	(void)state;
	st = open_new(path, sizeof(path));
	mkres(&x, "a", "s", OUTCOME_OK, "CORP", "A", "12-34567", T0);
	save(st, &x);
	mkres(&x, "a", "s", OUTCOME_UNREACHABLE, NULL, NULL, NULL,
	    T0 + 40 * DAY);
	save(st, &x);
	mkres(&x, "b", "s", OUTCOME_OK, "CORP", "B", "12-34568", T0 + 15 * DAY);
	save(st, &x);
	mkres(&x, "b", "s", OUTCOME_UNREACHABLE, NULL, NULL, NULL,
	    T0 + 20 * DAY);
	save(st, &x);
	mkres(&x, "c", "s", OUTCOME_AUTH_FAILED, NULL, NULL, NULL, T0);
	save(st, &x);
	mkres(&x, "d", "s", OUTCOME_OK, "CORP", "D", "12-34569", T0);
	save(st, &x);

	/* At day 40 with retire_after 30 days: a (read day 0) and c go. */
	assert_int_equal(store_retire_failing(st, T0 + 40 * DAY, 30 * DAY,
	    &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(Q(st, "SELECT location, state FROM locations "
	    "ORDER BY location"), "\\\\a\\s|retired\n\\\\b\\s|active\n"
	    "\\\\c\\s|retired\n\\\\d\\s|active");
	assert_string_equal(Q(st, "SELECT count(*) FROM postoffices"), "2");
	/* By key: d goes; retiring it again changes nothing. */
	x.r.key = x.key;
	mkres(&x, "d", "s", OUTCOME_OK, NULL, NULL, NULL, T0);
	assert_int_equal(store_retire(st, x.key, T0 + DAY, err, sizeof(err)),
	    0);
	assert_int_equal(store_retire(st, x.key, T0 + 2 * DAY, err,
	    sizeof(err)), 0);
	assert_string_equal(Q(st, "SELECT state, retired_us = ? FROM "
	    "location WHERE key = ?", "1795574367000000", x.key),
	    "retired|1");
	/* A crawl that reads d again brings it back. */
	mkres(&x, "d", "s", OUTCOME_OK, "CORP", "D", "12-34569", T0 + 3 * DAY);
	save(st, &x);
	assert_string_equal(Q(st, "SELECT state FROM locations WHERE "
	    "location = '\\\\d\\s' ORDER BY state"), "active");
	store_close(st);
}

struct susp_seen {
	char	buf[512];
};

static void
susp_collect(void *arg, const struct store_suspension *sp)
{
	struct susp_seen *s = arg;
	size_t len = strlen(s->buf);

	snprintf(s->buf + len, sizeof(s->buf) - len, "%s|%s|%s|%d|%s|%s|%lld;",
	    sp->name, sp->fingerprint, sp->account, sp->failures, sp->hosts,
	    sp->status ? sp->status : "NULL", (long long)sp->since_us);
}

/* The lockout guard's suspensions: set, replaced, listed, cleared. */
static void
test_suspensions(void **state)
{
	struct store_suspension sp = { "bad", "0123456789abcdef", "CORP\\svc",
	    3, "h1, h2", "NT_STATUS_LOGON_FAILURE", T0 };
	struct susp_seen seen;
	struct store *st;
	struct rows rows;
	char path[256], err[512];

	(void)state;
	st = open_new(path, sizeof(path));
	assert_int_equal(store_suspension_set(st, &sp, err, sizeof(err)), 0);
	sp.failures = 4;
	sp.status = NULL;
	assert_int_equal(store_suspension_set(st, &sp, err, sizeof(err)), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_suspensions(st, susp_collect, &seen, err,
	    sizeof(err)), 0);
	assert_string_equal(seen.buf, "bad|0123456789abcdef|CORP\\svc|4|"
	    "h1, h2|NULL|1795487967000000;");
	assert_string_equal(Q(st, "SELECT count(*) FROM credential_state"),
	    "1");
	assert_int_equal(store_suspension_clear(st, "bad", err, sizeof(err)),
	    0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_suspensions(st, susp_collect, &seen, err,
	    sizeof(err)), 0);
	assert_string_equal(seen.buf, "");
	store_close(st);
}

/*
 * A file made without incremental vacuum is converted in place; the
 * store notices its file deleted or replaced.
 */
static void
test_vacuum_and_replaced(void **state)
{
	struct store *st;
	struct rows rows;
	sqlite3 *db;
	char path[256], other[300], err[512];
	int converted;

	(void)state;
	st = open_new(path, sizeof(path));
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA auto_vacuum = NONE; VACUUM",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	if (store_open(path, STORE_RDWR, &st, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_string_equal(Q(st, "PRAGMA auto_vacuum"), "0");
	assert_int_equal(store_incremental_vacuum(st, &converted, err,
	    sizeof(err)), 0);
	assert_int_equal(converted, 1);
	assert_string_equal(Q(st, "PRAGMA auto_vacuum"), "2");
	assert_int_equal(store_incremental_vacuum(st, &converted, err,
	    sizeof(err)), 0);
	assert_int_equal(converted, 0);

	assert_int_equal(store_file_replaced(st), 0);
	snprintf(other, sizeof(other), "%s.other", path);
	assert_int_equal(rename(path, other), 0);
	assert_int_equal(store_file_replaced(st), 1);	/* gone */
	assert_int_equal(link(other, path), 0);
	assert_int_equal(store_file_replaced(st), 0);	/* the same file */
	unlink(path);
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fclose(f);
	}
	assert_int_equal(store_file_replaced(st), 1);	/* another file */
	store_close(st);
	unlink(other);
}

static void
test_alerts_open_unique(void **state)
{
	struct store *st;
	struct rows rows;
	sqlite3 *db;
	char path[256];
	const char *ins = "INSERT INTO alert (rule, severity, key, message, "
	    "raised_us, last_seen_us) VALUES ('duplicate-serial', 'err', "
	    "'22-28798', 'two postoffices', 1795487967000000, "
	    "1795487967000000)";

	(void)state;
	st = open_new(path, sizeof(path));
	db = store_db(st);
	assert_int_equal(sqlite3_exec(db, ins, NULL, NULL, NULL), SQLITE_OK);
	/* A second open alert for the same rule and key is refused. */
	assert_int_equal(sqlite3_exec(db, ins, NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	assert_int_equal(sqlite3_exec(db, "UPDATE alert SET state = 'cleared',"
	    " cleared_us = 1795488027000000", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, ins, NULL, NULL, NULL), SQLITE_OK);
	/* cleared needs a time, and only the known severities go. */
	assert_int_equal(sqlite3_exec(db, "UPDATE alert SET state = 'cleared'"
	    " WHERE cleared_us IS NULL", NULL, NULL, NULL), SQLITE_CONSTRAINT);
	assert_int_equal(sqlite3_exec(db, "UPDATE alert SET severity = 'loud'",
	    NULL, NULL, NULL), SQLITE_CONSTRAINT);
	assert_string_equal(Q(st, "SELECT id, rule, severity, state, key, "
	    "message, raised, last_seen, cleared FROM alerts ORDER BY id"),
	    "1|duplicate-serial|err|cleared|22-28798|two postoffices|"
	    "2026-11-24T02:39:27Z|2026-11-24T02:39:27Z|2026-11-24T02:40:27Z\n"
	    "2|duplicate-serial|err|open|22-28798|two postoffices|"
	    "2026-11-24T02:39:27Z|2026-11-24T02:39:27Z|NULL");
	store_close(st);
}

static void
test_busy(void **state)
{
	struct store *st, *st2;
	struct rows rows;
	struct res x;
	char path[256], err[512];

	(void)state;
	st = open_new(path, sizeof(path));
	assert_int_equal(store_open(path, STORE_RDWR, &st2, err, sizeof(err)),
	    0);
	/* st2 holds the write lock; st gives up after its timeout. */
	assert_int_equal(sqlite3_exec(store_db(st2), "BEGIN IMMEDIATE", NULL,
	    NULL, NULL), SQLITE_OK);
	assert_int_equal(store_set_busy_timeout(st, 50), 0);
	mkres(&x, "h", "s", OUTCOME_OK, "N", "P", "12-34567", T0);
	assert_int_equal(store_save(st, &x.r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "locked"));
	/* A reader is not blocked by the writer (WAL). */
	assert_string_equal(Q(st, "SELECT count(*) FROM crawls"), "0");
	assert_int_equal(sqlite3_exec(store_db(st2), "COMMIT", NULL, NULL,
	    NULL), SQLITE_OK);
	save(st, &x);
	assert_string_equal(Q(st2, "SELECT count(*) FROM postoffices"), "1");
	store_close(st2);
	store_close(st);
}

/* The read-only query connection. */

static const char *const refused_sql[][2] = {
	{ "INSERT INTO crawls (id) VALUES (5)",
	    "query refused: read-only access; INSERT into table 'crawls' is "
	    "not allowed" },
	{ "INSERT INTO crawl (location_id) SELECT 1",
	    "INSERT into table 'crawl' is not allowed" },
	{ "UPDATE location SET network = 'X'",
	    "query refused: read-only access; UPDATE of table 'location'" },
	{ "DELETE FROM crawl",
	    "query refused: read-only access; DELETE from table 'crawl'" },
	{ "DROP TABLE crawl",
	    "query refused: read-only access; DROP is not allowed (it would "
	    "change the schema)" },
	{ "DROP VIEW postoffices", "DROP is not allowed" },
	{ "DROP INDEX crawl_location", "DROP is not allowed" },
	{ "CREATE TABLE x (a)",
	    "query refused: read-only access; CREATE is not allowed (it would "
	    "change the schema)" },
	{ "UPDATE sqlite_master SET sql = 'x'", "may not be modified" },
	{ "DELETE FROM sqlite_master", "may not be modified" },
	{ "CREATE TEMP TABLE x (a)", "query refused: read-only access;" },
	{ "CREATE INDEX x ON crawl (error)", "query refused:" },
	{ "CREATE VIEW v AS SELECT 1", "query refused:" },
	{ "ALTER TABLE crawl ADD COLUMN x", "ALTER TABLE 'crawl'" },
	{ "ATTACH DATABASE '/tmp/x.db' AS x",
	    "query refused: ATTACH is not allowed" },
	{ "PRAGMA writable_schema = 1",
	    "query refused: PRAGMA writable_schema is not allowed "
	    "(read-only)" },
	{ "PRAGMA writable_schema", "PRAGMA writable_schema is not allowed" },
	{ "PRAGMA journal_mode = DELETE",
	    "query refused: PRAGMA journal_mode is not allowed (read-only)" },
	{ "PRAGMA page_size = 1024",
	    "query refused: setting PRAGMA page_size is not allowed "
	    "(read-only)" },
	{ "PRAGMA user_version = 7", "setting PRAGMA user_version" },
	{ "PRAGMA main.application_id = 7", "setting PRAGMA application_id" },
	{ "PRAGMA query_only = 0", "PRAGMA query_only is not allowed" },
	{ "PRAGMA foreign_keys = OFF", "setting PRAGMA foreign_keys" },
	/* Pragma functions take no value to set. */
	{ "SELECT * FROM pragma_user_version(5)", "too many arguments" },
	{ "SELECT load_extension('x')",
	    "query refused: function load_extension() is not allowed" },
	{ "select LOAD_EXTENSION('/tmp/evil.so', 'init')",
	    "load_extension() is not allowed" },
	{ "SELECT 1; DELETE FROM crawl",
	    "query refused: only one SQL statement is allowed" },
	{ "SELECT 1; SELECT 2", "only one SQL statement is allowed" },
	{ "BEGIN", "query refused: BEGIN is not allowed" },
	{ "SAVEPOINT a", "SAVEPOINT is not allowed" },
	{ "VACUUM", "query refused:" },
	{ "REINDEX", "REINDEX is not allowed" },
	/* Without sqlite_stat1 the first refusal is of its CREATE. */
	{ "ANALYZE", "query refused: read-only access;" },
	{ "WITH x AS (SELECT 1) DELETE FROM crawl", "DELETE from table" },
	{ "EXPLAIN DELETE FROM crawl", "DELETE from table 'crawl'" },
};

static void
test_query_refused(void **state)
{
	struct store *st, *qs;
	struct rows rows;
	struct res x;
	char path[256], err[512];
	size_t i;

	(void)state;
	st = open_new(path, sizeof(path));
	mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ", "12-34567", T0);
	save(st, &x);
	store_close(st);

	assert_int_equal(store_open(path, STORE_QUERY, &qs, err, sizeof(err)),
	    0);
	for (i = 0; i < sizeof(refused_sql) / sizeof(refused_sql[0]); i++) {
		err[0] = '\0';
		if (store_query(qs, refused_sql[i][0], collect, &rows, err,
		    sizeof(err)) != -1)
			fail_msg("not refused: %s", refused_sql[i][0]);
		if (strstr(err, refused_sql[i][1]) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\"",
			    refused_sql[i][0], err, refused_sql[i][1]);
	}
	/* Nothing changed. */
	assert_string_equal(Q(qs, "SELECT count(*) FROM crawls"), "1");
	assert_string_equal(Q(qs, "PRAGMA user_version"), latest_version());
	assert_string_equal(Q(qs, "SELECT count(*) FROM sqlite_master WHERE "
	    "name = 'x'"), "0");
	store_close(qs);

	/* The file still opens read-write with its data. */
	assert_int_equal(store_open(path, STORE_RDWR, &st, err, sizeof(err)),
	    0);
	assert_string_equal(Q(st, "SELECT address FROM postoffices"),
	    "CORP/HQ");
	assert_string_equal(Q(st, "PRAGMA journal_mode"), "wal");
	store_close(st);

	assert_int_equal(store_open(path, STORE_QUERY | STORE_RDWR, &st, err,
	    sizeof(err)), -1);
}

/* Every pragma the query connection allows. */
static const char *const pragmas[] = {
	"PRAGMA application_id", "PRAGMA user_version",
	"PRAGMA schema_version", "PRAGMA data_version",
	"PRAGMA freelist_count", "PRAGMA page_count", "PRAGMA page_size",
	"PRAGMA encoding", "PRAGMA foreign_keys", "PRAGMA compile_options",
	"PRAGMA database_list", "PRAGMA collation_list",
	"PRAGMA function_list", "PRAGMA module_list", "PRAGMA pragma_list",
	"PRAGMA table_info(location)", "PRAGMA main.table_xinfo(routes)",
	"PRAGMA table_list", "PRAGMA table_list(crawl)",
	"PRAGMA index_list(crawl)", "PRAGMA index_info(alert_open)",
	"PRAGMA index_xinfo(alert_open)", "PRAGMA foreign_key_list(crawl)",
	"PRAGMA foreign_key_check", "PRAGMA foreign_key_check(route)",
	"PRAGMA integrity_check", "PRAGMA integrity_check(crawl)",
	"PRAGMA quick_check", "PRAGMA quick_check(1)",
};

static void
test_query_allowed(void **state)
{
	struct store *st, *qs;
	struct rows rows;
	struct res x;
	char path[256], err[512];
	size_t i;

	(void)state;
	st = open_new(path, sizeof(path));
	mkres(&x, "h", "s", OUTCOME_OK, "CORP", "HQ", "22-28798", T0);
	addroute(&x, "CORP", "A", 0);
	save(st, &x);

	/* Open while the writer is open, as with the daemon running. */
	assert_int_equal(store_open(path, STORE_QUERY, &qs, err, sizeof(err)),
	    0);
	assert_string_equal(Q(qs, "SELECT location, address, serial, "
	    "serial_raw, kind, first_seen FROM postoffices"),
	    "\\\\h\\s|CORP/HQ|22-28798|64839d89681396000000|"
	    "connector|2026-11-24T02:39:27Z");
	assert_string_equal(Q(qs, "SELECT p.address, r.to_address FROM "
	    "postoffices p JOIN routes r USING (location) -- comment\n;  ;"),
	    "CORP/HQ|CORP/A");
	assert_string_equal(Q(qs, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
	    "SELECT i + 1 FROM n WHERE i < 3) SELECT group_concat(i) FROM n"),
	    "1,2,3");
	assert_string_equal(Q(qs, "SELECT group_concat(name, ',') FROM "
	    "pragma_table_info('crawls')"),
	    "id,location,started,finished,outcome,error,network,postoffice,"
	    "address,serial,serial_raw,checksum_ok");
	Q(qs, "PRAGMA table_info(postoffices)");
	assert_int_equal(rows.n, 22);
	assert_string_equal(Q(qs, "SELECT count(*) FROM "
	    "pragma_table_list WHERE name = 'alerts'"), "1");
	assert_string_equal(Q(qs, "PRAGMA user_version"), latest_version());
	assert_string_equal(Q(qs, "PRAGMA application_id"), "1296323661");
	assert_string_equal(Q(qs, "PRAGMA quick_check"), "ok");
	Q(qs, "PRAGMA index_list(location)");
	assert_true(rows.n >= 4);
	for (i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
		if (store_query(qs, pragmas[i], NULL, NULL, err,
		    sizeof(err)) != 0)
			fail_msg("%s: %s", pragmas[i], err);
	}
	assert_string_equal(Q(qs, "SELECT count(*) FROM crawls WHERE "
	    "outcome = ?1", "ok"), "1");
	/* The writer goes on while the reader is open. */
	mkres(&x, "h2", "s", OUTCOME_OK, "CORP", "B", "12-34567", T0 + MIN);
	save(st, &x);
	assert_string_equal(Q(qs, "SELECT count(*) FROM postoffices"), "2");

	/* Plain errors are reported as such. */
	assert_int_equal(store_query(qs, "SELECT nosuch FROM postoffices",
	    NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no such column: nosuch"));
	assert_int_equal(store_query(qs, "  -- nothing\n", NULL, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no SQL statement"));
	assert_int_equal(store_query(qs, "SELECT ?1, ?2", NULL, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "takes 2 parameters, 0 given"));
	store_close(qs);
	store_close(st);
}

/* A callback that stops after the first row. */
static int
first_only(void *arg, int ncols, sqlite3_stmt *s)
{
	(void)ncols;
	*(int *)arg = sqlite3_column_int(s, 0);
	return 7;
}

static void
test_query_stop(void **state)
{
	struct store *st;
	char path[256], err[512];
	int v = 0;

	(void)state;
	st = open_new(path, sizeof(path));
	assert_int_equal(store_query(st, "SELECT 5 UNION ALL SELECT 6",
	    first_only, &v, err, sizeof(err)), 7);
	assert_int_equal(v, 5);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embedded),
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_save_views),
		cmocka_unit_test(test_serial_raw_hex),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_routes_last_good),
		cmocka_unit_test(test_failed_keeps_identity),
		cmocka_unit_test(test_never_postoffice),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_refuse_garbage),
		cmocka_unit_test(test_refuse_foreign),
		cmocka_unit_test(test_refuse_newer),
		cmocka_unit_test(test_migrate_from_1),
		cmocka_unit_test(test_alerts_open_unique),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_retire),
		cmocka_unit_test(test_suspensions),
		cmocka_unit_test(test_vacuum_and_replaced),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_query_refused),
		cmocka_unit_test(test_query_allowed),
		cmocka_unit_test(test_query_stop),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
