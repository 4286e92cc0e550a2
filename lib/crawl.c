/*
 * crawl: find and read the postoffices of one SMB location.
 *
 * A folder is a postoffice when it holds GLB\MASTER.GLB (names matched
 * without regard to case).  The crawler looks at the URL's folder and, when
 * that is not a postoffice, at each folder one level below it.
 *
 * SMB requests are what a crawl costs the server and, over a slow link,
 * what it costs in time; a sound postoffice at the URL's folder is read
 * with one open, read and close per file and no listing (see struct
 * crawl_dir).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "crawl.h"
#include "log.h"
#include "location.h"
#include "smbio.h"
#include "xmalloc.h"

#define CRAWL_MASTER_CAP	(64 * 1024)
#define CRAWL_TABLE_CAP		(16 * 1024 * 1024)
#define CRAWL_MAX_SUBDIRS	1024

/* Append a result for folder path of u's share. */
static struct result *
crawl_new_result(struct results *out, const struct location *u,
    const char *path, int64_t started)
{
	struct location l;
	struct result *r;

	location_set(&l, u->host, u->port, u->share, path);
	r = results_add(out, &l, started);
	location_free(&l);
	return r;
}

/* Find name among a listing, case-insensitively, of the wanted type. */
static const struct smbio_dirent *
crawl_find(const struct smbio_dirent *v, size_t n, const char *name, int isdir)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].isdir == isdir && strcasecmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* Join a relative path and a name with '/'. */
static char *
crawl_join(const char *a, const char *b)
{
	if (a[0] == '\0')
		return xstrdup(b);
	return xasprintf("%s/%s", a, b);
}

/* Read the file rel (relative to the URL's folder) of u. */
static int
crawl_read(struct smbio *io, const struct location *u, const char *rel,
    size_t cap, uint8_t **buf, size_t *len, struct smbio_status *st)
{
	char *url = location_url(u, rel);
	int rc;

	rc = smbio_readfile(io, url, cap, buf, len, st);
	free(url);
	return rc;
}

static int
crawl_list(struct smbio *io, const struct location *u, const char *rel,
    struct smbio_dirent **v, size_t *n, struct smbio_status *st)
{
	char *url = location_url(u, rel);
	int rc;

	rc = smbio_listdir(io, url, v, n, st);
	free(url);
	return rc;
}

/*
 * What a crawl knows of a folder of a postoffice (GLB or XTN).  Files are
 * opened by name first: Windows servers, and Samba unless a share says
 * "case sensitive = yes", match names without regard to case, so a crawl
 * of a sound postoffice lists no folder at all.  A folder is listed only
 * when an open misses, to find a name spelt in another case on a
 * case-sensitive share, or to tell that the file is missing.
 */
struct crawl_dir {
	const char		*canon;		/* "GLB" or "XTN" */
	const char		*name;		/* as the server spells it, or
						   NULL while unknown */
	int			 absent;	/* the postoffice has none */
	struct smbio_dirent	*v;		/* its listing, once listed */
	size_t			 n;
	int			 listed;
	int			 owned;		/* v is freed with the crawl_po */
};

/* One postoffice folder being crawled. */
struct crawl_po {
	const char		*po;		/* relative to the URL's folder */
	const struct smbio_dirent *top;		/* listing of po, once listed */
	size_t			 ntop;
	int			 top_listed;
	struct smbio_dirent	*own_top;	/* top, when listed here */
	struct crawl_dir	 glb, xtn;
};

static void
crawl_po_init(struct crawl_po *p, const char *po)
{
	memset(p, 0, sizeof(*p));
	p->po = po;
	p->glb.canon = "GLB";
	p->xtn.canon = "XTN";
}

static void
crawl_po_free(struct crawl_po *p)
{
	if (p->glb.owned)
		smbio_dirents_free(p->glb.v, p->glb.n);
	if (p->xtn.owned)
		smbio_dirents_free(p->xtn.v, p->xtn.n);
	if (p->own_top != NULL)
		smbio_dirents_free(p->own_top, p->ntop);
}

