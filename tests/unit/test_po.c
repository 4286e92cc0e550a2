/*
 * test_po: unit tests of the postoffice parser (lib/po.c).  Every buffer is
 * built here byte by byte, so the tests do not depend on the fixture writer
 * or on po_serial_encode/po_name_encode to describe the format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "po.h"

#define TPO_OFF_PASSWORD	103
#define TPO_PASSWORD_LEN	9
#define TPO_NET_OFF_XTN		13
#define TPO_NET_OFF_MAILBAG	33
#define TPO_XTN_OFF_INDIRECT	649
#define TPO_ERRLEN		256
#define TPO_FUZZ_ROUNDS		20000
#define TPO_FUZZ_MAXLEN		2000

/* The serial key, written out again so the tests check po.c against it. */
static const uint8_t tpo_key[8] = {
	0x56, 0xB1, 0xAF, 0xB1, 0x5F, 0x2A, 0xAE, 0xA8
};

/* The WGPO template's serial field and its checksum (format notes). */
static const uint8_t tpo_wgpo_raw[PO_SERIAL_LEN] = {
	0x66, 0x86, 0x96, 0x88, 0x66, 0x13, 0x97, 0x91, 0x64, 0x00
};
#define TPO_WGPO_CHECKSUM	0x040F

/* Store text as a serial field: each byte XOR the key, NUL padded. */
static void
tpo_serial_raw(const char *text, uint8_t raw[PO_SERIAL_LEN])
{
	size_t i, n = strlen(text);

	memset(raw, 0, PO_SERIAL_LEN);
	for (i = 0; i < n && i < PO_SERIAL_LEN; i++)
		raw[i] = (uint8_t)text[i] ^ tpo_key[i % 8];
}

static void
tpo_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xFF);
	p[1] = (uint8_t)(v >> 8);
}

static void
tpo_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v & 0xFF);
	p[1] = (uint8_t)((v >> 8) & 0xFF);
	p[2] = (uint8_t)((v >> 16) & 0xFF);
	p[3] = (uint8_t)(v >> 24);
}

/* Write an ASCII name into an 11-byte field, NUL padded. */
static void
tpo_name(uint8_t *field, const char *name)
{
	memset(field, 0, PO_NAME_FIELD);
	memcpy(field, name, strlen(name));
}

/* Build a sound 176-byte MASTER.GLB; serial is the stored text (no dash). */
static void
tpo_master(uint8_t *buf, const char *network, const char *postoffice,
    const char *serial, uint32_t flags)
{
	uint8_t raw[PO_SERIAL_LEN];
	uint16_t sum = 0;
	size_t i;

	memset(buf, 0, PO_MASTER_SIZE);
	memcpy(buf, "Copyright 1991-1992 Microsoft Corp.\r\n\x1a", 38);
	memcpy(buf + 40, "Microsoft Mail  3.5\r\n\x1a", 22);
	tpo_name(buf + PO_OFF_NETWORK, network);
	tpo_name(buf + PO_OFF_POSTOFFICE, postoffice);
	tpo_put16(buf + 115, 10);
	tpo_serial_raw(serial, raw);
	for (i = 0; i < PO_SERIAL_LEN; i++)
		sum = (uint16_t)(sum + raw[i]);
	tpo_put16(buf + PO_OFF_CHECKSUM, sum);
	memcpy(buf + PO_OFF_SERIAL, raw, PO_SERIAL_LEN);
	tpo_put32(buf + PO_OFF_FLAGS, flags);
	buf[PO_OFF_NOS] = 1;
	buf[PO_OFF_DBVERSION] = 0;
	buf[PO_OFF_PRODVERSION] = 2;
}

/* Fill one NETWORK.GLB record. */
static void
tpo_netrec(uint8_t *rec, uint8_t status, uint8_t type, const char *name,
    const char *xtn_id)
{
	memset(rec, 0, PO_NETWORK_RECLEN);
	rec[0] = status;
	rec[1] = type;
	tpo_name(rec + 2, name);
	memcpy(rec + TPO_NET_OFF_XTN, xtn_id, strlen(xtn_id));
	memcpy(rec + TPO_NET_OFF_MAILBAG, xtn_id, strlen(xtn_id));
}

/* Fill one XTN record. */
static void
tpo_xtnrec(uint8_t *rec, uint8_t status, const char *name, uint16_t indirect)
{
	memset(rec, 0, PO_XTN_RECLEN);
	rec[0] = status;
	tpo_name(rec + 1, name);
	tpo_put16(rec + TPO_XTN_OFF_INDIRECT, indirect);
}

/* Parse a master that must be damaged; return its error text. */
static enum po_err
tpo_master_err(const uint8_t *buf, size_t len, char *err)
{
	struct po_master m;

	err[0] = '\0';
	return po_parse_master(buf, len, &m, err, TPO_ERRLEN);
}

/* Parse a NETWORK.GLB that must be damaged: *out must come back NULL. */
static enum po_err
tpo_network_err(const uint8_t *buf, size_t len, char *err)
{
	struct po_network *out = (struct po_network *)&out;
	size_t n = 99;
	enum po_err e;

	err[0] = '\0';
	e = po_parse_network(buf, len, &out, &n, err, TPO_ERRLEN);
	assert_int_not_equal(e, PO_OK);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_true(err[0] != '\0');
	return e;
}

/* Parse an XTN file that must be damaged: *out must come back NULL. */
static enum po_err
tpo_xtn_err(const uint8_t *buf, size_t len, char *err)
{
	struct po_xtn *out = (struct po_xtn *)&out;
	size_t n = 99;
	enum po_err e;

	err[0] = '\0';
	e = po_parse_xtn(buf, len, &out, &n, err, TPO_ERRLEN);
	assert_int_not_equal(e, PO_OK);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_true(err[0] != '\0');
	return e;
}

/* --- MASTER.GLB --------------------------------------------------------- */

