/*
 * store_save: record crawl results.
 *
 * What one saved crawl result does (store_save):
 *  - the location row is found by its key (see location.h): the active
 *    one, else the one retired last, which a crawl that reached a server
 *    makes active again; it is created on first sight, and its
 *    last_crawled, last_outcome and last_error follow every crawl;
 *  - an address (host and port) that has never answered (every crawl of
 *    every location on it unreachable) gets no crawl rows: its crawls are
 *    counted on the location (silent_crawls), so a dead range costs one
 *    row per address, not one per round;
 *  - a crawl row records every attempt with the identity it read, if any;
 *  - a crawl that read MASTER.GLB (has_master) sets the location's identity
 *    and, when it differs from the identity already known, adds one
 *    identity_change row (view postoffice_history) per changed field:
 *    network, postoffice, serial.  The first sighting adds none;
 *  - a crawl that did not read MASTER.GLB keeps the identity and routes
 *    known and counts one more failure (column failures);
 *  - routes are replaced by a crawl with outcome ok, or by a malformed crawl
 *    that read MASTER.GLB and at least one route (a postoffice whose only
 *    damage is, say, its serial checksum still shows where it routes).
 *    Otherwise the routes of the last such crawl stay;
 *  - a location shows in the postoffices view once a crawl has found a
 *    postoffice there, and stays, with its last outcome, if it goes away,
 *    until it is retired (store_prune.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "clock.h"
#include "errbuf.h"
#include "po.h"
#include "result.h"
#include "store.h"
#include "store_int.h"
#include "xmalloc.h"

/* The identity a location had before the crawl being saved. */
struct store_known {
	int64_t		 id;
	char		*network;
	char		*postoffice;
	char		*serial;
	uint8_t		 serial_raw[PO_SERIAL_LEN];
	int		 identified;		/* serial_raw is set */
	int		 retired;		/* the row is retired */
	int		 has_crawls;		/* it has a crawl row */
};


static void
store_known_free(struct store_known *k)
{
	free(k->network);
	free(k->postoffice);
	free(k->serial);
	memset(k, 0, sizeof(*k));
}

