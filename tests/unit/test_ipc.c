/*
 * test_msg: unit tests of the parent/worker frames (lib/msg.c): golden
 * bytes, round trips, every truncation, range checks, the blocking I/O
 * helpers over a real socketpair and a deterministic mutation loop that
 * must not crash the decoders (run it under ASan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crawl.h"
#include "ipc.h"
#include "po.h"
#include "xmalloc.h"

#define TM_ERRLEN		256
#define TM_FUZZ_ROUNDS		50000
#define TM_JOB_ID		0x0102030405060708ull
#define TM_STARTED		1700000000123456ll
#define TM_FINISHED		1700000000987654ll

#if defined(__SANITIZE_ADDRESS__)
#define TM_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TM_ASAN	1
#endif
#endif
#ifndef TM_ASAN
#define TM_ASAN	0
#endif

static uint32_t
tm_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void
tm_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v & 0xFF);
	p[1] = (uint8_t)((v >> 8) & 0xFF);
	p[2] = (uint8_t)((v >> 16) & 0xFF);
	p[3] = (uint8_t)(v >> 24);
}

/* Skip the string whose length field is at off; returns the next offset. */
static size_t
tm_skip_str(const uint8_t *p, size_t off)
{
	uint32_t n = tm_le32(p + off);

	return off + 4 + (n == IPC_STR_NULL ? 0 : n);
}

/* A copy of p[0..n) in an exactly n-byte allocation (ASan sees overreads). */
static uint8_t *
tm_dup(const uint8_t *p, size_t n)
{
	uint8_t *q = xmalloc(n);

	if (n > 0)
		memcpy(q, p, n);
	return q;
}

/* Copy s into the name array dst of size bytes (s must fit). */
static void
tm_setname(char *dst, const char *s, size_t size)
{
	size_t n = strlen(s);

	assert_true(n < size);
	memcpy(dst, s, n + 1);
}

/* A job with every field set. */
static void
tm_job_full(struct ipc_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = TM_JOB_ID;
	location_set(&j->loc, "fs1", 1445, "MAIL", "PO");
	j->username = xstrdup("crawler");
	j->password = xstrdup("s3cr\xc3\xa9t pass");
	j->domain = xstrdup("CORP");
	j->min_protocol = xstrdup("SMB2");
	j->max_protocol = xstrdup("SMB3");
	j->timeout_ms = 30000;
	j->connect_timeout_ms = 5000;
	j->smb_conf = xstrdup("/etc/maildat/smb.conf");
	j->kerberos = IPC_KRB_YES;
	j->ccache = xstrdup("FILE:/tmp/maildatd.1.abcdef/krb5cc-corp");
	j->krb_error = xstrdup("Kerberos: no ticket");
}

/* A guest discover job: every optional string NULL, odd timeouts. */
static void
tm_job_guest(struct ipc_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = 7;
	location_set(&j->loc, "fs2", 0, "", "");
	j->loc.discover = 1;
	j->timeout_ms = -1;
	j->connect_timeout_ms = INT32_MIN;
}

/* A postoffice found: full identity, three routes, no error. */
static void
tm_result_full(struct result *r)
{
	static const uint8_t raw[PO_SERIAL_LEN] = {
		0x64, 0x83, 0x82, 0x83, 0x72, 0x1d, 0x96, 0x90, 0x00, 0xff
	};

	memset(r, 0, sizeof(*r));
	location_set(&r->loc, "fs1", 1445, "MAIL", "PO");
	r->outcome = OUTCOME_OK;
	r->error = NULL;
	r->has_master = 1;
	tm_setname(r->master.network, "CORP", sizeof(r->master.network));
	tm_setname(r->master.postoffice, "H\xc3\x89Q", sizeof(r->master.postoffice));
	memcpy(r->master.serial_raw, raw, sizeof(raw));
	tm_setname(r->master.serial, "22-28798", sizeof(r->master.serial));
	r->master.checksum_stored = 0x1234;
	r->master.checksum_computed = 0xFEDC;
	r->master.flags = PO_WGPO_FLAGS;
	r->master.nos_type = 2;
	r->master.db_version = 5;
	r->master.product_version = 2;
	r->master.kind = PO_KIND_CONNECTOR;
	r->checksum_ok = 1;
	r->nroutes = 3;
	r->routes = xcalloc(3, sizeof(*r->routes));
	tm_setname(r->routes[0].network, "CORP", PO_NAME_MAX);
	tm_setname(r->routes[0].postoffice, "BRANCH", PO_NAME_MAX);
	r->routes[0].type = 0;
	tm_setname(r->routes[1].network, "SMTPGW", PO_NAME_MAX);
	r->routes[1].type = 0x10;
	/* Names at the longest allowed: 30 bytes. */
	memset(r->routes[2].network, 'N', PO_NAME_MAX - 1);
	memset(r->routes[2].postoffice, 'P', PO_NAME_MAX - 1);
	r->routes[2].type = 0xFF;
	r->started_us = TM_STARTED;
	r->finished_us = TM_FINISHED;
}

/* A failed crawl: no master, no routes, an error message. */
static void
tm_result_failed(struct result *r)
{
	memset(r, 0, sizeof(*r));
	location_set(&r->loc, "fs9", 0, "GONE", "");
	r->outcome = OUTCOME_AUTH_FAILED;
	r->error = xstrdup("logon failure");
	r->has_master = 0;
	r->checksum_ok = 0;
	r->started_us = -5;
	r->finished_us = INT64_MIN;
}

/* Encode a frame with enc and return a copy of its payload in *p, *plen. */
static void
tm_payload(struct ipcbuf *b, uint32_t want_type, uint8_t **p, size_t *plen)
{
	assert_true(b->len >= IPC_HDR_LEN);
	assert_int_equal(tm_le32(b->data), want_type);
	*plen = tm_le32(b->data + 4);
	assert_int_equal(*plen + IPC_HDR_LEN, b->len);
	*p = tm_dup(b->data + IPC_HDR_LEN, *plen);
}

static void
tm_job_payload(const struct ipc_job *j, uint8_t **p, size_t *plen)
{
	struct ipcbuf b;

	ipcbuf_init(&b);
	assert_int_equal(ipc_frame_job(&b, j), 0);
	tm_payload(&b, IPC_JOB, p, plen);
	ipcbuf_free(&b);
}

static void
tm_result_payload(uint64_t id, const struct result *r, uint8_t **p,
    size_t *plen)
{
	struct ipcbuf b;

	ipcbuf_init(&b);
	assert_int_equal(ipc_frame_result(&b, id, r), 0);
	tm_payload(&b, IPC_RESULT, p, plen);
	ipcbuf_free(&b);
}

/* Offset of what follows the location that starts a payload at 8. */
static size_t
tm_after_location(const uint8_t *p)
{
	size_t off = 8;

	off = tm_skip_str(p, off);	/* host */
	off += 2;			/* port */
	off = tm_skip_str(p, off);	/* share */
	off = tm_skip_str(p, off);	/* path */
	return off + 1;			/* discover */
}

/* Offset of the outcome byte in a result payload. */
static size_t
tm_outcome_off(const uint8_t *p)
{
	return tm_after_location(p);
}

/* --- buffers and golden bytes ------------------------------------------ */