/* Find how the server spells folder d, listing p's folder if need be. */
static int
crawl_resolve(struct smbio *io, const struct location *u, struct crawl_po *p,
    struct crawl_dir *d, struct smbio_status *st)
{
	const struct smbio_dirent *e;

	if (d->name != NULL || d->absent)
		return 0;
	if (!p->top_listed) {
		if (crawl_list(io, u, p->po, &p->own_top, &p->ntop, st) == -1)
			return -1;
		p->top = p->own_top;
		p->top_listed = 1;
	}
	if ((e = crawl_find(p->top, p->ntop, d->canon, 1)) == NULL)
		d->absent = 1;
	else
		d->name = e->name;
	return 0;
}

/*
 * Read file fname of folder d of postoffice p, at most cap bytes.  Returns
 * 0 with the bytes in *buf, 1 if there is no such file, or -1 with st set.
 */
static int
crawl_fetch(struct smbio *io, const struct location *u, struct crawl_po *p,
    struct crawl_dir *d, const char *fname, size_t cap, uint8_t **buf,
    size_t *len, struct smbio_status *st)
{
	const struct smbio_dirent *e;
	char *dir, *rel;
	int rc;

	if (!d->listed) {
		/* What p's listing, if read, says costs nothing. */
		if (p->top_listed && crawl_resolve(io, u, p, d, st) == -1)
			return -1;
		if (d->absent)
			return 1;
		dir = crawl_join(p->po, d->name != NULL ? d->name : d->canon);
		rel = crawl_join(dir, fname);
		free(dir);
		rc = crawl_read(io, u, rel, cap, buf, len, st);
		free(rel);
		if (rc == 0 || st->outcome != OUTCOME_NOT_POSTOFFICE)
			return rc;
		/* Missed: look for the names. */
		if (crawl_resolve(io, u, p, d, st) == -1)
			return -1;
		if (d->absent)
			return 1;
		dir = crawl_join(p->po, d->name);
		rc = crawl_list(io, u, dir, &d->v, &d->n, st);
		free(dir);
		if (rc == -1)
			return -1;
		d->listed = d->owned = 1;
	}
	if ((e = crawl_find(d->v, d->n, fname, 0)) == NULL)
		return 1;
	dir = crawl_join(p->po, d->name);
	rel = crawl_join(dir, e->name);
	free(dir);
	rc = crawl_read(io, u, rel, cap, buf, len, st);
	free(rel);
	return rc;
}

/*
 * Record on r that a file of a postoffice could not be read: inside a
 * postoffice, "not found" is an error, not a verdict on the folder.
 */
static void
crawl_fetch_fail(struct result *r, const struct smbio_status *st)
{
	result_fail(r, st->outcome == OUTCOME_NOT_POSTOFFICE ? OUTCOME_ERROR :
	    st->outcome, st->message);
}

static void
crawl_add_route(struct result *r, const char *network,
    const char *postoffice, uint8_t type)
{
	struct result_route *rt;

	r->routes = xreallocarray(r->routes, r->nroutes + 1,
	    sizeof(*r->routes));
	rt = &r->routes[r->nroutes++];
	memset(rt, 0, sizeof(*rt));
	snprintf(rt->network, sizeof(rt->network), "%s", network);
	snprintf(rt->postoffice, sizeof(rt->postoffice), "%s", postoffice);
	rt->type = type;
}

