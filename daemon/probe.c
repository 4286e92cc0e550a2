/* probe: non-blocking TCP connects driven by libevent, names through NSS. */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "compat/queue.h"
#include "log.h"
#include "probe.h"
#include "xmalloc.h"

/*
 * Probes of one host:port are shared.  Many locations often live on one
 * server (the shares of a file server, the folders of a share): a probe
 * started while another to the same host:port is under way waits for that
 * one's answer, and a host:port that accepted a connection within the last
 * PROBE_FRESH_MS is taken as reachable without connecting again.  Each
 * probe costs the server a TCP connection (on Samba, a fork of smbd);
 * without this a round over 500 shares of 5 servers made 500 of them.  A
 * failure is not remembered beyond the probe that found it.
 */
#define PROBE_FRESH_MS		5000
#define PROBE_NBUCKETS		4096	/* hash of host:port, both tables */

struct probe_waiter {
	struct probe_waiter	*next;
	probe_cb		*cb;
	void			*arg;
};

/* A host:port that accepted a connection lately. */
struct probe_ok {
	struct probe_ok		*next;
	char			*host;
	uint16_t		 port;
	int64_t			 at_ms;		/* monotonic */
};

/*
 * A name resolved by a resolver thread with getaddrinfo(), so that names
 * resolve as everywhere else on the system (NSS: /etc/hosts, DNS, LDAP,
 * whatever nsswitch.conf says), and as libsmbclient resolves them in the
 * workers.  The thread writes the finished lookup's pointer to a pipe the
 * loop watches; a lookup whose probe was cancelled meanwhile has p NULL.
 */
struct probe_lookup {
	TAILQ_ENTRY(probe_lookup) entry;
	struct probe		*p;
	char			*host;
	struct addrinfo		*res;
	int			 rc;
};

#define PROBE_RESOLVERS		4	/* threads: lookups at once */

struct probe {
	TAILQ_ENTRY(probe)	 entry;
	struct probe		*hnext;		/* in probe_running[] */
	int			 hashed;
	uint16_t		 port;		/* as asked (0: 445, 139) */
	struct probe_waiter	*waiters;	/* later probes of host:port */
	char			*host;
	uint16_t		 ports[2];
	int			 nports;
	int			 porti;
	int			 timeout_ms;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	struct addrinfo		*ai;		/* the name's addresses */
	struct addrinfo		*aicur;		/* the one being tried */
	int			 fd;
	struct event		*ev;
	struct probe_lookup	*lookup;	/* a name being resolved */
	probe_cb		*cb;
	void			*arg;
	char			 msg[200];
};

static TAILQ_HEAD(, probe) probe_list = TAILQ_HEAD_INITIALIZER(probe_list);
static struct event_base *probe_base;
static TAILQ_HEAD(, probe_lookup) probe_queue =
    TAILQ_HEAD_INITIALIZER(probe_queue);
static pthread_mutex_t	 probe_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 probe_cv = PTHREAD_COND_INITIALIZER;
static int		 probe_pipe[2] = { -1, -1 };
static struct event	*probe_pipe_ev;
static int		 probe_nthreads;
static int probe_count;
static struct probe	*probe_running[PROBE_NBUCKETS];	/* connecting */
static struct probe_ok	*probe_fresh[PROBE_NBUCKETS];	/* accepted lately */

static unsigned
probe_hash(const char *host, uint16_t port)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *host != '\0'; host++)
		h = (h ^ (unsigned char)*host) * 16777619u;
	h = (h ^ port) * 16777619u;
	return h % PROBE_NBUCKETS;
}

/* Return 1 if host:port accepted a connection lately; drop stale entries. */
static int
probe_is_fresh(const char *host, uint16_t port)
{
	struct probe_ok **pp, *o;
	int64_t now = clock_mono_ms();

	for (pp = &probe_fresh[probe_hash(host, port)]; (o = *pp) != NULL;) {
		if (now - o->at_ms >= PROBE_FRESH_MS) {
			*pp = o->next;
			free(o->host);
			free(o);
			continue;
		}
		if (o->port == port && strcmp(o->host, host) == 0)
			return 1;
		pp = &o->next;
	}
	return 0;
}

