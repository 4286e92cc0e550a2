/*
 * crawl: visit one SMB location, find the postoffice(s) in it, read and
 * parse their files, and describe each as a crawl_result.  A crawl never
 * aborts on bad data: every failure becomes an outcome with a message.
 */
#ifndef MAILDAT_CRAWL_H
#define MAILDAT_CRAWL_H

#include <stddef.h>
#include <stdint.h>

#include "po.h"

struct smbio;

/* Crawl outcomes, as stored and shown (product contract names). */
enum crawl_outcome {
	CRAWL_OK = 0,
	CRAWL_NOT_POSTOFFICE,
	CRAWL_MALFORMED,
	CRAWL_AUTH_FAILED,
	CRAWL_ACCESS_DENIED,
	CRAWL_UNREACHABLE,
	CRAWL_TIMEOUT,
	CRAWL_ERROR
};
#define CRAWL_NOUTCOMES	8

/* One external postoffice (or gateway network) a postoffice routes to. */
struct crawl_route {
	char	network[PO_NAME_MAX];
	char	postoffice[PO_NAME_MAX];	/* "" for a gateway network */
	uint8_t	type;				/* NETWORK.GLB record type */
};

/*
 * What one crawl of one location found.  host/share/path locate it; the
 * location string is the UNC form \\host\share[\path], with "@port" after
 * the host when the port is not 445.
 */
struct crawl_result {
	char		*location;
	char		*host;
	uint16_t	 port;		/* 0 for the default */
	char		*share;
	char		*path;		/* "" at the share root, else "DIR" */
	enum crawl_outcome outcome;
	char		*error;		/* NULL, or what went wrong / damage */
	int		 has_master;	/* master below is valid */
	struct po_master master;
	int		 checksum_ok;	/* meaningful when has_master */
	struct crawl_route *routes;
	size_t		 nroutes;
	int64_t		 started_us;	/* wall clock, microseconds since epoch */
	int64_t		 finished_us;
};

/* A list of results: one crawl of one URL may find several postoffices. */
struct crawl_results {
	struct crawl_result *v;
	size_t		 n;
};

/* Return the contract name of an outcome ("ok", "not-postoffice", ...). */
const char	*crawl_outcome_name(enum crawl_outcome o);

/* Parse an outcome name; returns 0 and sets *o, or -1 if unknown. */
int		 crawl_outcome_parse(const char *name, enum crawl_outcome *o);

/*
 * Crawl the location named by url ("smb://host[:port]/share[/path]") over
 * an open smbio session and append one result per postoffice found to out
 * (one result with the failure when there is none).  Returns the number of
 * results appended.
 */
size_t		 crawl_url(struct smbio *io, const char *url,
		    struct crawl_results *out);

/*
 * List the shares of the host named by url ("smb://host[:port]/") and
 * crawl each that holds a postoffice, at its root or one folder down.
 * Shares without one add nothing; when no share holds one, or the shares
 * cannot be listed, one result for \\host says so.  A url naming a share
 * is crawled as by crawl_url().  Returns the number of results appended.
 */
size_t		 crawl_discover(struct smbio *io, const char *url,
		    struct crawl_results *out);

/*
 * Append a result for the location url names, with outcome o and message
 * msg: for failures found outside a crawl (probe, deadline, worker death).
 */
void		 crawl_result_fail(struct crawl_results *out, const char *url,
		    enum crawl_outcome o, const char *msg);

/* Build the UNC location string for host, port, share and path. */
char		*crawl_location(const char *host, uint16_t port,
		    const char *share, const char *path);

/* Release what a result owns and zero it. */
void		 crawl_result_free(struct crawl_result *r);

/* Release every result in a list and the list's array. */
void		 crawl_results_free(struct crawl_results *rs);

/* Return the address "NETWORK/POSTOFFICE" of a result into out. */
void		 crawl_address(const struct crawl_result *r, char *out,
		    size_t outlen);


#endif
