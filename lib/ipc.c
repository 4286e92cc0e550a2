/*
 * msg: encode and decode the frames exchanged between the parent and its
 * workers (see msg.h for the wire format).  The decoders are written for
 * hostile input: each read is preceded by a check of the bytes remaining,
 * and nothing is allocated from a length before that length is checked.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"
#include "ipc.h"
#include "xmalloc.h"

/* The smallest encoding of a route: two empty strings and the type. */
#define IPC_ROUTE_MINLEN	(4 + 4 + 1)
/* The bytes after the routes: started_us and finished_us. */
#define IPC_RESULT_TAILLEN	(8 + 8)
#define IPC_KIND_MAX		PO_KIND_CONNECTOR

/* Decoding state: the payload, how far it has been read, where errors go. */
struct ipc_rd {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	char		*err;
	size_t		 errlen;
};

/* Encoding state: the frame being appended to b at start. */
struct ipc_wr {
	struct ipcbuf	*b;
	size_t		 start;
	int		 bad;
};

static uint32_t
ipc_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* --- buffers ----------------------------------------------------------- */

/* Make b an empty buffer that owns no memory. */
void
ipcbuf_init(struct ipcbuf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Wipe b's bytes with explicit_bzero, release them and make b empty. */
void
ipcbuf_free(struct ipcbuf *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	ipcbuf_init(b);
}

/* Wipe b's bytes and set its length to 0, keeping the memory for reuse. */
void
ipcbuf_reset(struct ipcbuf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->len);
	b->len = 0;
}

/*
 * Make room for extra more bytes.  The old block is wiped rather than
 * handed to realloc, which could leave a copy of a password behind.
 */
