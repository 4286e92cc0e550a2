/*
 * po: parse the files of an MS Mail postoffice (MASTER.GLB, NETWORK.GLB,
 * XTN files) from memory.  See po.h for the contract; the layout is
 * described in the README section "The postoffice on disk".
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "po.h"
#include "log.h"
#include "xmalloc.h"

/*
 * The serial is stored as ASCII digits XORed with this repeating key,
 * followed by a raw NUL.  Observed on the WGPO template (0799-99992).
 */
static const uint8_t po_serial_key[8] = {
	0x56, 0xB1, 0xAF, 0xB1, 0x5F, 0x2A, 0xAE, 0xA8
};

/* Unicode code points of cp850 bytes 0x80..0xFF. */
static const uint16_t po_cp850[128] = {
	0x00c7, 0x00fc, 0x00e9, 0x00e2, 0x00e4, 0x00e0, 0x00e5, 0x00e7,	/* 0x80 */
	0x00ea, 0x00eb, 0x00e8, 0x00ef, 0x00ee, 0x00ec, 0x00c4, 0x00c5,	/* 0x88 */
	0x00c9, 0x00e6, 0x00c6, 0x00f4, 0x00f6, 0x00f2, 0x00fb, 0x00f9,	/* 0x90 */
	0x00ff, 0x00d6, 0x00dc, 0x00f8, 0x00a3, 0x00d8, 0x00d7, 0x0192,	/* 0x98 */
	0x00e1, 0x00ed, 0x00f3, 0x00fa, 0x00f1, 0x00d1, 0x00aa, 0x00ba,	/* 0xA0 */
	0x00bf, 0x00ae, 0x00ac, 0x00bd, 0x00bc, 0x00a1, 0x00ab, 0x00bb,	/* 0xA8 */
	0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x00c1, 0x00c2, 0x00c0,	/* 0xB0 */
	0x00a9, 0x2563, 0x2551, 0x2557, 0x255d, 0x00a2, 0x00a5, 0x2510,	/* 0xB8 */
	0x2514, 0x2534, 0x252c, 0x251c, 0x2500, 0x253c, 0x00e3, 0x00c3,	/* 0xC0 */
	0x255a, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256c, 0x00a4,	/* 0xC8 */
	0x00f0, 0x00d0, 0x00ca, 0x00cb, 0x00c8, 0x0131, 0x00cd, 0x00ce,	/* 0xD0 */
	0x00cf, 0x2518, 0x250c, 0x2588, 0x2584, 0x00a6, 0x00cc, 0x2580,	/* 0xD8 */
	0x00d3, 0x00df, 0x00d4, 0x00d2, 0x00f5, 0x00d5, 0x00b5, 0x00fe,	/* 0xE0 */
	0x00de, 0x00da, 0x00db, 0x00d9, 0x00fd, 0x00dd, 0x00af, 0x00b4,	/* 0xE8 */
	0x00ad, 0x00b1, 0x2017, 0x00be, 0x00b6, 0x00a7, 0x00f7, 0x00b8,	/* 0xF0 */
	0x00b0, 0x00a8, 0x00b7, 0x00b9, 0x00b3, 0x00b2, 0x25a0, 0x00a0,	/* 0xF8 */
};

static uint16_t
po_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
po_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	    ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Append code point cp as UTF-8 to out at *o; returns -1 if it won't fit. */
static int
po_utf8_put(uint32_t cp, char *out, size_t outlen, size_t *o)
{
	uint8_t b[3];
	size_t n, i;

	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xC0 | (cp >> 6));
		b[1] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 2;
	} else {
		b[0] = (uint8_t)(0xE0 | (cp >> 12));
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 3;
	}
	if (*o + n >= outlen)
		return -1;
	for (i = 0; i < n; i++)
		out[(*o)++] = (char)b[i];
	return 0;
}

