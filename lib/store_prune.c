/*
 * store_prune: what keeps a database that runs for years the size it has
 * after months: retention of crawl rows and cleared alerts, the lifecycle
 * of locations (retired when gone or failing for long), the lockout
 * guard's suspensions, and space given back to the file system.
 *
 * Retention keeps, whatever their age, the last crawl of each location and
 * every crawl that something still refers to: a change of identity
 * (postoffice_history), the routes in force.  Deletes run in small
 * transactions (STORE_PRUNE_BATCH rows) so that no writer, the daemon's
 * next results included, waits long for them.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "errbuf.h"
#include "store.h"
#include "store_int.h"
#include "xmalloc.h"

#define STORE_PRUNE_BATCH	500	/* rows deleted in one transaction */
#define STORE_VACUUM_PAGES_S	"200"	/* pages given back after a batch */

/*
 * Run sql, one statement, binding ?1..?3 to a, b, c and ?4 to text where
 * it has them; *changes (when not NULL) gets the rows it changed.
 */
static int
store_run(struct store *st, const char *sql, int64_t a, int64_t b,
    int64_t c, const char *text, int *changes, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc, n;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	n = sqlite3_bind_parameter_count(s);
	if (n >= 1)
		sqlite3_bind_int64(s, 1, a);
	if (n >= 2)
		sqlite3_bind_int64(s, 2, b);
	if (n >= 3)
		sqlite3_bind_int64(s, 3, c);
	if (n >= 4)
		sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (changes != NULL)
		*changes = sqlite3_changes(st->db);
	return 0;
}

/* store_run() in a BEGIN IMMEDIATE transaction of its own. */
static int
store_txn_run(struct store *st, const char *sql, int64_t a, int64_t b,
    int64_t c, const char *text, int *changes, char *err, size_t errlen)
{
	char msg[256];

	if (store_txn(st, ST_BEGIN, msg, sizeof(msg)) == -1) {
		errbuf_set(err, errlen, "%s", msg);
		return -1;
	}
	if (store_run(st, sql, a, b, c, text, changes, err, errlen) == -1) {
		store_rollback(st);
		return -1;
	}
	if (store_txn(st, ST_COMMIT, msg, sizeof(msg)) == -1) {
		errbuf_set(err, errlen, "%s", msg);
		store_rollback(st);
		return -1;
	}
	return 0;
}

/* Retire the active location of key at now_us. */
int
store_retire(struct store *st, const char *key, int64_t now_us, char *err,
    size_t errlen)
{
	return store_txn_run(st, "UPDATE location SET state = 'retired', "
	    "retired_us = ?1 WHERE state = 'active' AND key = ?4", now_us, 0,
	    0, key, NULL, err, errlen);
}

/*
 * Retire the locations whose crawls have failed for more than after_us:
 * the last crawl not ok, and nothing read since (or ever).
 */
int
store_retire_failing(struct store *st, int64_t now_us, int64_t after_us,
    int *n, char *err, size_t errlen)
{
	return store_txn_run(st, "UPDATE location SET state = 'retired', "
	    "retired_us = ?1 WHERE state = 'active' AND last_outcome <> 'ok' "
	    "AND coalesce(last_ok_us, first_crawled_us) < ?1 - ?2", now_us,
	    after_us, 0, NULL, n, err, errlen);
}

/*
 * Delete one batch of crawl rows older than cutoff_us that nothing refers
 * to, among those after *cursor (a crawl id; 0 to start a pass); then one
 * batch of alerts cleared before alert_cutoff_us.  Sets *deleted and moves
 * *cursor on; *cursor is 0 again when the pass is over.
 */
int
store_prune(struct store *st, int64_t cutoff_us, int64_t alert_cutoff_us,
    int64_t *cursor, int *deleted, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int64_t upper = 0, first = 0;
	int rc, n = 0, na = 0;

	*deleted = 0;
	/* The id range of the next batch, and how old its first row is. */
	if (sqlite3_prepare_v2(st->db, "SELECT min(id), max(id), "
	    "min(finished_us) FROM (SELECT id, finished_us FROM crawl "
	    "WHERE id > ?1 ORDER BY id LIMIT ?2)", -1, &s, NULL) !=
	    SQLITE_OK) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	sqlite3_bind_int64(s, 1, *cursor);
	sqlite3_bind_int(s, 2, STORE_PRUNE_BATCH);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		upper = sqlite3_column_int64(s, 1);
		first = sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (upper == 0 || first >= cutoff_us)
		*cursor = 0;	/* the rest is young enough: the pass is over */
	else {
		if (store_txn_run(st, "DELETE FROM crawl WHERE id > ?3 "
		    "AND id <= ?2 AND finished_us < ?1 "
		    "AND NOT EXISTS (SELECT 1 FROM location l "
		    "WHERE l.last_crawl_id = crawl.id) "
		    "AND NOT EXISTS (SELECT 1 FROM identity_change h "
		    "WHERE h.crawl_id = crawl.id) "
		    "AND NOT EXISTS (SELECT 1 FROM route r "
		    "WHERE r.crawl_id = crawl.id)", cutoff_us, upper, *cursor,
		    NULL, &n, err, errlen) == -1)
			return -1;
		*cursor = upper;
	}
	if (store_txn_run(st, "DELETE FROM alert WHERE id IN (SELECT id FROM "
	    "alert WHERE state = 'cleared' AND cleared_us < ?1 LIMIT ?2)",
	    alert_cutoff_us, STORE_PRUNE_BATCH, 0, NULL, &na, err,
	    errlen) == -1)
		return -1;
	*deleted = n + na;
	if (*deleted > 0)
		(void)store_run(st, "PRAGMA incremental_vacuum("
		    STORE_VACUUM_PAGES_S ")", 0, 0, 0, NULL, NULL, NULL, 0);
	return 0;
}