static void
ipcbuf_reserve(struct ipcbuf *b, size_t extra)
{
	uint8_t *n;
	size_t cap;

	if (extra > SIZE_MAX - b->len)
		fatalx("ipcbuf_reserve: %zu + %zu overflows", b->len, extra);
	if (b->len + extra <= b->cap)
		return;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < b->len + extra)
		cap = cap > SIZE_MAX / 2 ? b->len + extra : cap * 2;
	n = xmalloc(cap);
	if (b->data != NULL) {
		memcpy(n, b->data, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = n;
	b->cap = cap;
}

/* --- encoding ---------------------------------------------------------- */

static void
ipc_put(struct ipc_wr *w, const void *v, size_t n)
{
	if (w->bad)
		return;
	/* Stop growing once the frame can no longer be sent. */
	if (n > IPC_MAX_PAYLOAD ||
	    w->b->len - w->start + n > IPC_HDR_LEN + IPC_MAX_PAYLOAD) {
		w->bad = 1;
		return;
	}
	if (n == 0)
		return;
	ipcbuf_reserve(w->b, n);
	memcpy(w->b->data + w->b->len, v, n);
	w->b->len += n;
}

static void
ipc_put_u8(struct ipc_wr *w, uint8_t v)
{
	ipc_put(w, &v, 1);
}

static void
ipc_put_u16(struct ipc_wr *w, uint16_t v)
{
	uint8_t b[2];

	b[0] = (uint8_t)(v & 0xFF);
	b[1] = (uint8_t)(v >> 8);
	ipc_put(w, b, sizeof(b));
}

static void
ipc_put_u32(struct ipc_wr *w, uint32_t v)
{
	uint8_t b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	ipc_put(w, b, sizeof(b));
}

static void
ipc_put_u64(struct ipc_wr *w, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	ipc_put(w, b, sizeof(b));
}

static void
ipc_put_i64(struct ipc_wr *w, int64_t v)
{
	ipc_put_u64(w, (uint64_t)v);
}

/* Put n bytes of s as a string; NULL s is the NULL string. */
static void
ipc_put_strn(struct ipc_wr *w, const char *s, size_t n)
{
	if (s == NULL) {
		ipc_put_u32(w, IPC_STR_NULL);
		return;
	}
	if (n > IPC_MAX_PAYLOAD) {
		w->bad = 1;
		return;
	}
	ipc_put_u32(w, (uint32_t)n);
	ipc_put(w, s, n);
}

static void
ipc_put_str(struct ipc_wr *w, const char *s)
{
	ipc_put_strn(w, s, s == NULL ? 0 : strlen(s));
}

/* Put a string that must not be NULL. */
static void
ipc_put_reqstr(struct ipc_wr *w, const char *s)
{
	if (s == NULL)
		w->bad = 1;
	else
		ipc_put_str(w, s);
}

/* Put a name held in a fixed array of size bytes; it must end within it. */
static void
ipc_put_name(struct ipc_wr *w, const char *name, size_t size)
{
	size_t n = strnlen(name, size);

	if (n >= size)
		w->bad = 1;
	else
		ipc_put_strn(w, name, n);
}

/* Put a location: host, port, share, path, discover. */
static void
ipc_put_location(struct ipc_wr *w, const struct location *l)
{
	ipc_put_reqstr(w, l->host);
	ipc_put_u16(w, l->port);
	ipc_put_reqstr(w, l->share);
	ipc_put_reqstr(w, l->path);
	ipc_put_u8(w, l->discover != 0);
}

static void
ipc_frame_begin(struct ipc_wr *w, struct ipcbuf *out, uint32_t type)
{
	w->b = out;
	w->start = out->len;
	w->bad = 0;
	ipc_put_u32(w, type);
	ipc_put_u32(w, 0);	/* the length, filled in by ipc_frame_end */
}

/* Fill in the length, or take the frame back out if it went wrong. */
static int
ipc_frame_end(struct ipc_wr *w)
{
	struct ipcbuf *b = w->b;
	size_t plen = b->len - w->start - IPC_HDR_LEN;
	uint8_t *h;
	int i;

	if (w->bad || plen > IPC_MAX_PAYLOAD) {
		explicit_bzero(b->data + w->start, b->len - w->start);
		b->len = w->start;
		return -1;
	}
	h = b->data + w->start + 4;
	for (i = 0; i < 4; i++)
		h[i] = (uint8_t)(plen >> (8 * i));
	return 0;
}

/*
 * Append an IPC_JOB frame to out; returns 0, or -1 (out unchanged) if
 * j->loc.host is NULL or the frame is too large.
 */
int
ipc_frame_job(struct ipcbuf *out, const struct ipc_job *j)
{
	struct ipc_wr w;

	ipc_frame_begin(&w, out, IPC_JOB);
	ipc_put_u64(&w, j->id);
	ipc_put_location(&w, &j->loc);
	ipc_put_str(&w, j->username);
	ipc_put_str(&w, j->password);
	ipc_put_str(&w, j->domain);
	ipc_put_str(&w, j->min_protocol);
	ipc_put_str(&w, j->max_protocol);
	ipc_put_u32(&w, (uint32_t)j->timeout_ms);
	ipc_put_u32(&w, (uint32_t)j->connect_timeout_ms);
	ipc_put_str(&w, j->smb_conf);
	if (j->kerberos > IPC_KRB_REQUIRED)
		w.bad = 1;
	ipc_put_u8(&w, j->kerberos);
	ipc_put_str(&w, j->ccache);
	ipc_put_str(&w, j->krb_error);
	return ipc_frame_end(&w);
}

/*
 * Append a IPC_RESULT frame to out; returns 0, or -1 (out unchanged) if r
 * holds a value the decoder would refuse or the frame is too large.
 */
int
ipc_frame_result(struct ipcbuf *out, uint64_t job_id,
    const struct result *r)
{
	const struct po_master *m = &r->master;
	struct ipc_wr w;
	size_t i;

	ipc_frame_begin(&w, out, IPC_RESULT);
	if ((unsigned int)r->outcome >= OUTCOME_COUNT ||
	    r->nroutes > IPC_MAX_ROUTES ||
	    (r->has_master && (unsigned int)m->kind > IPC_KIND_MAX))
		w.bad = 1;
	ipc_put_u64(&w, job_id);
	ipc_put_location(&w, &r->loc);
	ipc_put_u8(&w, (uint8_t)r->outcome);
	ipc_put_str(&w, r->error);
	ipc_put_u8(&w, r->has_master != 0);
	if (r->has_master) {
		ipc_put_name(&w, m->network, sizeof(m->network));
		ipc_put_name(&w, m->postoffice, sizeof(m->postoffice));
		ipc_put(&w, m->serial_raw, sizeof(m->serial_raw));
		ipc_put_name(&w, m->serial, sizeof(m->serial));
		ipc_put_u16(&w, m->checksum_stored);
		ipc_put_u16(&w, m->checksum_computed);
		ipc_put_u32(&w, m->flags);
		ipc_put_u8(&w, m->nos_type);
		ipc_put_u8(&w, m->db_version);
		ipc_put_u8(&w, m->product_version);
		ipc_put_u8(&w, (uint8_t)m->kind);
	}
	ipc_put_u8(&w, r->checksum_ok != 0);
	ipc_put_u32(&w, (uint32_t)r->nroutes);
	for (i = 0; i < r->nroutes && !w.bad; i++) {
		const struct result_route *rt = &r->routes[i];

		ipc_put_name(&w, rt->network, sizeof(rt->network));
		ipc_put_name(&w, rt->postoffice, sizeof(rt->postoffice));
		ipc_put_u8(&w, rt->type);
	}
	ipc_put_i64(&w, r->started_us);
	ipc_put_i64(&w, r->finished_us);
	return ipc_frame_end(&w);
}

/* Append a IPC_DONE frame to out. */
void
ipc_frame_done(struct ipcbuf *out, uint64_t job_id, uint32_t nresults)
{
	struct ipc_wr w;

	ipc_frame_begin(&w, out, IPC_DONE);
	ipc_put_u64(&w, job_id);
	ipc_put_u32(&w, nresults);
	if (ipc_frame_end(&w) == -1)
		fatalx("ipc_frame_done: cannot encode");
}

/* --- decoding ---------------------------------------------------------- */

static void
ipc_rd_init(struct ipc_rd *r, const uint8_t *p, size_t len, char *err,
    size_t errlen)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = err;
	r->errlen = errlen;
}