static void
test_msgbuf_reset_wipes_and_keeps_memory(void **state)
{
	struct ipcbuf b;
	uint8_t *data;
	size_t i, len, cap;

	(void)state;
	ipcbuf_init(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	ipc_frame_done(&b, 1, 2);
	ipc_frame_done(&b, 3, 4);
	assert_int_equal(b.len, 2 * (IPC_HDR_LEN + 12));
	data = b.data;
	len = b.len;
	cap = b.cap;
	assert_true(cap >= len);
	ipcbuf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	for (i = 0; i < len; i++)
		assert_int_equal(b.data[i], 0);
	ipcbuf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	ipcbuf_free(&b);	/* freeing twice is harmless */
}

static void
test_done_golden_bytes(void **state)
{
	static const uint8_t want[] = {
		0x03, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x2a, 0x00, 0x00, 0x80
	};
	struct ipcbuf b;
	uint64_t id;
	uint32_t n;
	char err[TM_ERRLEN];

	(void)state;
	ipcbuf_init(&b);
	ipc_frame_done(&b, TM_JOB_ID, 0x8000002Au);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	assert_int_equal(ipc_decode_done(b.data + IPC_HDR_LEN, 12, &id, &n,
	    err, sizeof(err)), 0);
	assert_true(id == TM_JOB_ID);
	assert_int_equal(n, 0x8000002Au);
	/* Short, long and empty payloads are refused and zero the outputs. */
	assert_int_equal(ipc_decode_done(b.data + IPC_HDR_LEN, 11, &id, &n,
	    err, sizeof(err)), -1);
	assert_true(id == 0);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "nresults"));
	assert_int_equal(ipc_decode_done(b.data + IPC_HDR_LEN, 0, &id, &n,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "job id"));
	ipcbuf_free(&b);
}

