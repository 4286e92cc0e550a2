/*
 * maildatd: watch MS Mail postoffices on SMB shares.
 *
 * The parent runs one libevent loop: it schedules crawls, probes hosts and
 * hands jobs to crawl worker processes (this program run again with
 * --worker); the recorder's thread writes the results and runs the rules;
 * alert sends what the rules find.  Signals only wake the loop; their work
 * is done in event callbacks.  This file starts it all: options, the
 * configuration, privileges, the modules, and the orderly stop.
 */
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "clock.h"
#include "conf.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "pool.h"
#include "probe.h"
#include "recorder.h"
#include "reload.h"
#include "rules.h"
#include "safefile.h"
#include "sched.h"
#include "tickets.h"
#include "sink.h"
#include "smbio.h"
#include "store.h"
#include "worker.h"
#include "xmalloc.h"

#define EXIT_CONFIG	2	/* bad configuration or startup failure */
#define MAILDATD_REOPEN_MS 10000	/* between tries to reopen the database */

/* The state of the daemon as a whole; its parts keep their own. */
static struct {
	struct event_base	*base;
	int			 once;		/* --once: one round, then exit */
	int			 stopping;	/* SIGTERM/SIGINT seen */
	int			 exit_status;
	uint64_t		 once_rules;	/* --once: the last rule run */
	time_t			 started;	/* wall clock */
	int64_t			 started_ms;	/* monotonic, for the uptime */
	int64_t			 rules_ms;	/* monotonic: last rule run asked */
} md;

static struct event	*ev_sigterm, *ev_sigint, *ev_sighup, *ev_sigchld;
static struct event	*ev_stopcheck, *ev_rules, *ev_reopen;
static int		 pidfile_fd = -1;
static const char	*pidfile_path;

static void __attribute__((noreturn))
usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fprintf(f, "usage: maildatd [-dFnvV] [-c file] [--once]\n"
	    "  -c file   configuration (default %s)\n"
	    "  -d        stay in the foreground, log to stderr\n"
	    "  -F        stay in the foreground, log to syslog\n"
	    "  -n        check the configuration and exit\n"
	    "  -v        more verbose logging (twice: libsmbclient's too)\n"
	    "  -V        print the version and exit\n"
	    "  --once    crawl every location once, run the rules, exit\n"
	    "            (status 0 when every crawl was ok, 1 otherwise)\n",
	    conf_default_path());
	exit(status);
}

static void
maildatd_stopcheck(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, 100 * 1000 };

	(void)fd;
	(void)what;
	(void)arg;
	if (pool_busy() == 0) {
		event_base_loopexit(md.base, NULL);
		return;
	}
	evtimer_add(ev_stopcheck, &tv);
}

/* Begin an orderly stop: no new crawls; those under way finish. */
static void
maildatd_stop(void)
{
	struct timeval tv = { 0, 0 };

	if (md.stopping)
		return;
	md.stopping = 1;
	sched_stop();
	probe_cancel_all();
	pool_shutdown();
	evtimer_add(ev_stopcheck, &tv);
}

/*
 * Ask for a rule run (force: even if nothing was written since the last)
 * and arm the timer for the next: the rules run at most once per
 * rules_interval, after a round if one is due then, else when the timer
 * fires; the recorder skips a run that has nothing new to see.
 */
static uint64_t
maildatd_rules_run(int force)
{
	int64_t ms = reload_conf()->rules_interval_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	md.rules_ms = clock_mono_ms();
	evtimer_add(ev_rules, &tv);
	return recorder_run_rules(clock_wall_us(), force);
}

/* The rules timer: rules_interval has passed since the last run. */
static void
maildatd_rules_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!md.stopping)
		maildatd_rules_run(0);
}

/* sched: a round is over; the rules run over what it found. */
static void
maildatd_round_done(const struct sched_round *r, void *arg)
{
	uint64_t seq;

	(void)arg;
	if (md.once) {
		seq = maildatd_rules_run(1);
		if (r->all_crawled && md.once_rules == 0) {
			md.exit_status = r->failed > 0 ? 1 : 0;
			md.once_rules = seq;
		}
	} else if (md.rules_ms == 0 || clock_mono_ms() - md.rules_ms >=
	    reload_conf()->rules_interval_ms)
		maildatd_rules_run(0);
}