/* Check that n more bytes are there for the field what. */
static int
ipc_need(struct ipc_rd *r, size_t n, const char *what)
{
	if (n > r->len - r->off) {
		errbuf_set(r->err, r->errlen, "truncated %s at offset %zu: "
		    "%zu bytes needed, %zu left", what, r->off, n,
		    r->len - r->off);
		return -1;
	}
	return 0;
}

static int
ipc_get(struct ipc_rd *r, void *v, size_t n, const char *what)
{
	if (ipc_need(r, n, what) == -1)
		return -1;
	memcpy(v, r->p + r->off, n);
	r->off += n;
	return 0;
}

static int
ipc_get_u8(struct ipc_rd *r, uint8_t *v, const char *what)
{
	return ipc_get(r, v, 1, what);
}

/* Read a u8 that must be below lim. */
static int
ipc_get_u8max(struct ipc_rd *r, uint8_t *v, unsigned int lim,
    const char *what)
{
	size_t at = r->off;

	if (ipc_get_u8(r, v, what) == -1)
		return -1;
	if (*v >= lim) {
		errbuf_set(r->err, r->errlen, "bad %s at offset %zu: %u "
		    "(must be below %u)", what, at, *v, lim);
		return -1;
	}
	return 0;
}

static int
ipc_get_u16(struct ipc_rd *r, uint16_t *v, const char *what)
{
	uint8_t b[2];

	if (ipc_get(r, b, sizeof(b), what) == -1)
		return -1;
	*v = (uint16_t)(b[0] | (b[1] << 8));
	return 0;
}

static int
ipc_get_u32(struct ipc_rd *r, uint32_t *v, const char *what)
{
	uint8_t b[4];

	if (ipc_get(r, b, sizeof(b), what) == -1)
		return -1;
	*v = ipc_le32(b);
	return 0;
}

