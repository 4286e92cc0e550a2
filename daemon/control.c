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
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "maildatd.h"
#include "pool.h"
#include "safefile.h"
#include "sched.h"
#include "store.h"
#include "xmalloc.h"

#define CONTROL_MAX_LINE	1024

static int			 control_fd = -1;
static char			*control_path;
static struct evconnlistener	*control_listener;

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

static void
control_status(struct evbuffer *out)
{
	char buf[32];
	struct tm tm;
	/* Monotonic: a step of the wall clock does not change it. */
	long long up = (clock_mono_ms() - env->started_ms) / 1000;

	gmtime_r(&env->started, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	evbuffer_add_printf(out, "ok\nversion: %s\npid: %ld\nstarted: %s\n"
	    "uptime_seconds: %lld\n", PACKAGE_VERSION, (long)getpid(), buf,
	    up);
	gmtime_r(&env->loaded, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	evbuffer_add_printf(out, "config: %s\nconfig_loaded: %s\n"
	    "database: %s\n", env->conf_path, buf, env->conf->database);
	/* SQLite's heap (page cache included): RSS less this should stay flat. */
	evbuffer_add_printf(out, "sqlite_memory_kib: %lld\n",
	    (long long)(sqlite3_memory_used() / 1024));
	evbuffer_add_printf(out, "workers: %d\nworkers_alive: %d\n"
	    "workers_busy: %d\nqueue: %d\njobs_done: %llu\n"
	    "workers_replaced: %llu\n", pool_size(), pool_alive(), pool_busy(),
	    pool_queued(), (unsigned long long)pool_jobs_done(),
	    (unsigned long long)pool_replaced());
	sched_status(out);
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
	if (strcmp(line, "status") == 0 && arg == NULL)
		control_status(out);
	else if (strcmp(line, "reload") == 0 && arg == NULL) {
		if (maildatd_reload(msg, sizeof(msg)) == 0)
			evbuffer_add_printf(out, "ok\n%s\n", msg);
		else
			evbuffer_add_printf(out, "error: configuration not "
			    "reloaded; the old one stays in force\n%s\n", msg);
	} else if (strcmp(line, "crawl") == 0) {
		if (env->stopping)
			evbuffer_add_printf(out, "error: maildatd is stopping\n");
		else if ((n = sched_crawl_now(arg)) == 0 && arg != NULL)
			evbuffer_add_printf(out, "error: no target named %s\n",
			    arg);
		else
			evbuffer_add_printf(out, "ok\n%d location%s due now\n",
			    n, n == 1 ? "" : "s");
	} else
		evbuffer_add_printf(out, "error: unknown command (status, "
		    "reload, crawl [TARGET])\n");
}

static void
control_written(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
control_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	char *line;
	size_t n;

	(void)arg;
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_MAX_LINE) {
			evbuffer_add_printf(out, "error: line too long\n");
			bufferevent_disable(bev, EV_READ);
			bufferevent_setcb(bev, NULL, control_written, NULL,
			    NULL);
		}
		return;
	}
	bufferevent_disable(bev, EV_READ);
	if (strlen(line) != n)
		evbuffer_add_printf(out, "error: NUL byte in the command\n");
	else
		control_command(line, out);
	free(line);
	bufferevent_setcb(bev, NULL, control_written, NULL, NULL);
}

static void
control_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void
control_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct bufferevent *bev;
	struct timeval tv = { 10, 0 };

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	if (!control_peer_ok(fd)) {
		close(fd);
		return;
	}
	bev = bufferevent_socket_new(env->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, control_read, NULL, control_event, NULL);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

/* Start accepting clients on base. */
void
control_start(struct event_base *base)
{
	if (control_fd == -1)
		return;
	control_listener = evconnlistener_new(base, control_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE, -1, control_fd);
	if (control_listener == NULL)
		fatalx("evconnlistener_new");
}

/* Stop accepting, close the socket and remove its file. */
void
control_close(void)
{
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
