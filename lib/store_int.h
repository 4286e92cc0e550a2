/*
 * store_int.h: what the files of the store module (store.c, store_save.c,
 * store_alert.c, store_prune.c) share.  Private to them: nothing outside
 * lib/store*.c includes this file.
 */
#ifndef MAILDAT_STORE_INT_H
#define MAILDAT_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

/* The statements the store runs, prepared once per connection. */
enum store_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_LOC_FIND,
	ST_LOC_INSERT,
	ST_LOC_UPDATE,
	ST_HOST_ANSWERED,
	ST_CRAWL_ADD,
	ST_CHANGE_ADD,
	ST_LOC_IDENTITY,
	ST_LOC_FAILED,
	ST_LOC_SERIAL_CHANGE,
	ST_ROUTE_CLEAR,
	ST_ROUTE_ADD,
	ST_ALERT_OPEN,
	ST_ALERT_RULES,
	ST_ALERT_RAISE,
	ST_ALERT_SEEN,
	ST_ALERT_CLEAR,
	ST_NSTMT
};

extern const char *const store_stmt_sql[ST_NSTMT];

struct store {
	sqlite3		*db;
	int		 flags;
	int		 version;		/* user_version */
	int		 bind_failed;		/* a bind since the last step */
	sqlite3_stmt	*stmt[ST_NSTMT];
	char		 refused[256];		/* why the authorizer said no */
	uint64_t	 silent;		/* crawls only counted */
	struct topo	*topo;			/* for maildat_route_path() */
	char		*path;			/* as opened */
	dev_t		 dev;			/* of the file opened */
	ino_t		 ino;
};

/* Forget the route graph: the next maildat_route_path() builds it anew. */
void		 store_topology_reset(struct store *st);

/* Run one statement with no parameters and no rows wanted; 0 or -1 with err. */
int		 store_exec(struct store *st, const char *sql, const char *what,
		    char *err, size_t errlen);
/* Return statement which, prepared once per connection; NULL with err. */
sqlite3_stmt	*store_stmt(struct store *st, enum store_stmt which, char *err,
		    size_t errlen);
/* Bind an integer; a failure is noted in st->bind_failed. */
void		 store_bind_int(struct store *st, sqlite3_stmt *s, int i,
		    int64_t v);
/* Bind text, or NULL when t is NULL; at most maxlen bytes of it. */
void		 store_bind_text(struct store *st, sqlite3_stmt *s, int i,
		    const char *t, size_t maxlen);
/* Bind a blob of len bytes (kept by the caller until the step). */
void		 store_bind_blob(struct store *st, sqlite3_stmt *s, int i,
		    const void *b, int len);
/* Bind NULL. */
void		 store_bind_null(struct store *st, sqlite3_stmt *s, int i);
/* Step a statement that returns no rows, then reset it; 0 or -1 with err. */
int		 store_done(struct store *st, sqlite3_stmt *s, const char *what,
		    char *err, size_t errlen);
/* Run one of ST_BEGIN, ST_COMMIT, ST_ROLLBACK; 0 or -1 with err. */
int		 store_txn(struct store *st, enum store_stmt which, char *err,
		    size_t errlen);
/* Roll back the transaction under way, if any. */
void		 store_rollback(struct store *st);
/* Return s, or "?" for NULL, for messages. */
const char	*store_nz(const char *s);

#endif
