/*
 * store_bench: how fast the store saves crawl results, in batches
 * (store_save_batch) and one transaction per result (store_save), side by
 * side, each into a fresh database in a temporary directory.
 *
 *	store_bench [-n RESULTS] [-l LOCATIONS] [-b BATCH] [-d DIR] [-k]
 *
 * The results are made up, as maildatd would get them from its workers:
 * LOCATIONS locations crawled round after round (result i is location
 * i % LOCATIONS), every one ok with an identity and 3 routes; every 10th
 * result carries a changed serial, so postoffice_history rows are written.
 * Each mode runs in its own child process so that its peak RSS is its own.
 * Results are built a batch at a time, so the RSS is the store's, not the
 * input's.  -k keeps the databases.  Prints results/s, the ratio, the file
 * size after a checkpoint (database plus -wal), bytes per crawl and peak
 * RSS, and checks the row counts.
 *
 * Build and run it with bench/run-store-bench.sh.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "crawl.h"
#include "log.h"
#include "po.h"
#include "store.h"

#define T0	(INT64_C(1795487967) * 1000000)	/* 2026-11-24T02:39:27Z */
#define NROUTES	3

/* One result with its own storage. */
struct bres {
	struct result r;
	char		 location[64];
	char		 host[32];
	char		 share[16];
	char		 path[4];
	struct result_route routes[NROUTES];
};

/* What one child measured, sent to the parent through a pipe. */
struct report {
	int		 ok;
	char		 err[256];
	double		 seconds;
	long long	 db_bytes;
	long long	 wal_bytes;
	long		 maxrss_kb;
	long long	 crawls, locations, routes, changes;
};

static long	 nresults = 100000;
static long	 nlocations = 10000;
static long	 batch = 100;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The serial of location loc in round round.  Its version goes up by one
 * when (round + loc) % 10 == 0, i.e. for one result in ten, spread over the
 * locations; round 0 is the first sighting.
 */
static void
bench_serial(long loc, long round, char *out, size_t outlen)
{
	long version = (round + loc % 10) / 10;

	snprintf(out, outlen, "%02ld-%05ld", 10 + loc % 90,
	    (loc * 10 + version) % 100000);
}

/* Fill x with result i. */
static void
bench_result(struct bres *x, long i)
{
	struct result *r = &x->r;
	struct po_master *m = &r->master;
	long loc = i % nlocations, round = i / nlocations;
	char serial[16];

	memset(x, 0, sizeof(*x));
	snprintf(x->host, sizeof(x->host), "10.%ld.%ld.%ld", loc / 65536 % 256,
	    loc / 256 % 256, loc % 256);
	snprintf(x->share, sizeof(x->share), "MAILDAT$");
	snprintf(x->location, sizeof(x->location), "\\\\%s\\%s", x->host,
	    x->share);
	r->unc = x->location;
	r->loc.host = x->host;
	r->loc.share = x->share;
	r->loc.path = x->path;
	r->outcome = OUTCOME_OK;
	r->has_master = 1;
	r->checksum_ok = 1;
	r->finished_us = T0 + (int64_t)i * 1000;
	r->started_us = r->finished_us - 500;
	snprintf(m->network, sizeof(m->network), "NET%04ld", loc % 10000);
	snprintf(m->postoffice, sizeof(m->postoffice), "PO%05ld", loc);
	bench_serial(loc, round, serial, sizeof(serial));
	if (po_serial_encode(serial, m->serial_raw) == -1) {
		fprintf(stderr, "store_bench: cannot encode serial %s\n",
		    serial);
		exit(1);
	}
	po_serial_display(m->serial_raw, m->serial, sizeof(m->serial));
	m->checksum_stored = m->checksum_computed =
	    po_serial_checksum(m->serial_raw);
	m->product_version = 2;
	m->kind = PO_KIND_MSMAIL;
	snprintf(x->routes[0].network, PO_NAME_MAX, "%s", m->network);
	snprintf(x->routes[0].postoffice, PO_NAME_MAX, "HUB");
	x->routes[0].type = 0;
	snprintf(x->routes[1].network, PO_NAME_MAX, "SMTP");
	snprintf(x->routes[1].postoffice, PO_NAME_MAX, "GW");
	x->routes[1].type = 12;
	snprintf(x->routes[2].network, PO_NAME_MAX, "FAX");
	x->routes[2].type = 120;
	r->routes = x->routes;
	r->nroutes = NROUTES;
}

static long long
file_size(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		return 0;
	return (long long)sb.st_size;
}