/* Decode a cp850 name field of fieldlen bytes into UTF-8 out (PO_NAME_MAX). */
enum po_err
po_name_decode(const uint8_t *field, size_t fieldlen, char *out,
    size_t outlen)
{
	const uint8_t *nul;
	size_t i, n, o = 0;

	if (outlen == 0)
		return PO_E_NAME_NONUL;
	out[0] = '\0';
	nul = memchr(field, 0, fieldlen);
	if (nul == NULL)
		return PO_E_NAME_NONUL;
	n = (size_t)(nul - field);
	if (n == 0)
		return PO_E_NAME_EMPTY;
	for (i = 0; i < n; i++) {
		uint8_t c = field[i];

		if (c < 0x20 || c == 0x7F) {
			out[0] = '\0';
			return PO_E_NAME_CTRL;
		}
		if (po_utf8_put(c < 0x80 ? c : po_cp850[c - 0x80], out,
		    outlen, &o) == -1) {
			out[0] = '\0';
			return PO_E_NAME_NONUL;
		}
	}
	out[o] = '\0';
	return PO_OK;
}

/* Decode one UTF-8 sequence at *s; returns the code point or -1. */
static long
po_utf8_get(const char **s)
{
	const uint8_t *p = (const uint8_t *)*s;
	long cp;
	int n, i;

	if (p[0] < 0x80) {
		*s += 1;
		return p[0];
	}
	if ((p[0] & 0xE0) == 0xC0) {
		cp = p[0] & 0x1F;
		n = 1;
	} else if ((p[0] & 0xF0) == 0xE0) {
		cp = p[0] & 0x0F;
		n = 2;
	} else
		return -1;
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	/* Refuse overlong forms (C0 80 would smuggle a NUL into a name). */
	if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800))
		return -1;
	*s += n + 1;
	return cp;
}

/*
 * Return a malloc'd copy of the UTF-8 text s in upper case as MS Mail
 * compares names in code page 850: a-z, and the Latin-1 letters U+00E0 to
 * U+00FE (all of which cp850 has in both cases), but for the division
 * sign; everything else, bytes that are not UTF-8 included, is kept.
 */
char *
po_name_upper(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *out = xmalloc(len + 1);
	const char *q;
	long cp;

	while (*s != '\0') {
		q = s;
		cp = po_utf8_get(&q);
		if (cp >= 'a' && cp <= 'z') {
			out[o++] = (char)(cp - 0x20);
			s = q;
		} else if (cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) {
			/* Two bytes both ways: U+00C0..U+00DE. */
			cp -= 0x20;
			out[o++] = (char)(0xC0 | (cp >> 6));
			out[o++] = (char)(0x80 | (cp & 0x3F));
			s = q;
		} else if (cp == -1)
			out[o++] = *s++;
		else
			while (s < q)
				out[o++] = *s++;
	}
	out[o] = '\0';
	return out;
}

/* Encode a UTF-8 name into a cp850 field of fieldlen bytes, NUL padded. */
int
po_name_encode(const char *name, uint8_t *field, size_t fieldlen)
{
	size_t o = 0;
	long cp;
	int i;

	memset(field, 0, fieldlen);
	while (*name != '\0') {
		if ((cp = po_utf8_get(&name)) < 0)
			return -1;
		if (o + 1 >= fieldlen)
			return -1;
		if (cp < 0x80) {
			field[o++] = (uint8_t)cp;
			continue;
		}
		for (i = 0; i < 128; i++)
			if (po_cp850[i] == cp)
				break;
		if (i == 128)
			return -1;
		field[o++] = (uint8_t)(0x80 + i);
	}
	return 0;
}

/*
 * Write the 20 lower-case hex digits of a raw serial into out
 * (PO_SERIAL_HEX).
 */
void
po_serial_hex(const uint8_t raw[PO_SERIAL_LEN], char *out, size_t outlen)
{
	static const char hexdig[] = "0123456789abcdef";
	size_t i;

	if (outlen < PO_SERIAL_HEX) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	for (i = 0; i < PO_SERIAL_LEN; i++) {
		out[2 * i] = hexdig[raw[i] >> 4];
		out[2 * i + 1] = hexdig[raw[i] & 0x0F];
	}
	out[2 * PO_SERIAL_LEN] = '\0';
}

