/*
 * confval: the vocabulary of configuration values, shared by the reader
 * (conf.c) and the modules that take such values (the syslog sink, the
 * rules): booleans, numbers, names, syslog severities, facilities and
 * destinations, SMB dialects and hosts entries.  Each function checks and
 * converts one value and never logs; the reader adds FILE:LINE.
 */
#ifndef MAILDAT_CONFVAL_H
#define MAILDAT_CONFVAL_H

#include <stddef.h>
#include <stdint.h>

#define CONFVAL_NAME_MAX	64	/* section names and user names, NUL included */
#define CONFVAL_MIN_PREFIX	16	/* the largest IPv4 range taken: /16 */

/* Where a syslog = destination sends messages (see confval_syslog()). */
enum confval_syslog_kind {
	CONFVAL_SYSLOG_LOCAL,	/* the local syslog(3) socket, /dev/log */
	CONFVAL_SYSLOG_UNIX,	/* a datagram socket at path */
	CONFVAL_SYSLOG_UDP,
	CONFVAL_SYSLOG_TCP
};

struct confval_syslog {
	enum confval_syslog_kind kind;
	char	path[108];	/* CONFVAL_SYSLOG_UNIX */
	char	host[256];	/* UDP/TCP: name, IPv4, or IPv6 without brackets */
	char	port[6];	/* UDP/TCP: decimal 1..65535 */
};

/* One hosts entry, checked. */
struct confval_host {
	int		 range;		/* an IPv4 range: net/prefix */
	uint32_t	 net;		/* host order */
	int		 prefix;
	char		 host[256];	/* otherwise: name or address, no brackets */
};

/* Parse yes/no/true/false/on/off/1/0 (any case); 0 and *v set, or -1. */
int	confval_bool(const char *s, int *v);

/* Parse a decimal integer in [min, max]; 0 and *v set, or -1. */
int	confval_int(const char *s, long min, long max, int *v);

/* Parse a syslog severity name (emerg ... debug) into LOG_*; 0 or -1. */
int	confval_severity(const char *s, int *v);

/* Return the name of a LOG_* severity, or "unknown". */
const char *confval_severity_name(int sev);

/* Parse daemon, user or local0..local7 into LOG_*; 0 or -1. */
int	confval_facility(const char *s, int *v);

/*
 * Parse a syslog = destination: local, unix:/abs/path, udp:host:port or
 * tcp:host:port (an IPv6 host in brackets).  Returns 0, or -1 with a
 * message in err.
 */
int	confval_syslog(const char *s, struct confval_syslog *d, char *err,
	    size_t errlen);

/* Return 1 if s is a section, credentials or user name: 1..63 of [A-Za-z0-9_.-]. */
int	confval_name(const char *s);

/* Return 1 if s is a host name: 1..253 of [A-Za-z0-9_.-], not starting with '.' or '-'. */
int	confval_hostname(const char *s);

/* Return 1 if s is a share name: 1..80 bytes, no '/', '\' or control characters. */
int	confval_share(const char *s);

/*
 * Parse one hosts entry: a host name, an IPv4 address, an IPv4 range
 * a.b.c.d/N (/16 to /32, no bits below the prefix), or an IPv6 address,
 * bare or in brackets.  Returns 0, or -1 with a message in err.
 */
int	confval_host(const char *entry, struct confval_host *h, char *err,
	    size_t errlen);

/*
 * Parse "protocol = LOWEST [HIGHEST]": the dialect names NT1, SMB2,
 * SMB2_02, SMB2_10, SMB3, SMB3_00, SMB3_02, SMB3_11 (any case); HIGHEST
 * defaults to SMB3.  Sets *lo and *hi to the canonical names.  Returns 0,
 * or -1 with a message in err.
 */
int	confval_protocol(const char *s, const char **lo, const char **hi,
	    char *err, size_t errlen);

#endif