static void
test_job_golden_bytes(void **state)
{
	static const uint8_t want[] = {
		0x01, 0x00, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00,	/* hdr */
		0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* id */
		0x03, 0x00, 0x00, 0x00, 'f', 's', '2',		/* host */
		0x00, 0x00,					/* port */
		0x00, 0x00, 0x00, 0x00,				/* share */
		0x00, 0x00, 0x00, 0x00,				/* path */
		0x01,						/* discover */
		0xff, 0xff, 0xff, 0xff,				/* username */
		0xff, 0xff, 0xff, 0xff,				/* password */
		0xff, 0xff, 0xff, 0xff,				/* domain */
		0xff, 0xff, 0xff, 0xff,				/* min */
		0xff, 0xff, 0xff, 0xff,				/* max */
		0xff, 0xff, 0xff, 0xff,				/* timeout */
		0x00, 0x00, 0x00, 0x80,				/* connect */
		0x00, 0x00, 0x00, 0x00,				/* smb_conf "" */
		0x02,						/* kerberos */
		0x01, 0x00, 0x00, 0x00, 'C',			/* ccache */
		0xff, 0xff, 0xff, 0xff,				/* krb_error */
	};
	struct ipc_job j;
	struct ipcbuf b;
	char err[TM_ERRLEN] = "";

	(void)state;
	tm_job_guest(&j);
	j.smb_conf = xstrdup("");
	j.kerberos = IPC_KRB_REQUIRED;
	j.ccache = xstrdup("C");
	ipcbuf_init(&b);
	assert_int_equal(ipc_frame_job(&b, &j), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	ipc_job_free(&j);
	/* A Kerberos mode past IPC_KRB_REQUIRED is refused. */
	b.data[sizeof(want) - 10] = IPC_KRB_REQUIRED + 1;
	assert_int_equal(ipc_decode_job(b.data + IPC_HDR_LEN,
	    sizeof(want) - IPC_HDR_LEN, &j, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad kerberos"));
	ipcbuf_free(&b);
}

/* --- round trips ------------------------------------------------------- */

static void
test_job_round_trip_with_credentials(void **state)
{
	struct ipc_job j, d;
	uint8_t *p;
	size_t plen;
	char err[TM_ERRLEN] = "";

	(void)state;
	tm_job_full(&j);
	tm_job_payload(&j, &p, &plen);
	ipc_job_free(&j);
	assert_null(j.password);
	assert_null(j.loc.host);

	assert_int_equal(ipc_decode_job(p, plen, &d, err, sizeof(err)), 0);
	assert_true(d.id == TM_JOB_ID);
	assert_string_equal(d.loc.host, "fs1");
	assert_int_equal(d.loc.port, 1445);
	assert_string_equal(d.loc.share, "MAIL");
	assert_string_equal(d.loc.path, "PO");
	assert_int_equal(d.loc.discover, 0);
	assert_string_equal(d.username, "crawler");
	assert_string_equal(d.password, "s3cr\xc3\xa9t pass");
	assert_string_equal(d.domain, "CORP");
	assert_string_equal(d.min_protocol, "SMB2");
	assert_string_equal(d.max_protocol, "SMB3");
	assert_int_equal(d.timeout_ms, 30000);
	assert_int_equal(d.connect_timeout_ms, 5000);
	assert_string_equal(d.smb_conf, "/etc/maildat/smb.conf");
	assert_int_equal(d.kerberos, IPC_KRB_YES);
	assert_string_equal(d.ccache,
	    "FILE:/tmp/maildatd.1.abcdef/krb5cc-corp");
	assert_string_equal(d.krb_error, "Kerberos: no ticket");
	ipc_job_free(&d);
	assert_null(d.loc.host);
	assert_null(d.password);
	assert_int_equal(d.timeout_ms, 0);
	free(p);
}

static void
test_job_round_trip_guest_null_strings(void **state)
{
	struct ipc_job j, d;
	uint8_t *p;
	size_t plen;
	char err[TM_ERRLEN] = "";

	(void)state;
	tm_job_guest(&j);
	tm_job_payload(&j, &p, &plen);
	ipc_job_free(&j);
	/*
	 * 8 id + location (4+3 host, 2 port, 4 share, 4 path, 1 discover) +
	 * 5 * 4 NULL strings + 2 * 4 + 4 NULL + kerberos 1 + 2 * 4 NULL.
	 */
	assert_int_equal(plen, 8 + 18 + 20 + 8 + 4 + 9);

	assert_int_equal(ipc_decode_job(p, plen, &d, err, sizeof(err)), 0);
	assert_true(d.id == 7);
	assert_string_equal(d.loc.host, "fs2");
	assert_int_equal(d.loc.port, 0);
	assert_string_equal(d.loc.share, "");
	assert_string_equal(d.loc.path, "");
	assert_int_equal(d.loc.discover, 1);
	assert_null(d.username);
	assert_null(d.password);
	assert_null(d.domain);
	assert_null(d.min_protocol);
	assert_null(d.max_protocol);
	assert_int_equal(d.timeout_ms, -1);
	assert_int_equal(d.connect_timeout_ms, INT32_MIN);
	assert_null(d.smb_conf);
	assert_int_equal(d.kerberos, IPC_KRB_NO);
	assert_null(d.ccache);
	assert_null(d.krb_error);
	ipc_job_free(&d);
	free(p);
}

static void
test_job_encoder_refusals(void **state)
{
	struct ipc_job j, d;
	struct ipcbuf b;
	uint8_t *p;
	size_t plen, fixed, keep;
	char err[TM_ERRLEN] = "";

	(void)state;
	ipcbuf_init(&b);
	ipc_frame_done(&b, 1, 1);
	keep = b.len;

	/* No host: refused, the buffer is as it was. */
	tm_job_guest(&j);
	free(j.loc.host);
	j.loc.host = NULL;
	assert_int_equal(ipc_frame_job(&b, &j), -1);
	assert_int_equal(b.len, keep);

	/* A Kerberos mode the decoder would refuse is not encoded. */
	j.loc.host = xstrdup("h");
	j.kerberos = IPC_KRB_REQUIRED + 1;
	assert_int_equal(ipc_frame_job(&b, &j), -1);
	assert_int_equal(b.len, keep);
	j.kerberos = IPC_KRB_NO;

	/* discover is sent as 0 or 1 whatever the int held. */
	j.loc.discover = 42;
	assert_int_equal(ipc_frame_job(&b, &j), 0);
	assert_int_equal(b.data[keep + IPC_HDR_LEN + 8 + 5 + 2 + 4 + 4], 1);
	b.len = keep;

	/* A payload of exactly IPC_MAX_PAYLOAD fits; one byte more does not. */
	fixed = 8 + (4 + 1 + 2 + 4 + 4 + 1) + 5 * 4 + 2 * 4 + 4 + 9;
	j.smb_conf = xmalloc(IPC_MAX_PAYLOAD - fixed + 2);
	memset(j.smb_conf, 'x', IPC_MAX_PAYLOAD - fixed + 1);
	j.smb_conf[IPC_MAX_PAYLOAD - fixed + 1] = '\0';
	assert_int_equal(ipc_frame_job(&b, &j), -1);
	assert_int_equal(b.len, keep);
	assert_int_equal(tm_le32(b.data), IPC_DONE);
	j.smb_conf[IPC_MAX_PAYLOAD - fixed] = '\0';
	assert_int_equal(ipc_frame_job(&b, &j), 0);
	assert_int_equal(b.len, keep + IPC_HDR_LEN + IPC_MAX_PAYLOAD);
	assert_int_equal(tm_le32(b.data + keep + 4), IPC_MAX_PAYLOAD);

	plen = IPC_MAX_PAYLOAD;
	p = b.data + keep + IPC_HDR_LEN;
	assert_int_equal(ipc_decode_job(p, plen, &d, err, sizeof(err)), 0);
	assert_int_equal(strlen(d.smb_conf), IPC_MAX_PAYLOAD - fixed);
	assert_int_equal(d.loc.discover, 1);
	ipc_job_free(&d);
	ipc_job_free(&j);
	ipcbuf_free(&b);
}

static void
test_result_round_trip_full(void **state)
{
	struct result r, d;
	uint64_t id;
	uint8_t *p;
	size_t plen;
	char err[TM_ERRLEN] = "";
	char n30[PO_NAME_MAX], p30[PO_NAME_MAX];

	(void)state;
	tm_result_full(&r);
	tm_result_payload(TM_JOB_ID, &r, &p, &plen);
	result_free(&r);
	memset(n30, 'N', PO_NAME_MAX - 1);
	n30[PO_NAME_MAX - 1] = '\0';
	memset(p30, 'P', PO_NAME_MAX - 1);
	p30[PO_NAME_MAX - 1] = '\0';

	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), 0);
	assert_true(id == TM_JOB_ID);
	assert_string_equal(d.unc, "\\\\fs1@1445\\MAIL\\PO");
	assert_string_equal(d.key, "\\\\FS1@1445\\MAIL\\PO");
	assert_string_equal(d.loc.host, "fs1");
	assert_int_equal(d.loc.port, 1445);
	assert_string_equal(d.loc.share, "MAIL");
	assert_string_equal(d.loc.path, "PO");
	assert_int_equal(d.loc.discover, 0);
	assert_int_equal(d.outcome, OUTCOME_OK);
	assert_null(d.error);
	assert_int_equal(d.has_master, 1);
	assert_string_equal(d.master.network, "CORP");
	assert_string_equal(d.master.postoffice, "H\xc3\x89Q");
	assert_int_equal(d.master.serial_raw[0], 0x64);
	assert_int_equal(d.master.serial_raw[7], 0x90);
	assert_int_equal(d.master.serial_raw[8], 0x00);
	assert_int_equal(d.master.serial_raw[9], 0xff);
	assert_string_equal(d.master.serial, "22-28798");
	assert_int_equal(d.master.checksum_stored, 0x1234);
	assert_int_equal(d.master.checksum_computed, 0xFEDC);
	assert_int_equal(d.master.flags, PO_WGPO_FLAGS);
	assert_int_equal(d.master.nos_type, 2);
	assert_int_equal(d.master.db_version, 5);
	assert_int_equal(d.master.product_version, 2);
	assert_int_equal(d.master.kind, PO_KIND_CONNECTOR);
	assert_int_equal(d.checksum_ok, 1);
	assert_int_equal(d.nroutes, 3);
	assert_non_null(d.routes);
	assert_string_equal(d.routes[0].network, "CORP");
	assert_string_equal(d.routes[0].postoffice, "BRANCH");
	assert_int_equal(d.routes[0].type, 0);
	assert_string_equal(d.routes[1].network, "SMTPGW");
	assert_string_equal(d.routes[1].postoffice, "");
	assert_int_equal(d.routes[1].type, 0x10);
	assert_string_equal(d.routes[2].network, n30);
	assert_string_equal(d.routes[2].postoffice, p30);
	assert_int_equal(d.routes[2].type, 0xFF);
	assert_true(d.started_us == TM_STARTED);
	assert_true(d.finished_us == TM_FINISHED);
	result_free(&d);
	free(p);
}

static void
test_result_round_trip_failed_no_master(void **state)
{
	struct result r, d;
	uint64_t id;
	uint8_t *p;
	size_t plen;
	char err[TM_ERRLEN] = "";

	(void)state;
	tm_result_failed(&r);
	/* The master is not sent without has_master: garbage here is ignored. */
	memset(&r.master, 0xAA, sizeof(r.master));
	r.checksum_ok = 5;	/* sent as 1 */
	tm_result_payload(0, &r, &p, &plen);
	result_free(&r);
	/* 8 + (4+3) + 2 + (4+4) + 4 + 1 + 1 + (4+13) + 1 + 1 + 4 + 16 */
	assert_int_equal(plen, 70);

	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), 0);
	assert_true(id == 0);
	assert_string_equal(d.unc, "\\\\fs9\\GONE");
	assert_string_equal(d.loc.host, "fs9");
	assert_int_equal(d.loc.port, 0);
	assert_string_equal(d.loc.share, "GONE");
	assert_string_equal(d.loc.path, "");
	assert_int_equal(d.outcome, OUTCOME_AUTH_FAILED);
	assert_string_equal(d.error, "logon failure");
	assert_int_equal(d.has_master, 0);
	assert_string_equal(d.master.network, "");
	assert_int_equal(d.master.flags, 0);
	assert_int_equal(d.checksum_ok, 1);
	assert_int_equal(d.nroutes, 0);
	assert_null(d.routes);
	assert_true(d.started_us == -5);
	assert_true(d.finished_us == INT64_MIN);
	result_free(&d);
	free(p);
}

