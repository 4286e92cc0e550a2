/* confval: check and convert one configuration value. */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "confval.h"
#include "errbuf.h"

#define CONFVAL_ECHO		"%.80s"		/* how much of a value to echo */

static const char *const confval_severities[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"
};

/* Dialects, with the range of levels each stands for as lowest or highest. */
static const struct {
	const char	*name;
	int		 lo, hi;
} confval_protocols[] = {
	{ "NT1",	1, 1 },
	{ "SMB2",	2, 3 },
	{ "SMB2_02",	2, 2 },
	{ "SMB2_10",	3, 3 },
	{ "SMB3",	4, 6 },
	{ "SMB3_00",	4, 4 },
	{ "SMB3_02",	5, 5 },
	{ "SMB3_11",	6, 6 },
};
#define CONFVAL_NPROTOCOLS \
	(sizeof(confval_protocols) / sizeof(confval_protocols[0]))

/* Return 1 if s is a section, credentials or user name. */
int
confval_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONFVAL_NAME_MAX - 1)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return 0;
	return 1;
}

/* Return 1 if s is a host name. */
int
confval_hostname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return 0;
	return 1;
}

/* Return 1 if s is a share name. */
int
confval_share(const char *s)
{
	if (*s == '\0' || strlen(s) > 80)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F ||
		    strchr("/\\", *s) != NULL)
			return 0;
	return 1;
}

/* Parse a decimal integer in [min, max]; 0 and *v set, or -1. */
int
confval_int(const char *s, long min, long max, int *v)
{
	const char *q;
	char *end;
	long l;

	if (*s == '\0')
		return -1;
	for (q = s; *q != '\0'; q++)
		if (!isdigit((unsigned char)*q))
			return -1;
	errno = 0;
	l = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || l < min || l > max)
		return -1;
	*v = (int)l;
	return 0;
}

/* Parse yes/no/true/false/on/off/1/0 (any case); 0 and *v set, or -1. */
int
confval_bool(const char *s, int *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = 0;
			return 0;
		}
	}
	return -1;
}

/* Parse a syslog severity name (emerg ... debug) into LOG_*; 0 or -1. */
int
confval_severity(const char *s, int *v)
{
	int i;

	for (i = 0; i < (int)(sizeof(confval_severities) /
	    sizeof(confval_severities[0])); i++) {
		if (strcasecmp(s, confval_severities[i]) == 0) {
			*v = i;		/* LOG_EMERG is 0 ... LOG_DEBUG is 7 */
			return 0;
		}
	}
	return -1;
}

/* Return the name of a LOG_* severity, or "unknown". */
const char *
confval_severity_name(int sev)
{
	if (sev < 0 || sev >= (int)(sizeof(confval_severities) /
	    sizeof(confval_severities[0])))
		return "unknown";
	return confval_severities[sev];
}

/* Parse daemon, user or local0..local7 into LOG_*; 0 or -1. */
int
confval_facility(const char *s, int *v)
{
	static const int locals[] = { LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2,
	    LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7 };

	if (strcasecmp(s, "daemon") == 0)
		*v = LOG_DAEMON;
	else if (strcasecmp(s, "user") == 0)
		*v = LOG_USER;
	else if (strncasecmp(s, "local", 5) == 0 && s[5] >= '0' &&
	    s[5] <= '7' && s[6] == '\0')
		*v = locals[s[5] - '0'];
	else
		return -1;
	return 0;
}

