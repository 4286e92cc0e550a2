/*
 * maildatd: watch MS Mail postoffices on SMB shares.
 *
 * The parent runs one libevent loop: it owns the configuration and the
 * database, schedules crawls, probes hosts, and hands jobs to crawl worker
 * processes (this program run again with --worker).  Signals only wake the
 * loop; their work is done in event callbacks.
 */
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "authfile.h"
#include "clock.h"
#include "conf.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "maildatd.h"
#include "pool.h"
#include "probe.h"
#include "rules.h"
#include "safefile.h"
#include "sched.h"
#include "sink.h"
#include "smbio.h"
#include "store.h"
#include "worker.h"
#include "xmalloc.h"

#define EXIT_CONFIG	2	/* bad configuration or startup failure */
#define MAILDATD_BUSY_MS 250	/* SQLite busy timeout in the event loop */

static struct maildatd	 maildatd_env = { .store_lock = -1 };
struct maildatd		*env = &maildatd_env;

static struct event	*ev_sigterm, *ev_sigint, *ev_sighup, *ev_sigchld;
static struct event	*ev_stopcheck;
static struct event	*ev_sinkflush;
static int		 pidfile_fd = -1;
static const char	*pidfile_path;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: maildatd [-dFnv] [-c file] [--once]\n"
	    "  -c file   configuration (default %s)\n"
	    "  -d        stay in the foreground, log to stderr\n"
	    "  -F        stay in the foreground, log to syslog\n"
	    "  -n        check the configuration and exit\n"
	    "  -v        more verbose logging (twice: libsmbclient's too)\n"
	    "  --once    crawl every location once, run the rules, exit\n"
	    "            (status 0 when every crawl was ok, 1 otherwise)\n",
	    conf_default_path());
	exit(EXIT_CONFIG);
}

/* Load path with conf flags; log every error, return NULL on failure. */
static struct conf *
maildatd_load(const char *path, int flags, char *msg, size_t msglen)
{
	struct conf *c;
	struct conf_errors errs = { NULL, 0 };
	size_t i, off = 0;

	if (msg != NULL && msglen > 0)
		msg[0] = '\0';
	if (conf_load_flags(path, flags, &c, &errs) == 0)
		return c;
	for (i = 0; i < errs.n; i++) {
		log_warnx("%s", errs.v[i]);
		if (msg != NULL && off < msglen)
			off += (size_t)snprintf(msg + off, msglen - off, "%s%s",
			    i ? "\n" : "", errs.v[i]);
	}
	conf_errors_free(&errs);
	return NULL;
}

/*
 * Read the auth files of c for a reload.  After privileges were dropped an
 * auth file readable only by root cannot be read again: when its section
 * and path are unchanged, the credentials read at start are kept.
 */
static int
maildatd_reload_secrets(struct conf *c, const struct conf *old, char *msg,
    size_t msglen)
{
	const struct conf_credentials *oc;
	struct conf_credentials *cr;
	struct authfile af;
	char err[512];
	size_t i;

	for (i = 0; i < c->ncreds; i++) {
		cr = &c->creds[i];
		oc = conf_find_credentials(old, cr->name);
		if (access(cr->auth_file, R_OK) == -1 && errno == EACCES &&
		    oc != NULL && oc->auth_file != NULL &&
		    strcmp(oc->auth_file, cr->auth_file) == 0) {
			log_warnx("credentials %s: %s is not readable by this "
			    "user; keeping the credentials read at start (make "
			    "it owned by the daemon's user to reload them)",
			    cr->name, cr->auth_file);
			cr->username = oc->username ? xstrdup(oc->username) :
			    NULL;
			cr->password = oc->password ? xstrdup(oc->password) :
			    NULL;
			cr->domain = oc->domain ? xstrdup(oc->domain) : NULL;
			continue;
		}
		if (authfile_read(cr->auth_file, &af, err, sizeof(err)) == -1) {
			log_warnx("%s:%d: credentials %s: %s", c->path,
			    cr->line, cr->name, err);
			snprintf(msg, msglen, "%s:%d: credentials %s: %s",
			    c->path, cr->line, cr->name, err);
			return -1;
		}
		cr->username = af.username;
		cr->password = af.password;
		cr->domain = af.domain;
	}
	return 0;
}

