/* location: parse smb:// URLs once; derive the URL, UNC form and key. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errbuf.h"
#include "location.h"
#include "po.h"
#include "xmalloc.h"

static int
location_hexval(int c)
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
location_decode(const char *s, size_t n)
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
		hi = location_hexval((unsigned char)s[i + 1]);
		lo = location_hexval((unsigned char)s[i + 2]);
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
location_badchars(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F || *s == '\\' ||
		    *s == '/')
			return 1;
	return 0;
}

/* Parse url into l; port 445 is stored as 0. */
int
location_parse(const char *url, int flags, struct location *l, char *err,
    size_t errlen)
{
	const char *p, *hostend, *auth, *slash, *q;
	struct in6_addr a6;
	char *rest = NULL, *comp, *save = NULL, *path = NULL;
	unsigned long port;
	char *end;
	size_t plen = 0;

	memset(l, 0, sizeof(*l));
	if (strncasecmp(url, "smb://", 6) != 0) {
		errbuf_set(err, errlen, "%s: not an smb:// URL", url);
		return -1;
	}
	p = url + 6;
	slash = strchr(p, '/');
	auth = strchr(p, '@');
	if (auth != NULL && (slash == NULL || auth < slash)) {
		/* Do not echo the URL: it holds a password. */
		errbuf_set(err, errlen, "credentials in an smb:// URL are "
		    "refused (they would show in process lists and logs); "
		    "use an auth file");
		return -1;
	}
	if (strpbrk(url, "?#") != NULL) {
		errbuf_set(err, errlen, "%s: query or fragment in the URL",
		    url);
		return -1;
	}
	/* Host: [v6] or name/v4, then optional :port. */
	if (*p == '[') {
		hostend = strchr(p, ']');
		if (hostend == NULL || (slash != NULL && hostend > slash)) {
			errbuf_set(err, errlen, "%s: unterminated [IPv6] "
			    "address", url);
			return -1;
		}
		l->host = xstrndup(p + 1, (size_t)(hostend - p - 1));
		q = hostend + 1;
		if (inet_pton(AF_INET6, l->host, &a6) != 1) {
			errbuf_set(err, errlen, "%s: [%s] is not an IPv6 "
			    "address", url, l->host);
			goto fail;
		}
	} else {
		q = p;
		while (*q != '\0' && *q != '/' && *q != ':')
			q++;
		l->host = xstrndup(p, (size_t)(q - p));
	}
	if (l->host[0] == '\0' || location_badchars(l->host) ||
	    strpbrk(l->host, " \t%") != NULL) {
		errbuf_set(err, errlen, "%s: bad or missing host", url);
		goto fail;
	}
	if (*q == ':') {
		errno = 0;
		port = strtoul(q + 1, &end, 10);
		if (end == q + 1 || errno != 0 || port == 0 || port > 65535 ||
		    (*end != '\0' && *end != '/')) {
			errbuf_set(err, errlen, "%s: bad port", url);
			goto fail;
		}
		l->port = port == 445 ? 0 : (uint16_t)port;
		q = end;
	} else if (*q != '\0' && *q != '/') {
		errbuf_set(err, errlen, "%s: bad host", url);
		goto fail;
	}
	/* Share and path components. */
	rest = xstrdup(*q == '/' ? q + 1 : q);
	path = xcalloc(1, strlen(rest) + 1);
	for (comp = strtok_r(rest, "/", &save); comp != NULL;
	    comp = strtok_r(NULL, "/", &save)) {
		char *dec = location_decode(comp, strlen(comp));

		if (dec == NULL || dec[0] == '\0' || location_badchars(dec)) {
			errbuf_set(err, errlen, "%s: bad escape or character "
			    "in '%s'", url, comp);
			free(dec);
			goto fail;
		}
		if (strcmp(dec, ".") == 0 || strcmp(dec, "..") == 0) {
			errbuf_set(err, errlen, "%s: '.' and '..' are not "
			    "allowed in the path", url);
			free(dec);
			goto fail;
		}
		if (l->share == NULL)
			l->share = dec;
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
	l->path = path;
	path = NULL;
	if (l->share == NULL) {
		if (!(flags & LOCATION_NO_SHARE)) {
			errbuf_set(err, errlen, "%s: no share in the URL "
			    "(smb://host/share)", url);
			goto fail;
		}
		l->share = xstrdup("");
	}
	return 0;
fail:
	free(rest);
	free(path);
	location_free(l);
	return -1;
}

/*
 * Parse s, an smb:// URL or a UNC name \\host[@port]\share[\path] (as
 * location_unc() writes it), into l.  Returns 0, or -1 with err.
 */
int
location_parse_user(const char *s, struct location *l, char *err,
    size_t errlen)
{
	char *url, *o;
	const char *p;
	int rc, inhost = 1;

	if (strncmp(s, "\\\\", 2) != 0)
		return location_parse(s, 0, l, err, errlen);
	/* A byte may become "%25": three out for one in. */
	url = o = xmalloc(strlen(s) * 3 + 8);
	o += sprintf(o, "smb://");
	for (p = s + 2; *p != '\0'; p++) {
		if (*p == '\\') {
			inhost = 0;
			*o++ = '/';
		} else if (*p == '@' && inhost) {
			*o++ = ':';
		} else if (*p == '%' || *p == '?' || *p == '#') {
			o += sprintf(o, "%%%02X", (unsigned char)*p);
		} else
			*o++ = *p;
	}
	*o = '\0';
	rc = location_parse(url, 0, l, err, errlen);
	if (rc == -1)
		errbuf_set(err, errlen, "%s: not a location (\\\\host\\share"
		    "[\\path] or smb://host/share[/path])", s);
	free(url);
	return rc;
}

/* Fill l with copies of host, share and path ("" for NULL) and port. */
void
location_set(struct location *l, const char *host, uint16_t port,
    const char *share, const char *path)
{
	memset(l, 0, sizeof(*l));
	l->host = xstrdup(host != NULL ? host : "");
	l->port = port == 445 ? 0 : port;
	l->share = xstrdup(share != NULL ? share : "");
	l->path = xstrdup(path != NULL ? path : "");
}

/* Make dst a copy of src. */
void
location_copy(struct location *dst, const struct location *src)
{
	location_set(dst, src->host, src->port, src->share, src->path);
	dst->discover = src->discover;
}

/* Free what l owns and zero it. */
void
location_free(struct location *l)
{
	free(l->host);
	free(l->share);
	free(l->path);
	memset(l, 0, sizeof(*l));
}

/*
 * Return the host as libsmbclient and Windows name it: an IPv6 address
 * with ':' as '-' (and a zone's '%' as 's') under ipv6-literal.net.
 */
const char *
location_host_name(const char *host, char *buf, size_t buflen)
{
	size_t i, o = 0;
	const char *sfx = ".ipv6-literal.net";

	if (strchr(host, ':') == NULL || buflen == 0)
		return host;
	for (i = 0; host[i] != '\0' && o + 1 < buflen; i++)
		buf[o++] = host[i] == ':' ? '-' : host[i] == '%' ? 's' :
		    host[i];
	buf[o] = '\0';
	if (o + strlen(sfx) + 1 > buflen)
		return host;
	memcpy(buf + o, sfx, strlen(sfx) + 1);
	return buf;
}

/* Append s to the buffer b (of capacity *cap, length *len), escaped. */
static void
location_append(char **b, size_t *len, size_t *cap, const char *s, int escape)
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

/* Build the smb:// URL of l (plus extra); brackets or ipv6-literal.net. */
static char *
location_build(const struct location *l, const char *extra, int literal)
{
	char portbuf[16], hbuf[128];
	size_t len = 0, cap = 64;
	char *b = xmalloc(cap);

	b[0] = '\0';
	location_append(&b, &len, &cap, "smb://", 0);
	if (strchr(l->host, ':') != NULL && !literal) {
		location_append(&b, &len, &cap, "[", 0);
		location_append(&b, &len, &cap, l->host, 0);
		location_append(&b, &len, &cap, "]", 0);
	} else
		location_append(&b, &len, &cap, location_host_name(l->host,
		    hbuf, sizeof(hbuf)), 0);
	if (l->port != 0) {
		snprintf(portbuf, sizeof(portbuf), ":%u", l->port);
		location_append(&b, &len, &cap, portbuf, 0);
	}
	location_append(&b, &len, &cap, "/", 0);
	if (l->share != NULL && l->share[0] != '\0') {
		location_append(&b, &len, &cap, l->share, 1);
		if (l->path != NULL && l->path[0] != '\0') {
			location_append(&b, &len, &cap, "/", 0);
			location_append(&b, &len, &cap, l->path, 1);
		}
		if (extra != NULL && extra[0] != '\0') {
			location_append(&b, &len, &cap, "/", 0);
			location_append(&b, &len, &cap, extra, 1);
		}
	}
	return b;
}

/* Return the smb:// URL libsmbclient opens for l plus extra. */
char *
location_url(const struct location *l, const char *extra)
{
	return location_build(l, extra, 1);
}

/* Return the URL of l as a user would write it in the configuration. */
char *
location_config_url(const struct location *l)
{
	return location_build(l, NULL, 0);
}

/* Return the UNC form: \\host[@port]\share[\DIR\SUB]. */
char *
location_unc(const struct location *l)
{
	char portbuf[16] = "", hbuf[128];
	const char *host = location_host_name(l->host, hbuf, sizeof(hbuf));
	char *unc, *p;

	if (l->port != 0)
		snprintf(portbuf, sizeof(portbuf), "@%u", l->port);
	if (l->share[0] == '\0')
		return xasprintf("\\\\%s%s", host, portbuf);
	unc = xasprintf("\\\\%s%s\\%s%s%s", host, portbuf, l->share,
	    l->path[0] ? "\\" : "", l->path);
	for (p = unc + 2; *p != '\0'; p++)
		if (*p == '/')
			*p = '\\';
	return unc;
}

/* Return the key of l: equal keys, one location. */
char *
location_key(const struct location *l)
{
	struct in6_addr a6;
	char host[INET6_ADDRSTRLEN + 1], *s, *unc, *key, *p;
	struct location k;

	/* One IPv6 address has many spellings; inet_ntop gives one. */
	if (strchr(l->host, ':') != NULL && strchr(l->host, '%') == NULL &&
	    inet_pton(AF_INET6, l->host, &a6) == 1 &&
	    inet_ntop(AF_INET6, &a6, host, sizeof(host)) != NULL)
		s = xstrdup(host);
	else
		s = xstrdup(l->host);
	for (p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	k.host = s;
	k.port = l->port == 445 ? 0 : l->port;
	k.share = l->share;
	k.path = l->path;
	k.discover = l->discover;
	unc = location_unc(&k);
	free(s);
	key = po_name_upper(unc);
	free(unc);
	return key;
}

/* Return 1 if a and b are one location (their keys are equal), else 0. */
int
location_same(const struct location *a, const struct location *b)
{
	char *ka = location_key(a), *kb = location_key(b);
	int same = strcmp(ka, kb) == 0;

	free(ka);
	free(kb);
	return same;
}
