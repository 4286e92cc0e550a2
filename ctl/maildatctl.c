/*
 * maildatctl: the maildat command line.  One-shot scans, inventory and
 * alert listings, and read-only SQL over the database.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "authfile.h"
#include "conf.h"
#include "crawl.h"
#include "duration.h"
#include "fmt.h"
#include "krb.h"
#include "log.h"
#include "po.h"
#include "smbio.h"
#include "location.h"
#include "store.h"
#include "xmalloc.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#define CTL_DEFAULT_DB		LOCALSTATEDIR "/lib/maildatd/maildat.db"
#define CTL_DEFAULT_SOCKET	RUNSTATEDIR "/maildatd/control.sock"

/* Exit statuses. */
#define CTL_EXIT_OK	0	/* done; every scanned location is ok */
#define CTL_EXIT_FAILED	1	/* a location failed, or an error */
#define CTL_EXIT_USAGE	2	/* bad command line */

struct ctl_opts {
	const char	*config;
	const char	*socket;
	const char	*db;
	enum fmt_kind	 format;
	int		 save;
	int		 all;
	const char	*auth_file;
	const char	*min_protocol;
	const char	*max_protocol;
	int64_t		 timeout_ms;
	int64_t		 connect_timeout_ms;
	const char	*smb_conf;
	int		 kerberos;	/* SMBIO_KRB_* */
	const char	*ccache;
};

static void __attribute__((noreturn))
usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;

	fprintf(f,
"usage: maildatctl [-c FILE] [--db FILE] [--format table|csv|json] COMMAND [ARGS]\n"
"\n"
"commands:\n"
"  scan URL...         crawl smb://host[:port]/share[/path] now, without the\n"
"                      daemon, and print what was found\n"
"      --save                  also record the results in the database\n"
"      -A, --auth-file FILE    credentials (username=, password=, domain=);\n"
"                              the file must be mode 0600 or 0400\n"
"                              (default: anonymous guest access)\n"
"      --protocol MIN[:MAX]    SMB dialects, e.g. NT1 or NT1:SMB3 (default)\n"
"      --timeout DUR           deadline for each SMB request (default 30s)\n"
"      --connect-timeout DUR   deadline for the TCP connect (default 5s)\n"
"      --smb-conf FILE         let libsmbclient read this smb.conf\n"
"      --kerberos yes|required Kerberos (yes: NTLM where it fails) with the\n"
"                              tickets of --ccache or KRB5CCNAME, or with\n"
"                              the password of -A\n"
"      --ccache CCACHE         the ticket cache (FILE:/path, or a path)\n"
"  postoffices         the postoffices known now\n"
"  routes              the external postoffices each postoffice knows\n"
"  crawls              every crawl attempt, newest first\n"
"  history LOCATION    identity changes of one location\n"
"  alerts [--all]      open alerts (with --all, cleared ones too)\n"
"  query SQL           run one read-only SQL statement over the views\n"
"  status              ask the running daemon how it is doing\n"
"  reload              make the daemon reload its configuration\n"
"  crawl [TARGET]      make the daemon crawl now (all targets, or one)\n"
"  resume CREDENTIALS  lift the lockout guard's suspension of a\n"
"                      [credentials] section (after fixing its password)\n"
"  forget LOCATION     retire a location the configuration no longer names\n"
"                      (\\\\host\\share\\path or smb://host/share/path)\n"
"\n"
"options (before or after the command):\n"
"  -c, --config FILE   read database and control_socket from the daemon's\n"
"                      configuration (default %s, if readable)\n"
"  --db FILE           the database (default: $MAILDAT_DB, else from the\n"
"                      configuration, else %s)\n"
"  --socket PATH       the daemon's control socket (default: from the\n"
"                      configuration, or %s)\n"
"  --format FORMAT     table (default), csv or json\n"
"  -v, --verbose       more diagnostics on stderr (twice: libsmbclient's)\n"
"  -h, --help          this help\n"
"  -V, --version       the version\n"
"\n"
"exit status: 0 success, 1 a location failed or an error, 2 usage error\n",
	    conf_default_path(), CTL_DEFAULT_DB, CTL_DEFAULT_SOCKET);
	exit(status);
}

/* --- database listings -------------------------------------------------- */

struct ctl_print {
	struct fmt	*fmt;
	enum fmt_kind	 kind;
	long		 rows;
};