/*
 * Build the rules of c against db; log every problem (and put them in msg).
 * Returns a new rule set, or NULL.
 */
static struct rules *
maildatd_rules(const struct conf *c, sqlite3 *db, char *msg, size_t msglen)
{
	struct rules *rs = xcalloc(1, sizeof(*rs));
	struct conf_errors errs = { NULL, 0 };
	size_t i, off = 0;

	if (rules_build(c, db, rs, &errs) == 0)
		return rs;
	for (i = 0; i < errs.n; i++) {
		log_warnx("%s", errs.v[i]);
		if (msg != NULL && off < msglen)
			off += (size_t)snprintf(msg + off, msglen - off, "%s%s",
			    i ? "\n" : "", errs.v[i]);
	}
	conf_errors_free(&errs);
	free(rs);
	return NULL;
}

static void
maildatd_rules_free(struct rules *rs)
{
	if (rs != NULL) {
		rules_free(rs);
		free(rs);
	}
}

/* Open the alert destination of c; NULL with a logged error on failure. */
static struct sink *
maildatd_sink(const struct conf *c, char *msg, size_t msglen)
{
	struct sink *sk;
	char err[512];

	if (sink_open(c->syslog, c->syslog_facility, "maildatd", &sk, err,
	    sizeof(err)) == -1) {
		log_warnx("syslog = %s: %s", c->syslog, err);
		if (msg != NULL)
			snprintf(msg, msglen, "syslog = %s: %s", c->syslog, err);
		return NULL;
	}
	return sk;
}

/* A crawl round is over: run the rules and send the alerts. */
void
maildatd_round_end(void)
{
	struct rules_events ev = { NULL, 0 };
	char err[512], *text;
	size_t i;

	if (env->rules == NULL)
		return;
	if (sched_held() > 0) {
		/* The store refuses writes: the rules wait for it too. */
		log_info("rules deferred: %zu results are held until the "
		    "database accepts them", sched_held());
		return;
	}
	if (rules_eval(env->store, env->rules, clock_wall_us(), &ev, err,
	    sizeof(err)) == -1) {
		/* Locked or full: the next round tries again. */
		log_warnx("rules not evaluated: %s", err);
		return;
	}
	for (i = 0; i < ev.n; i++) {
		text = rules_event_text(&ev.v[i]);
		if (env->sink == NULL || sink_send(env->sink, ev.v[i].severity,
		    text, err, sizeof(err)) == -1)
			log_warnx("alert not sent (%s): %s", env->sink ? err :
			    "no syslog destination", text);
		else
			log_debug("sent: %s", text);
		free(text);
	}
	if (ev.n > 0)
		log_info("rules: %zu alert event%s", ev.n, ev.n == 1 ? "" : "s");
	rules_events_free(&ev);
}

