/*
 * store: the SQLite database of locations, crawls, identities, routes and
 * alerts: opening, checking and upgrading it, the functions maildatd's SQL
 * uses, read-only queries, and the writer's lock.  Saving results is in
 * store_save.c, alerts and rule runs in store_alert.c, retention and the
 * lifecycle of locations in store_prune.c.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "location.h"
#include "errbuf.h"
#include "log.h"
#include "po.h"
#include "safefile.h"
#include "store.h"
#include "store_int.h"
#include "topo.h"
#include "xmalloc.h"

const char *const store_stmt_sql[ST_NSTMT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_LOC_FIND] =
	    "SELECT id, network, postoffice, serial_raw, serial, state,"
	    " last_crawl_id FROM location WHERE key = ?1"
	    " ORDER BY state = 'active' DESC, last_crawled_us DESC LIMIT 1",
	[ST_LOC_INSERT] =
	    "INSERT INTO location (location, key, host, port, share, path,"
	    " first_crawled_us, last_crawled_us, last_outcome, last_error,"
	    " silent_crawls) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9,"
	    " ?10)",
	[ST_HOST_ANSWERED] =
	    "SELECT 1 FROM location WHERE host = ?1 AND port = ?2"
	    " AND (last_crawl_id IS NOT NULL OR serial_raw IS NOT NULL) LIMIT 1",
	[ST_LOC_UPDATE] =
	    "UPDATE location SET last_crawled_us = ?2, last_outcome = ?3,"
	    " last_error = ?4,"
	    " state = CASE WHEN ?5 THEN 'active' ELSE state END,"
	    " retired_us = CASE WHEN ?5 THEN NULL ELSE retired_us END,"
	    " silent_crawls = silent_crawls + ?6 WHERE id = ?1",
	[ST_CRAWL_ADD] =
	    "INSERT INTO crawl (location_id, started_us, finished_us, outcome,"
	    " error, network, postoffice, serial_raw, serial, kind,"
	    " checksum_ok, nroutes)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_CHANGE_ADD] =
	    "INSERT INTO identity_change (location_id, crawl_id, changed_us,"
	    " field, old, new) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_LOC_IDENTITY] =
	    "UPDATE location SET network = ?2, postoffice = ?3,"
	    " serial_raw = ?4, serial = ?5, kind = ?6, flags = ?7,"
	    " nos_type = ?8, db_version = ?9, product_version = ?10,"
	    " checksum_ok = ?11, first_seen_us = coalesce(first_seen_us, ?12),"
	    " address_key = ?15,"
	    " last_seen_us = ?12,"
	    " last_ok_us = CASE WHEN ?13 THEN ?12 ELSE last_ok_us END,"
	    " failures = 0, last_crawl_id = ?14 WHERE id = ?1",
	[ST_LOC_FAILED] =
	    "UPDATE location SET failures = failures + 1, last_crawl_id = ?2"
	    " WHERE id = ?1",
	[ST_LOC_SERIAL_CHANGE] =
	    "UPDATE location SET serial_change_id = ?2 WHERE id = ?1",
	[ST_ROUTE_CLEAR] = "DELETE FROM route WHERE location_id = ?1",
	[ST_ROUTE_ADD] =
	    "INSERT INTO route (location_id, seq, to_network, to_postoffice,"
	    " type, crawl_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_ALERT_OPEN] =
	    "SELECT id, key, message, severity,"
	    " coalesce(last_notified_us, raised_us) FROM alert"
	    " WHERE state = 'open' AND rule = ?1",
	[ST_ALERT_RULES] = "SELECT DISTINCT rule FROM alert WHERE state = 'open'",
	[ST_ALERT_RAISE] =
	    "INSERT INTO alert (rule, severity, state, key, message, raised_us,"
	    " last_seen_us, last_notified_us)"
	    " VALUES (?1, ?2, 'open', ?3, ?4, ?5, ?5, ?5)",
	[ST_ALERT_SEEN] =
	    "UPDATE alert SET last_seen_us = ?2, message = ?3, severity = ?4,"
	    " last_notified_us = CASE WHEN ?5 THEN ?2"
	    " ELSE last_notified_us END WHERE id = ?1",
	[ST_ALERT_CLEAR] =
	    "UPDATE alert SET state = 'cleared', cleared_us = ?2 WHERE id = ?1",
};

static int	store_refuse(struct store *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Run one statement with no parameters and no rows wanted; 0 or -1 with err. */
int
store_exec(struct store *st, const char *sql, const char *what, char *err,
    size_t errlen)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		errbuf_set(err, errlen, "%s: %s", what, sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* Read the integer a one-row statement such as "PRAGMA user_version" gives. */
static int
store_get_int(struct store *st, const char *sql, int64_t *v)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Check that path holds our database, or nothing yet, at a version this
 * build can use; set st->version.  rw says whether an empty or older
 * database may be created or upgraded.
 */
static int
store_check(struct store *st, const char *path, int rw, char *err,
    size_t errlen)
{
	int64_t appid, version, nobjects;
	int latest = store_nmigrations;

	if (store_get_int(st, "PRAGMA application_id", &appid) == -1 ||
	    store_get_int(st, "PRAGMA user_version", &version) == -1 ||
	    store_get_int(st, "SELECT count(*) FROM sqlite_master",
	    &nobjects) == -1) {
		if (sqlite3_errcode(st->db) == SQLITE_NOTADB)
			errbuf_set(err, errlen,
			    "%s: not a maildatd database: %s", path,
			    sqlite3_errmsg(st->db));
		else
			errbuf_set(err, errlen, "%s: %s", path,
			    sqlite3_errmsg(st->db));
		return -1;
	}
	if (appid != STORE_APPLICATION_ID) {
		if (appid != 0) {
			errbuf_set(err, errlen, "%s: not a maildatd database: "
			    "application_id is 0x%08llx, not 0x%08x", path,
			    (unsigned long long)(uint32_t)appid,
			    STORE_APPLICATION_ID);
			return -1;
		}
		if (nobjects != 0 || version != 0) {
			errbuf_set(err, errlen, "%s: not a maildatd database: "
			    "it holds %lld schema objects and no maildatd "
			    "application_id", path, (long long)nobjects);
			return -1;
		}
		if (!rw) {
			errbuf_set(err, errlen, "%s: the database is empty; "
			    "run maildatd or maildatctl scan --save once to "
			    "create it", path);
			return -1;
		}
	}
	if (version > latest) {
		errbuf_set(err, errlen, "%s: database schema version %lld is "
		    "newer than this maildatd (%d); upgrade maildatd", path,
		    (long long)version, latest);
		return -1;
	}
	if (version < 0 || (version == 0 && appid == STORE_APPLICATION_ID)) {
		errbuf_set(err, errlen, "%s: database schema version %lld is "
		    "not valid", path, (long long)version);
		return -1;
	}
	if (version < latest && !rw && appid == STORE_APPLICATION_ID) {
		errbuf_set(err, errlen, "%s: database schema version %lld is "
		    "older than this maildatd (%d); run maildatd or maildatctl "
		    "scan --save once to upgrade", path, (long long)version,
		    latest);
		return -1;
	}
	st->version = (int)version;
	return 0;
}

/* Create or upgrade the schema in one BEGIN IMMEDIATE transaction. */
static int
store_migrate(struct store *st, const char *path, char *err, size_t errlen)
{
	char sql[64], what[64];
	int v;

	if (store_exec(st, "BEGIN IMMEDIATE", path, err, errlen) == -1)
		return -1;
	/* Another process may have created or upgraded it meanwhile. */
	if (store_check(st, path, 1, err, errlen) == -1)
		goto fail;
	for (v = st->version; v < store_nmigrations; v++) {
		snprintf(what, sizeof(what), "%s: schema migration %d", path,
		    v + 1);
		if (store_exec(st, store_migrations[v], what, err,
		    errlen) == -1)
			goto fail;
		/* A pragma takes no parameters; v is our own integer. */
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (store_exec(st, sql, what, err, errlen) == -1)
			goto fail;
	}
	if (store_exec(st, "COMMIT", path, err, errlen) == -1)
		goto fail;
	if (st->version != store_nmigrations)
		log_debug("%s: schema upgraded from version %d to %d", path,
		    st->version, store_nmigrations);
	st->version = store_nmigrations;
	return 0;
fail:
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Set up a read-write connection: WAL, synchronous, foreign keys. */
static int
store_setup_rw(struct store *st, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	const char *mode;

	/*
	 * A new file gives freed pages back (store_prune); this is only
	 * possible before the first table is made.
	 */
	if (st->version == 0 && store_exec(st, "PRAGMA auto_vacuum = "
	    "INCREMENTAL", path, err, errlen) == -1)
		return -1;
	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s,
	    NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		errbuf_set(err, errlen, "%s: journal_mode = WAL: %s", path,
		    sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		return -1;
	}
	mode = (const char *)sqlite3_column_text(s, 0);
	if (mode != NULL && strcasecmp(mode, "wal") != 0 &&
	    strcasecmp(mode, "memory") != 0)
		log_warnx("%s: journal_mode is %s, not wal: readers will "
		    "block the daemon", path, mode);
	sqlite3_finalize(s);
	if (store_exec(st, "PRAGMA synchronous = NORMAL", path, err,
	    errlen) == -1 ||
	    store_exec(st, "PRAGMA foreign_keys = ON", path, err,
	    errlen) == -1 ||
	    store_exec(st, "PRAGMA journal_size_limit = 67108864", path, err,
	    errlen) == -1)
		return -1;
	return 0;
}

/*
 * The read-only query authorizer (STORE_QUERY).  It is consulted while a
 * statement is prepared; the first refusal is kept in st->refused.
 */

/*
 * Pragmas that only read, and are allowed without an argument only.
 * (journal_mode is not: even reading it compiles to a statement SQLite
 * does not call read-only.)
 */
static const char *const store_pragma_noarg[] = {
	"application_id", "user_version", "schema_version", "data_version",
	"freelist_count", "page_count", "page_size", "encoding",
	"foreign_keys", "compile_options", "database_list",
	"collation_list", "function_list", "module_list", "pragma_list",
	NULL
};

/* Pragmas whose argument names what to read, never a value to set. */
static const char *const store_pragma_arg[] = {
	"table_info", "table_xinfo", "table_list", "index_list", "index_info",
	"index_xinfo", "foreign_key_list", "foreign_key_check",
	"integrity_check", "quick_check",
	NULL
};

static int
store_refuse(struct store *st, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (st->refused[0] != '\0')
		return SQLITE_DENY;
	len = (size_t)snprintf(st->refused, sizeof(st->refused),
	    "query refused: ");
	va_start(ap, fmt);
	vsnprintf(st->refused + len, sizeof(st->refused) - len, fmt, ap);
	va_end(ap);
	return SQLITE_DENY;
}

static int
store_listed(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcasecmp(*list, name) == 0)
			return 1;
	return 0;
}

/* Return s, or "?" for NULL, for messages. */
const char *
store_nz(const char *s)
{
	return s != NULL ? s : "?";
}

static int
store_schema_table(const char *name)
{
	return name != NULL && (strcasecmp(name, "sqlite_master") == 0 ||
	    strcasecmp(name, "sqlite_temp_master") == 0 ||
	    strcasecmp(name, "sqlite_schema") == 0 ||
	    strcasecmp(name, "sqlite_temp_schema") == 0);
}

static int
store_authorize(void *arg, int action, const char *a3, const char *a4,
    const char *dbname, const char *trigger)
{
	struct store *st = arg;
	const char *ro = "read-only access;";

	(void)dbname;
	(void)trigger;
	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_READ:
	case SQLITE_RECURSIVE:
		return SQLITE_OK;
	case SQLITE_FUNCTION:
		if (a4 != NULL && strcasecmp(a4, "load_extension") == 0)
			return store_refuse(st, "function load_extension() is "
			    "not allowed");
		/* fts3_tokenizer() hands out a memory address. */
		if (a4 != NULL && strcasecmp(a4, "fts3_tokenizer") == 0)
			return store_refuse(st, "function fts3_tokenizer() is "
			    "not allowed");
		return SQLITE_OK;
	case SQLITE_PRAGMA:
		if (a3 == NULL)
			break;
		if (store_listed(store_pragma_arg, a3))
			return SQLITE_OK;
		if (store_listed(store_pragma_noarg, a3)) {
			if (a4 == NULL)
				return SQLITE_OK;
			return store_refuse(st, "setting PRAGMA %s is not "
			    "allowed (read-only)", a3);
		}
		return store_refuse(st, "PRAGMA %s is not allowed (read-only)",
		    a3);
	case SQLITE_INSERT:
		/* CREATE asks to insert into the schema table first. */
		if (store_schema_table(a3))
			return store_refuse(st, "%s CREATE is not allowed "
			    "(it would change the schema)", ro);
		return store_refuse(st, "%s INSERT into table '%s' is not "
		    "allowed", ro, store_nz(a3));
	case SQLITE_UPDATE:
		/*
		 * The first use of an eponymous virtual table in a
		 * connection (pragma_table_info(), json_each()) asks to
		 * update the schema table in a statement that never runs.
		 * Allow it: a real write to it is stopped by the read-only
		 * connection, query_only, the defensive flag and the
		 * sqlite3_stmt_readonly() test in store_query().
		 */
		if (store_schema_table(a3))
			return SQLITE_OK;
		return store_refuse(st, "%s UPDATE of table '%s' is not "
		    "allowed", ro, store_nz(a3));
	case SQLITE_DELETE:
		/* DROP asks to delete from the schema table first. */
		if (store_schema_table(a3))
			return store_refuse(st, "%s DROP is not allowed "
			    "(it would change the schema)", ro);
		return store_refuse(st, "%s DELETE from table '%s' is not "
		    "allowed", ro, store_nz(a3));
	case SQLITE_CREATE_INDEX:
	case SQLITE_CREATE_TEMP_INDEX:
		return store_refuse(st, "%s CREATE INDEX '%s' is not allowed",
		    ro, store_nz(a3));
	case SQLITE_CREATE_TABLE:
	case SQLITE_CREATE_TEMP_TABLE:
	case SQLITE_CREATE_VTABLE:
		return store_refuse(st, "%s CREATE TABLE '%s' is not allowed",
		    ro, store_nz(a3));
	case SQLITE_CREATE_TRIGGER:
	case SQLITE_CREATE_TEMP_TRIGGER:
		return store_refuse(st, "%s CREATE TRIGGER '%s' is not "
		    "allowed", ro, store_nz(a3));
	case SQLITE_CREATE_VIEW:
	case SQLITE_CREATE_TEMP_VIEW:
		return store_refuse(st, "%s CREATE VIEW '%s' is not allowed",
		    ro, store_nz(a3));
	case SQLITE_DROP_INDEX:
	case SQLITE_DROP_TEMP_INDEX:
		return store_refuse(st, "%s DROP INDEX '%s' is not allowed",
		    ro, store_nz(a3));
	case SQLITE_DROP_TABLE:
	case SQLITE_DROP_TEMP_TABLE:
	case SQLITE_DROP_VTABLE:
		return store_refuse(st, "%s DROP TABLE '%s' is not allowed",
		    ro, store_nz(a3));
	case SQLITE_DROP_TRIGGER:
	case SQLITE_DROP_TEMP_TRIGGER:
		return store_refuse(st, "%s DROP TRIGGER '%s' is not allowed",
		    ro, store_nz(a3));
	case SQLITE_DROP_VIEW:
	case SQLITE_DROP_TEMP_VIEW:
		return store_refuse(st, "%s DROP VIEW '%s' is not allowed",
		    ro, store_nz(a3));
	case SQLITE_ALTER_TABLE:
		return store_refuse(st, "%s ALTER TABLE '%s' is not allowed",
		    ro, store_nz(a4));
	case SQLITE_REINDEX:
		return store_refuse(st, "%s REINDEX is not allowed", ro);
	case SQLITE_ANALYZE:
		return store_refuse(st, "%s ANALYZE is not allowed", ro);
	case SQLITE_ATTACH:
		return store_refuse(st, "ATTACH is not allowed (only this "
		    "database may be read)");
	case SQLITE_DETACH:
		return store_refuse(st, "DETACH is not allowed");
	case SQLITE_TRANSACTION:
		return store_refuse(st, "%s is not allowed (a query is one "
		    "statement)", store_nz(a3));
	case SQLITE_SAVEPOINT:
		return store_refuse(st, "SAVEPOINT is not allowed (a query is "
		    "one statement)");
	default:
		break;
	}
	return store_refuse(st, "%s operation %d is not allowed", ro, action);
}