static void
ctl_print_begin(struct ctl_print *p, sqlite3_stmt *stmt)
{
	int i, n = sqlite3_column_count(stmt);
	const char **names = xcalloc((size_t)n + 1, sizeof(*names));

	for (i = 0; i < n; i++)
		names[i] = sqlite3_column_name(stmt, i);
	p->fmt = fmt_new(p->kind, stdout, (size_t)n, names, NULL);
	free(names);
}

static int
ctl_print_row(void *arg, int ncols, sqlite3_stmt *stmt)
{
	struct ctl_print *p = arg;
	int i;

	if (p->fmt == NULL)
		ctl_print_begin(p, stmt);
	for (i = 0; i < ncols; i++) {
		switch (sqlite3_column_type(stmt, i)) {
		case SQLITE_INTEGER:
			fmt_int(p->fmt, sqlite3_column_int64(stmt, i));
			break;
		case SQLITE_FLOAT:
			fmt_real(p->fmt, sqlite3_column_double(stmt, i));
			break;
		case SQLITE_NULL:
			fmt_text(p->fmt, NULL);
			break;
		case SQLITE_BLOB: {
			const uint8_t *b = sqlite3_column_blob(stmt, i);
			int j, len = sqlite3_column_bytes(stmt, i);
			char *hex = xmalloc((size_t)len * 2 + 1);

			for (j = 0; j < len; j++)
				sprintf(hex + 2 * j, "%02x", b[j]);
			hex[2 * len] = '\0';
			fmt_text(p->fmt, hex);
			free(hex);
			break;
		}
		default:
			fmt_text(p->fmt, (const char *)sqlite3_column_text(stmt,
			    i));
			break;
		}
	}
	fmt_endrow(p->fmt);
	p->rows++;
	return 0;
}

/* Run sql with params and print every row in the chosen format. */
static int
ctl_print_sql(struct store *st, enum fmt_kind kind, const char *sql,
    const char *const *params, int nparams)
{
	struct ctl_print p = { NULL, kind, 0 };
	sqlite3_stmt *stmt;
	char err[512];

	if (store_query_params(st, sql, params, nparams, ctl_print_row, &p,
	    err, sizeof(err)) == -1) {
		if (p.fmt != NULL)
			fmt_finish(p.fmt);
		fprintf(stderr, "maildatctl: %s\n", err);
		return -1;
	}
	if (p.fmt == NULL) {
		/* No rows: the column names still make the header. */
		if (sqlite3_prepare_v2(store_db(st), sql, -1, &stmt, NULL) ==
		    SQLITE_OK && stmt != NULL) {
			ctl_print_begin(&p, stmt);
			sqlite3_finalize(stmt);
		}
	}
	if (p.fmt != NULL)
		fmt_finish(p.fmt);
	return 0;
}

static int
ctl_open_db(const struct ctl_opts *o, int flags, struct store **st)
{
	char err[512];

	if (store_open(o->db, flags, st, err, sizeof(err)) == -1) {
		fprintf(stderr, "maildatctl: %s\n", err);
		return -1;
	}
	return 0;
}

