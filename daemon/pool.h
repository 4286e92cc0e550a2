/*
 * pool: the crawl worker processes.  Each worker is this program re-run
 * with --worker and a socketpair on fd 3; it holds no database and no
 * configuration, receives one job at a time and sends back crawl results.
 * The parent puts a deadline on every job, kills and replaces a worker that
 * overruns or dies, and recycles workers after a number of jobs.
 */
#ifndef MAILDAT_POOL_H
#define MAILDAT_POOL_H

#include <stdint.h>
#include "compat/queue.h"

#include "crawl.h"
#include "ipc.h"

struct event_base;

/*
 * Called once per job when it ends.  fail is OUTCOME_OK when the worker
 * finished it; else OUTCOME_TIMEOUT or OUTCOME_ERROR with msg, and rs holds
 * what arrived before.  The callee may take the results out of rs.  rs is
 * NULL when the job was cancelled before it ran (the pool is stopping).
 * started_us is when a worker took the job (0 if none did).
 */
typedef void	pool_done_fn(void *arg, struct results *rs,
		    enum outcome fail, const char *msg,
		    int64_t started_us);

struct pool_job {
	TAILQ_ENTRY(pool_job)	 entry;
	struct ipc_job		 mj;		/* owned; freed by the pool */
	int64_t			 deadline_ms;	/* whole-job deadline */
	pool_done_fn		*done;
	void			*arg;
};

/*
 * Open the program workers run (before privileges are dropped); the pool
 * starts that very file, even if path is replaced later.
 */
void	pool_open_program(const char *path);

/*
 * Set up the pool: path is the program to run, argv the worker command
 * line, rundir the private directory under which each worker keeps its
 * libsmbclient state in "w<pid>" (removed when the worker is reaped).
 * rundir is a buffer that argv points into, holding a mkdtemp(3) name
 * ending in six characters after a '.': should the directory vanish, the
 * pool makes a new one and writes its name there.
 */
void	pool_init(struct event_base *base, const char *path, char **argv,
	    char *rundir);

/* Set the number of workers and the recycling threshold; spawns as needed. */
void	pool_configure(int nworkers, int jobs_per_worker);

/* Queue a job (the pool takes ownership) and dispatch what can run. */
void	pool_submit(struct pool_job *job);

/* Reap exited workers (call on SIGCHLD); replace them unless stopping. */
void	pool_reap(void);

/* Stop: no new jobs; idle workers are told to exit, busy ones finish. */
void	pool_shutdown(void);

/* Kill every worker now (final step of a stop). */
void	pool_kill_all(void);

/* Counters for status. */
int	pool_size(void);
int	pool_busy(void);
int	pool_queued(void);
int	pool_alive(void);
uint64_t pool_jobs_done(void);
uint64_t pool_replaced(void);

#endif
