/*
 * rules_bench: how long the rule engine takes over a large estate.
 *
 *	rules_bench [-n POSTOFFICES] [-g GROUPS] [-m MEMBERS] [-c CHANGES]
 *	    [-b BATCH] [-d DIR] [-p] [-k]
 *
 * Builds a database of POSTOFFICES made-up postoffices (one ok crawl each,
 * saved with store_save_batch, BATCH per transaction), of which GROUPS
 * groups of MEMBERS share a serial with different addresses (the Event
 * 4188 case); every other serial and every address is unique.  Then, in
 * a child process of its own per database (so that each peak RSS is the
 * rule engine's and SQLite's, not the builder's), it times rules_build()
 * and rules_eval() of the 6 built-in rules, as maildatd runs them:
 *
 *	eval 1	the first evaluation: raises GROUPS duplicate-serial alerts
 *	eval 2	nothing changed: no events
 *	eval 3	after CHANGES serials changed (2 members of each of
 *		CHANGES / 2 groups move, in pairs, to a new shared serial):
 *		CHANGES / 2 duplicate-serial alerts clear (with MEMBERS 3; a
 *		larger group keeps its alert), as many are raised for the new
 *		pairs, and CHANGES serial-changed alerts are raised
 *
 * It does this twice: on the database as built, and on a copy of it after
 * ANALYZE.  Each built-in rule's query is also timed alone (prepare, step
 * through every row) after eval 1 and after eval 3; a query over a second,
 * or with -p every one, has its EXPLAIN QUERY PLAN printed.  The event
 * counts and the size of the alert table are checked against what the
 * input must give.  -k keeps the databases (in DIR, default a new
 * directory under /tmp).
 *
 * Build and run it with bench/run-rules-bench.sh.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conf.h"
#include "crawl.h"
#include "log.h"
#include "po.h"
#include "rules.h"
#include "store.h"

#define T0	(INT64_C(1795487967) * 1000000)	/* 2026-11-24T02:39:27Z */
#define NRULES	6
#define SLOW_S	1.0		/* print the plan of a query slower */
#define PLANMAX	6144

/* One result with its own storage. */
struct bres {
	struct result r;
	char		 location[64];
	char		 host[32];
	char		 share[16];
	char		 path[4];
};

struct evcount {
	long		 raised, cleared, repeated;
	long		 by_rule[NRULES + 1][3];	/* last: user rules */
};

/* What one child measured, sent to the parent through a pipe. */
struct report {
	int		 ok;
	char		 err[512];
	double		 build_s;	/* builder: store_save_batch */
	long long	 db_bytes;
	double		 analyze_s;
	double		 rules_build_s;
	double		 eval_s[3];
	struct evcount	 ev[3];
	double		 save_s;	/* the changed results */
	double		 rule_s[2][NRULES];	/* after eval 1, eval 3 */
	long		 rule_rows[2][NRULES];
	long long	 alerts, open;
	long		 maxrss_kb;
	char		 plans[PLANMAX];
};

static long	 npo = 100000;
static long	 ngroups = 1000;
static long	 nmembers = 3;
static long	 nchanges = 100;
static long	 batch = 1000;
static int	 allplans;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The serial of postoffice i: group members (i < ngroups * nmembers) share
 * 20-00000 + group, the others have 10-00000 + i; version 1 (eval 3) moves
 * members 1 and 2 of the first CHANGES / 2 groups to 30-00000 + group.
 * Seven digits, shown as NN-NNNNN.
 */
static long
bench_serial_value(long i, int version)
{
	long g = i / nmembers;

	if (version > 0 && i < ngroups * nmembers && (i % nmembers == 1 ||
	    i % nmembers == 2) && g < nchanges / 2)
		return 3000000 + g;
	if (i < ngroups * nmembers)
		return 2000000 + g;
	return 1000000 + i;
}

/* Is postoffice i one whose serial eval 3 finds changed? */
static int
bench_changed(long i)
{
	return bench_serial_value(i, 1) != bench_serial_value(i, 0);
}