static int
ctl_listing(const struct ctl_opts *o, const char *sql,
    const char *const *params, int nparams, int flags)
{
	struct store *st;
	int rc;

	if (ctl_open_db(o, flags, &st) == -1)
		return CTL_EXIT_FAILED;
	rc = ctl_print_sql(st, o->format, sql, params, nparams);
	store_close(st);
	return rc == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

static int
cmd_postoffices(const struct ctl_opts *o)
{
	return ctl_listing(o, "SELECT location, address, serial, kind, "
	    "last_outcome, first_seen, last_seen FROM postoffices "
	    "ORDER BY location", NULL, 0, STORE_RDONLY);
}

static int
cmd_routes(const struct ctl_opts *o)
{
	return ctl_listing(o, "SELECT location, address, to_address, type "
	    "FROM routes ORDER BY location, to_address", NULL, 0,
	    STORE_RDONLY);
}

static int
cmd_crawls(const struct ctl_opts *o)
{
	return ctl_listing(o, "SELECT id, location, started, finished, "
	    "outcome, error FROM crawls ORDER BY id DESC", NULL, 0,
	    STORE_RDONLY);
}

static int
cmd_history(const struct ctl_opts *o, const char *location)
{
	const char *params[1] = { location };

	return ctl_listing(o, "SELECT location, changed, field, old, new "
	    "FROM postoffice_history WHERE location = ?1 "
	    "ORDER BY id", params, 1, STORE_RDONLY);
}

static int
cmd_alerts(const struct ctl_opts *o)
{
	return ctl_listing(o, o->all ?
	    "SELECT id, rule, severity, state, key, message, raised, "
	    "last_seen, cleared FROM alerts ORDER BY id" :
	    "SELECT id, rule, severity, state, key, message, raised, "
	    "last_seen, cleared FROM alerts WHERE state = 'open' ORDER BY id",
	    NULL, 0, STORE_RDONLY);
}

static int
cmd_query(const struct ctl_opts *o, const char *sql)
{
	return ctl_listing(o, sql, NULL, 0, STORE_QUERY);
}

/* --- scan ---------------------------------------------------------------- */

static const char *const scan_cols[] = {
	"location", "outcome", "address", "serial", "kind", "routes", "detail",
	"host", "port", "share", "path", "network", "postoffice", "serial_raw",
	"checksum_ok", "flags", "product_version"
};
static const int scan_intable[] = {
	1, 1, 1, 1, 1, 1, 1,
	0, 0, 0, 0, 0, 0, 0,
	0, 0, 0
};
#define SCAN_NCOLS	(sizeof(scan_cols) / sizeof(scan_cols[0]))

static void
scan_print(struct fmt *f, const struct result *r)
{
	char addr[2 * PO_NAME_MAX + 2], hex[PO_SERIAL_HEX], flags[16];
	char *routes = NULL, *tmp;
	size_t i;

	for (i = 0; i < r->nroutes; i++) {
		const struct result_route *rt = &r->routes[i];

		tmp = xasprintf("%s%s%s%s%s", routes ? routes : "",
		    routes ? " " : "", rt->network, rt->postoffice[0] ? "/" : "",
		    rt->postoffice);
		free(routes);
		routes = tmp;
	}
	result_address(r, addr, sizeof(addr));
	fmt_text(f, r->unc);
	fmt_text(f, result_outcome_name(r->outcome));
	fmt_text(f, r->has_master ? addr : NULL);
	fmt_text(f, r->has_master ? r->master.serial : NULL);
	fmt_text(f, po_kind_name(r->has_master ? r->master.kind :
	    PO_KIND_UNKNOWN));
	fmt_text(f, routes ? routes : "");
	fmt_text(f, r->error);
	fmt_text(f, r->loc.host);
	fmt_int(f, r->loc.port ? r->loc.port : 445);
	fmt_text(f, r->loc.share);
	fmt_text(f, r->loc.path);
	if (r->has_master) {
		po_serial_hex(r->master.serial_raw, hex, sizeof(hex));
		snprintf(flags, sizeof(flags), "0x%08x", r->master.flags);
		fmt_text(f, r->master.network);
		fmt_text(f, r->master.postoffice);
		fmt_text(f, hex);
		fmt_int(f, r->checksum_ok);
		fmt_text(f, flags);
		fmt_int(f, r->master.product_version);
	}
	fmt_endrow(f);
	free(routes);
}

/*
 * The progress of a scan, on standard error when that is a terminal (and
 * not with -v, whose messages would break it up): "[done/total] rate/s,
 * N failed", counted in URLs (a URL fails when any location it gives is
 * not ok), drawn over itself after each URL and erased at the end.
 */
struct scan_progress {
	int		 on;
	int		 width;		/* of the line shown; 0: none shown */
	int		 total, done, failed;
	struct timespec	 start;
};

static void
scan_progress_init(struct scan_progress *p, int total)
{
	memset(p, 0, sizeof(*p));
	p->on = isatty(STDERR_FILENO) && log_getverbose() == 0;
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
}

static void
scan_progress_show(struct scan_progress *p)
{
	struct timespec now;
	double secs;
	int n;

	if (!p->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - p->start.tv_sec) +
	    (double)(now.tv_nsec - p->start.tv_nsec) / 1e9;
	n = fprintf(stderr, "\r[%d/%d] %.1f/s, %d failed", p->done, p->total,
	    secs > 0 ? p->done / secs : 0.0, p->failed) - 1;
	if (n < p->width)	/* shorter than the last: blank the rest */
		fprintf(stderr, "%*s\r", p->width - n, "");
	else
		p->width = n;
	fflush(stderr);
}

/* Erase the line, before anything else goes to the terminal. */
static void
scan_progress_clear(struct scan_progress *p)
{
	if (!p->on || p->width == 0)
		return;
	fprintf(stderr, "\r%*s\r", p->width, "");
	fflush(stderr);
	p->width = 0;
}

static int
cmd_scan(const struct ctl_opts *o, int argc, char **argv)
{
	struct scan_progress prog;
	struct smbio_opts so;
	struct authfile af;
	struct results rs = { NULL, 0 };
	struct smbio *io;
	struct location *locs;
	struct store *st = NULL;
	struct fmt *f;
	char err[512];
	int i, failed = 0, have_auth = 0;
	char *ccname = NULL, *principal = NULL, *at;
	size_t j;

	if (argc == 0) {
		fprintf(stderr, "maildatctl: scan needs at least one URL\n");
		usage(CTL_EXIT_USAGE);
	}
	locs = xcalloc((size_t)argc, sizeof(*locs));
	for (i = 0; i < argc; i++)
		if (location_parse(argv[i], 0, &locs[i], err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "maildatctl: %s\n", err);
			while (i-- > 0)
				location_free(&locs[i]);
			free(locs);
			return CTL_EXIT_USAGE;
		}
	memset(&so, 0, sizeof(so));
	if (o->auth_file != NULL) {
		if (authfile_read(o->auth_file, &af, err, sizeof(err)) == -1) {
			fprintf(stderr, "maildatctl: %s\n", err);
			return CTL_EXIT_FAILED;
		}
		have_auth = 1;
		so.username = af.username;
		so.password = af.password;
		so.domain = af.domain != NULL ? af.domain : af.realm;
	}
	so.kerberos = o->kerberos;
	if (o->ccache != NULL)
		ccname = o->ccache[0] == '/' ? xasprintf("FILE:%s", o->ccache) :
		    xstrdup(o->ccache);
	else if (o->kerberos != SMBIO_KRB_OFF && getenv("KRB5CCNAME") != NULL)
		ccname = xstrdup(getenv("KRB5CCNAME"));
	so.ccache = o->kerberos != SMBIO_KRB_OFF ? ccname : NULL;
	/* Tickets without an auth file: the cache's principal logs on. */
	if (o->kerberos != SMBIO_KRB_OFF && !have_auth) {
		if ((principal = krb_ccache_principal(ccname, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "maildatctl: --kerberos: %s\n", err);
			free(ccname);
			return CTL_EXIT_FAILED;
		}
		if ((at = strrchr(principal, '@')) != NULL) {
			*at = '\0';
			so.domain = at + 1;
		}
		so.username = principal;
	}
	so.min_protocol = o->min_protocol;
	so.max_protocol = o->max_protocol;
	so.timeout_ms = (int)o->timeout_ms;
	so.connect_timeout_ms = (int)o->connect_timeout_ms;
	so.smb_conf = o->smb_conf;
	io = smbio_open(&so, err, sizeof(err));
	free(principal);
	free(ccname);
	if (have_auth)
		authfile_clear(&af);
	if (io == NULL) {
		fprintf(stderr, "maildatctl: %s\n", err);
		smbio_cleanup();
		return CTL_EXIT_FAILED;
	}
	if (o->save && ctl_open_db(o, STORE_RDWR | STORE_CREATE, &st) == -1) {
		smbio_close(io);
		smbio_cleanup();
		return CTL_EXIT_FAILED;
	}

	f = fmt_new(o->format, stdout, SCAN_NCOLS, scan_cols, scan_intable);
	scan_progress_init(&prog, argc);
	scan_progress_show(&prog);
	for (i = 0; i < argc; i++) {
		size_t before = rs.n;
		int url_failed = 0;

		crawl_run(io, &locs[i], CRAWL_PROBE, &rs);
		/* csv and json rows go out now, maybe to the same terminal. */
		if (o->format != FMT_TABLE)
			scan_progress_clear(&prog);
		for (j = before; j < rs.n; j++) {
			if (rs.v[j].outcome != OUTCOME_OK)
				url_failed = 1;
			if (st != NULL && store_save(st, &rs.v[j], err,
			    sizeof(err)) == -1) {
				scan_progress_clear(&prog);
				fprintf(stderr, "maildatctl: saving %s: %s\n",
				    rs.v[j].unc, err);
				url_failed = 1;
			}
			scan_print(f, &rs.v[j]);
		}
		/* Print as we go for csv/json; a table waits for widths. */
		fflush(stdout);
		if (url_failed)
			failed = 1;
		prog.done++;
		prog.failed += url_failed;
		scan_progress_show(&prog);
	}
	scan_progress_clear(&prog);
	fmt_finish(f);
	results_free(&rs);
	for (i = 0; i < argc; i++)
		location_free(&locs[i]);
	free(locs);
	store_close(st);
	smbio_close(io);
	smbio_cleanup();
	return failed ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

/* --- talking to the daemon ----------------------------------------------- */

/* Send one command line to the daemon; print its answer.  Exit status. */
static int
ctl_daemon(const struct ctl_opts *o, const char *line)
{
	struct sockaddr_un sun;
	char buf[4096], *all = NULL, *nl, *p;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(o->socket) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "maildatctl: socket path too long\n");
		return CTL_EXIT_FAILED;
	}
	strncpy(sun.sun_path, o->socket, sizeof(sun.sun_path) - 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "maildatctl: cannot reach maildatd at %s: %s "
		    "(is it running?)\n", o->socket, strerror(errno));
		if (fd != -1)
			close(fd);
		return CTL_EXIT_FAILED;
	}
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) ||
	    write(fd, "\n", 1) != 1) {
		fprintf(stderr, "maildatctl: %s: %s\n", o->socket,
		    strerror(errno));
		close(fd);
		return CTL_EXIT_FAILED;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		all = xreallocarray(all, len + (size_t)n + 1, 1);
		memcpy(all + len, buf, (size_t)n);
		len += (size_t)n;
		all[len] = '\0';
	}
	close(fd);
	if (all == NULL) {
		fprintf(stderr, "maildatctl: maildatd closed the connection "
		    "without answering\n");
		return CTL_EXIT_FAILED;
	}
	nl = strchr(all, '\n');
	p = nl ? nl + 1 : all + len;
	if (nl != NULL)
		*nl = '\0';
	if (strcmp(all, "ok") != 0) {
		fprintf(stderr, "maildatctl: %s\n%s", all, p);
		free(all);
		return CTL_EXIT_FAILED;
	}
	rc = CTL_EXIT_OK;
	if (strcmp(line, "status") == 0 && o->format != FMT_TABLE) {
		/* "key: value" lines become one record. */
		const char *names[64], *vals[64];
		char *save = NULL, *l, *colon;
		struct fmt *f;
		size_t k = 0, i;

		for (l = strtok_r(p, "\n", &save); l != NULL && k < 64;
		    l = strtok_r(NULL, "\n", &save)) {
			if ((colon = strstr(l, ": ")) == NULL)
				continue;
			*colon = '\0';
			names[k] = l;
			vals[k++] = colon + 2;
		}
		f = fmt_new(o->format, stdout, k, names, NULL);
		for (i = 0; i < k; i++)
			fmt_text(f, vals[i]);
		fmt_endrow(f);
		fmt_finish(f);
	} else
		fputs(p, stdout);
	free(all);
	return rc;
}