/* Read the XTN files named by NETWORK.GLB and fill r's routes. */
static void
crawl_routes(struct smbio *io, const struct location *u, struct crawl_po *p,
    const struct po_network *nw, size_t nnw, struct result *r)
{
	struct smbio_status st;
	struct po_xtn *xs;
	char fname[PO_XTN_ID_LEN + 8], err[256], msg[320];
	size_t i, j, len, nx;
	uint8_t *buf;
	int rc;

	for (i = 0; i < nnw; i++) {
		if (nw[i].xtn_id[0] == '\0') {
			crawl_add_route(r, nw[i].name, "", nw[i].type);
			continue;
		}
		snprintf(fname, sizeof(fname), "%s.XTN", nw[i].xtn_id);
		rc = crawl_fetch(io, u, p, &p->xtn, fname, CRAWL_TABLE_CAP,
		    &buf, &len, &st);
		if (rc == 1) {
			snprintf(err, sizeof(err), "XTN\\%s, named by the "
			    "NETWORK.GLB record of network %s, is missing",
			    fname, nw[i].name);
			result_fail(r, OUTCOME_MALFORMED, err);
			continue;
		}
		if (rc == -1) {
			crawl_fetch_fail(r, &st);
			/* A server gone quiet would only time out again. */
			if (st.outcome == OUTCOME_TIMEOUT ||
			    st.outcome == OUTCOME_UNREACHABLE)
				return;
			continue;
		}
		if (po_parse_xtn(buf, len, &xs, &nx, err, sizeof(err)) !=
		    PO_OK) {
			snprintf(msg, sizeof(msg), "XTN\\%s: %s", fname, err);
			result_fail(r, OUTCOME_MALFORMED, msg);
			free(buf);
			continue;
		}
		for (j = 0; j < nx; j++)
			crawl_add_route(r, nw[i].name, xs[j].postoffice,
			    nw[i].type);
		free(xs);
		free(buf);
	}
}

/*
 * Crawl postoffice p into a new result.  master holds the bytes of its
 * GLB\MASTER.GLB when the caller has read them already (NULL: read here).
 */
static void
crawl_postoffice(struct smbio *io, const struct location *u, struct crawl_po *p,
    uint8_t *master, size_t mlen, struct results *out, int64_t started)
{
	struct result *r;
	struct smbio_status st;
	struct po_network *nw = NULL;
	size_t len, nnw = 0;
	uint8_t *buf;
	char err[256], msg[320];
	char fullpath[1024];
	int rc;

	snprintf(fullpath, sizeof(fullpath), "%s%s%s", u->path,
	    u->path[0] && p->po[0] ? "/" : "", p->po);
	r = crawl_new_result(out, u, fullpath, started);

	if (master != NULL) {
		buf = master;
		len = mlen;
	} else if ((rc = crawl_fetch(io, u, p, &p->glb, "MASTER.GLB",
	    CRAWL_MASTER_CAP, &buf, &len, &st)) != 0) {
		if (rc == 1)
			result_fail(r, OUTCOME_ERROR, "GLB\\MASTER.GLB vanished "
			    "while the postoffice was read");
		else
			crawl_fetch_fail(r, &st);
		goto done;
	}
	if (po_parse_master(buf, len, &r->master, err, sizeof(err)) != PO_OK) {
		snprintf(msg, sizeof(msg), "GLB\\MASTER.GLB: %s", err);
		result_fail(r, OUTCOME_MALFORMED, msg);
		free(buf);
		goto done;
	}
	free(buf);
	r->has_master = 1;
	r->checksum_ok = po_checksum_ok(&r->master);
	if (!r->checksum_ok)
		result_note(r, "GLB\\MASTER.GLB: serial checksum mismatch "
		    "(stored 0x%04x, computed 0x%04x)",
		    r->master.checksum_stored, r->master.checksum_computed);

	/* NETWORK.GLB is optional: a postoffice may know no other. */
	rc = crawl_fetch(io, u, p, &p->glb, "NETWORK.GLB", CRAWL_TABLE_CAP,
	    &buf, &len, &st);
	if (rc == 1)
		goto done;
	if (rc == -1) {
		crawl_fetch_fail(r, &st);
		goto done;
	}
	if (po_parse_network(buf, len, &nw, &nnw, err, sizeof(err)) != PO_OK) {
		snprintf(msg, sizeof(msg), "GLB\\NETWORK.GLB: %s", err);
		result_fail(r, OUTCOME_MALFORMED, msg);
		free(buf);
		goto done;
	}
	free(buf);
	crawl_routes(io, u, p, nw, nnw, r);
	free(nw);
done:
	r->finished_us = clock_wall_us();
}

