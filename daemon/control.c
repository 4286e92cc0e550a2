/* control: status, reload and crawl requests over a UNIX socket. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/queue.h"
#include "control.h"
#include "log.h"
#include "safefile.h"
#include "sched.h"
#include "xmalloc.h"

/*
 * One client; every connection is on the list, oldest first, until
 * control_drop().
 */
struct control_conn {
	TAILQ_ENTRY(control_conn) entry;
	struct bufferevent	*bev;
	int			 answering;	/* its line was read */
};

static int			 control_fd = -1;
static char			*control_path;
static struct evconnlistener	*control_listener;
static struct event_base	*control_base;
static struct control_hooks	 control_hooks;
static struct event		*control_resume_ev;	/* after EMFILE */
static TAILQ_HEAD(, control_conn) control_conns =
    TAILQ_HEAD_INITIALIZER(control_conns);
static int			 control_nconns;
static int			 control_paused;

/*
 * Create and bind the socket at path (replacing a stale one), owned by
 * uid:gid when those are not -1.
 *
 * The socket's directory is usually the daemon user's.  There root acts
 * with that user's file-system ids (safefile_enter): the stale socket is
 * examined and removed, and the new one made, owned by uid:gid and of mode
 * 0660 (the umask), exactly as the user could; no chmod or chown by name
 * follows that a planted link could redirect.  Only in a directory that
 * root alone may change is the socket made by root and then given away.
 */
int
control_open(const char *path, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	struct safefile_ids ids;
	struct stat sb;
	mode_t old;
	int fd = -1, probe, rc = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -1;
	}
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	if (safefile_enter(path, uid, gid, &ids, err, errlen) == -1)
		return -1;
	old = umask(0117);
	/* A socket left by a dead daemon is replaced; a live one is not. */
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket",
			    path);
			goto out;
		}
		if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1) {
			snprintf(err, errlen, "control socket: %s",
			    strerror(errno));
			goto out;
		}
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			snprintf(err, errlen, "%s: another maildatd is "
			    "listening there", path);
			close(probe);
			goto out;
		}
		close(probe);
		if (unlink(path) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove the stale socket "
			    "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		goto out;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EACCES && ids.switched)
			snprintf(err, errlen, "bind %s: %s (its directory must "
			    "be writable by uid %ld, the daemon's user)", path,
			    strerror(errno), (long)uid);
		else
			snprintf(err, errlen, "bind %s: %s", path,
			    strerror(errno));
		goto out;
	}
	/* Only root may change this directory: nothing can swap the socket. */
	if (!ids.switched && (uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(path);
		goto out;
	}
	if (listen(fd, 16) == -1) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		unlink(path);
		goto out;
	}
	control_fd = fd;
	fd = -1;
	control_path = xstrdup(path);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	umask(old);
	safefile_leave(&ids);
	return rc;
}

/* Return 1 if the peer may talk to us: root, our user, or our group. */
static int
control_peer_ok(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct passwd *pw;
	gid_t groups[64];
	int ngroups = 64, i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return 0;
	if (cr.uid == 0 || cr.uid == geteuid() || cr.gid == getegid())
		return 1;
	if ((pw = getpwuid(cr.uid)) != NULL &&
	    getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) != -1)
		for (i = 0; i < ngroups; i++)
			if (groups[i] == getegid())
				return 1;
	log_warnx("control: refused peer uid %ld gid %ld", (long)cr.uid,
	    (long)cr.gid);
	return 0;
}

/* Run one command line; the answer goes to out. */
static void
control_command(char *line, struct evbuffer *out)
{
	char msg[4096], *arg;
	int n;

	if ((arg = strchr(line, ' ')) != NULL) {
		*arg++ = '\0';
		while (*arg == ' ')
			arg++;
		if (*arg == '\0')
			arg = NULL;
	}
	if (strcmp(line, "status") == 0 && arg == NULL) {
		evbuffer_add_printf(out, "ok\n");
		control_hooks.status(out, control_hooks.arg);
	} else if (strcmp(line, "reload") == 0 && arg == NULL) {
		if (control_hooks.reload(msg, sizeof(msg),
		    control_hooks.arg) == 0)
			evbuffer_add_printf(out, "ok\n%s\n", msg);
		else
			evbuffer_add_printf(out, "error: configuration not "
			    "reloaded; the old one stays in force\n%s\n", msg);
	} else if (strcmp(line, "crawl") == 0) {
		if (control_hooks.stopping(control_hooks.arg))
			evbuffer_add_printf(out, "error: maildatd is stopping\n");
		else if ((n = sched_crawl_now(arg)) == 0 && arg != NULL)
			evbuffer_add_printf(out, "error: no target named %s\n",
			    arg);
		else
			evbuffer_add_printf(out, "ok\n%d location%s due now\n",
			    n, n == 1 ? "" : "s");
	} else if (strcmp(line, "resume") == 0 && arg != NULL) {
		if (sched_resume(arg) == -1)
			evbuffer_add_printf(out, "error: credentials %s are not "
			    "suspended\n", arg);
		else
			evbuffer_add_printf(out, "ok\ncredentials %s resumed; "
			    "their locations are due now\n", arg);
	} else if (strcmp(line, "forget") == 0 && arg != NULL) {
		if (sched_forget(arg, msg, sizeof(msg)) == -1)
			evbuffer_add_printf(out, "error: %s\n", msg);
		else
			evbuffer_add_printf(out, "ok\n%s\n", msg);
	} else
		evbuffer_add_printf(out, "error: unknown command (status, "
		    "reload, crawl [TARGET], resume CREDENTIALS, forget "
		    "LOCATION)\n");
}

