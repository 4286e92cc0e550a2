/*
 * fuzz_msg: libFuzzer target for the worker <-> parent frame decoders
 * (lib/msg.c).
 *
 * Each input is looked at with ipc_frame_peek() as a frame header plus
 * payload.  When a whole frame is there, its payload is given to every
 * decoder -- ipc_decode_job(), ipc_decode_result() and ipc_decode_done() --
 * whatever the frame's type.  When there is no whole frame, the input
 * itself is used as the payload, so the decoders still see every byte
 * string.  msg.h promises that "a decoded frame encodes back to exactly the
 * same bytes": each payload that decodes is encoded again with
 * ipc_frame_job/_result/_done and compared.  Results are released with
 * ipc_job_free() and result_free().  Built by tools/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crawl.h"
#include "ipc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless b holds exactly one frame of type with payload p[0..n). */
static void
check_frame(const struct ipcbuf *b, uint32_t type, const uint8_t *p,
    size_t n)
{
	const uint8_t *pl;
	uint32_t t, plen;
	size_t flen;
	char err[256];

	if (ipc_frame_peek(b->data, b->len, &t, &pl, &plen, &flen, err,
	    sizeof(err)) != 1)
		abort();
	if (t != type || flen != b->len || plen != n ||
	    (n > 0 && memcmp(pl, p, n) != 0))
		abort();
}

static void
decode_all(const uint8_t *p, size_t n)
{
	struct result r;
	struct ipc_job j;
	struct ipcbuf b;
	uint64_t id;
	uint32_t nres;
	char err[256];

	ipcbuf_init(&b);

	if (ipc_decode_job(p, n, &j, err, sizeof(err)) == 0) {
		if (j.loc.host == NULL || ipc_frame_job(&b, &j) != 0)
			abort();
		check_frame(&b, IPC_JOB, p, n);
		ipcbuf_reset(&b);
	} else if (j.loc.host != NULL || j.password != NULL)
		abort();	/* *j must be zeroed on failure */
	ipc_job_free(&j);

	if (ipc_decode_result(p, n, &id, &r, err, sizeof(err)) == 0) {
		if (r.unc == NULL || r.key == NULL || r.loc.host == NULL ||
		    r.loc.share == NULL || r.loc.path == NULL ||
		    (r.nroutes > 0) != (r.routes != NULL))
			abort();
		if (r.has_master) {
			char addr[2 * PO_NAME_MAX + 2];

			result_address(&r, addr, sizeof(addr));
		}
		(void)result_outcome_name(r.outcome);
		if (ipc_frame_result(&b, id, &r) != 0)
			abort();
		check_frame(&b, IPC_RESULT, p, n);
		ipcbuf_reset(&b);
	} else if (r.unc != NULL || r.loc.host != NULL || r.routes != NULL ||
	    id != 0)
		abort();
	result_free(&r);

	if (ipc_decode_done(p, n, &id, &nres, err, sizeof(err)) == 0) {
		ipc_frame_done(&b, id, nres);
		check_frame(&b, IPC_DONE, p, n);
	}
	ipcbuf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *payload;
	uint32_t type, plen;
	size_t framelen;
	char err[256];
	int rc;

	rc = ipc_frame_peek(data, size, &type, &payload, &plen, &framelen,
	    err, sizeof(err));
	if (rc == 1) {
		if (framelen != IPC_HDR_LEN + (size_t)plen || framelen > size ||
		    payload != data + IPC_HDR_LEN)
			abort();
		decode_all(payload, plen);
	} else
		decode_all(data, size);
	return 0;
}
