/*
 * json: JSON text that is always valid and safe on a terminal: strings
 * are escaped per RFC 8259, invalid UTF-8 becomes U+FFFD, and controls
 * (C0, DEL, C1) and the bidirectional overrides and isolates are written
 * as \uXXXX escapes, so that what a share names reaches nothing raw.
 */
#ifndef MAILDAT_JSON_H
#define MAILDAT_JSON_H

#include <stddef.h>

/* Return s as a quoted JSON string (allocated; NULL gives "null"). */
char	*json_quote(const char *s);

/*
 * Return the length of the UTF-8 sequence at p (1 to 4), or 0 when it is
 * not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF
 * included); *cp gets the code point.
 */
size_t	 json_utf8(const unsigned char *p, unsigned *cp);

/*
 * Return 1 if code point cp must not reach a terminal raw: C0 and C1
 * controls, DEL, and the bidirectional embeddings, overrides and
 * isolates (U+202A..U+202E, U+2066..U+2069), and the line and paragraph
 * separators (U+2028, U+2029).
 */
int	 json_unsafe(unsigned cp);

#endif