/* Fill x with the crawl of postoffice i, serial version version, at t. */
static void
bench_result(struct bres *x, long i, int version, int64_t t)
{
	struct result *r = &x->r;
	struct po_master *m = &r->master;
	long v = bench_serial_value(i, version);
	char serial[32];

	memset(x, 0, sizeof(*x));
	snprintf(x->host, sizeof(x->host), "10.%ld.%ld.%ld", i / 65536 % 256,
	    i / 256 % 256, i % 256);
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
	r->finished_us = t;
	r->started_us = t - 500;
	snprintf(m->network, sizeof(m->network), "NET%04ld", i / 100 % 10000);
	snprintf(m->postoffice, sizeof(m->postoffice), "PO%06ld", i);
	snprintf(serial, sizeof(serial), "%02ld-%05ld", v / 100000,
	    v % 100000);
	if (po_serial_encode(serial, m->serial_raw) == -1) {
		fprintf(stderr, "rules_bench: cannot encode serial %s\n",
		    serial);
		exit(1);
	}
	po_serial_display(m->serial_raw, m->serial, sizeof(m->serial));
	m->checksum_stored = m->checksum_computed =
	    po_serial_checksum(m->serial_raw);
	m->product_version = 2;
	m->kind = PO_KIND_MSMAIL;
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
count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	long long n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* Build the database at path: every postoffice crawled once. */
static void
bench_build(const char *path, struct report *rep)
{
	struct store *st;
	struct bres *v;
	struct result *rv;
	struct rusage ru;
	long i, j;
	double t;

	memset(rep, 0, sizeof(*rep));
	if (store_open(path, STORE_RDWR | STORE_CREATE, &st, rep->err,
	    sizeof(rep->err)) == -1)
		return;
	v = calloc((size_t)batch, sizeof(*v));
	rv = calloc((size_t)batch, sizeof(*rv));
	if (v == NULL || rv == NULL) {
		snprintf(rep->err, sizeof(rep->err), "out of memory");
		return;
	}
	t = now();
	for (i = 0; i < npo; i += batch) {
		long m = npo - i < batch ? npo - i : batch;

		for (j = 0; j < m; j++) {
			bench_result(&v[j], i + j, 0, T0 + (i + j) * 1000);
			rv[j] = v[j].r;
		}
		if (store_save_batch(st, rv, (size_t)m, rep->err,
		    sizeof(rep->err)) == -1)
			return;
	}
	rep->build_s = now() - t;
	free(v);
	free(rv);
	if (sqlite3_exec(store_db(st), "PRAGMA wal_checkpoint(TRUNCATE)",
	    NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(rep->err, sizeof(rep->err), "checkpoint: %s",
		    sqlite3_errmsg(store_db(st)));
		return;
	}
	store_close(st);
	rep->db_bytes = file_size(path);
	getrusage(RUSAGE_SELF, &ru);
	rep->maxrss_kb = ru.ru_maxrss;
	rep->ok = 1;
}

static int
rule_index(const char *name)
{
	size_t i;

	for (i = 0; i < rules_nbuiltins && i < NRULES; i++)
		if (strcmp(rules_builtins[i].name, name) == 0)
			return (int)i;
	return NRULES;
}

static void
tally(const struct rules_events *ev, struct evcount *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < ev->n; i++) {
		int w = ev->v[i].what == RULES_RAISED ? 0 :
		    ev->v[i].what == RULES_CLEARED ? 1 : 2;

		if (w == 0)
			c->raised++;
		else if (w == 1)
			c->cleared++;
		else
			c->repeated++;
		c->by_rule[rule_index(ev->v[i].rule)][w]++;
	}
}

/* Append the EXPLAIN QUERY PLAN of sql to buf. */
static void
plan(sqlite3 *db, const char *name, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *s;
	char *q;
	size_t off = strlen(buf);
	int rc;

	if (off < len)
		off += (size_t)snprintf(buf + off, len - off,
		    "EXPLAIN QUERY PLAN of %s:\n", name);
	if (asprintf(&q, "EXPLAIN QUERY PLAN %s", sql) == -1)
		return;
	if (sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK) {
		if (off < len)
			snprintf(buf + off, len - off, "  (%s)\n",
			    sqlite3_errmsg(db));
		free(q);
		return;
	}
	free(q);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && off < len)
		off += (size_t)snprintf(buf + off, len - off, "  %d %d %s\n",
		    sqlite3_column_int(s, 0), sqlite3_column_int(s, 1),
		    (const char *)sqlite3_column_text(s, 3));
	sqlite3_finalize(s);
}

/*
 * Time the query of built-in rule i alone (prepare, step every row), as
 * measurement k; add its plan when it is slow (or with -p, once).
 */
static void
time_rule(sqlite3 *db, size_t i, int unreachable_after, int k,
    struct report *rep)
{
	sqlite3_stmt *s;
	double t = now();
	long rows = 0;
	int idx;