static void
test_master_reads_every_field_at_its_offset(void **state)
{
	uint8_t buf[PO_MASTER_SIZE], raw[PO_SERIAL_LEN];
	struct po_master m;
	char err[TPO_ERRLEN];

	(void)state;
	tpo_master(buf, "ACME", "HQ1", "3264537", 0);
	tpo_serial_raw("3264537", raw);
	memcpy(buf + PO_OFF_SERIAL, raw, PO_SERIAL_LEN);
	tpo_put16(buf + PO_OFF_CHECKSUM, 0xBEEF);
	tpo_put32(buf + PO_OFF_FLAGS, 0x12345678);
	buf[PO_OFF_NOS] = 2;
	buf[PO_OFF_DBVERSION] = 5;
	buf[PO_OFF_PRODVERSION] = 1;

	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, err,
	    sizeof(err)), PO_OK);
	assert_string_equal(m.network, "ACME");
	assert_string_equal(m.postoffice, "HQ1");
	assert_memory_equal(m.serial_raw, raw, PO_SERIAL_LEN);
	assert_string_equal(m.serial, "32-64537");
	assert_int_equal(m.checksum_stored, 0xBEEF);
	assert_int_equal(m.checksum_computed, po_serial_checksum(raw));
	assert_int_equal(m.flags, 0x12345678);
	assert_int_equal(m.nos_type, 2);
	assert_int_equal(m.db_version, 5);
	assert_int_equal(m.product_version, 1);
	assert_int_equal(m.kind, PO_KIND_MSMAIL);
}

static void
test_master_offsets_match_the_format(void **state)
{
	(void)state;
	assert_int_equal(PO_MASTER_SIZE, 176);
	assert_int_equal(PO_OFF_NETWORK, 70);
	assert_int_equal(PO_OFF_POSTOFFICE, 81);
	assert_int_equal(PO_OFF_CHECKSUM, 132);
	assert_int_equal(PO_OFF_SERIAL, 134);
	assert_int_equal(PO_OFF_FLAGS, 146);
	assert_int_equal(PO_OFF_NOS, 150);
	assert_int_equal(PO_OFF_DBVERSION, 169);
	assert_int_equal(PO_OFF_PRODVERSION, 170);
	assert_int_equal(PO_NETWORK_RECLEN, 122);
	assert_int_equal(PO_XTN_RECLEN, 698);
}

static void
test_master_flags_are_little_endian(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		tpo_master(buf, "N", "P", "3264537", 0);
		buf[PO_OFF_FLAGS + i] = 0xA5;
		assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
		    PO_OK);
		assert_int_equal(m.flags, (uint32_t)0xA5 << (8 * i));
	}
}

static void
test_master_single_byte_fields_do_not_overlap(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;

	(void)state;
	/* Bytes next to the single-byte fields must not leak into them. */
	tpo_master(buf, "N", "P", "3264537", 0);
	buf[PO_OFF_NOS] = 0;
	buf[PO_OFF_NOS - 1] = 0xEE;
	buf[PO_OFF_NOS + 1] = 0xEE;
	buf[PO_OFF_DBVERSION - 1] = 0xEE;
	buf[PO_OFF_DBVERSION] = 0;
	buf[PO_OFF_PRODVERSION] = 0;
	buf[PO_OFF_PRODVERSION + 1] = 0xEE;
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_OK);
	assert_int_equal(m.nos_type, 0);
	assert_int_equal(m.db_version, 0);
	assert_int_equal(m.product_version, 0);
	assert_int_equal(m.flags, 0xEE000000u);
}

static void
test_master_ten_character_names(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;

	(void)state;
	tpo_master(buf, "ABCDEFGHIJ", "KLMNOPQRST", "3264537", 0);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_OK);
	assert_string_equal(m.network, "ABCDEFGHIJ");
	assert_string_equal(m.postoffice, "KLMNOPQRST");
}

static void
test_master_checksum_mismatch_is_not_an_error(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;
	char err[TPO_ERRLEN];

	(void)state;
	tpo_master(buf, "NET", "PO", "079999992", 0);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, err,
	    sizeof(err)), PO_OK);
	assert_true(po_checksum_ok(&m));

	tpo_put16(buf + PO_OFF_CHECKSUM, TPO_WGPO_CHECKSUM + 1);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, err,
	    sizeof(err)), PO_OK);
	assert_false(po_checksum_ok(&m));
	assert_int_equal(m.checksum_stored, TPO_WGPO_CHECKSUM + 1);
	assert_int_equal(m.checksum_computed, TPO_WGPO_CHECKSUM);
	assert_string_equal(m.serial, "0799-99992");
}

static void
test_master_wrong_sizes_are_rejected(void **state)
{
	static const size_t sizes[] = { 0, 1, 175, 177, 352 };
	uint8_t buf[2 * PO_MASTER_SIZE];
	struct po_master m;
	char err[TPO_ERRLEN];
	size_t i;

	(void)state;
	memset(buf, 0, sizeof(buf));
	tpo_master(buf, "NET", "PO", "3264537", 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(&m, 0xAA, sizeof(m));
		err[0] = '\0';
		assert_int_equal(po_parse_master(buf, sizes[i], &m, err,
		    sizeof(err)), PO_E_MASTER_SIZE);
		assert_true(err[0] != '\0');
		assert_string_equal(m.network, "");
		assert_string_equal(m.postoffice, "");
	}
}

static void
test_master_network_name_without_nul(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	char err[TPO_ERRLEN];

	(void)state;
	tpo_master(buf, "NET", "PO", "3264537", 0);
	memcpy(buf + PO_OFF_NETWORK, "ABCDEFGHIJK", PO_NAME_FIELD);
	assert_int_equal(tpo_master_err(buf, sizeof(buf), err),
	    PO_E_NAME_NONUL);
	assert_non_null(strstr(err, "network"));
	assert_non_null(strstr(err, "70"));
}

static void
test_master_postoffice_name_without_nul(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	char err[TPO_ERRLEN];

	(void)state;
	tpo_master(buf, "NET", "PO", "3264537", 0);
	memcpy(buf + PO_OFF_POSTOFFICE, "ABCDEFGHIJK", PO_NAME_FIELD);
	assert_int_equal(tpo_master_err(buf, sizeof(buf), err),
	    PO_E_NAME_NONUL);
	assert_non_null(strstr(err, "postoffice"));
	assert_non_null(strstr(err, "81"));
}

static void
test_master_names_with_control_characters(void **state)
{
	static const uint8_t ctrl[] = { 0x01, 0x07, 0x0A, 0x1B, 0x1F, 0x7F };
	uint8_t buf[PO_MASTER_SIZE];
	char err[TPO_ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ctrl); i++) {
		tpo_master(buf, "NET", "PO", "3264537", 0);
		buf[PO_OFF_POSTOFFICE + 1] = ctrl[i];
		assert_int_equal(tpo_master_err(buf, sizeof(buf), err),
		    PO_E_NAME_CTRL);
		assert_non_null(strstr(err, "postoffice"));

		tpo_master(buf, "NET", "PO", "3264537", 0);
		buf[PO_OFF_NETWORK] = ctrl[i];
		assert_int_equal(tpo_master_err(buf, sizeof(buf), err),
		    PO_E_NAME_CTRL);
		assert_non_null(strstr(err, "network"));
	}
}