/* --- main ---------------------------------------------------------------- */

static int	ctl_command(const struct ctl_opts *, const char *, int, char **);

/*
 * Fill in the database and socket paths: the command line first, then
 * $MAILDAT_DB, then the configuration (-c, or the default file when it is
 * readable), then the built-in defaults.  The configuration is read without
 * its auth files, which an operator need not be able to read.
 */
static void
ctl_defaults(struct ctl_opts *o, struct conf **confp)
{
	struct conf_errors errs = { NULL, 0 };
	const char *path = o->config;
	size_t i;

	if (o->db == NULL && getenv("MAILDAT_DB") != NULL)
		o->db = getenv("MAILDAT_DB");
	if (path == NULL && access(conf_default_path(), R_OK) == 0 &&
	    (o->db == NULL || o->socket == NULL))
		path = conf_default_path();
	if (path != NULL && (o->db == NULL || o->socket == NULL)) {
		if (conf_load(path, confp, &errs) == -1) {
			for (i = 0; i < errs.n; i++)
				fprintf(stderr, "maildatctl: %s\n", errs.v[i]);
			conf_errors_free(&errs);
			conf_free(*confp);
			/* Only a file asked for with -c must be sound. */
			if (o->config != NULL)
				exit(CTL_EXIT_FAILED);
			fprintf(stderr, "maildatctl: ignoring %s\n", path);
			*confp = NULL;
		}
	}
	if (*confp != NULL) {
		if (o->db == NULL)
			o->db = (*confp)->database;
		if (o->socket == NULL && (*confp)->control_socket != NULL)
			o->socket = (*confp)->control_socket;
	}
	if (o->db == NULL)
		o->db = CTL_DEFAULT_DB;
	if (o->socket == NULL)
		o->socket = CTL_DEFAULT_SOCKET;
}