static int
ipc_get_i32(struct ipc_rd *r, int32_t *v, const char *what)
{
	uint32_t u;

	if (ipc_get_u32(r, &u, what) == -1)
		return -1;
	*v = u <= INT32_MAX ? (int32_t)u : -(int32_t)~u - 1;
	return 0;
}

static int
ipc_get_u64(struct ipc_rd *r, uint64_t *v, const char *what)
{
	uint8_t b[8];
	int i;

	if (ipc_get(r, b, sizeof(b), what) == -1)
		return -1;
	*v = 0;
	for (i = 7; i >= 0; i--)
		*v = (*v << 8) | b[i];
	return 0;
}

static int
ipc_get_i64(struct ipc_rd *r, int64_t *v, const char *what)
{
	uint64_t u;

	if (ipc_get_u64(r, &u, what) == -1)
		return -1;
	*v = u <= INT64_MAX ? (int64_t)u : -(int64_t)~u - 1;
	return 0;
}

/*
 * Read a string's length and check its bytes: they must be there, hold no
 * NUL and number at most max.  Sets *s to the bytes, or NULL for the NULL
 * string when nullable.
 */
static int
ipc_get_strbytes(struct ipc_rd *r, const uint8_t **s, uint32_t *n,
    int nullable, size_t max, const char *what)
{
	size_t at = r->off;

	if (ipc_get_u32(r, n, what) == -1)
		return -1;
	if (*n == IPC_STR_NULL) {
		if (!nullable) {
			errbuf_set(r->err, r->errlen, "%s at offset %zu is "
			    "NULL", what, at);
			return -1;
		}
		*s = NULL;
		return 0;
	}
	if (ipc_need(r, *n, what) == -1)
		return -1;
	if (*n > max) {
		errbuf_set(r->err, r->errlen, "%s at offset %zu is too long: "
		    "%u bytes, at most %zu", what, at, *n, max);
		return -1;
	}
	*s = r->p + r->off;
	if (memchr(*s, '\0', *n) != NULL) {
		errbuf_set(r->err, r->errlen, "%s at offset %zu holds a NUL",
		    what, at);
		return -1;
	}
	r->off += *n;
	return 0;
}

/* Read a string into a new allocation (*out NULL for the NULL string). */
static int
ipc_get_str(struct ipc_rd *r, char **out, int nullable, const char *what)
{
	const uint8_t *s;
	uint32_t n;

	*out = NULL;
	if (ipc_get_strbytes(r, &s, &n, nullable, IPC_MAX_PAYLOAD,
	    what) == -1)
		return -1;
	if (s == NULL)
		return 0;
	*out = xmalloc((size_t)n + 1);
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	return 0;
}