/* Parse a syslog = destination: local, unix:/path, udp:h:p or tcp:h:p. */
int
confval_syslog(const char *s, struct confval_syslog *d, char *err,
    size_t errlen)
{
	struct in6_addr a6;
	const char *hp, *colon, *close;
	size_t hlen;
	int port;

	memset(d, 0, sizeof(*d));
	if (strcmp(s, "local") == 0) {
		d->kind = CONFVAL_SYSLOG_LOCAL;
		return 0;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/') {
			errbuf_set(err, errlen, "unix: needs an absolute path "
			    "(unix:/dev/log)");
			return -1;
		}
		if (strlen(s + 5) >= sizeof(d->path)) {
			errbuf_set(err, errlen, "socket path longer than %zu "
			    "bytes", sizeof(d->path) - 1);
			return -1;
		}
		d->kind = CONFVAL_SYSLOG_UNIX;
		strcpy(d->path, s + 5);
		return 0;
	}
	if (strncmp(s, "udp:", 4) == 0)
		d->kind = CONFVAL_SYSLOG_UDP;
	else if (strncmp(s, "tcp:", 4) == 0)
		d->kind = CONFVAL_SYSLOG_TCP;
	else {
		errbuf_set(err, errlen, "'" CONFVAL_ECHO "' is not local, "
		    "unix:/path, udp:host:port or tcp:host:port", s);
		return -1;
	}
	hp = s + 4;
	if (*hp == '[') {
		if ((close = strchr(hp, ']')) == NULL) {
			errbuf_set(err, errlen, "unterminated [IPv6] address");
			return -1;
		}
		hlen = (size_t)(close - hp - 1);
		if (hlen == 0 || hlen >= sizeof(d->host)) {
			errbuf_set(err, errlen, "bad IPv6 address");
			return -1;
		}
		memcpy(d->host, hp + 1, hlen);
		d->host[hlen] = '\0';
		if (inet_pton(AF_INET6, d->host, &a6) != 1) {
			errbuf_set(err, errlen, "'%s' is not an IPv6 address",
			    d->host);
			return -1;
		}
		colon = close + 1;
		if (*colon != ':') {
			errbuf_set(err, errlen, "missing :port after the "
			    "address");
			return -1;
		}
	} else {
		if ((colon = strrchr(hp, ':')) == NULL) {
			errbuf_set(err, errlen, "missing :port (%s:host:port)",
			    d->kind == CONFVAL_SYSLOG_UDP ? "udp" : "tcp");
			return -1;
		}
		hlen = (size_t)(colon - hp);
		if (memchr(hp, ':', hlen) != NULL) {
			errbuf_set(err, errlen, "put an IPv6 address in "
			    "brackets ([::1]:514)");
			return -1;
		}
		if (hlen == 0 || hlen >= sizeof(d->host)) {
			errbuf_set(err, errlen, "missing or overlong host");
			return -1;
		}
		memcpy(d->host, hp, hlen);
		d->host[hlen] = '\0';
		if (!confval_hostname(d->host)) {
			errbuf_set(err, errlen, "bad host '%s'", d->host);
			return -1;
		}
	}
	if (confval_int(colon + 1, 1, 65535, &port) == -1) {
		errbuf_set(err, errlen, "bad port '%.16s' (1..65535)",
		    colon + 1);
		return -1;
	}
	snprintf(d->port, sizeof(d->port), "%d", port);
	return 0;
}