static void
test_master_empty_names(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	char err[TPO_ERRLEN];

	(void)state;
	tpo_master(buf, "NET", "PO", "3264537", 0);
	buf[PO_OFF_NETWORK] = 0;
	assert_int_equal(tpo_master_err(buf, sizeof(buf), err),
	    PO_E_NAME_EMPTY);
	assert_non_null(strstr(err, "network"));

	tpo_master(buf, "NET", "PO", "3264537", 0);
	memset(buf + PO_OFF_POSTOFFICE, 0, PO_NAME_FIELD);
	assert_int_equal(tpo_master_err(buf, sizeof(buf), err),
	    PO_E_NAME_EMPTY);
	assert_non_null(strstr(err, "postoffice"));
}

static void
test_master_error_without_err_buffer(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;
	char err[1] = { 'x' };

	(void)state;
	tpo_master(buf, "NET", "PO", "3264537", 0);
	buf[PO_OFF_NETWORK] = 0;
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_E_NAME_EMPTY);
	assert_int_equal(po_parse_master(buf, 3, &m, NULL, 0),
	    PO_E_MASTER_SIZE);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, err, 0),
	    PO_E_NAME_EMPTY);
	assert_int_equal(err[0], 'x');
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, err, 1),
	    PO_E_NAME_EMPTY);
	assert_int_equal(err[0], '\0');
}

static void
test_master_password_never_appears_in_output(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;
	char err[TPO_ERRLEN];
	int damaged;

	(void)state;
	for (damaged = 0; damaged < 3; damaged++) {
		tpo_master(buf, "NET", "PO", "3264537", 0);
		memcpy(buf + TPO_OFF_PASSWORD, "SECRETSEC", TPO_PASSWORD_LEN);
		if (damaged == 1)
			memcpy(buf + PO_OFF_POSTOFFICE, "ABCDEFGHIJK",
			    PO_NAME_FIELD);
		if (damaged == 2)
			memset(buf + PO_OFF_SERIAL, 0xFF, PO_SERIAL_LEN);
		memset(&m, 0, sizeof(m));
		memset(err, 0, sizeof(err));
		(void)po_parse_master(buf, sizeof(buf), &m, err, sizeof(err));
		assert_null(strstr(m.network, "SECRET"));
		assert_null(strstr(m.postoffice, "SECRET"));
		assert_null(strstr(m.serial, "SECRET"));
		assert_null(strstr(err, "SECRET"));
		assert_null(memmem(&m, sizeof(m), "SECR", 4));
		assert_null(memmem(err, sizeof(err), "SECR", 4));
	}
}

/* --- kind detection ------------------------------------------------------ */

static void
test_kind_wgpo_is_detected_by_flags(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;

	(void)state;
	tpo_master(buf, "WGNET", "WGPO", "079999992", PO_WGPO_FLAGS);
	assert_memory_equal(buf + PO_OFF_SERIAL, tpo_wgpo_raw, PO_SERIAL_LEN);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_OK);
	assert_int_equal(m.kind, PO_KIND_WGPO);
	assert_int_equal(m.flags, 0x14955E5B);
	/* Flags decide even when the serial is a connector's. */
	tpo_master(buf, "WGNET", "WGPO", "2228798", PO_WGPO_FLAGS);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_OK);
	assert_int_equal(m.kind, PO_KIND_WGPO);
}

static void
test_kind_wgpo_serial_without_flags_is_msmail(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;

	(void)state;
	tpo_master(buf, "NET", "PO", "079999992", 0);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_OK);
	assert_string_equal(m.serial, PO_SERIAL_WGPO);
	assert_int_equal(m.kind, PO_KIND_MSMAIL);
}

static void
test_kind_connector_is_detected_by_serial(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;

	(void)state;
	tpo_master(buf, "EXCH", "CONN", "2228798", 0x10);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_OK);
	assert_string_equal(m.serial, PO_SERIAL_CONNECTOR);
	assert_int_equal(m.kind, PO_KIND_CONNECTOR);
}

static void
test_kind_other_serials_are_msmail(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;

	(void)state;
	tpo_master(buf, "NET", "PO", "2228799", 0x14955E5A);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_OK);
	assert_int_equal(m.kind, PO_KIND_MSMAIL);
	memset(buf + PO_OFF_SERIAL, 0xFF, PO_SERIAL_LEN);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_OK);
	assert_int_equal(m.kind, PO_KIND_MSMAIL);
}

static void
test_kind_name_of_every_kind(void **state)
{
	(void)state;
	assert_string_equal(po_kind_name(PO_KIND_MSMAIL), "msmail");
	assert_string_equal(po_kind_name(PO_KIND_WGPO), "wgpo");
	assert_string_equal(po_kind_name(PO_KIND_CONNECTOR), "connector");
	assert_string_equal(po_kind_name(PO_KIND_UNKNOWN), "unknown");
	assert_string_equal(po_kind_name((enum po_kind)42), "unknown");
}

/* --- serial numbers ------------------------------------------------------ */

static void
test_serial_wgpo_template_vector(void **state)
{
	uint8_t raw[PO_SERIAL_LEN];
	char out[PO_SERIAL_DISPLAY], hex[PO_SERIAL_HEX];

	(void)state;
	po_serial_display(tpo_wgpo_raw, out, sizeof(out));
	assert_string_equal(out, "0799-99992");
	assert_int_equal(po_serial_checksum(tpo_wgpo_raw), TPO_WGPO_CHECKSUM);
	po_serial_hex(tpo_wgpo_raw, hex, sizeof(hex));
	assert_string_equal(hex, "66869688661397916400");

	memset(raw, 0xEE, sizeof(raw));
	assert_int_equal(po_serial_encode("0799-99992", raw), 0);
	assert_memory_equal(raw, tpo_wgpo_raw, PO_SERIAL_LEN);
	memset(raw, 0xEE, sizeof(raw));
	assert_int_equal(po_serial_encode(PO_SERIAL_WGPO, raw), 0);
	assert_memory_equal(raw, tpo_wgpo_raw, PO_SERIAL_LEN);
}

