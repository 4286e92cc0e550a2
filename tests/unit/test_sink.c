/*
 * test_sink: syslog destinations against real sockets of the test's own: a
 * unix datagram receiver in a temporary directory (RFC 3164), a UDP
 * receiver and TCP listeners on 127.0.0.1 (RFC 5424, RFC 6587 octet
 * counting), a listener that drops the connection, a port nobody listens
 * on, and escaping as it reaches the wire.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sink.h"

#define WAIT_MS	3000	/* how long a test waits for something to arrive */

static char	 tmpdir[] = "/tmp/test_sink.XXXXXX";
static char	 hostname[256];

static const char *const months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if (gethostname(hostname, sizeof(hostname)) == -1)
		hostname[0] = '\0';
	hostname[sizeof(hostname) - 1] = '\0';
	if (hostname[0] == '\0')
		strcpy(hostname, "-");
	return 0;
}

static int
teardown(void **state)
{
	struct dirent *de;
	DIR *d;
	char path[1024];

	(void)state;
	if ((d = opendir(tmpdir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(tmpdir);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Wait up to ms for fd to become readable; 1 if it did. */
static int
readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* Receive one datagram into buf, NUL-terminated; its length, or -1. */
static ssize_t
recv_dgram(int fd, char *buf, size_t size)
{
	ssize_t n;

	if (!readable(fd, WAIT_MS))
		return -1;
	n = recv(fd, buf, size - 1, MSG_DONTWAIT);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* A unix datagram socket bound at tmpdir/name; the path goes to path. */
static int
unix_receiver(const char *name, char *path, size_t pathlen)
{
	struct sockaddr_un sun;
	int fd;

	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* A socket of type bound to 127.0.0.1 port 0 (listening if a stream). */
static int
inet_socket(int type, int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/*
 * A TCP port on 127.0.0.1 that nobody listens on: bound, so that nobody
 * else takes it, but not listening.  Close *fd when done.
 */
static int
free_port(int *fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*fd >= 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static int
accept_conn(int lfd)
{
	if (!readable(lfd, WAIT_MS))
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Flush s until its queue is empty or WAIT_MS pass; the final count. */
static int
flush_all(struct sink *s)
{
	int64_t start = now_ms();
	int n;

	while ((n = sink_flush(s)) > 0 && now_ms() - start < WAIT_MS)
		sleep_ms(20);
	return n;
}

/* Read one RFC 6587 octet-counted frame into out; its length, or -1. */
static ssize_t
read_frame(int fd, char *out, size_t outsize)
{
	char digits[16];
	size_t nd = 0, len, got = 0;
	ssize_t n;
	char c;

	for (;;) {
		if (!readable(fd, WAIT_MS) || recv(fd, &c, 1, 0) != 1)
			return -1;
		if (c == ' ')
			break;
		if (!isdigit((unsigned char)c) || nd + 1 >= sizeof(digits))
			return -1;
		digits[nd++] = c;
	}
	if (nd == 0 || digits[0] == '0')
		return -1;
	digits[nd] = '\0';
	len = strtoul(digits, NULL, 10);
	if (len >= outsize)
		return -1;
	while (got < len) {
		if (!readable(fd, WAIT_MS))
			return -1;
		if ((n = recv(fd, out + got, len - got, 0)) <= 0)
			return -1;
		got += (size_t)n;
	}
	out[len] = '\0';
	return (ssize_t)len;
}

/* Return 1 if s matches pat, where 'D' is any digit and the rest literal. */
static int
matches(const char *s, const char *pat)
{
	for (; *pat != '\0'; s++, pat++) {
		if (*pat == 'D' ? !isdigit((unsigned char)*s) : *s != *pat)
			return 0;
	}
	return 1;
}

/*
 * Check an RFC 5424 message: <pri>1 TIMESTAMP HOSTNAME maildatd PID alert
 * - msg, the timestamp in UTC with microseconds and between t0 and t1.
 */
static void
check_5424(const char *f, int pri, const char *msg, time_t t0, time_t t1)
{
	const char *ts;
	char head[32], rest[512];
	struct tm tm;
	time_t t;

	snprintf(head, sizeof(head), "<%d>1 ", pri);
	assert_true(strncmp(f, head, strlen(head)) == 0);
	ts = f + strlen(head);
	assert_true(matches(ts, "DDDD-DD-DDTDD:DD:DD.DDDDDDZ "));
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
	t = timegm(&tm);
	assert_true(t >= t0 - 1 && t <= t1 + 1);
	snprintf(rest, sizeof(rest), " %s maildatd %ld alert - %s", hostname,
	    (long)getpid(), msg);
	assert_string_equal(ts + 27, rest);
}

/* The RFC 3164 frame expected at time t. */
static void
frame_3164(char *buf, size_t size, int pri, time_t t, const char *msg)
{
	struct tm tm;

	localtime_r(&t, &tm);
	snprintf(buf, size, "<%d>%s %2d %02d:%02d:%02d maildatd[%ld]: %s",
	    pri, months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long)getpid(), msg);
}

/* Check an RFC 3164 frame stamped some time from t0 to t1. */
static void
check_3164(const char *f, int pri, const char *msg, time_t t0, time_t t1)
{
	char want[1024];
	time_t t;

	for (t = t0; t <= t1; t++) {
		frame_3164(want, sizeof(want), pri, t, msg);
		if (strcmp(f, want) == 0)
			return;
	}
	fail_msg("frame '%s' is not '%s'", f, want);
}

static void
test_unix_3164(void **state)
{
	struct sink *s;
	char path[512], buf[2048], err[256];
	unsigned long sent, failed, dropped;
	time_t t0, t1;
	int fd;

	(void)state;
	fd = unix_receiver("log.sock", path, sizeof(path));
	snprintf(buf, sizeof(buf), "unix:%s", path);
	assert_int_equal(sink_open(buf, LOG_DAEMON, "maildatd", &s, err,
	    sizeof(err)), 0);
	assert_int_equal(sink_fd(s), -1);
	t0 = time(NULL);
	assert_int_equal(sink_send(s, LOG_ERR, "duplicate serial 22-28798",
	    err, sizeof(err)), 0);
	assert_true(recv_dgram(fd, buf, sizeof(buf)) > 0);
	t1 = time(NULL);

	/* The PRI of daemon.err is 3 * 8 + 3. */
	assert_true(strncmp(buf, "<27>", 4) == 0);
	assert_int_equal(strtol(buf + 1, NULL, 10), 27);
	/* Mmm dd with the day padded by a space, then hh:mm:ss. */
	assert_true(matches(buf + 4 + 4, " D DD:DD:DD ") ||
	    matches(buf + 4 + 4, "DD DD:DD:DD "));
	check_3164(buf, 27, "duplicate serial 22-28798", t0, t1);

	assert_int_equal(sink_send(s, LOG_WARNING, "second", err,
	    sizeof(err)), 0);
	assert_true(recv_dgram(fd, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "<28>", 4) == 0);

	sink_stats(s, &sent, &failed, &dropped);
	assert_int_equal(sent, 2);
	assert_int_equal(failed, 0);
	assert_int_equal(dropped, 0);
	sink_close(s);
	close(fd);
	unlink(path);
}

static void
test_unix_late_receiver(void **state)
{
	struct sink *s;
	char path[512], spec[600], buf[2048], err[256];
	unsigned long sent, failed;
	time_t t0;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/late.sock", tmpdir);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	assert_int_equal(sink_open(spec, LOG_LOCAL3, "maildatd", &s, err,
	    sizeof(err)), 0);

	/* Nobody there: ENOENT. */
	err[0] = '\0';
	assert_int_equal(sink_send(s, LOG_ERR, "lost", err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));

	/* The receiver comes; the next send reaches it. */
	fd = unix_receiver("late.sock", path, sizeof(path));
	t0 = time(NULL);
	assert_int_equal(sink_send(s, LOG_ERR, "found", err, sizeof(err)), 0);
	assert_true(recv_dgram(fd, buf, sizeof(buf)) > 0);
	check_3164(buf, LOG_LOCAL3 | LOG_ERR, "found", t0, time(NULL));

	/* The receiver goes, leaving its socket file: ECONNREFUSED. */
	close(fd);
	err[0] = '\0';
	assert_int_equal(sink_send(s, LOG_ERR, "lost", err, sizeof(err)), -1);
	assert_non_null(strstr(err, strerror(ECONNREFUSED)));

	/* A new receiver at the same path (a restarted daemon). */
	unlink(path);
	fd = unix_receiver("late.sock", path, sizeof(path));
	assert_int_equal(sink_send(s, LOG_ERR, "again", err, sizeof(err)), 0);
	assert_true(recv_dgram(fd, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "]: again"));

	sink_stats(s, &sent, &failed, NULL);
	assert_int_equal(sent, 2);
	assert_int_equal(failed, 2);
	sink_close(s);
	close(fd);
	unlink(path);
}

static void
test_udp_5424(void **state)
{
	struct sink *s;
	char spec[64], buf[4096], err[256];
	unsigned long sent;
	time_t t0;
	int fd, port;

	(void)state;
	fd = inet_socket(SOCK_DGRAM, &port);
	snprintf(spec, sizeof(spec), "udp:127.0.0.1:%d", port);
	assert_int_equal(sink_open(spec, LOG_DAEMON, "maildatd", &s, err,
	    sizeof(err)), 0);
	t0 = time(NULL);
	assert_int_equal(sink_send(s, LOG_ERR, "duplicate-serial: 1 EX/PO1",
	    err, sizeof(err)), 0);
	assert_true(recv_dgram(fd, buf, sizeof(buf)) > 0);
	check_5424(buf, 27, "duplicate-serial: 1 EX/PO1", t0, time(NULL));

	assert_int_equal(sink_send(s, LOG_NOTICE, "n", err, sizeof(err)), 0);
	assert_true(recv_dgram(fd, buf, sizeof(buf)) > 0);
	check_5424(buf, LOG_DAEMON | LOG_NOTICE, "n", t0, time(NULL));

	sink_stats(s, &sent, NULL, NULL);
	assert_int_equal(sent, 2);
	sink_close(s);
	close(fd);
}

static void
test_udp_ipv6(void **state)
{
	struct sockaddr_in6 sin6;
	socklen_t len = sizeof(sin6);
	struct sink *s;
	char spec[64], buf[4096], err[256];
	time_t t0;
	int fd;

	(void)state;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	if ((fd = socket(AF_INET6, SOCK_DGRAM, 0)) == -1)
		skip();
	if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == -1) {
		close(fd);
		skip();
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin6, &len), 0);
	snprintf(spec, sizeof(spec), "udp:[::1]:%d", ntohs(sin6.sin6_port));
	assert_int_equal(sink_open(spec, LOG_USER, "maildatd", &s, err,
	    sizeof(err)), 0);
	t0 = time(NULL);
	assert_int_equal(sink_send(s, LOG_INFO, "v6", err, sizeof(err)), 0);
	assert_true(recv_dgram(fd, buf, sizeof(buf)) > 0);
	check_5424(buf, LOG_USER | LOG_INFO, "v6", t0, time(NULL));
	sink_close(s);
	close(fd);
}

static void
test_tcp_frames(void **state)
{
	struct sink *s;
	char spec[64], buf[4096], err[256];
	unsigned long sent, dropped;
	time_t t0;
	ssize_t n;
	int lfd, cfd, port;

	(void)state;
	lfd = inet_socket(SOCK_STREAM, &port);
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", port);
	assert_int_equal(sink_open(spec, LOG_DAEMON, "maildatd", &s, err,
	    sizeof(err)), 0);
	t0 = time(NULL);
	assert_int_equal(sink_send(s, LOG_ERR, "first", err, sizeof(err)), 0);
	assert_int_equal(sink_send(s, LOG_WARNING, "second\nline", err,
	    sizeof(err)), 0);
	assert_int_equal(flush_all(s), 0);
	assert_int_equal(sink_fd(s), -1);	/* nothing left to write */
	assert_null(sink_lasterror(s));

	cfd = accept_conn(lfd);
	assert_true(cfd >= 0);
	/* read_frame() takes LEN bytes: a wrong LEN breaks the next frame. */
	n = read_frame(cfd, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	check_5424(buf, 27, "first", t0, time(NULL));
	n = read_frame(cfd, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_null(strchr(buf, '\n'));
	check_5424(buf, 28, "second\\x0aline", t0, time(NULL));

	sink_stats(s, &sent, NULL, &dropped);
	assert_int_equal(sent, 2);
	assert_int_equal(dropped, 0);
	sink_close(s);
	/* Nothing after the two frames: no newline, no trailer. */
	assert_true(readable(cfd, WAIT_MS));
	assert_int_equal(recv(cfd, buf, sizeof(buf), 0), 0);
	close(cfd);
	close(lfd);
}

static void
test_tcp_reconnect(void **state)
{
	struct sink *s;
	char spec[64], buf[4096], err[256];
	unsigned long sent;
	int64_t start;
	time_t t0;
	int lfd, cfd, port;

	(void)state;
	lfd = inet_socket(SOCK_STREAM, &port);
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", port);
	start = now_ms();
	t0 = time(NULL);
	assert_int_equal(sink_open(spec, LOG_DAEMON, "maildatd", &s, err,
	    sizeof(err)), 0);
	assert_int_equal(sink_send(s, LOG_ERR, "one", err, sizeof(err)), 0);
	assert_int_equal(flush_all(s), 0);
	cfd = accept_conn(lfd);
	assert_true(cfd >= 0);
	assert_true(read_frame(cfd, buf, sizeof(buf)) > 0);
	check_5424(buf, 27, "one", t0, time(NULL));

	/* The receiver hangs up. */
	close(cfd);
	sleep_ms(50);
	assert_int_equal(sink_send(s, LOG_ERR, "two", err, sizeof(err)), 0);
	assert_non_null(sink_lasterror(s));
	/* Connected less than a second ago: no new attempt yet. */
	if (now_ms() - start < 900)
		assert_int_equal(sink_flush(s), 1);

	assert_int_equal(flush_all(s), 0);
	assert_true(now_ms() - start >= 1000);
	assert_null(sink_lasterror(s));
	cfd = accept_conn(lfd);
	assert_true(cfd >= 0);
	assert_true(read_frame(cfd, buf, sizeof(buf)) > 0);
	check_5424(buf, 27, "two", t0, time(NULL));

	sink_stats(s, &sent, NULL, NULL);
	assert_int_equal(sent, 2);
	sink_close(s);
	close(cfd);
	close(lfd);
}

/* Send 60000-byte messages to s until the queue overflows; the drop count. */
static unsigned long
fill(struct sink *s, char *big)
{
	unsigned long dropped, before;
	char err[256];
	int i;

	sink_stats(s, NULL, NULL, &before);
	dropped = before;
	for (i = 0; i < 2000 && dropped == before; i++) {
		memset(big, 'a' + i % 26, 60000);
		big[60000] = '\0';
		assert_int_equal(sink_send(s, LOG_ERR, big, err, sizeof(err)),
		    0);
		sink_stats(s, NULL, NULL, &dropped);
	}
	return dropped - before;
}

/* Check that f (len bytes) is one of fill()'s messages. */
static void
check_big(const char *f, size_t len)
{
	const char *m;
	size_t i;

	assert_true(strncmp(f, "<27>1 ", 6) == 0);
	assert_non_null(m = strstr(f, " alert - "));
	m += 9;
	assert_int_equal(len - (size_t)(m - f), 60000);
	for (i = 1; i < 60000; i++)
		if (m[i] != m[0])
			fail_msg("message byte %zu is '%c', not '%c'", i, m[i],
			    m[0]);
}

/*
 * A receiver that reads nothing for a while, so that the connection fills
 * up and the queue overflows while a frame is half written: the frames
 * that arrive are whole (the half-written one was not dropped).  Then the
 * receiver resets the connection in the same state: the half-written
 * frame is sent again whole on the next connection, which therefore starts
 * with a complete frame.
 */
static void
test_tcp_full_connection(void **state)
{
	struct linger lg = { 1, 0 };
	struct sink *s;
	char spec[64], err[256], *big, *buf, *p;
	size_t got = 0, size = 16 * 1024 * 1024, len, nframes;
	unsigned long sent;
	int64_t start, quiet;
	ssize_t n;
	int lfd, cfd, port, small = 4096;

	(void)state;
	big = malloc(60001);
	buf = malloc(size);
	assert_non_null(big);
	assert_non_null(buf);
	lfd = inet_socket(SOCK_STREAM, &port);
	assert_int_equal(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)), 0);
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", port);
	assert_int_equal(sink_open(spec, LOG_DAEMON, "maildatd", &s, err,
	    sizeof(err)), 0);
	cfd = accept_conn(lfd);
	assert_true(cfd >= 0);

	assert_true(fill(s, big) > 0);
	assert_true(sink_fd(s) >= 0);	/* waiting to write */
	assert_true(sink_flush(s) > 0);

	/* Read everything, flushing as the connection drains. */
	start = quiet = now_ms();
	while (now_ms() - quiet < 300 && now_ms() - start < 10000) {
		n = recv(cfd, buf + got, size - got, MSG_DONTWAIT);
		if (n > 0) {
			got += (size_t)n;
			quiet = now_ms();
		} else
			sleep_ms(5);
		if (sink_flush(s) > 0)
			quiet = now_ms();
		assert_true(got < size);
	}
	assert_int_equal(sink_flush(s), 0);
	for (p = buf, nframes = 0; p < buf + got; nframes++) {
		len = strtoul(p, &p, 10);
		assert_true(*p == ' ' && len > 0);
		p++;
		assert_true(p + len <= buf + got);
		check_big(p, len);
		p += len;
	}
	sink_stats(s, &sent, NULL, NULL);
	assert_int_equal(nframes, sent);

	/* Fill again, and reset the connection with data unread. */
	assert_true(fill(s, big) > 0);
	assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close(cfd);
	sleep_ms(50);
	assert_int_equal(flush_all(s), 0);
	cfd = accept_conn(lfd);
	assert_true(cfd >= 0);
	n = read_frame(cfd, buf, 70000);
	assert_true(n > 0);
	check_big(buf, (size_t)n);
	n = read_frame(cfd, buf, 70000);
	assert_true(n > 0);
	check_big(buf, (size_t)n);
	sink_close(s);
	close(cfd);
	close(lfd);
	free(big);
	free(buf);
}

static void
test_tcp_no_listener(void **state)
{
	struct sink *s;
	char spec[64], err[256], *big;
	unsigned long sent, failed, dropped, kept;
	int64_t start, took;
	int i, pfd;

	(void)state;
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", free_port(&pfd));
	start = now_ms();
	assert_int_equal(sink_open(spec, LOG_DAEMON, "maildatd", &s, err,
	    sizeof(err)), 0);
	for (i = 0; i < 1001; i++)
		assert_int_equal(sink_send(s, LOG_ERR, "queued", err,
		    sizeof(err)), 0);
	took = now_ms() - start;
	assert_true(took < 100);
	assert_int_equal(sink_flush(s), SINK_QMAX);
	assert_non_null(sink_lasterror(s));
	sink_stats(s, &sent, &failed, &dropped);
	assert_int_equal(sent, 0);
	assert_int_equal(failed, 0);
	assert_int_equal(dropped, 1);
	for (i = 0; i < 500; i++)
		assert_int_equal(sink_send(s, LOG_ERR, "more", err,
		    sizeof(err)), 0);
	sink_stats(s, NULL, NULL, &dropped);
	assert_int_equal(dropped, 501);
	start = now_ms();
	sink_close(s);
	assert_true(now_ms() - start < 1500);

	/* The byte bound: 200 messages of 10000 bytes do not fit in 1 MiB. */
	big = malloc(10001);
	assert_non_null(big);
	memset(big, 'x', 10000);
	big[10000] = '\0';
	assert_int_equal(sink_open(spec, LOG_DAEMON, "maildatd", &s, err,
	    sizeof(err)), 0);
	for (i = 0; i < 200; i++)
		assert_int_equal(sink_send(s, LOG_ERR, big, err,
		    sizeof(err)), 0);
	sink_stats(s, NULL, NULL, &dropped);
	kept = 200 - dropped;
	assert_int_equal((unsigned long)sink_flush(s), kept);
	assert_true(kept * 10000 <= SINK_QBYTES);
	assert_true((kept + 1) * (10000 + 600) > SINK_QBYTES);
	sink_close(s);
	free(big);
	close(pfd);
}

static void
test_escape(void **state)
{
	char *e;

	(void)state;
	e = sink_escape("a\nb\r\x01" "c");
	assert_string_equal(e, "a\\x0ab\\x0d\\x01c");
	free(e);
	e = sink_escape("\x7f\x1f\t ~");
	assert_string_equal(e, "\\x7f\\x1f\\x09 ~");
	free(e);
	e = sink_escape("caf\xc3\xa9 \xff\xfe");	/* UTF-8 and invalid bytes kept */
	assert_string_equal(e, "caf\xc3\xa9 \xff\xfe");
	free(e);
	e = sink_escape("");
	assert_string_equal(e, "");
	free(e);
}

static void
test_escape_on_wire(void **state)
{
	struct sink *s;
	char spec[64], err[256], *buf, *big;
	ssize_t n;
	int fd, port;
	size_t i;

	(void)state;
	buf = malloc(70000);
	assert_non_null(buf);
	fd = inet_socket(SOCK_DGRAM, &port);
	snprintf(spec, sizeof(spec), "udp:127.0.0.1:%d", port);
	assert_int_equal(sink_open(spec, LOG_DAEMON, "maildatd", &s, err,
	    sizeof(err)), 0);
	assert_int_equal(sink_send(s, LOG_ERR, "host\nfake: injected\r\n",
	    err, sizeof(err)), 0);
	n = recv_dgram(fd, buf, 70000);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));	/* no NUL inside */
	assert_null(memchr(buf, '\n', (size_t)n));
	assert_null(memchr(buf, '\r', (size_t)n));
	check_5424(buf, 27, "host\\x0afake: injected\\x0d\\x0a", 0,
	    time(NULL));

	/*
	 * A long message is cut, but not inside a UTF-8 character: "a" and
	 * two-byte characters, which do not end at the (even) limit.
	 */
	big = malloc(90002);
	assert_non_null(big);
	big[0] = 'a';
	for (i = 1; i < 90001; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[90001] = '\0';
	assert_int_equal(sink_send(s, LOG_ERR, big, err, sizeof(err)), 0);
	n = recv_dgram(fd, buf, 70000);
	assert_true(n > 0);
	assert_non_null(strstr(buf, " alert - a\xc3\xa9"));
	assert_int_equal(strlen(strstr(buf, " alert - ") + 9),
	    1 + (SINK_MAXMSG - 1) / 2 * 2);
	assert_true(memcmp(buf + n - 2, "\xc3\xa9", 2) == 0);
	/* Nor inside an escape: "a" then \x01s that do not end at the limit. */
	big[0] = 'a';
	memset(big + 1, '\x01', 20000);
	big[20001] = '\0';
	assert_int_equal(sink_send(s, LOG_ERR, big, err, sizeof(err)), 0);
	n = recv_dgram(fd, buf, 70000);
	assert_true(n > 0);
	assert_int_equal(strlen(strstr(buf, " alert - ") + 9),
	    1 + (SINK_MAXMSG - 1) / 4 * 4);
	assert_true(memcmp(buf + n - 4, "\\x01", 4) == 0);

	sink_close(s);
	close(fd);
	free(big);
	free(buf);
}

static void
test_local(void **state)
{
	struct sink *s;
	char err[256];
	unsigned long sent, failed;

	(void)state;
	err[0] = '\0';
	assert_int_equal(sink_open("local", LOG_DAEMON, "test_sink", &s, err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(sink_send(s, LOG_DEBUG, "test_sink: local sink\n",
	    err, sizeof(err)), 0);
	assert_int_equal(sink_fd(s), -1);
	assert_int_equal(sink_flush(s), 0);
	sink_stats(s, &sent, &failed, NULL);
	assert_int_equal(sent, 1);
	assert_int_equal(failed, 0);
	sink_close(s);
}

static void
test_open_errors(void **state)
{
	struct sink *s = (struct sink *)&s;
	char err[256];

	(void)state;
	err[0] = '\0';
	assert_int_equal(sink_open("syslog.example:514", LOG_DAEMON,
	    "maildatd", &s, err, sizeof(err)), -1);
	assert_null(s);
	assert_true(err[0] != '\0');
	err[0] = '\0';
	assert_int_equal(sink_open("unix:relative/path", LOG_DAEMON,
	    "maildatd", &s, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	err[0] = '\0';
	assert_int_equal(sink_open("tcp:127.0.0.1", LOG_DAEMON, "maildatd", &s,
	    err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	sink_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unix_3164),
		cmocka_unit_test(test_unix_late_receiver),
		cmocka_unit_test(test_udp_5424),
		cmocka_unit_test(test_udp_ipv6),
		cmocka_unit_test(test_tcp_frames),
		cmocka_unit_test(test_tcp_reconnect),
		cmocka_unit_test(test_tcp_full_connection),
		cmocka_unit_test(test_tcp_no_listener),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_on_wire),
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
