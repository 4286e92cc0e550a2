/*
 * sink: syslog destinations for alerts.  See sink.h for the formats and
 * the rules on blocking.
 *
 * A TCP sink is a small state machine: SINK_DOWN (no socket; a connect is
 * due when a second has passed since the last attempt), SINK_CONNECTING
 * (a non-blocking connect(2) under way) and SINK_UP.  Messages wait in a
 * ring of SINK_QMAX frames; the first may be partly written (qoff).  When
 * a connection breaks, a partly written frame is sent again whole on the
 * next connection: the receiver drops the part it got with the old one.
 * A syslog receiver never sends anything, so before writing we look for
 * end of file on the socket; that finds a connection the receiver closed
 * before a message is written into it and lost.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "confval.h"
#include "errbuf.h"
#include "log.h"
#include "sink.h"
#include "xmalloc.h"

#define SINK_RECONNECT_MS	1000	/* at most one connect a second */
#define SINK_CONNECT_MS		10000	/* give up a connect after this */
#define SINK_CLOSE_MS		1000	/* sink_close() waits at most this */
#define SINK_MAXIDENT		48	/* RFC 5424 APP-NAME */

enum sink_state { SINK_DOWN, SINK_CONNECTING, SINK_UP };

struct sink_frame {
	char	*buf;
	size_t	 len;
};

struct sink {
	struct confval_syslog dest;
	char		*spec;		/* as given, for messages */
	int		 facility;
	char		*ident;		/* sanitised, for the frames */
	char		*openlog_ident;	/* as given, kept for openlog(3) */
	char		 hostname[256];
	int		 fd;

	/* unix: */
	struct sockaddr_un sun;
	socklen_t	 sunlen;
	int		 connected;

	/* udp: */
	struct sockaddr_storage addr;
	socklen_t	 addrlen;

	/* tcp: */
	enum sink_state	 state;
	int		 tried;		/* a connect has been attempted */
	struct timespec	 last_try;	/* CLOCK_MONOTONIC */
	unsigned int	 addrnext;	/* which resolved address to try */
	char		*lasterr;
	struct sink_frame q[SINK_QMAX];
	size_t		 qhead;
	size_t		 qlen;
	size_t		 qbytes;
	size_t		 qoff;		/* bytes of q[qhead] written */

	unsigned long	 sent;
	unsigned long	 failed;
	unsigned long	 dropped;
};

static const char *const sink_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static void sink_setlasterr(struct sink *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
sink_setlasterr(struct sink *s, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(s->lasterr);
	s->lasterr = xstrdup(buf);
}

static int64_t
sink_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((int64_t)(now.tv_sec - t->tv_sec) * 1000000000 +
	    (now.tv_nsec - t->tv_nsec)) / 1000000;
}

/* Copy s with every byte outside printable ASCII as '_', at most max bytes. */
static char *
sink_printable(const char *s, size_t max)
{
	size_t i, n = strlen(s);
	char *d;

	if (n == 0)
		return xstrdup("-");
	if (n > max)
		n = max;
	d = xstrndup(s, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)d[i] <= 0x20 || (unsigned char)d[i] >= 0x7f)
			d[i] = '_';
	return d;
}

/*
 * Escape msg as sink_escape() does, keeping at most max bytes of output and
 * cutting neither an escape nor a well-formed UTF-8 sequence.
 */
static char *
sink_escape_max(const char *msg, size_t max)
{
	const unsigned char *p = (const unsigned char *)(msg ? msg : "");
	size_t i, j, k, o = 0, n = strlen((const char *)p), need;
	char *d;

	d = xmalloc((n < max ? n : max) * 4 + 1);
	for (i = 0; i < n; i += k) {
		unsigned char c = p[i];

		k = 1;
		if (c < 0x20 || c == 0x7f) {
			if (o + 4 > max)
				break;
			snprintf(d + o, 5, "\\x%02x", c);
			o += 4;
			continue;
		}
		if (c >= 0xc2 && c <= 0xf4) {
			/* A lead byte: keep it with its continuation bytes. */
			need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			for (j = 1; j < need && i + j < n &&
			    (p[i + j] & 0xc0) == 0x80; j++)
				;
			if (j == need)
				k = need;
		}
		if (o + k > max)
			break;
		memcpy(d + o, p + i, k);
		o += k;
	}
	d[o] = '\0';
	return d;
}

