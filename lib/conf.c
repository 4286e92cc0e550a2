/*
 * conf: maildatd.conf.
 *
 * inih splits "name = value" lines, trims them and strips ';' comments.  It
 * is driven through ini_parse_stream() with a reader of our own, because
 * inih alone cannot give what the checks need: its handler does not get
 * the line number (Debian's libinih is built without INI_HANDLER_LINENO),
 * it is not called for section headers (so empty and duplicate sections
 * go unseen), it keeps section names to 49 bytes and splits lines longer
 * than 199 bytes (a rule query easily is).  So the reader reads whole
 * physical lines, counts them, classifies each the way inih will, handles
 * section headers itself, reports malformed lines, and hands inih one
 * line per physical line:
 *
 *	comment, blank or malformed	"#"
 *	section header			"[s]" (inih then ends continuations)
 *	continuation line		" c", value taken from the reader
 *	name = value			as is, or "k=" with name and value taken
 *					from the reader when it would not fit
 *
 * The handler runs before the next line is read, so the reader's line
 * number and current section are those of the line being handled.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <ini.h>

#include "authfile.h"
#include "conf.h"
#include "duration.h"
#include "smburl.h"
#include "log.h"
#include "xmalloc.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif

#define CONF_DEFAULT_SHARE	"MAILDAT$"
#define CONF_NAME_MAX		64
#define CONF_ECHO		"%.80s"		/* how much of a value to echo */
#define CONF_MIN_PREFIX		16		/* largest IPv4 range: /16 */
#define CONF_MAX_ADDRESSES	262144		/* in all hosts = together */
#define CONF_SUN_PATH		108		/* sizeof(sun_path) on Linux */
#define MS_HOUR			(INT64_C(3600) * 1000)

static const struct {
	const char	*name;
	int		 severity;
} conf_builtin[CONF_NBUILTIN_RULES] = {
	{ "duplicate-serial",		LOG_ERR },
	{ "duplicate-address",		LOG_ERR },
	{ "duplicate-postoffice",	LOG_WARNING },
	{ "serial-changed",		LOG_WARNING },
	{ "unreachable",		LOG_WARNING },
	{ "malformed",			LOG_WARNING },
};
#define CONF_USER_RULE_SEVERITY	LOG_WARNING

static const char *const conf_severities[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"
};

/* Dialects, with the range of levels each stands for as lowest or highest. */
static const struct {
	const char	*name;
	int		 lo, hi;
} conf_protocols[] = {
	{ "NT1",	1, 1 },
	{ "SMB2",	2, 3 },
	{ "SMB2_02",	2, 2 },
	{ "SMB2_10",	3, 3 },
	{ "SMB3",	4, 6 },
	{ "SMB3_00",	4, 4 },
	{ "SMB3_02",	5, 5 },
	{ "SMB3_11",	6, 6 },
};
#define CONF_NPROTOCOLS	(sizeof(conf_protocols) / sizeof(conf_protocols[0]))

enum conf_sect {
	SECT_MAILDATD,
	SECT_CREDENTIALS,
	SECT_TARGET,
	SECT_RULE
};

static const char *const conf_sectnames[] = {
	"maildatd", "credentials", "target", "rule"
};

enum conf_key {
	K_DATABASE, K_INTERVAL, K_WORKERS, K_TIMEOUT, K_CONNECT_TIMEOUT,
	K_SYSLOG, K_SYSLOG_FACILITY, K_CONTROL_SOCKET, K_USER, K_PIDFILE,
	K_JOBS_PER_WORKER, K_UNREACHABLE_AFTER, K_RENOTIFY, K_BACKOFF_MAX,
	K_LOCKOUT_AFTER, K_SMB_CONF,
	K_AUTH_FILE,
	K_HOSTS, K_SHARE, K_CREDENTIALS, K_PROTOCOL, K_URL, K_DISCOVER,
	K_ENABLED, K_SEVERITY, K_QUERY,
	K_NKEYS
};

static const struct {
	enum conf_sect	 sect;
	const char	*name;
	enum conf_key	 key;
} conf_keys[] = {
	{ SECT_MAILDATD,	"database",		K_DATABASE },
	{ SECT_MAILDATD,	"interval",		K_INTERVAL },
	{ SECT_MAILDATD,	"workers",		K_WORKERS },
	{ SECT_MAILDATD,	"timeout",		K_TIMEOUT },
	{ SECT_MAILDATD,	"connect_timeout",	K_CONNECT_TIMEOUT },
	{ SECT_MAILDATD,	"syslog",		K_SYSLOG },
	{ SECT_MAILDATD,	"syslog_facility",	K_SYSLOG_FACILITY },
	{ SECT_MAILDATD,	"control_socket",	K_CONTROL_SOCKET },
	{ SECT_MAILDATD,	"user",			K_USER },
	{ SECT_MAILDATD,	"pidfile",		K_PIDFILE },
	{ SECT_MAILDATD,	"jobs_per_worker",	K_JOBS_PER_WORKER },
	{ SECT_MAILDATD,	"unreachable_after",	K_UNREACHABLE_AFTER },
	{ SECT_MAILDATD,	"renotify",		K_RENOTIFY },
	{ SECT_MAILDATD,	"backoff_max",		K_BACKOFF_MAX },
	{ SECT_MAILDATD,	"lockout_after",	K_LOCKOUT_AFTER },
	{ SECT_MAILDATD,	"smb_conf",		K_SMB_CONF },
	{ SECT_CREDENTIALS,	"auth_file",		K_AUTH_FILE },
	{ SECT_TARGET,		"hosts",		K_HOSTS },
	{ SECT_TARGET,		"share",		K_SHARE },
	{ SECT_TARGET,		"credentials",		K_CREDENTIALS },
	{ SECT_TARGET,		"protocol",		K_PROTOCOL },
	{ SECT_TARGET,		"interval",		K_INTERVAL },
	{ SECT_TARGET,		"timeout",		K_TIMEOUT },
	{ SECT_TARGET,		"url",			K_URL },
	{ SECT_TARGET,		"discover",		K_DISCOVER },
	{ SECT_RULE,		"enabled",		K_ENABLED },
	{ SECT_RULE,		"severity",		K_SEVERITY },
	{ SECT_RULE,		"query",		K_QUERY },
	{ SECT_RULE,		"renotify",		K_RENOTIFY },
};
#define CONF_NKEYDEFS	(sizeof(conf_keys) / sizeof(conf_keys[0]))

