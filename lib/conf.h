/*
 * conf: maildatd.conf, an ini file:
 *
 *	[maildatd]		global settings (optional; every key has a default)
 *	[credentials NAME]	auth_file = an smbclient -A file, mode 0600/0400;
 *				kerberos = no | yes | required, keytab = PATH
 *				or ccache = PATH, principal = NAME
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
 * passwords of the auth files, read by conf_read_secrets() alone, are kept
 * in memory only; they are never put in a message, and conf_free() wipes
 * them.
 */
#ifndef MAILDAT_CONF_H
#define MAILDAT_CONF_H

#include <stddef.h>
#include <stdint.h>

/*
 * The number of built-in rules: duplicate-serial, duplicate-address,
 * duplicate-postoffice, serial-changed, unreachable, malformed,
 * credentials-suspended, postoffice-moved, rule-failed.  They come first in
 * conf.rules, in this order, whether the file names them or not.
 */
#define CONF_NBUILTIN_RULES	9

/* kerberos = */
#define CONF_KRB_NO		0	/* NTLM only (the default) */
#define CONF_KRB_YES		1	/* Kerberos, NTLM when it fails */
#define CONF_KRB_REQUIRED	2	/* Kerberos only */

struct krb_keytab;

struct conf_credentials {
	char	*name;
	char	*auth_file;	/* NULL: none (Kerberos with keytab or ccache) */
	int	 auth_file_line;
	char	*username;	/* from the auth file, or the principal's name */
	char	*password;	/* from the auth file; "" when it names none */
	char	*domain;	/* from the auth file or the principal's realm;
				   NULL when neither names one */
	int	 kerberos;	/* CONF_KRB_* */
	char	*keytab;	/* read at start into kt; NULL: none */
	int	 keytab_line;
	char	*ccache;	/* a ticket cache kept by someone else */
	char	*principal;	/* for the keytab; NULL: its first entry's */
	struct krb_keytab *kt;	/* the keytab's keys (conf_read_secrets) */
	int	 line;		/* of the section header */
	char	 fingerprint[17]; /* of the account and its settings, set
				   when the auth file is read; never of the
				   password itself (see conf_read_secrets) */
};

struct conf_target {
	char	*name;
	char	**hosts;	/* name, IPv4, IPv4/16../32, IPv6 (no brackets) */
	int	*host_lines;	/* the line of each */
	size_t	 nhosts;
	char	**urls;		/* url = entries, as written */
	int	*url_lines;	/* the line of each */
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
	int64_t	 retention_ms;		/* crawl rows kept this long */
	int64_t	 alert_retention_ms;	/* cleared alerts kept this long */
	int64_t	 retire_after_ms;	/* a location failing this long retires */
	int64_t	 rules_interval_ms;	/* rule runs at most this often */
	int64_t	 rule_timeout_ms;	/* a rule query's time limit */
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

/*
 * Read and check the file at path (auth files are not read: see
 * conf_read_secrets()).  Returns 0 with the result in *out and errs empty,
 * or -1 with every problem in errs (free it with conf_errors_free()) and
 * in *out what could be read, for further checks (NULL if the file could
 * not be read); conf_free() it either way.  errs is overwritten.
 */
int	conf_load(const char *path, struct conf **out, struct conf_errors *errs);

/*
 * Read the auth file of every [credentials] section of c: the one place
 * secrets are read.  With old (a reload), a file this process may no
 * longer read (after the privilege drop) keeps the credentials of old's
 * section of the same name and path, and says so in the log.  Returns 0,
 * or -1 with each problem, as FILE:LINE: message, appended to errs.
 */
int	conf_read_secrets(struct conf *c, const struct conf *old,
	    struct conf_errors *errs);

/* Free c, wiping the credentials first; NULL is ignored. */
void	conf_free(struct conf *c);

/* Free the messages in e and empty it. */
void	conf_errors_free(struct conf_errors *e);

/* Append a message to e. */
void	conf_errors_add(struct conf_errors *e, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Sort the messages of e about file path by line, keeping the order of ties. */
void	conf_errors_sort(struct conf_errors *e, const char *path);

/* Log each message of e as a warning and join them, one a line, into msg (NULL: only log). */
void	conf_errors_log(const struct conf_errors *e, char *msg,
	    size_t msglen);

/*
 * Return "DOMAIN\\user" (or "user") for messages about cr, in buf.
 */
const char *conf_account(const struct conf_credentials *cr, char *buf,
	    size_t buflen);

/* Return the [credentials] section called name, or NULL. */
const struct conf_credentials *conf_find_credentials(const struct conf *c,
	    const char *name);

/* Return the rule called name (built-in or user), or NULL. */
const struct conf_rule *conf_find_rule(const struct conf *c, const char *name);

/* Return the default configuration file, SYSCONFDIR/maildatd/maildatd.conf. */
const char *conf_default_path(void);

/* Return 1 if name is one of the built-in rules, else 0. */
int	conf_rule_is_builtin(const char *name);

#endif
