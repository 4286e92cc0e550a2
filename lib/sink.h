/*
 * sink: where alerts go, one syslog = destination (see confval_syslog()).
 *
 *	local		syslog(3), which writes to /dev/log; sink_open() calls
 *			openlog(ident, LOG_PID | LOG_NDELAY, facility), which
 *			replaces the ident and facility log_init() set
 *	unix:/path	an AF_UNIX datagram socket, RFC 3164 frames:
 *			"<PRI>Mmm dd hh:mm:ss IDENT[PID]: MSG"
 *	udp:host:port	RFC 5424 datagrams:
 *			"<PRI>1 2026-11-24T03:07:15.123456Z HOSTNAME IDENT PID
 *			alert - MSG"; host resolved once, at open
 *	tcp:host:port	the same RFC 5424 messages, each framed by RFC 6587
 *			octet counting ("LEN SP MSG"); host resolved at every
 *			(re)connect
 *
 * PRI is facility | severity; HOSTNAME is gethostname() ("-" when empty);
 * PID is getpid() at the time of sending.  MSG has its control characters
 * (bytes below 0x20, and 0x7f) written as \xNN in lower-case hex, so no
 * newline or NUL reaches the wire; other bytes, invalid UTF-8 included, go
 * as they are (no BOM).  MSG is cut at SINK_MAXMSG bytes, never inside an
 * escape or a UTF-8 character.
 *
 * A datagram that cannot be sent (unix: the receiver is not there yet,
 * ECONNREFUSED or ENOENT) makes sink_send() fail and counts as failed; the
 * sink stays usable and the next send tries again.  For TCP, dropped counts
 * the messages pushed out of a full queue.
 *
 * Nothing here blocks the caller for long.  Datagrams are sent at once,
 * without waiting for the receiver.  TCP messages are queued in memory
 * (at most SINK_QMAX messages and SINK_QBYTES bytes; beyond that the oldest
 * is dropped and counted) and written as the connection takes them; the
 * connection is made without blocking, and when it breaks it is made again
 * at a later sink_send() or sink_flush(), at most once a second.  A caller
 * with an event loop watches sink_fd() for writability and calls
 * sink_flush() when it fires; while sink_flush() reports messages queued
 * and sink_fd() is -1 (waiting to reconnect), it calls sink_flush() again
 * after a second or so.  Resolving a TCP host name (getaddrinfo) at a
 * reconnect can block for as long as the resolver takes; use an address
 * to avoid that.
 */
#ifndef MAILDAT_SINK_H
#define MAILDAT_SINK_H

#include <stddef.h>

#define SINK_MAXMSG	64000		/* bytes of escaped MSG kept */
#define SINK_QMAX	1000		/* TCP: messages queued at most */
#define SINK_QBYTES	(1024 * 1024)	/* TCP: bytes queued at most */

struct sink;

/* Open spec (local, unix:/p, udp:h:p, tcp:h:p) for ident; 0, or -1 and err. */
int	sink_open(const char *spec, int facility, const char *ident,
	    struct sink **out, char *err, size_t errlen);

/* Send msg, escaped, at LOG_* severity; 0 sent (TCP: queued), or -1 and err. */
int	sink_send(struct sink *s, int severity, const char *msg, char *err,
	    size_t errlen);

/* Write queued TCP messages without blocking; the number left, 0 when none. */
int	sink_flush(struct sink *s);

/* Return the fd to watch for writability (TCP with work pending), or -1. */
int	sink_fd(struct sink *s);

/* Return the last TCP connection error, or NULL while connected. */
const char *sink_lasterror(const struct sink *s);

/* Store the counts of messages sent, failed and dropped; NULLs are skipped. */
void	sink_stats(const struct sink *s, unsigned long *sent,
	    unsigned long *failed, unsigned long *dropped);

/* Flush TCP for about a second at most, close, free s; NULL is ignored. */
void	sink_close(struct sink *s);

/* Return a malloc'd copy of msg, bytes below 0x20 and 0x7f as \xNN. */
char	*sink_escape(const char *msg);

#endif