	if (sqlite3_prepare_v2(db, rules_builtins[i].sql, -1, &s, NULL) !=
	    SQLITE_OK) {
		rep->rule_rows[k][i] = -1;
		return;
	}
	if ((idx = sqlite3_bind_parameter_index(s, ":unreachable_after")) > 0)
		sqlite3_bind_int(s, idx, unreachable_after);
	while (sqlite3_step(s) == SQLITE_ROW)
		rows++;
	sqlite3_finalize(s);
	rep->rule_s[k][i] = now() - t;
	rep->rule_rows[k][i] = rows;
	if ((allplans && k == 0) || rep->rule_s[k][i] > SLOW_S)
		plan(db, rules_builtins[i].name, rules_builtins[i].sql,
		    rep->plans, sizeof(rep->plans));
}

static int
eval(struct store *st, const struct rules *rs, int64_t t, int k,
    struct report *rep)
{
	struct rules_events ev = { NULL, 0 };
	double t0 = now();

	if (rules_eval(st, rs, t, &ev, rep->err, sizeof(rep->err)) == -1)
		return -1;
	rep->eval_s[k] = now() - t0;
	tally(&ev, &rep->ev[k]);
	rules_events_free(&ev);
	return 0;
}

/* Run the rules over the database at path (ANALYZE it first if asked). */
static void
bench_rules(const char *path, const char *confpath, int analyze,
    struct report *rep)
{
	struct store *st;
	struct conf *c = NULL;
	struct conf_errors errs = { NULL, 0 };
	struct rules rs;
	struct bres *v;
	struct result *rv;
	struct rusage ru;
	sqlite3 *db;
	long i, n;
	size_t k;
	double t;
	int64_t t1 = T0 + npo * 1000 + INT64_C(3600) * 1000000;

	memset(rep, 0, sizeof(*rep));
	memset(&rs, 0, sizeof(rs));
	if (store_open(path, STORE_RDWR, &st, rep->err, sizeof(rep->err)) ==
	    -1)
		return;
	db = store_db(st);
	if (analyze) {
		t = now();
		if (sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL) !=
		    SQLITE_OK) {
			snprintf(rep->err, sizeof(rep->err), "ANALYZE: %s",
			    sqlite3_errmsg(db));
			return;
		}
		rep->analyze_s = now() - t;
	}
	if (conf_load(confpath, &c, &errs) == -1) {
		snprintf(rep->err, sizeof(rep->err), "%s: %s", confpath,
		    errs.n ? errs.v[0] : "configuration has errors");
		return;
	}
	t = now();
	if (rules_build(c, st, &rs, &errs) == -1) {
		snprintf(rep->err, sizeof(rep->err), "rules_build: %s",
		    errs.n ? errs.v[0] : "failed");
		return;
	}
	rep->rules_build_s = now() - t;

	/* eval 1: the first evaluation. */
	if (eval(st, &rs, t1, 0, rep) == -1)
		return;
	for (k = 0; k < rules_nbuiltins && k < NRULES; k++)
		time_rule(db, k, c->unreachable_after, 0, rep);

	/* eval 2: nothing changed, a minute later. */
	if (eval(st, &rs, t1 + INT64_C(60) * 1000000, 1, rep) == -1)
		return;

	/* eval 3: after nchanges serials changed, crawled an hour later. */
	v = calloc((size_t)nchanges + 1, sizeof(*v));
	rv = calloc((size_t)nchanges + 1, sizeof(*rv));
	if (v == NULL || rv == NULL) {
		snprintf(rep->err, sizeof(rep->err), "out of memory");
		return;
	}
	for (n = 0, i = 0; i < npo && n < nchanges; i++)
		if (bench_changed(i)) {
			bench_result(&v[n], i, 1, t1 + INT64_C(3600) * 1000000 +
			    n * 1000);
			rv[n] = v[n].r;
			n++;
		}
	t = now();
	if (store_save_batch(st, rv, (size_t)n, rep->err,
	    sizeof(rep->err)) == -1)
		return;
	rep->save_s = now() - t;
	free(v);
	free(rv);
	if (eval(st, &rs, t1 + INT64_C(7200) * 1000000, 2, rep) == -1)
		return;
	for (k = 0; k < rules_nbuiltins && k < NRULES; k++)
		time_rule(db, k, c->unreachable_after, 1, rep);

	rep->alerts = count(db, "SELECT count(*) FROM alert");
	rep->open = count(db, "SELECT count(*) FROM alert WHERE state = "
	    "'open'");
	rules_free(&rs);
	conf_free(c);
	store_close(st);
	getrusage(RUSAGE_SELF, &ru);
	rep->maxrss_kb = ru.ru_maxrss;
	rep->ok = 1;
}

