/*
 * fuzz_po: libFuzzer target for the postoffice parser (lib/po.c).
 *
 * Each input is handed, as is, to all three parsers -- po_parse_master()
 * (MASTER.GLB), po_parse_network() (NETWORK.GLB) and po_parse_xtn() (an XTN
 * file) -- and its first 10 bytes to po_serial_display() as a raw serial.
 * The results are checked against the contract in po.h (NUL-terminated
 * names that fit, a record count within the input, NULL output on error,
 * po_serial_encode() inverting the display form) and freed.  Built by tools/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "po.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort (a crash for libFuzzer) when a string does not end in its array. */
static void
check_str(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct po_master m;
	struct po_network *nw = NULL;
	struct po_xtn *xv = NULL;
	uint8_t raw[PO_SERIAL_LEN], raw2[PO_SERIAL_LEN];
	char err[256], disp[PO_SERIAL_DISPLAY], disp2[PO_SERIAL_DISPLAY];
	char hex[PO_SERIAL_HEX];
	char tname[32];
	size_t n, i;

	err[0] = '\0';
	if (po_parse_master(data, size, &m, err, sizeof(err)) == PO_OK) {
		check_str(m.network, sizeof(m.network));
		check_str(m.postoffice, sizeof(m.postoffice));
		check_str(m.serial, sizeof(m.serial));
		(void)po_checksum_ok(&m);
		(void)po_kind_name(m.kind);
	}
	check_str(err, sizeof(err));

	if (po_parse_network(data, size, &nw, &n, err, sizeof(err)) == PO_OK) {
		if (n > size / PO_NETWORK_RECLEN || (n == 0) != (nw == NULL))
			abort();
		for (i = 0; i < n; i++) {
			check_str(nw[i].name, sizeof(nw[i].name));
			check_str(nw[i].xtn_id, sizeof(nw[i].xtn_id));
			po_route_type_name(nw[i].type, tname, sizeof(tname));
		}
	} else if (nw != NULL)
		abort();
	free(nw);

	if (po_parse_xtn(data, size, &xv, &n, err, sizeof(err)) == PO_OK) {
		if (n > size / PO_XTN_RECLEN || (n == 0) != (xv == NULL))
			abort();
		for (i = 0; i < n; i++)
			check_str(xv[i].postoffice, sizeof(xv[i].postoffice));
	} else if (xv != NULL)
		abort();
	free(xv);

	/* The display form of a serial: always from exactly 10 bytes. */
	memset(raw, 0, sizeof(raw));
	memcpy(raw, data, size < sizeof(raw) ? size : sizeof(raw));
	po_serial_display(raw, disp, sizeof(disp));
	check_str(disp, sizeof(disp));
	/*
	 * po_serial_encode() is the inverse of the display form: what it
	 * accepts must display the same again.
	 */
	if (strncmp(disp, "raw:", 4) != 0 &&
	    po_serial_encode(disp, raw2) == 0) {
		po_serial_display(raw2, disp2, sizeof(disp2));
		if (strcmp(disp, disp2) != 0)
			abort();
	}
	po_serial_hex(raw, hex, sizeof(hex));
	check_str(hex, sizeof(hex));
	(void)po_serial_checksum(raw);
	return 0;
}