/* Read a string into the fixed array dst of size bytes, NUL-terminated. */
static int
ipc_get_name(struct ipc_rd *r, char *dst, size_t size, const char *what)
{
	const uint8_t *s;
	uint32_t n;

	if (ipc_get_strbytes(r, &s, &n, 0, size - 1, what) == -1)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Read a location (see ipc_put_location). */
static int
ipc_get_location(struct ipc_rd *r, struct location *l)
{
	uint8_t discover;

	if (ipc_get_str(r, &l->host, 0, "host") == -1 ||
	    ipc_get_u16(r, &l->port, "port") == -1 ||
	    ipc_get_str(r, &l->share, 0, "share") == -1 ||
	    ipc_get_str(r, &l->path, 0, "path") == -1 ||
	    ipc_get_u8max(r, &discover, 2, "discover") == -1)
		return -1;
	l->discover = discover;
	return 0;
}

/* Refuse bytes after the last field. */
static int
ipc_end(struct ipc_rd *r)
{
	if (r->off != r->len) {
		errbuf_set(r->err, r->errlen, "%zu trailing bytes at offset "
		    "%zu", r->len - r->off, r->off);
		return -1;
	}
	return 0;
}

/* Refuse a payload longer than any frame can carry. */
static int
ipc_check_len(size_t len, char *err, size_t errlen)
{
	if (len > IPC_MAX_PAYLOAD) {
		errbuf_set(err, errlen, "payload of %zu bytes is over %u",
		    len, IPC_MAX_PAYLOAD);
		return -1;
	}
	return 0;
}

/*
 * Decode a IPC_JOB payload into *j; returns 0, or -1 with err and *j zeroed.
 */
int
ipc_decode_job(const uint8_t *p, size_t len, struct ipc_job *j, char *err,
    size_t errlen)
{
	struct ipc_rd r;

	memset(j, 0, sizeof(*j));
	if (ipc_check_len(len, err, errlen) == -1)
		return -1;
	ipc_rd_init(&r, p, len, err, errlen);
	if (ipc_get_u64(&r, &j->id, "job id") == -1 ||
	    ipc_get_location(&r, &j->loc) == -1 ||
	    ipc_get_str(&r, &j->username, 1, "username") == -1 ||
	    ipc_get_str(&r, &j->password, 1, "password") == -1 ||
	    ipc_get_str(&r, &j->domain, 1, "domain") == -1 ||
	    ipc_get_str(&r, &j->min_protocol, 1, "min_protocol") == -1 ||
	    ipc_get_str(&r, &j->max_protocol, 1, "max_protocol") == -1 ||
	    ipc_get_i32(&r, &j->timeout_ms, "timeout_ms") == -1 ||
	    ipc_get_i32(&r, &j->connect_timeout_ms,
	    "connect_timeout_ms") == -1 ||
	    ipc_get_str(&r, &j->smb_conf, 1, "smb_conf") == -1 ||
	    ipc_get_u8max(&r, &j->kerberos, IPC_KRB_REQUIRED + 1,
	    "kerberos") == -1 ||
	    ipc_get_str(&r, &j->ccache, 1, "ccache") == -1 ||
	    ipc_get_str(&r, &j->krb_error, 1, "krb_error") == -1 ||
	    ipc_end(&r) == -1) {
		ipc_job_free(j);
		return -1;
	}
	return 0;
}

static int
ipc_decode_master(struct ipc_rd *r, struct po_master *m)
{
	uint8_t kind;

	if (ipc_get_name(r, m->network, sizeof(m->network),
	    "master network") == -1 ||
	    ipc_get_name(r, m->postoffice, sizeof(m->postoffice),
	    "master postoffice") == -1 ||
	    ipc_get(r, m->serial_raw, sizeof(m->serial_raw),
	    "serial bytes") == -1 ||
	    ipc_get_name(r, m->serial, sizeof(m->serial), "serial") == -1 ||
	    ipc_get_u16(r, &m->checksum_stored, "checksum_stored") == -1 ||
	    ipc_get_u16(r, &m->checksum_computed,
	    "checksum_computed") == -1 ||
	    ipc_get_u32(r, &m->flags, "flags") == -1 ||
	    ipc_get_u8(r, &m->nos_type, "nos_type") == -1 ||
	    ipc_get_u8(r, &m->db_version, "db_version") == -1 ||
	    ipc_get_u8(r, &m->product_version, "product_version") == -1 ||
	    ipc_get_u8max(r, &kind, IPC_KIND_MAX + 1, "kind") == -1)
		return -1;
	m->kind = (enum po_kind)kind;
	return 0;
}

static int
ipc_decode_routes(struct ipc_rd *r, struct result *res)
{
	struct result_route *rt;
	uint32_t n;
	size_t at = r->off, left, i;

	if (ipc_get_u32(r, &n, "nroutes") == -1)
		return -1;
	left = r->len - r->off;
	if (n > IPC_MAX_ROUTES || left < IPC_RESULT_TAILLEN ||
	    n > (left - IPC_RESULT_TAILLEN) / IPC_ROUTE_MINLEN) {
		errbuf_set(r->err, r->errlen, "bad nroutes at offset %zu: %u "
		    "routes in %zu bytes", at, n, left);
		return -1;
	}
	if (n == 0)
		return 0;
	res->routes = xcalloc(n, sizeof(*res->routes));
	res->nroutes = n;
	for (i = 0; i < n; i++) {
		rt = &res->routes[i];
		if (ipc_get_name(r, rt->network, sizeof(rt->network),
		    "route network") == -1 ||
		    ipc_get_name(r, rt->postoffice, sizeof(rt->postoffice),
		    "route postoffice") == -1 ||
		    ipc_get_u8(r, &rt->type, "route type") == -1)
			return -1;
	}
	return 0;
}

/*
 * Decode a IPC_RESULT payload into *r (release it with result_free);
 * returns 0, or -1 with err and *r zeroed.
 */
int
ipc_decode_result(const uint8_t *p, size_t len, uint64_t *job_id,
    struct result *res, char *err, size_t errlen)
{
	struct ipc_rd r;
	uint8_t outcome, has_master, checksum_ok;

	memset(res, 0, sizeof(*res));
	*job_id = 0;
	if (ipc_check_len(len, err, errlen) == -1)
		return -1;
	ipc_rd_init(&r, p, len, err, errlen);
	if (ipc_get_u64(&r, job_id, "job id") == -1 ||
	    ipc_get_location(&r, &res->loc) == -1 ||
	    ipc_get_u8max(&r, &outcome, OUTCOME_COUNT, "outcome") == -1 ||
	    ipc_get_str(&r, &res->error, 1, "error") == -1 ||
	    ipc_get_u8max(&r, &has_master, 2, "has_master") == -1)
		goto fail;
	res->outcome = (enum outcome)outcome;
	res->has_master = has_master;
	if (has_master && ipc_decode_master(&r, &res->master) == -1)
		goto fail;
	if (ipc_get_u8max(&r, &checksum_ok, 2, "checksum_ok") == -1)
		goto fail;
	res->checksum_ok = checksum_ok;
	if (ipc_decode_routes(&r, res) == -1 ||
	    ipc_get_i64(&r, &res->started_us, "started_us") == -1 ||
	    ipc_get_i64(&r, &res->finished_us, "finished_us") == -1 ||
	    ipc_end(&r) == -1)
		goto fail;
	res->unc = location_unc(&res->loc);
	res->key = location_key(&res->loc);
	return 0;
 fail:
	result_free(res);
	*job_id = 0;
	return -1;
}

/* Decode a IPC_DONE payload; returns 0, or -1 with err. */
int
ipc_decode_done(const uint8_t *p, size_t len, uint64_t *job_id,
    uint32_t *nresults, char *err, size_t errlen)
{
	struct ipc_rd r;

	*job_id = 0;
	*nresults = 0;
	if (ipc_check_len(len, err, errlen) == -1)
		return -1;
	ipc_rd_init(&r, p, len, err, errlen);
	if (ipc_get_u64(&r, job_id, "job id") == -1 ||
	    ipc_get_u32(&r, nresults, "nresults") == -1 ||
	    ipc_end(&r) == -1) {
		*job_id = 0;
		*nresults = 0;
		return -1;
	}
	return 0;
}

/* Release what a job owns (wiping the password first) and zero it. */
void
ipc_job_free(struct ipc_job *j)
{
	xfree_secret(j->password);
	location_free(&j->loc);
	free(j->username);
	free(j->domain);
	free(j->min_protocol);
	free(j->max_protocol);
	free(j->smb_conf);
	free(j->ccache);
	free(j->krb_error);
	memset(j, 0, sizeof(*j));
}

/* --- frames ------------------------------------------------------------ */

/* Check a frame header: 0 and the type and length, or -1 with err. */
static int
ipc_header(const uint8_t *h, uint32_t *type, uint32_t *plen, char *err,
    size_t errlen)
{
	*type = ipc_le32(h);
	*plen = ipc_le32(h + 4);
	if (*type != IPC_JOB && *type != IPC_RESULT && *type != IPC_DONE) {
		errbuf_set(err, errlen, "unknown frame type %u", *type);
		return -1;
	}
	if (*plen > IPC_MAX_PAYLOAD) {
		errbuf_set(err, errlen, "frame length %u is over %u", *plen,
		    IPC_MAX_PAYLOAD);
		return -1;
	}
	return 0;
}

/*
 * Look at buf[0..avail): 1 with *type, *payload, *plen, *framelen set when
 * a whole frame is there, 0 when more bytes are needed, -1 with err when
 * the header is bad (unknown type, length over IPC_MAX_PAYLOAD).
 */
int
ipc_frame_peek(const uint8_t *buf, size_t avail, uint32_t *type,
    const uint8_t **payload, uint32_t *plen, size_t *framelen, char *err,
    size_t errlen)
{
	uint32_t t, n;

	if (avail < IPC_HDR_LEN)
		return 0;
	if (ipc_header(buf, &t, &n, err, errlen) == -1)
		return -1;
	if (avail - IPC_HDR_LEN < n)
		return 0;
	*type = t;
	*plen = n;
	*payload = buf + IPC_HDR_LEN;
	*framelen = IPC_HDR_LEN + (size_t)n;
	return 1;
}

/* Wait until fd is ready for events after EAGAIN; -1 on a poll error. */
static int
ipc_wait(int fd, short events)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = events;
	pfd.revents = 0;
	if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
		return -1;
	return 0;
}