/* What the reader found on the line being handled. */
enum conf_linekind {
	LINE_SKIP,		/* comment, blank, malformed */
	LINE_SECTION,
	LINE_KEY,
	LINE_CONT
};

/* One section header that was accepted. */
struct conf_sectinfo {
	enum conf_sect	 type;
	size_t		 idx;		/* into creds, targets or rules */
	int		 line;
	char		*label;		/* "[target lab]" */
	int		 seen[K_NKEYS];	/* line of each key; 0: not given */
	int		*urllines;	/* line of each url entry */
	size_t		 nurllines;
};

struct conf_err {
	int		 line;
	size_t		 seq;
	char		*msg;
};

struct conf_parser {
	const char	*path;
	int		 flags;		/* CONF_NO_SECRETS */
	uint64_t	 naddrs;	/* host addresses in all targets */
	FILE		*f;
	char		*buf;
	size_t		 bufcap;
	int		 lineno;
	enum conf_linekind kind;
	int		 prevkey;	/* inih's prev_name is set */
	char		*lname;		/* name and value passed by reference */
	char		*lvalue;
	int		 cur;		/* index into sects, -1: none */
	int		 inbad;		/* in a refused section: skip its keys */
	int		 contkey;	/* key continuation lines extend, or -1 */
	char		 contname[CONF_NAME_MAX];
	struct conf	*c;
	struct conf_sectinfo *sects;
	size_t		 nsects;
	struct conf_err	*errs;
	size_t		 nerrs;
};

/* Record "PATH:LINE: message" (or "PATH: message" for line 0). */
static void __attribute__((format(printf, 3, 4)))
conf_error(struct conf_parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg, *s;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	msg = xmalloc((size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)len + 1, fmt, ap);
	va_end(ap);
	if (line > 0)
		s = xasprintf("%s:%d: %s", p->path, line, msg);
	else
		s = xasprintf("%s: %s", p->path, msg);
	free(msg);
	/* What the file holds is echoed: keep terminals safe. */
	for (msg = s; *msg != '\0'; msg++)
		if ((unsigned char)*msg < 0x20 || *msg == 0x7F)
			*msg = '?';
	p->errs = xreallocarray(p->errs, p->nerrs + 1, sizeof(*p->errs));
	p->errs[p->nerrs].line = line;
	p->errs[p->nerrs].seq = p->nerrs;
	p->errs[p->nerrs].msg = s;
	p->nerrs++;
}