/*
 * The functions maildatd's SQL calls (migrations and built-in rules); a
 * reader such as sqlite3(1) does not have them, so no view uses them.
 */

/* maildat_key(host, port, share, path): location_key() of the location. */
static void
store_fn_key(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct location l;
	char *key;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	l.host = (char *)sqlite3_value_text(argv[0]);
	l.port = (uint16_t)sqlite3_value_int(argv[1]);
	l.share = (char *)(sqlite3_value_text(argv[2]) ?
	    (const char *)sqlite3_value_text(argv[2]) : "");
	l.path = (char *)(sqlite3_value_text(argv[3]) ?
	    (const char *)sqlite3_value_text(argv[3]) : "");
	l.discover = 0;
	key = location_key(&l);
	sqlite3_result_text(ctx, key, -1, free);
}

/* maildat_upper(text): po_name_upper(), the code page 850 case fold. */
static void
store_fn_upper(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *t = sqlite3_value_text(argv[0]);

	(void)argc;
	if (t == NULL)
		sqlite3_result_null(ctx);
	else
		sqlite3_result_text(ctx, po_name_upper((const char *)t), -1,
		    free);
}

/* The route graph of the active postoffices, built once per rule run. */
static struct topo *
store_topology(struct store *st)
{
	sqlite3_stmt *s;

	if (st->topo != NULL)
		return st->topo;
	st->topo = topo_new();
	if (sqlite3_prepare_v2(st->db, "SELECT l.network || '/' || "
	    "l.postoffice, r.to_network || '/' || r.to_postoffice "
	    "FROM route r JOIN location l ON l.id = r.location_id "
	    "WHERE l.state = 'active' AND l.serial_raw IS NOT NULL "
	    "AND r.to_postoffice <> '' AND r.type IN (0, 16)", -1, &s,
	    NULL) != SQLITE_OK)
		return st->topo;
	while (sqlite3_step(s) == SQLITE_ROW)
		topo_edge(st->topo, (const char *)sqlite3_column_text(s, 0),
		    (const char *)sqlite3_column_text(s, 1));
	sqlite3_finalize(s);
	return st->topo;
}