/*
 * If folder po (listing v) holds GLB\MASTER.GLB, crawl it and return 1;
 * return 0 if it is no postoffice.  *why describes a near miss.
 */
static int
crawl_try(struct smbio *io, const struct location *u, const char *po,
    const struct smbio_dirent *v, size_t n, struct results *out,
    int64_t started, char *why, size_t whylen)
{
	const struct smbio_dirent *glbent;
	struct smbio_dirent *glb = NULL;
	struct smbio_status st;
	struct crawl_po p;
	size_t nglb = 0;
	char *rel;
	int found = 0;

	if ((glbent = crawl_find(v, n, "GLB", 1)) == NULL)
		return 0;
	rel = crawl_join(po, glbent->name);
	if (crawl_list(io, u, rel, &glb, &nglb, &st) == -1) {
		/* A GLB we may not read is a postoffice we cannot see. */
		struct result *r;
		char fullpath[1024];

		snprintf(fullpath, sizeof(fullpath), "%s%s%s", u->path,
		    u->path[0] && po[0] ? "/" : "", po);
		r = crawl_new_result(out, u, fullpath, started);
		crawl_fetch_fail(r, &st);
		r->finished_us = clock_wall_us();
		free(rel);
		return 1;
	}
	free(rel);
	if (crawl_find(glb, nglb, "MASTER.GLB", 0) != NULL) {
		crawl_po_init(&p, po);
		p.top = v;
		p.ntop = n;
		p.top_listed = 1;
		p.glb.name = glbent->name;
		p.glb.v = glb;
		p.glb.n = nglb;
		p.glb.listed = 1;
		crawl_postoffice(io, u, &p, NULL, 0, out, started);
		crawl_po_free(&p);
		found = 1;
	} else
		snprintf(why, whylen, "%s%s%s has no MASTER.GLB", po,
		    po[0] ? "\\" : "", glbent->name);
	smbio_dirents_free(glb, nglb);
	return found;
}

/*
 * Crawl the folder of u into out.  In discovery mode (quiet) a share that
 * cannot be read or holds no postoffice adds no result.  With probe, check
 * first that the host takes TCP connections.
 *
 * The usual postoffice, at the location's folder, is read without listing
 * a folder: GLB\MASTER.GLB is opened by name.  When that open misses (no
 * postoffice there, or names in another case on a case-sensitive share)
 * or is refused, the folder is listed and searched as described at the
 * top of this file, which also gives a refusal its due place.
 */