static void
probe_set_fresh(const char *host, uint16_t port)
{
	struct probe_ok *o;
	unsigned h = probe_hash(host, port);

	for (o = probe_fresh[h]; o != NULL; o = o->next)
		if (o->port == port && strcmp(o->host, host) == 0)
			break;
	if (o == NULL) {
		o = xcalloc(1, sizeof(*o));
		o->host = xstrdup(host);
		o->port = port;
		o->next = probe_fresh[h];
		probe_fresh[h] = o;
	}
	o->at_ms = clock_mono_ms();
}

static struct probe *
probe_find_running(const char *host, uint16_t port)
{
	struct probe *p;

	for (p = probe_running[probe_hash(host, port)]; p != NULL; p = p->hnext)
		if (p->port == port && strcmp(p->host, host) == 0)
			return p;
	return NULL;
}

static void
probe_unhash(struct probe *p)
{
	struct probe **pp;

	if (!p->hashed)
		return;
	for (pp = &probe_running[probe_hash(p->host, p->port)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	p->hashed = 0;
}

static void	probe_resolved(evutil_socket_t, short, void *);

/* Set up probing on base. */
void
probe_init(struct event_base *base)
{
	probe_base = base;
	if (probe_pipe[0] != -1)
		return;
	if (pipe2(probe_pipe, O_CLOEXEC) == -1)
		fatal("pipe2");
	if (fcntl(probe_pipe[0], F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	probe_pipe_ev = event_new(base, probe_pipe[0], EV_READ | EV_PERSIST,
	    probe_resolved, NULL);
	if (probe_pipe_ev == NULL)
		fatalx("event_new");
	event_add(probe_pipe_ev, NULL);
}

/* A resolver thread: take lookups off the queue, hand them back. */
static void *
probe_resolver(void *arg)
{
	struct probe_lookup *lk;
	struct addrinfo hints;
	ssize_t n;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&probe_mtx);
		while ((lk = TAILQ_FIRST(&probe_queue)) == NULL)
			pthread_cond_wait(&probe_cv, &probe_mtx);
		TAILQ_REMOVE(&probe_queue, lk, entry);
		pthread_mutex_unlock(&probe_mtx);
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		lk->rc = getaddrinfo(lk->host, NULL, &hints, &lk->res);
		do {
			n = write(probe_pipe[1], &lk, sizeof(lk));
		} while (n == -1 && errno == EINTR);
		if (n != sizeof(lk))
			fatal("probe: resolver pipe");
	}
	return NULL;
}

/* Queue p's host name for a resolver thread. */
static void
probe_lookup_start(struct probe *p)
{
	struct probe_lookup *lk = xcalloc(1, sizeof(*lk));
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;

	lk->p = p;
	lk->host = xstrdup(p->host);
	p->lookup = lk;
	pthread_mutex_lock(&probe_mtx);
	TAILQ_INSERT_TAIL(&probe_queue, lk, entry);
	pthread_cond_signal(&probe_cv);
	pthread_mutex_unlock(&probe_mtx);
	if (probe_nthreads >= PROBE_RESOLVERS)
		return;
	/* The threads take no signals: the loop handles them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, probe_resolver, NULL) != 0)
		fatalx("probe: cannot start a resolver thread");
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	probe_nthreads++;
}

/* Return the number of probes under way. */
int
probe_inflight(void)
{
	return probe_count;
}

static void
probe_free(struct probe *p)
{
	struct probe_waiter *w;

	TAILQ_REMOVE(&probe_list, p, entry);
	probe_count--;
	probe_unhash(p);
	while ((w = p->waiters) != NULL) {
		p->waiters = w->next;
		free(w);
	}
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->fd != -1)
		close(p->fd);
	if (p->lookup != NULL)
		p->lookup->p = NULL;	/* freed when the thread is done */
	if (p->ai != NULL)
		freeaddrinfo(p->ai);
	free(p->host);
	free(p);
}

/*
 * Finish p: free it, then report to it and to the probes that waited on it
 * (the callbacks may start new probes).
 */
static void
probe_finish(struct probe *p, int ok)
{
	probe_cb *cb = p->cb;
	void *arg = p->arg;
	struct probe_waiter *w = p->waiters, *next;
	char msg[sizeof(p->msg)];

	if (ok && p->hashed)
		probe_set_fresh(p->host, p->port);
	p->waiters = NULL;
	memcpy(msg, p->msg, sizeof(msg));
	probe_free(p);
	cb(arg, ok, msg);
	for (; w != NULL; w = next) {
		next = w->next;
		w->cb(w->arg, ok, msg);
		free(w);
	}
}

static void	probe_connect(struct probe *p);

/* Take the address ai for the next attempt. */
static void
probe_use_addr(struct probe *p, const struct addrinfo *ai)
{
	memcpy(&p->addr, ai->ai_addr, ai->ai_addrlen);
	p->addrlen = (socklen_t)ai->ai_addrlen;
}

/* Start over at the name's first address (a literal address has one). */
static void
probe_first_addr(struct probe *p)
{
	if (p->ai != NULL) {
		p->aicur = p->ai;
		probe_use_addr(p, p->aicur);
	}
}

/* Move to the name's next address on this port: 0, or -1 when none. */
static int
probe_next_addr(struct probe *p)
{
	if (p->aicur == NULL || p->aicur->ai_next == NULL)
		return -1;
	p->aicur = p->aicur->ai_next;
	probe_use_addr(p, p->aicur);
	return 0;
}

/* "HOST port N" or, for a name with several addresses, "HOST (ADDR) port N". */
static void
probe_where(const struct probe *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "";
	const void *in;

	if (p->ai != NULL && p->ai->ai_next != NULL) {
		in = p->addr.ss_family == AF_INET6 ?
		    (const void *)&((const struct sockaddr_in6 *)
		    &p->addr)->sin6_addr :
		    (const void *)&((const struct sockaddr_in *)
		    &p->addr)->sin_addr;
		inet_ntop(p->addr.ss_family, in, a, sizeof(a));
		snprintf(buf, len, "%s (%s) port %u", p->host, a,
		    p->ports[p->porti]);
	} else
		snprintf(buf, len, "%s port %u", p->host, p->ports[p->porti]);
}

static void
probe_next(struct probe *p)
{
	if (p->ev != NULL) {
		event_free(p->ev);
		p->ev = NULL;
	}
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
	if (probe_next_addr(p) == 0)
		probe_connect(p);
	else if (++p->porti < p->nports) {
		probe_first_addr(p);
		probe_connect(p);
	} else
		probe_finish(p, 0);
}

static void
probe_event(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	socklen_t len = sizeof(int);
	int e = 0;

	char where[128];

	probe_where(p, where, sizeof(where));
	if (what & EV_TIMEOUT) {
		snprintf(p->msg, sizeof(p->msg), "%s: no answer to TCP connect "
		    "within %d ms", where, p->timeout_ms);
		probe_next(p);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = errno;
	if (e == 0) {
		p->msg[0] = '\0';
		probe_finish(p, 1);
		return;
	}
	snprintf(p->msg, sizeof(p->msg), "%s: %s", where, strerror(e));
	probe_next(p);
}

/* Deliver a result from the event loop, never from the caller's frame. */
static void
probe_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	(void)fd;
	(void)what;
	probe_finish(p, 0);
}

static void
probe_deferred_ok(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	(void)fd;
	(void)what;
	probe_finish(p, 1);
}

static void
probe_fail_later(struct probe *p)
{
	struct timeval tv = { 0, 0 };

	if (p->ev != NULL)
		event_free(p->ev);
	p->ev = evtimer_new(probe_base, probe_deferred, p);
	if (p->ev == NULL)
		fatalx("evtimer_new");
	evtimer_add(p->ev, &tv);
}

static void
probe_connect(struct probe *p)
{
	struct timeval tv;
	uint16_t port = htons(p->ports[p->porti]);
	char where[128];

	if (p->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&p->addr)->sin_port = port;
	else
		((struct sockaddr_in6 *)&p->addr)->sin6_port = port;
	p->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (p->fd == -1) {
		snprintf(p->msg, sizeof(p->msg), "%s: socket: %s", p->host,
		    strerror(errno));
		probe_fail_later(p);
		return;
	}
	if (connect(p->fd, (struct sockaddr *)&p->addr, p->addrlen) == -1 &&
	    errno != EINPROGRESS) {
		probe_where(p, where, sizeof(where));
		snprintf(p->msg, sizeof(p->msg), "%s: %s", where,
		    strerror(errno));
		close(p->fd);
		p->fd = -1;
		if (probe_next_addr(p) == 0)
			probe_connect(p);
		else if (p->porti + 1 < p->nports) {
			p->porti++;
			probe_first_addr(p);
			probe_connect(p);
		} else
			probe_fail_later(p);
		return;
	}
	p->ev = event_new(probe_base, p->fd, EV_WRITE, probe_event, p);
	if (p->ev == NULL)
		fatalx("event_new");
	tv.tv_sec = p->timeout_ms / 1000;
	tv.tv_usec = (p->timeout_ms % 1000) * 1000;
	event_add(p->ev, &tv);
}

/* The loop's end of the resolver pipe: go on with each probe resolved. */
static void
probe_resolved(evutil_socket_t fd, short what, void *arg)
{
	struct probe_lookup *lk;
	struct probe *p;
	ssize_t n;

	(void)what;
	(void)arg;
	while ((n = read(fd, &lk, sizeof(lk))) == sizeof(lk)) {
		if ((p = lk->p) == NULL) {	/* cancelled meanwhile */
			if (lk->res != NULL)
				freeaddrinfo(lk->res);
			free(lk->host);
			free(lk);
			continue;
		}
		p->lookup = NULL;
		if (lk->rc != 0 || lk->res == NULL) {
			snprintf(p->msg, sizeof(p->msg), "%s: host name not "
			    "found (%s)", p->host, lk->rc == EAI_SYSTEM ?
			    strerror(errno) : gai_strerror(lk->rc));
			if (lk->res != NULL)
				freeaddrinfo(lk->res);
			free(lk->host);
			free(lk);
			probe_finish(p, 0);
			continue;
		}
		p->ai = lk->res;
		free(lk->host);
		free(lk);
		probe_first_addr(p);
		probe_connect(p);
	}
}

/*
 * Probe host:port (port 0: 445 then 139) within timeout_ms per attempt and
 * call cb(arg, ...) exactly once, never from inside probe_start.
 */
void
probe_start(const char *host, uint16_t port, int timeout_ms, probe_cb *cb,
    void *arg)
{
	struct probe *p, *running;
	struct probe_waiter *w;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	struct timeval now = { 0, 0 };

	/* Another probe of host:port is under way: share its answer. */
	if ((running = probe_find_running(host, port)) != NULL) {
		w = xcalloc(1, sizeof(*w));
		w->cb = cb;
		w->arg = arg;
		w->next = running->waiters;
		running->waiters = w;
		return;
	}
	p = xcalloc(1, sizeof(*p));
	sin = (struct sockaddr_in *)&p->addr;
	sin6 = (struct sockaddr_in6 *)&p->addr;
	p->host = xstrdup(host);
	p->port = port;
	p->fd = -1;
	p->cb = cb;
	p->arg = arg;
	p->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	if (port != 0) {
		p->ports[0] = port;
		p->nports = 1;
	} else {
		p->ports[0] = 445;
		p->ports[1] = 139;
		p->nports = 2;
	}
	TAILQ_INSERT_TAIL(&probe_list, p, entry);
	probe_count++;

	/* Accepted a connection a moment ago: reachable, from the loop. */
	if (probe_is_fresh(host, port)) {
		p->ev = evtimer_new(probe_base, probe_deferred_ok, p);
		if (p->ev == NULL)
			fatalx("evtimer_new");
		evtimer_add(p->ev, &now);
		return;
	}
	{
		unsigned h = probe_hash(host, port);

		p->hnext = probe_running[h];
		probe_running[h] = p;
		p->hashed = 1;
	}

	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		p->addrlen = sizeof(*sin);
		probe_connect(p);
		return;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		p->addrlen = sizeof(*sin6);
		probe_connect(p);
		return;
	}
	probe_lookup_start(p);
}

/* Abandon every probe under way without calling their callbacks. */
void
probe_cancel_all(void)
{
	struct probe *p;
	struct probe_lookup *lk;
	struct probe_ok *o;
	size_t i;

	for (i = 0; i < PROBE_NBUCKETS; i++)
		while ((o = probe_fresh[i]) != NULL) {
			probe_fresh[i] = o->next;
			free(o->host);
			free(o);
		}

	while ((p = TAILQ_FIRST(&probe_list)) != NULL)
		probe_free(p);
	/* Lookups no thread took yet go now; the others end in the pipe. */
	pthread_mutex_lock(&probe_mtx);
	while ((lk = TAILQ_FIRST(&probe_queue)) != NULL) {
		TAILQ_REMOVE(&probe_queue, lk, entry);
		free(lk->host);
		free(lk);
	}
	pthread_mutex_unlock(&probe_mtx);
}

/* Stop watching the resolver threads (at exit, after probe_cancel_all). */
void
probe_close(void)
{
	if (probe_pipe_ev != NULL)
		event_free(probe_pipe_ev);
	probe_pipe_ev = NULL;
}