static void
test_result_encoder_refusals(void **state)
{
	struct result r;
	struct ipcbuf b;
	char *s;

	(void)state;
	ipcbuf_init(&b);
	ipc_frame_done(&b, 9, 9);
	assert_int_equal(b.len, 20);

	tm_result_full(&r);
	r.outcome = (enum outcome)OUTCOME_COUNT;
	assert_int_equal(ipc_frame_result(&b, 1, &r), -1);
	assert_int_equal(b.len, 20);
	r.outcome = OUTCOME_ERROR;
	assert_int_equal(ipc_frame_result(&b, 1, &r), 0);
	b.len = 20;

	r.master.kind = (enum po_kind)4;
	assert_int_equal(ipc_frame_result(&b, 1, &r), -1);
	r.master.kind = PO_KIND_UNKNOWN;

	/* A name that fills its array without a NUL. */
	memset(r.master.network, 'A', sizeof(r.master.network));
	assert_int_equal(ipc_frame_result(&b, 1, &r), -1);
	tm_setname(r.master.network, "A", sizeof(r.master.network));
	memset(r.routes[1].postoffice, 'B', PO_NAME_MAX);
	assert_int_equal(ipc_frame_result(&b, 1, &r), -1);
	r.routes[1].postoffice[0] = '\0';

	s = r.loc.host;
	r.loc.host = NULL;
	assert_int_equal(ipc_frame_result(&b, 1, &r), -1);
	r.loc.host = s;
	assert_int_equal(b.len, 20);
	assert_int_equal(tm_le32(b.data), IPC_DONE);
	assert_int_equal(ipc_frame_result(&b, 1, &r), 0);
	assert_int_equal(tm_le32(b.data + 20), IPC_RESULT);
	result_free(&r);
	ipcbuf_free(&b);
}

/* --- frame_peek -------------------------------------------------------- */

static void
test_peek_every_prefix_then_whole(void **state)
{
	struct result r;
	struct ipcbuf b;
	const uint8_t *payload;
	uint8_t *q;
	uint32_t type, plen;
	size_t framelen, n;
	char err[TM_ERRLEN];

	(void)state;
	tm_result_full(&r);
	ipcbuf_init(&b);
	assert_int_equal(ipc_frame_result(&b, 5, &r), 0);
	result_free(&r);
	for (n = 0; n < b.len; n++) {
		q = tm_dup(b.data, n);
		type = 77;
		assert_int_equal(ipc_frame_peek(q, n, &type, &payload, &plen,
		    &framelen, err, sizeof(err)), 0);
		assert_int_equal(type, 77);
		free(q);
	}
	q = tm_dup(b.data, b.len);
	assert_int_equal(ipc_frame_peek(q, b.len, &type, &payload, &plen,
	    &framelen, err, sizeof(err)), 1);
	assert_int_equal(type, IPC_RESULT);
	assert_int_equal(plen, b.len - IPC_HDR_LEN);
	assert_int_equal(framelen, b.len);
	assert_ptr_equal(payload, q + IPC_HDR_LEN);
	free(q);
	ipcbuf_free(&b);
}

static void
test_peek_frames_back_to_back(void **state)
{
	struct ipc_job j, dj;
	struct result r, dr;
	struct ipcbuf b;
	const uint8_t *payload, *at;
	uint32_t type, plen, nres;
	uint64_t id;
	size_t framelen, left;
	char err[TM_ERRLEN];

	(void)state;
	ipcbuf_init(&b);
	tm_job_full(&j);
	tm_result_failed(&r);
	assert_int_equal(ipc_frame_job(&b, &j), 0);
	assert_int_equal(ipc_frame_result(&b, j.id, &r), 0);
	ipc_frame_done(&b, j.id, 1);
	ipc_job_free(&j);
	result_free(&r);

	at = b.data;
	left = b.len;
	assert_int_equal(ipc_frame_peek(at, left, &type, &payload, &plen,
	    &framelen, err, sizeof(err)), 1);
	assert_int_equal(type, IPC_JOB);
	assert_int_equal(ipc_decode_job(payload, plen, &dj, err,
	    sizeof(err)), 0);
	assert_string_equal(dj.password, "s3cr\xc3\xa9t pass");
	ipc_job_free(&dj);
	at += framelen;
	left -= framelen;

	assert_int_equal(ipc_frame_peek(at, left, &type, &payload, &plen,
	    &framelen, err, sizeof(err)), 1);
	assert_int_equal(type, IPC_RESULT);
	assert_int_equal(ipc_decode_result(payload, plen, &id, &dr, err,
	    sizeof(err)), 0);
	assert_true(id == TM_JOB_ID);
	assert_string_equal(dr.error, "logon failure");
	result_free(&dr);
	at += framelen;
	left -= framelen;

	/* Only part of the last frame: more is needed. */
	assert_int_equal(ipc_frame_peek(at, left - 1, &type, &payload, &plen,
	    &framelen, err, sizeof(err)), 0);
	assert_int_equal(ipc_frame_peek(at, left, &type, &payload, &plen,
	    &framelen, err, sizeof(err)), 1);
	assert_int_equal(type, IPC_DONE);
	assert_int_equal(plen, 12);
	assert_int_equal(framelen, left);
	assert_int_equal(ipc_decode_done(payload, plen, &id, &nres, err,
	    sizeof(err)), 0);
	assert_true(id == TM_JOB_ID);
	assert_int_equal(nres, 1);
	ipcbuf_free(&b);
}

static void
test_peek_bad_headers(void **state)
{
	static const uint32_t badtypes[] = { 0, 4, 0x100, 0xFFFFFFFFu };
	const uint8_t *payload = NULL;
	uint8_t h[IPC_HDR_LEN + 4];
	uint32_t type, plen;
	size_t framelen, i;
	char err[TM_ERRLEN];

	(void)state;
	for (i = 0; i < sizeof(badtypes) / sizeof(badtypes[0]); i++) {
		tm_put32(h, badtypes[i]);
		tm_put32(h + 4, 0);
		err[0] = '\0';
		/* A bad header is reported as soon as the header is there. */
		assert_int_equal(ipc_frame_peek(h, IPC_HDR_LEN, &type,
		    &payload, &plen, &framelen, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "unknown frame type"));
		assert_int_equal(ipc_frame_peek(h, IPC_HDR_LEN - 1, &type,
		    &payload, &plen, &framelen, err, sizeof(err)), 0);
	}

	tm_put32(h, IPC_RESULT);
	tm_put32(h + 4, IPC_MAX_PAYLOAD + 1);
	err[0] = '\0';
	assert_int_equal(ipc_frame_peek(h, IPC_HDR_LEN, &type, &payload,
	    &plen, &framelen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "16777217"));
	tm_put32(h + 4, 0xFFFFFFFFu);
	assert_int_equal(ipc_frame_peek(h, sizeof(h), &type, &payload,
	    &plen, &framelen, err, sizeof(err)), -1);
	/* The largest allowed length is only waiting for its bytes. */
	tm_put32(h + 4, IPC_MAX_PAYLOAD);
	assert_int_equal(ipc_frame_peek(h, sizeof(h), &type, &payload,
	    &plen, &framelen, err, sizeof(err)), 0);
	/* An empty payload is a whole frame of the header alone. */
	tm_put32(h, IPC_DONE);
	tm_put32(h + 4, 0);
	assert_int_equal(ipc_frame_peek(h, IPC_HDR_LEN, &type, &payload,
	    &plen, &framelen, NULL, 0), 1);
	assert_int_equal(type, IPC_DONE);
	assert_int_equal(plen, 0);
	assert_int_equal(framelen, IPC_HDR_LEN);
	assert_ptr_equal(payload, h + IPC_HDR_LEN);
}

