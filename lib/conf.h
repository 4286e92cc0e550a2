/*
 * conf: maildatd.conf.  The file is ini syntax, read with inih:
 *
 *	[maildatd]		global settings (optional; every key has a default)
 *	[credentials NAME]	auth_file = an smbclient -A file, mode 0600/0400
 *	[target NAME]		hosts, share, credentials, protocol, interval,
 *				timeout, url (repeatable), discover
 *	[rule NAME]		enabled, severity, renotify, and query for a
 *				user rule (a name that is not built in)
 *
 * Lines starting with ';' or '#' are comments, and so is anything from a ';'
 * or '#' that starts a value or follows whitespace.  An indented line
 * continues the key above it; only query (joined with newlines), hosts
 * (more hosts) and url (one more URL per line) take continuation lines.
 * hosts entries are separated by blanks or commas.  Section types and keys
 * are case-sensitive; booleans, severities, facilities and dialects are not.
 * Lines may be of any length.  Paths (database, control_socket, pidfile,
 * smb_conf, auth_file, syslog unix:) must be absolute.
 *
 * Every problem is reported, not just the first, as "FILE:LINE: message"
 * (or "FILE: message" when no line is at fault), sorted by line.  The
 * passwords of the auth files are kept in memory only; they are never put
 * in a message, and conf_free() wipes them.
 */
#ifndef MAILDAT_CONF_H
#define MAILDAT_CONF_H

#include <stddef.h>
#include <stdint.h>

/*
 * The number of built-in rules: duplicate-serial, duplicate-address,
 * duplicate-postoffice, serial-changed, unreachable, malformed.  They come
 * first in conf.rules, in this order, whether the file names them or not.
 */
#define CONF_NBUILTIN_RULES	6

struct conf_credentials {
	char	*name;
	char	*auth_file;
	char	*username;	/* from the auth file */
	char	*password;	/* from the auth file; "" when it names none */
	char	*domain;	/* from the auth file; NULL when it names none */
	int	 line;		/* of the section header */
};

struct conf_target {
	char	*name;
	char	**hosts;	/* name, IPv4, IPv4/16../32, IPv6 (no brackets) */
	size_t	 nhosts;
	char	**urls;		/* url = entries, as written */
	size_t	 nurls;
	char	*share;		/* default "MAILDAT$" */
	char	*credentials;	/* a [credentials] name; NULL = guest */
	char	*min_protocol;	/* default "NT1" */
	char	*max_protocol;	/* default "SMB3" */
	int64_t	 interval_ms;	/* the [maildatd] interval unless overridden */
	int64_t	 timeout_ms;	/* the [maildatd] timeout unless overridden */
	int	 discover;	/* also list the hosts' shares */
	int	 line;		/* of the section header */
};

struct conf_rule {
	char	*name;
	int	 builtin;
	int	 enabled;	/* default 1 */
	int	 severity;	/* LOG_* from <syslog.h>; default: err for
				   duplicate-serial and duplicate-address,
				   warning for the others and user rules */
	char	*query;		/* user rules only; NULL for a built-in rule */
	int64_t	 renotify_ms;	/* 0 = the [maildatd] renotify */
	int	 line;		/* of the section header; 0 if not in the file */
};

struct conf {
	char	*path;
	char	*database;
	int64_t	 interval_ms;
	int	 workers;
	int64_t	 timeout_ms;
	int64_t	 connect_timeout_ms;
	char	*syslog;		/* local | unix:/path | udp:h:p | tcp:h:p */
	int	 syslog_facility;	/* LOG_DAEMON etc. */
	char	*control_socket;
	char	*user;
	char	*pidfile;		/* NULL: write no pid file */
	int	 jobs_per_worker;
	int	 unreachable_after;
	int64_t	 renotify_ms;
	int64_t	 backoff_max_ms;
	int	 lockout_after;		/* 0: never lock a credential out */
	char	*smb_conf;		/* NULL: libsmbclient reads none */
	struct conf_credentials *creds;
	size_t	 ncreds;
	struct conf_target *targets;
	size_t	 ntargets;
	struct conf_rule *rules;	/* the built-in rules first, then user rules */
	size_t	 nrules;
};

struct conf_errors {
	char	**v;
	size_t	 n;
};

/* Where a syslog = destination sends messages (see conf_parse_syslog()). */
enum conf_syslog_kind {
	CONF_SYSLOG_LOCAL,	/* the local syslog(3) socket, /dev/log */
	CONF_SYSLOG_UNIX,	/* a datagram socket at path */
	CONF_SYSLOG_UDP,
	CONF_SYSLOG_TCP
};

struct conf_syslog {
	enum conf_syslog_kind kind;
	char	path[108];	/* CONF_SYSLOG_UNIX */
	char	host[256];	/* UDP/TCP: name, IPv4, or IPv6 without brackets */
	char	port[6];	/* UDP/TCP: decimal 1..65535 */
};

/*
 * Read and check the file at path and the auth file of every [credentials]
 * section.  Returns 0 with the result in *out and errs empty, or -1 with
 * *out NULL and every problem in errs (free it with conf_errors_free()).
 * errs is overwritten, not appended to.
 */
int	conf_load(const char *path, struct conf **out, struct conf_errors *errs);

#define CONF_NO_SECRETS	0x01	/* do not read auth files (maildatctl) */

/* conf_load() with flags: CONF_NO_SECRETS leaves credentials unread. */
int	conf_load_flags(const char *path, int flags, struct conf **out,
	    struct conf_errors *errs);

/* Free c, wiping the credentials first; NULL is ignored. */
void	conf_free(struct conf *c);

/* Free the messages in e and empty it. */
void	conf_errors_free(struct conf_errors *e);

/* Return the [credentials] section called name, or NULL. */
const struct conf_credentials *conf_find_credentials(const struct conf *c,
	    const char *name);

/* Return the rule called name (built-in or user), or NULL. */
const struct conf_rule *conf_find_rule(const struct conf *c, const char *name);

/* Return the default configuration file, SYSCONFDIR/maildatd/maildatd.conf. */
const char *conf_default_path(void);

/* Return 1 if name is one of the built-in rules, else 0. */
int	conf_rule_is_builtin(const char *name);

/*
 * Build the smb:// URLs of t: each hosts entry as smb://HOST/SHARE (an IPv4
 * range expanded to its addresses, without network and broadcast address
 * below /31), then each url entry, in order, a URL repeated dropped.
 * Returns 0 with a malloc'd array in *urls (free it with
 * conf_target_urls_free()), or -1 if an entry is invalid.
 */
int	conf_target_urls(const struct conf_target *t, char ***urls, size_t *n);

/* Free an array returned by conf_target_urls(). */
void	conf_target_urls_free(char **urls, size_t n);

/* Parse yes/no/true/false/on/off/1/0 (any case); 0 and *v set, or -1. */
int	conf_parse_bool(const char *s, int *v);

/* Parse a syslog severity name (emerg ... debug) into LOG_*; 0 or -1. */
int	conf_parse_severity(const char *s, int *v);

/* Return the name of a LOG_* severity, or "unknown". */
const char *conf_severity_name(int sev);

/* Parse daemon, user or local0..local7 into LOG_*; 0 or -1. */
int	conf_parse_facility(const char *s, int *v);

/*
 * Parse a syslog = destination: local, unix:/abs/path, udp:host:port or
 * tcp:host:port (an IPv6 host in brackets).  Returns 0, or -1 with a
 * message in err.
 */
int	conf_parse_syslog(const char *s, struct conf_syslog *d, char *err,
	    size_t errlen);

#endif
