/*
 * result: what one crawl of one location found.  The crawler (crawl.c)
 * makes results, smbio states its failures as outcomes, ipc carries
 * results from a worker to the parent, the scheduler accounts for them and
 * the store records them: all of them include this module, which includes
 * none of theirs.
 */
#ifndef MAILDAT_RESULT_H
#define MAILDAT_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "location.h"
#include "po.h"

/* Crawl outcomes, as stored and shown (product contract names). */
enum outcome {
	OUTCOME_OK = 0,
	OUTCOME_NOT_POSTOFFICE,
	OUTCOME_MALFORMED,
	OUTCOME_AUTH_FAILED,
	OUTCOME_ACCESS_DENIED,
	OUTCOME_UNREACHABLE,
	OUTCOME_TIMEOUT,
	OUTCOME_ERROR
};
#define OUTCOME_COUNT	8

/* A result's error notes, at most: the rest is summarised. */
#define RESULT_ERROR_MAX	4096

/* One external postoffice (or gateway network) a postoffice routes to. */
struct result_route {
	char	network[PO_NAME_MAX];
	char	postoffice[PO_NAME_MAX];	/* "" for a gateway network */
	uint8_t	type;				/* NETWORK.GLB record type */
};

/* What one crawl of one location found. */
struct result {
	struct location	 loc;		/* where (share "" for a host) */
	char		*unc;		/* location_unc(&loc) */
	char		*key;		/* location_key(&loc) */
	enum outcome	 outcome;
	char		*error;		/* NULL, or what went wrong / damage */
	int		 has_master;	/* master below is valid */
	struct po_master master;
	int		 checksum_ok;	/* meaningful when has_master */
	struct result_route *routes;
	size_t		 nroutes;
	int64_t		 started_us;	/* wall clock, microseconds since epoch */
	int64_t		 finished_us;
	/* Private to result.c: notes summarised past RESULT_ERROR_MAX. */
	unsigned	 notes_dropped;
};

/* A list of results: one crawl of one location may find several. */
struct results {
	struct result	*v;
	size_t		 n;
};

/* Return the contract name of an outcome ("ok", "not-postoffice", ...). */
const char	*result_outcome_name(enum outcome o);

/*
 * Append a result for loc (copied) to rs, started at started_us, outcome
 * ok so far, and return it.  The pointer is good until rs grows again.
 */
struct result	*results_add(struct results *rs, const struct location *loc,
		    int64_t started_us);

/*
 * Set r's location to loc (copied) and derive its UNC form and key; for
 * results decoded from a worker.
 */
void		 result_locate(struct result *r, const struct location *loc);

/*
 * Append a failed result for loc with outcome o and message msg: for
 * failures found outside a crawl (probe, deadline, worker death).
 */
void		 results_fail(struct results *rs, const struct location *loc,
		    enum outcome o, const char *msg);

/*
 * Add a note to r->error, separated by "; ".  Past RESULT_ERROR_MAX bytes
 * notes are counted, not kept, and one "(and N more)" ends the text.
 */
void		 result_note(struct result *r, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* Record a failure: the first one decides the outcome; msg is a note. */
void		 result_fail(struct result *r, enum outcome o,
		    const char *msg);

/* Move r to the end of rs; r is left empty. */
void		 results_take(struct results *rs, struct result *r);

/* Return the index of the result in rs whose location has key, or -1. */
long		 results_find(const struct results *rs, const char *key);

/* Move every result of src to the end of dst; src is left empty. */
void		 results_move(struct results *dst, struct results *src);

/* Write the address "NETWORK/POSTOFFICE" of r into out ("" if none). */
void		 result_address(const struct result *r, char *out,
		    size_t outlen);

/* Release what r owns and zero it. */
void		 result_free(struct result *r);

/* Release every result in rs and the array, leaving rs empty. */
void		 results_free(struct results *rs);

#endif