/*
 * Write the display form of a raw serial into out: "22-28798" style where
 * the decoded text is 7 or 9 digits or already has a dash, else "raw:" and
 * 20 hex digits.
 */
void
po_serial_display(const uint8_t raw[PO_SERIAL_LEN], char *out, size_t outlen)
{
	char text[PO_SERIAL_LEN + 1];
	size_t n, digits = 0, dashes = 0;

	for (n = 0; n < PO_SERIAL_LEN && raw[n] != 0; n++) {
		text[n] = (char)(raw[n] ^ po_serial_key[n % 8]);
		if (text[n] >= '0' && text[n] <= '9')
			digits++;
		else if (text[n] == '-')
			dashes++;
	}
	text[n] = '\0';

	if (digits == n && (n == 7 || n == 9)) {
		snprintf(out, outlen, "%.*s-%s", (int)(n - 5), text,
		    text + n - 5);
		return;
	}
	if (dashes == 1 && digits + 1 == n && text[0] != '-' &&
	    text[n - 1] != '-') {
		snprintf(out, outlen, "%s", text);
		return;
	}
	if (outlen < 4 + PO_SERIAL_HEX) {
		if (outlen > 0)
			out[0] = '\0';
		return;
	}
	memcpy(out, "raw:", 4);
	po_serial_hex(raw, out + 4, outlen - 4);
}

/*
 * Encode a serial written "xx-yyyyy" or digits only into its raw form (the
 * inverse of po_serial_display).
 */
int
po_serial_encode(const char *text, uint8_t raw[PO_SERIAL_LEN])
{
	char digits[PO_SERIAL_LEN + 1];
	const char *dash;
	size_t i, n = 0, len = strlen(text);

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)text[i]) && text[i] != '-')
			return -1;
	dash = strchr(text, '-');
	if (dash != NULL && strchr(dash + 1, '-') != NULL)
		return -1;
	/*
	 * A dash five digits from the end is the display convention and is
	 * not stored; any other dash is part of the stored text.
	 */
	for (i = 0; i < len; i++) {
		if (text[i] == '-' && text + i == dash &&
		    strlen(dash + 1) == 5 && (len - 1 == 7 || len - 1 == 9))
			continue;
		if (n >= PO_SERIAL_LEN - 1)
			return -1;
		digits[n++] = text[i];
	}
	memset(raw, 0, PO_SERIAL_LEN);
	for (i = 0; i < n; i++)
		raw[i] = (uint8_t)digits[i] ^ po_serial_key[i % 8];
	return 0;
}

/* Return the sum of the raw serial bytes, as stored at offset 132. */
uint16_t
po_serial_checksum(const uint8_t raw[PO_SERIAL_LEN])
{
	uint16_t sum = 0;
	size_t i;

	for (i = 0; i < PO_SERIAL_LEN; i++)
		sum = (uint16_t)(sum + raw[i]);
	return sum;
}

/* Return 1 if the master's stored serial checksum matches its serial bytes. */
int
po_checksum_ok(const struct po_master *m)
{
	return m->checksum_stored == m->checksum_computed;
}

/* Return "msmail", "wgpo", "connector" or "unknown". */
const char *
po_kind_name(enum po_kind kind)
{
	switch (kind) {
	case PO_KIND_MSMAIL:
		return "msmail";
	case PO_KIND_WGPO:
		return "wgpo";
	case PO_KIND_CONNECTOR:
		return "connector";
	case PO_KIND_UNKNOWN:
		break;
	}
	return "unknown";
}

/*
 * Write the name of a NETWORK.GLB record type into out: "msmail",
 * "connector", "x400", "smtp", "mhs", or "gateway-N" / "type-N".
 */
