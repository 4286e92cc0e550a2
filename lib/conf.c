/*
 * conf: maildatd.conf, read by a reader of our own: one getline() loop over
 * the physical lines, each of which is one of
 *
 *	a comment or a blank line	';' or '#' first, or nothing
 *	a continuation line		indented, after a key: more of its value
 *	a section header		[type NAME]
 *	name = value			(':' also separates)
 *
 * so that every message can name its line, lines of any length are read
 * whole, and empty, duplicate and unknown sections are seen.  The values
 * are checked and converted with confval.c; the auth files are read by
 * conf_read_secrets(), the one place that reads secrets.
 */
#include <sys/stat.h>

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
#include <unistd.h>

#include "authfile.h"
#include "conf.h"
#include "confval.h"
#include "duration.h"
#include "errbuf.h"
#include "krb.h"
#include "location.h"
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
#define CONF_ECHO		"%.80s"		/* how much of a value to echo */
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
	{ "credentials-suspended",	LOG_ERR },
	{ "postoffice-moved",		LOG_NOTICE },
	{ "rule-failed",		LOG_ERR },
};
#define CONF_USER_RULE_SEVERITY	LOG_WARNING

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
	K_LOCKOUT_AFTER, K_SMB_CONF, K_RETENTION, K_ALERT_RETENTION,
	K_RETIRE_AFTER, K_RULES_INTERVAL, K_RULE_TIMEOUT,
	K_AUTH_FILE, K_KERBEROS, K_KEYTAB, K_CCACHE, K_PRINCIPAL,
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
	{ SECT_MAILDATD,	"retention",		K_RETENTION },
	{ SECT_MAILDATD,	"alert_retention",	K_ALERT_RETENTION },
	{ SECT_MAILDATD,	"retire_after",		K_RETIRE_AFTER },
	{ SECT_MAILDATD,	"rules_interval",	K_RULES_INTERVAL },
	{ SECT_MAILDATD,	"rule_timeout",		K_RULE_TIMEOUT },
	{ SECT_CREDENTIALS,	"auth_file",		K_AUTH_FILE },
	{ SECT_CREDENTIALS,	"kerberos",		K_KERBEROS },
	{ SECT_CREDENTIALS,	"keytab",		K_KEYTAB },
	{ SECT_CREDENTIALS,	"ccache",		K_CCACHE },
	{ SECT_CREDENTIALS,	"principal",		K_PRINCIPAL },
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

/* One section header that was accepted. */
struct conf_sectinfo {
	enum conf_sect	 type;
	size_t		 idx;		/* into creds, targets or rules */
	int		 line;
	char		*label;		/* "[target lab]" */
	int		 seen[K_NKEYS];	/* line of each key; 0: not given */
	int		 nerrs;		/* problems found in the section */
};

struct conf_err {
	int		 line;
	size_t		 seq;
	char		*msg;
};