static int
conf_errcmp(const void *a, const void *b)
{
	const struct conf_err *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
conf_wipe(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void
conf_setstr(char **slot, const char *v)
{
	free(*slot);
	*slot = v != NULL ? xstrdup(v) : NULL;
}

static char *
conf_lskip(char *s)
{
	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	return s;
}

static char *
conf_trim(char *s)
{
	char *e;

	s = conf_lskip(s);
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Cut a value at its comment (a ';' or '#' that starts the value or
 * follows whitespace) and trim it, in place.
 */
static char *
conf_clean(char *s)
{
	char *q;
	int was_space = 1;

	s = conf_lskip(s);
	for (q = s; *q != '\0'; q++) {
		if (was_space && (*q == ';' || *q == '#')) {
			*q = '\0';
			break;
		}
		was_space = isspace((unsigned char)*q);
	}
	return conf_trim(s);
}

/*
 * inih's search for one of chars before an inline comment (a ';' after
 * whitespace): return where it stops.
 */
static char *
conf_find(char *s, const char *chars)
{
	int was_space = 0;

	while (*s != '\0' && strchr(chars, *s) == NULL &&
	    !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* A section, credentials or user name: 1..64 of [A-Za-z0-9_.-]. */
static int
conf_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONF_NAME_MAX - 1)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return 0;
	return 1;
}

/* A host name: 1..253 of [A-Za-z0-9_.-], not starting with '.' or '-'. */
static int
conf_valid_hostname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return 0;
	return 1;
}

/* Parse a decimal integer in [min, max]. */
static int
conf_parse_int(const char *s, long min, long max, int *v)
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
conf_parse_bool(const char *s, int *v)
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
conf_parse_severity(const char *s, int *v)
{
	int i;

	for (i = 0; i < (int)(sizeof(conf_severities) /
	    sizeof(conf_severities[0])); i++) {
		if (strcasecmp(s, conf_severities[i]) == 0) {
			*v = i;		/* LOG_EMERG is 0 ... LOG_DEBUG is 7 */
			return 0;
		}
	}
	return -1;
}

/* Return the name of a LOG_* severity, or "unknown". */
const char *
conf_severity_name(int sev)
{
	if (sev < 0 || sev >= (int)(sizeof(conf_severities) /
	    sizeof(conf_severities[0])))
		return "unknown";
	return conf_severities[sev];
}

/* Parse daemon, user or local0..local7 into LOG_*; 0 or -1. */
int
conf_parse_facility(const char *s, int *v)
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

/*
 * Parse a syslog = destination: local, unix:/abs/path, udp:host:port or
 * tcp:host:port (an IPv6 host in brackets).
 */
int
conf_parse_syslog(const char *s, struct conf_syslog *d, char *err,
    size_t errlen)
{
	struct in6_addr a6;
	const char *hp, *colon, *close;
	size_t hlen;
	int port;

	memset(d, 0, sizeof(*d));
	if (strcmp(s, "local") == 0) {
		d->kind = CONF_SYSLOG_LOCAL;
		return 0;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/') {
			log_errbuf(err, errlen, "unix: needs an absolute path "
			    "(unix:/dev/log)");
			return -1;
		}
		if (strlen(s + 5) >= sizeof(d->path)) {
			log_errbuf(err, errlen, "socket path longer than %zu "
			    "bytes", sizeof(d->path) - 1);
			return -1;
		}
		d->kind = CONF_SYSLOG_UNIX;
		strcpy(d->path, s + 5);
		return 0;
	}
	if (strncmp(s, "udp:", 4) == 0)
		d->kind = CONF_SYSLOG_UDP;
	else if (strncmp(s, "tcp:", 4) == 0)
		d->kind = CONF_SYSLOG_TCP;
	else {
		log_errbuf(err, errlen, "'" CONF_ECHO "' is not local, "
		    "unix:/path, udp:host:port or tcp:host:port", s);
		return -1;
	}
	hp = s + 4;
	if (*hp == '[') {
		if ((close = strchr(hp, ']')) == NULL) {
			log_errbuf(err, errlen, "unterminated [IPv6] address");
			return -1;
		}
		hlen = (size_t)(close - hp - 1);
		if (hlen == 0 || hlen >= sizeof(d->host)) {
			log_errbuf(err, errlen, "bad IPv6 address");
			return -1;
		}
		memcpy(d->host, hp + 1, hlen);
		d->host[hlen] = '\0';
		if (inet_pton(AF_INET6, d->host, &a6) != 1) {
			log_errbuf(err, errlen, "'%s' is not an IPv6 address",
			    d->host);
			return -1;
		}
		colon = close + 1;
		if (*colon != ':') {
			log_errbuf(err, errlen, "missing :port after the "
			    "address");
			return -1;
		}
	} else {
		if ((colon = strrchr(hp, ':')) == NULL) {
			log_errbuf(err, errlen, "missing :port (%s:host:port)",
			    d->kind == CONF_SYSLOG_UDP ? "udp" : "tcp");
			return -1;
		}
		hlen = (size_t)(colon - hp);
		if (memchr(hp, ':', hlen) != NULL) {
			log_errbuf(err, errlen, "put an IPv6 address in "
			    "brackets ([::1]:514)");
			return -1;
		}
		if (hlen == 0 || hlen >= sizeof(d->host)) {
			log_errbuf(err, errlen, "missing or overlong host");
			return -1;
		}
		memcpy(d->host, hp, hlen);
		d->host[hlen] = '\0';
		if (!conf_valid_hostname(d->host)) {
			log_errbuf(err, errlen, "bad host '%s'", d->host);
			return -1;
		}
	}
	if (conf_parse_int(colon + 1, 1, 65535, &port) == -1) {
		log_errbuf(err, errlen, "bad port '%.16s' (1..65535)",
		    colon + 1);
		return -1;
	}
	snprintf(d->port, sizeof(d->port), "%d", port);
	return 0;
}

/* One hosts entry, checked. */
struct conf_host {
	int		 range;		/* an IPv4 range: net/prefix */
	uint32_t	 net;		/* host order */
	int		 prefix;
	char		 host[256];	/* otherwise: name or address */
};

static int
conf_host_parse(const char *entry, struct conf_host *h, char *err,
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
		log_errbuf(err, errlen, "'%.32s...' is too long", entry);
		return -1;
	}
	memcpy(buf, entry, n + 1);
	if (buf[0] == '[') {
		if (n < 3 || buf[n - 1] != ']') {
			log_errbuf(err, errlen, "'%s': unterminated [IPv6] "
			    "address", entry);
			return -1;
		}
		buf[n - 1] = '\0';
		memmove(buf, buf + 1, n - 1);
		if (strchr(buf, ':') == NULL) {
			log_errbuf(err, errlen, "'%s': only IPv6 addresses go "
			    "in brackets", entry);
			return -1;
		}
	}
	if (strchr(buf, ':') != NULL) {
		if (strchr(buf, '/') != NULL) {
			log_errbuf(err, errlen, "'%s': IPv6 ranges are not "
			    "supported; list the addresses", entry);
			return -1;
		}
		if (inet_pton(AF_INET6, buf, &a6) != 1) {
			log_errbuf(err, errlen, "'%s' is not a valid IPv6 "
			    "address", entry);
			return -1;
		}
		strcpy(h->host, buf);
		return 0;
	}
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash = '\0';
		if (inet_pton(AF_INET, buf, &a4) != 1 ||
		    conf_parse_int(slash + 1, 0, 32, &h->prefix) == -1) {
			log_errbuf(err, errlen, "'%s' is not an IPv4 range "
			    "(a.b.c.d/N)", entry);
			return -1;
		}
		if (h->prefix < CONF_MIN_PREFIX) {
			log_errbuf(err, errlen, "'%s': range larger than /%d "
			    "refused (%llu addresses); split it into /%d or "
			    "smaller ranges", entry, CONF_MIN_PREFIX,
			    1ULL << (32 - h->prefix), CONF_MIN_PREFIX);
			return -1;
		}
		h->net = ntohl(a4.s_addr);
		mask = h->prefix == 32 ? 0 : UINT32_MAX >> h->prefix;
		if ((h->net & mask) != 0) {
			a4.s_addr = htonl(h->net & ~mask);
			inet_ntop(AF_INET, &a4, buf, sizeof(buf));
			log_errbuf(err, errlen, "'%s': address bits set below "
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
			log_errbuf(err, errlen, "'%s' is not a valid IPv4 "
			    "address", entry);
			return -1;
		}
	} else if (!conf_valid_hostname(buf)) {
		log_errbuf(err, errlen, "'%s' is not a host name, address or "
		    "range", entry);
		return -1;
	}
	strcpy(h->host, buf);
	return 0;
}

/* A share name: no separators or control characters, at most 80 bytes. */
static int
conf_valid_share(const char *s)
{
	if (*s == '\0' || strlen(s) > 80)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F ||
		    strchr("/\\", *s) != NULL)
			return 0;
	return 1;
}

static int
conf_protocol_find(const char *s)
{
	size_t i;

	for (i = 0; i < CONF_NPROTOCOLS; i++)
		if (strcasecmp(s, conf_protocols[i].name) == 0)
			return (int)i;
	return -1;
}

static struct conf *
conf_new(const char *path)
{
	struct conf *c = xcalloc(1, sizeof(*c));
	size_t i;

	c->path = xstrdup(path);
	c->database = xstrdup(LOCALSTATEDIR "/lib/maildatd/maildat.db");
	c->interval_ms = 15 * 60 * 1000;
	c->workers = 8;
	c->timeout_ms = 30 * 1000;
	c->connect_timeout_ms = 5 * 1000;
	c->syslog = xstrdup("local");
	c->syslog_facility = LOG_DAEMON;
	c->control_socket = xstrdup(RUNSTATEDIR "/maildatd/control.sock");
	c->user = xstrdup("maildatd");
	c->pidfile = xstrdup(RUNSTATEDIR "/maildatd/maildatd.pid");
	c->jobs_per_worker = 100;
	c->unreachable_after = 3;
	c->renotify_ms = 24 * MS_HOUR;
	c->backoff_max_ms = MS_HOUR;
	c->lockout_after = 3;
	c->rules = xcalloc(CONF_NBUILTIN_RULES, sizeof(*c->rules));
	for (i = 0; i < CONF_NBUILTIN_RULES; i++) {
		c->rules[i].name = xstrdup(conf_builtin[i].name);
		c->rules[i].builtin = 1;
		c->rules[i].enabled = 1;
		c->rules[i].severity = conf_builtin[i].severity;
	}
	c->nrules = CONF_NBUILTIN_RULES;
	return c;
}