enum {
	OPT_DB = 256, OPT_FORMAT, OPT_SAVE, OPT_PROTOCOL, OPT_TIMEOUT,
	OPT_CONNECT_TIMEOUT, OPT_SMB_CONF, OPT_SOCKET, OPT_ALL, OPT_KERBEROS,
	OPT_CCACHE
};

static const struct option ctl_longopts[] = {
	{ "config",		required_argument,	NULL, 'c' },
	{ "socket",		required_argument,	NULL, OPT_SOCKET },
	{ "db",			required_argument,	NULL, OPT_DB },
	{ "format",		required_argument,	NULL, OPT_FORMAT },
	{ "save",		no_argument,		NULL, OPT_SAVE },
	{ "all",		no_argument,		NULL, OPT_ALL },
	{ "auth-file",		required_argument,	NULL, 'A' },
	{ "protocol",		required_argument,	NULL, OPT_PROTOCOL },
	{ "timeout",		required_argument,	NULL, OPT_TIMEOUT },
	{ "connect-timeout",	required_argument,	NULL, OPT_CONNECT_TIMEOUT },
	{ "smb-conf",		required_argument,	NULL, OPT_SMB_CONF },
	{ "kerberos",		required_argument,	NULL, OPT_KERBEROS },
	{ "ccache",		required_argument,	NULL, OPT_CCACHE },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL,			0,			NULL, 0 }
};

