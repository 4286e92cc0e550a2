/*
 * mkcorpus_msg: write the seed frames of the fuzz_msg target
 * (tests/fuzz/corpus/msg/) with the real encoders of lib/msg.c, so that
 * the seeds stay valid when the wire format changes.
 *
 *	cc -std=c11 -D_GNU_SOURCE -Ilib tests/fuzz/mkcorpus_msg.c lib/msg.c \
 *	    lib/crawl.c lib/smbio.c lib/smburl.c lib/po.c lib/log.c \
 *	    lib/xmalloc.c $(pkg-config --cflags --libs smbclient) \
 *	    -o mkcorpus_msg
 *	./mkcorpus_msg tests/fuzz/corpus/msg
 *
 * Each file holds one frame: two jobs, three results (one with a master
 * and routes) and a done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawl.h"
#include "msg.h"
#include "po.h"

static const char *dir;

static void
put(const char *name, struct msgbuf *b, int rc)
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
	msgbuf_reset(b);
}

static void
route(struct crawl_route *r, const char *net, const char *po, uint8_t type)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->network, sizeof(r->network), "%s", net);
	snprintf(r->postoffice, sizeof(r->postoffice), "%s", po);
	r->type = type;
}

int
main(int argc, char **argv)
{
	struct crawl_route routes[3];
	struct crawl_result r;
	struct msg_job j;
	struct msgbuf b;
	uint8_t master[PO_MASTER_SIZE];
	char err[256];

	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus_msg DIR\n");
		return 2;
	}
	dir = argv[1];
	msgbuf_init(&b);

	memset(&j, 0, sizeof(j));
	j.id = 42;
	j.url = (char *)"smb://fs1.example.com:445/MAILDAT$/MAILDATA";
	j.username = (char *)"scanner";
	j.password = (char *)"s3cret";
	j.domain = (char *)"CORP";
	j.min_protocol = (char *)"NT1";
	j.max_protocol = (char *)"SMB3";
	j.timeout_ms = 30000;
	j.connect_timeout_ms = 5000;
	j.smb_conf = (char *)"/etc/maildatd/smb.conf";
	put("job-full.bin", &b, msg_frame_job(&b, &j));

	memset(&j, 0, sizeof(j));
	j.id = UINT64_MAX;
	j.url = (char *)"smb://[fe80::1]/";
	j.discover = 1;
	j.timeout_ms = -1;
	j.connect_timeout_ms = 0;
	put("job-guest-discover.bin", &b, msg_frame_job(&b, &j));

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
		fprintf(stderr, "mkcorpus_msg: master: %s\n", err);
		return 1;
	}
	r.location = (char *)"\\\\fs1\\MAILDAT$\\MAILDATA";
	r.host = (char *)"fs1";
	r.port = 0;
	r.share = (char *)"MAILDAT$";
	r.path = (char *)"MAILDATA";
	r.outcome = CRAWL_OK;
	r.has_master = 1;
	r.checksum_ok = po_checksum_ok(&r.master);
	route(&routes[0], "CORPNET", "BRANCH1", 0);
	route(&routes[1], "X400NET", "", 8);
	route(&routes[2], "EXCH", "CONNECT", 0x10);
	r.routes = routes;
	r.nroutes = 3;
	r.started_us = 1700000000000000;
	r.finished_us = 1700000000250000;
	put("result-routes.bin", &b, msg_frame_result(&b, 42, &r));

	/* The same with damage noted: malformed, checksum mismatch. */
	r.outcome = CRAWL_MALFORMED;
	r.error = (char *)"XTN\\0000A001.XTN: record 2 (offset 698): status "
	    "byte 0x07 is neither 0 nor 1";
	r.master.checksum_stored ^= 1;
	r.checksum_ok = 0;
	r.nroutes = 1;
	put("result-malformed.bin", &b, msg_frame_result(&b, 43, &r));

	/* A failure: no master, no routes, a port. */
	memset(&r, 0, sizeof(r));
	r.location = (char *)"\\\\10.0.0.7@139";
	r.host = (char *)"10.0.0.7";
	r.port = 139;
	r.share = (char *)"";
	r.path = (char *)"";
	r.outcome = CRAWL_UNREACHABLE;
	r.error = (char *)"connect: Connection refused";
	r.started_us = -1;
	r.finished_us = 0;
	put("result-unreachable.bin", &b, msg_frame_result(&b, 44, &r));

	msg_frame_done(&b, 42, 3);
	put("done.bin", &b, 0);

	msgbuf_free(&b);
	return 0;
}