static int
conf_rule_index(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nrules; i++)
		if (strcmp(c->rules[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Handle a section header at t (which starts with '['). */
static void
conf_section(struct conf_parser *p, char *t)
{
	struct conf_sectinfo *si;
	struct conf *c = p->c;
	char *end, *inner, *name, *after;
	size_t i;
	int type = -1, r;

	p->cur = -1;
	p->inbad = 1;
	p->contkey = -1;
	end = conf_find(t + 1, "]");
	if (*end != ']') {
		conf_error(p, p->lineno, "section header without ']'");
		return;
	}
	*end = '\0';
	after = conf_lskip(end + 1);
	if (*after != '\0' && *after != ';' && *after != '#') {
		conf_error(p, p->lineno, "text after the section header: "
		    "'" CONF_ECHO "'", conf_trim(after));
		return;
	}
	inner = conf_trim(t + 1);
	for (name = inner; *name != '\0' && !isspace((unsigned char)*name);
	    name++)
		;
	if (*name != '\0')
		*name++ = '\0';
	name = conf_trim(name);
	for (i = 0; i < sizeof(conf_sectnames) / sizeof(conf_sectnames[0]);
	    i++)
		if (strcmp(inner, conf_sectnames[i]) == 0)
			type = (int)i;
	if (type == -1) {
		conf_error(p, p->lineno, "unknown section type '" CONF_ECHO
		    "' (expected maildatd, credentials, target or rule)", inner);
		return;
	}
	if (type == SECT_MAILDATD && *name != '\0') {
		conf_error(p, p->lineno, "[maildatd] takes no name");
		return;
	}
	if (type != SECT_MAILDATD && *name == '\0') {
		conf_error(p, p->lineno, "[%s] needs a name: [%s NAME]",
		    inner, inner);
		return;
	}
	if (type != SECT_MAILDATD && !conf_valid_name(name)) {
		conf_error(p, p->lineno, "bad %s name '" CONF_ECHO "' (1 to %d "
		    "letters, digits, '_', '.' or '-')", inner, name,
		    CONF_NAME_MAX - 1);
		return;
	}
	if (type == SECT_CREDENTIALS && strcmp(name, "guest") == 0) {
		conf_error(p, p->lineno, "[credentials guest]: 'guest' is "
		    "reserved for anonymous access");
		return;
	}
	for (i = 0; i < p->nsects; i++) {
		si = &p->sects[i];
		if ((int)si->type != type)
			continue;
		if (type == SECT_MAILDATD) {
			conf_error(p, p->lineno, "duplicate section [maildatd] "
			    "(first at line %d)", si->line);
			return;
		}
		if ((type == SECT_CREDENTIALS &&
		    strcmp(c->creds[si->idx].name, name) == 0) ||
		    (type == SECT_TARGET &&
		    strcmp(c->targets[si->idx].name, name) == 0) ||
		    (type == SECT_RULE &&
		    strcmp(c->rules[si->idx].name, name) == 0)) {
			conf_error(p, p->lineno, "duplicate section [%s %s] "
			    "(first at line %d)", inner, name, si->line);
			return;
		}
	}

	p->sects = xreallocarray(p->sects, p->nsects + 1, sizeof(*p->sects));
	si = &p->sects[p->nsects];
	memset(si, 0, sizeof(*si));
	si->type = (enum conf_sect)type;
	si->line = p->lineno;
	if (type == SECT_MAILDATD)
		si->label = xstrdup("[maildatd]");
	else
		si->label = xasprintf("[%s %s]", inner, name);
	switch (type) {
	case SECT_MAILDATD:
		break;
	case SECT_CREDENTIALS:
		c->creds = xreallocarray(c->creds, c->ncreds + 1,
		    sizeof(*c->creds));
		memset(&c->creds[c->ncreds], 0, sizeof(*c->creds));
		c->creds[c->ncreds].name = xstrdup(name);
		c->creds[c->ncreds].line = p->lineno;
		si->idx = c->ncreds++;
		break;
	case SECT_TARGET:
		c->targets = xreallocarray(c->targets, c->ntargets + 1,
		    sizeof(*c->targets));
		memset(&c->targets[c->ntargets], 0, sizeof(*c->targets));
		c->targets[c->ntargets].name = xstrdup(name);
		c->targets[c->ntargets].share = xstrdup(CONF_DEFAULT_SHARE);
		c->targets[c->ntargets].line = p->lineno;
		si->idx = c->ntargets++;
		break;
	case SECT_RULE:
		if ((r = conf_rule_index(c, name)) == -1) {
			c->rules = xreallocarray(c->rules, c->nrules + 1,
			    sizeof(*c->rules));
			memset(&c->rules[c->nrules], 0, sizeof(*c->rules));
			c->rules[c->nrules].name = xstrdup(name);
			c->rules[c->nrules].enabled = 1;
			c->rules[c->nrules].severity = CONF_USER_RULE_SEVERITY;
			r = (int)c->nrules++;
		}
		c->rules[r].line = p->lineno;
		si->idx = (size_t)r;
		break;
	}
	p->cur = (int)p->nsects++;
	p->inbad = 0;
}

/* ini_reader: one physical line in, one line for inih out. */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct conf_parser *p = stream;
	const char *pass;
	char *s, *t, *sep;
	ssize_t n;
	size_t plen;

	free(p->lname);
	free(p->lvalue);
	p->lname = p->lvalue = NULL;
	p->kind = LINE_SKIP;
	if (num < 8 || (n = getline(&p->buf, &p->bufcap, p->f)) == -1)
		return NULL;
	p->lineno++;
	s = p->buf;
	if (p->lineno == 1 && (unsigned char)s[0] == 0xEF &&
	    (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
		s += 3;
	t = conf_lskip(s);
	pass = "#\n";
	if ((size_t)n != strlen(p->buf)) {
		conf_error(p, p->lineno, "NUL byte in the line");
	} else if (*t == '\0' || *t == ';' || *t == '#') {
		/* comment or blank */
	} else if (p->prevkey && t > p->buf) {
		p->kind = LINE_CONT;
		p->lvalue = xstrdup(t);
		pass = " c\n";
	} else if (*t == '[') {
		p->kind = LINE_SECTION;
		p->prevkey = 0;
		conf_section(p, t);
		pass = "[s]\n";
	} else {
		sep = conf_find(t, "=:");
		if (*sep != '=' && *sep != ':') {
			conf_error(p, p->lineno, "expected 'key = value', "
			    "'[section]' or a comment");
		} else {
			p->kind = LINE_KEY;
			p->prevkey = 1;
			if ((size_t)n < (size_t)num)
				pass = p->buf;
			else {
				*sep = '\0';
				p->lname = xstrdup(conf_trim(t));
				p->lvalue = xstrdup(sep + 1);
				pass = "k=\n";
			}
		}
	}
	plen = strlen(pass);
	memcpy(str, pass, plen + 1);
	return str;
}

/* Store a duration of at least 1ms and at most max (0: no limit). */
static int
conf_duration(struct conf_parser *p, const char *name, const char *v,
    int64_t max, int64_t *out)
{
	int64_t ms;

	if (duration_parse(v, &ms) == -1) {
		conf_error(p, p->lineno, "%s: bad duration '" CONF_ECHO "' "
		    "(a number with s, m, h or d: 30s, 5m, 1h, 2d)", name, v);
		return -1;
	}
	if (ms == 0) {
		conf_error(p, p->lineno, "%s must be greater than 0", name);
		return -1;
	}
	if (max != 0 && ms > max) {
		conf_error(p, p->lineno, "%s: '" CONF_ECHO "' is longer than "
		    "%lldh", name, v, (long long)(max / MS_HOUR));
		return -1;
	}
	*out = ms;
	return 0;
}

static int
conf_int(struct conf_parser *p, const char *name, const char *v, long min,
    long max, int *out)
{
	if (conf_parse_int(v, min, max, out) == -1) {
		conf_error(p, p->lineno, "%s: '" CONF_ECHO "' is not a whole "
		    "number from %ld to %ld", name, v, min, max);
		return -1;
	}
	return 0;
}

static int
conf_bool(struct conf_parser *p, const char *name, const char *v, int *out)
{
	if (conf_parse_bool(v, out) == -1) {
		conf_error(p, p->lineno, "%s: '" CONF_ECHO "' is not yes, no, "
		    "true, false, on, off, 1 or 0", name, v);
		return -1;
	}
	return 0;
}

/* An absolute path; empty is allowed (and stored as NULL) if may_be_empty. */
static void
conf_path(struct conf_parser *p, const char *name, const char *v,
    int may_be_empty, size_t max, char **slot)
{
	if (*v == '\0') {
		if (may_be_empty)
			conf_setstr(slot, NULL);
		else
			conf_error(p, p->lineno, "%s is empty", name);
		return;
	}
	if (v[0] != '/') {
		conf_error(p, p->lineno, "%s: '" CONF_ECHO "' is not an "
		    "absolute path", name, v);
		return;
	}
	if (max != 0 && strlen(v) > max) {
		conf_error(p, p->lineno, "%s: path longer than %zu bytes",
		    name, max);
		return;
	}
	conf_setstr(slot, v);
}

static void
conf_add_hosts(struct conf_parser *p, struct conf_target *t, char *v)
{
	struct conf_host h;
	char err[512], *save = NULL, *e;

	for (e = strtok_r(v, " \t,", &save); e != NULL;
	    e = strtok_r(NULL, " \t,", &save)) {
		if (conf_host_parse(e, &h, err, sizeof(err)) == -1) {
			conf_error(p, p->lineno, "hosts: %s", err);
			continue;
		}
		p->naddrs += h.range ? UINT64_C(1) << (32 - h.prefix) : 1;
		if (p->naddrs > CONF_MAX_ADDRESSES) {
			conf_error(p, p->lineno, "hosts: %s takes the targets "
			    "past %d addresses in all", e, CONF_MAX_ADDRESSES);
			continue;
		}
		t->hosts = xreallocarray(t->hosts, t->nhosts + 1,
		    sizeof(*t->hosts));
		t->hosts[t->nhosts++] = xstrdup(e[0] == '[' ? h.host : e);
	}
}

static void
conf_add_url(struct conf_parser *p, struct conf_sectinfo *si,
    struct conf_target *t, const char *v)
{
	struct smburl u;
	char err[512];

	if (*v == '\0') {
		conf_error(p, p->lineno, "url is empty");
		return;
	}
	if (smburl_parse(v, 1, &u, err, sizeof(err)) == -1) {
		conf_error(p, p->lineno, "url: %s", err);
		return;
	}
	smburl_free(&u);
	t->urls = xreallocarray(t->urls, t->nurls + 1, sizeof(*t->urls));
	t->urls[t->nurls++] = xstrdup(v);
	si->urllines = xreallocarray(si->urllines, si->nurllines + 1,
	    sizeof(*si->urllines));
	si->urllines[si->nurllines++] = p->lineno;
}

static void
conf_protocol(struct conf_parser *p, struct conf_target *t, char *v)
{
	char *w[3], *save = NULL;
	int n = 0, lo, hi;

	for (w[n] = strtok_r(v, " \t,", &save); w[n] != NULL && n < 2;
	    w[n] = strtok_r(NULL, " \t,", &save))
		n++;
	if (n == 0 || n > 2 || w[n] != NULL) {
		conf_error(p, p->lineno, "protocol: give the lowest dialect, "
		    "and optionally the highest (protocol = NT1 SMB3)");
		return;
	}
	if ((lo = conf_protocol_find(w[0])) == -1 ||
	    (hi = conf_protocol_find(n == 2 ? w[1] : "SMB3")) == -1) {
		conf_error(p, p->lineno, "protocol: unknown dialect '%.16s' "
		    "(expected NT1, SMB2, SMB2_02, SMB2_10, SMB3, SMB3_00, "
		    "SMB3_02 or SMB3_11)", conf_protocol_find(w[0]) == -1 ?
		    w[0] : w[1]);
		return;
	}
	if (conf_protocols[lo].lo > conf_protocols[hi].hi) {
		conf_error(p, p->lineno, "protocol: lowest dialect %s is above "
		    "highest %s", conf_protocols[lo].name,
		    conf_protocols[hi].name);
		return;
	}
	conf_setstr(&t->min_protocol, conf_protocols[lo].name);
	conf_setstr(&t->max_protocol, conf_protocols[hi].name);
}

static void
conf_key_maildatd(struct conf_parser *p, enum conf_key k, const char *name,
    const char *v)
{
	struct conf_syslog d;
	struct conf *c = p->c;
	char err[256];

	switch (k) {
	case K_DATABASE:
		conf_path(p, name, v, 0, 0, &c->database);
		break;
	case K_INTERVAL:
		conf_duration(p, name, v, 0, &c->interval_ms);
		break;
	case K_WORKERS:
		conf_int(p, name, v, 1, 256, &c->workers);
		break;
	case K_TIMEOUT:
		conf_duration(p, name, v, 24 * MS_HOUR, &c->timeout_ms);
		break;
	case K_CONNECT_TIMEOUT:
		conf_duration(p, name, v, 24 * MS_HOUR, &c->connect_timeout_ms);
		break;
	case K_SYSLOG:
		if (conf_parse_syslog(v, &d, err, sizeof(err)) == -1)
			conf_error(p, p->lineno, "syslog: %s", err);
		else
			conf_setstr(&c->syslog, v);
		break;
	case K_SYSLOG_FACILITY:
		if (conf_parse_facility(v, &c->syslog_facility) == -1)
			conf_error(p, p->lineno, "syslog_facility: unknown "
			    "facility '" CONF_ECHO "' (expected daemon, user or "
			    "local0 to local7)", v);
		break;
	case K_CONTROL_SOCKET:
		conf_path(p, name, v, 0, CONF_SUN_PATH - 1, &c->control_socket);
		break;
	case K_USER:
		if (!conf_valid_name(v) || v[0] == '-')
			conf_error(p, p->lineno, "user: bad user name '"
			    CONF_ECHO "'", v);
		else
			conf_setstr(&c->user, v);
		break;
	case K_PIDFILE:
		conf_path(p, name, v, 1, 0, &c->pidfile);
		break;
	case K_JOBS_PER_WORKER:
		conf_int(p, name, v, 1, 1000000, &c->jobs_per_worker);
		break;
	case K_UNREACHABLE_AFTER:
		conf_int(p, name, v, 1, 1000, &c->unreachable_after);
		break;
	case K_RENOTIFY:
		conf_duration(p, name, v, 0, &c->renotify_ms);
		break;
	case K_BACKOFF_MAX:
		conf_duration(p, name, v, 0, &c->backoff_max_ms);
		break;
	case K_LOCKOUT_AFTER:
		conf_int(p, name, v, 0, 1000, &c->lockout_after);
		break;
	case K_SMB_CONF:
		conf_path(p, name, v, 1, 0, &c->smb_conf);
		break;
	default:
		break;
	}
}

static void
conf_key_target(struct conf_parser *p, struct conf_sectinfo *si,
    enum conf_key k, const char *name, char *v)
{
	struct conf_target *t = &p->c->targets[si->idx];

	switch (k) {
	case K_HOSTS:
		conf_add_hosts(p, t, v);
		break;
	case K_SHARE:
		if (!conf_valid_share(v))
			conf_error(p, p->lineno, "share: bad share name '"
			    CONF_ECHO "'", v);
		else
			conf_setstr(&t->share, v);
		break;
	case K_CREDENTIALS:
		if (strcmp(v, "guest") == 0)
			conf_setstr(&t->credentials, NULL);
		else if (!conf_valid_name(v))
			conf_error(p, p->lineno, "credentials: bad name '"
			    CONF_ECHO "'", v);
		else
			conf_setstr(&t->credentials, v);
		break;
	case K_PROTOCOL:
		conf_protocol(p, t, v);
		break;
	case K_INTERVAL:
		conf_duration(p, name, v, 0, &t->interval_ms);
		break;
	case K_TIMEOUT:
		conf_duration(p, name, v, 24 * MS_HOUR, &t->timeout_ms);
		break;
	case K_URL:
		conf_add_url(p, si, t, v);
		break;
	case K_DISCOVER:
		conf_bool(p, name, v, &t->discover);
		break;
	default:
		break;
	}
}

static void
conf_key_rule(struct conf_parser *p, struct conf_sectinfo *si,
    enum conf_key k, const char *name, const char *v)
{
	struct conf_rule *r = &p->c->rules[si->idx];

	switch (k) {
	case K_ENABLED:
		conf_bool(p, name, v, &r->enabled);
		break;
	case K_SEVERITY:
		if (conf_parse_severity(v, &r->severity) == -1)
			conf_error(p, p->lineno, "severity: unknown severity '"
			    CONF_ECHO "' (expected emerg, alert, crit, err, "
			    "warning, notice, info or debug)", v);
		break;
	case K_QUERY:
		if (r->builtin) {
			conf_error(p, p->lineno, "query is not allowed in %s: "
			    "%s is a built-in rule (only enabled, severity and "
			    "renotify may be set)", si->label, r->name);
			p->contkey = -1;
		} else
			conf_setstr(&r->query, v);
		break;
	case K_RENOTIFY:
		conf_duration(p, name, v, 0, &r->renotify_ms);
		break;
	default:
		break;
	}
}

/* Handle "name = value" (value already cleaned) on the current line. */
static void
conf_key(struct conf_parser *p, const char *name, char *v)
{
	struct conf_sectinfo *si;
	size_t i;
	int k = -1;

	p->contkey = -1;
	if (p->inbad)
		return;
	if (p->cur == -1) {
		conf_error(p, p->lineno, "key '" CONF_ECHO "' outside a "
		    "section", name);
		return;
	}
	si = &p->sects[p->cur];
	for (i = 0; i < CONF_NKEYDEFS; i++)
		if (conf_keys[i].sect == si->type &&
		    strcmp(conf_keys[i].name, name) == 0)
			k = (int)conf_keys[i].key;
	if (k == -1) {
		conf_error(p, p->lineno, "unknown key '" CONF_ECHO "' in %s",
		    name, si->label);
		return;
	}
	if (si->seen[k] != 0 && k != K_URL) {
		conf_error(p, p->lineno, "duplicate key '%s' in %s (first at "
		    "line %d)", name, si->label, si->seen[k]);
		return;
	}
	if (si->seen[k] == 0)
		si->seen[k] = p->lineno;
	p->contkey = k;
	snprintf(p->contname, sizeof(p->contname), "%s", name);
	switch (si->type) {
	case SECT_MAILDATD:
		conf_key_maildatd(p, (enum conf_key)k, name, v);
		break;
	case SECT_CREDENTIALS:
		conf_path(p, name, v, 0, 0, &p->c->creds[si->idx].auth_file);
		break;
	case SECT_TARGET:
		conf_key_target(p, si, (enum conf_key)k, name, v);
		break;
	case SECT_RULE:
		conf_key_rule(p, si, (enum conf_key)k, name, v);
		break;
	}
}

/* Handle an indented line that continues the key above it. */
static void
conf_continue(struct conf_parser *p, char *v)
{
	struct conf_sectinfo *si;
	struct conf_rule *r;
	char *q;

	if (p->inbad || p->cur == -1 || p->contkey == -1 || *v == '\0')
		return;
	si = &p->sects[p->cur];
	switch (p->contkey) {
	case K_QUERY:
		r = &p->c->rules[si->idx];
		if (r->query == NULL || r->query[0] == '\0')
			conf_setstr(&r->query, v);
		else {
			q = xasprintf("%s\n%s", r->query, v);
			free(r->query);
			r->query = q;
		}
		break;
	case K_HOSTS:
		conf_add_hosts(p, &p->c->targets[si->idx], v);
		break;
	case K_URL:
		conf_add_url(p, si, &p->c->targets[si->idx], v);
		break;
	default:
		conf_error(p, p->lineno, "indented line: '%s' takes one line "
		    "(an indented line continues the key above it)",
		    p->contname);
		p->contkey = -1;
		break;
	}
}

/* ini_handler: section and line come from the reader, not from inih. */
static int
conf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct conf_parser *p = user;
	char *v;

	(void)section;
	switch (p->kind) {
	case LINE_CONT:
		if (p->lvalue != NULL)
			conf_continue(p, conf_clean(p->lvalue));
		break;
	case LINE_KEY:
		if (p->lname != NULL) {
			name = p->lname;
			value = p->lvalue;
		}
		v = xstrdup(value != NULL ? value : "");
		conf_key(p, name, conf_clean(v));
		free(v);
		p->kind = LINE_SKIP;	/* one call per line */
		break;
	default:
		break;
	}
	return 1;
}

/* Checks that need the whole file, and the auth files. */
static void
conf_finish(struct conf_parser *p)
{
	struct conf *c = p->c;
	struct conf_sectinfo *si;
	struct conf_credentials *cr;
	struct conf_target *t;
	struct conf_rule *r;
	struct authfile af;
	struct smburl u;
	char err[512];
	size_t i, j;

	for (i = 0; i < p->nsects; i++) {
		si = &p->sects[i];
		switch (si->type) {
		case SECT_MAILDATD:
			break;
		case SECT_CREDENTIALS:
			cr = &c->creds[si->idx];
			if (si->seen[K_AUTH_FILE] == 0) {
				conf_error(p, si->line, "%s has no auth_file",
				    si->label);
				break;
			}
			if (cr->auth_file == NULL || (p->flags & CONF_NO_SECRETS))
				break;		/* reported already, or not wanted */
			if (authfile_read(cr->auth_file, &af, err,
			    sizeof(err)) == -1) {
				conf_error(p, si->seen[K_AUTH_FILE],
				    "credentials %s: %s", cr->name, err);
				break;
			}
			cr->username = af.username;
			cr->password = af.password;
			cr->domain = af.domain;
			break;
		case SECT_TARGET:
			t = &c->targets[si->idx];
			if (si->seen[K_INTERVAL] == 0 || t->interval_ms == 0)
				t->interval_ms = c->interval_ms;
			if (si->seen[K_TIMEOUT] == 0 || t->timeout_ms == 0)
				t->timeout_ms = c->timeout_ms;
			if (t->min_protocol == NULL)
				t->min_protocol = xstrdup("NT1");
			if (t->max_protocol == NULL)
				t->max_protocol = xstrdup("SMB3");
			if (si->seen[K_HOSTS] == 0 && si->seen[K_URL] == 0)
				conf_error(p, si->line, "%s has neither hosts "
				    "nor url", si->label);
			else if (t->nhosts == 0 && t->nurls == 0 &&
			    p->nerrs == 0)
				conf_error(p, si->seen[K_HOSTS] ?
				    si->seen[K_HOSTS] : si->line, "%s names no "
				    "host", si->label);
			if (t->credentials != NULL &&
			    conf_find_credentials(c, t->credentials) == NULL)
				conf_error(p, si->seen[K_CREDENTIALS],
				    "%s: unknown credentials '%s' (there is no "
				    "[credentials %s] section)", si->label,
				    t->credentials, t->credentials);
			for (j = 0; j < t->nurls && !t->discover; j++) {
				if (smburl_parse(t->urls[j], 1, &u, err,
				    sizeof(err)) == -1)
					continue;
				if (u.share == NULL || u.share[0] == '\0')
					conf_error(p, si->urllines[j], "url "
					    "'%s' names no share (add one, or "
					    "set discover = yes to crawl the "
					    "host's shares)", t->urls[j]);
				smburl_free(&u);
			}
			break;
		case SECT_RULE:
			r = &c->rules[si->idx];
			if (!r->builtin && (r->query == NULL ||
			    r->query[0] == '\0'))
				conf_error(p, si->line, "%s has no query (%s is "
				    "not a built-in rule; those are "
				    "duplicate-serial, duplicate-address, "
				    "duplicate-postoffice, serial-changed, "
				    "unreachable and malformed)", si->label,
				    r->name);
			break;
		}
	}
}

/*
 * Read and check the file at path and the auth file of every [credentials]
 * section.
 */
int
conf_load(const char *path, struct conf **out, struct conf_errors *errs)
{
	return conf_load_flags(path, 0, out, errs);
}

/* conf_load() with flags: CONF_NO_SECRETS leaves credentials unread. */
int
conf_load_flags(const char *path, int flags, struct conf **out,
    struct conf_errors *errs)
{
	struct conf_parser p;
	size_t i;
	int rc;

	*out = NULL;
	memset(errs, 0, sizeof(*errs));
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.flags = flags;
	p.cur = -1;
	p.contkey = -1;
	if ((p.f = fopen(path, "re")) == NULL) {
		conf_error(&p, 0, "%s", strerror(errno));
		goto done;
	}
	p.c = conf_new(path);
	rc = ini_parse_stream(conf_reader, &p, conf_handler, &p);
	if (ferror(p.f))
		conf_error(&p, 0, "read error");
	else if (rc == -2)
		conf_error(&p, 0, "out of memory");
	else if (rc != 0 && p.nerrs == 0)
		conf_error(&p, rc, "syntax error");
	fclose(p.f);
	free(p.lname);
	free(p.lvalue);
	if (p.buf != NULL) {
		explicit_bzero(p.buf, p.bufcap);
		free(p.buf);
	}
	conf_finish(&p);
	for (i = 0; i < p.nsects; i++) {
		free(p.sects[i].label);
		free(p.sects[i].urllines);
	}
	free(p.sects);
done:
	if (p.nerrs > 0) {
		qsort(p.errs, p.nerrs, sizeof(*p.errs), conf_errcmp);
		errs->v = xcalloc(p.nerrs, sizeof(*errs->v));
		for (i = 0; i < p.nerrs; i++)
			errs->v[i] = p.errs[i].msg;
		errs->n = p.nerrs;
		free(p.errs);
		conf_free(p.c);
		return -1;
	}
	*out = p.c;
	return 0;
}

/* Free c, wiping the credentials first; NULL is ignored. */
void
conf_free(struct conf *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->ncreds; i++) {
		free(c->creds[i].name);
		free(c->creds[i].auth_file);
		conf_wipe(c->creds[i].username);
		conf_wipe(c->creds[i].password);
		conf_wipe(c->creds[i].domain);
	}
	free(c->creds);
	for (i = 0; i < c->ntargets; i++) {
		struct conf_target *t = &c->targets[i];

		free(t->name);
		for (j = 0; j < t->nhosts; j++)
			free(t->hosts[j]);
		free(t->hosts);
		for (j = 0; j < t->nurls; j++)
			free(t->urls[j]);
		free(t->urls);
		free(t->share);
		free(t->credentials);
		free(t->min_protocol);
		free(t->max_protocol);
	}
	free(c->targets);
	for (i = 0; i < c->nrules; i++) {
		free(c->rules[i].name);
		free(c->rules[i].query);
	}
	free(c->rules);
	free(c->path);
	free(c->database);
	free(c->syslog);
	free(c->control_socket);
	free(c->user);
	free(c->pidfile);
	free(c->smb_conf);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

/* Free the messages in e and empty it. */
void
conf_errors_free(struct conf_errors *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

/* Return the [credentials] section called name, or NULL. */
const struct conf_credentials *
conf_find_credentials(const struct conf *c, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < c->ncreds; i++)
		if (strcmp(c->creds[i].name, name) == 0)
			return &c->creds[i];
	return NULL;
}

/* Return the rule called name (built-in or user), or NULL. */
const struct conf_rule *
conf_find_rule(const struct conf *c, const char *name)
{
	int i;

	if (name == NULL || (i = conf_rule_index(c, name)) == -1)
		return NULL;
	return &c->rules[i];
}

/* Return the default configuration file, SYSCONFDIR/maildatd/maildatd.conf. */
const char *
conf_default_path(void)
{
	return SYSCONFDIR "/maildatd/maildatd.conf";
}

/* Return 1 if name is one of the built-in rules, else 0. */
int
conf_rule_is_builtin(const char *name)
{
	size_t i;

	for (i = 0; i < CONF_NBUILTIN_RULES; i++)
		if (strcmp(conf_builtin[i].name, name) == 0)
			return 1;
	return 0;
}

/* Append smb://host/share for host to the list. */
static void
conf_urls_add(char ***v, size_t *n, size_t *cap, const char *host,
    const char *share)
{
	struct smburl u;

	if (*n == *cap) {
		*cap = *cap == 0 ? 16 : *cap * 2;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	memset(&u, 0, sizeof(u));
	u.host = (char *)host;
	u.share = (char *)share;
	u.path = (char *)"";
	(*v)[(*n)++] = smburl_format(&u, NULL);
}

struct conf_urlref {
	const char	*url;
	size_t		 pos;
};

static int
conf_urlrefcmp(const void *a, const void *b)
{
	const struct conf_urlref *x = a, *y = b;
	int r;

	if ((r = strcmp(x->url, y->url)) != 0)
		return r;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Drop repeated URLs from v, keeping the first of each, in order. */
static void
conf_urls_dedup(char **v, size_t *n)
{
	struct conf_urlref *ref;
	size_t i, o;
	char *drop;

	if (*n < 2)
		return;
	ref = xcalloc(*n, sizeof(*ref));
	drop = xcalloc(*n, 1);
	for (i = 0; i < *n; i++) {
		ref[i].url = v[i];
		ref[i].pos = i;
	}
	qsort(ref, *n, sizeof(*ref), conf_urlrefcmp);
	for (i = 1; i < *n; i++)
		if (strcmp(ref[i].url, ref[i - 1].url) == 0)
			drop[ref[i].pos] = 1;
	for (i = o = 0; i < *n; i++) {
		if (drop[i])
			free(v[i]);
		else
			v[o++] = v[i];
	}
	*n = o;
	free(ref);
	free(drop);
}

/*
 * Build the smb:// URLs of t: each hosts entry as smb://HOST/SHARE (an IPv4
 * range expanded to its addresses, without network and broadcast address
 * below /31), then each url entry, in order, a URL repeated dropped.
 */
int
conf_target_urls(const struct conf_target *t, char ***urls, size_t *n)
{
	struct conf_host h;
	struct in_addr a4;
	struct smburl u;
	char err[512], host[INET_ADDRSTRLEN];
	char **v = NULL;
	size_t nv = 0, cap = 0, i;
	uint64_t a, first, last, size;
	const char *share = t->share != NULL ? t->share : CONF_DEFAULT_SHARE;

	*urls = NULL;
	*n = 0;
	for (i = 0; i < t->nhosts; i++) {
		if (conf_host_parse(t->hosts[i], &h, err, sizeof(err)) == -1)
			goto fail;
		if (!h.range) {
			conf_urls_add(&v, &nv, &cap, h.host, share);
			continue;
		}
		size = UINT64_C(1) << (32 - h.prefix);
		first = h.net;
		last = (uint64_t)h.net + size - 1;
		if (h.prefix < 31) {
			first++;
			last--;
		}
		for (a = first; a <= last; a++) {
			a4.s_addr = htonl((uint32_t)a);
			inet_ntop(AF_INET, &a4, host, sizeof(host));
			conf_urls_add(&v, &nv, &cap, host, share);
		}
	}
	for (i = 0; i < t->nurls; i++) {
		if (smburl_parse(t->urls[i], 1, &u, err, sizeof(err)) == -1)
			goto fail;
		if (nv == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[nv++] = smburl_format(&u, NULL);
		smburl_free(&u);
	}
	conf_urls_dedup(v, &nv);
	*urls = v;
	*n = nv;
	return 0;
fail:
	conf_target_urls_free(v, nv);
	return -1;
}

/* Free an array returned by conf_target_urls(). */
void
conf_target_urls_free(char **urls, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(urls[i]);
	free(urls);
}