/* Build (mode -1) or run the rules (mode 0, 1: ANALYZE first) in a child. */
static int
child(const char *what, const char *path, const char *confpath, int mode,
    struct report *rep)
{
	int fd[2], status;
	pid_t pid;
	ssize_t got;

	if (pipe(fd) == -1 || (pid = fork()) == -1) {
		perror("rules_bench: pipe/fork");
		return -1;
	}
	if (pid == 0) {
		close(fd[0]);
		if (mode < 0)
			bench_build(path, rep);
		else
			bench_rules(path, confpath, mode, rep);
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
		fprintf(stderr, "rules_bench: the %s child failed\n", what);
		return -1;
	}
	if (!rep->ok) {
		fprintf(stderr, "rules_bench: %s: %s\n", what, rep->err);
		return -1;
	}
	return 0;
}

static int
copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out, rc = 0;

	if ((in = open(from, O_RDONLY)) == -1)
		return -1;
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0)
		rc = -1;
	close(in);
	if (close(out) == -1)
		rc = -1;
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: rules_bench [-n POSTOFFICES] [-g GROUPS] "
	    "[-m MEMBERS] [-c CHANGES] [-b BATCH] [-d DIR] [-p] [-k]\n");
	exit(2);
}

static long
number(const char *arg, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		usage();
	return v;
}

static void
print_events(const char *name, double s, const struct evcount *c)
{
	size_t i;
	int first = 1;

	printf("  %-34s %8.3f s  %5ld raised, %ld cleared, %ld repeated",
	    name, s, c->raised, c->cleared, c->repeated);
	for (i = 0; i <= NRULES; i++) {
		const char *rn = i < NRULES && i < rules_nbuiltins ?
		    rules_builtins[i].name : "user";

		if (c->by_rule[i][0] + c->by_rule[i][1] + c->by_rule[i][2] ==
		    0)
			continue;
		printf("%s%s %ld/%ld/%ld", first ? " (" : ", ", rn,
		    c->by_rule[i][0], c->by_rule[i][1], c->by_rule[i][2]);
		first = 0;
	}
	printf("%s\n", first ? "" : ")");
}

static void
print_report(const char *name, const struct report *r)
{
	size_t i;

	printf("%s\n", name);
	if (r->analyze_s > 0)
		printf("  %-34s %8.3f s\n", "ANALYZE", r->analyze_s);
	printf("  %-34s %8.3f s\n", "rules_build (6 built-ins)",
	    r->rules_build_s);
	print_events("rules_eval 1 (first)", r->eval_s[0], &r->ev[0]);
	print_events("rules_eval 2 (nothing changed)", r->eval_s[1],
	    &r->ev[1]);
	printf("  %-34s %8.3f s\n", "store_save_batch of the changes",
	    r->save_s);
	print_events("rules_eval 3 (serials changed)", r->eval_s[2],
	    &r->ev[2]);
	printf("  each query alone:                   after eval 1"
	    "         after eval 3\n");
	for (i = 0; i < rules_nbuiltins && i < NRULES; i++)
		printf("    %-32s %8.3f s %6ld rows  %8.3f s %6ld rows\n",
		    rules_builtins[i].name, r->rule_s[0][i], r->rule_rows[0][i],
		    r->rule_s[1][i], r->rule_rows[1][i]);
	printf("  alert table: %lld rows, %lld open; %ld KiB peak RSS\n",
	    r->alerts, r->open, r->maxrss_kb);
	if (r->plans[0] != '\0')
		printf("%s", r->plans);
}