static char *
store_column_dup(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

/* Return 1 if a crawl with outcome o reached a server (it answered). */
static int
store_answered(enum outcome o)
{
	return o != OUTCOME_UNREACHABLE && o != OUTCOME_TIMEOUT &&
	    o != OUTCOME_ERROR;
}

/*
 * Find or make the location row of r and read what it knew before this
 * crawl; *silent is set when the crawl is only counted (see above).
 */
static int
store_location(struct store *st, const struct result *r, int64_t t,
    struct store_known *k, int *silent, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	const void *raw;
	int rc = SQLITE_ERROR, found;

	memset(k, 0, sizeof(*k));
	if ((s = store_stmt(st, ST_LOC_FIND, err, errlen)) == NULL)
		return -1;
	store_bind_text(st, s, 1, r->key, SIZE_MAX);
	if (st->bind_failed || ((rc = sqlite3_step(s)) != SQLITE_ROW &&
	    rc != SQLITE_DONE)) {
		errbuf_set(err, errlen, "location: %s", sqlite3_errmsg(st->db));
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return -1;
	}
	if ((found = rc == SQLITE_ROW)) {
		k->id = sqlite3_column_int64(s, 0);
		k->network = store_column_dup(s, 1);
		k->postoffice = store_column_dup(s, 2);
		raw = sqlite3_column_blob(s, 3);
		if (raw != NULL && sqlite3_column_bytes(s, 3) == PO_SERIAL_LEN) {
			memcpy(k->serial_raw, raw, PO_SERIAL_LEN);
			k->identified = 1;
		}
		k->serial = store_column_dup(s, 4);
		k->retired = sqlite3_column_text(s, 5) != NULL &&
		    strcmp((const char *)sqlite3_column_text(s, 5),
		    "retired") == 0;
		k->has_crawls = sqlite3_column_type(s, 6) != SQLITE_NULL;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	*silent = r->outcome == OUTCOME_UNREACHABLE && !r->has_master &&
	    (!found || (!k->identified && !k->has_crawls));
	if (*silent) {
		/* The address counts: another location of it may have answered. */
		if ((s = store_stmt(st, ST_HOST_ANSWERED, err, errlen)) == NULL)
			return -1;
		store_bind_text(st, s, 1, r->loc.host, SIZE_MAX);
		store_bind_int(st, s, 2, r->loc.port);
		rc = st->bind_failed ? SQLITE_ERROR : sqlite3_step(s);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		if (rc == SQLITE_ROW)
			*silent = 0;
		else if (rc != SQLITE_DONE) {
			errbuf_set(err, errlen, "location: %s",
			    sqlite3_errmsg(st->db));
			return -1;
		}
	}

	if (!found) {
		if ((s = store_stmt(st, ST_LOC_INSERT, err, errlen)) == NULL)
			return -1;
		store_bind_text(st, s, 1, r->unc, SIZE_MAX);
		store_bind_text(st, s, 2, r->key, SIZE_MAX);
		store_bind_text(st, s, 3, r->loc.host, SIZE_MAX);
		store_bind_int(st, s, 4, r->loc.port);
		store_bind_text(st, s, 5, r->loc.share, SIZE_MAX);
		store_bind_text(st, s, 6, r->loc.path != NULL ? r->loc.path :
		    "", SIZE_MAX);
		store_bind_int(st, s, 7, t);
		store_bind_text(st, s, 8, result_outcome_name(r->outcome),
		    SIZE_MAX);
		store_bind_text(st, s, 9, r->error, SIZE_MAX);
		store_bind_int(st, s, 10, *silent);
		if (store_done(st, s, "location", err, errlen) == -1)
			return -1;
		k->id = sqlite3_last_insert_rowid(st->db);
		return 0;
	}
	if ((s = store_stmt(st, ST_LOC_UPDATE, err, errlen)) == NULL)
		return -1;
	store_bind_int(st, s, 1, k->id);
	store_bind_int(st, s, 2, t);
	store_bind_text(st, s, 3, result_outcome_name(r->outcome), SIZE_MAX);
	store_bind_text(st, s, 4, r->error, SIZE_MAX);
	store_bind_int(st, s, 5, k->retired && (r->has_master ||
	    store_answered(r->outcome)));
	store_bind_int(st, s, 6, *silent);
	return store_done(st, s, "location", err, errlen);
}

static int
store_crawl(struct store *st, const struct result *r, int64_t lid,
    int64_t started, int64_t finished, int64_t *crawl_id, char *err,
    size_t errlen)
{
	const struct po_master *m = &r->master;
	sqlite3_stmt *s;

	if ((s = store_stmt(st, ST_CRAWL_ADD, err, errlen)) == NULL)
		return -1;
	store_bind_int(st, s, 1, lid);
	store_bind_int(st, s, 2, started);
	store_bind_int(st, s, 3, finished);
	store_bind_text(st, s, 4, result_outcome_name(r->outcome), SIZE_MAX);
	store_bind_text(st, s, 5, r->error, SIZE_MAX);
	if (r->has_master) {
		store_bind_text(st, s, 6, m->network, sizeof(m->network));
		store_bind_text(st, s, 7, m->postoffice,
		    sizeof(m->postoffice));
		store_bind_blob(st, s, 8, m->serial_raw, PO_SERIAL_LEN);
		store_bind_text(st, s, 9, m->serial, sizeof(m->serial));
		store_bind_text(st, s, 10, po_kind_name(m->kind), SIZE_MAX);
		store_bind_int(st, s, 11, r->checksum_ok ? 1 : 0);
		store_bind_int(st, s, 12, (int64_t)r->nroutes);
	} else {
		store_bind_null(st, s, 6);
		store_bind_null(st, s, 7);
		store_bind_null(st, s, 8);
		store_bind_null(st, s, 9);
		store_bind_null(st, s, 10);
		store_bind_null(st, s, 11);
		store_bind_null(st, s, 12);
	}
	if (store_done(st, s, "crawl", err, errlen) == -1)
		return -1;
	*crawl_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

static int
store_change(struct store *st, int64_t lid, int64_t crawl_id, int64_t t,
    const char *field, const char *old, const char *new, char *err,
    size_t errlen)
{
	sqlite3_stmt *s;

	if ((s = store_stmt(st, ST_CHANGE_ADD, err, errlen)) == NULL)
		return -1;
	store_bind_int(st, s, 1, lid);
	store_bind_int(st, s, 2, crawl_id);
	store_bind_int(st, s, 3, t);
	store_bind_text(st, s, 4, field, SIZE_MAX);
	store_bind_text(st, s, 5, old, SIZE_MAX);
	store_bind_text(st, s, 6, new, SIZE_MAX);
	return store_done(st, s, "postoffice history", err, errlen);
}

/* Copy a fixed-size, maybe unterminated field into out, terminated. */
static void
store_field(char *out, size_t outlen, const char *field, size_t fieldlen)
{
	size_t len = strnlen(field, fieldlen);

	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, field, len);
	out[len] = '\0';
}

/* Record how the identity changed since the last crawl that read one. */
static int
store_changes(struct store *st, const struct result *r,
    const struct store_known *k, int64_t crawl_id, int64_t t, char *err,
    size_t errlen)
{
	const struct po_master *m = &r->master;
	sqlite3_stmt *s;
	char oldhex[PO_SERIAL_HEX], newhex[PO_SERIAL_HEX];
	char now[PO_SERIAL_DISPLAY + PO_NAME_MAX];

	if (!k->identified)
		return 0;
	store_field(now, sizeof(now), m->network, sizeof(m->network));
	if (k->network == NULL || strcmp(k->network, now) != 0) {
		if (store_change(st, k->id, crawl_id, t, "network", k->network,
		    now, err, errlen) == -1)
			return -1;
	}
	store_field(now, sizeof(now), m->postoffice, sizeof(m->postoffice));
	if (k->postoffice == NULL || strcmp(k->postoffice, now) != 0) {
		if (store_change(st, k->id, crawl_id, t, "postoffice",
		    k->postoffice, now, err, errlen) == -1)
			return -1;
	}
	if (memcmp(k->serial_raw, m->serial_raw, PO_SERIAL_LEN) == 0)
		return 0;
	store_field(now, sizeof(now), m->serial, sizeof(m->serial));
	if (k->serial != NULL && strcmp(k->serial, now) != 0) {
		if (store_change(st, k->id, crawl_id, t, "serial", k->serial,
		    now, err, errlen) == -1)
			return -1;
	} else {
		/* The same display form: show the bytes that differ. */
		po_serial_hex(k->serial_raw, oldhex, sizeof(oldhex));
		po_serial_hex(m->serial_raw, newhex, sizeof(newhex));
		if (store_change(st, k->id, crawl_id, t, "serial", oldhex,
		    newhex, err, errlen) == -1)
			return -1;
	}
	/* serial-changed reads the latest change from the location. */
	if ((s = store_stmt(st, ST_LOC_SERIAL_CHANGE, err, errlen)) == NULL)
		return -1;
	store_bind_int(st, s, 1, k->id);
	store_bind_int(st, s, 2, sqlite3_last_insert_rowid(st->db));
	return store_done(st, s, "location", err, errlen);
}

static int
store_identity(struct store *st, const struct result *r, int64_t lid,
    int64_t crawl_id, int64_t t, char *err, size_t errlen)
{
	const struct po_master *m = &r->master;
	sqlite3_stmt *s;
	char *addr, name[2 * PO_NAME_MAX + 2];
	int rc;

	if ((s = store_stmt(st, ST_LOC_IDENTITY, err, errlen)) == NULL)
		return -1;
	result_address(r, name, sizeof(name));
	addr = po_name_upper(name);
	store_bind_int(st, s, 1, lid);
	store_bind_text(st, s, 2, m->network, sizeof(m->network));
	store_bind_text(st, s, 3, m->postoffice, sizeof(m->postoffice));
	store_bind_blob(st, s, 4, m->serial_raw, PO_SERIAL_LEN);
	store_bind_text(st, s, 5, m->serial, sizeof(m->serial));
	store_bind_text(st, s, 6, po_kind_name(m->kind), SIZE_MAX);
	store_bind_int(st, s, 7, m->flags);
	store_bind_int(st, s, 8, m->nos_type);
	store_bind_int(st, s, 9, m->db_version);
	store_bind_int(st, s, 10, m->product_version);
	store_bind_int(st, s, 11, r->checksum_ok ? 1 : 0);
	store_bind_int(st, s, 12, t);
	store_bind_int(st, s, 13, r->outcome == OUTCOME_OK);
	store_bind_int(st, s, 14, crawl_id);
	store_bind_text(st, s, 15, addr, SIZE_MAX);
	rc = store_done(st, s, "identity", err, errlen);
	free(addr);
	return rc;
}

static int
store_failed(struct store *st, int64_t lid, int64_t crawl_id, char *err,
    size_t errlen)
{
	sqlite3_stmt *s;

	if ((s = store_stmt(st, ST_LOC_FAILED, err, errlen)) == NULL)
		return -1;
	store_bind_int(st, s, 1, lid);
	store_bind_int(st, s, 2, crawl_id);
	return store_done(st, s, "location", err, errlen);
}

static int
store_routes(struct store *st, const struct result *r, int64_t lid,
    int64_t crawl_id, char *err, size_t errlen)
{
	const struct result_route *rt;
	sqlite3_stmt *s;
	size_t i;

	if ((s = store_stmt(st, ST_ROUTE_CLEAR, err, errlen)) == NULL)
		return -1;
	store_bind_int(st, s, 1, lid);
	if (store_done(st, s, "routes", err, errlen) == -1)
		return -1;
	for (i = 0; i < r->nroutes; i++) {
		rt = &r->routes[i];
		if ((s = store_stmt(st, ST_ROUTE_ADD, err, errlen)) == NULL)
			return -1;
		store_bind_int(st, s, 1, lid);
		store_bind_int(st, s, 2, (int64_t)i);
		store_bind_text(st, s, 3, rt->network, sizeof(rt->network));
		store_bind_text(st, s, 4, rt->postoffice,
		    sizeof(rt->postoffice));
		store_bind_int(st, s, 5, rt->type);
		store_bind_int(st, s, 6, crawl_id);
		if (store_done(st, s, "route", err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* Save one result inside the caller's transaction. */
static int
store_save_one(struct store *st, const struct result *r, char *err,
    size_t errlen)
{
	struct store_known k;
	int64_t t, started, crawl_id;
	int rc = -1, silent;

	if (r->unc == NULL || r->key == NULL || r->loc.host == NULL ||
	    r->loc.share == NULL) {
		errbuf_set(err, errlen, "a crawl result without its location");
		return -1;
	}
	if ((unsigned)r->outcome >= OUTCOME_COUNT) {
		errbuf_set(err, errlen, "crawl outcome %d is not known",
		    (int)r->outcome);
		return -1;
	}
	if (r->nroutes > 0 && r->routes == NULL) {
		errbuf_set(err, errlen, "%zu routes without an array",
		    r->nroutes);
		return -1;
	}
	/* A crawl is dated by when it finished, i.e. when it was known. */
	t = r->finished_us != 0 ? r->finished_us :
	    r->started_us != 0 ? r->started_us : clock_wall_us();
	started = r->started_us != 0 ? r->started_us : t;

	if (store_location(st, r, t, &k, &silent, err, errlen) == -1)
		return -1;
	if (silent) {
		st->silent++;
		rc = 0;
		goto out;
	}
	if (store_crawl(st, r, k.id, started, t, &crawl_id, err, errlen) == -1)
		goto out;
	if (r->has_master) {
		if (store_changes(st, r, &k, crawl_id, t, err, errlen) == -1 ||
		    store_identity(st, r, k.id, crawl_id, t, err,
		    errlen) == -1)
			goto out;
		if ((r->outcome == OUTCOME_OK ||
		    (r->outcome == OUTCOME_MALFORMED && r->nroutes > 0)) &&
		    store_routes(st, r, k.id, crawl_id, err, errlen) == -1)
			goto out;
	} else if (store_failed(st, k.id, crawl_id, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	store_known_free(&k);
	return rc;
}

/* Save n results in one transaction, as store_save() would one by one. */
int
store_save_batch(struct store *st, const struct result *v, size_t n,
    char *err, size_t errlen)
{
	char msg[512];
	size_t i;

	if (!(st->flags & STORE_RDWR)) {
		errbuf_set(err, errlen, "cannot save: the database is open "
		    "read-only");
		return -1;
	}
	if (store_txn(st, ST_BEGIN, msg, sizeof(msg)) == -1) {
		errbuf_set(err, errlen, "save: %s", msg);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (store_save_one(st, &v[i], msg, sizeof(msg)) == -1) {
			if (n == 1)
				errbuf_set(err, errlen, "save %s: %s",
				    store_nz(v[i].unc), msg);
			else
				errbuf_set(err, errlen, "save %s (result %zu "
				    "of %zu): %s", store_nz(v[i].unc),
				    i + 1, n, msg);
			store_rollback(st);
			return -1;
		}
	}
	if (store_txn(st, ST_COMMIT, msg, sizeof(msg)) == -1) {
		errbuf_set(err, errlen, "save: %s", msg);
		store_rollback(st);
		return -1;
	}
	return 0;
}

/*
 * Save one crawl result in one BEGIN IMMEDIATE transaction: the location, a
 * crawl row, identity changes as postoffice_history rows, the identity
 * itself and the routes (see store.c for what a failed crawl keeps).
 */
int
store_save(struct store *st, const struct result *r, char *err,
    size_t errlen)
{
	return store_save_batch(st, r, 1, err, errlen);
}


/* Return the crawls saved as counts only (addresses that never answered). */
uint64_t
store_silent_crawls(const struct store *st)
{
	return st->silent;
}
