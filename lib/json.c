/* json: strings escaped so that the output is valid and terminal-safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "xmalloc.h"

/* Return the length of the valid UTF-8 sequence at p, or 0; *cp. */
size_t
json_utf8(const unsigned char *p, unsigned *cp)
{
	unsigned c = p[0], v;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		v = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		v = c & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 ||
	    v > 0x10FFFF)) || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/* Return 1 if cp must not reach a terminal raw. */
int
json_unsafe(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
	    (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0x2028 || cp == 0x2029;
}

/* Return s as a quoted JSON string (allocated; NULL gives "null"). */
char *
json_quote(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out, *o;
	unsigned cp;
	size_t n;

	if (s == NULL)
		return xstrdup("null");
	/* At most 6 bytes out ("\u0000") for each byte in, and quotes. */
	out = o = xmalloc(strlen(s) * 6 + 3);
	*o++ = '"';
	while (*p != '\0') {
		if ((n = json_utf8(p, &cp)) == 0) {
			o += sprintf(o, "\\ufffd");
			p++;
			continue;
		}
		if (cp == '"' || cp == '\\') {
			*o++ = '\\';
			*o++ = (char)cp;
		} else if (cp == '\n')
			o += sprintf(o, "\\n");
		else if (cp == '\t')
			o += sprintf(o, "\\t");
		else if (json_unsafe(cp))
			o += sprintf(o, "\\u%04x", cp);
		else {
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	*o++ = '"';
	*o = '\0';
	return out;
}