static void
ctl_parse_protocol(struct ctl_opts *o, char *arg)
{
	char *colon = strpbrk(arg, ": ");

	if (colon != NULL) {
		*colon = '\0';
		o->max_protocol = colon + 1;
	} else
		o->max_protocol = NULL;
	o->min_protocol = arg;
	if (*o->min_protocol == '\0' ||
	    (o->max_protocol != NULL && *o->max_protocol == '\0')) {
		fprintf(stderr, "maildatctl: --protocol takes MIN or MIN:MAX, "
		    "e.g. NT1:SMB3\n");
		usage(CTL_EXIT_USAGE);
	}
}

static int64_t
ctl_duration(const char *opt, const char *arg)
{
	int64_t ms;

	if (duration_parse(arg, &ms) == -1 || ms == 0 || ms > INT32_MAX) {
		fprintf(stderr, "maildatctl: %s: bad duration '%s' (use e.g. "
		    "30s, 5m, 1h)\n", opt, arg);
		usage(CTL_EXIT_USAGE);
	}
	return ms;
}

static void
ctl_needs_args(const char *cmd, int have, int want)
{
	if (have != want) {
		fprintf(stderr, "maildatctl: %s takes %d argument%s\n", cmd,
		    want, want == 1 ? "" : "s");
		usage(CTL_EXIT_USAGE);
	}
}

