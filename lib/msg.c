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

#include "log.h"
#include "msg.h"
#include "xmalloc.h"

/* The smallest encoding of a route: two empty strings and the type. */
#define MSG_ROUTE_MINLEN	(4 + 4 + 1)
/* The bytes after the routes: started_us and finished_us. */
#define MSG_RESULT_TAILLEN	(8 + 8)
#define MSG_KIND_MAX		PO_KIND_CONNECTOR

/* Decoding state: the payload, how far it has been read, where errors go. */
struct msg_rd {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	char		*err;
	size_t		 errlen;
};

/* Encoding state: the frame being appended to b at start. */
struct msg_wr {
	struct msgbuf	*b;
	size_t		 start;
	int		 bad;
};

static uint32_t
msg_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* --- buffers ----------------------------------------------------------- */

/* Make b an empty buffer that owns no memory. */
void
msgbuf_init(struct msgbuf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Wipe b's bytes with explicit_bzero, release them and make b empty. */
void
msgbuf_free(struct msgbuf *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	msgbuf_init(b);
}

/* Wipe b's bytes and set its length to 0, keeping the memory for reuse. */
void
msgbuf_reset(struct msgbuf *b)
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
msgbuf_reserve(struct msgbuf *b, size_t extra)
{
	uint8_t *n;
	size_t cap;

	if (extra > SIZE_MAX - b->len)
		fatalx("msgbuf_reserve: %zu + %zu overflows", b->len, extra);
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
msg_put(struct msg_wr *w, const void *v, size_t n)
{
	if (w->bad)
		return;
	/* Stop growing once the frame can no longer be sent. */
	if (n > MSG_MAX_PAYLOAD ||
	    w->b->len - w->start + n > MSG_HDR_LEN + MSG_MAX_PAYLOAD) {
		w->bad = 1;
		return;
	}
	if (n == 0)
		return;
	msgbuf_reserve(w->b, n);
	memcpy(w->b->data + w->b->len, v, n);
	w->b->len += n;
}

static void
msg_put_u8(struct msg_wr *w, uint8_t v)
{
	msg_put(w, &v, 1);
}

static void
msg_put_u16(struct msg_wr *w, uint16_t v)
{
	uint8_t b[2];

	b[0] = (uint8_t)(v & 0xFF);
	b[1] = (uint8_t)(v >> 8);
	msg_put(w, b, sizeof(b));
}

static void
msg_put_u32(struct msg_wr *w, uint32_t v)
{
	uint8_t b[4];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	msg_put(w, b, sizeof(b));
}

static void
msg_put_u64(struct msg_wr *w, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	msg_put(w, b, sizeof(b));
}

static void
msg_put_i64(struct msg_wr *w, int64_t v)
{
	msg_put_u64(w, (uint64_t)v);
}

/* Put n bytes of s as a string; NULL s is the NULL string. */
static void
msg_put_strn(struct msg_wr *w, const char *s, size_t n)
{
	if (s == NULL) {
		msg_put_u32(w, MSG_STR_NULL);
		return;
	}
	if (n > MSG_MAX_PAYLOAD) {
		w->bad = 1;
		return;
	}
	msg_put_u32(w, (uint32_t)n);
	msg_put(w, s, n);
}

static void
msg_put_str(struct msg_wr *w, const char *s)
{
	msg_put_strn(w, s, s == NULL ? 0 : strlen(s));
}

/* Put a string that must not be NULL. */
static void
msg_put_reqstr(struct msg_wr *w, const char *s)
{
	if (s == NULL)
		w->bad = 1;
	else
		msg_put_str(w, s);
}

/* Put a name held in a fixed array of size bytes; it must end within it. */
static void
msg_put_name(struct msg_wr *w, const char *name, size_t size)
{
	size_t n = strnlen(name, size);

	if (n >= size)
		w->bad = 1;
	else
		msg_put_strn(w, name, n);
}

static void
msg_frame_begin(struct msg_wr *w, struct msgbuf *out, uint32_t type)
{
	w->b = out;
	w->start = out->len;
	w->bad = 0;
	msg_put_u32(w, type);
	msg_put_u32(w, 0);	/* the length, filled in by msg_frame_end */
}

/* Fill in the length, or take the frame back out if it went wrong. */
static int
msg_frame_end(struct msg_wr *w)
{
	struct msgbuf *b = w->b;
	size_t plen = b->len - w->start - MSG_HDR_LEN;
	uint8_t *h;
	int i;

	if (w->bad || plen > MSG_MAX_PAYLOAD) {
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
 * Append a MSG_JOB frame to out; returns 0, or -1 (out unchanged) if j->url
 * is NULL or the frame is too large.
 */
int
msg_frame_job(struct msgbuf *out, const struct msg_job *j)
{
	struct msg_wr w;

	msg_frame_begin(&w, out, MSG_JOB);
	msg_put_u64(&w, j->id);
	msg_put_reqstr(&w, j->url);
	msg_put_u8(&w, j->discover != 0);
	msg_put_str(&w, j->username);
	msg_put_str(&w, j->password);
	msg_put_str(&w, j->domain);
	msg_put_str(&w, j->min_protocol);
	msg_put_str(&w, j->max_protocol);
	msg_put_u32(&w, (uint32_t)j->timeout_ms);
	msg_put_u32(&w, (uint32_t)j->connect_timeout_ms);
	msg_put_str(&w, j->smb_conf);
	return msg_frame_end(&w);
}

/*
 * Append a MSG_RESULT frame to out; returns 0, or -1 (out unchanged) if r
 * holds a value the decoder would refuse or the frame is too large.
 */
int
msg_frame_result(struct msgbuf *out, uint64_t job_id,
    const struct crawl_result *r)
{
	const struct po_master *m = &r->master;
	struct msg_wr w;
	size_t i;

	msg_frame_begin(&w, out, MSG_RESULT);
	if ((unsigned int)r->outcome >= CRAWL_NOUTCOMES ||
	    r->nroutes > MSG_MAX_ROUTES ||
	    (r->has_master && (unsigned int)m->kind > MSG_KIND_MAX))
		w.bad = 1;
	msg_put_u64(&w, job_id);
	msg_put_reqstr(&w, r->location);
	msg_put_reqstr(&w, r->host);
	msg_put_u16(&w, r->port);
	msg_put_reqstr(&w, r->share);
	msg_put_reqstr(&w, r->path);
	msg_put_u8(&w, (uint8_t)r->outcome);
	msg_put_str(&w, r->error);
	msg_put_u8(&w, r->has_master != 0);
	if (r->has_master) {
		msg_put_name(&w, m->network, sizeof(m->network));
		msg_put_name(&w, m->postoffice, sizeof(m->postoffice));
		msg_put(&w, m->serial_raw, sizeof(m->serial_raw));
		msg_put_name(&w, m->serial, sizeof(m->serial));
		msg_put_u16(&w, m->checksum_stored);
		msg_put_u16(&w, m->checksum_computed);
		msg_put_u32(&w, m->flags);
		msg_put_u8(&w, m->nos_type);
		msg_put_u8(&w, m->db_version);
		msg_put_u8(&w, m->product_version);
		msg_put_u8(&w, (uint8_t)m->kind);
	}
	msg_put_u8(&w, r->checksum_ok != 0);
	msg_put_u32(&w, (uint32_t)r->nroutes);
	for (i = 0; i < r->nroutes && !w.bad; i++) {
		const struct crawl_route *rt = &r->routes[i];

		msg_put_name(&w, rt->network, sizeof(rt->network));
		msg_put_name(&w, rt->postoffice, sizeof(rt->postoffice));
		msg_put_u8(&w, rt->type);
	}
	msg_put_i64(&w, r->started_us);
	msg_put_i64(&w, r->finished_us);
	return msg_frame_end(&w);
}

/* Append a MSG_DONE frame to out. */
void
msg_frame_done(struct msgbuf *out, uint64_t job_id, uint32_t nresults)
{
	struct msg_wr w;

	msg_frame_begin(&w, out, MSG_DONE);
	msg_put_u64(&w, job_id);
	msg_put_u32(&w, nresults);
	if (msg_frame_end(&w) == -1)
		fatalx("msg_frame_done: cannot encode");
}

/* --- decoding ---------------------------------------------------------- */

static void
msg_rd_init(struct msg_rd *r, const uint8_t *p, size_t len, char *err,
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
msg_need(struct msg_rd *r, size_t n, const char *what)
{
	if (n > r->len - r->off) {
		log_errbuf(r->err, r->errlen, "truncated %s at offset %zu: "
		    "%zu bytes needed, %zu left", what, r->off, n,
		    r->len - r->off);
		return -1;
	}
	return 0;
}

static int
msg_get(struct msg_rd *r, void *v, size_t n, const char *what)
{
	if (msg_need(r, n, what) == -1)
		return -1;
	memcpy(v, r->p + r->off, n);
	r->off += n;
	return 0;
}

static int
msg_get_u8(struct msg_rd *r, uint8_t *v, const char *what)
{
	return msg_get(r, v, 1, what);
}

/* Read a u8 that must be below lim. */
static int
msg_get_u8max(struct msg_rd *r, uint8_t *v, unsigned int lim,
    const char *what)
{
	size_t at = r->off;

	if (msg_get_u8(r, v, what) == -1)
		return -1;
	if (*v >= lim) {
		log_errbuf(r->err, r->errlen, "bad %s at offset %zu: %u "
		    "(must be below %u)", what, at, *v, lim);
		return -1;
	}
	return 0;
}

static int
msg_get_u16(struct msg_rd *r, uint16_t *v, const char *what)
{
	uint8_t b[2];

	if (msg_get(r, b, sizeof(b), what) == -1)
		return -1;
	*v = (uint16_t)(b[0] | (b[1] << 8));
	return 0;
}

static int
msg_get_u32(struct msg_rd *r, uint32_t *v, const char *what)
{
	uint8_t b[4];

	if (msg_get(r, b, sizeof(b), what) == -1)
		return -1;
	*v = msg_le32(b);
	return 0;
}

static int
msg_get_i32(struct msg_rd *r, int32_t *v, const char *what)
{
	uint32_t u;

	if (msg_get_u32(r, &u, what) == -1)
		return -1;
	*v = u <= INT32_MAX ? (int32_t)u : -(int32_t)~u - 1;
	return 0;
}

static int
msg_get_u64(struct msg_rd *r, uint64_t *v, const char *what)
{
	uint8_t b[8];
	int i;

	if (msg_get(r, b, sizeof(b), what) == -1)
		return -1;
	*v = 0;
	for (i = 7; i >= 0; i--)
		*v = (*v << 8) | b[i];
	return 0;
}

static int
msg_get_i64(struct msg_rd *r, int64_t *v, const char *what)
{
	uint64_t u;

	if (msg_get_u64(r, &u, what) == -1)
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
msg_get_strbytes(struct msg_rd *r, const uint8_t **s, uint32_t *n,
    int nullable, size_t max, const char *what)
{
	size_t at = r->off;

	if (msg_get_u32(r, n, what) == -1)
		return -1;
	if (*n == MSG_STR_NULL) {
		if (!nullable) {
			log_errbuf(r->err, r->errlen, "%s at offset %zu is "
			    "NULL", what, at);
			return -1;
		}
		*s = NULL;
		return 0;
	}
	if (msg_need(r, *n, what) == -1)
		return -1;
	if (*n > max) {
		log_errbuf(r->err, r->errlen, "%s at offset %zu is too long: "
		    "%u bytes, at most %zu", what, at, *n, max);
		return -1;
	}
	*s = r->p + r->off;
	if (memchr(*s, '\0', *n) != NULL) {
		log_errbuf(r->err, r->errlen, "%s at offset %zu holds a NUL",
		    what, at);
		return -1;
	}
	r->off += *n;
	return 0;
}

/* Read a string into a new allocation (*out NULL for the NULL string). */
static int
msg_get_str(struct msg_rd *r, char **out, int nullable, const char *what)
{
	const uint8_t *s;
	uint32_t n;

	*out = NULL;
	if (msg_get_strbytes(r, &s, &n, nullable, MSG_MAX_PAYLOAD,
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
msg_get_name(struct msg_rd *r, char *dst, size_t size, const char *what)
{
	const uint8_t *s;
	uint32_t n;

	if (msg_get_strbytes(r, &s, &n, 0, size - 1, what) == -1)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Refuse bytes after the last field. */
static int
msg_end(struct msg_rd *r)
{
	if (r->off != r->len) {
		log_errbuf(r->err, r->errlen, "%zu trailing bytes at offset "
		    "%zu", r->len - r->off, r->off);
		return -1;
	}
	return 0;
}

/* Refuse a payload longer than any frame can carry. */
static int
msg_check_len(size_t len, char *err, size_t errlen)
{
	if (len > MSG_MAX_PAYLOAD) {
		log_errbuf(err, errlen, "payload of %zu bytes is over %u",
		    len, MSG_MAX_PAYLOAD);
		return -1;
	}
	return 0;
}

/*
 * Decode a MSG_JOB payload into *j; returns 0, or -1 with err and *j zeroed.
 */
int
msg_decode_job(const uint8_t *p, size_t len, struct msg_job *j, char *err,
    size_t errlen)
{
	struct msg_rd r;
	uint8_t discover;

	memset(j, 0, sizeof(*j));
	if (msg_check_len(len, err, errlen) == -1)
		return -1;
	msg_rd_init(&r, p, len, err, errlen);
	if (msg_get_u64(&r, &j->id, "job id") == -1 ||
	    msg_get_str(&r, &j->url, 0, "url") == -1 ||
	    msg_get_u8max(&r, &discover, 2, "discover") == -1 ||
	    msg_get_str(&r, &j->username, 1, "username") == -1 ||
	    msg_get_str(&r, &j->password, 1, "password") == -1 ||
	    msg_get_str(&r, &j->domain, 1, "domain") == -1 ||
	    msg_get_str(&r, &j->min_protocol, 1, "min_protocol") == -1 ||
	    msg_get_str(&r, &j->max_protocol, 1, "max_protocol") == -1 ||
	    msg_get_i32(&r, &j->timeout_ms, "timeout_ms") == -1 ||
	    msg_get_i32(&r, &j->connect_timeout_ms,
	    "connect_timeout_ms") == -1 ||
	    msg_get_str(&r, &j->smb_conf, 1, "smb_conf") == -1 ||
	    msg_end(&r) == -1) {
		msg_job_free(j);
		return -1;
	}
	j->discover = discover;
	return 0;
}

static int
msg_decode_master(struct msg_rd *r, struct po_master *m)
{
	uint8_t kind;

	if (msg_get_name(r, m->network, sizeof(m->network),
	    "master network") == -1 ||
	    msg_get_name(r, m->postoffice, sizeof(m->postoffice),
	    "master postoffice") == -1 ||
	    msg_get(r, m->serial_raw, sizeof(m->serial_raw),
	    "serial bytes") == -1 ||
	    msg_get_name(r, m->serial, sizeof(m->serial), "serial") == -1 ||
	    msg_get_u16(r, &m->checksum_stored, "checksum_stored") == -1 ||
	    msg_get_u16(r, &m->checksum_computed,
	    "checksum_computed") == -1 ||
	    msg_get_u32(r, &m->flags, "flags") == -1 ||
	    msg_get_u8(r, &m->nos_type, "nos_type") == -1 ||
	    msg_get_u8(r, &m->db_version, "db_version") == -1 ||
	    msg_get_u8(r, &m->product_version, "product_version") == -1 ||
	    msg_get_u8max(r, &kind, MSG_KIND_MAX + 1, "kind") == -1)
		return -1;
	m->kind = (enum po_kind)kind;
	return 0;
}

static int
msg_decode_routes(struct msg_rd *r, struct crawl_result *res)
{
	struct crawl_route *rt;
	uint32_t n;
	size_t at = r->off, left, i;

	if (msg_get_u32(r, &n, "nroutes") == -1)
		return -1;
	left = r->len - r->off;
	if (n > MSG_MAX_ROUTES || left < MSG_RESULT_TAILLEN ||
	    n > (left - MSG_RESULT_TAILLEN) / MSG_ROUTE_MINLEN) {
		log_errbuf(r->err, r->errlen, "bad nroutes at offset %zu: %u "
		    "routes in %zu bytes", at, n, left);
		return -1;
	}
	if (n == 0)
		return 0;
	res->routes = xcalloc(n, sizeof(*res->routes));
	res->nroutes = n;
	for (i = 0; i < n; i++) {
		rt = &res->routes[i];
		if (msg_get_name(r, rt->network, sizeof(rt->network),
		    "route network") == -1 ||
		    msg_get_name(r, rt->postoffice, sizeof(rt->postoffice),
		    "route postoffice") == -1 ||
		    msg_get_u8(r, &rt->type, "route type") == -1)
			return -1;
	}
	return 0;
}

/*
 * Decode a MSG_RESULT payload into *r (release it with crawl_result_free);
 * returns 0, or -1 with err and *r zeroed.
 */
int
msg_decode_result(const uint8_t *p, size_t len, uint64_t *job_id,
    struct crawl_result *res, char *err, size_t errlen)
{
	struct msg_rd r;
	uint8_t outcome, has_master, checksum_ok;

	memset(res, 0, sizeof(*res));
	*job_id = 0;
	if (msg_check_len(len, err, errlen) == -1)
		return -1;
	msg_rd_init(&r, p, len, err, errlen);
	if (msg_get_u64(&r, job_id, "job id") == -1 ||
	    msg_get_str(&r, &res->location, 0, "location") == -1 ||
	    msg_get_str(&r, &res->host, 0, "host") == -1 ||
	    msg_get_u16(&r, &res->port, "port") == -1 ||
	    msg_get_str(&r, &res->share, 0, "share") == -1 ||
	    msg_get_str(&r, &res->path, 0, "path") == -1 ||
	    msg_get_u8max(&r, &outcome, CRAWL_NOUTCOMES, "outcome") == -1 ||
	    msg_get_str(&r, &res->error, 1, "error") == -1 ||
	    msg_get_u8max(&r, &has_master, 2, "has_master") == -1)
		goto fail;
	res->outcome = (enum crawl_outcome)outcome;
	res->has_master = has_master;
	if (has_master && msg_decode_master(&r, &res->master) == -1)
		goto fail;
	if (msg_get_u8max(&r, &checksum_ok, 2, "checksum_ok") == -1)
		goto fail;
	res->checksum_ok = checksum_ok;
	if (msg_decode_routes(&r, res) == -1 ||
	    msg_get_i64(&r, &res->started_us, "started_us") == -1 ||
	    msg_get_i64(&r, &res->finished_us, "finished_us") == -1 ||
	    msg_end(&r) == -1)
		goto fail;
	return 0;
 fail:
	crawl_result_free(res);
	*job_id = 0;
	return -1;
}

/* Decode a MSG_DONE payload; returns 0, or -1 with err. */
int
msg_decode_done(const uint8_t *p, size_t len, uint64_t *job_id,
    uint32_t *nresults, char *err, size_t errlen)
{
	struct msg_rd r;

	*job_id = 0;
	*nresults = 0;
	if (msg_check_len(len, err, errlen) == -1)
		return -1;
	msg_rd_init(&r, p, len, err, errlen);
	if (msg_get_u64(&r, job_id, "job id") == -1 ||
	    msg_get_u32(&r, nresults, "nresults") == -1 ||
	    msg_end(&r) == -1) {
		*job_id = 0;
		*nresults = 0;
		return -1;
	}
	return 0;
}

/* Release what a job owns (wiping the password first) and zero it. */
void
msg_job_free(struct msg_job *j)
{
	if (j->password != NULL) {
		explicit_bzero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->url);
	free(j->username);
	free(j->domain);
	free(j->min_protocol);
	free(j->max_protocol);
	free(j->smb_conf);
	memset(j, 0, sizeof(*j));
}

/* --- frames ------------------------------------------------------------ */

/* Check a frame header: 0 and the type and length, or -1 with err. */
static int
msg_header(const uint8_t *h, uint32_t *type, uint32_t *plen, char *err,
    size_t errlen)
{
	*type = msg_le32(h);
	*plen = msg_le32(h + 4);
	if (*type != MSG_JOB && *type != MSG_RESULT && *type != MSG_DONE) {
		log_errbuf(err, errlen, "unknown frame type %u", *type);
		return -1;
	}
	if (*plen > MSG_MAX_PAYLOAD) {
		log_errbuf(err, errlen, "frame length %u is over %u", *plen,
		    MSG_MAX_PAYLOAD);
		return -1;
	}
	return 0;
}

/*
 * Look at buf[0..avail): 1 with *type, *payload, *plen, *framelen set when
 * a whole frame is there, 0 when more bytes are needed, -1 with err when
 * the header is bad (unknown type, length over MSG_MAX_PAYLOAD).
 */
int
msg_frame_peek(const uint8_t *buf, size_t avail, uint32_t *type,
    const uint8_t **payload, uint32_t *plen, size_t *framelen, char *err,
    size_t errlen)
{
	uint32_t t, n;

	if (avail < MSG_HDR_LEN)
		return 0;
	if (msg_header(buf, &t, &n, err, errlen) == -1)
		return -1;
	if (avail - MSG_HDR_LEN < n)
		return 0;
	*type = t;
	*plen = n;
	*payload = buf + MSG_HDR_LEN;
	*framelen = MSG_HDR_LEN + (size_t)n;
	return 1;
}

/* Wait until fd is ready for events after EAGAIN; -1 on a poll error. */
static int
msg_wait(int fd, short events)
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
msg_write_all(int fd, const uint8_t *buf, size_t len)
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
				if (msg_wait(fd, POLLOUT) == -1)
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
msg_read_upto(int fd, struct msgbuf *b, size_t want)
{
	ssize_t n;

	msgbuf_reserve(b, want - b->len);
	while (b->len < want) {
		n = read(fd, b->data + b->len, want - b->len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (msg_wait(fd, POLLIN) == -1)
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
msg_read_frame(int fd, struct msgbuf *b, uint32_t *type,
    const uint8_t **payload, uint32_t *plen, char *err, size_t errlen)
{
	uint32_t t, n;
	size_t want;
	int rv;

	*type = 0;
	*payload = NULL;
	*plen = 0;
	msgbuf_reset(b);
	if ((rv = msg_read_upto(fd, b, MSG_HDR_LEN)) != 1) {
		if (rv == -1)
			log_errbuf(err, errlen, "read: %s", strerror(errno));
		else if (b->len == 0)
			return 0;
		else
			log_errbuf(err, errlen, "end of file inside a frame "
			    "header (%zu of %d bytes)", b->len, MSG_HDR_LEN);
		goto fail;
	}
	if (msg_header(b->data, &t, &n, err, errlen) == -1)
		goto fail;
	want = MSG_HDR_LEN + (size_t)n;
	if ((rv = msg_read_upto(fd, b, want)) != 1) {
		if (rv == -1)
			log_errbuf(err, errlen, "read: %s", strerror(errno));
		else
			log_errbuf(err, errlen, "end of file inside a frame "
			    "(%zu of %zu bytes)", b->len, want);
		goto fail;
	}
	*type = t;
	*plen = n;
	*payload = b->data + MSG_HDR_LEN;
	return 1;
 fail:
	msgbuf_reset(b);
	return -1;
}