struct store_members {
	char	**v;
	size_t	  n;
};

/* maildat_route_path(address), an aggregate: step. */
static void
store_fn_path_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct store_members *m = sqlite3_aggregate_context(ctx, sizeof(*m));
	const unsigned char *t = sqlite3_value_text(argv[0]);

	(void)argc;
	if (m == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (t == NULL)
		return;
	m->v = xreallocarray(m->v, m->n + 1, sizeof(*m->v));
	m->v[m->n++] = xstrdup((const char *)t);
}

/*
 * maildat_route_path(address): the shortest route path ("A > B > C")
 * between two of the group's postoffices, or NULL when none are joined.
 */
static void
store_fn_path_final(sqlite3_context *ctx)
{
	struct store_members *m = sqlite3_aggregate_context(ctx, 0);
	struct store *st = sqlite3_user_data(ctx);
	char *path;
	size_t i;

	if (m == NULL || m->n < 2) {
		sqlite3_result_null(ctx);
	} else if (topo_path(store_topology(st), (const char *const *)m->v,
	    m->n, &path))
		sqlite3_result_text(ctx, path, -1, free);
	else
		sqlite3_result_null(ctx);
	if (m != NULL) {
		for (i = 0; i < m->n; i++)
			free(m->v[i]);
		free(m->v);
	}
}

