/*
 * mkcorpus_ipc: write the seed frames of the fuzz_ipc target
 * (tests/fuzz/corpus/ipc/) with the real encoders of lib/ipc.c, so that
 * the seeds stay valid when the wire format changes.
 *
 *	cc -std=c11 -D_GNU_SOURCE -Ilib tests/fuzz/mkcorpus_ipc.c lib/ipc.c \
 *	    lib/result.c lib/location.c lib/clock.c lib/errbuf.c lib/po.c \
 *	    lib/log.c lib/xmalloc.c -o mkcorpus_ipc
 *	./mkcorpus_ipc tests/fuzz/corpus/ipc
 *
 * Each file holds one frame: two jobs, three results (one with a master
 * and routes) and a done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "po.h"

static const char *dir;

static void
put(const char *name, struct ipcbuf *b, int rc)
{
	char path[4096];
	FILE *fp;

	if (rc != 0) {
		fprintf(stderr, "mkcorpus_msg: cannot encode %s\n", name);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "wb")) == NULL ||
	    fwrite(b->data, 1, b->len, fp) != b->len || fclose(fp) != 0) {
		fprintf(stderr, "mkcorpus_msg: %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	ipcbuf_reset(b);
}

static void
route(struct result_route *r, const char *net, const char *po, uint8_t type)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->network, sizeof(r->network), "%s", net);
	snprintf(r->postoffice, sizeof(r->postoffice), "%s", po);
	r->type = type;
}

int
main(int argc, char **argv)
{
	struct result_route routes[3];
	struct result r;
	struct ipc_job j;
	struct ipcbuf b;
	uint8_t master[PO_MASTER_SIZE];
	char err[256];

	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus_ipc DIR\n");
		return 2;
	}
	dir = argv[1];
	ipcbuf_init(&b);

	memset(&j, 0, sizeof(j));
	j.id = 42;
	j.loc.host = (char *)"fs1.example.com";
	j.loc.share = (char *)"MAILDAT$";
	j.loc.path = (char *)"MAILDATA";
	j.username = (char *)"scanner";
	j.password = (char *)"s3cret";
	j.domain = (char *)"CORP";
	j.min_protocol = (char *)"NT1";
	j.max_protocol = (char *)"SMB3";
	j.timeout_ms = 30000;
	j.connect_timeout_ms = 5000;
	j.smb_conf = (char *)"/etc/maildatd/smb.conf";
	put("job-full.bin", &b, ipc_frame_job(&b, &j));

	memset(&j, 0, sizeof(j));
	j.id = UINT64_MAX;
	j.loc.host = (char *)"fe80::1";
	j.loc.share = (char *)"";
	j.loc.path = (char *)"";
	j.loc.discover = 1;
	j.timeout_ms = -1;
	j.connect_timeout_ms = 0;
	put("job-guest-discover.bin", &b, ipc_frame_job(&b, &j));

	/* A result with a parsed master and three routes. */
	memset(master, 0, sizeof(master));
	po_name_encode("CORPNET", master + PO_OFF_NETWORK, PO_NAME_FIELD);
	po_name_encode("HQ", master + PO_OFF_POSTOFFICE, PO_NAME_FIELD);
	po_serial_encode("32-64537", master + PO_OFF_SERIAL);
	master[PO_OFF_NOS] = 1;
	master[PO_OFF_PRODVERSION] = 2;
	memset(&r, 0, sizeof(r));
	if (po_parse_master(master, sizeof(master), &r.master, err,
	    sizeof(err)) != PO_OK) {
		fprintf(stderr, "mkcorpus_ipc: master: %s\n", err);
		return 1;
	}
	r.loc.host = (char *)"fs1";
	r.loc.port = 0;
	r.loc.share = (char *)"MAILDAT$";
	r.loc.path = (char *)"MAILDATA";
	r.outcome = OUTCOME_OK;
	r.has_master = 1;
	r.checksum_ok = po_checksum_ok(&r.master);
	route(&routes[0], "CORPNET", "BRANCH1", 0);
	route(&routes[1], "X400NET", "", 8);
	route(&routes[2], "EXCH", "CONNECT", 0x10);
	r.routes = routes;
	r.nroutes = 3;
	r.started_us = 1700000000000000;
	r.finished_us = 1700000000250000;
	put("result-routes.bin", &b, ipc_frame_result(&b, 42, &r));

	/* The same with damage noted: malformed, checksum mismatch. */
	r.outcome = OUTCOME_MALFORMED;
	r.error = (char *)"XTN\\0000A001.XTN: record 2 (offset 698): status "
	    "byte 0x07 is neither 0 nor 1";
	r.master.checksum_stored ^= 1;
	r.checksum_ok = 0;
	r.nroutes = 1;
	put("result-malformed.bin", &b, ipc_frame_result(&b, 43, &r));

	/* A failure: no master, no routes, a port. */
	memset(&r, 0, sizeof(r));
	r.loc.host = (char *)"10.0.0.7";
	r.loc.port = 139;
	r.loc.share = (char *)"";
	r.loc.path = (char *)"";
	r.loc.discover = 1;
	r.outcome = OUTCOME_UNREACHABLE;
	r.error = (char *)"connect: Connection refused";
	r.started_us = -1;
	r.finished_us = 0;
	put("result-unreachable.bin", &b, ipc_frame_result(&b, 44, &r));

	ipc_frame_done(&b, 42, 3);
	put("done.bin", &b, 0);

	ipcbuf_free(&b);
	return 0;
}
