/* smburl: smb:// URL parsing and formatting. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smburl.h"
#include "log.h"
#include "xmalloc.h"

static int
smburl_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode %XX escapes of s[0..n) into a new string; NULL on a bad escape. */
static char *
smburl_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n) {
			free(out);
			return NULL;
		}
		hi = smburl_hexval((unsigned char)s[i + 1]);
		lo = smburl_hexval((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

/*
 * Return 1 if s holds a byte that no SMB name may hold; '/' included, so
 * that an escaped "%2F" cannot smuggle a separator (or "..") past the
 * component checks.
 */
static int
smburl_badchars(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F || *s == '\\' ||
		    *s == '/')
			return 1;
	return 0;
}

/* Parse url into u. */
int
smburl_parse(const char *url, int allow_no_share, struct smburl *u,
    char *err, size_t errlen)
{
	const char *p, *hostend, *auth, *slash, *q;
	struct in6_addr a6;
	char *rest = NULL, *comp, *save = NULL, *path = NULL;
	unsigned long port;
	char *end;
	size_t plen = 0;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, "smb://", 6) != 0) {
		log_errbuf(err, errlen, "%s: not an smb:// URL", url);
		return -1;
	}
	p = url + 6;
	slash = strchr(p, '/');
	auth = strchr(p, '@');
	if (auth != NULL && (slash == NULL || auth < slash)) {
		/* Do not echo the URL: it holds a password. */
		log_errbuf(err, errlen, "credentials in an smb:// URL are "
		    "refused (they would show in process lists and logs); "
		    "use an auth file");
		return -1;
	}
	if (strpbrk(url, "?#") != NULL) {
		log_errbuf(err, errlen, "%s: query or fragment in the URL",
		    url);
		return -1;
	}
	/* Host: [v6] or name/v4, then optional :port. */
	if (*p == '[') {
		hostend = strchr(p, ']');
		if (hostend == NULL || (slash != NULL && hostend > slash)) {
			log_errbuf(err, errlen, "%s: unterminated [IPv6] "
			    "address", url);
			return -1;
		}
		u->host = xstrndup(p + 1, (size_t)(hostend - p - 1));
		q = hostend + 1;
		if (inet_pton(AF_INET6, u->host, &a6) != 1) {
			log_errbuf(err, errlen, "%s: [%s] is not an IPv6 "
			    "address", url, u->host);
			goto fail;
		}
	} else {
		q = p;
		while (*q != '\0' && *q != '/' && *q != ':')
			q++;
		u->host = xstrndup(p, (size_t)(q - p));
	}
	if (u->host[0] == '\0' || smburl_badchars(u->host) ||
	    strpbrk(u->host, " \t%") != NULL) {
		log_errbuf(err, errlen, "%s: bad or missing host", url);
		goto fail;
	}
	if (*q == ':') {
		errno = 0;
		port = strtoul(q + 1, &end, 10);
		if (end == q + 1 || errno != 0 || port == 0 || port > 65535 ||
		    (*end != '\0' && *end != '/')) {
			log_errbuf(err, errlen, "%s: bad port", url);
			goto fail;
		}
		u->port = (uint16_t)port;
		q = end;
	} else if (*q != '\0' && *q != '/') {
		log_errbuf(err, errlen, "%s: bad host", url);
		goto fail;
	}
	/* Share and path components. */
	rest = xstrdup(*q == '/' ? q + 1 : q);
	path = xcalloc(1, strlen(rest) + 1);
	for (comp = strtok_r(rest, "/", &save); comp != NULL;
	    comp = strtok_r(NULL, "/", &save)) {
		char *dec = smburl_decode(comp, strlen(comp));

		if (dec == NULL || dec[0] == '\0' || smburl_badchars(dec)) {
			log_errbuf(err, errlen, "%s: bad escape or character "
			    "in '%s'", url, comp);
			free(dec);
			goto fail;
		}
		if (strcmp(dec, ".") == 0 || strcmp(dec, "..") == 0) {
			log_errbuf(err, errlen, "%s: '.' and '..' are not "
			    "allowed in the path", url);
			free(dec);
			goto fail;
		}
		if (u->share == NULL)
			u->share = dec;
		else {
			if (plen > 0)
				path[plen++] = '/';
			memcpy(path + plen, dec, strlen(dec));
			plen += strlen(dec);
			path[plen] = '\0';
			free(dec);
		}
	}
	free(rest);
	rest = NULL;
	u->path = path;
	path = NULL;
	if (u->share == NULL) {
		if (!allow_no_share) {
			log_errbuf(err, errlen, "%s: no share in the URL "
			    "(smb://host/share)", url);
			goto fail;
		}
		u->share = xstrdup("");
	}
	return 0;
fail:
	free(rest);
	free(path);
	smburl_free(u);
	return -1;
}

/* Append s to the buffer b (of capacity *cap, length *len), escaped. */
static void
smburl_append(char **b, size_t *len, size_t *cap, const char *s, int escape)
{
	static const char hexdig[] = "0123456789ABCDEF";
	size_t need = strlen(s) * 3 + 1;

	if (*len + need > *cap) {
		*cap = (*len + need) * 2;
		*b = xreallocarray(*b, *cap, 1);
	}
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (!escape || isalnum(c) || strchr("-._~$!'()*+,;=:@/", c)) {
			(*b)[(*len)++] = (char)c;
			continue;
		}
		(*b)[(*len)++] = '%';
		(*b)[(*len)++] = hexdig[c >> 4];
		(*b)[(*len)++] = hexdig[c & 0x0F];
	}
	(*b)[*len] = '\0';
}

/*
 * Build the URL libsmbclient should open for u plus an optional extra
 * relative path (NULL or "" for none), percent-encoding each component.
 */
char *
smburl_format(const struct smburl *u, const char *extra)
{
	char portbuf[16];
	size_t len = 0, cap = 64;
	char *b = xmalloc(cap);

	b[0] = '\0';
	smburl_append(&b, &len, &cap, "smb://", 0);
	if (strchr(u->host, ':') != NULL) {
		smburl_append(&b, &len, &cap, "[", 0);
		smburl_append(&b, &len, &cap, u->host, 0);
		smburl_append(&b, &len, &cap, "]", 0);
	} else
		smburl_append(&b, &len, &cap, u->host, 0);
	if (u->port != 0) {
		snprintf(portbuf, sizeof(portbuf), ":%u", u->port);
		smburl_append(&b, &len, &cap, portbuf, 0);
	}
	smburl_append(&b, &len, &cap, "/", 0);
	if (u->share != NULL && u->share[0] != '\0') {
		smburl_append(&b, &len, &cap, u->share, 1);
		if (u->path != NULL && u->path[0] != '\0') {
			smburl_append(&b, &len, &cap, "/", 0);
			smburl_append(&b, &len, &cap, u->path, 1);
		}
		if (extra != NULL && extra[0] != '\0') {
			smburl_append(&b, &len, &cap, "/", 0);
			smburl_append(&b, &len, &cap, extra, 1);
		}
	}
	return b;
}

/* Free what u owns and zero it. */
void
smburl_free(struct smburl *u)
{
	free(u->host);
	free(u->share);
	free(u->path);
	memset(u, 0, sizeof(*u));
}