/* Parse one hosts entry: a name, an IPv4 address or /16../32 range, or IPv6. */
int
confval_host(const char *entry, struct confval_host *h, char *err,
    size_t errlen)
{
	struct in6_addr a6;
	struct in_addr a4;
	char buf[256], *slash;
	const char *q;
	uint32_t mask;
	size_t n = strlen(entry);
	int dotted = 1;

	memset(h, 0, sizeof(*h));
	if (n >= sizeof(buf)) {
		errbuf_set(err, errlen, "'%.32s...' is too long", entry);
		return -1;
	}
	memcpy(buf, entry, n + 1);
	if (buf[0] == '[') {
		if (n < 3 || buf[n - 1] != ']') {
			errbuf_set(err, errlen, "'%s': unterminated [IPv6] "
			    "address", entry);
			return -1;
		}
		buf[n - 1] = '\0';
		memmove(buf, buf + 1, n - 1);
		if (strchr(buf, ':') == NULL) {
			errbuf_set(err, errlen, "'%s': only IPv6 addresses go "
			    "in brackets", entry);
			return -1;
		}
	}
	if (strchr(buf, ':') != NULL) {
		if (strchr(buf, '/') != NULL) {
			errbuf_set(err, errlen, "'%s': IPv6 ranges are not "
			    "supported; list the addresses", entry);
			return -1;
		}
		if (inet_pton(AF_INET6, buf, &a6) != 1) {
			errbuf_set(err, errlen, "'%s' is not a valid IPv6 "
			    "address", entry);
			return -1;
		}
		strcpy(h->host, buf);
		return 0;
	}
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash = '\0';
		if (inet_pton(AF_INET, buf, &a4) != 1 ||
		    confval_int(slash + 1, 0, 32, &h->prefix) == -1) {
			errbuf_set(err, errlen, "'%s' is not an IPv4 range "
			    "(a.b.c.d/N)", entry);
			return -1;
		}
		if (h->prefix < CONFVAL_MIN_PREFIX) {
			errbuf_set(err, errlen, "'%s': range larger than /%d "
			    "refused (%llu addresses); split it into /%d or "
			    "smaller ranges", entry, CONFVAL_MIN_PREFIX,
			    1ULL << (32 - h->prefix), CONFVAL_MIN_PREFIX);
			return -1;
		}
		h->net = ntohl(a4.s_addr);
		mask = h->prefix == 32 ? 0 : UINT32_MAX >> h->prefix;
		if ((h->net & mask) != 0) {
			a4.s_addr = htonl(h->net & ~mask);
			inet_ntop(AF_INET, &a4, buf, sizeof(buf));
			errbuf_set(err, errlen, "'%s': address bits set below "
			    "the /%d prefix (did you mean %s/%d?)", entry,
			    h->prefix, buf, h->prefix);
			return -1;
		}
		h->range = 1;
		return 0;
	}
	for (q = buf; *q != '\0'; q++)
		if (!isdigit((unsigned char)*q) && *q != '.')
			dotted = 0;
	if (dotted) {
		if (inet_pton(AF_INET, buf, &a4) != 1) {
			errbuf_set(err, errlen, "'%s' is not a valid IPv4 "
			    "address", entry);
			return -1;
		}
	} else if (!confval_hostname(buf)) {
		errbuf_set(err, errlen, "'%s' is not a host name, address or "
		    "range", entry);
		return -1;
	}
	strcpy(h->host, buf);
	return 0;
}

static int
confval_protocol_find(const char *s)
{
	size_t i;

	for (i = 0; i < CONFVAL_NPROTOCOLS; i++)
		if (strcasecmp(s, confval_protocols[i].name) == 0)
			return (int)i;
	return -1;
}

/* Parse "LOWEST [HIGHEST]" into the canonical dialect names. */
int
confval_protocol(const char *s, const char **lo, const char **hi, char *err,
    size_t errlen)
{
	char buf[128], *w[3], *save = NULL;
	int n = 0, l, h;

	snprintf(buf, sizeof(buf), "%s", s);
	for (w[n] = strtok_r(buf, " \t,", &save); w[n] != NULL && n < 2;
	    w[n] = strtok_r(NULL, " \t,", &save))
		n++;
	if (n == 0 || n > 2 || w[n] != NULL || strlen(s) >= sizeof(buf)) {
		errbuf_set(err, errlen, "give the lowest dialect, and "
		    "optionally the highest (protocol = NT1 SMB3)");
		return -1;
	}
	if ((l = confval_protocol_find(w[0])) == -1 ||
	    (h = confval_protocol_find(n == 2 ? w[1] : "SMB3")) == -1) {
		errbuf_set(err, errlen, "unknown dialect '%.16s' (expected "
		    "NT1, SMB2, SMB2_02, SMB2_10, SMB3, SMB3_00, SMB3_02 or "
		    "SMB3_11)", confval_protocol_find(w[0]) == -1 ? w[0] :
		    w[1]);
		return -1;
	}
	if (confval_protocols[l].lo > confval_protocols[h].hi) {
		errbuf_set(err, errlen, "lowest dialect %s is above highest %s",
		    confval_protocols[l].name, confval_protocols[h].name);
		return -1;
	}
	*lo = confval_protocols[l].name;
	*hi = confval_protocols[h].name;
	return 0;
}