static void
test_serial_wgpo_master_parses(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;

	(void)state;
	tpo_master(buf, "NET", "PO", "", PO_WGPO_FLAGS);
	memcpy(buf + PO_OFF_SERIAL, tpo_wgpo_raw, PO_SERIAL_LEN);
	tpo_put16(buf + PO_OFF_CHECKSUM, TPO_WGPO_CHECKSUM);
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_OK);
	assert_string_equal(m.serial, "0799-99992");
	assert_memory_equal(m.serial_raw, tpo_wgpo_raw, PO_SERIAL_LEN);
	assert_int_equal(m.checksum_stored, 0x040F);
	assert_int_equal(m.checksum_computed, 0x040F);
	assert_true(po_checksum_ok(&m));
}

static void
test_serial_connector_round_trip(void **state)
{
	uint8_t raw[PO_SERIAL_LEN], expect[PO_SERIAL_LEN];
	char out[PO_SERIAL_DISPLAY];

	(void)state;
	assert_int_equal(po_serial_encode("22-28798", raw), 0);
	tpo_serial_raw("2228798", expect);
	assert_memory_equal(raw, expect, PO_SERIAL_LEN);
	assert_int_equal(raw[7], 0);
	assert_int_equal(raw[8], 0);
	assert_int_equal(raw[9], 0);
	po_serial_display(raw, out, sizeof(out));
	assert_string_equal(out, "22-28798");
	assert_string_equal(out, PO_SERIAL_CONNECTOR);
}

static void
test_serial_seven_digits_get_a_dash(void **state)
{
	uint8_t raw[PO_SERIAL_LEN], dashed[PO_SERIAL_LEN];
	char out[PO_SERIAL_DISPLAY];

	(void)state;
	tpo_serial_raw("3264537", raw);
	po_serial_display(raw, out, sizeof(out));
	assert_string_equal(out, "32-64537");
	/* Digits only and the dashed form encode the same. */
	assert_int_equal(po_serial_encode("3264537", raw), 0);
	assert_int_equal(po_serial_encode("32-64537", dashed), 0);
	assert_memory_equal(raw, dashed, PO_SERIAL_LEN);
}

static void
test_serial_nine_digits_get_a_dash(void **state)
{
	uint8_t raw[PO_SERIAL_LEN];
	char out[PO_SERIAL_DISPLAY];

	(void)state;
	tpo_serial_raw("123456789", raw);
	po_serial_display(raw, out, sizeof(out));
	assert_string_equal(out, "1234-56789");
	assert_int_equal(po_serial_encode("079999992", raw), 0);
	assert_memory_equal(raw, tpo_wgpo_raw, PO_SERIAL_LEN);
}

static void
test_serial_decoded_text_with_a_dash_is_kept(void **state)
{
	uint8_t raw[PO_SERIAL_LEN], enc[PO_SERIAL_LEN];
	char out[PO_SERIAL_DISPLAY];

	(void)state;
	tpo_serial_raw("12-345", raw);
	po_serial_display(raw, out, sizeof(out));
	assert_string_equal(out, "12-345");
	/* The dash is not five from the end, so it is stored. */
	assert_int_equal(po_serial_encode("12-345", enc), 0);
	assert_memory_equal(enc, raw, PO_SERIAL_LEN);

	tpo_serial_raw("22-28798", raw);
	po_serial_display(raw, out, sizeof(out));
	assert_string_equal(out, "22-28798");
}

static void
test_serial_non_digits_give_raw_hex(void **state)
{
	uint8_t raw[PO_SERIAL_LEN];
	char out[PO_SERIAL_DISPLAY];

	(void)state;
	tpo_serial_raw("12A4567", raw);
	po_serial_display(raw, out, sizeof(out));
	assert_int_equal(strlen(out), 4 + 2 * PO_SERIAL_LEN);
	assert_memory_equal(out, "raw:", 4);
	assert_string_equal(out + 4, "6783ee856a1c99000000");

	memcpy(raw, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x00",
	    PO_SERIAL_LEN);
	po_serial_display(raw, out, sizeof(out));
	assert_string_equal(out, "raw:01020304050607080900");
}

static void
test_serial_wrong_digit_counts_give_raw_hex(void **state)
{
	static const char *texts[] = { "", "1", "123456", "12345678", "-1234",
	    "1234-", "1-2-3" };
	uint8_t raw[PO_SERIAL_LEN];
	char out[PO_SERIAL_DISPLAY];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		tpo_serial_raw(texts[i], raw);
		po_serial_display(raw, out, sizeof(out));
		assert_memory_equal(out, "raw:", 4);
		assert_int_equal(strlen(out), 4 + 2 * PO_SERIAL_LEN);
	}
}

static void
test_serial_without_nul_gives_raw_hex(void **state)
{
	uint8_t raw[PO_SERIAL_LEN];
	char out[PO_SERIAL_DISPLAY];
	size_t i;

	(void)state;
	/* Ten digits fill the field: no NUL, and not 7 or 9 digits. */
	tpo_serial_raw("0123456789", raw);
	for (i = 0; i < PO_SERIAL_LEN; i++)
		assert_int_not_equal(raw[i], 0);
	po_serial_display(raw, out, sizeof(out));
	assert_string_equal(out, "raw:66809d826b1f989f6e88");

	memset(raw, 0xFF, sizeof(raw));
	po_serial_display(raw, out, sizeof(out));
	assert_string_equal(out, "raw:ffffffffffffffffffff");
}

static void
test_serial_hex_is_lower_case(void **state)
{
	static const uint8_t raw[PO_SERIAL_LEN] = {
		0x00, 0x0A, 0xAB, 0xCD, 0xEF, 0xF0, 0x12, 0x9F, 0x80, 0xFF
	};
	char hex[PO_SERIAL_HEX], small[4] = "abc";

	(void)state;
	po_serial_hex(raw, hex, sizeof(hex));
	assert_string_equal(hex, "000aabcdeff0129f80ff");
	po_serial_hex(raw, small, sizeof(small));
	assert_string_equal(small, "");
}