/* Reload the configuration: parse, then swap. */
int
maildatd_reload(char *msg, size_t msglen)
{
	struct conf *c, *old;
	struct store *st = NULL;
	struct rules *rs = NULL;
	struct sink *sk = NULL;
	char err[512];
	int lockfd = -1;

	log_info("reloading %s", env->conf_path);
	if ((c = maildatd_load(env->conf_path, CONF_NO_SECRETS, msg,
	    msglen)) == NULL || maildatd_reload_secrets(c, env->conf, msg,
	    msglen) == -1) {
		log_warnx("configuration not reloaded; the old one stays in "
		    "force");
		conf_free(c);
		return -1;
	}
	if (strcmp(c->database, env->conf->database) != 0 &&
	    ((lockfd = store_lock(c->database, err, sizeof(err))) == -1 ||
	    store_open(c->database, STORE_RDWR | STORE_CREATE, &st, err,
	    sizeof(err)) == -1)) {
		log_warnx("%s", err);
		snprintf(msg, msglen, "%s", err);
		store_unlock(lockfd);
		conf_free(c);
		return -1;
	}
	if (st != NULL)
		store_set_busy_timeout(st, MAILDATD_BUSY_MS);
	if ((rs = maildatd_rules(c, store_db(st ? st : env->store), msg,
	    msglen)) == NULL || ((strcmp(c->syslog, env->conf->syslog) != 0 ||
	    c->syslog_facility != env->conf->syslog_facility) &&
	    (sk = maildatd_sink(c, msg, msglen)) == NULL)) {
		log_warnx("configuration not reloaded; the old one stays in "
		    "force");
		maildatd_rules_free(rs);
		store_close(st);
		store_unlock(lockfd);
		conf_free(c);
		return -1;
	}
	/* Everything checked: swap. */
	if (st != NULL) {
		sched_flush_pending();
		store_close(env->store);
		env->store = st;
		store_unlock(env->store_lock);
		env->store_lock = lockfd;
	}
	maildatd_rules_free(env->rules);
	env->rules = rs;
	if (sk != NULL) {
		sink_close(env->sink);
		env->sink = sk;
	}
	if (env->conf->control_socket != NULL && (c->control_socket == NULL ||
	    strcmp(c->control_socket, env->conf->control_socket) != 0))
		log_warnx("control_socket changes take effect at restart");
	old = env->conf;
	env->conf = c;
	env->loaded = time(NULL);
	sched_load(c);
	pool_configure(c->workers, c->jobs_per_worker);
	conf_free(old);
	snprintf(msg, msglen, "configuration reloaded: %zu targets",
	    c->ntargets);
	log_info("%s", msg);
	return 0;
}

static void
maildatd_stopcheck(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, 100 * 1000 };

	(void)fd;
	(void)what;
	(void)arg;
	if (pool_busy() == 0) {
		event_base_loopexit(env->base, NULL);
		return;
	}
	evtimer_add(ev_stopcheck, &tv);
}

/* Begin an orderly stop (as on SIGTERM). */
void
maildatd_stop(void)
{
	struct timeval tv = { 0, 0 };

	if (env->stopping)
		return;
	env->stopping = 1;
	sched_stop();
	probe_cancel_all();
	pool_shutdown();
	evtimer_add(ev_stopcheck, &tv);
}

static void
maildatd_signal(evutil_socket_t sig, short what, void *arg)
{
	char msg[4096];

	(void)what;
	(void)arg;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("%s: stopping; crawls under way finish or meet their "
		    "deadline", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		maildatd_stop();
		break;
	case SIGHUP:
		maildatd_reload(msg, sizeof(msg));
		break;
	case SIGCHLD:
		pool_reap();
		break;
	}
}

/* Push alerts queued for a TCP syslog destination, once a second. */
static void
maildatd_sinkflush(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 1, 0 };
	static int warned;
	const char *why;

	(void)fd;
	(void)what;
	(void)arg;
	if (env->sink != NULL && sink_flush(env->sink) > 0 &&
	    (why = sink_lasterror(env->sink)) != NULL) {
		if (!warned)
			log_warnx("alerts queued: %s", why);
		warned = 1;
	} else
		warned = 0;
	evtimer_add(ev_sinkflush, &tv);
}

/* Route libevent's own messages into our log. */
static void
maildatd_evlog(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

static void
maildatd_drop(const struct passwd *pw)
{
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot drop privileges to %s", pw->pw_name);
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0 ||
	    getegid() == 0)
		fatalx("still root after dropping privileges; refusing to go "
		    "on");
	log_debug("running as %s (uid %ld)", pw->pw_name, (long)pw->pw_uid);
}

