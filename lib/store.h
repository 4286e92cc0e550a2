/*
 * store: the SQLite database.  The schema lives in schema/schema.sql as a
 * list of migrations compiled in by schema/embed.sh; PRAGMA user_version is
 * the number applied and PRAGMA application_id marks the file as ours.
 * A read-write open creates or upgrades the schema; a read-only open never
 * writes.  The plural views (postoffices, crawls, alerts, routes,
 * postoffice_history) are the public interface; the singular tables behind
 * them are maildatd's own.
 *
 * Every function that can fail returns -1 and writes a message, without a
 * trailing newline, to the caller's err buffer; the caller logs it once.
 * Nothing here exits except on allocation failure.
 */
#ifndef MAILDAT_STORE_H
#define MAILDAT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

struct result;
struct store;

/* store_open() flags. */
#define STORE_RDONLY	0x00	/* read only; never creates or upgrades */
#define STORE_RDWR	0x01	/* read and write; upgrades the schema */
#define STORE_CREATE	0x02	/* with STORE_RDWR: create a missing file */
#define STORE_QUERY	0x04	/* read only, for untrusted SQL: see below */

#define STORE_APPLICATION_ID	0x4D44544D	/* "MDTM" */
#define STORE_BUSY_TIMEOUT	5000		/* default, milliseconds */

/* The schema as compiled in (schema/schema.sql, generated lib/schema_sql.c). */
extern const char store_schema_sql[];
extern const char *const store_migrations[];
extern const int store_nmigrations;

/*
 * Open the database at path.  STORE_RDWR (| STORE_CREATE) sets WAL mode,
 * synchronous=NORMAL and foreign keys, and creates or upgrades the schema in
 * one BEGIN IMMEDIATE transaction.  STORE_RDONLY opens read-only and
 * refuses a database whose schema is older or newer than this build.
 * STORE_QUERY is STORE_RDONLY plus an authorizer that refuses, at prepare
 * time, anything but reading: writes, schema changes, ATTACH, transactions,
 * load_extension() and every PRAGMA outside a read-only list.  A file that
 * is not SQLite, a SQLite database of another application and a schema
 * newer than this build are refused.  Returns 0 and sets *out, or -1.
 */
int		 store_open(const char *path, int flags, struct store **out,
		    char *err, size_t errlen);

/*
 * Take the writer's lock of the database at path: an exclusive flock(2)
 * on "path.lock" (never through a link), which says that one daemon
 * writes this database and holds its own state about it.  Returns the
 * lock's descriptor (close-on-exec, holding this pid), or -1 with err,
 * which names the holder's pid when another process has the lock.
 */
int		 store_lock(const char *path, char *err, size_t errlen);

/* Write this process's pid into the lock fd (again after a fork). */
void		 store_lock_setpid(int fd);

/* Release the lock taken by store_lock() and close fd; -1 is ignored. */
void		 store_unlock(int fd);

/* Close the database and free st; NULL is ignored. */
void		 store_close(struct store *st);

/* Return the SQLite handle, for callers that need more than this API. */
sqlite3		*store_db(struct store *st);

/* Return the schema version (PRAGMA user_version) of the open database. */
int		 store_schema_version(struct store *st);

/* Return the schema version this build creates: the number of migrations. */
int		 store_schema_latest(void);

/* Set how long a statement waits for a lock before failing; 0 or -1. */
int		 store_set_busy_timeout(struct store *st, int ms);

/*
 * Save one crawl result in one BEGIN IMMEDIATE transaction: the location,
 * a crawl row, identity changes as postoffice_history rows, the identity
 * itself and the routes (see store.c for what a failed crawl keeps).
 * Results must be saved in the order they were crawled.  0 or -1.
 */
int		 store_save(struct store *st, const struct result *r,
		    char *err, size_t errlen);

/*
 * Save n results in one transaction, as store_save() would one by one.
 * On any failure nothing is saved and -1 is returned.
 */
int		 store_save_batch(struct store *st,
		    const struct result *v, size_t n, char *err,
		    size_t errlen);

/*
 * A row callback: called once per result row with the stepped statement;
 * return 0 to go on, anything else to stop.
 */
typedef int	 store_row_fn(void *arg, int ncols, sqlite3_stmt *stmt);

/*
 * Run one SQL statement (a trailing second statement is refused) and call
 * row, unless NULL, for each result row.  On a STORE_QUERY store anything
 * but reading is refused with a message saying what; on a read-write store
 * the statement may write.  Returns 0 when every row was delivered, the
 * callback's value if it stopped early, or -1 on error.
 */
int		 store_query(struct store *st, const char *sql,
		    store_row_fn *row, void *arg, char *err, size_t errlen);

/*
 * store_query() with nparams text parameters bound to ?1..?N (a NULL
 * entry binds NULL); their number must match what the statement uses.
 */
int		 store_query_params(struct store *st, const char *sql,
		    const char *const *params, int nparams, store_row_fn *row,
		    void *arg, char *err, size_t errlen);

#endif