/* Return a malloc'd copy of msg, bytes below 0x20 and 0x7f as \xNN. */
char *
sink_escape(const char *msg)
{
	return sink_escape_max(msg, (size_t)-1 / 4 - 1);
}

/*
 * Build the RFC 3164 datagram for msg (already escaped) in the form a local
 * syslog daemon reads from its socket, as glibc's syslog(3) writes it: no
 * hostname, which the daemon adds itself.
 */
static char *
sink_frame3164(const struct sink *s, int severity, const char *msg)
{
	struct tm tm;
	time_t now = time(NULL);

	localtime_r(&now, &tm);
	return xasprintf("<%d>%s %2d %02d:%02d:%02d %s[%ld]: %s",
	    s->facility | severity, sink_months[tm.tm_mon], tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, s->ident, (long)getpid(), msg);
}

/* Build the RFC 5424 message for msg (already escaped). */
static char *
sink_frame5424(const struct sink *s, int severity, const char *msg)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	return xasprintf("<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s %ld "
	    "alert - %s", s->facility | severity, tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    ts.tv_nsec / 1000, s->hostname, s->ident, (long)getpid(), msg);
}

/* --- unix ---------------------------------------------------------------- */

static int
sink_unix_connect(struct sink *s, char *err, size_t errlen)
{
	if (s->fd == -1 && (s->fd = socket(AF_UNIX,
	    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		errbuf_set(err, errlen, "%s: socket: %s", s->spec,
		    strerror(errno));
		return -1;
	}
	if (connect(s->fd, (struct sockaddr *)&s->sun, s->sunlen) == -1) {
		errbuf_set(err, errlen, "%s: %s", s->spec, strerror(errno));
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	s->connected = 1;
	return 0;
}

static int
sink_unix_send(struct sink *s, const char *frame, char *err, size_t errlen)
{
	struct pollfd pfd;
	size_t len = strlen(frame);
	int tries;

	for (tries = 0; tries < 3; tries++) {
		if (!s->connected && sink_unix_connect(s, err, errlen) == -1)
			return -1;
		if (send(s->fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
		    (ssize_t)len)
			return 0;
		switch (errno) {
		case EAGAIN:
			/* The receiver is behind: wait a little, once. */
			pfd.fd = s->fd;
			pfd.events = POLLOUT;
			if (tries > 0 || poll(&pfd, 1, 100) != 1)
				goto fail;
			break;
		case EINTR:
			break;
		case ECONNREFUSED:
		case ENOTCONN:
		case ENOENT:
			/* The receiver went away or was restarted. */
			close(s->fd);
			s->fd = -1;
			s->connected = 0;
			break;
		default:
			goto fail;
		}
	}
fail:
	errbuf_set(err, errlen, "%s: %s", s->spec, strerror(errno));
	return -1;
}

/* --- udp ----------------------------------------------------------------- */

static int
sink_udp_open(struct sink *s, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int e, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(s->dest.host, s->dest.port, &hints, &res)) != 0) {
		errbuf_set(err, errlen, "%s: %s", s->spec, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(s->addr))
			continue;
		s->fd = socket(ai->ai_family,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->fd == -1) {
			saved = errno;
			continue;
		}
		memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
		s->addrlen = ai->ai_addrlen;
		break;
	}
	freeaddrinfo(res);
	if (s->fd == -1) {
		errbuf_set(err, errlen, "%s: socket: %s", s->spec,
		    strerror(saved ? saved : EAFNOSUPPORT));
		return -1;
	}
	return 0;
}

static int
sink_udp_send(struct sink *s, const char *frame, char *err, size_t errlen)
{
	size_t len = strlen(frame);
	ssize_t n;

	do
		n = sendto(s->fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT,
		    (struct sockaddr *)&s->addr, s->addrlen);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)len) {
		errbuf_set(err, errlen, "%s: %s", s->spec,
		    n == -1 ? strerror(errno) : "short send");
		return -1;
	}
	return 0;
}

