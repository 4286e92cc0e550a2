/*
 * po: the MS Mail postoffice parser.  It decodes GLB\MASTER.GLB,
 * GLB\NETWORK.GLB and XTN\<id>.XTN from memory buffers and does no I/O, so
 * the bytes it is given may be anything: every function checks every length
 * before it reads and reports damage as an error code with a message.
 *
 * Names on disk are code page 850; the parser returns them as UTF-8.  The
 * administrator password field of MASTER.GLB is never read.
 */
#ifndef MAILDAT_PO_H
#define MAILDAT_PO_H

#include <stddef.h>
#include <stdint.h>

#define PO_MASTER_SIZE		176	/* MASTER.GLB is exactly this long */
#define PO_NETWORK_RECLEN	122	/* NETWORK.GLB record */
#define PO_XTN_RECLEN		698	/* XTN record */
#define PO_NAME_FIELD		11	/* a name field: 10 characters + NUL */
#define PO_NAME_MAX		(10 * 3 + 1)	/* a name as UTF-8, with NUL */
#define PO_SERIAL_LEN		10	/* raw serial bytes */
#define PO_SERIAL_HEX		(PO_SERIAL_LEN * 2 + 1)
#define PO_SERIAL_DISPLAY	32	/* "22-28798", or "raw:" + 20 hex */
#define PO_XTN_ID_LEN		8	/* hex digits naming an XTN file */
#define PO_WGPO_FLAGS		0x14955E5Bu

/* Offsets in MASTER.GLB (see doc/postoffice-format in the README). */
#define PO_OFF_NETWORK		70
#define PO_OFF_POSTOFFICE	81
#define PO_OFF_CHECKSUM		132
#define PO_OFF_SERIAL		134
#define PO_OFF_FLAGS		146
#define PO_OFF_NOS		150
#define PO_OFF_DBVERSION	169
#define PO_OFF_PRODVERSION	170

/* The serial every Exchange MS Mail Connector postoffice carries (Q151228). */
#define PO_SERIAL_CONNECTOR	"22-28798"
/* The serial every Windows for Workgroups postoffice carries (Q132560). */
#define PO_SERIAL_WGPO		"0799-99992"

enum po_kind {
	PO_KIND_UNKNOWN = 0,
	PO_KIND_MSMAIL,
	PO_KIND_WGPO,
	PO_KIND_CONNECTOR
};

/* Results of the parse functions.  Each names one kind of damage. */
enum po_err {
	PO_OK = 0,
	PO_E_MASTER_SIZE,	/* MASTER.GLB is not 176 bytes */
	PO_E_NAME_EMPTY,	/* a name field starts with NUL */
	PO_E_NAME_NONUL,	/* a name field has no NUL in its 11 bytes */
	PO_E_NAME_CTRL,		/* a name holds a control character */
	PO_E_NETWORK_SIZE,	/* NETWORK.GLB is not a multiple of 122 */
	PO_E_RECORD_STATUS,	/* a record's status byte is neither 0 nor 1 */
	PO_E_XTN_ID,		/* an XTN id is not 8 hex digits + NUL */
	PO_E_XTN_SIZE		/* an XTN file is not a multiple of 698 */
};

/* The identity of a postoffice, from MASTER.GLB. */
struct po_master {
	char		network[PO_NAME_MAX];	/* UTF-8, as on disk */
	char		postoffice[PO_NAME_MAX];
	uint8_t		serial_raw[PO_SERIAL_LEN]; /* compare these */
	char		serial[PO_SERIAL_DISPLAY]; /* display form */
	uint16_t	checksum_stored;	/* uint16 at offset 132 */
	uint16_t	checksum_computed;	/* sum of the raw serial bytes */
	uint32_t	flags;			/* installed components */
	uint8_t		nos_type;		/* 1 MS-Net/LAN Manager, 2 NetWare */
	uint8_t		db_version;
	uint8_t		product_version;	/* 0 = 2.0, 1 = 2.1, 2 = 3.x */
	enum po_kind	kind;
};