/*
 * Write all of buf[0..len) to fd, retrying on EINTR and short writes;
 * returns 0, or -1 with errno set.
 */
int
ipc_write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;
	int sock = 1;

	while (len > 0) {
		/* MSG_NOSIGNAL: a dead peer is an EPIPE, not a SIGPIPE. */
		if (sock) {
			n = send(fd, buf, len, MSG_NOSIGNAL);
			if (n == -1 && errno == ENOTSOCK) {
				sock = 0;
				continue;
			}
		} else
			n = write(fd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (ipc_wait(fd, POLLOUT) == -1)
					return -1;
				continue;
			}
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until b holds want bytes: 1 done, 0 EOF first, -1 error (errno). */
static int
ipc_read_upto(int fd, struct ipcbuf *b, size_t want)
{
	ssize_t n;

	ipcbuf_reserve(b, want - b->len);
	while (b->len < want) {
		n = read(fd, b->data + b->len, want - b->len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (ipc_wait(fd, POLLIN) == -1)
					return -1;
				continue;
			}
			return -1;
		}
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
	return 1;
}

/*
 * Read exactly one frame from fd into b (reset first; *payload points into
 * b): 1 frame read, 0 clean EOF before any byte, -1 with err on error, EOF
 * inside a frame or a bad header.
 */
int
ipc_read_frame(int fd, struct ipcbuf *b, uint32_t *type,
    const uint8_t **payload, uint32_t *plen, char *err, size_t errlen)
{
	uint32_t t, n;
	size_t want;
	int rv;

	*type = 0;
	*payload = NULL;
	*plen = 0;
	ipcbuf_reset(b);
	if ((rv = ipc_read_upto(fd, b, IPC_HDR_LEN)) != 1) {
		if (rv == -1)
			errbuf_set(err, errlen, "read: %s", strerror(errno));
		else if (b->len == 0)
			return 0;
		else
			errbuf_set(err, errlen, "end of file inside a frame "
			    "header (%zu of %d bytes)", b->len, IPC_HDR_LEN);
		goto fail;
	}
	if (ipc_header(b->data, &t, &n, err, errlen) == -1)
		goto fail;
	want = IPC_HDR_LEN + (size_t)n;
	if ((rv = ipc_read_upto(fd, b, want)) != 1) {
		if (rv == -1)
			errbuf_set(err, errlen, "read: %s", strerror(errno));
		else
			errbuf_set(err, errlen, "end of file inside a frame "
			    "(%zu of %zu bytes)", b->len, want);
		goto fail;
	}
	*type = t;
	*plen = n;
	*payload = b->data + IPC_HDR_LEN;
	return 1;
 fail:
	ipcbuf_reset(b);
	return -1;
}
