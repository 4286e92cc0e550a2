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

/* Return the path st was opened from (":memory:" too). */
const char	*store_path(const struct store *st);

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

/* Return the crawls saved as counts only (addresses that never answered). */
uint64_t	 store_silent_crawls(const struct store *st);

/*
 * Rule runs (store_alert.c): the SQL rules.c needs, which keeps what the
 * alerts mean.
 */

#define STORE_TIMEOUT	(-2)	/* a rule query met its time limit */

/* One open alert, as a rule run loads it. */
struct store_alert {
	int64_t		 id;
	char		*key;
	char		*message;
	int		 severity;		/* LOG_* */
	int64_t		 last_notified_us;	/* or when it was raised */
};

/* A named integer parameter of a rule query (":unreachable_after"). */
struct store_param {
	const char	*name;
	int64_t		 value;
};

/* One row of a rule query: key, message, severity (NULL), all columns. */
struct store_finding {
	const char		*key;
	const char		*message;
	const char		*severity;
	size_t			 ncols;
	const char *const	*names;
	const char *const	*values;	/* NULL for a NULL column */
};

/* Called for each finding; return non-zero to stop. */
typedef int	 store_finding_fn(void *arg, const struct store_finding *f);

/* Begin a rule run: BEGIN IMMEDIATE, and a fresh route graph.  0 or -1. */
int		 store_rules_begin(struct store *st, char *err, size_t errlen);

/* Commit the rule run; on failure it is rolled back.  0 or -1. */
int		 store_rules_commit(struct store *st, char *err, size_t errlen);

/* Undo the rule run. */
void		 store_rules_rollback(struct store *st);

/* Load the open alerts of rule, sorted by key.  0 or -1. */
int		 store_alerts_open(struct store *st, const char *rule,
		    struct store_alert **v, size_t *n, char *err,
		    size_t errlen);

/* Find the open alert of key in v[0..n) (from store_alerts_open), or NULL. */
struct store_alert *store_alerts_find(struct store_alert *v, size_t n,
		    const char *key);

/* Free what store_alerts_open() returned. */
void		 store_alerts_free(struct store_alert *v, size_t n);

/* Return the names of the rules with open alerts.  0 or -1. */
int		 store_alert_rules(struct store *st, char ***names, size_t *n,
		    char *err, size_t errlen);

/*
 * Open a new alert and set *id.  Returns 0, 1 if an open alert of rule
 * and key exists already, or -1.
 */
int		 store_alert_raise(struct store *st, const char *rule,
		    int severity, const char *key, const char *message,
		    int64_t now_us, int64_t *id, char *err, size_t errlen);

/*
 * An open alert was found again at now_us: its message and severity are
 * now these; with notified, it was sent again (updated or repeated).
 */
int		 store_alert_seen(struct store *st, int64_t id, int64_t now_us,
		    int severity, const char *message, int notified, char *err,
		    size_t errlen);

/* Clear an open alert at now_us.  0 or -1. */
int		 store_alert_clear(struct store *st, int64_t id, int64_t now_us,
		    char *err, size_t errlen);

/*
 * Check that sql is one read-only statement returning columns key and
 * message.  Returns 0, or -1 with the reason in err.
 */
int		 store_rule_check(struct store *st, const char *sql, char *err,
		    size_t errlen);

/*
 * Run the rule query sql, binding each parameter of params[0..nparams)
 * that it names, and call fn for each row until fn returns non-zero.  The
 * query is stopped after limit_ms (0: no limit).  Returns 0, STORE_TIMEOUT
 * when the limit stopped it, or -1 with err.
 */
int		 store_rule_run(struct store *st, const char *sql,
		    const struct store_param *params, size_t nparams,
		    int64_t limit_ms, store_finding_fn *fn, void *arg,
		    char *err, size_t errlen);

/*
 * Lifecycle and retention (store_prune.c).
 */

/* A suspension of the lockout guard, as recorded. */
struct store_suspension {
	const char	*name;		/* the [credentials] section */
	const char	*fingerprint;	/* conf_credentials.fingerprint */
	const char	*account;	/* DOMAIN\user */
	int		 failures;	/* logons refused in a row */
	const char	*hosts;		/* that refused them, ", " separated */
	const char	*status;	/* the last refusal's NT status, or NULL */
	int64_t		 since_us;
};

/* Called for each recorded suspension (the strings are the store's). */
typedef void	 store_suspension_fn(void *arg,
		    const struct store_suspension *sp);

/* Retire the active location of key at now_us.  0 or -1. */
int		 store_retire(struct store *st, const char *key,
		    int64_t now_us, char *err, size_t errlen);

/*
 * Retire the locations whose crawls have failed for more than after_us
 * (the last one not ok, nothing read since); *n of them.  0 or -1.
 */
int		 store_retire_failing(struct store *st, int64_t now_us,
		    int64_t after_us, int *n, char *err, size_t errlen);

/*
 * Delete one batch of crawl rows finished before cutoff_us that nothing
 * refers to (not the last crawl of a location, not a crawl that changed an
 * identity, not the crawl whose routes are in force), among the crawls
 * after *cursor (0 starts a pass), and one batch of alerts cleared before
 * alert_cutoff_us; give the freed pages back.  Sets *deleted and moves
 * *cursor, which is 0 again once the pass is over.  0 or -1.
 */
int		 store_prune(struct store *st, int64_t cutoff_us,
		    int64_t alert_cutoff_us, int64_t *cursor, int *deleted,
		    char *err, size_t errlen);

/* Checkpoint the WAL into the database and truncate it.  0 or -1. */
int		 store_checkpoint(struct store *st, char *err, size_t errlen);

/*
 * Make the file give freed pages back (auto_vacuum = incremental); a file
 * made without it is converted by one VACUUM (*converted set).  0 or -1.
 */
int		 store_incremental_vacuum(struct store *st, int *converted,
		    char *err, size_t errlen);

/* Record (or replace) the suspension sp.  0 or -1. */
int		 store_suspension_set(struct store *st,
		    const struct store_suspension *sp, char *err,
		    size_t errlen);

/* Forget the suspension of credentials name.  0 or -1. */
int		 store_suspension_clear(struct store *st, const char *name,
		    char *err, size_t errlen);

/* Call fn for each recorded suspension.  0 or -1. */
int		 store_suspensions(struct store *st, store_suspension_fn *fn,
		    void *arg, char *err, size_t errlen);

/*
 * Return 1 when the file at the path st was opened from is no longer the
 * one st has open (deleted, or replaced by another file), else 0.
 */
int		 store_file_replaced(const struct store *st);

#endif
