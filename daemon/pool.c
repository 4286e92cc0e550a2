/* pool: crawl worker processes, their jobs, deadlines and replacement. */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "compat/queue.h"
#include "log.h"
#include "ipc.h"
#include "pool.h"
#include "smbio.h"
#include "xmalloc.h"

#define POOL_WORKER_FD	3

extern char **environ;

enum worker_state {
	W_IDLE,
	W_BUSY,
	W_DEAD			/* fd closed or killed; waiting to be reaped */
};

struct worker {
	TAILQ_ENTRY(worker)	 entry;
	pid_t			 pid;
	struct bufferevent	*bev;
	enum worker_state	 state;
	struct pool_job		*job;
	struct results	 results;	/* of the current job */
	struct event		*deadline;
	int			 timed_out;
	unsigned		 jobs;
	int			 retiring;	/* told to exit */
	int64_t			 spawned_ms;	/* monotonic */
	int			 spoke;		/* sent a valid message */
	int64_t			 job_started_us;
};

static TAILQ_HEAD(, worker)	workers = TAILQ_HEAD_INITIALIZER(workers);
static TAILQ_HEAD(, pool_job)	queue = TAILQ_HEAD_INITIALIZER(queue);
static struct event_base	*pool_base;
static const char		*pool_path;
static int			 pool_exe_fd = -1;	/* the program */
static char			**pool_argv;
static char			*pool_rundir;	/* caller's buffer */
static struct event		*pool_refill_ev;
static int			 pool_quick_deaths;	/* in a row */
static int			 pool_want;
static int			 pool_recycle = 100;
static int			 pool_stopping;
static int			 pool_nqueued;
static uint64_t			 pool_ndone;
static uint64_t			 pool_nreplaced;

static void	pool_dispatch(void);
static void	pool_worker_close(struct worker *);
static void	pool_spawn(void);
static void	pool_fill(void);
static void	pool_refill(evutil_socket_t, short, void *);