/* --- tcp ----------------------------------------------------------------- */

static void
sink_tcp_down(struct sink *s)
{
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	s->state = SINK_DOWN;
	s->qoff = 0;	/* the receiver drops a partial frame */
}

/* Start connecting if down and a second has passed since the last try. */
static void
sink_tcp_connect(struct sink *s)
{
	struct addrinfo hints, *res, *ai;
	unsigned int i, n;
	int e, on = 1;

	if (s->state != SINK_DOWN)
		return;
	if (s->tried && sink_ms_since(&s->last_try) < SINK_RECONNECT_MS)
		return;
	s->tried = 1;
	clock_gettime(CLOCK_MONOTONIC, &s->last_try);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(s->dest.host, s->dest.port, &hints, &res)) != 0) {
		sink_setlasterr(s, "%s: %s", s->spec, gai_strerror(e));
		return;
	}
	/* Each attempt takes the next address, so one dead one is passed. */
	for (n = 0, ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	for (ai = res, i = s->addrnext % n; i > 0; i--)
		ai = ai->ai_next;
	s->addrnext++;

	s->fd = socket(ai->ai_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd == -1) {
		sink_setlasterr(s, "%s: socket: %s", s->spec, strerror(errno));
		freeaddrinfo(res);
		return;
	}
	setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		s->state = SINK_UP;
		free(s->lasterr);
		s->lasterr = NULL;
	} else if (errno == EINPROGRESS || errno == EINTR)
		s->state = SINK_CONNECTING;
	else {
		sink_setlasterr(s, "%s: connect: %s", s->spec, strerror(errno));
		sink_tcp_down(s);
	}
	freeaddrinfo(res);
}

/* Move a connect under way along: up, failed, or still waiting. */
static void
sink_tcp_connecting(struct sink *s)
{
	struct pollfd pfd;
	socklen_t len;
	int e;

	pfd.fd = s->fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, 0) != 1) {
		if (sink_ms_since(&s->last_try) >= SINK_CONNECT_MS) {
			sink_setlasterr(s, "%s: connect: timed out", s->spec);
			sink_tcp_down(s);
		}
		return;
	}
	len = sizeof(e);
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = errno;
	if (e != 0) {
		sink_setlasterr(s, "%s: connect: %s", s->spec, strerror(e));
		sink_tcp_down(s);
		return;
	}
	s->state = SINK_UP;
	free(s->lasterr);
	s->lasterr = NULL;
}

/* Return 0 if the receiver has not closed the connection, else take it down. */
static int
sink_tcp_alive(struct sink *s)
{
	char buf[512];
	ssize_t n;

	for (;;) {
		n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue;	/* a receiver has nothing to say */
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		break;
	}
	if (n == 0)
		sink_setlasterr(s, "%s: connection closed by the receiver",
		    s->spec);
	else
		sink_setlasterr(s, "%s: %s", s->spec, strerror(errno));
	sink_tcp_down(s);
	return -1;
}

/* Remove the frame at the head of the queue. */
static void
sink_q_shift(struct sink *s)
{
	struct sink_frame *f = &s->q[s->qhead];

	s->qbytes -= f->len;
	free(f->buf);
	f->buf = NULL;
	s->qhead = (s->qhead + 1) % SINK_QMAX;
	s->qlen--;
	s->qoff = 0;
}