void
po_route_type_name(uint8_t type, char *out, size_t outlen)
{
	switch (type) {
	case 0:
		snprintf(out, outlen, "msmail");
		break;
	case 0x10:
		snprintf(out, outlen, "connector");
		break;
	case 8:
		snprintf(out, outlen, "x400");
		break;
	case 12:
		snprintf(out, outlen, "smtp");
		break;
	case 14:
		snprintf(out, outlen, "mhs");
		break;
	default:
		snprintf(out, outlen, "%s-%u", type >= 100 ? "gateway" : "type",
		    type);
		break;
	}
}

/* Return a short fixed description of an error code. */
const char *
po_strerror(enum po_err e)
{
	switch (e) {
	case PO_OK:
		return "no error";
	case PO_E_MASTER_SIZE:
		return "MASTER.GLB has the wrong size";
	case PO_E_NAME_EMPTY:
		return "name is empty";
	case PO_E_NAME_NONUL:
		return "name has no terminating NUL";
	case PO_E_NAME_CTRL:
		return "name holds a control character";
	case PO_E_NETWORK_SIZE:
		return "NETWORK.GLB size is not a multiple of 122";
	case PO_E_RECORD_STATUS:
		return "record status byte is neither 0 nor 1";
	case PO_E_XTN_ID:
		return "XTN id is not 8 hex digits";
	case PO_E_XTN_SIZE:
		return "XTN file size is not a multiple of 698";
	}
	return "unknown error";
}

/* Decode a name field and describe a failure with what and offset. */
static enum po_err
po_name_field(const uint8_t *buf, size_t off, const char *what, char *out,
    char *err, size_t errlen)
{
	enum po_err e;

	e = po_name_decode(buf + off, PO_NAME_FIELD, out, PO_NAME_MAX);
	if (e != PO_OK)
		errbuf_set(err, errlen, "%s (offset %zu): %s", what, off,
		    po_strerror(e));
	return e;
}

/* Parse MASTER.GLB from buf[0..len). */
enum po_err
po_parse_master(const uint8_t *buf, size_t len, struct po_master *m,
    char *err, size_t errlen)
{
	enum po_err e;

	memset(m, 0, sizeof(*m));
	if (len != PO_MASTER_SIZE) {
		errbuf_set(err, errlen, "MASTER.GLB is %zu bytes, not %d", len,
		    PO_MASTER_SIZE);
		return PO_E_MASTER_SIZE;
	}
	if ((e = po_name_field(buf, PO_OFF_NETWORK, "network name",
	    m->network, err, errlen)) != PO_OK)
		return e;
	if ((e = po_name_field(buf, PO_OFF_POSTOFFICE, "postoffice name",
	    m->postoffice, err, errlen)) != PO_OK) {
		m->network[0] = '\0';
		return e;
	}
	/* Offsets 92..131 hold the administrator account: never read. */
	memcpy(m->serial_raw, buf + PO_OFF_SERIAL, PO_SERIAL_LEN);
	po_serial_display(m->serial_raw, m->serial, sizeof(m->serial));
	m->checksum_stored = po_le16(buf + PO_OFF_CHECKSUM);
	m->checksum_computed = po_serial_checksum(m->serial_raw);
	m->flags = po_le32(buf + PO_OFF_FLAGS);
	m->nos_type = buf[PO_OFF_NOS];
	m->db_version = buf[PO_OFF_DBVERSION];
	m->product_version = buf[PO_OFF_PRODVERSION];
	if (m->flags == PO_WGPO_FLAGS)
		m->kind = PO_KIND_WGPO;
	else if (strcmp(m->serial, PO_SERIAL_CONNECTOR) == 0)
		m->kind = PO_KIND_CONNECTOR;
	else
		m->kind = PO_KIND_MSMAIL;
	return PO_OK;
}

/* Check a record's status byte: 1 active, 0 deleted, else damage. */
static enum po_err
po_record_status(const uint8_t *rec, size_t i, size_t off, int *active,
    char *err, size_t errlen)
{
	if (rec[0] > 1) {
		errbuf_set(err, errlen, "record %zu (offset %zu): status byte "
		    "0x%02x is neither 0 nor 1", i + 1, off, rec[0]);
		return PO_E_RECORD_STATUS;
	}
	*active = rec[0] == 1;
	return PO_OK;
}