/* --- decoder refusals -------------------------------------------------- */

static void
test_every_truncation_fails(void **state)
{
	struct result r, d;
	struct ipc_job j, dj;
	uint8_t *p[3], *q;
	size_t plen[3], i, n;
	uint64_t id;
	char err[TM_ERRLEN];

	(void)state;
	tm_result_full(&r);
	tm_result_payload(TM_JOB_ID, &r, &p[0], &plen[0]);
	result_free(&r);
	tm_result_failed(&r);
	tm_result_payload(TM_JOB_ID, &r, &p[1], &plen[1]);
	result_free(&r);
	tm_job_full(&j);
	tm_job_payload(&j, &p[2], &plen[2]);
	ipc_job_free(&j);

	for (i = 0; i < 2; i++) {
		for (n = 0; n < plen[i]; n++) {
			q = tm_dup(p[i], n);
			err[0] = '\0';
			id = 99;
			assert_int_equal(ipc_decode_result(q, n, &id, &d, err,
			    sizeof(err)), -1);
			assert_true(err[0] != '\0');
			assert_true(id == 0);
			assert_null(d.unc);
			assert_null(d.loc.host);
			assert_null(d.error);
			assert_null(d.routes);
			assert_int_equal(d.nroutes, 0);
			assert_int_equal(d.has_master, 0);
			free(q);
		}
	}
	for (n = 0; n < plen[2]; n++) {
		q = tm_dup(p[2], n);
		err[0] = '\0';
		assert_int_equal(ipc_decode_job(q, n, &dj, err, sizeof(err)),
		    -1);
		assert_true(err[0] != '\0');
		assert_null(dj.loc.host);
		assert_null(dj.password);
		assert_true(dj.id == 0);
		free(q);
	}
	for (i = 0; i < 3; i++)
		free(p[i]);
}

static void
test_trailing_bytes_refused(void **state)
{
	struct result r, d;
	struct ipc_job j, dj;
	uint8_t *p, *q;
	size_t plen;
	uint64_t id;
	uint32_t n;
	uint8_t done[13] = { 0 };
	char err[TM_ERRLEN];

	(void)state;
	tm_result_full(&r);
	tm_result_payload(1, &r, &p, &plen);
	result_free(&r);
	q = xmalloc(plen + 1);
	memcpy(q, p, plen);
	q[plen] = 0;
	assert_int_equal(ipc_decode_result(q, plen + 1, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "1 trailing bytes"));
	assert_null(d.loc.host);
	free(q);
	free(p);

	tm_job_full(&j);
	tm_job_payload(&j, &p, &plen);
	ipc_job_free(&j);
	q = xmalloc(plen + 3);
	memcpy(q, p, plen);
	memset(q + plen, 0xFF, 3);
	assert_int_equal(ipc_decode_job(q, plen + 3, &dj, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "3 trailing bytes"));
	assert_null(dj.password);
	free(q);
	free(p);

	assert_int_equal(ipc_decode_done(done, sizeof(done), &id, &n, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "trailing"));
}

static void
test_outcome_and_flags_ranges(void **state)
{
	struct result r, d;
	uint8_t *p;
	size_t plen, off, moff;
	uint64_t id;
	char err[TM_ERRLEN];

	(void)state;
	tm_result_full(&r);
	tm_result_payload(1, &r, &p, &plen);
	result_free(&r);
	off = tm_outcome_off(p);
	assert_int_equal(p[off], OUTCOME_OK);

	p[off] = 99;
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "outcome"));
	assert_non_null(strstr(err, "99"));
	assert_null(d.loc.host);
	p[off] = OUTCOME_COUNT;
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	p[off] = OUTCOME_ERROR;
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), 0);
	assert_int_equal(d.outcome, OUTCOME_ERROR);
	result_free(&d);
	p[off] = OUTCOME_OK;

	/* error is NULL (4 bytes), then has_master. */
	off += 1 + 4;
	assert_int_equal(p[off], 1);
	p[off] = 2;
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "has_master"));
	p[off] = 1;

	/* kind is the last byte of the master; checksum_ok follows it. */
	moff = off + 1;
	moff = tm_skip_str(p, moff);			/* network */
	moff = tm_skip_str(p, moff);			/* postoffice */
	moff += PO_SERIAL_LEN;
	moff = tm_skip_str(p, moff);			/* serial */
	moff += 2 + 2 + 4 + 1 + 1 + 1;
	assert_int_equal(p[moff], PO_KIND_CONNECTOR);
	p[moff] = 4;
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "kind"));
	p[moff] = PO_KIND_CONNECTOR;
	assert_int_equal(p[moff + 1], 1);
	p[moff + 1] = 0xFF;
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "checksum_ok"));
	p[moff + 1] = 1;
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), 0);
	result_free(&d);
	free(p);
}

static void
test_bad_strings_refused(void **state)
{
	struct result r, d;
	struct ipc_job j, dj;
	uint8_t *p;
	size_t plen, off;
	uint64_t id;
	char err[TM_ERRLEN];

	(void)state;
	tm_result_full(&r);
	tm_result_payload(1, &r, &p, &plen);
	result_free(&r);

	/* A NUL inside the host. */
	assert_int_equal(p[12], 'f');
	p[13] = '\0';
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "host"));
	assert_non_null(strstr(err, "NUL"));
	p[13] = 's';

	/* NULL where a string is required. */
	tm_put32(p + 8, IPC_STR_NULL);
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "host at offset 8 is NULL"));

	/* A length one past the end of the payload. */
	tm_put32(p + 8, (uint32_t)(plen - 12 + 1));
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated host"));

	/* A master name one byte longer than its array holds. */
	tm_put32(p + 8, 3);
	off = tm_outcome_off(p) + 1 + 4 + 1;
	assert_int_equal(tm_le32(p + off), 4);	/* "CORP" */
	tm_put32(p + off, PO_NAME_MAX);
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "master network"));
	assert_non_null(strstr(err, "too long"));
	tm_put32(p + off, 4);
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), 0);
	assert_string_equal(d.master.network, "CORP");
	result_free(&d);
	free(p);

	/* A NUL in the password of a job. */
	tm_job_full(&j);
	tm_job_payload(&j, &p, &plen);
	ipc_job_free(&j);
	off = tm_skip_str(p, tm_after_location(p));	/* username */
	assert_int_equal(tm_le32(p + off), 12);		/* password */
	p[off + 4 + 3] = '\0';
	assert_int_equal(ipc_decode_job(p, plen, &dj, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "password"));
	assert_null(dj.username);
	assert_null(dj.password);
	free(p);

	/* A job without a host. */
	tm_job_guest(&j);
	tm_job_payload(&j, &p, &plen);
	ipc_job_free(&j);
	tm_put32(p + 8, IPC_STR_NULL);
	assert_int_equal(ipc_decode_job(p, plen, &dj, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "host at offset 8 is NULL"));
	assert_null(dj.loc.host);
	free(p);
}