/* Register the functions on st's connection. */
static int
store_functions(struct store *st, const char *path, char *err,
    size_t errlen)
{
	if (sqlite3_create_function_v2(st->db, "maildat_key", 4,
	    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, store_fn_key, NULL,
	    NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(st->db, "maildat_upper", 1,
	    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, store_fn_upper, NULL,
	    NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(st->db, "maildat_route_path", 1,
	    SQLITE_UTF8, st, NULL, store_fn_path_step, store_fn_path_final,
	    NULL) != SQLITE_OK) {
		errbuf_set(err, errlen, "%s: cannot register functions: %s",
		    path, sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* Forget the route graph: the next maildat_route_path() builds it anew. */
void
store_topology_reset(struct store *st)
{
	topo_free(st->topo);
	st->topo = NULL;
}

/* Make a read-only connection safe for untrusted SQL (STORE_QUERY). */
static int
store_setup_query(struct store *st, const char *path, char *err,
    size_t errlen)
{
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0,
	    NULL);
	sqlite3_enable_load_extension(st->db, 0);
#ifdef SQLITE_DBCONFIG_DEFENSIVE
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
#endif
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
#endif
	sqlite3_limit(st->db, SQLITE_LIMIT_ATTACHED, 0);
	if (store_exec(st, "PRAGMA query_only = ON", path, err, errlen) == -1)
		return -1;
	sqlite3_set_authorizer(st->db, store_authorize, st);
	return 0;
}

/* Open the database at path. */
int
store_open(const char *path, int flags, struct store **out, char *err,
    size_t errlen)
{
	struct store *st;
	struct stat sb;
	int oflags, rw, rc;

	*out = NULL;
	if ((flags & STORE_QUERY) && (flags & (STORE_RDWR | STORE_CREATE))) {
		errbuf_set(err, errlen, "%s: a query connection is read-only",
		    path);
		return -1;
	}
	rw = (flags & STORE_RDWR) != 0;
	if (rw)
		oflags = SQLITE_OPEN_READWRITE |
		    ((flags & STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
	else
		oflags = SQLITE_OPEN_READONLY;

	st = xcalloc(1, sizeof(*st));
	st->flags = flags;
	rc = sqlite3_open_v2(path, &st->db, oflags, NULL);
	if (st->db == NULL)
		fatalx("sqlite3_open_v2: out of memory");
	if (rc != SQLITE_OK) {
		errbuf_set(err, errlen, "%s: cannot open: %s", path,
		    sqlite3_errmsg(st->db));
		goto fail;
	}
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT);
	if (store_functions(st, path, err, errlen) == -1)
		goto fail;
	if (rw && sqlite3_db_readonly(st->db, "main") == 1) {
		errbuf_set(err, errlen, "%s: cannot open for writing: "
		    "permission denied or read-only file system", path);
		goto fail;
	}

	/* Look before writing anything, even the journal mode. */
	if (store_check(st, path, rw, err, errlen) == -1)
		goto fail;
	if (rw) {
		if (store_setup_rw(st, path, err, errlen) == -1)
			goto fail;
		if (st->version < store_nmigrations &&
		    store_migrate(st, path, err, errlen) == -1)
			goto fail;
	}
	if ((flags & STORE_QUERY) &&
	    store_setup_query(st, path, err, errlen) == -1)
		goto fail;
	st->path = xstrdup(path);
	if (stat(path, &sb) == 0) {
		st->dev = sb.st_dev;
		st->ino = sb.st_ino;
	}
	*out = st;
	return 0;
fail:
	sqlite3_close_v2(st->db);
	free(st);
	return -1;
}

/*
 * Take the writer's lock of the database at path: an exclusive flock(2)
 * on "path.lock", held until store_unlock().
 */
int
store_lock(const char *path, char *err, size_t errlen)
{
	char *lpath, buf[32], lerr[512];
	ssize_t n;
	int fd;

	lpath = xasprintf("%s.lock", path);
	fd = safefile_open(lpath, O_RDWR | O_CREAT, 0640, geteuid(), lerr,
	    sizeof(lerr));
	if (fd == -1) {
		errbuf_set(err, errlen, "database lock: %s", lerr);
		free(lpath);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strspn(buf, "0123456789")] = '\0';
			errbuf_set(err, errlen, "the database %s is in use by "
			    "another maildatd (pid %s, which holds %s); one "
			    "daemon per database", path, buf[0] ? buf : "?",
			    lpath);
		} else
			errbuf_set(err, errlen, "database lock %s: %s", lpath,
			    strerror(errno));
		close(fd);
		free(lpath);
		return -1;
	}
	free(lpath);
	store_lock_setpid(fd);
	return fd;
}

/* Write this process's pid into the lock fd (again after a fork). */
void
store_lock_setpid(int fd)
{
	char buf[32];
	int n;

	if (fd == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_debug("database lock: cannot write the pid: %s",
		    strerror(errno));
}

/* Release the lock taken by store_lock() and close fd; -1 is ignored. */
void
store_unlock(int fd)
{
	if (fd != -1)
		close(fd);
}

/* Close the database and free st; NULL is ignored. */
void
store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < ST_NSTMT; i++)
		sqlite3_finalize(st->stmt[i]);
	store_topology_reset(st);
	free(st->path);
	/*
	 * No PRAGMA optimize here: with the statistics it gathers, SQLite
	 * 3.40 planned joins on the views' computed columns through a Bloom
	 * filter and returned no rows (see tests/unit/test_rules.c).
	 */
	sqlite3_close_v2(st->db);
	free(st);
}

/* Return the SQLite handle, for callers that need more than this API. */
sqlite3 *
store_db(struct store *st)
{
	return st->db;
}

/* Return the schema version (PRAGMA user_version) of the open database. */
int
store_schema_version(struct store *st)
{
	return st->version;
}

/* Return the path st was opened from. */
const char *
store_path(const struct store *st)
{
	return st->path;
}

/* Return the schema version this build creates: the number of migrations. */
int
store_schema_latest(void)
{
	return store_nmigrations;
}

/* Set how long a statement waits for a lock before failing; 0 or -1. */
int
store_set_busy_timeout(struct store *st, int ms)
{
	if (ms < 0 || sqlite3_busy_timeout(st->db, ms) != SQLITE_OK)
		return -1;
	return 0;
}

/* Return statement which, prepared once per connection; NULL with err. */
sqlite3_stmt *
store_stmt(struct store *st, enum store_stmt which, char *err,
    size_t errlen)
{
	if (st->stmt[which] == NULL &&
	    sqlite3_prepare_v3(st->db, store_stmt_sql[which], -1,
	    SQLITE_PREPARE_PERSISTENT, &st->stmt[which], NULL) != SQLITE_OK) {
		errbuf_set(err, errlen, "prepare: %s", sqlite3_errmsg(st->db));
		st->stmt[which] = NULL;
		return NULL;
	}
	st->bind_failed = 0;
	return st->stmt[which];
}

/* Bind an integer; a failure is noted in st->bind_failed. */
void
store_bind_int(struct store *st, sqlite3_stmt *s, int i, int64_t v)
{
	if (sqlite3_bind_int64(s, i, v) != SQLITE_OK)
		st->bind_failed = 1;
}

/* Bind text, or NULL when t is NULL; at most maxlen bytes of it. */
void
store_bind_text(struct store *st, sqlite3_stmt *s, int i, const char *t,
    size_t maxlen)
{
	int rc;

	if (t == NULL)
		rc = sqlite3_bind_null(s, i);
	else
		rc = sqlite3_bind_text(s, i, t, (int)strnlen(t, maxlen),
		    SQLITE_STATIC);
	if (rc != SQLITE_OK)
		st->bind_failed = 1;
}

/* Bind a blob of len bytes (kept by the caller until the step). */
void
store_bind_blob(struct store *st, sqlite3_stmt *s, int i, const void *b,
    int len)
{
	if (sqlite3_bind_blob(s, i, b, len, SQLITE_STATIC) != SQLITE_OK)
		st->bind_failed = 1;
}

/* Bind NULL. */
void
store_bind_null(struct store *st, sqlite3_stmt *s, int i)
{
	if (sqlite3_bind_null(s, i) != SQLITE_OK)
		st->bind_failed = 1;
}

/* Step a statement that returns no rows, then reset it; 0 or -1 with err. */
int
store_done(struct store *st, sqlite3_stmt *s, const char *what, char *err,
    size_t errlen)
{
	int rc;

	if (st->bind_failed) {
		errbuf_set(err, errlen, "%s: cannot bind a parameter: %s",
		    what, sqlite3_errmsg(st->db));
		sqlite3_clear_bindings(s);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		errbuf_set(err, errlen, "%s: %s", what, sqlite3_errmsg(st->db));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Run one of ST_BEGIN, ST_COMMIT, ST_ROLLBACK; 0 or -1 with err. */
int
store_txn(struct store *st, enum store_stmt which, char *err, size_t errlen)
{
	sqlite3_stmt *s;

	if ((s = store_stmt(st, which, err, errlen)) == NULL)
		return -1;
	return store_done(st, s, store_stmt_sql[which], err, errlen);
}

/* Roll back the transaction under way, if any. */
void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db) &&
	    store_txn(st, ST_ROLLBACK, NULL, 0) == -1)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * Queries.
 */

/* Return 1 if sql holds nothing but blanks, semicolons and comments. */
static int
store_sql_blank(const char *sql)
{
	const char *p = sql;

	while (*p != '\0') {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
		    *p == '\f' || *p == '\v' || *p == ';')
			p++;
		else if (p[0] == '-' && p[1] == '-') {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			if ((p = strstr(p + 2, "*/")) == NULL)
				return 1;	/* SQLite ends it at the end */
			p += 2;
		} else
			return 0;
	}
	return 1;
}

/*
 * store_query() with nparams text parameters bound to ?1..?N (a NULL entry
 * binds NULL); their number must match what the statement uses.
 */
int
store_query_params(struct store *st, const char *sql,
    const char *const *params, int nparams, store_row_fn *row, void *arg,
    char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	const char *tail = NULL;
	int i, rc, ret = 0, ncols;

	st->refused[0] = '\0';
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, &tail) != SQLITE_OK) {
		if (st->refused[0] != '\0')
			errbuf_set(err, errlen, "%s", st->refused);
		else
			errbuf_set(err, errlen, "query: %s",
			    sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		return -1;
	}
	if (s == NULL) {
		errbuf_set(err, errlen, "query: no SQL statement given");
		return -1;
	}
	if (tail != NULL && !store_sql_blank(tail)) {
		errbuf_set(err, errlen, "query refused: only one SQL statement "
		    "is allowed");
		goto fail;
	}
	if ((st->flags & STORE_QUERY) && !sqlite3_stmt_readonly(s)) {
		errbuf_set(err, errlen, "query refused: read-only access; the "
		    "statement would write");
		goto fail;
	}
	if (sqlite3_bind_parameter_count(s) != nparams) {
		errbuf_set(err, errlen, "query: the statement takes %d "
		    "parameters, %d given", sqlite3_bind_parameter_count(s),
		    nparams);
		goto fail;
	}
	for (i = 0; i < nparams; i++) {
		if (params[i] == NULL)
			rc = sqlite3_bind_null(s, i + 1);
		else
			rc = sqlite3_bind_text(s, i + 1, params[i], -1,
			    SQLITE_STATIC);
		if (rc != SQLITE_OK) {
			errbuf_set(err, errlen, "query: parameter %d: %s",
			    i + 1, sqlite3_errmsg(st->db));
			goto fail;
		}
	}
	ncols = sqlite3_column_count(s);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (row != NULL && (ret = row(arg, ncols, s)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		if (st->refused[0] != '\0')
			errbuf_set(err, errlen, "%s", st->refused);
		else
			errbuf_set(err, errlen, "query: %s",
			    sqlite3_errmsg(st->db));
		goto fail;
	}
	sqlite3_finalize(s);
	return ret;
fail:
	sqlite3_finalize(s);
	return -1;
}

/*
 * Run one SQL statement (a trailing second statement is refused) and call
 * row, unless NULL, for each result row.
 */
int
store_query(struct store *st, const char *sql, store_row_fn *row, void *arg,
    char *err, size_t errlen)
{
	return store_query_params(st, sql, NULL, 0, row, arg, err, errlen);
}