struct conf_parser {
	const char	*path;
	uint64_t	 naddrs;	/* host addresses in all targets */
	char		*buf;
	size_t		 bufcap;
	int		 lineno;
	int		 prevkey;	/* a key was the last line read */
	int		 cur;		/* index into sects, -1: none */
	int		 inbad;		/* in a refused section: skip its keys */
	int		 contkey;	/* key continuation lines extend, or -1 */
	char		 contname[CONFVAL_NAME_MAX];
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
	if (p->cur >= 0)
		p->sects[p->cur].nerrs++;
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
	c->retention_ms = 90 * 24 * MS_HOUR;
	c->alert_retention_ms = 365 * 24 * MS_HOUR;
	c->retire_after_ms = 30 * 24 * MS_HOUR;
	c->rules_interval_ms = 60 * 1000;
	c->rule_timeout_ms = 10 * 1000;
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
	if (type != SECT_MAILDATD && !confval_name(name)) {
		conf_error(p, p->lineno, "bad %s name '" CONF_ECHO "' (1 to %d "
		    "letters, digits, '_', '.' or '-')", inner, name,
		    CONFVAL_NAME_MAX - 1);
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

/* Store a duration of at least 1ms and at most max (0: no limit). */
static int
conf_duration(struct conf_parser *p, const char *name, const char *v,
    int64_t max, int64_t *out)
{
	int64_t ms;

	if (duration_parse(v, &ms) == -1) {
		conf_error(p, p->lineno, "%s: bad duration '" CONF_ECHO "' "
		    "(a number with s, m, h, d, w or y: 30s, 5m, 1h, 2d, 1y)", name, v);
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
	if (confval_int(v, min, max, out) == -1) {
		conf_error(p, p->lineno, "%s: '" CONF_ECHO "' is not a whole "
		    "number from %ld to %ld", name, v, min, max);
		return -1;
	}
	return 0;
}

static int
conf_bool(struct conf_parser *p, const char *name, const char *v, int *out)
{
	if (confval_bool(v, out) == -1) {
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
	struct confval_host h;
	char err[512], *save = NULL, *e;

	for (e = strtok_r(v, " \t,", &save); e != NULL;
	    e = strtok_r(NULL, " \t,", &save)) {
		if (confval_host(e, &h, err, sizeof(err)) == -1) {
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
		t->host_lines = xreallocarray(t->host_lines, t->nhosts + 1,
		    sizeof(*t->host_lines));
		t->host_lines[t->nhosts] = p->lineno;
		t->hosts[t->nhosts++] = xstrdup(e[0] == '[' ? h.host : e);
	}
}

static void
conf_add_url(struct conf_parser *p, struct conf_target *t, const char *v)
{
	struct location u;
	char err[512];

	if (*v == '\0') {
		conf_error(p, p->lineno, "url is empty");
		return;
	}
	if (location_parse(v, LOCATION_NO_SHARE, &u, err, sizeof(err)) == -1) {
		conf_error(p, p->lineno, "url: %s", err);
		return;
	}
	location_free(&u);
	t->urls = xreallocarray(t->urls, t->nurls + 1, sizeof(*t->urls));
	t->url_lines = xreallocarray(t->url_lines, t->nurls + 1,
	    sizeof(*t->url_lines));
	t->url_lines[t->nurls] = p->lineno;
	t->urls[t->nurls++] = xstrdup(v);
}

static void
conf_protocol(struct conf_parser *p, struct conf_target *t, const char *v)
{
	const char *lo, *hi;
	char err[256];

	if (confval_protocol(v, &lo, &hi, err, sizeof(err)) == -1) {
		conf_error(p, p->lineno, "protocol: %s", err);
		return;
	}
	conf_setstr(&t->min_protocol, lo);
	conf_setstr(&t->max_protocol, hi);
}

static void
conf_key_maildatd(struct conf_parser *p, enum conf_key k, const char *name,
    const char *v)
{
	struct confval_syslog d;
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
		if (confval_syslog(v, &d, err, sizeof(err)) == -1)
			conf_error(p, p->lineno, "syslog: %s", err);
		else
			conf_setstr(&c->syslog, v);
		break;
	case K_SYSLOG_FACILITY:
		if (confval_facility(v, &c->syslog_facility) == -1)
			conf_error(p, p->lineno, "syslog_facility: unknown "
			    "facility '" CONF_ECHO "' (expected daemon, user or "
			    "local0 to local7)", v);
		break;
	case K_CONTROL_SOCKET:
		conf_path(p, name, v, 0, CONF_SUN_PATH - 1, &c->control_socket);
		break;
	case K_USER:
		if (!confval_name(v) || v[0] == '-')
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
	case K_RETENTION:
		conf_duration(p, name, v, 0, &c->retention_ms);
		break;
	case K_ALERT_RETENTION:
		conf_duration(p, name, v, 0, &c->alert_retention_ms);
		break;
	case K_RETIRE_AFTER:
		conf_duration(p, name, v, 0, &c->retire_after_ms);
		break;
	case K_RULES_INTERVAL:
		conf_duration(p, name, v, 24 * MS_HOUR, &c->rules_interval_ms);
		break;
	case K_RULE_TIMEOUT:
		conf_duration(p, name, v, MS_HOUR, &c->rule_timeout_ms);
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
		if (!confval_share(v))
			conf_error(p, p->lineno, "share: bad share name '"
			    CONF_ECHO "'", v);
		else
			conf_setstr(&t->share, v);
		break;
	case K_CREDENTIALS:
		if (strcmp(v, "guest") == 0)
			conf_setstr(&t->credentials, NULL);
		else if (!confval_name(v))
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
		conf_add_url(p, t, v);
		break;
	case K_DISCOVER:
		conf_bool(p, name, v, &t->discover);
		break;
	default:
		break;
	}
}

static void
conf_key_credentials(struct conf_parser *p, struct conf_sectinfo *si,
    enum conf_key k, const char *name, const char *v)
{
	struct conf_credentials *cr = &p->c->creds[si->idx];
	const char *q;

	switch (k) {
	case K_AUTH_FILE:
		conf_path(p, name, v, 0, 0, &cr->auth_file);
		break;
	case K_KERBEROS:
		if (strcasecmp(v, "required") == 0)
			cr->kerberos = CONF_KRB_REQUIRED;
		else if (confval_bool(v, &cr->kerberos) == -1) {
			conf_error(p, p->lineno, "kerberos: '" CONF_ECHO "' is "
			    "not no, yes or required", v);
			cr->kerberos = CONF_KRB_NO;
		} else
			cr->kerberos = cr->kerberos ? CONF_KRB_YES : CONF_KRB_NO;
		break;
	case K_KEYTAB:
		conf_path(p, name, v, 0, 0, &cr->keytab);
		break;
	case K_CCACHE:
		/* A FILE: cache by path, or a DIR:/KEYRING: name. */
		q = strncmp(v, "FILE:", 5) == 0 ? v + 5 : v;
		if (q == v && strchr(v, ':') != NULL && v[0] != '/')
			conf_setstr(&cr->ccache, v);
		else
			conf_path(p, name, q, 0, 0, &cr->ccache);
		break;
	case K_PRINCIPAL:
		if (*v == '\0' || strpbrk(v, " \t\\/") != NULL)
			conf_error(p, p->lineno, "principal: bad principal '"
			    CONF_ECHO "' (user@REALM)", v);
		else
			conf_setstr(&cr->principal, v);
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
		if (confval_severity(v, &r->severity) == -1)
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
		conf_key_credentials(p, si, (enum conf_key)k, name, v);
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
		conf_add_url(p, &p->c->targets[si->idx], v);
		break;
	default:
		conf_error(p, p->lineno, "indented line: '%s' takes one line "
		    "(an indented line continues the key above it)",
		    p->contname);
		p->contkey = -1;
		break;
	}
}

/* How the keys of one [credentials] section fit together. */
static void
conf_finish_credentials(struct conf_parser *p, struct conf_sectinfo *si,
    struct conf_credentials *cr)
{
	int krbsrc = si->seen[K_KEYTAB] != 0 || si->seen[K_CCACHE] != 0;

	cr->auth_file_line = si->seen[K_AUTH_FILE];
	cr->keytab_line = si->seen[K_KEYTAB] ? si->seen[K_KEYTAB] : si->line;
	if (si->seen[K_KEYTAB] != 0 && si->seen[K_CCACHE] != 0)
		conf_error(p, si->seen[K_CCACHE], "%s: keytab and ccache "
		    "exclude each other (the daemon keeps the tickets of a "
		    "keytab in a cache of its own)", si->label);
	if (krbsrc && cr->kerberos == CONF_KRB_NO)
		conf_error(p, si->seen[K_KEYTAB] ? si->seen[K_KEYTAB] :
		    si->seen[K_CCACHE], "%s: %s needs kerberos = yes or "
		    "required", si->label, si->seen[K_KEYTAB] ? "keytab" :
		    "ccache");
	if (si->seen[K_PRINCIPAL] != 0 && !krbsrc)
		conf_error(p, si->seen[K_PRINCIPAL], "%s: principal needs "
		    "keytab or ccache", si->label);
	if (si->seen[K_CCACHE] != 0 && si->seen[K_AUTH_FILE] == 0 &&
	    si->seen[K_PRINCIPAL] == 0)
		conf_error(p, si->seen[K_CCACHE], "%s: ccache without "
		    "auth_file needs principal = user@REALM", si->label);
	if (si->seen[K_AUTH_FILE] == 0 && !krbsrc)
		conf_error(p, si->line, "%s has no auth_file%s", si->label,
		    cr->kerberos != CONF_KRB_NO ? " (nor keytab or ccache)" :
		    "");
}

/* Checks that need the whole file, and the auth files. */
static void
conf_finish(struct conf_parser *p)
{
	struct conf *c = p->c;
	struct conf_sectinfo *si;
	struct conf_target *t;
	struct conf_rule *r;
	struct location u;
	size_t i, j;

	for (i = 0; i < p->nsects; i++) {
		si = &p->sects[i];
		switch (si->type) {
		case SECT_MAILDATD:
			break;
		case SECT_CREDENTIALS:
			conf_finish_credentials(p, si, &c->creds[si->idx]);
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
			    si->nerrs == 0)
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
				if (location_parse(t->urls[j], LOCATION_NO_SHARE,
				    &u, NULL, 0) == -1)
					continue;
				if (u.share[0] == '\0')
					conf_error(p, t->url_lines[j], "url "
					    "'%s' names no share (add one, or "
					    "set discover = yes to crawl the "
					    "host's shares)", t->urls[j]);
				location_free(&u);
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
				    "unreachable, malformed, "
				    "credentials-suspended, postoffice-moved "
				    "and rule-failed)", si->label,
				    r->name);
			break;
		}
	}
}

/*
 * Read lines from f: comments and blank lines, continuation lines,
 * section headers and keys.  Nothing here ends a continuation but a
 * section header or another key (a comment or blank line between a key
 * and its continuation lines is skipped).
 */
static void
conf_read(struct conf_parser *p, FILE *f)
{
	char *s, *t, *sep;
	ssize_t n;

	while ((n = getline(&p->buf, &p->bufcap, f)) != -1) {
		p->lineno++;
		s = p->buf;
		if (p->lineno == 1 && (unsigned char)s[0] == 0xEF &&
		    (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
			s += 3;
		t = conf_lskip(s);
		if ((size_t)n != strlen(p->buf))
			conf_error(p, p->lineno, "NUL byte in the line");
		else if (*t == '\0' || *t == ';' || *t == '#')
			continue;	/* comment or blank */
		else if (p->prevkey && t > s)
			conf_continue(p, conf_clean(t));
		else if (*t == '[') {
			p->prevkey = 0;
			conf_section(p, t);
		} else if (*(sep = conf_find(t, "=:")) == '\0')
			conf_error(p, p->lineno, "expected 'key = value', "
			    "'[section]' or a comment");
		else {
			p->prevkey = 1;
			*sep = '\0';
			conf_key(p, conf_trim(t), conf_clean(sep + 1));
		}
	}
	if (ferror(f))
		conf_error(p, 0, "read error: %s", strerror(errno));
}

/* Read and check the file at path. */
int
conf_load(const char *path, struct conf **out, struct conf_errors *errs)
{
	struct conf_parser p;
	FILE *f;
	size_t i;

	*out = NULL;
	memset(errs, 0, sizeof(*errs));
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.cur = -1;
	p.contkey = -1;
	if ((f = fopen(path, "re")) == NULL) {
		conf_error(&p, 0, "%s", strerror(errno));
		goto done;
	}
	p.c = conf_new(path);
	conf_read(&p, f);
	fclose(f);
	if (p.buf != NULL) {
		explicit_bzero(p.buf, p.bufcap);
		free(p.buf);
	}
	p.cur = -1;
	conf_finish(&p);
	for (i = 0; i < p.nsects; i++)
		free(p.sects[i].label);
	free(p.sects);
done:
	*out = p.c;
	if (p.nerrs > 0) {
		qsort(p.errs, p.nerrs, sizeof(*p.errs), conf_errcmp);
		errs->v = xcalloc(p.nerrs, sizeof(*errs->v));
		for (i = 0; i < p.nerrs; i++)
			errs->v[i] = p.errs[i].msg;
		errs->n = p.nerrs;
		free(p.errs);
		return -1;
	}
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
		xfree_secret(c->creds[i].username);
		xfree_secret(c->creds[i].password);
		xfree_secret(c->creds[i].domain);
		free(c->creds[i].keytab);
		free(c->creds[i].ccache);
		free(c->creds[i].principal);
		krb_keytab_free(c->creds[i].kt);
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
		free(t->host_lines);
		free(t->url_lines);
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

/* Append a message to e. */
void
conf_errors_add(struct conf_errors *e, const char *fmt, ...)
{
	va_list ap;

	e->v = xreallocarray(e->v, e->n + 1, sizeof(*e->v));
	va_start(ap, fmt);
	e->v[e->n++] = xvasprintf(fmt, ap);
	va_end(ap);
}

/* The line number after "PATH:" in a message of path, or 0. */
static long
conf_errors_line(const char *msg, const char *path)
{
	size_t n = strlen(path);
	char *end;
	long l;

	if (strncmp(msg, path, n) != 0 || msg[n] != ':')
		return 0;
	l = strtol(msg + n + 1, &end, 10);
	return end != msg + n + 1 && *end == ':' ? l : 0;
}

struct conf_errref {
	char	*msg;
	long	 line;
	size_t	 seq;
};

static int
conf_errrefcmp(const void *a, const void *b)
{
	const struct conf_errref *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort the messages of e about file path by line, keeping the order of ties. */
void
conf_errors_sort(struct conf_errors *e, const char *path)
{
	struct conf_errref *r;
	size_t i;

	if (e->n < 2)
		return;
	r = xcalloc(e->n, sizeof(*r));
	for (i = 0; i < e->n; i++) {
		r[i].msg = e->v[i];
		r[i].line = conf_errors_line(e->v[i], path);
		r[i].seq = i;
	}
	qsort(r, e->n, sizeof(*r), conf_errrefcmp);
	for (i = 0; i < e->n; i++)
		e->v[i] = r[i].msg;
	free(r);
}

/* Log each message of e as a warning and join them, one a line, into msg. */
void
conf_errors_log(const struct conf_errors *e, char *msg, size_t msglen)
{
	size_t i, off = 0;

	if (msg != NULL && msglen > 0)
		msg[0] = '\0';
	for (i = 0; i < e->n; i++) {
		log_warnx("%s", e->v[i]);
		if (msg != NULL && off < msglen)
			off += (size_t)snprintf(msg + off, msglen - off,
			    "%s%s", i ? "\n" : "", e->v[i]);
	}
}

/*
 * Add the file at path (its name and identity: device, inode, size,
 * modification time, so that any edit changes it) to the hash h.
 */
static uint64_t
conf_hash_file(uint64_t h, const char *path)
{
	struct stat sb;
	char buf[160];
	const unsigned char *p;

	memset(&sb, 0, sizeof(sb));
	if (path != NULL)
		(void)stat(path, &sb);
	snprintf(buf, sizeof(buf), "%s:%ju:%ju:%jd:%jd.%09ld",
	    path != NULL ? path : "", (uintmax_t)sb.st_dev,
	    (uintmax_t)sb.st_ino, (intmax_t)sb.st_size,
	    (intmax_t)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	for (p = (const unsigned char *)buf; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

/*
 * The fingerprint of cr's account and settings: its auth file and keytab
 * (see conf_hash_file()), ticket cache, principal, Kerberos mode, user and
 * domain, hashed (FNV-1a 64).  No secret is part of it, so that nothing
 * derived from one reaches the database.
 */
static void
conf_fingerprint(struct conf_credentials *cr)
{
	uint64_t h = 14695981039346656037ULL;
	char mode[16];
	const char *parts[5];
	size_t i;

	h = conf_hash_file(h, cr->auth_file);
	h = conf_hash_file(h, cr->keytab);
	snprintf(mode, sizeof(mode), "%d", cr->kerberos);
	parts[0] = cr->ccache != NULL ? cr->ccache : "";
	parts[1] = cr->principal != NULL ? cr->principal : "";
	parts[2] = mode;
	parts[3] = cr->username != NULL ? cr->username : "";
	parts[4] = cr->domain != NULL ? cr->domain : "";
	for (i = 0; i < 5; i++) {
		const unsigned char *p = (const unsigned char *)parts[i];

		for (; *p != '\0'; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	snprintf(cr->fingerprint, sizeof(cr->fingerprint), "%016llx",
	    (unsigned long long)h);
}

/* Return "DOMAIN\\user" (or "user") for messages about cr, in buf. */
const char *
conf_account(const struct conf_credentials *cr, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%s%s%s", cr->domain ? cr->domain : "",
	    cr->domain ? "\\" : "", cr->username ? cr->username : "?");
	return buf;
}

/*
 * A file this process may no longer read (EACCES, after the privilege
 * drop) that old's section of the same name read from the same path:
 * return old's section, to keep what it read at start.
 */
static const struct conf_credentials *
conf_kept(const struct conf_credentials *cr, const struct conf *old,
    const char *path, int keytab)
{
	const struct conf_credentials *oc;
	const char *opath;

	if (old == NULL || access(path, R_OK) == 0 || errno != EACCES ||
	    (oc = conf_find_credentials(old, cr->name)) == NULL)
		return NULL;
	opath = keytab ? oc->keytab : oc->auth_file;
	if (opath == NULL || strcmp(opath, path) != 0 ||
	    (keytab && oc->kt == NULL))
		return NULL;
	log_warnx("credentials %s: %s is not readable by this user; keeping "
	    "the %s read at start (make it owned by the daemon's user to "
	    "reload it)", cr->name, path, keytab ? "keys" : "credentials");
	return oc;
}

/* Read cr's auth file; 1 when what old read at start is kept. */
static int
conf_read_authfile(struct conf *c, struct conf_credentials *cr,
    const struct conf *old, struct conf_errors *errs)
{
	const struct conf_credentials *oc;
	struct authfile af;
	char err[512];

	if ((oc = conf_kept(cr, old, cr->auth_file, 0)) != NULL) {
		cr->username = xstrdup_null(oc->username);
		cr->password = xstrdup_null(oc->password);
		cr->domain = xstrdup_null(oc->domain);
		return 1;
	}
	if (authfile_read(cr->auth_file, &af, err, sizeof(err)) == -1) {
		conf_errors_add(errs, "%s:%d: credentials %s: %s", c->path,
		    cr->auth_file_line, cr->name, err);
		return 0;
	}
	cr->username = af.username;
	cr->password = af.password;
	/* user@REALM or realm = alone: the realm is the domain. */
	if (af.domain == NULL && af.realm != NULL) {
		af.domain = af.realm;
		af.realm = NULL;
	}
	cr->domain = af.domain;
	xfree_secret(af.realm);
	return 0;
}

/* Load cr's keytab; 1 when the keys old read at start are kept. */
static int
conf_read_keytab(struct conf *c, struct conf_credentials *cr,
    const struct conf *old, struct conf_errors *errs)
{
	const struct conf_credentials *oc;
	char err[512];

	if ((oc = conf_kept(cr, old, cr->keytab, 1)) != NULL) {
		cr->kt = krb_keytab_ref(oc->kt);
		return 1;
	}
	if (krb_keytab_load(cr->keytab, &cr->kt, err, sizeof(err)) == -1)
		conf_errors_add(errs, "%s:%d: credentials %s: %s", c->path,
		    cr->keytab_line, cr->name, err);
	return 0;
}

/* Without an auth file, the user and the domain are the principal's. */
static void
conf_principal_user(struct conf *c, struct conf_credentials *cr,
    struct conf_errors *errs)
{
	char err[256], *pr, *at;

	if (cr->principal != NULL)
		pr = xstrdup(cr->principal);
	else if (cr->kt != NULL) {
		if ((pr = krb_keytab_principal(cr->kt, err,
		    sizeof(err))) == NULL) {
			conf_errors_add(errs, "%s:%d: credentials %s: %s: %s",
			    c->path, cr->keytab_line, cr->name, cr->keytab,
			    err);
			return;
		}
	} else
		return;		/* reported: no keytab */
	if ((at = strrchr(pr, '@')) != NULL) {
		*at = '\0';
		cr->domain = xstrdup(at + 1);
	}
	cr->username = xstrdup(pr);
	cr->password = xstrdup("");
	free(pr);
}

/*
 * Read the auth file of every [credentials] section of c: the one place
 * secrets are read.  With old (a reload), a file this process may no
 * longer read (EACCES, after the privilege drop) keeps the credentials of
 * old's section of the same name and file.
 */
int
conf_read_secrets(struct conf *c, const struct conf *old,
    struct conf_errors *errs)
{
	const struct conf_credentials *oc;
	struct conf_credentials *cr;
	size_t i, before = errs->n;
	int kept;

	for (i = 0; i < c->ncreds; i++) {
		cr = &c->creds[i];
		kept = 0;
		if (cr->auth_file != NULL)
			kept |= conf_read_authfile(c, cr, old, errs);
		if (cr->keytab != NULL && cr->ccache == NULL &&
		    cr->kerberos != CONF_KRB_NO)
			kept |= conf_read_keytab(c, cr, old, errs);
		if (cr->auth_file == NULL && cr->username == NULL)
			conf_principal_user(c, cr, errs);
		/* What is kept from start is the account in use. */
		if (kept && (oc = conf_find_credentials(old, cr->name)) != NULL)
			memcpy(cr->fingerprint, oc->fingerprint,
			    sizeof(cr->fingerprint));
		else
			conf_fingerprint(cr);
	}
	return errs->n > before ? -1 : 0;
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