/* Decode with a huge string length inside an address space limit. */
static void
tm_huge_length_child(const uint8_t *p, size_t plen, int is_job)
{
	struct result d;
	struct ipc_job dj;
	struct rlimit rl;
	uint64_t id;
	char err[TM_ERRLEN];
	int rv;

	/*
	 * 512 MiB more than we use: a 4 GiB allocation would be fatal.  ASan
	 * reserves terabytes of shadow, so under it only the error is checked.
	 */
	if (!TM_ASAN) {
		FILE *f = fopen("/proc/self/statm", "r");
		unsigned long pages = 0;

		if (f == NULL || fscanf(f, "%lu", &pages) != 1)
			_exit(3);
		fclose(f);
		rl.rlim_cur = rl.rlim_max = pages * (rlim_t)getpagesize() +
		    512ul * 1024 * 1024;
		if (setrlimit(RLIMIT_AS, &rl) == -1)
			_exit(3);
	}
	if (is_job)
		rv = ipc_decode_job(p, plen, &dj, err, sizeof(err));
	else
		rv = ipc_decode_result(p, plen, &id, &d, err, sizeof(err));
	if (rv != -1 || strstr(err, "truncated") == NULL)
		_exit(2);
	_exit(0);
}

static void
test_huge_string_length_refused_without_allocation(void **state)
{
	struct result r;
	struct ipc_job j;
	uint8_t *p;
	size_t plen, off;
	pid_t pid;
	int st, i;

	(void)state;
	for (i = 0; i < 3; i++) {
		if (i < 2) {
			tm_result_failed(&r);
			tm_result_payload(1, &r, &p, &plen);
			result_free(&r);
			off = i == 0 ? 8 : tm_outcome_off(p) + 1; /* error */
		} else {
			tm_job_full(&j);
			tm_job_payload(&j, &p, &plen);
			ipc_job_free(&j);
			/* the password, after the username */
			off = tm_skip_str(p, tm_after_location(p));
		}
		tm_put32(p + off, 0xFFFFFFF0u);
		pid = fork();
		assert_true(pid != -1);
		if (pid == 0)
			tm_huge_length_child(p, plen, i == 2);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
		free(p);
	}
}

/* Build a result payload with n empty routes, route i of type i & 0xFF. */
static uint8_t *
tm_routes_payload(uint32_t n, uint32_t declared, size_t *plen)
{
	struct result r;
	uint8_t *base, *p;
	size_t blen, head, i, o;

	tm_result_failed(&r);
	tm_result_payload(1, &r, &base, &blen);
	result_free(&r);
	head = blen - 16 - 4;		/* up to nroutes */
	*plen = head + 4 + (size_t)n * 9 + 16;
	p = xmalloc(*plen);
	memcpy(p, base, head);
	tm_put32(p + head, declared);
	o = head + 4;
	for (i = 0; i < n; i++) {
		memset(p + o, 0, 8);
		p[o + 8] = (uint8_t)i;
		o += 9;
	}
	memcpy(p + o, base + blen - 16, 16);
	free(base);
	return p;
}

static void
test_nroutes_bounds(void **state)
{
	struct result d;
	uint8_t *p;
	size_t plen;
	uint64_t id;
	char err[TM_ERRLEN];

	(void)state;
	/* Huge counts against a payload with no routes. */
	p = tm_routes_payload(0, 0xFFFFFFFFu, &plen);
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "nroutes"));
	assert_null(d.routes);
	free(p);
	p = tm_routes_payload(0, 1, &plen);
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "bad nroutes"));
	free(p);

	/* Two routes' bytes but three declared: refused by the byte bound. */
	p = tm_routes_payload(2, 3, &plen);
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "bad nroutes"));
	free(p);
	p = tm_routes_payload(3, 3, &plen);
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), 0);
	assert_int_equal(d.nroutes, 3);
	assert_int_equal(d.routes[2].type, 2);
	result_free(&d);
	free(p);

	/* The count limit itself, with all the bytes present. */
	p = tm_routes_payload(IPC_MAX_ROUTES + 1, IPC_MAX_ROUTES + 1, &plen);
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "1000001 routes"));
	assert_null(d.routes);
	free(p);
	p = tm_routes_payload(IPC_MAX_ROUTES, IPC_MAX_ROUTES, &plen);
	assert_int_equal(ipc_decode_result(p, plen, &id, &d, err,
	    sizeof(err)), 0);
	assert_int_equal(d.nroutes, IPC_MAX_ROUTES);
	assert_int_equal(d.routes[IPC_MAX_ROUTES - 1].type,
	    (IPC_MAX_ROUTES - 1) & 0xFF);
	assert_string_equal(d.routes[IPC_MAX_ROUTES - 1].network, "");
	assert_true(d.finished_us == INT64_MIN);
	result_free(&d);
	free(p);
}

static void
test_payload_over_max_refused(void **state)
{
	struct result d;
	struct ipc_job dj;
	uint8_t *p;
	uint64_t id;
	uint32_t n;
	char err[TM_ERRLEN];

	(void)state;
	p = xcalloc(1, IPC_MAX_PAYLOAD + 1);
	assert_int_equal(ipc_decode_job(p, IPC_MAX_PAYLOAD + 1, &dj, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "16777217"));
	assert_int_equal(ipc_decode_result(p, IPC_MAX_PAYLOAD + 1, &id, &d,
	    err, sizeof(err)), -1);
	assert_int_equal(ipc_decode_done(p, IPC_MAX_PAYLOAD + 1, &id, &n,
	    err, sizeof(err)), -1);
	free(p);
}

/* --- blocking I/O over a socketpair ------------------------------------ */

static volatile sig_atomic_t tm_alarms;

static void
tm_onalarm(int sig)
{
	(void)sig;
	tm_alarms++;
}

/* Deliver SIGALRM every usec microseconds (0: stop), interrupting calls. */
static void
tm_alarm_every(long usec)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = usec ? tm_onalarm : SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;		/* no SA_RESTART: calls see EINTR */
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_interval.tv_usec = usec;
	it.it_value.tv_usec = usec;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void
tm_sleep_ms(long ms)
{
	struct timespec ts, rem;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
		ts = rem;
}