/* Check the event counts and the alert table against the input. */
static int
check_report(const char *name, const struct report *r)
{
	long pairs = nchanges / 2;
	long clears = nmembers == 3 ? pairs : 0;	/* a group left alone */
	int ds = rule_index("duplicate-serial");
	int sc = rule_index("serial-changed");
	int bad = 0;

	if (r->ev[0].raised != ngroups || r->ev[0].cleared != 0 ||
	    r->ev[0].by_rule[ds][0] != ngroups)
		bad = 1;
	if (r->ev[1].raised + r->ev[1].cleared + r->ev[1].repeated != 0)
		bad = 1;
	if (r->ev[2].by_rule[ds][0] != pairs ||
	    r->ev[2].by_rule[ds][1] != clears ||
	    r->ev[2].by_rule[sc][0] != 2 * pairs ||
	    r->ev[2].raised != 3 * pairs || r->ev[2].cleared != clears ||
	    r->ev[2].repeated != 0)
		bad = 1;
	if (r->alerts != ngroups + 3 * pairs ||
	    r->open != ngroups + 3 * pairs - clears)
		bad = 1;
	if (bad) {
		fprintf(stderr, "rules_bench: %s: expected eval 1: %ld raised; "
		    "eval 2: no events; eval 3: %ld duplicate-serial raised, "
		    "%ld cleared, %ld serial-changed raised; %ld alerts, %ld "
		    "open\n", name, ngroups, pairs, clears, 2 * pairs,
		    ngroups + 3 * pairs, ngroups + 3 * pairs - clears);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct report built, plain, analyzed;
	char tmpl[] = "/tmp/rules_bench.XXXXXX";
	char dba[4096], dbb[4096], conf[4096];
	const char *dir = NULL;
	FILE *fp;
	int ch, keep = 0, rc = 0;

	while ((ch = getopt(argc, argv, "n:g:m:c:b:d:pk")) != -1) {
		switch (ch) {
		case 'n':
			npo = number(optarg, 1);
			break;
		case 'g':
			ngroups = number(optarg, 0);
			break;
		case 'm':
			nmembers = number(optarg, 2);
			break;
		case 'c':
			nchanges = number(optarg, 0);
			break;
		case 'b':
			batch = number(optarg, 1);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'p':
			allplans = 1;
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
	if (ngroups * nmembers > npo || nchanges % 2 != 0 || nmembers < 3 ||
	    nchanges / 2 > ngroups || npo > 1000000) {
		fprintf(stderr, "rules_bench: need GROUPS * MEMBERS <= "
		    "POSTOFFICES <= 1000000, MEMBERS >= 3, an even CHANGES, "
		    "and CHANGES / 2 <= GROUPS\n");
		return 2;
	}
	log_init("rules_bench", 1, 0);
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL) {
		perror("rules_bench: mkdtemp");
		return 1;
	}
	snprintf(dba, sizeof(dba), "%s/rules.db", dir);
	snprintf(dbb, sizeof(dbb), "%s/rules-analyzed.db", dir);
	snprintf(conf, sizeof(conf), "%s/rules.conf", dir);
	unlink(dba);
	unlink(dbb);
	if ((fp = fopen(conf, "w")) == NULL) {
		perror(conf);
		return 1;
	}
	fprintf(fp, "[maildatd]\ndatabase = %s\n", dba);
	fclose(fp);

	printf("rules_bench: %ld postoffices, %ld groups of %ld sharing a "
	    "serial, %ld serials changed before eval 3; SQLite %s; in %s\n",
	    npo, ngroups, nmembers, nchanges, sqlite3_libversion(), dir);
	fflush(stdout);
	if (child("build", dba, NULL, -1, &built) == -1)
		return 1;
	printf("database built with store_save_batch (%ld per batch) in "
	    "%.2f s: %lld bytes, %ld KiB peak RSS\n", batch, built.build_s,
	    built.db_bytes, built.maxrss_kb);
	fflush(stdout);
	if (copy_file(dba, dbb) == -1) {
		perror("rules_bench: copying the database");
		return 1;
	}
	if (child("rules", dba, conf, 0, &plain) == -1)
		return 1;
	print_report("as built (no ANALYZE):", &plain);
	fflush(stdout);
	if (child("rules after ANALYZE", dbb, conf, 1, &analyzed) == -1)
		return 1;
	print_report("after ANALYZE:", &analyzed);
	if (check_report("as built", &plain) == -1 ||
	    check_report("after ANALYZE", &analyzed) == -1)
		rc = 1;
	if (!keep) {
		const char *sfx[] = { "", "-wal", "-shm" };
		char p[4200];
		size_t i;

		for (i = 0; i < 3; i++) {
			snprintf(p, sizeof(p), "%s%s", dba, sfx[i]);
			unlink(p);
			snprintf(p, sizeof(p), "%s%s", dbb, sfx[i]);
			unlink(p);
		}
		unlink(conf);
		if (dir == tmpl)
			rmdir(dir);
	}
	return rc;
}