/*
 * Open and lock the pid file; exits if another maildatd holds it.  Its
 * directory is usually the daemon user's (pw): root opens the file there
 * with that user's file-system ids and never through a link.
 */
static void
maildatd_pidfile_lock(const char *path, const struct passwd *pw)
{
	struct safefile_ids ids;
	char buf[32], err[512];
	ssize_t n;

	if (safefile_enter(path, pw ? pw->pw_uid : (uid_t)-1, pw ?
	    pw->pw_gid : (gid_t)-1, &ids, err, sizeof(err)) == -1)
		fatalx("pid file: %s", err);
	pidfile_fd = safefile_open(path, O_RDWR | O_CREAT, 0644, pw ?
	    pw->pw_uid : geteuid(), err, sizeof(err));
	safefile_leave(&ids);
	if (pidfile_fd == -1)
		fatalx("pid file: %s", err);
	if (flock(pidfile_fd, LOCK_EX | LOCK_NB) == -1) {
		n = read(pidfile_fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fatalx("already running (pid %s, %s)", buf[0] ? buf : "?",
		    path);
	}
	pidfile_path = path;
}

static void
maildatd_pidfile_write(void)
{
	char buf[32];
	int n;

	if (pidfile_fd == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(pidfile_fd, 0) == -1 ||
	    pwrite(pidfile_fd, buf, (size_t)n, 0) != n)
		log_warn("pid file %s", pidfile_path);
}

/*
 * No core files and no ptrace by the same user: the parent and every
 * worker hold passwords in memory.  (A worker is a fresh exec, which makes
 * a process dumpable again, so each process calls this itself.)
 */
static void
maildatd_nocore(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		log_warn("setrlimit(RLIMIT_CORE)");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		log_warn("prctl(PR_SET_DUMPABLE)");
}

/* Let the probe hold many sockets: raise the soft fd limit to the hard. */
static void
maildatd_rlimit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit(RLIMIT_NOFILE)");
	}
}

/*
 * The program workers run: this one, as /proc/self/exe names it.  (Under
 * valgrind that name is the client program's, as it should be; exec of
 * /proc/self/exe itself would start valgrind's tool.)
 */