/* Try to open the database anew; again later if that fails. */
static void
maildatd_reopen(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { MAILDATD_REOPEN_MS / 1000, 0 };
	char err[512];

	(void)fd;
	(void)what;
	(void)arg;
	if (reload_reopen(err, sizeof(err)) == -1) {
		log_warnx("database cannot be opened anew (trying again in "
		    "%ds): %s", MAILDATD_REOPEN_MS / 1000, err);
		evtimer_add(ev_reopen, &tv);
	}
}

/* recorder: the database file was deleted or replaced under the store. */
static void
maildatd_db_replaced(void *arg)
{
	(void)arg;
	if (!evtimer_pending(ev_reopen, NULL))
		maildatd_reopen(-1, 0, NULL);
}

/* recorder: a rule run is done; send its alerts. */
static void
maildatd_rules_done(const struct rules_events *ev, int ok, uint64_t seq,
    void *arg)
{
	(void)ok;
	(void)arg;
	alert_send(ev);
	if (md.once_rules != 0 && seq >= md.once_rules)
		maildatd_stop();
}

/* control: the daemon's own status lines. */
static void
maildatd_status(struct evbuffer *out, void *arg)
{
	struct recorder_stats rs;
	char buf[32];
	struct tm tm;
	time_t loaded = reload_loaded();
	/* Monotonic: a step of the wall clock does not change it. */
	long long up = (clock_mono_ms() - md.started_ms) / 1000;

	(void)arg;
	gmtime_r(&md.started, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	evbuffer_add_printf(out, "version: %s\npid: %ld\nstarted: %s\n"
	    "uptime_seconds: %lld\n", PACKAGE_VERSION, (long)getpid(), buf,
	    up);
	gmtime_r(&loaded, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	evbuffer_add_printf(out, "config: %s\nconfig_loaded: %s\n"
	    "database: %s\n", reload_path(), buf, reload_conf()->database);
	/* SQLite's heap (page cache included): RSS less this should stay flat. */
	evbuffer_add_printf(out, "sqlite_memory_kib: %lld\n",
	    (long long)(sqlite3_memory_used() / 1024));
	evbuffer_add_printf(out, "workers: %d\nworkers_alive: %d\n"
	    "workers_busy: %d\nqueue: %d\njobs_done: %llu\n"
	    "workers_replaced: %llu\n", pool_size(), pool_alive(), pool_busy(),
	    pool_queued(), (unsigned long long)pool_jobs_done(),
	    (unsigned long long)pool_replaced());
	recorder_stats(&rs);
	evbuffer_add_printf(out, "results_queued: %zu\nresults_held: %zu\n"
	    "results_written: %llu\nresults_summarised: %llu\n"
	    "rule_runs: %llu\nrule_runs_skipped: %llu\n"
	    "last_rules_ms: %lld\nrows_pruned: %llu\nprune_passes: %llu\n"
	    "locations_retired: %llu\ndatabase_replaced: %llu\n"
	    "control_clients: %d\n", rs.queued, rs.held,
	    (unsigned long long)rs.written, (unsigned long long)rs.summarised,
	    (unsigned long long)rs.rule_runs,
	    (unsigned long long)rs.rule_runs_skipped,
	    (long long)rs.last_rules_ms, (unsigned long long)rs.pruned,
	    (unsigned long long)rs.prune_passes,
	    (unsigned long long)rs.retired, (unsigned long long)rs.replaced,
	    control_clients());
	sched_status(out);
}

/* control: reload. */
static int
maildatd_reload(char *msg, size_t msglen, void *arg)
{
	(void)arg;
	return reload_config(msg, msglen);
}

/* control: whether the daemon is stopping. */
static int
maildatd_stopping(void *arg)
{
	(void)arg;
	return md.stopping;
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
		reload_config(msg, sizeof(msg));
		break;
	case SIGCHLD:
		pool_reap();
		break;
	}
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

/* Become pw for good: its group alone, no capabilities. */
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

/* Write our pid into the pid file (after daemon()). */
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

/*
 * Load and check the configuration at path: every problem to stderr, and
 * the notes (warnings) too.  Returns the configuration and its rules, or
 * exits with EXIT_CONFIG.
 */
static struct conf *
maildatd_configure(const char *path, struct rules **rs)
{
	struct conf_errors errs = { NULL, 0 }, notes = { NULL, 0 };
	struct conf *c;
	size_t i;

	if (reload_check(path, NULL, &c, rs, &errs, &notes) == -1) {
		conf_errors_log(&errs, NULL, 0);
		conf_errors_free(&errs);
		fprintf(stderr, "maildatd: %s: configuration has errors\n",
		    path);
		exit(EXIT_CONFIG);
	}
	for (i = 0; i < notes.n; i++)
		log_warnx("warning: %s", notes.v[i]);
	conf_errors_free(&notes);
	return c;
}

static void
maildatd_rules_free(struct rules *rs)
{
	if (rs != NULL) {
		rules_free(rs);
		free(rs);
	}
}

static void
maildatd_suspension(void *arg, const struct store_suspension *sp)
{
	(void)arg;
	sched_restore_suspension(sp);
}

/*
 * Before the recorder takes the database: make it give freed pages back
 * (a file from before that needs one VACUUM), and bring back the lockout
 * guard's suspensions.
 */
static void
maildatd_db_prepare(struct store *st)
{
	char err[512];
	int converted;
	int64_t t0 = clock_mono_ms();

	if (store_incremental_vacuum(st, &converted, err, sizeof(err)) == -1)
		log_warnx("database: cannot turn on incremental vacuum (the "
		    "file will not shrink after pruning): %s", err);
	else if (converted)
		log_info("database: converted to incremental vacuum in %lld ms",
		    (long long)(clock_mono_ms() - t0));
	if (store_suspensions(st, maildatd_suspension, NULL, err,
	    sizeof(err)) == -1)
		log_warnx("database: cannot read the lockout suspensions: %s",
		    err);
}

/* Run the daemon, a crawl worker (--worker) or a configuration check (-n). */
int
main(int argc, char **argv)
{
	struct control_hooks ch = { maildatd_status, maildatd_reload,
	    maildatd_stopping, NULL };
	struct sched_hooks sh = { maildatd_round_done, NULL };
	struct recorder_hooks rh = { maildatd_rules_done, maildatd_db_replaced,
	    NULL };
	struct recorder_policy pol;
	struct safefile_ids ids;
	struct passwd *pw = NULL;
	struct conf *c;
	struct rules *rs;
	struct store *st;
	struct sink *sk;
	char err[512], *wargv[10], *self, rundir[64];
	const char *conf_path = conf_default_path(), *statedir = NULL;
	int ch_, debug = 0, fg_syslog = 0, check = 0, worker = 0;
	int verbose = 0, wargc = 0, i, lockfd, unix_sink;
	size_t lost;

	maildatd_nocore();
	while ((ch_ = getopt_long(argc, argv, "c:dFnvhV", longopts, NULL)) !=
	    -1) {
		switch (ch_) {
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
			md.once = 1;
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
		case 'h':
			usage(0);
		default:
			usage(EXIT_CONFIG);
		}
	}
	if (optind != argc)
		usage(EXIT_CONFIG);

	if (worker) {
		/* A crawl worker: fd 3 is the parent's socketpair. */
		log_init("maildatd-worker", debug, LOG_DAEMON);
		log_setverbose(verbose);
		return worker_main(3, statedir);
	}

	log_init("maildatd", 1, LOG_DAEMON);
	log_setverbose(verbose);
	c = maildatd_configure(conf_path, &rs);
	if (check) {
		printf("configuration OK\n");
		maildatd_rules_free(rs);
		conf_free(c);
		return 0;
	}

	if (geteuid() == 0) {
		if (c->user == NULL || c->user[0] == '\0')
			fatalx("started as root: set user = in %s", conf_path);
		if ((pw = getpwnam(c->user)) == NULL)
			fatalx("user %s does not exist", c->user);
		if (pw->pw_uid == 0)
			fatalx("user %s is root; refusing to run as root",
			    c->user);
		/* Root's other groups must not open doors below either. */
		if (setgroups(1, &pw->pw_gid) == -1)
			fatal("setgroups");
	}
	maildatd_rlimit();
	if (!debug && !fg_syslog && !md.once && c->pidfile != NULL)
		maildatd_pidfile_lock(c->pidfile, pw);
	if (!md.once && c->control_socket != NULL &&
	    c->control_socket[0] != '\0' && control_open(c->control_socket,
	    pw ? pw->pw_uid : (uid_t)-1, pw ? pw->pw_gid : (gid_t)-1, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	/*
	 * Opened before the privilege drop: /dev/log may need it.  A unix:
	 * socket is reached with the daemon user's file-system ids where
	 * that user could move it.
	 */
	unix_sink = strncmp(c->syslog, "unix:", 5) == 0;
	if (unix_sink && safefile_enter(c->syslog + 5, pw ? pw->pw_uid :
	    (uid_t)-1, pw ? pw->pw_gid : (gid_t)-1, &ids, err,
	    sizeof(err)) == -1)
		fatalx("syslog = %s: %s", c->syslog, err);
	i = sink_open(c->syslog, c->syslog_facility, "maildatd", &sk, err,
	    sizeof(err));
	if (unix_sink)
		safefile_leave(&ids);
	if (i == -1)
		fatalx("cannot open the syslog destination %s: %s", c->syslog,
		    err);
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
	if ((lockfd = store_lock(c->database, err, sizeof(err))) == -1)
		fatalx("%s", err);
	/* Open the database now, while errors still reach the terminal. */
	if (store_open(c->database, STORE_RDWR | STORE_CREATE, &st, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);

	/* Every start-up error so far went to stderr; from here, syslog. */
	if (!debug)
		log_init("maildatd", 0, c->syslog_facility);
	if (!debug && !fg_syslog && !md.once) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		maildatd_pidfile_write();
		store_lock_setpid(lockfd);
	}
	/* Workers keep libsmbclient's state here; removed at exit. */
	snprintf(rundir, sizeof(rundir), "/tmp/maildatd.%ld.XXXXXX",
	    (long)getpid());
	if (mkdtemp(rundir) == NULL)
		fatal("mkdtemp %s", rundir);

	md.started = time(NULL);
	md.started_ms = clock_mono_ms();
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(maildatd_evlog);
	if ((md.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	ev_sigterm = evsignal_new(md.base, SIGTERM, maildatd_signal, NULL);
	ev_sigint = evsignal_new(md.base, SIGINT, maildatd_signal, NULL);
	ev_sighup = evsignal_new(md.base, SIGHUP, maildatd_signal, NULL);
	ev_sigchld = evsignal_new(md.base, SIGCHLD, maildatd_signal, NULL);
	ev_stopcheck = evtimer_new(md.base, maildatd_stopcheck, NULL);
	ev_rules = evtimer_new(md.base, maildatd_rules_timer, NULL);
	ev_reopen = evtimer_new(md.base, maildatd_reopen, NULL);
	if (!ev_sigterm || !ev_sigint || !ev_sighup || !ev_sigchld ||
	    !ev_stopcheck || !ev_rules || !ev_reopen)
		fatalx("evsignal_new");
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

	maildatd_db_prepare(st);
	reload_init(conf_path, c, lockfd);
	alert_init(md.base, sk);
	reload_recorder_policy(&pol);
	recorder_start(md.base, st, rs, &pol, &rh);
	pool_init(md.base, self, wargv, rundir);
	pool_configure(c->workers, c->jobs_per_worker);
	probe_init(md.base);
	tickets_init(md.base, rundir);
	tickets_load(c);
	sched_init(md.base, &sh);
	sched_load(c);
	sched_start();
	control_start(md.base, &ch);
	log_info("started: %s, database %s, %d workers%s", conf_path,
	    c->database, c->workers, md.once ? ", one round" : "");

	event_base_dispatch(md.base);

	log_info("stopping");
	control_close();
	probe_cancel_all();
	probe_close();
	pool_kill_all();
	tickets_free();
	smbio_rmtree(rundir);
	free(self);
	sched_free();
	if ((lost = recorder_stop()) > 0)
		log_warnx("database still failing at exit: %zu held results "
		    "lost", lost);
	alert_close();
	event_free(ev_sigterm);
	event_free(ev_sigint);
	event_free(ev_sighup);
	event_free(ev_sigchld);
	event_free(ev_stopcheck);
	event_free(ev_rules);
	event_free(ev_reopen);
	event_base_free(md.base);
	reload_free();
	if (pidfile_fd != -1) {
		unlink(pidfile_path);
		close(pidfile_fd);
	}
	log_info("stopped");
	return md.exit_status;
}