static void
test_serial_encode_rejects_bad_text(void **state)
{
	static const char *bad[] = { "", "12a45", "12 345", "1234567890",
	    "12345678901", "1-2-3", "22-28798x", "+2228798", "0799--99992" };
	uint8_t raw[PO_SERIAL_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(po_serial_encode(bad[i], raw), -1);
}

static void
test_serial_checksum_is_the_byte_sum(void **state)
{
	uint8_t raw[PO_SERIAL_LEN];

	(void)state;
	memset(raw, 0, sizeof(raw));
	assert_int_equal(po_serial_checksum(raw), 0);
	memset(raw, 0xFF, sizeof(raw));
	assert_int_equal(po_serial_checksum(raw), 10 * 0xFF);
	memcpy(raw, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0A", sizeof(raw));
	assert_int_equal(po_serial_checksum(raw), 55);
}

/* --- names --------------------------------------------------------------- */

static void
test_name_cp850_decodes_to_utf8(void **state)
{
	uint8_t field[PO_NAME_FIELD];
	char out[PO_NAME_MAX];

	(void)state;
	memset(field, 0, sizeof(field));
	field[0] = 0x8E;
	field[1] = 0x99;
	field[2] = 'X';
	field[3] = 0x81;
	field[4] = 0xE1;
	assert_int_equal(po_name_decode(field, sizeof(field), out,
	    sizeof(out)), PO_OK);
	assert_string_equal(out, "\xC3\x84\xC3\x96X\xC3\xBC\xC3\x9F");
	assert_string_equal(out, "ÄÖXüß");
}

static void
test_name_cp850_in_master(void **state)
{
	uint8_t buf[PO_MASTER_SIZE];
	struct po_master m;

	(void)state;
	tpo_master(buf, "NET", "PO", "3264537", 0);
	buf[PO_OFF_NETWORK] = 0x8E;
	buf[PO_OFF_POSTOFFICE + 2] = 0x99;
	assert_int_equal(po_parse_master(buf, sizeof(buf), &m, NULL, 0),
	    PO_OK);
	assert_string_equal(m.network, "ÄET");
	assert_string_equal(m.postoffice, "POÖ");
}

static void
test_name_ten_three_byte_characters_fit(void **state)
{
	uint8_t field[PO_NAME_FIELD];
	char out[PO_NAME_MAX];
	size_t i;

	(void)state;
	memset(field, 0xB0, PO_NAME_FIELD - 1);	/* U+2591, 3 bytes each */
	field[PO_NAME_FIELD - 1] = 0;
	assert_int_equal(po_name_decode(field, sizeof(field), out,
	    sizeof(out)), PO_OK);
	assert_int_equal(strlen(out), 30);
	for (i = 0; i < 10; i++)
		assert_memory_equal(out + 3 * i, "\xE2\x96\x91", 3);
}

static void
test_name_decode_errors(void **state)
{
	uint8_t field[PO_NAME_FIELD];
	char out[PO_NAME_MAX];

	(void)state;
	memset(field, 'A', sizeof(field));
	assert_int_equal(po_name_decode(field, sizeof(field), out,
	    sizeof(out)), PO_E_NAME_NONUL);
	memset(field, 0, sizeof(field));
	assert_int_equal(po_name_decode(field, sizeof(field), out,
	    sizeof(out)), PO_E_NAME_EMPTY);
	memcpy(field, "AB\x07", 3);
	assert_int_equal(po_name_decode(field, sizeof(field), out,
	    sizeof(out)), PO_E_NAME_CTRL);
	memcpy(field, "AB\x7F", 3);
	assert_int_equal(po_name_decode(field, sizeof(field), out,
	    sizeof(out)), PO_E_NAME_CTRL);
	/* Bytes after the first NUL are not looked at. */
	memcpy(field, "AB\0\x07\x07", 5);
	assert_int_equal(po_name_decode(field, sizeof(field), out,
	    sizeof(out)), PO_OK);
	assert_string_equal(out, "AB");
	/* A zero-length field has no NUL. */
	assert_int_equal(po_name_decode(field, 0, out, sizeof(out)),
	    PO_E_NAME_NONUL);
	/* An output too small for the UTF-8 form fails, terminated. */
	memcpy(field, "\x8E\x99\0", 3);
	memset(out, 'x', sizeof(out));
	assert_int_not_equal(po_name_decode(field, sizeof(field), out, 3),
	    PO_OK);
	assert_int_equal(out[0], '\0');
	assert_int_not_equal(po_name_decode(field, sizeof(field), out, 0),
	    PO_OK);
}

static void
test_name_encode_writes_cp850(void **state)
{
	uint8_t field[PO_NAME_FIELD];
	static const uint8_t expect[PO_NAME_FIELD] = {
		0x8E, 0x99, 'X', 0, 0, 0, 0, 0, 0, 0, 0
	};

	(void)state;
	memset(field, 0xEE, sizeof(field));
	assert_int_equal(po_name_encode("ÄÖX", field, sizeof(field)), 0);
	assert_memory_equal(field, expect, sizeof(field));
	assert_int_equal(po_name_encode("ABCDEFGHIJ", field, sizeof(field)),
	    0);
	assert_int_equal(field[10], 0);
	assert_int_equal(po_name_encode("ABCDEFGHIJK", field, sizeof(field)),
	    -1);
	assert_int_equal(po_name_encode("\xE2\x82\xAC", field, sizeof(field)),
	    -1);			/* the euro sign is not in cp850 */
	assert_int_equal(po_name_encode("\xFF", field, sizeof(field)), -1);
	assert_int_equal(po_name_encode("A\xC3", field, sizeof(field)), -1);
}

static void
test_name_every_cp850_byte_round_trips(void **state)
{
	uint8_t field[PO_NAME_FIELD], back[PO_NAME_FIELD];
	char out[PO_NAME_MAX];
	unsigned int b;

	(void)state;
	for (b = 0x20; b <= 0xFF; b++) {
		if (b == 0x7F)
			continue;
		memset(field, 0, sizeof(field));
		field[0] = (uint8_t)b;
		assert_int_equal(po_name_decode(field, sizeof(field), out,
		    sizeof(out)), PO_OK);
		assert_int_equal(po_name_encode(out, back, sizeof(back)), 0);
		assert_memory_equal(back, field, sizeof(field));
	}
}

/* --- NETWORK.GLB --------------------------------------------------------- */

static void
test_network_active_and_deleted_records(void **state)
{
	uint8_t buf[4 * PO_NETWORK_RECLEN];
	struct po_network *out = NULL;
	size_t n = 0;
	char err[TPO_ERRLEN];

	(void)state;
	tpo_netrec(buf, 1, 0, "NETB", "0000A001");
	tpo_netrec(buf + PO_NETWORK_RECLEN, 0, 0, "DELNET", "../../x");
	buf[PO_NETWORK_RECLEN + 2] = 0x07;	/* deleted: not looked at */
	tpo_netrec(buf + 2 * PO_NETWORK_RECLEN, 1, 12, "SMTP", "");
	tpo_netrec(buf + 3 * PO_NETWORK_RECLEN, 1, 0x10, "\x8E" "XCH",
	    "0000a0ff");

	assert_int_equal(po_parse_network(buf, sizeof(buf), &out, &n, err,
	    sizeof(err)), PO_OK);
	assert_non_null(out);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].type, 0);
	assert_string_equal(out[0].name, "NETB");
	assert_string_equal(out[0].xtn_id, "0000A001");
	assert_int_equal(out[1].type, 12);
	assert_string_equal(out[1].name, "SMTP");
	assert_string_equal(out[1].xtn_id, "");
	assert_int_equal(out[2].type, 0x10);
	assert_string_equal(out[2].name, "ÄXCH");
	assert_string_equal(out[2].xtn_id, "0000a0ff");
	free(out);
}