static char *
maildatd_self(const char *argv0)
{
	char self[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return xstrdup(argv0);
	self[n] = '\0';
	return xstrdup(self);
}

enum { OPT_ONCE = 256, OPT_WORKER, OPT_STATEDIR };

static const struct option longopts[] = {
	{ "once",	no_argument,	NULL, OPT_ONCE },
	{ "worker",	no_argument,	NULL, OPT_WORKER },
	{ "statedir",	required_argument, NULL, OPT_STATEDIR },
	{ "help",	no_argument,	NULL, 'h' },
	{ "version",	no_argument,	NULL, 'V' },
	{ NULL,		0,		NULL, 0 }
};

/* Run the daemon, a crawl worker (--worker) or a configuration check (-n). */
int
main(int argc, char **argv)
{
	struct passwd *pw = NULL;
	struct store *st;
	char err[512], *wargv[10], *self, rundir[64];
	const char *conf_path = conf_default_path(), *statedir = NULL;
	int ch, debug = 0, fg_syslog = 0, check = 0, once = 0, worker = 0;
	int verbose = 0, wargc = 0, i;
	struct safefile_ids ids;

	maildatd_nocore();
	while ((ch = getopt_long(argc, argv, "c:dFnvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'F':
			fg_syslog = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		case OPT_ONCE:
			once = 1;
			break;
		case OPT_WORKER:
			worker = 1;
			break;
		case OPT_STATEDIR:
			statedir = optarg;
			break;
		case 'V':
			printf("maildatd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	if (worker) {
		/* A crawl worker: fd 3 is the parent's socketpair. */
		log_init("maildatd-worker", debug, LOG_DAEMON);
		log_setverbose(verbose);
		return worker_main(3, statedir);
	}

	log_init("maildatd", 1, LOG_DAEMON);
	log_setverbose(verbose);
	env->conf_path = conf_path;
	if ((env->conf = maildatd_load(conf_path, 0, NULL, 0)) == NULL) {
		fprintf(stderr, "maildatd: %s: configuration has errors\n",
		    conf_path);
		return EXIT_CONFIG;
	}
	/* Rule queries are checked against the schema, in memory. */
	if (store_open(":memory:", STORE_RDWR | STORE_CREATE, &st, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	env->rules = maildatd_rules(env->conf, store_db(st), NULL, 0);
	store_close(st);
	if (env->rules == NULL) {
		fprintf(stderr, "maildatd: %s: configuration has errors\n",
		    conf_path);
		conf_free(env->conf);
		return EXIT_CONFIG;
	}
	if (check) {
		printf("configuration OK\n");
		maildatd_rules_free(env->rules);
		conf_free(env->conf);
		return 0;
	}

	if (geteuid() == 0) {
		if (env->conf->user == NULL || env->conf->user[0] == '\0')
			fatalx("started as root: set user = in %s", conf_path);
		if ((pw = getpwnam(env->conf->user)) == NULL)
			fatalx("user %s does not exist", env->conf->user);
		if (pw->pw_uid == 0)
			fatalx("user %s is root; refusing to run as root",
			    env->conf->user);
		/* Root's other groups must not open doors below either. */
		if (setgroups(1, &pw->pw_gid) == -1)
			fatal("setgroups");
	}
	maildatd_rlimit();
	if (!debug && !fg_syslog && env->conf->pidfile != NULL)
		maildatd_pidfile_lock(env->conf->pidfile, pw);
	if (env->conf->control_socket != NULL &&
	    env->conf->control_socket[0] != '\0' &&
	    control_open(env->conf->control_socket, pw ? pw->pw_uid :
	    (uid_t)-1, pw ? pw->pw_gid : (gid_t)-1, err, sizeof(err)) == -1)
		fatalx("%s", err);
	/*
	 * Opened before the privilege drop: /dev/log may need it.  A unix:
	 * socket is reached with the daemon user's file-system ids where
	 * that user could move it.
	 */
	if (strncmp(env->conf->syslog, "unix:", 5) == 0 && safefile_enter(
	    env->conf->syslog + 5, pw ? pw->pw_uid : (uid_t)-1, pw ?
	    pw->pw_gid : (gid_t)-1, &ids, err, sizeof(err)) == -1)
		fatalx("syslog = %s: %s", env->conf->syslog, err);
	env->sink = maildatd_sink(env->conf, NULL, 0);
	if (strncmp(env->conf->syslog, "unix:", 5) == 0)
		safefile_leave(&ids);
	if (env->sink == NULL)
		fatalx("cannot open the syslog destination %s",
		    env->conf->syslog);
	self = maildatd_self(argv[0]);
	pool_open_program(self);
	/* Files we create (the database) are not for every user to read. */
	umask(027);
	if (pw != NULL)
		maildatd_drop(pw);
	/* Nothing we run may gain privileges (workers included). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		log_warn("prctl(PR_SET_NO_NEW_PRIVS)");

	/* One daemon per database: the lock is held until exit. */
	if ((env->store_lock = store_lock(env->conf->database, err,
	    sizeof(err))) == -1)
		fatalx("%s", err);
	/* Check the database now, while errors still reach the terminal. */
	if (store_open(env->conf->database, STORE_RDWR | STORE_CREATE, &st,
	    err, sizeof(err)) == -1)
		fatalx("%s", err);
	store_close(st);

	/* Every start-up error so far went to stderr; from here, syslog. */
	if (!debug)
		log_init("maildatd", 0, env->conf->syslog_facility);
	if (!debug && !fg_syslog) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		maildatd_pidfile_write();
		store_lock_setpid(env->store_lock);
	}
	if (store_open(env->conf->database, STORE_RDWR | STORE_CREATE,
	    &env->store, err, sizeof(err)) == -1)
		fatalx("%s", err);
	/*
	 * The daemon is the only writer and WAL readers never block it: a
	 * lock means an outside writer.  Wait briefly, then hold the results
	 * and retry from the loop, rather than stall the loop for seconds.
	 */
	store_set_busy_timeout(env->store, MAILDATD_BUSY_MS);
	/* Workers keep libsmbclient's state here; removed at exit. */
	snprintf(rundir, sizeof(rundir), "/tmp/maildatd.%ld.XXXXXX",
	    (long)getpid());
	if (mkdtemp(rundir) == NULL)
		fatal("mkdtemp %s", rundir);

	env->started = env->loaded = time(NULL);
	env->started_ms = clock_mono_ms();
	env->once = once;
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(maildatd_evlog);
	if ((env->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	env->dns = evdns_base_new(env->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (env->dns == NULL) {
		log_warnx("no DNS servers configured; host names resolve "
		    "from /etc/hosts only");
		env->dns = evdns_base_new(env->base, 0);
		if (env->dns != NULL)
			evdns_base_load_hosts(env->dns, NULL);
	}
	ev_sigterm = evsignal_new(env->base, SIGTERM, maildatd_signal, NULL);
	ev_sigint = evsignal_new(env->base, SIGINT, maildatd_signal, NULL);
	ev_sighup = evsignal_new(env->base, SIGHUP, maildatd_signal, NULL);
	ev_sigchld = evsignal_new(env->base, SIGCHLD, maildatd_signal, NULL);
	ev_stopcheck = evtimer_new(env->base, maildatd_stopcheck, NULL);
	ev_sinkflush = evtimer_new(env->base, maildatd_sinkflush, NULL);
	if (!ev_sigterm || !ev_sigint || !ev_sighup || !ev_sigchld ||
	    !ev_stopcheck || !ev_sinkflush)
		fatalx("evsignal_new");
	maildatd_sinkflush(-1, 0, NULL);
	evsignal_add(ev_sigterm, NULL);
	evsignal_add(ev_sigint, NULL);
	evsignal_add(ev_sighup, NULL);
	evsignal_add(ev_sigchld, NULL);

	wargv[wargc++] = (char *)"maildatd";
	wargv[wargc++] = (char *)"--worker";
	wargv[wargc++] = (char *)"--statedir";
	wargv[wargc++] = rundir;
	if (debug)
		wargv[wargc++] = (char *)"-d";
	for (i = 0; i < verbose && i < 2; i++)
		wargv[wargc++] = (char *)"-v";
	wargv[wargc] = NULL;
	pool_init(env->base, self, wargv, rundir);
	pool_configure(env->conf->workers, env->conf->jobs_per_worker);
	probe_init(env->base, env->dns);
	sched_load(env->conf);
	sched_start(once);
	control_start(env->base);
	log_info("started: %s, database %s, %d workers%s", conf_path,
	    env->conf->database, env->conf->workers, once ? ", one round" : "");

	event_base_dispatch(env->base);

	log_info("stopping");
	control_close();
	probe_cancel_all();
	pool_kill_all();
	smbio_rmtree(rundir);
	free(self);
	if (sched_flush_pending() == -1)
		log_warnx("database still failing at exit: held results lost");
	sched_free();
	store_close(env->store);
	store_unlock(env->store_lock);
	maildatd_rules_free(env->rules);
	sink_close(env->sink);
	event_free(ev_sigterm);
	event_free(ev_sigint);
	event_free(ev_sighup);
	event_free(ev_sigchld);
	event_free(ev_stopcheck);
	event_free(ev_sinkflush);
	if (env->dns != NULL)
		evdns_base_free(env->dns, 0);
	event_base_free(env->base);
	conf_free(env->conf);
	if (pidfile_fd != -1) {
		unlink(pidfile_path);
		close(pidfile_fd);
	}
	log_info("stopped");
	return env->exit_status;
}