/* Accept again, after descriptors ran out or the clients were too many. */
static void
control_resume(void)
{
	if (control_paused && control_listener != NULL &&
	    control_nconns < CONTROL_MAX_CLIENTS) {
		control_paused = 0;
		evconnlistener_enable(control_listener);
	}
}

static void
control_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	control_resume();
}

/* Stop accepting for a while: a second, or until a client goes. */
static void
control_pause(void)
{
	struct timeval tv = { 1, 0 };

	if (control_listener == NULL)
		return;
	control_paused = 1;
	evconnlistener_disable(control_listener);
	evtimer_add(control_resume_ev, &tv);
}

/* The one way a connection ends. */
static void
control_drop(struct control_conn *c)
{
	TAILQ_REMOVE(&control_conns, c, entry);
	control_nconns--;
	bufferevent_free(c->bev);
	free(c);
	control_resume();
}

static void
control_written(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		control_drop(arg);
}

static void	control_event(struct bufferevent *, short, void *);

/* Answer, then drop the client once the answer is written. */
static void
control_answer(struct control_conn *c)
{
	struct timeval wr = { CONTROL_WRITE_S, 0 };

	c->answering = 1;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_set_timeouts(c->bev, NULL, &wr);
	bufferevent_setcb(c->bev, NULL, control_written, control_event, c);
	/* Also when the answer is empty or written already. */
	bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
}

static void
control_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	/* End of file, an error or a timeout: the client goes. */
	control_drop(arg);
}

static void
control_read(struct bufferevent *bev, void *arg)
{
	struct control_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	char *line;
	size_t n;

	line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_MAX_LINE) {
			evbuffer_add_printf(out, "error: line too long\n");
			control_answer(c);
		}
		return;
	}
	if (strlen(line) != n)
		evbuffer_add_printf(out, "error: NUL byte in the command\n");
	else
		control_command(line, out);
	free(line);
	control_answer(c);
}

static void
control_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control_conn *c;
	struct bufferevent *bev;
	struct timeval rd = { CONTROL_IDLE_S, 0 }, wr = { CONTROL_WRITE_S, 0 };

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	if (!control_peer_ok(fd)) {
		close(fd);
		return;
	}
	bev = bufferevent_socket_new(control_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	/*
	 * At the limit, the oldest client that has not sent its line yet
	 * makes room: idle connections cannot keep status from an operator.
	 */
	if (control_nconns >= CONTROL_MAX_CLIENTS) {
		TAILQ_FOREACH(c, &control_conns, entry)
			if (!c->answering)
				break;
		if (c == NULL) {
			bufferevent_free(bev);
			control_pause();
			return;
		}
		control_drop(c);
	}
	c = xcalloc(1, sizeof(*c));
	c->bev = bev;
	TAILQ_INSERT_TAIL(&control_conns, c, entry);
	control_nconns++;
	bufferevent_setcb(bev, control_read, NULL, control_event, c);
	bufferevent_set_timeouts(bev, &rd, &wr);
	/* A line longer than this is refused anyway: read no more. */
	bufferevent_setwatermark(bev, EV_READ, 0, CONTROL_MAX_LINE + 2);
	bufferevent_enable(bev, EV_READ);
}

/* accept() failed: out of descriptors, most likely. */
static void
control_accept_error(struct evconnlistener *l, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();
	static int warned;

	(void)l;
	(void)arg;
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		if (!warned)
			log_warnx("control: accept: %s; not accepting for a "
			    "second", strerror(e));
		warned = 1;
		control_pause();
		return;
	}
	if (e != EINTR && e != EAGAIN && e != ECONNABORTED)
		log_warnx("control: accept: %s", strerror(e));
}

/* Start accepting clients on base; hooks (copied) answer them. */
void
control_start(struct event_base *base, const struct control_hooks *h)
{
	control_base = base;
	control_hooks = *h;
	if (control_fd == -1)
		return;
	control_listener = evconnlistener_new(base, control_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, control_fd);
	control_resume_ev = evtimer_new(base, control_resume_cb, NULL);
	if (control_listener == NULL || control_resume_ev == NULL)
		fatalx("evconnlistener_new");
	evconnlistener_set_error_cb(control_listener, control_accept_error);
}

/* Return the number of clients connected now. */
int
control_clients(void)
{
	return control_nconns;
}

/* Stop accepting, close every connection and the socket, remove its file. */
void
control_close(void)
{
	struct control_conn *c;

	while ((c = TAILQ_FIRST(&control_conns)) != NULL) {
		TAILQ_REMOVE(&control_conns, c, entry);
		bufferevent_free(c->bev);
		free(c);
	}
	control_nconns = 0;
	if (control_resume_ev != NULL)
		event_free(control_resume_ev);
	control_resume_ev = NULL;
	if (control_listener != NULL)
		evconnlistener_free(control_listener);
	else if (control_fd != -1)
		close(control_fd);
	control_listener = NULL;
	control_fd = -1;
	if (control_path != NULL) {
		unlink(control_path);
		free(control_path);
		control_path = NULL;
	}
}