static void
test_network_empty_file_has_no_records(void **state)
{
	uint8_t buf[1] = { 0 };
	struct po_network *out = NULL;
	size_t n = 99;

	(void)state;
	assert_int_equal(po_parse_network(buf, 0, &out, &n, NULL, 0), PO_OK);
	assert_int_equal(n, 0);
	free(out);
}

static void
test_network_only_deleted_records(void **state)
{
	uint8_t buf[2 * PO_NETWORK_RECLEN];
	struct po_network *out = NULL;
	size_t n = 99;

	(void)state;
	tpo_netrec(buf, 0, 0, "A", "0000A001");
	tpo_netrec(buf + PO_NETWORK_RECLEN, 0, 0, "B", "0000A002");
	assert_int_equal(po_parse_network(buf, sizeof(buf), &out, &n, NULL, 0),
	    PO_OK);
	assert_int_equal(n, 0);
	free(out);
}

static void
test_network_bad_status_byte(void **state)
{
	static const uint8_t status[] = { 2, 7, 0x80, 0xFF };
	uint8_t buf[2 * PO_NETWORK_RECLEN];
	char err[TPO_ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(status); i++) {
		tpo_netrec(buf, 1, 0, "A", "0000A001");
		tpo_netrec(buf + PO_NETWORK_RECLEN, status[i], 0, "B",
		    "0000A002");
		assert_int_equal(tpo_network_err(buf, sizeof(buf), err),
		    PO_E_RECORD_STATUS);
		assert_non_null(strstr(err, "record 2"));

		tpo_netrec(buf, status[i], 0, "A", "0000A001");
		assert_int_equal(tpo_network_err(buf, sizeof(buf), err),
		    PO_E_RECORD_STATUS);
		assert_non_null(strstr(err, "record 1"));
	}
}

static void
test_network_bad_xtn_ids(void **state)
{
	static const char *ids[] = {
		"0000A00G",	/* not hex */
		"0000A00",	/* 7 digits */
		"0000A001F",	/* 9 digits: no NUL at offset 21 */
		"../x",
		"../../x",
		"0000 001",
		"-000A001",
		"0x00A001"
	};
	uint8_t buf[PO_NETWORK_RECLEN];
	char err[TPO_ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		tpo_netrec(buf, 1, 0, "NETB", "");
		memcpy(buf + TPO_NET_OFF_XTN, ids[i], strlen(ids[i]));
		assert_int_equal(tpo_network_err(buf, sizeof(buf), err),
		    PO_E_XTN_ID);
	}
}

static void
test_network_xtn_id_without_nul(void **state)
{
	uint8_t buf[PO_NETWORK_RECLEN];
	char err[TPO_ERRLEN];

	(void)state;
	tpo_netrec(buf, 1, 0, "NETB", "");
	memset(buf + TPO_NET_OFF_XTN, 'A', PO_NETWORK_RECLEN -
	    TPO_NET_OFF_XTN);
	assert_int_equal(tpo_network_err(buf, sizeof(buf), err), PO_E_XTN_ID);
}

static void
test_network_empty_xtn_id_is_allowed(void **state)
{
	uint8_t buf[PO_NETWORK_RECLEN];
	struct po_network *out = NULL;
	size_t n = 0;

	(void)state;
	tpo_netrec(buf, 1, 100, "GATEWAY", "");
	/* Bytes after an empty id are not part of it. */
	buf[TPO_NET_OFF_XTN + 3] = '!';
	assert_int_equal(po_parse_network(buf, sizeof(buf), &out, &n, NULL, 0),
	    PO_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].xtn_id, "");
	assert_int_equal(out[0].type, 100);
	free(out);
}

static void
test_network_size_not_multiple_of_record(void **state)
{
	static const size_t sizes[] = { 1, 5, 121, 123, 127, 243, 245 };
	uint8_t buf[2 * PO_NETWORK_RECLEN + 1];
	char err[TPO_ERRLEN];
	size_t i;

	(void)state;
	memset(buf, 0, sizeof(buf));
	tpo_netrec(buf, 1, 0, "A", "0000A001");
	tpo_netrec(buf + PO_NETWORK_RECLEN, 1, 0, "B", "0000A002");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		assert_int_equal(tpo_network_err(buf, sizes[i], err),
		    PO_E_NETWORK_SIZE);
}

static void
test_network_damaged_names(void **state)
{
	uint8_t buf[PO_NETWORK_RECLEN];
	char err[TPO_ERRLEN];

	(void)state;
	tpo_netrec(buf, 1, 0, "", "0000A001");
	assert_int_equal(tpo_network_err(buf, sizeof(buf), err),
	    PO_E_NAME_EMPTY);
	tpo_netrec(buf, 1, 0, "A\x07", "0000A001");
	assert_int_equal(tpo_network_err(buf, sizeof(buf), err),
	    PO_E_NAME_CTRL);
	tpo_netrec(buf, 1, 0, "", "0000A001");
	memcpy(buf + 2, "ABCDEFGHIJK", PO_NAME_FIELD);
	assert_int_equal(tpo_network_err(buf, sizeof(buf), err),
	    PO_E_NAME_NONUL);
}

/* --- XTN files ----------------------------------------------------------- */

static void
test_xtn_active_and_deleted_records(void **state)
{
	uint8_t *buf;
	struct po_xtn *out = NULL;
	size_t n = 0;
	char err[TPO_ERRLEN];

	(void)state;
	buf = calloc(3, PO_XTN_RECLEN);
	assert_non_null(buf);
	tpo_xtnrec(buf, 1, "POB", 0);
	tpo_xtnrec(buf + PO_XTN_RECLEN, 0, "OLD", 0);
	buf[PO_XTN_RECLEN + 1] = 0;		/* deleted: not looked at */
	tpo_xtnrec(buf + 2 * PO_XTN_RECLEN, 1, "PO\x99", 0x0102);

	assert_int_equal(po_parse_xtn(buf, 3 * PO_XTN_RECLEN, &out, &n, err,
	    sizeof(err)), PO_OK);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].postoffice, "POB");
	assert_int_equal(out[0].indirect, 0);
	assert_string_equal(out[1].postoffice, "POÖ");
	assert_int_equal(out[1].indirect, 0x0102);
	free(out);
	free(buf);
}

