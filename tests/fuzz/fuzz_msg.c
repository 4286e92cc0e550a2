/*
 * fuzz_msg: libFuzzer target for the worker <-> parent frame decoders
 * (lib/msg.c).
 *
 * Each input is looked at with msg_frame_peek() as a frame header plus
 * payload.  When a whole frame is there, its payload is given to every
 * decoder -- msg_decode_job(), msg_decode_result() and msg_decode_done() --
 * whatever the frame's type.  When there is no whole frame, the input
 * itself is used as the payload, so the decoders still see every byte
 * string.  msg.h promises that "a decoded frame encodes back to exactly the
 * same bytes": each payload that decodes is encoded again with
 * msg_frame_job/_result/_done and compared.  Results are released with
 * msg_job_free() and crawl_result_free().  Built by tools/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawl.h"
#include "msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless b holds exactly one frame of type with payload p[0..n). */
static void
check_frame(const struct msgbuf *b, uint32_t type, const uint8_t *p,
    size_t n)
{
	const uint8_t *pl;
	uint32_t t, plen;
	size_t flen;
	char err[256];

	if (msg_frame_peek(b->data, b->len, &t, &pl, &plen, &flen, err,
	    sizeof(err)) != 1)
		abort();
	if (t != type || flen != b->len || plen != n ||
	    (n > 0 && memcmp(pl, p, n) != 0))
		abort();
}

static void
decode_all(const uint8_t *p, size_t n)
{
	struct crawl_result r;
	struct msg_job j;
	struct msgbuf b;
	uint64_t id;
	uint32_t nres;
	char err[256];

	msgbuf_init(&b);

	if (msg_decode_job(p, n, &j, err, sizeof(err)) == 0) {
		if (j.url == NULL || msg_frame_job(&b, &j) != 0)
			abort();
		check_frame(&b, MSG_JOB, p, n);
		msgbuf_reset(&b);
	} else if (j.url != NULL || j.password != NULL)
		abort();	/* *j must be zeroed on failure */
	msg_job_free(&j);

	if (msg_decode_result(p, n, &id, &r, err, sizeof(err)) == 0) {
		if (r.location == NULL || r.host == NULL || r.share == NULL ||
		    r.path == NULL || (r.nroutes > 0) != (r.routes != NULL))
			abort();
		if (r.has_master) {
			char addr[2 * PO_NAME_MAX + 2];

			crawl_address(&r, addr, sizeof(addr));
		}
		(void)crawl_outcome_name(r.outcome);
		if (msg_frame_result(&b, id, &r) != 0)
			abort();
		check_frame(&b, MSG_RESULT, p, n);
		msgbuf_reset(&b);
	} else if (r.location != NULL || r.routes != NULL || id != 0)
		abort();
	crawl_result_free(&r);

	if (msg_decode_done(p, n, &id, &nres, err, sizeof(err)) == 0) {
		msg_frame_done(&b, id, nres);
		check_frame(&b, MSG_DONE, p, n);
	}
	msgbuf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *payload;
	uint32_t type, plen;
	size_t framelen;
	char err[256];
	int rc;

	rc = msg_frame_peek(data, size, &type, &payload, &plen, &framelen,
	    err, sizeof(err));
	if (rc == 1) {
		if (framelen != MSG_HDR_LEN + (size_t)plen || framelen > size ||
		    payload != data + MSG_HDR_LEN)
			abort();
		decode_all(payload, plen);
	} else
		decode_all(data, size);
	return 0;
}