/* Parse NETWORK.GLB. */
enum po_err
po_parse_network(const uint8_t *buf, size_t len, struct po_network **out,
    size_t *n, char *err, size_t errlen)
{
	struct po_network *v = NULL;
	size_t i, j, nrec, nv = 0;
	enum po_err e;
	int active;

	*out = NULL;
	*n = 0;
	if (len % PO_NETWORK_RECLEN != 0) {
		errbuf_set(err, errlen, "NETWORK.GLB is %zu bytes, not a "
		    "multiple of %d", len, PO_NETWORK_RECLEN);
		return PO_E_NETWORK_SIZE;
	}
	nrec = len / PO_NETWORK_RECLEN;
	if (nrec > 0)
		v = xcalloc(nrec, sizeof(*v));
	for (i = 0; i < nrec; i++) {
		const uint8_t *rec = buf + i * PO_NETWORK_RECLEN;
		size_t off = i * PO_NETWORK_RECLEN;
		struct po_network *nw = &v[nv];
		char what[64];

		if ((e = po_record_status(rec, i, off, &active, err,
		    errlen)) != PO_OK)
			goto fail;
		if (!active)
			continue;
		nw->type = rec[1];
		snprintf(what, sizeof(what), "record %zu network name", i + 1);
		if ((e = po_name_field(buf, off + 2, what, nw->name, err,
		    errlen)) != PO_OK)
			goto fail;
		if (rec[13] != 0) {
			for (j = 0; j < PO_XTN_ID_LEN; j++)
				if (!isxdigit(rec[13 + j]))
					break;
			if (j != PO_XTN_ID_LEN || rec[13 + PO_XTN_ID_LEN] != 0) {
				errbuf_set(err, errlen, "record %zu (offset %zu):"
				    " XTN id is not 8 hex digits", i + 1,
				    off + 13);
				e = PO_E_XTN_ID;
				goto fail;
			}
			memcpy(nw->xtn_id, rec + 13, PO_XTN_ID_LEN);
			nw->xtn_id[PO_XTN_ID_LEN] = '\0';
		}
		nv++;
	}
	*out = v;
	*n = nv;
	if (nv == 0) {
		free(v);
		*out = NULL;
	}
	return PO_OK;
fail:
	free(v);
	return e;
}

/* Parse one XTN file. */
enum po_err
po_parse_xtn(const uint8_t *buf, size_t len, struct po_xtn **out, size_t *n,
    char *err, size_t errlen)
{
	struct po_xtn *v = NULL;
	size_t i, nrec, nv = 0;
	enum po_err e;
	int active;

	*out = NULL;
	*n = 0;
	if (len % PO_XTN_RECLEN != 0) {
		errbuf_set(err, errlen, "XTN file is %zu bytes, not a multiple "
		    "of %d", len, PO_XTN_RECLEN);
		return PO_E_XTN_SIZE;
	}
	nrec = len / PO_XTN_RECLEN;
	if (nrec > 0)
		v = xcalloc(nrec, sizeof(*v));
	for (i = 0; i < nrec; i++) {
		const uint8_t *rec = buf + i * PO_XTN_RECLEN;
		size_t off = i * PO_XTN_RECLEN;
		char what[64];

		if ((e = po_record_status(rec, i, off, &active, err,
		    errlen)) != PO_OK)
			goto fail;
		if (!active)
			continue;
		snprintf(what, sizeof(what), "record %zu postoffice name",
		    i + 1);
		if ((e = po_name_field(buf, off + 1, what, v[nv].postoffice,
		    err, errlen)) != PO_OK)
			goto fail;
		v[nv].indirect = po_le16(rec + 649);
		nv++;
	}
	*out = v;
	*n = nv;
	if (nv == 0) {
		free(v);
		*out = NULL;
	}
	return PO_OK;
fail:
	free(v);
	return e;
}