static long long
count(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	long long n = -1;

	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* Save every result into path, n per call (n == 0: store_save). */
static void
bench_run(const char *path, long n, struct report *rep)
{
	struct store *st;
	struct bres *v;
	struct result *rv;
	struct rusage ru;
	char wal[4096];
	long i, j, k;
	double t;

	memset(rep, 0, sizeof(*rep));
	if (store_open(path, STORE_RDWR | STORE_CREATE, &st, rep->err,
	    sizeof(rep->err)) == -1)
		return;
	k = n > 0 ? n : 1;
	v = calloc((size_t)k, sizeof(*v));
	rv = calloc((size_t)k, sizeof(*rv));
	if (v == NULL || rv == NULL) {
		snprintf(rep->err, sizeof(rep->err), "out of memory");
		return;
	}
	t = now();
	for (i = 0; i < nresults; i += k) {
		long m = nresults - i < k ? nresults - i : k;

		for (j = 0; j < m; j++) {
			bench_result(&v[j], i + j);
			rv[j] = v[j].r;
		}
		if ((n > 0 ? store_save_batch(st, rv, (size_t)m, rep->err,
		    sizeof(rep->err)) : store_save(st, rv, rep->err,
		    sizeof(rep->err))) == -1)
			return;
	}
	rep->seconds = now() - t;
	free(v);
	free(rv);

	rep->crawls = count(st, "SELECT count(*) FROM crawl");
	rep->locations = count(st, "SELECT count(*) FROM location");
	rep->routes = count(st, "SELECT count(*) FROM route");
	rep->changes = count(st, "SELECT count(*) FROM identity_change");
	if (sqlite3_exec(store_db(st), "PRAGMA wal_checkpoint(TRUNCATE)",
	    NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(rep->err, sizeof(rep->err), "checkpoint: %s",
		    sqlite3_errmsg(store_db(st)));
		return;
	}
	snprintf(wal, sizeof(wal), "%s-wal", path);
	rep->db_bytes = file_size(path);
	rep->wal_bytes = file_size(wal);
	store_close(st);
	getrusage(RUSAGE_SELF, &ru);
	rep->maxrss_kb = ru.ru_maxrss;
	rep->ok = 1;
}

/* Run bench_run in a child and collect its report. */
static int
bench_child(const char *path, long n, struct report *rep)
{
	int fd[2], status;
	pid_t pid;
	ssize_t got;

	if (pipe(fd) == -1 || (pid = fork()) == -1) {
		perror("store_bench: pipe/fork");
		return -1;
	}
	if (pid == 0) {
		close(fd[0]);
		bench_run(path, n, rep);
		if (write(fd[1], rep, sizeof(*rep)) != (ssize_t)sizeof(*rep))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	got = read(fd[0], rep, sizeof(*rep));
	close(fd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (got != (ssize_t)sizeof(*rep) || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "store_bench: the %s child failed\n",
		    n > 0 ? "batch" : "single");
		return -1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: store_bench [-n RESULTS] [-l LOCATIONS] "
	    "[-b BATCH] [-d DIR] [-k]\n");
	exit(2);
}

static long
number(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		usage();
	return v;
}

static void
print_report(const char *name, const struct report *r)
{
	long long total = r->db_bytes + r->wal_bytes;

	printf("%-34s %10.0f results/s  (%.2f s)\n", name,
	    (double)nresults / r->seconds, r->seconds);
	printf("%-34s %10lld bytes database + %lld bytes -wal = %.1f MiB, "
	    "%.0f bytes per crawl\n", "", r->db_bytes, r->wal_bytes,
	    (double)total / (1024.0 * 1024.0), (double)total / nresults);
	printf("%-34s %10ld KiB peak RSS\n", "", r->maxrss_kb);
	printf("%-34s %10lld crawls, %lld locations, %lld routes, %lld "
	    "history rows\n", "", r->crawls, r->locations, r->routes,
	    r->changes);
}

/* Check the row counts against what the input must give. */
static int
check_report(const char *name, const struct report *r)
{
	long long want_changes = 0, want_locations;
	long i;

	/* A serial change in a round after the first is one history row. */
	for (i = nlocations; i < nresults; i++)
		if ((i / nlocations + (i % nlocations) % 10) % 10 == 0)
			want_changes++;
	want_locations = nresults < nlocations ? nresults : nlocations;
	if (r->crawls != nresults || r->locations != want_locations ||
	    r->routes != want_locations * NROUTES ||
	    r->changes != want_changes) {
		fprintf(stderr, "store_bench: %s: expected %ld crawls, %lld "
		    "locations, %lld routes, %lld history rows\n", name,
		    nresults, want_locations, want_locations * NROUTES,
		    want_changes);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct report single, batched;
	char tmpl[] = "/tmp/store_bench.XXXXXX";
	char dbs[4096], dbb[4096], name[64];
	const char *dir = NULL;
	int ch, keep = 0, rc = 0;

	while ((ch = getopt(argc, argv, "n:l:b:d:k")) != -1) {
		switch (ch) {
		case 'n':
			nresults = number(optarg);
			break;
		case 'l':
			nlocations = number(optarg);
			break;
		case 'b':
			batch = number(optarg);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("store_bench", 1, 0);
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL) {
		perror("store_bench: mkdtemp");
		return 1;
	}
	snprintf(dbs, sizeof(dbs), "%s/single.db", dir);
	snprintf(dbb, sizeof(dbb), "%s/batch.db", dir);
	unlink(dbs);
	unlink(dbb);

	printf("store_bench: %ld crawl results for %ld locations, %d routes "
	    "each, every 10th with a new serial; SQLite %s; in %s\n",
	    nresults, nlocations, NROUTES, sqlite3_libversion(), dir);
	fflush(stdout);
	if (bench_child(dbb, batch, &batched) == -1 ||
	    bench_child(dbs, 0, &single) == -1)
		return 1;
	if (!batched.ok || !single.ok) {
		fprintf(stderr, "store_bench: %s\n", !batched.ok ?
		    batched.err : single.err);
		return 1;
	}
	snprintf(name, sizeof(name), "store_save_batch (%ld per batch)",
	    batch);
	print_report(name, &batched);
	print_report("store_save (one per transaction)", &single);
	printf("batch / single: %.1fx\n", single.seconds / batched.seconds);
	if (check_report("batch", &batched) == -1 ||
	    check_report("single", &single) == -1)
		rc = 1;
	if (!keep) {
		char wal[4200], shm[4200];

		snprintf(wal, sizeof(wal), "%s-wal", dbs);
		snprintf(shm, sizeof(shm), "%s-shm", dbs);
		unlink(dbs);
		unlink(wal);
		unlink(shm);
		snprintf(wal, sizeof(wal), "%s-wal", dbb);
		snprintf(shm, sizeof(shm), "%s-shm", dbb);
		unlink(dbb);
		unlink(wal);
		unlink(shm);
		if (dir == tmpl)
			rmdir(dir);
	}
	return rc;
}