static void
test_xtn_empty_and_all_deleted(void **state)
{
	uint8_t buf[PO_XTN_RECLEN];
	struct po_xtn *out = NULL;
	size_t n = 99;

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(po_parse_xtn(buf, 0, &out, &n, NULL, 0), PO_OK);
	assert_int_equal(n, 0);
	free(out);
	tpo_xtnrec(buf, 0, "GONE", 3);
	n = 99;
	assert_int_equal(po_parse_xtn(buf, sizeof(buf), &out, &n, NULL, 0),
	    PO_OK);
	assert_int_equal(n, 0);
	free(out);
}

static void
test_xtn_size_not_multiple_of_record(void **state)
{
	static const size_t sizes[] = { 1, 3, 697, 699, 701, 1395 };
	uint8_t *buf;
	char err[TPO_ERRLEN];
	size_t i;

	(void)state;
	buf = calloc(1, 2 * PO_XTN_RECLEN + 8);
	assert_non_null(buf);
	tpo_xtnrec(buf, 1, "A", 0);
	tpo_xtnrec(buf + PO_XTN_RECLEN, 1, "B", 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		assert_int_equal(tpo_xtn_err(buf, sizes[i], err),
		    PO_E_XTN_SIZE);
	free(buf);
}

static void
test_xtn_bad_status_and_names(void **state)
{
	uint8_t buf[PO_XTN_RECLEN];
	char err[TPO_ERRLEN];

	(void)state;
	tpo_xtnrec(buf, 2, "POB", 0);
	assert_int_equal(tpo_xtn_err(buf, sizeof(buf), err),
	    PO_E_RECORD_STATUS);
	tpo_xtnrec(buf, 1, "", 0);
	assert_int_equal(tpo_xtn_err(buf, sizeof(buf), err), PO_E_NAME_EMPTY);
	tpo_xtnrec(buf, 1, "P\x1B", 0);
	assert_int_equal(tpo_xtn_err(buf, sizeof(buf), err), PO_E_NAME_CTRL);
	tpo_xtnrec(buf, 1, "", 0);
	memcpy(buf + 1, "ABCDEFGHIJK", PO_NAME_FIELD);
	assert_int_equal(tpo_xtn_err(buf, sizeof(buf), err), PO_E_NAME_NONUL);
}

/* --- names of codes ------------------------------------------------------ */

static void
test_route_type_names(void **state)
{
	static const struct {
		uint8_t		 type;
		const char	*name;
	} cases[] = {
		{ 0, "msmail" },
		{ 0x10, "connector" },
		{ 8, "x400" },
		{ 12, "smtp" },
		{ 14, "mhs" },
		{ 100, "gateway-100" },
		{ 255, "gateway-255" },
		{ 3, "type-3" },
		{ 99, "type-99" }
	};
	char out[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		po_route_type_name(cases[i].type, out, sizeof(out));
		assert_string_equal(out, cases[i].name);
	}
	/* A short buffer truncates and stays terminated. */
	po_route_type_name(100, out, 5);
	assert_string_equal(out, "gate");
}

static void
test_strerror_of_every_code(void **state)
{
	static const enum po_err codes[] = {
		PO_OK, PO_E_MASTER_SIZE, PO_E_NAME_EMPTY, PO_E_NAME_NONUL,
		PO_E_NAME_CTRL, PO_E_NETWORK_SIZE, PO_E_RECORD_STATUS,
		PO_E_XTN_ID, PO_E_XTN_SIZE
	};
	const char *unknown, *s, *t;
	size_t i, j;

	(void)state;
	unknown = po_strerror((enum po_err)99);
	assert_non_null(unknown);
	assert_true(unknown[0] != '\0');
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		s = po_strerror(codes[i]);
		assert_non_null(s);
		assert_true(s[0] != '\0');
		assert_string_not_equal(s, unknown);
		for (j = 0; j < i; j++) {
			t = po_strerror(codes[j]);
			assert_string_not_equal(s, t);
		}
	}
	assert_non_null(strstr(po_strerror(PO_E_MASTER_SIZE), "MASTER.GLB"));
	assert_non_null(strstr(po_strerror(PO_E_NETWORK_SIZE), "122"));
	assert_non_null(strstr(po_strerror(PO_E_XTN_SIZE), "698"));
}

/* --- robustness ---------------------------------------------------------- */