static size_t
crawl_folder(struct smbio *io, const struct location *u, int quiet,
    int probe, struct results *out)
{
	struct smbio_dirent *v = NULL, *sv;
	struct smbio_status st;
	struct result *r;
	struct crawl_po p;
	size_t n = 0, ns, i, before = out->n, scanned = 0, unread = 0, len;
	int64_t started = clock_wall_us();
	char why[256] = "";
	uint8_t *buf;

	smbio_server(io, u->host, u->port, u->share);
	if (probe && smbio_probe(io, u->host, u->port, &st) == -1)
		goto unreadable;
	if (crawl_read(io, u, "GLB/MASTER.GLB", CRAWL_MASTER_CAP, &buf, &len,
	    &st) == 0) {
		crawl_po_init(&p, "");
		p.glb.name = "GLB";
		crawl_postoffice(io, u, &p, buf, len, out, started);
		crawl_po_free(&p);
		goto done;
	}
	if (st.outcome == OUTCOME_TIMEOUT ||
	    st.outcome == OUTCOME_UNREACHABLE ||
	    st.outcome == OUTCOME_AUTH_FAILED)
		goto unreadable;
	if (crawl_list(io, u, "", &v, &n, &st) == -1)
		goto unreadable;
	if (crawl_try(io, u, "", v, n, out, started, why, sizeof(why)))
		goto done;
	for (i = 0; i < n && scanned < CRAWL_MAX_SUBDIRS; i++) {
		if (!v[i].isdir)
			continue;
		scanned++;
		if (crawl_list(io, u, v[i].name, &sv, &ns, &st) == -1) {
			log_debug("%s\\%s: %s", u->share, v[i].name,
			    st.message);
			unread++;
			continue;
		}
		crawl_try(io, u, v[i].name, sv, ns, out, clock_wall_us(), why,
		    sizeof(why));
		smbio_dirents_free(sv, ns);
	}
	if (out->n == before && !quiet) {
		r = crawl_new_result(out, u, u->path, started);
		r->outcome = OUTCOME_NOT_POSTOFFICE;
		result_note(r, "no GLB\\MASTER.GLB here or one folder down%s%s%s",
		    why[0] ? " (" : "", why, why[0] ? ")" : "");
		if (unread > 0)
			result_note(r, "%zu folder(s) could not be read",
			    unread);
		if (scanned == CRAWL_MAX_SUBDIRS)
			result_note(r, "only the first %d folders were "
			    "searched", CRAWL_MAX_SUBDIRS);
		r->finished_us = clock_wall_us();
	}
	goto done;

unreadable:
	if (quiet) {
		log_debug("%s: %s", u->share, st.message);
		goto done;
	}
	r = crawl_new_result(out, u, u->path, started);
	if (st.outcome == OUTCOME_NOT_POSTOFFICE && u->path[0] == '\0')
		snprintf(st.message, sizeof(st.message), "no share "
		    "named %s on %s", u->share, u->host);
	else if (st.outcome == OUTCOME_NOT_POSTOFFICE)
		snprintf(st.message, sizeof(st.message), "no share "
		    "%s or folder %s on %s", u->share, u->path, u->host);
	result_fail(r, st.outcome, st.message);
	r->finished_us = clock_wall_us();
done:
	smbio_dirents_free(v, n);
	return out->n - before;
}

/*
 * List the shares of host u and crawl each that holds a postoffice, at
 * its root or one folder down.
 */
static size_t
crawl_discover(struct smbio *io, const struct location *u, int probe,
    struct results *out)
{
	struct location su;
	struct smbio_dirent *v = NULL;
	struct smbio_status st;
	struct result *r;
	size_t n = 0, i, before = out->n, shares = 0;
	int64_t started = clock_wall_us();

	smbio_server(io, u->host, u->port, "");
	if ((probe && smbio_probe(io, u->host, u->port, &st) == -1) ||
	    crawl_list(io, u, "", &v, &n, &st) == -1) {
		r = crawl_new_result(out, u, "", started);
		result_fail(r, st.outcome == OUTCOME_NOT_POSTOFFICE ?
		    OUTCOME_ERROR : st.outcome, st.message);
		r->finished_us = clock_wall_us();
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (!v[i].isdir)
			continue;
		shares++;
		location_set(&su, u->host, u->port, v[i].name, "");
		crawl_folder(io, &su, 1, 0, out);
		location_free(&su);
	}
	if (out->n == before) {
		r = crawl_new_result(out, u, "", started);
		r->outcome = OUTCOME_NOT_POSTOFFICE;
		result_note(r, "no share of %s holds a postoffice (%zu shares "
		    "searched)", u->host, shares);
		r->finished_us = clock_wall_us();
	}
done:
	smbio_dirents_free(v, n);
	return out->n - before;
}

/* Crawl loc and append one result per postoffice found to out. */
size_t
crawl_run(struct smbio *io, const struct location *loc, int flags,
    struct results *out)
{
	int probe = (flags & CRAWL_PROBE) != 0;

	if (loc->discover || loc->share[0] == '\0')
		return crawl_discover(io, loc, probe, out);
	return crawl_folder(io, loc, 0, probe, out);
}