/* Set up the pool; argv is the worker command line (argv[0] any name). */
void
pool_open_program(const char *path)
{
	/*
	 * Workers run the file opened now, even if an upgrade replaces the
	 * one at path later: parent and workers always speak alike.
	 */
	if ((pool_exe_fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		fatal("cannot open %s to start crawl workers", path);
	/*
	 * Keep it above POOL_WORKER_FD, which the child's dup2() overwrites
	 * before fexecve(): started with only 0, 1 and 2 open (as under
	 * systemd), open() returns just that descriptor.
	 */
	if (pool_exe_fd <= POOL_WORKER_FD) {
		int fd = fcntl(pool_exe_fd, F_DUPFD_CLOEXEC, POOL_WORKER_FD + 1);

		if (fd == -1)
			fatal("cannot open %s to start crawl workers", path);
		close(pool_exe_fd);
		pool_exe_fd = fd;
	}
	pool_path = path;
}

/*
 * Set up the pool: path is the program to run, argv the worker command
 * line, rundir the private directory for the workers' state.
 */
void
pool_init(struct event_base *base, const char *path, char **argv,
    char *rundir)
{
	pool_base = base;
	if (pool_exe_fd == -1)
		pool_open_program(path);
	pool_argv = argv;
	pool_rundir = rundir;
	pool_refill_ev = evtimer_new(base, pool_refill, NULL);
	if (pool_refill_ev == NULL)
		fatalx("evtimer_new");
}

/* Counters for status. */
int
pool_size(void)
{
	return pool_want;
}

/* Return the number of workers alive (not yet told to exit or dead). */
int
pool_alive(void)
{
	struct worker *w;
	int n = 0;

	TAILQ_FOREACH(w, &workers, entry)
		if (w->state != W_DEAD)
			n++;
	return n;
}

/* Return the number of workers running a job. */
int
pool_busy(void)
{
	struct worker *w;
	int n = 0;

	TAILQ_FOREACH(w, &workers, entry)
		if (w->job != NULL)
			n++;
	return n;
}

/* Return the number of jobs waiting for a worker. */
int
pool_queued(void)
{
	return pool_nqueued;
}

/* Return the number of jobs ended since start. */
uint64_t
pool_jobs_done(void)
{
	return pool_ndone;
}

/* Return the number of workers that died or were killed and replaced. */
uint64_t
pool_replaced(void)
{
	return pool_nreplaced;
}

static void
pool_job_free(struct pool_job *job)
{
	ipc_job_free(&job->mj);
	free(job);
}

/* w is idle: retire it if it is due, else give it the next job queued. */
static void
pool_worker_idle(struct worker *w)
{
	if (w->jobs >= (unsigned)pool_recycle || pool_stopping ||
	    pool_alive() > pool_want) {
		/* Closing the socket tells the worker to exit. */
		w->retiring = 1;
		pool_worker_close(w);
	}
	pool_dispatch();
}

/* End w's job: hand the results to its owner. */
static void
pool_job_end(struct worker *w, enum outcome fail, const char *msg)
{
	struct pool_job *job = w->job;
	struct results rs = w->results;
	int64_t started_us = w->job_started_us;

	if (job == NULL)
		return;
	w->job = NULL;
	w->results.v = NULL;
	w->results.n = 0;
	if (w->deadline != NULL)
		evtimer_del(w->deadline);
	pool_ndone++;
	pool_quick_deaths = 0;		/* a worker got as far as a job */
	/*
	 * A worker that finished gets its next job before the parent stores
	 * and reschedules this one: it crawls while the parent works, instead
	 * of waiting for the database.
	 */
	if (w->state == W_IDLE)
		pool_worker_idle(w);
	job->done(job->arg, &rs, fail, msg, started_us);
	results_free(&rs);
	pool_job_free(job);
}

/* Stop talking to w: close its socket; pool_reap() finishes it off. */
static void
pool_worker_close(struct worker *w)
{
	if (w->bev != NULL) {
		bufferevent_free(w->bev);
		w->bev = NULL;
	}
	w->state = W_DEAD;
}

static void
pool_worker_kill(struct worker *w, const char *why)
{
	log_debug("worker %ld: killing: %s", (long)w->pid, why);
	kill(w->pid, SIGKILL);
	pool_worker_close(w);
}

static void
pool_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	char *url;

	(void)fd;
	(void)what;
	if (w->job == NULL)
		return;
	w->timed_out = 1;
	url = location_config_url(&w->job->mj.loc);
	log_warnx("crawl of %s overran its deadline; killing worker %ld",
	    url, (long)w->pid);
	free(url);
	pool_worker_kill(w, "deadline");
}

/* Handle one frame from w; -1 if the worker spoke nonsense. */
static int
pool_frame(struct worker *w, uint32_t type, const uint8_t *p, uint32_t len)
{
	struct result r;
	uint64_t id;
	uint32_t n;
	char err[256];

	if (w->job == NULL) {
		log_warnx("worker %ld: message while idle", (long)w->pid);
		return -1;
	}
	w->spoke = 1;
	switch (type) {
	case IPC_RESULT:
		if (ipc_decode_result(p, len, &id, &r, err, sizeof(err)) == -1 ||
		    id != w->job->mj.id) {
			log_warnx("worker %ld: bad result: %s", (long)w->pid,
			    id != w->job->mj.id ? "wrong job id" : err);
			return -1;
		}
		w->results.v = xreallocarray(w->results.v, w->results.n + 1,
		    sizeof(*w->results.v));
		w->results.v[w->results.n++] = r;
		return 0;
	case IPC_DONE:
		if (ipc_decode_done(p, len, &id, &n, err, sizeof(err)) == -1 ||
		    id != w->job->mj.id || n != w->results.n) {
			log_warnx("worker %ld: bad end of job", (long)w->pid);
			return -1;
		}
		w->jobs++;
		w->state = W_IDLE;
		pool_job_end(w, OUTCOME_OK, NULL);
		return 0;
	default:
		log_warnx("worker %ld: unexpected message type %u",
		    (long)w->pid, type);
		return -1;
	}
}

static void
pool_read(struct bufferevent *bev, void *arg)
{
	struct worker *w = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const uint8_t *payload;
	uint8_t hdr[IPC_HDR_LEN], *buf;
	uint32_t type, plen;
	size_t framelen, avail;
	char err[256];
	int rc;

	while ((avail = evbuffer_get_length(in)) >= IPC_HDR_LEN) {
		evbuffer_copyout(in, hdr, sizeof(hdr));
		rc = ipc_frame_peek(hdr, sizeof(hdr), &type, &payload, &plen,
		    &framelen, err, sizeof(err));
		if (rc == -1) {
			log_warnx("worker %ld: %s", (long)w->pid, err);
			pool_worker_kill(w, "bad frame");
			return;
		}
		/* The header is sound: wait for the payload it announces. */
		plen = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 |
		    (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 24;
		if (avail < IPC_HDR_LEN + (size_t)plen)
			return;
		buf = evbuffer_pullup(in, (ssize_t)(IPC_HDR_LEN + plen));
		rc = ipc_frame_peek(buf, IPC_HDR_LEN + plen, &type, &payload,
		    &plen, &framelen, err, sizeof(err));
		if (rc != 1 || pool_frame(w, type, payload, plen) == -1) {
			pool_worker_kill(w, "bad message");
			return;
		}
		evbuffer_drain(in, framelen);
		if (w->bev == NULL)
			return;
	}
}

static void
pool_event(struct bufferevent *bev, short what, void *arg)
{
	struct worker *w = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_debug("worker %ld: connection closed", (long)w->pid);
		/* Make sure it is gone; pool_reap() reports the job. */
		kill(w->pid, SIGKILL);
		pool_worker_close(w);
	}
}

/*
 * Make sure the run directory is still there: something cleaning /tmp may
 * have removed it (an empty directory between two workers), and a worker
 * could not make its state directory in it.  A new one gets a name of the
 * same length, written into the buffer the workers' argv points to.
 */
static void
pool_check_rundir(void)
{
	struct stat sb;
	char old[6], *x;

	if (pool_rundir == NULL)
		return;
	if (lstat(pool_rundir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    sb.st_uid == geteuid())
		return;
	if ((x = strrchr(pool_rundir, '.')) == NULL || strlen(x + 1) != 6)
		fatalx("run directory %s: unexpected name", pool_rundir);
	memcpy(old, x + 1, 6);
	memcpy(x + 1, "XXXXXX", 6);
	if (mkdtemp(pool_rundir) == NULL) {
		memcpy(x + 1, old, 6);
		log_warn("run directory %s is gone and no new one can be made",
		    pool_rundir);
		return;
	}
	log_warnx("run directory is gone; the workers use %s from now on",
	    pool_rundir);
}

static void
pool_spawn(void)
{
	struct worker *w;
	int sv[2];
	pid_t pid, parent = getpid();

	pool_check_rundir();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		return;
	}
	switch ((pid = fork())) {
	case -1:
		log_warn("fork");
		close(sv[0]);
		close(sv[1]);
		return;
	case 0:
		/* Die with the parent; never outlive it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		if (sv[1] == POOL_WORKER_FD) {
			if (fcntl(sv[1], F_SETFD, 0) == -1)
				_exit(1);
		} else if (dup2(sv[1], POOL_WORKER_FD) == -1)
			_exit(1);
		fexecve(pool_exe_fd, pool_argv, environ);
		log_warn("cannot start a crawl worker: %s", pool_path);
		_exit(127);
	}
	close(sv[1]);
	w = xcalloc(1, sizeof(*w));
	w->pid = pid;
	w->state = W_IDLE;
	w->spawned_ms = clock_mono_ms();
	evutil_make_socket_nonblocking(sv[0]);
	w->bev = bufferevent_socket_new(pool_base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	if (w->bev == NULL)
		fatalx("bufferevent_socket_new");
	bufferevent_setcb(w->bev, pool_read, NULL, pool_event, w);
	bufferevent_enable(w->bev, EV_READ);
	w->deadline = evtimer_new(pool_base, pool_deadline, w);
	if (w->deadline == NULL)
		fatalx("evtimer_new");
	TAILQ_INSERT_TAIL(&workers, w, entry);
	log_debug("worker %ld started", (long)pid);
}

/* Start workers until there are as many alive as wanted. */
static void
pool_fill(void)
{
	int n;

	if (pool_stopping || evtimer_pending(pool_refill_ev, NULL))
		return;
	for (n = pool_alive(); n < pool_want; n++)
		pool_spawn();
}

static void
pool_refill(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	pool_fill();
	pool_dispatch();
}

/*
 * A worker died before it finished a single job: wait before starting
 * another, twice as long each time in a row (0.1 s up to 30 s), so a
 * worker that cannot start does not spin.
 */
static void
pool_backoff(const char *why)
{
	struct timeval tv;
	int64_t ms = 100;
	int i;

	for (i = 0; i < pool_quick_deaths && ms < 30000; i++)
		ms *= 2;
	if (ms > 30000)
		ms = 30000;
	pool_quick_deaths++;
	if (pool_quick_deaths == 3)
		log_warnx("crawl workers keep dying at start (%s); retrying "
		    "at most every 30 s", why);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(pool_refill_ev, &tv);
}

/* Remove the state directory of the worker with pid. */
static void
pool_rmstate(pid_t pid)
{
	char *dir;

	if (pool_rundir == NULL)
		return;
	dir = xasprintf("%s/w%ld", pool_rundir, (long)pid);
	smbio_rmtree(dir);
	free(dir);
}

static void
pool_dispatch(void)
{
	struct worker *w;
	struct pool_job *job;
	struct ipcbuf b;
	struct timeval tv;
	int64_t ms;

	TAILQ_FOREACH(w, &workers, entry) {
		if (w->state != W_IDLE || w->job != NULL)
			continue;
		if ((job = TAILQ_FIRST(&queue)) == NULL)
			return;
		TAILQ_REMOVE(&queue, job, entry);
		pool_nqueued--;
		w->job = job;
		w->state = W_BUSY;
		w->timed_out = 0;
		w->job_started_us = clock_wall_us();
		ipcbuf_init(&b);
		ipc_frame_job(&b, &job->mj);
		bufferevent_write(w->bev, b.data, b.len);
		ipcbuf_free(&b);
		ms = job->deadline_ms > 0 ? job->deadline_ms : 30000;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(w->deadline, &tv);
	}
}

/* Set the number of workers and the recycling threshold; spawns as needed. */
void
pool_configure(int nworkers, int jobs_per_worker)
{
	struct worker *w;
	int alive;

	pool_want = nworkers;
	pool_recycle = jobs_per_worker > 0 ? jobs_per_worker : 100;
	/* Retire idle workers beyond the new count. */
	alive = pool_alive();
	TAILQ_FOREACH(w, &workers, entry) {
		if (alive <= pool_want)
			break;
		if (w->state == W_IDLE && w->job == NULL) {
			w->retiring = 1;
			pool_worker_close(w);
			alive--;
		}
	}
	pool_fill();
	pool_dispatch();
}

/* Queue a job (the pool takes ownership) and dispatch what can run. */
void
pool_submit(struct pool_job *job)
{
	if (pool_stopping) {
		job->done(job->arg, NULL, OUTCOME_ERROR, "maildatd is stopping",
		    0);
		pool_job_free(job);
		return;
	}
	TAILQ_INSERT_TAIL(&queue, job, entry);
	pool_nqueued++;
	pool_dispatch();
}

/* Reap exited workers (call on SIGCHLD); replace them unless stopping. */
void
pool_reap(void)
{
	struct worker *w, *tmp;
	pid_t pid;
	int status;
	char why[128];

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		TAILQ_FOREACH_SAFE(w, &workers, entry, tmp) {
			if (w->pid != pid)
				continue;
			if (WIFSIGNALED(status))
				snprintf(why, sizeof(why), "killed by signal %d",
				    WTERMSIG(status));
			else
				snprintf(why, sizeof(why), "exited with status "
				    "%d", WEXITSTATUS(status));
			if (w->job != NULL) {
				char msg[256];

				if (w->timed_out) {
					snprintf(msg, sizeof(msg), "crawl did "
					    "not finish within %lld s; worker "
					    "killed", (long long)
					    ((w->job->deadline_ms + 999) / 1000));
					pool_job_end(w, OUTCOME_TIMEOUT, msg);
				} else {
					char *url = location_config_url(
					    &w->job->mj.loc);

					snprintf(msg, sizeof(msg), "crawl worker "
					    "died (%s)", why);
					log_warnx("worker %ld %s during %s",
					    (long)pid, why, url);
					free(url);
					pool_job_end(w, OUTCOME_ERROR, msg);
				}
			} else if (!w->retiring && !pool_stopping &&
			    pool_quick_deaths < 3)
				log_warnx("worker %ld %s", (long)pid, why);
			if (!w->retiring) {
				pool_nreplaced++;
				/*
				 * Died at start: within a second, before it
				 * said anything, and by itself (a failed exec
				 * exits 127; a crash is a signal), not killed
				 * from outside.
				 */
				if (!w->spoke && clock_mono_ms() -
				    w->spawned_ms < 1000 && !pool_stopping &&
				    (WIFEXITED(status) ? WEXITSTATUS(status) !=
				    0 : WTERMSIG(status) != SIGKILL &&
				    WTERMSIG(status) != SIGTERM))
					pool_backoff(why);
			}
			pool_rmstate(pid);
			pool_worker_close(w);
			event_free(w->deadline);
			results_free(&w->results);
			TAILQ_REMOVE(&workers, w, entry);
			free(w);
			break;
		}
	}
	pool_fill();
	pool_dispatch();
}

/* Stop: no new jobs; idle workers are told to exit, busy ones finish. */
void
pool_shutdown(void)
{
	struct worker *w;
	struct pool_job *job;

	pool_stopping = 1;
	while ((job = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, job, entry);
		pool_nqueued--;
		job->done(job->arg, NULL, OUTCOME_ERROR, "maildatd is stopping",
		    0);
		pool_job_free(job);
	}
	TAILQ_FOREACH(w, &workers, entry)
		if (w->state == W_IDLE && w->job == NULL) {
			w->retiring = 1;
			pool_worker_close(w);
		}
}

/* Kill every worker now (final step of a stop). */
void
pool_kill_all(void)
{
	struct worker *w, *tmp;
	int status, i, left;

	/* Idle workers exit on end of file: give them a moment to tidy up. */
	TAILQ_FOREACH(w, &workers, entry)
		if (w->job == NULL)
			pool_worker_close(w);
	for (i = 0; i < 100; i++) {
		left = 0;
		TAILQ_FOREACH(w, &workers, entry)
			if (w->pid != 0 && waitpid(w->pid, &status, WNOHANG) ==
			    0)
				left++;
			else
				w->pid = 0;
		if (left == 0)
			break;
		usleep(20 * 1000);
	}
	TAILQ_FOREACH_SAFE(w, &workers, entry, tmp) {
		if (w->pid != 0) {
			kill(w->pid, SIGKILL);
			waitpid(w->pid, &status, 0);
			pool_rmstate(w->pid);
		}
		if (w->job != NULL)
			pool_job_end(w, OUTCOME_ERROR, "maildatd stopped");
		pool_worker_close(w);
		event_free(w->deadline);
		results_free(&w->results);
		TAILQ_REMOVE(&workers, w, entry);
		free(w);
	}
	if (pool_refill_ev != NULL) {
		event_free(pool_refill_ev);
		pool_refill_ev = NULL;
	}
	if (pool_exe_fd != -1) {
		close(pool_exe_fd);
		pool_exe_fd = -1;
	}
}