/* Checkpoint the WAL into the database and truncate it. */
int
store_checkpoint(struct store *st, char *err, size_t errlen)
{
	int rc = sqlite3_wal_checkpoint_v2(st->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		errbuf_set(err, errlen, "checkpoint: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/*
 * Make the file give freed pages back (auto_vacuum = incremental): a file
 * made before this needs one VACUUM, which rewrites it (and, for as long
 * as it takes, needs as much free space again).  Returns 0 (also when
 * nothing was to do), or -1 with err.
 */
int
store_incremental_vacuum(struct store *st, int *converted, char *err,
    size_t errlen)
{
	sqlite3_stmt *s;
	int mode = -1;

	*converted = 0;
	if (sqlite3_prepare_v2(st->db, "PRAGMA auto_vacuum", -1, &s, NULL) ==
	    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		mode = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (mode == 2)
		return 0;
	if (store_run(st, "PRAGMA auto_vacuum = INCREMENTAL", 0, 0, 0, NULL,
	    NULL, err, errlen) == -1 ||
	    store_run(st, "VACUUM", 0, 0, 0, NULL, NULL, err, errlen) == -1)
		return -1;
	*converted = 1;
	return 0;
}

/* Record (or replace) the suspension of credentials s->name. */
int
store_suspension_set(struct store *st, const struct store_suspension *sp,
    char *err, size_t errlen)
{
	sqlite3_stmt *s;
	char msg[256];
	int rc;

	if (store_txn(st, ST_BEGIN, msg, sizeof(msg)) == -1) {
		errbuf_set(err, errlen, "%s", msg);
		return -1;
	}
	if (sqlite3_prepare_v2(st->db, "INSERT INTO credential_state (name, "
	    "fingerprint, account, failures, hosts, status, suspended_us) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO UPDATE "
	    "SET fingerprint = excluded.fingerprint, account = "
	    "excluded.account, failures = excluded.failures, hosts = "
	    "excluded.hosts, status = excluded.status", -1, &s, NULL) !=
	    SQLITE_OK) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		store_rollback(st);
		return -1;
	}
	sqlite3_bind_text(s, 1, sp->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sp->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, sp->account, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, sp->failures);
	sqlite3_bind_text(s, 5, sp->hosts, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, sp->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, sp->since_us);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		store_rollback(st);
		return -1;
	}
	if (store_txn(st, ST_COMMIT, msg, sizeof(msg)) == -1) {
		errbuf_set(err, errlen, "%s", msg);
		store_rollback(st);
		return -1;
	}
	return 0;
}

/* Forget the suspension of credentials name. */
int
store_suspension_clear(struct store *st, const char *name, char *err,
    size_t errlen)
{
	return store_txn_run(st, "DELETE FROM credential_state WHERE name = ?4",
	    0, 0, 0, name, NULL, err, errlen);
}

/* Call fn for each suspension recorded. */
int
store_suspensions(struct store *st, store_suspension_fn *fn, void *arg,
    char *err, size_t errlen)
{
	struct store_suspension sp;
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT name, fingerprint, account, "
	    "failures, hosts, status, suspended_us FROM credential_state", -1,
	    &s, NULL) != SQLITE_OK) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		sp.name = (const char *)sqlite3_column_text(s, 0);
		sp.fingerprint = (const char *)sqlite3_column_text(s, 1);
		sp.account = (const char *)sqlite3_column_text(s, 2);
		sp.failures = sqlite3_column_int(s, 3);
		sp.hosts = (const char *)sqlite3_column_text(s, 4);
		sp.status = (const char *)sqlite3_column_text(s, 5);
		sp.since_us = sqlite3_column_int64(s, 6);
		fn(arg, &sp);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		errbuf_set(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/*
 * Return 1 when the file at the path st was opened from is no longer the
 * one st has open (deleted, or replaced by another file), else 0.
 */
int
store_file_replaced(const struct store *st)
{
	struct stat sb;

	if (st->path == NULL || strcmp(st->path, ":memory:") == 0)
		return 0;
	if (stat(st->path, &sb) == -1)
		return errno == ENOENT;
	return sb.st_dev != st->dev || sb.st_ino != st->ino;
}