/* An active NETWORK.GLB record: a network or gateway this postoffice knows. */
struct po_network {
	uint8_t		type;			/* 0 MS Mail, 0x10 connector, ... */
	char		name[PO_NAME_MAX];
	char		xtn_id[PO_XTN_ID_LEN + 1]; /* "" when the record has none */
};

/* An active XTN record: a postoffice of one external network. */
struct po_xtn {
	char		postoffice[PO_NAME_MAX];
	uint16_t	indirect;		/* postoffices reached through it */
};

/*
 * Parse MASTER.GLB from buf[0..len).  On PO_OK *m is filled in; otherwise
 * err holds a message naming the field and offset.  A serial checksum
 * mismatch is not an error: compare m->checksum_stored and _computed.
 */
enum po_err	po_parse_master(const uint8_t *buf, size_t len,
		    struct po_master *m, char *err, size_t errlen);

/*
 * Parse NETWORK.GLB.  On PO_OK *out is a malloc'd array of the *n active
 * records (deleted ones are skipped; free it with free()); otherwise *out is
 * NULL and err says which record is damaged.
 */
enum po_err	po_parse_network(const uint8_t *buf, size_t len,
		    struct po_network **out, size_t *n, char *err, size_t errlen);

/*
 * Parse one XTN file.  On PO_OK *out is a malloc'd array of the *n active
 * records; otherwise *out is NULL and err names the damage.
 */
enum po_err	po_parse_xtn(const uint8_t *buf, size_t len,
		    struct po_xtn **out, size_t *n, char *err, size_t errlen);

/* Return 1 if the master's stored serial checksum matches its serial bytes. */
int		po_checksum_ok(const struct po_master *m);

/*
 * Write the display form of a raw serial into out: "22-28798" style where
 * the decoded text is 7 or 9 digits or already has a dash, else "raw:" and
 * 20 hex digits.  outlen must be at least PO_SERIAL_DISPLAY.
 */
void		po_serial_display(const uint8_t raw[PO_SERIAL_LEN], char *out,
		    size_t outlen);

/* Write the 20 lower-case hex digits of a raw serial into out (PO_SERIAL_HEX). */
void		po_serial_hex(const uint8_t raw[PO_SERIAL_LEN], char *out,
		    size_t outlen);

/*
 * Encode a serial written "xx-yyyyy" or digits only into its raw form (the
 * inverse of po_serial_display).  Returns 0, or -1 when the text holds
 * anything but digits and dashes or is longer than 9 characters.
 */
int		po_serial_encode(const char *text, uint8_t raw[PO_SERIAL_LEN]);

/* Return the sum of the raw serial bytes, as stored at offset 132. */
uint16_t	po_serial_checksum(const uint8_t raw[PO_SERIAL_LEN]);

/* Return "msmail", "wgpo", "connector" or "unknown". */
const char	*po_kind_name(enum po_kind kind);

/*
 * Write the name of a NETWORK.GLB record type into out: "msmail",
 * "connector", "x400", "smtp", "mhs", or "gateway-N" / "type-N".
 */
void		po_route_type_name(uint8_t type, char *out, size_t outlen);

/* Return a short fixed description of an error code. */
const char	*po_strerror(enum po_err e);

/*
 * Decode a cp850 name field of fieldlen bytes into UTF-8 out (PO_NAME_MAX).
 * Returns PO_OK, PO_E_NAME_EMPTY, PO_E_NAME_NONUL or PO_E_NAME_CTRL.
 */
enum po_err	po_name_decode(const uint8_t *field, size_t fieldlen,
		    char *out, size_t outlen);

/*
 * Return a malloc'd copy of UTF-8 text s upper-cased as MS Mail compares
 * names in code page 850: ASCII letters and the Latin-1 letters that cp850
 * holds in both cases (ü and Ü, é and É, ...); other text is kept as it is.
 */
char		*po_name_upper(const char *s);

/*
 * Encode a UTF-8 name into a cp850 field of fieldlen bytes, NUL padded.
 * Returns 0, or -1 if a character has no cp850 form or it does not fit.
 * Used by the fixture writer.
 */
int		po_name_encode(const char *name, uint8_t *field, size_t fieldlen);

#endif