/* Drop the oldest frame that is not partly written; 0, or -1 if none. */
static int
sink_q_drop(struct sink *s)
{
	size_t next;

	if (s->qlen == 0)
		return -1;
	if (s->qoff == 0) {
		sink_q_shift(s);
		s->dropped++;
		return 0;
	}
	if (s->qlen < 2)
		return -1;
	/* Keep the partly written head: move it over the one after it. */
	next = (s->qhead + 1) % SINK_QMAX;
	s->qbytes -= s->q[next].len;
	free(s->q[next].buf);
	s->q[next] = s->q[s->qhead];
	s->q[s->qhead].buf = NULL;
	s->qhead = next;
	s->qlen--;
	s->dropped++;
	return 0;
}

static void
sink_q_push(struct sink *s, char *buf, size_t len)
{
	while (s->qlen > 0 && (s->qlen >= SINK_QMAX ||
	    s->qbytes + len > SINK_QBYTES))
		if (sink_q_drop(s) == -1)
			break;
	s->q[(s->qhead + s->qlen) % SINK_QMAX].buf = buf;
	s->q[(s->qhead + s->qlen) % SINK_QMAX].len = len;
	s->qlen++;
	s->qbytes += len;
}

/* Write what the connection takes. */
static void
sink_tcp_write(struct sink *s)
{
	struct sink_frame *f;
	ssize_t n;

	if (s->qlen == 0 || sink_tcp_alive(s) == -1)
		return;
	while (s->qlen > 0) {
		f = &s->q[s->qhead];
		n = send(s->fd, f->buf + s->qoff, f->len - s->qoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			sink_setlasterr(s, "%s: %s", s->spec, strerror(errno));
			sink_tcp_down(s);
			return;
		}
		s->qoff += (size_t)n;
		if (s->qoff == f->len) {
			sink_q_shift(s);
			s->sent++;
		}
	}
}

/* Make what progress can be made without blocking. */
static void
sink_tcp_run(struct sink *s)
{
	if (s->state == SINK_UP)
		sink_tcp_write(s);
	if (s->state == SINK_DOWN && s->qlen > 0)
		sink_tcp_connect(s);
	if (s->state == SINK_CONNECTING)
		sink_tcp_connecting(s);
	if (s->state == SINK_UP)
		sink_tcp_write(s);
}

/* --- the interface ------------------------------------------------------- */

/* Open spec (local, unix:/p, udp:h:p, tcp:h:p) for ident; 0, or -1 and err. */
int
sink_open(const char *spec, int facility, const char *ident,
    struct sink **out, char *err, size_t errlen)
{
	struct sink *s;
	char derr[256];

	*out = NULL;
	s = xcalloc(1, sizeof(*s));
	s->fd = -1;
	if (confval_syslog(spec, &s->dest, derr, sizeof(derr)) == -1) {
		errbuf_set(err, errlen, "%s", derr);
		free(s);
		return -1;
	}
	s->spec = xstrdup(spec);
	s->facility = facility & LOG_FACMASK;
	s->openlog_ident = xstrdup(ident ? ident : "");
	s->ident = sink_printable(s->openlog_ident, SINK_MAXIDENT);
	if (gethostname(s->hostname, sizeof(s->hostname)) == -1)
		s->hostname[0] = '\0';
	s->hostname[sizeof(s->hostname) - 1] = '\0';
	if (s->hostname[0] == '\0')
		strcpy(s->hostname, "-");
	else {
		char *h = sink_printable(s->hostname, sizeof(s->hostname) - 1);

		strcpy(s->hostname, h);
		free(h);
	}

	switch (s->dest.kind) {
	case CONFVAL_SYSLOG_LOCAL:
		openlog(s->openlog_ident, LOG_PID | LOG_NDELAY, s->facility);
		break;
	case CONFVAL_SYSLOG_UNIX:
		s->sun.sun_family = AF_UNIX;
		memcpy(s->sun.sun_path, s->dest.path, strlen(s->dest.path));
		s->sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strlen(s->dest.path) + 1);
		/* The receiver need not be there yet. */
		(void)sink_unix_connect(s, NULL, 0);
		break;
	case CONFVAL_SYSLOG_UDP:
		if (sink_udp_open(s, err, errlen) == -1) {
			sink_close(s);
			return -1;
		}
		break;
	case CONFVAL_SYSLOG_TCP:
		sink_tcp_connect(s);
		break;
	}
	*out = s;
	return 0;
}