int
main(int argc, char **argv)
{
	struct ctl_opts o;
	struct conf *conf = NULL;
	const char *cmd;
	int ch, verbose = 0, rc;

	memset(&o, 0, sizeof(o));
	o.format = FMT_TABLE;
	log_init("maildatctl", 1, 0);
	signal(SIGPIPE, SIG_IGN);

	while ((ch = getopt_long(argc, argv, "A:c:vhV", ctl_longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			o.config = optarg;
			break;
		case OPT_SOCKET:
			o.socket = optarg;
			break;
		case OPT_DB:
			o.db = optarg;
			break;
		case OPT_FORMAT:
			if (fmt_parse(optarg, &o.format) == -1) {
				fprintf(stderr, "maildatctl: unknown format "
				    "'%s' (table, csv or json)\n", optarg);
				usage(CTL_EXIT_USAGE);
			}
			break;
		case OPT_SAVE:
			o.save = 1;
			break;
		case OPT_ALL:
			o.all = 1;
			break;
		case 'A':
			o.auth_file = optarg;
			break;
		case OPT_PROTOCOL:
			ctl_parse_protocol(&o, optarg);
			break;
		case OPT_TIMEOUT:
			o.timeout_ms = ctl_duration("--timeout", optarg);
			break;
		case OPT_CONNECT_TIMEOUT:
			o.connect_timeout_ms = ctl_duration("--connect-timeout",
			    optarg);
			break;
		case OPT_SMB_CONF:
			o.smb_conf = optarg;
			break;
		case OPT_KERBEROS:
			if (strcasecmp(optarg, "required") == 0)
				o.kerberos = SMBIO_KRB_REQUIRED;
			else if (strcasecmp(optarg, "yes") == 0)
				o.kerberos = SMBIO_KRB_DESIRED;
			else if (strcasecmp(optarg, "no") == 0)
				o.kerberos = SMBIO_KRB_OFF;
			else {
				fprintf(stderr, "maildatctl: --kerberos takes "
				    "no, yes or required\n");
				usage(CTL_EXIT_USAGE);
			}
			break;
		case OPT_CCACHE:
			o.ccache = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(CTL_EXIT_OK);
		case 'V':
			printf("maildatctl %s\n", PACKAGE_VERSION);
			return CTL_EXIT_OK;
		default:
			usage(CTL_EXIT_USAGE);
		}
	}
	log_setverbose(verbose);
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage(CTL_EXIT_USAGE);
	ctl_defaults(&o, &conf);
	cmd = argv[0];
	argc--;
	argv++;

	if (strcmp(cmd, "scan") == 0)
		rc = cmd_scan(&o, argc, argv);
	else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "reload") == 0) {
		ctl_needs_args(cmd, argc, 0);
		rc = ctl_daemon(&o, cmd);
	} else if (strcmp(cmd, "resume") == 0 || strcmp(cmd, "forget") == 0) {
		char line[1024];	/* the daemon's CONTROL_MAX_LINE */

		ctl_needs_args(cmd, argc, 1);
		if (snprintf(line, sizeof(line), "%s %s", cmd, argv[0]) >=
		    (int)sizeof(line) || strchr(argv[0], '\n') != NULL) {
			fprintf(stderr, "maildatctl: %s: the argument is too "
			    "long or holds a newline\n", cmd);
			usage(CTL_EXIT_USAGE);
		}
		rc = ctl_daemon(&o, line);
	} else if (strcmp(cmd, "crawl") == 0) {
		char line[256];

		if (argc > 1)
			ctl_needs_args(cmd, argc, 1);
		snprintf(line, sizeof(line), "crawl%s%s", argc ? " " : "",
		    argc ? argv[0] : "");
		rc = ctl_daemon(&o, line);
	} else
		rc = ctl_command(&o, cmd, argc, argv);
	conf_free(conf);
	return rc;
}

/* The database listings and query. */
static int
ctl_command(const struct ctl_opts *o, const char *cmd, int argc, char **argv)
{
	if (strcmp(cmd, "postoffices") == 0) {
		ctl_needs_args(cmd, argc, 0);
		return cmd_postoffices(o);
	}
	if (strcmp(cmd, "routes") == 0) {
		ctl_needs_args(cmd, argc, 0);
		return cmd_routes(o);
	}
	if (strcmp(cmd, "crawls") == 0) {
		ctl_needs_args(cmd, argc, 0);
		return cmd_crawls(o);
	}
	if (strcmp(cmd, "history") == 0) {
		ctl_needs_args(cmd, argc, 1);
		return cmd_history(o, argv[0]);
	}
	if (strcmp(cmd, "alerts") == 0) {
		ctl_needs_args(cmd, argc, 0);
		return cmd_alerts(o);
	}
	if (strcmp(cmd, "query") == 0) {
		ctl_needs_args(cmd, argc, 1);
		return cmd_query(o, argv[0]);
	}
	fprintf(stderr, "maildatctl: unknown command '%s'\n", cmd);
	usage(CTL_EXIT_USAGE);
}