static void
test_socketpair_frames_and_eof(void **state)
{
	struct ipc_job j, dj;
	struct result r, dr;
	struct ipcbuf out, in;
	const uint8_t *payload;
	uint32_t type, plen, nres;
	uint64_t id;
	int sv[2];
	char err[TM_ERRLEN];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ipcbuf_init(&out);
	ipcbuf_init(&in);
	tm_job_full(&j);
	tm_result_full(&r);
	assert_int_equal(ipc_frame_job(&out, &j), 0);
	assert_int_equal(ipc_frame_result(&out, j.id, &r), 0);
	ipc_frame_done(&out, j.id, 1);
	ipc_job_free(&j);
	result_free(&r);
	assert_int_equal(ipc_write_all(sv[0], out.data, out.len), 0);
	assert_int_equal(close(sv[0]), 0);

	/* Each read takes exactly one frame, leaving the next in the socket. */
	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 1);
	assert_int_equal(type, IPC_JOB);
	assert_ptr_equal(payload, in.data + IPC_HDR_LEN);
	assert_int_equal(in.len, IPC_HDR_LEN + plen);
	assert_int_equal(ipc_decode_job(payload, plen, &dj, err,
	    sizeof(err)), 0);
	assert_string_equal(dj.loc.host, "fs1");
	assert_string_equal(dj.loc.path, "PO");
	assert_string_equal(dj.password, "s3cr\xc3\xa9t pass");
	ipc_job_free(&dj);

	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 1);
	assert_int_equal(type, IPC_RESULT);
	assert_int_equal(ipc_decode_result(payload, plen, &id, &dr, err,
	    sizeof(err)), 0);
	assert_true(id == TM_JOB_ID);
	assert_int_equal(dr.nroutes, 3);
	assert_string_equal(dr.routes[0].postoffice, "BRANCH");
	result_free(&dr);

	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 1);
	assert_int_equal(type, IPC_DONE);
	assert_int_equal(ipc_decode_done(payload, plen, &id, &nres, err,
	    sizeof(err)), 0);
	assert_int_equal(nres, 1);

	/* The writer is gone: a clean end of file. */
	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 0);
	assert_int_equal(in.len, 0);
	assert_null(payload);
	assert_int_equal(close(sv[1]), 0);

	/* Writing to a closed peer is EPIPE, not a SIGPIPE. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(close(sv[1]), 0);
	errno = 0;
	assert_int_equal(ipc_write_all(sv[0], out.data, out.len), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(close(sv[0]), 0);

	/* Small frames back to back: no read takes a byte of the next. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ipcbuf_reset(&out);
	ipc_frame_done(&out, 11, 1);
	ipc_frame_done(&out, 22, 2);
	ipc_frame_done(&out, 33, 3);
	assert_int_equal(ipc_write_all(sv[0], out.data, out.len), 0);
	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 1);
	assert_int_equal(ipc_decode_done(payload, plen, &id, &nres, err,
	    sizeof(err)), 0);
	assert_true(id == 11);
	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 1);
	assert_int_equal(ipc_decode_done(payload, plen, &id, &nres, err,
	    sizeof(err)), 0);
	assert_true(id == 22);
	assert_int_equal(nres, 2);
	assert_int_equal(close(sv[0]), 0);
	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 1);
	assert_int_equal(ipc_decode_done(payload, plen, &id, &nres, err,
	    sizeof(err)), 0);
	assert_true(id == 33);
	assert_int_equal(nres, 3);
	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 0);
	assert_int_equal(close(sv[1]), 0);

	/* A pipe works too (not a socket: plain write). */
	assert_int_equal(pipe(sv), 0);
	assert_int_equal(ipc_write_all(sv[1], out.data + out.len - 20, 20), 0);
	assert_int_equal(close(sv[1]), 0);
	assert_int_equal(ipc_read_frame(sv[0], &in, &type, &payload, &plen,
	    err, sizeof(err)), 1);
	assert_int_equal(type, IPC_DONE);
	assert_int_equal(ipc_read_frame(sv[0], &in, &type, &payload, &plen,
	    err, sizeof(err)), 0);
	assert_int_equal(close(sv[0]), 0);

	ipcbuf_free(&out);
	ipcbuf_free(&in);
}

/* Send bytes, close, and expect ipc_read_frame to fail with errpart. */
static void
tm_read_fails(const uint8_t *bytes, size_t n, const char *errpart)
{
	struct ipcbuf in;
	const uint8_t *payload;
	uint32_t type, plen;
	int sv[2];
	char err[TM_ERRLEN] = "";

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ipc_write_all(sv[0], bytes, n), 0);
	assert_int_equal(close(sv[0]), 0);
	ipcbuf_init(&in);
	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, errpart));
	assert_int_equal(in.len, 0);
	assert_null(payload);
	assert_int_equal(type, 0);
	ipcbuf_free(&in);
	assert_int_equal(close(sv[1]), 0);
}

static void
test_socketpair_short_and_bad_frames(void **state)
{
	uint8_t f[IPC_HDR_LEN + 12];
	struct ipcbuf b;

	(void)state;
	ipcbuf_init(&b);
	ipc_frame_done(&b, 1, 1);
	memcpy(f, b.data, sizeof(f));
	ipcbuf_free(&b);

	tm_read_fails(f, 3, "inside a frame header (3 of 8 bytes)");
	tm_read_fails(f, IPC_HDR_LEN + 5, "inside a frame (13 of 20 bytes)");
	tm_put32(f, 9);
	tm_read_fails(f, sizeof(f), "unknown frame type 9");
	tm_put32(f, IPC_JOB);
	tm_put32(f + 4, 0x7FFFFFFFu);
	tm_read_fails(f, sizeof(f), "over");
}

static void
test_socketpair_big_frame_from_child(void **state)
{
	struct ipc_job j, dj;
	struct ipcbuf out, in;
	const uint8_t *payload;
	uint32_t type, plen, nres;
	uint64_t id;
	size_t fixed, i;
	pid_t pid;
	int sv[2], st, sndbuf = 0;
	socklen_t sl = sizeof(sndbuf);
	char err[TM_ERRLEN];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    &sl), 0);
	/* The largest frame there is: a job with a 16 MiB payload. */
	tm_job_guest(&j);
	location_free(&j.loc);
	location_set(&j.loc, "h", 0, "s", "");
	fixed = 8 + (4 + 1 + 2 + 4 + 1 + 4 + 1) + 5 * 4 + 2 * 4 + 4 + 9;
	j.smb_conf = xmalloc(IPC_MAX_PAYLOAD - fixed + 1);
	for (i = 0; i < IPC_MAX_PAYLOAD - fixed; i++)
		j.smb_conf[i] = (char)('a' + i % 26);
	j.smb_conf[IPC_MAX_PAYLOAD - fixed] = '\0';
	ipcbuf_init(&out);
	assert_int_equal(ipc_frame_job(&out, &j), 0);
	assert_int_equal(out.len, IPC_HDR_LEN + IPC_MAX_PAYLOAD);
	assert_true(out.len > (size_t)sndbuf * 4);
	ipc_frame_done(&out, j.id, 0);

	tm_alarms = 0;
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(sv[1]);
		tm_alarm_every(2000);
		/* The big frame blocks while the parent sleeps. */
		if (ipc_write_all(sv[0], out.data, out.len - 20) == -1)
			_exit(1);
		/* The parent is now blocked reading this one. */
		tm_sleep_ms(60);
		if (ipc_write_all(sv[0], out.data + out.len - 20, 20) == -1)
			_exit(1);
		tm_alarm_every(0);
		_exit(tm_alarms > 0 ? 0 : 2);
	}
	close(sv[0]);
	tm_sleep_ms(60);
	tm_alarm_every(2000);
	ipcbuf_init(&in);
	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 1);
	assert_int_equal(type, IPC_JOB);
	assert_int_equal(plen, IPC_MAX_PAYLOAD);
	/* Every byte arrived, in order. */
	assert_int_equal(in.len, out.len - 20);
	assert_true(memcmp(in.data, out.data, in.len) == 0);
	assert_int_equal(ipc_decode_job(payload, plen, &dj, err,
	    sizeof(err)), 0);
	assert_int_equal(strlen(dj.smb_conf), IPC_MAX_PAYLOAD - fixed);
	assert_string_equal(dj.smb_conf, j.smb_conf);
	assert_string_equal(dj.loc.host, "h");
	assert_string_equal(dj.loc.share, "s");
	ipc_job_free(&dj);

	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 1);
	assert_int_equal(type, IPC_DONE);
	assert_int_equal(ipc_decode_done(payload, plen, &id, &nres, err,
	    sizeof(err)), 0);
	assert_true(id == 7);
	assert_int_equal(nres, 0);
	assert_int_equal(ipc_read_frame(sv[1], &in, &type, &payload, &plen,
	    err, sizeof(err)), 0);
	tm_alarm_every(0);
	/* The parent was blocked in read while SIGALRM came: EINTR seen. */
	assert_true(tm_alarms > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	ipc_job_free(&j);
	ipcbuf_free(&out);
	ipcbuf_free(&in);
	close(sv[1]);
}