/*
 * Send msg, escaped, at LOG_* severity; 0 sent (TCP: queued), or -1 and err.
 */
int
sink_send(struct sink *s, int severity, const char *msg, char *err,
    size_t errlen)
{
	char *m, *frame, *buf;
	int r = 0;

	severity &= LOG_PRIMASK;
	m = sink_escape_max(msg, SINK_MAXMSG);
	switch (s->dest.kind) {
	case CONFVAL_SYSLOG_LOCAL:
		syslog(s->facility | severity, "%s", m);
		s->sent++;
		break;
	case CONFVAL_SYSLOG_UNIX:
		frame = sink_frame3164(s, severity, m);
		r = sink_unix_send(s, frame, err, errlen);
		free(frame);
		break;
	case CONFVAL_SYSLOG_UDP:
		frame = sink_frame5424(s, severity, m);
		r = sink_udp_send(s, frame, err, errlen);
		free(frame);
		break;
	case CONFVAL_SYSLOG_TCP:
		frame = sink_frame5424(s, severity, m);
		buf = xasprintf("%zu %s", strlen(frame), frame);
		free(frame);
		sink_q_push(s, buf, strlen(buf));
		sink_tcp_run(s);
		break;
	}
	free(m);
	if (s->dest.kind == CONFVAL_SYSLOG_UNIX || s->dest.kind ==
	    CONFVAL_SYSLOG_UDP) {
		if (r == 0)
			s->sent++;
		else
			s->failed++;
	}
	return r;
}

/* Write queued TCP messages without blocking; the number left, 0 when none. */
int
sink_flush(struct sink *s)
{
	if (s->dest.kind != CONFVAL_SYSLOG_TCP)
		return 0;
	sink_tcp_run(s);
	return (int)s->qlen;
}

/* Return the fd to watch for writability (TCP with work pending), or -1. */
int
sink_fd(struct sink *s)
{
	if (s->dest.kind != CONFVAL_SYSLOG_TCP)
		return -1;
	if (s->state == SINK_CONNECTING ||
	    (s->state == SINK_UP && s->qlen > 0))
		return s->fd;
	return -1;
}

/* Return the last TCP connection error, or NULL while connected. */
const char *
sink_lasterror(const struct sink *s)
{
	return s->lasterr;
}

/* Store the counts of messages sent, failed and dropped; NULLs are skipped. */
void
sink_stats(const struct sink *s, unsigned long *sent, unsigned long *failed,
    unsigned long *dropped)
{
	if (sent != NULL)
		*sent = s->sent;
	if (failed != NULL)
		*failed = s->failed;
	if (dropped != NULL)
		*dropped = s->dropped;
}

/* Flush TCP for about a second at most, close, free s; NULL is ignored. */
void
sink_close(struct sink *s)
{
	struct timespec start;
	struct pollfd pfd;
	int64_t left;

	if (s == NULL)
		return;
	if (s->dest.kind == CONFVAL_SYSLOG_TCP) {
		clock_gettime(CLOCK_MONOTONIC, &start);
		/*
		 * Wait only on a connection that is up or coming up; when it
		 * is down, sink_flush() makes the one attempt that is due.
		 */
		while (sink_flush(s) > 0 && s->fd != -1) {
			if ((left = SINK_CLOSE_MS - sink_ms_since(&start)) <= 0)
				break;
			pfd.fd = s->fd;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, (int)left);
		}
		while (s->qlen > 0)
			sink_q_shift(s);
	}
	if (s->dest.kind == CONFVAL_SYSLOG_LOCAL)
		closelog();	/* openlog(3) kept a pointer to our ident */
	if (s->fd != -1)
		close(s->fd);
	free(s->lasterr);
	free(s->spec);
	free(s->ident);
	free(s->openlog_ident);
	free(s);
}