/* xorshift32: deterministic, so a failure can be replayed. */
static uint32_t
tpo_rand(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* Fill buf with bytes that reach past the size checks, or pure noise. */
static void
tpo_fuzz_fill(uint8_t *buf, size_t len, uint32_t *seed, int noise)
{
	static const uint8_t alphabet[] = { 0, 0, 0, 1, 1, 'A', '0', 'f',
	    0x07, 0x7F, 0x8E, 0xB0, 0xFF, '-', '.', '/' };
	size_t i;

	for (i = 0; i < len; i++) {
		if (noise)
			buf[i] = (uint8_t)tpo_rand(seed);
		else
			buf[i] = alphabet[tpo_rand(seed) % sizeof(alphabet)];
	}
}

/* Check that a returned string is terminated inside its array. */
static void
tpo_check_str(const char *s, size_t size)
{
	assert_non_null(memchr(s, '\0', size));
}

static void
tpo_fuzz_one(const uint8_t *buf, size_t len)
{
	struct po_master m;
	struct po_network *nw;
	struct po_xtn *xt;
	char err[TPO_ERRLEN];
	size_t i, n;

	if (po_parse_master(buf, len, &m, err, sizeof(err)) == PO_OK) {
		assert_int_equal(len, PO_MASTER_SIZE);
		tpo_check_str(m.network, sizeof(m.network));
		tpo_check_str(m.postoffice, sizeof(m.postoffice));
		tpo_check_str(m.serial, sizeof(m.serial));
		assert_true(m.network[0] != '\0');
		assert_true(m.postoffice[0] != '\0');
		assert_int_equal(m.checksum_computed,
		    po_serial_checksum(buf + PO_OFF_SERIAL));
		(void)po_kind_name(m.kind);
	} else
		tpo_check_str(err, sizeof(err));

	if (po_parse_network(buf, len, &nw, &n, err, sizeof(err)) == PO_OK) {
		assert_true(n <= len / PO_NETWORK_RECLEN);
		for (i = 0; i < n; i++) {
			tpo_check_str(nw[i].name, sizeof(nw[i].name));
			tpo_check_str(nw[i].xtn_id, sizeof(nw[i].xtn_id));
			assert_true(strlen(nw[i].xtn_id) == 0 ||
			    strlen(nw[i].xtn_id) == PO_XTN_ID_LEN);
		}
		free(nw);
	} else {
		assert_null(nw);
		assert_int_equal(n, 0);
	}

	if (po_parse_xtn(buf, len, &xt, &n, err, sizeof(err)) == PO_OK) {
		assert_true(n <= len / PO_XTN_RECLEN);
		for (i = 0; i < n; i++)
			tpo_check_str(xt[i].postoffice,
			    sizeof(xt[i].postoffice));
		free(xt);
	} else {
		assert_null(xt);
		assert_int_equal(n, 0);
	}
}

static void
test_random_buffers_do_not_crash_the_parsers(void **state)
{
	static const size_t recs[] = { PO_MASTER_SIZE, PO_NETWORK_RECLEN,
	    PO_XTN_RECLEN };
	uint32_t seed = 0x5EED1234;
	uint8_t *buf, raw[PO_SERIAL_LEN], field[PO_NAME_FIELD];
	char out[PO_SERIAL_DISPLAY], name[PO_NAME_MAX];
	size_t len, r;
	int round, noise;

	(void)state;
	for (round = 0; round < TPO_FUZZ_ROUNDS; round++) {
		len = tpo_rand(&seed) % (TPO_FUZZ_MAXLEN + 1);
		noise = round % 4 == 0 || round % 4 == 2;
		if (round % 4 == 1 || round % 4 == 2) {
			/* Whole records get past the size checks. */
			r = recs[tpo_rand(&seed) % 3];
			len = r == PO_MASTER_SIZE ? r : len / r * r;
		}
		/* Exactly len bytes, so ASan sees any read past the end. */
		buf = malloc(len > 0 ? len : 1);
		assert_non_null(buf);
		tpo_fuzz_fill(buf, len, &seed, noise);
		tpo_fuzz_one(buf, len);
		free(buf);

		tpo_fuzz_fill(raw, sizeof(raw), &seed, noise);
		po_serial_display(raw, out, sizeof(out));
		tpo_check_str(out, sizeof(out));
		tpo_fuzz_fill(field, sizeof(field), &seed, noise);
		if (po_name_decode(field, sizeof(field), name, sizeof(name)) ==
		    PO_OK)
			assert_int_equal(po_name_encode(name, field,
			    sizeof(field)), 0);
		tpo_check_str(name, sizeof(name));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_master_reads_every_field_at_its_offset),
		cmocka_unit_test(test_master_offsets_match_the_format),
		cmocka_unit_test(test_master_flags_are_little_endian),
		cmocka_unit_test(test_master_single_byte_fields_do_not_overlap),
		cmocka_unit_test(test_master_ten_character_names),
		cmocka_unit_test(test_master_checksum_mismatch_is_not_an_error),
		cmocka_unit_test(test_master_wrong_sizes_are_rejected),
		cmocka_unit_test(test_master_network_name_without_nul),
		cmocka_unit_test(test_master_postoffice_name_without_nul),
		cmocka_unit_test(test_master_names_with_control_characters),
		cmocka_unit_test(test_master_empty_names),
		cmocka_unit_test(test_master_error_without_err_buffer),
		cmocka_unit_test(test_master_password_never_appears_in_output),
		cmocka_unit_test(test_kind_wgpo_is_detected_by_flags),
		cmocka_unit_test(test_kind_wgpo_serial_without_flags_is_msmail),
		cmocka_unit_test(test_kind_connector_is_detected_by_serial),
		cmocka_unit_test(test_kind_other_serials_are_msmail),
		cmocka_unit_test(test_kind_name_of_every_kind),
		cmocka_unit_test(test_serial_wgpo_template_vector),
		cmocka_unit_test(test_serial_wgpo_master_parses),
		cmocka_unit_test(test_serial_connector_round_trip),
		cmocka_unit_test(test_serial_seven_digits_get_a_dash),
		cmocka_unit_test(test_serial_nine_digits_get_a_dash),
		cmocka_unit_test(test_serial_decoded_text_with_a_dash_is_kept),
		cmocka_unit_test(test_serial_non_digits_give_raw_hex),
		cmocka_unit_test(test_serial_wrong_digit_counts_give_raw_hex),
		cmocka_unit_test(test_serial_without_nul_gives_raw_hex),
		cmocka_unit_test(test_serial_hex_is_lower_case),
		cmocka_unit_test(test_serial_encode_rejects_bad_text),
		cmocka_unit_test(test_serial_checksum_is_the_byte_sum),
		cmocka_unit_test(test_name_cp850_decodes_to_utf8),
		cmocka_unit_test(test_name_cp850_in_master),
		cmocka_unit_test(test_name_ten_three_byte_characters_fit),
		cmocka_unit_test(test_name_decode_errors),
		cmocka_unit_test(test_name_encode_writes_cp850),
		cmocka_unit_test(test_name_every_cp850_byte_round_trips),
		cmocka_unit_test(test_network_active_and_deleted_records),
		cmocka_unit_test(test_network_empty_file_has_no_records),
		cmocka_unit_test(test_network_only_deleted_records),
		cmocka_unit_test(test_network_bad_status_byte),
		cmocka_unit_test(test_network_bad_xtn_ids),
		cmocka_unit_test(test_network_xtn_id_without_nul),
		cmocka_unit_test(test_network_empty_xtn_id_is_allowed),
		cmocka_unit_test(test_network_size_not_multiple_of_record),
		cmocka_unit_test(test_network_damaged_names),
		cmocka_unit_test(test_xtn_active_and_deleted_records),
		cmocka_unit_test(test_xtn_empty_and_all_deleted),
		cmocka_unit_test(test_xtn_size_not_multiple_of_record),
		cmocka_unit_test(test_xtn_bad_status_and_names),
		cmocka_unit_test(test_route_type_names),
		cmocka_unit_test(test_strerror_of_every_code),
		cmocka_unit_test(test_random_buffers_do_not_crash_the_parsers),
	};

	return cmocka_run_group_tests_name("po", tests, NULL, NULL);
}