/* --- mutation loop ----------------------------------------------------- */

static uint64_t tm_rng = 0x9E3779B97F4A7C15ull;

static uint64_t
tm_rand(void)
{
	tm_rng ^= tm_rng << 13;
	tm_rng ^= tm_rng >> 7;
	tm_rng ^= tm_rng << 17;
	return tm_rng;
}

/*
 * Decode q as type t.  A decoder that accepts must have seen the one
 * canonical encoding: encoding what it returned gives back the same bytes.
 */
static int
tm_decode_check(uint32_t t, const uint8_t *q, size_t n)
{
	struct result d;
	struct ipc_job dj;
	struct ipcbuf b;
	uint64_t id;
	uint32_t nres;
	char err[TM_ERRLEN];
	int rv;

	ipcbuf_init(&b);
	switch (t) {
	case IPC_JOB:
		rv = ipc_decode_job(q, n, &dj, err, sizeof(err));
		if (rv == 0) {
			assert_int_equal(ipc_frame_job(&b, &dj), 0);
			ipc_job_free(&dj);
		} else
			assert_null(dj.loc.host);
		break;
	case IPC_RESULT:
		rv = ipc_decode_result(q, n, &id, &d, err, sizeof(err));
		if (rv == 0) {
			assert_int_equal(ipc_frame_result(&b, id, &d), 0);
			result_free(&d);
		} else
			assert_null(d.loc.host);
		break;
	default:
		rv = ipc_decode_done(q, n, &id, &nres, err, sizeof(err));
		if (rv == 0)
			ipc_frame_done(&b, id, nres);
		break;
	}
	if (rv == 0) {
		assert_int_equal(b.len, IPC_HDR_LEN + n);
		assert_memory_equal(b.data + IPC_HDR_LEN, q, n);
	} else
		assert_int_equal(rv, -1);
	ipcbuf_free(&b);
	return rv;
}

static void
test_random_mutations_do_not_crash(void **state)
{
	struct result r;
	struct ipc_job j;
	struct ipcbuf b;
	uint8_t *base[5], *q;
	size_t blen[5], n, k, nmut, i, at;
	uint32_t types[5] = { IPC_JOB, IPC_JOB, IPC_RESULT, IPC_RESULT,
	    IPC_DONE };
	unsigned long ok = 0, bad = 0, round;
	const uint8_t *payload;
	uint32_t type, plen;
	size_t framelen;
	char err[TM_ERRLEN];

	(void)state;
	tm_job_full(&j);
	tm_job_payload(&j, &base[0], &blen[0]);
	ipc_job_free(&j);
	tm_job_guest(&j);
	tm_job_payload(&j, &base[1], &blen[1]);
	ipc_job_free(&j);
	tm_result_full(&r);
	tm_result_payload(3, &r, &base[2], &blen[2]);
	result_free(&r);
	tm_result_failed(&r);
	tm_result_payload(4, &r, &base[3], &blen[3]);
	result_free(&r);
	ipcbuf_init(&b);
	ipc_frame_done(&b, 5, 6);
	tm_payload(&b, IPC_DONE, &base[4], &blen[4]);
	ipcbuf_free(&b);

	for (round = 0; round < TM_FUZZ_ROUNDS; round++) {
		k = tm_rand() % 5;
		n = blen[k];
		switch (tm_rand() % 8) {
		case 0:			/* cut */
			n = tm_rand() % (n + 1);
			break;
		case 1:			/* grow by a few bytes */
			n += 1 + tm_rand() % 4;
			break;
		default:
			break;
		}
		q = xmalloc(n);
		memset(q, (int)(tm_rand() & 0xFF), n);
		memcpy(q, base[k], n < blen[k] ? n : blen[k]);
		nmut = n == 0 ? 0 : 1 + tm_rand() % 4;
		for (i = 0; i < nmut; i++) {
			at = tm_rand() % n;
			switch (tm_rand() % 4) {
			case 0:
				q[at] ^= (uint8_t)(1u << (tm_rand() % 8));
				break;
			case 1:
				q[at] = (uint8_t)tm_rand();
				break;
			case 2:
				q[at] = 0xFF;
				break;
			default:
				q[at] = 0;
				break;
			}
		}
		if (tm_decode_check(types[k], q, n) == 0)
			ok++;
		else
			bad++;
		/* Any bytes through any decoder and through frame_peek. */
		(void)tm_decode_check(types[(k + 2) % 5], q, n);
		(void)ipc_frame_peek(q, n, &type, &payload, &plen, &framelen,
		    err, sizeof(err));
		free(q);
	}
	/* Same seed, same split: the loop is deterministic. */
	assert_int_equal(ok + bad, TM_FUZZ_ROUNDS);
	assert_true(ok > 1000);
	assert_true(bad > 1000);
	for (k = 0; k < 5; k++)
		free(base[k]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msgbuf_reset_wipes_and_keeps_memory),
		cmocka_unit_test(test_done_golden_bytes),
		cmocka_unit_test(test_job_golden_bytes),
		cmocka_unit_test(test_job_round_trip_with_credentials),
		cmocka_unit_test(test_job_round_trip_guest_null_strings),
		cmocka_unit_test(test_job_encoder_refusals),
		cmocka_unit_test(test_result_round_trip_full),
		cmocka_unit_test(test_result_round_trip_failed_no_master),
		cmocka_unit_test(test_result_encoder_refusals),
		cmocka_unit_test(test_peek_every_prefix_then_whole),
		cmocka_unit_test(test_peek_frames_back_to_back),
		cmocka_unit_test(test_peek_bad_headers),
		cmocka_unit_test(test_every_truncation_fails),
		cmocka_unit_test(test_trailing_bytes_refused),
		cmocka_unit_test(test_outcome_and_flags_ranges),
		cmocka_unit_test(test_bad_strings_refused),
		cmocka_unit_test(test_huge_string_length_refused_without_allocation),
		cmocka_unit_test(test_nroutes_bounds),
		cmocka_unit_test(test_payload_over_max_refused),
		cmocka_unit_test(test_socketpair_frames_and_eof),
		cmocka_unit_test(test_socketpair_short_and_bad_frames),
		cmocka_unit_test(test_socketpair_big_frame_from_child),
		cmocka_unit_test(test_random_mutations_do_not_crash),
	};

	return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
