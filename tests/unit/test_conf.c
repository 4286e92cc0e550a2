/*
 * test_conf: maildatd.conf parsing against real files in a temporary
 * directory: every value of a full configuration, the defaults, and each
 * error with the line it names.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "confval.h"
#include "location.h"
#include "targets.h"
#include "xmalloc.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif

static char	 tmpdir[] = "/tmp/test_conf.XXXXXX";
static int	 nconf;
static char	 cpath[512];	/* the configuration file last written */

static int
setup_dir(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown_dir(void **state)
{
	struct dirent *de;
	DIR *d;
	char path[1024];

	(void)state;
	if ((d = opendir(tmpdir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(tmpdir);
}

/* Write text to tmpdir/name with mode; the path goes to path. */
static void
mkfile(char *path, size_t pathlen, const char *name, const char *text,
    mode_t mode)
{
	size_t len = strlen(text);
	int fd;

	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* Write a fresh configuration file (its path in cpath) and load it. */
static int
load(const char *text, struct conf **c, struct conf_errors *e)
{
	char name[64];

	snprintf(name, sizeof(name), "conf%d.conf", ++nconf);
	mkfile(cpath, sizeof(cpath), name, text, 0644);
	/* As the daemon checks a file: the file, then its auth files. */
	conf_load(cpath, c, e);
	if (*c != NULL)
		conf_read_secrets(*c, NULL, e);
	conf_errors_sort(e, cpath);
	if (e->n > 0) {
		conf_free(*c);
		*c = NULL;
		return -1;
	}
	return 0;
}

/*
 * The locations of target ti of c, as configuration URLs, in the order
 * targets_expand() gives them (repeats across targets dropped).
 */
static void
target_urls(const struct conf *c, size_t ti, char ***urls, size_t *n)
{
	struct target_location *v;
	size_t nv, i;

	assert_int_equal(targets_expand(c, &v, &nv, NULL), 0);
	*urls = xcalloc(nv + 1, sizeof(**urls));
	*n = 0;
	for (i = 0; i < nv; i++)
		if (strcmp(v[i].target, c->targets[ti].name) == 0)
			(*urls)[(*n)++] = location_config_url(&v[i].loc);
	targets_free(v, nv);
}

static void
target_urls_free(char **urls, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(urls[i]);
	free(urls);
}

static struct conf *
load_ok(const char *text)
{
	struct conf_errors e;
	struct conf *c = NULL;
	size_t i;

	if (load(text, &c, &e) != 0) {
		for (i = 0; i < e.n; i++)
			print_error("%s\n", e.v[i]);
		conf_errors_free(&e);
		fail_msg("conf_load failed");
	}
	assert_non_null(c);
	assert_int_equal(e.n, 0);
	return c;
}

/* The "PATH:LINE: " every message about the file at cpath starts with. */
static const char *
at(int line)
{
	static char buf[600];

	snprintf(buf, sizeof(buf), "%s:%d: ", cpath, line);
	return buf;
}

/* Load text, expect exactly one error at line, containing substr. */
static void
expect_error(const char *text, int line, const char *substr)
{
	struct conf_errors e;
	struct conf *c = (struct conf *)&e;	/* must be reset to NULL */

	assert_int_equal(load(text, &c, &e), -1);
	assert_null(c);
	if (e.n != 1 || strncmp(e.v[0], at(line), strlen(at(line))) != 0 ||
	    strstr(e.v[0], substr) == NULL) {
		size_t i;

		for (i = 0; i < e.n; i++)
			print_error("got: %s\n", e.v[i]);
		fail_msg("expected one error '%s...%s'", at(line), substr);
	}
	conf_errors_free(&e);
	assert_int_equal(e.n, 0);
	assert_null(e.v);
}

/* Load text, expect exactly one error, equal to "PATH:LINE: msg". */
static void
expect_exact(const char *text, int line, const char *msg)
{
	struct conf_errors e;
	struct conf *c;
	char want[1024];

	assert_int_equal(load(text, &c, &e), -1);
	assert_null(c);
	snprintf(want, sizeof(want), "%s%s", at(line), msg);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0], want);
	conf_errors_free(&e);
}

static void
test_full_example(void **state)
{
	const struct conf_credentials *cr;
	const struct conf_target *t;
	const struct conf_rule *r;
	struct conf *c;
	char auth[512], text[4096], want[600], **urls;
	size_t n, i;

	(void)state;
	mkfile(auth, sizeof(auth), "corp.auth",
	    "username = mailmon\npassword = s3cret\ndomain = CORP\n", 0600);
	snprintf(text, sizeof(text),
	    "; maildatd test configuration\n"			/* 1 */
	    "[maildatd]\n"
	    "database = /srv/maildat/test.db\n"
	    "interval = 10m          ; default time between crawls\n"
	    "workers = 4\n"					/* 5 */
	    "timeout = 45s\n"
	    "connect_timeout = 2s\n"
	    "syslog = udp:[::1]:5514\n"
	    "syslog_facility = local3\n"
	    "control_socket = /srv/maildat/control.sock\n"	/* 10 */
	    "user = mdat\n"
	    "pidfile = /srv/maildat/maildatd.pid\n"
	    "jobs_per_worker = 50\n"
	    "unreachable_after = 5\n"
	    "renotify = 12h\n"					/* 15 */
	    "backoff_max = 2h\n"
	    "lockout_after = 2\n"
	    "smb_conf = /srv/maildat/smb.conf\n"
	    "\n"
	    "[credentials corp]\n"				/* 20 */
	    "auth_file = %s   ; smbclient -A format\n"
	    "\n"
	    "[target exchange]\n"
	    "hosts = ex1 ex2 10.1.0.0/28 fe80::1\n"
	    "share = MAILDAT$\n"				/* 25 */
	    "credentials = corp\n"
	    "protocol = SMB2 SMB3_11\n"
	    "interval = 5m\n"
	    "timeout = 1m\n"
	    "\n"						/* 30 */
	    "[target lab]\n"
	    "url = smb://127.0.0.1:4450/MAILDAT$\n"
	    "url = smb://127.0.0.1:4450/SHARE/sub/dir\n"
	    "discover = yes\n"
	    "\n"						/* 35 */
	    "[rule duplicate-serial]\n"
	    "enabled = no\n"
	    "severity = crit\n"
	    "renotify = 1h\n"
	    "\n"						/* 40 */
	    "[rule connector-serial]\n"
	    "severity = notice\n"
	    "query = SELECT location AS key, 'connector postoffice ' || "
	    "address AS message FROM postoffices WHERE serial = '22-28798'\n",
	    auth);
	c = load_ok(text);

	assert_string_equal(c->path, cpath);
	assert_string_equal(c->database, "/srv/maildat/test.db");
	assert_int_equal(c->interval_ms, 10 * 60 * 1000);
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->timeout_ms, 45000);
	assert_int_equal(c->connect_timeout_ms, 2000);
	assert_string_equal(c->syslog, "udp:[::1]:5514");
	assert_int_equal(c->syslog_facility, LOG_LOCAL3);
	assert_string_equal(c->control_socket, "/srv/maildat/control.sock");
	assert_string_equal(c->user, "mdat");
	assert_string_equal(c->pidfile, "/srv/maildat/maildatd.pid");
	assert_int_equal(c->jobs_per_worker, 50);
	assert_int_equal(c->unreachable_after, 5);
	assert_int_equal(c->renotify_ms, 12 * 3600 * 1000);
	assert_int_equal(c->backoff_max_ms, 2 * 3600 * 1000);
	assert_int_equal(c->lockout_after, 2);
	assert_string_equal(c->smb_conf, "/srv/maildat/smb.conf");

	assert_int_equal(c->ncreds, 1);
	cr = conf_find_credentials(c, "corp");
	assert_ptr_equal(cr, &c->creds[0]);
	assert_string_equal(cr->name, "corp");
	assert_string_equal(cr->auth_file, auth);
	assert_string_equal(cr->username, "mailmon");
	assert_string_equal(cr->password, "s3cret");
	assert_string_equal(cr->domain, "CORP");
	assert_int_equal(cr->line, 20);
	assert_null(conf_find_credentials(c, "guest"));

	assert_int_equal(c->ntargets, 2);
	t = &c->targets[0];
	assert_string_equal(t->name, "exchange");
	assert_int_equal(t->line, 23);
	assert_int_equal(t->nhosts, 4);
	assert_string_equal(t->hosts[0], "ex1");
	assert_string_equal(t->hosts[1], "ex2");
	assert_string_equal(t->hosts[2], "10.1.0.0/28");
	assert_string_equal(t->hosts[3], "fe80::1");
	assert_int_equal(t->nurls, 0);
	assert_string_equal(t->share, "MAILDAT$");
	assert_string_equal(t->credentials, "corp");
	assert_string_equal(t->min_protocol, "SMB2");
	assert_string_equal(t->max_protocol, "SMB3_11");
	assert_int_equal(t->interval_ms, 5 * 60 * 1000);
	assert_int_equal(t->timeout_ms, 60 * 1000);
	assert_int_equal(t->discover, 0);
	target_urls(c, 0, &urls, &n);
	assert_int_equal(n, 2 + 14 + 1);
	assert_string_equal(urls[0], "smb://ex1/MAILDAT$");
	assert_string_equal(urls[1], "smb://ex2/MAILDAT$");
	for (i = 0; i < 14; i++) {
		snprintf(want, sizeof(want), "smb://10.1.0.%zu/MAILDAT$", i + 1);
		assert_string_equal(urls[2 + i], want);
	}
	assert_string_equal(urls[16], "smb://[fe80::1]/MAILDAT$");
	target_urls_free(urls, n);

	t = &c->targets[1];
	assert_string_equal(t->name, "lab");
	assert_int_equal(t->line, 31);
	assert_int_equal(t->nhosts, 0);
	assert_int_equal(t->nurls, 2);
	assert_string_equal(t->urls[0], "smb://127.0.0.1:4450/MAILDAT$");
	assert_string_equal(t->urls[1], "smb://127.0.0.1:4450/SHARE/sub/dir");
	assert_string_equal(t->share, "MAILDAT$");
	assert_null(t->credentials);
	assert_string_equal(t->min_protocol, "NT1");
	assert_string_equal(t->max_protocol, "SMB3");
	assert_int_equal(t->interval_ms, 10 * 60 * 1000);	/* global */
	assert_int_equal(t->timeout_ms, 45000);			/* global */
	assert_int_equal(t->discover, 1);

	/* The nine built-in rules first, then the user rule. */
	assert_int_equal(c->nrules, CONF_NBUILTIN_RULES + 1);
	r = conf_find_rule(c, "duplicate-serial");
	assert_ptr_equal(r, &c->rules[0]);
	assert_int_equal(r->builtin, 1);
	assert_int_equal(r->enabled, 0);
	assert_int_equal(r->severity, LOG_CRIT);
	assert_int_equal(r->renotify_ms, 3600 * 1000);
	assert_null(r->query);
	assert_int_equal(r->line, 36);
	r = conf_find_rule(c, "duplicate-address");
	assert_ptr_equal(r, &c->rules[1]);
	assert_int_equal(r->enabled, 1);
	assert_int_equal(r->severity, LOG_ERR);
	assert_int_equal(r->renotify_ms, 0);
	assert_int_equal(r->line, 0);
	r = conf_find_rule(c, "connector-serial");
	assert_ptr_equal(r, &c->rules[CONF_NBUILTIN_RULES]);
	assert_int_equal(r->builtin, 0);
	assert_int_equal(r->enabled, 1);
	assert_int_equal(r->severity, LOG_NOTICE);
	assert_int_equal(r->renotify_ms, 0);
	assert_int_equal(r->line, 41);
	assert_string_equal(r->query, "SELECT location AS key, 'connector "
	    "postoffice ' || address AS message FROM postoffices WHERE "
	    "serial = '22-28798'");
	assert_null(conf_find_rule(c, "no-such-rule"));
	conf_free(c);
}

static void
test_defaults(void **state)
{
	static const struct {
		const char	*name;
		int		 severity;
	} builtin[] = {
		{ "duplicate-serial", LOG_ERR },
		{ "duplicate-address", LOG_ERR },
		{ "duplicate-postoffice", LOG_WARNING },
		{ "serial-changed", LOG_WARNING },
		{ "unreachable", LOG_WARNING },
		{ "malformed", LOG_WARNING },
		{ "credentials-suspended", LOG_ERR },
		{ "postoffice-moved", LOG_NOTICE },
		{ "rule-failed", LOG_ERR },
	};
	struct conf *c;
	size_t i;

	(void)state;
	c = load_ok("# nothing but a comment\n");
	assert_string_equal(c->database,
	    LOCALSTATEDIR "/lib/maildatd/maildat.db");
	assert_int_equal(c->interval_ms, 15 * 60 * 1000);
	assert_int_equal(c->workers, 8);
	assert_int_equal(c->timeout_ms, 30 * 1000);
	assert_int_equal(c->connect_timeout_ms, 5 * 1000);
	assert_string_equal(c->syslog, "local");
	assert_int_equal(c->syslog_facility, LOG_DAEMON);
	assert_string_equal(c->control_socket,
	    RUNSTATEDIR "/maildatd/control.sock");
	assert_string_equal(c->user, "maildatd");
	assert_string_equal(c->pidfile, RUNSTATEDIR "/maildatd/maildatd.pid");
	assert_int_equal(c->jobs_per_worker, 100);
	assert_int_equal(c->unreachable_after, 3);
	assert_int_equal(c->renotify_ms, 24 * 3600 * 1000);
	assert_int_equal(c->backoff_max_ms, 3600 * 1000);
	assert_int_equal(c->lockout_after, 3);
	assert_int_equal(c->retention_ms, 90LL * 24 * 3600 * 1000);
	assert_int_equal(c->alert_retention_ms, 365LL * 24 * 3600 * 1000);
	assert_int_equal(c->retire_after_ms, 30LL * 24 * 3600 * 1000);
	assert_int_equal(c->rules_interval_ms, 60 * 1000);
	assert_int_equal(c->rule_timeout_ms, 10 * 1000);
	assert_null(c->smb_conf);
	assert_int_equal(c->ncreds, 0);
	assert_int_equal(c->ntargets, 0);
	assert_int_equal(c->nrules, CONF_NBUILTIN_RULES);
	for (i = 0; i < CONF_NBUILTIN_RULES; i++) {
		assert_string_equal(c->rules[i].name, builtin[i].name);
		assert_int_equal(c->rules[i].builtin, 1);
		assert_int_equal(c->rules[i].enabled, 1);
		assert_int_equal(c->rules[i].severity, builtin[i].severity);
		assert_null(c->rules[i].query);
		assert_int_equal(c->rules[i].renotify_ms, 0);
		assert_int_equal(c->rules[i].line, 0);
		assert_int_equal(conf_rule_is_builtin(builtin[i].name), 1);
	}
	assert_int_equal(conf_rule_is_builtin("connector-serial"), 0);
	conf_free(c);

	/* A target with only hosts: share, guest, protocols, timings. */
	c = load_ok("[maildatd]\ninterval = 1h\ntimeout = 10s\n"
	    "[target t]\nhosts = h1\n");
	assert_int_equal(c->ntargets, 1);
	assert_string_equal(c->targets[0].share, "MAILDAT$");
	assert_null(c->targets[0].credentials);
	assert_string_equal(c->targets[0].min_protocol, "NT1");
	assert_string_equal(c->targets[0].max_protocol, "SMB3");
	assert_int_equal(c->targets[0].interval_ms, 3600 * 1000);
	assert_int_equal(c->targets[0].timeout_ms, 10 * 1000);
	assert_int_equal(c->targets[0].discover, 0);
	conf_free(c);

	/* The database's upkeep, in weeks and years. */
	c = load_ok("[maildatd]\nretention = 2w\nalert_retention = 1y\n"
	    "retire_after = 10d\nrules_interval = 5m\nrule_timeout = 30s\n");
	assert_int_equal(c->retention_ms, 14LL * 24 * 3600 * 1000);
	assert_int_equal(c->alert_retention_ms, 365LL * 24 * 3600 * 1000);
	assert_int_equal(c->retire_after_ms, 10LL * 24 * 3600 * 1000);
	assert_int_equal(c->rules_interval_ms, 5 * 60 * 1000);
	assert_int_equal(c->rule_timeout_ms, 30 * 1000);
	conf_free(c);
}

static void
test_err_unknown_key(void **state)
{
	(void)state;
	expect_exact("[maildatd]\nworkers = 4\nfoo = 1\n", 3,
	    "unknown key 'foo' in [maildatd]");
	expect_exact("[target lab]\nurl = smb://h/S\n\nhost = h1\n", 4,
	    "unknown key 'host' in [target lab]");
	/* A key of another section type is unknown here. */
	expect_exact("[rule mine]\nquery = SELECT 1\nworkers = 2\n", 3,
	    "unknown key 'workers' in [rule mine]");
}

static void
test_err_unknown_section(void **state)
{
	(void)state;
	/* The keys of a refused section are not reported again. */
	expect_exact("[maildatd]\nworkers = 4\n\n[server x]\nfoo = 1\n", 4,
	    "unknown section type 'server' (expected maildatd, credentials, "
	    "target or rule)");
	expect_error("[maildatd x]\n", 1, "[maildatd] takes no name");
	/* Found by fuzzing: an empty hosts list, and ranges without end. */
	expect_error("[target a]\nhosts = ,\n", 2, "[target a] names no "
	    "host");
	expect_error("[target a]\nhosts = 10.0.0.0/16 10.1.0.0/16 "
	    "10.2.0.0/16\n[target b]\nhosts = 10.3.0.0/16 10.4.0.0/16\n", 4,
	    "hosts: 10.4.0.0/16 takes the targets past 262144 addresses");
	expect_error("[maildatd]\n[target]\nhosts = h\n", 2,
	    "[target] needs a name");
	expect_error("[target a/b]\nhosts = h\n", 1, "bad target name 'a/b'");
	expect_error("[credentials guest]\nauth_file = /x\n", 1,
	    "'guest' is reserved");
	expect_error("[maildatd]\n\n[target a\nhosts = h\n", 3,
	    "section header without ']'");
	expect_error("[target a] extra\nhosts = h\n", 1,
	    "text after the section header");
}

static void
test_err_bad_duration(void **state)
{
	(void)state;
	expect_exact("[maildatd]\nworkers = 2\ninterval = 5x\n", 3,
	    "interval: bad duration '5x' (a number with s, m, h, d, w or y: 30s, "
	    "5m, 1h, 2d, 1y)");
	expect_exact("[maildatd]\ninterval = 0s\n", 2,
	    "interval must be greater than 0");
	expect_error("[target t]\nhosts = h\ntimeout = 0\n", 3,
	    "timeout must be greater than 0");
	expect_error("[maildatd]\ntimeout = 2d\n", 2, "longer than 24h");
	expect_error("[rule malformed]\nrenotify = soon\n", 2,
	    "renotify: bad duration 'soon'");
}

static void
test_err_bad_bool(void **state)
{
	(void)state;
	expect_exact("[target t]\nurl = smb://h/S\ndiscover = maybe\n", 3,
	    "discover: 'maybe' is not yes, no, true, false, on, off, 1 or 0");
	expect_error("[rule unreachable]\nenabled = 2\n", 2,
	    "enabled: '2' is not yes");
}

static void
test_err_bad_severity(void **state)
{
	(void)state;
	expect_exact("[rule malformed]\n\nseverity = loud\n", 3,
	    "severity: unknown severity 'loud' (expected emerg, alert, crit, "
	    "err, warning, notice, info or debug)");
}

static void
test_err_workers(void **state)
{
	(void)state;
	expect_exact("[maildatd]\nworkers = 0\n", 2,
	    "workers: '0' is not a whole number from 1 to 256");
	expect_error("[maildatd]\nworkers = 257\n", 2, "from 1 to 256");
	expect_error("[maildatd]\nworkers = 4x\n", 2, "'4x'");
	expect_error("[maildatd]\nworkers = -1\n", 2, "'-1'");
	expect_error("[maildatd]\njobs_per_worker = 0\n", 2,
	    "jobs_per_worker: '0'");
	expect_error("[maildatd]\nunreachable_after = 0\n", 2,
	    "unreachable_after: '0'");
}

static void
test_err_unknown_credentials(void **state)
{
	(void)state;
	expect_exact("[target t]\nhosts = h1\ncredentials = nosuch\n", 3,
	    "[target t]: unknown credentials 'nosuch' (there is no "
	    "[credentials nosuch] section)");
}

static void
test_err_target_empty(void **state)
{
	(void)state;
	expect_exact("[maildatd]\nworkers = 2\n[target empty]\nshare = X\n", 3,
	    "[target empty] has neither hosts nor url");
	expect_error("[target bare]\n", 1, "has neither hosts nor url");
}

static void
test_err_bad_url(void **state)
{
	(void)state;
	expect_error("[target t]\nurl = http://h/S\n", 2,
	    "url: http://h/S: not an smb:// URL");
	expect_error("[target t]\nurl = smb://h:0/S\n", 2, "bad port");
	expect_error("[target t]\nurl = smb://h/S/../T\n", 2,
	    "'.' and '..' are not allowed");
	expect_error("[target t]\nurl =\n", 2, "url is empty");
	/* A URL naming a host only needs discover. */
	expect_error("[target t]\nurl = smb://h\n", 2,
	    "url 'smb://h' names no share");
}

static void
test_err_url_credentials(void **state)
{
	struct conf_errors e;
	struct conf *c;

	(void)state;
	assert_int_equal(load("[target t]\nhosts = h\n"
	    "url = smb://bob:hunter2@h/S\n", &c, &e), -1);
	assert_int_equal(e.n, 1);
	assert_true(strncmp(e.v[0], at(3), strlen(at(3))) == 0);
	assert_non_null(strstr(e.v[0],
	    "credentials in an smb:// URL are refused"));
	assert_null(strstr(e.v[0], "hunter2"));
	conf_errors_free(&e);
}

static void
test_err_cidr(void **state)
{
	(void)state;
	expect_exact("[target t]\nhosts = h1 10.0.0.0/8\n", 2,
	    "hosts: '10.0.0.0/8': range larger than /16 refused (16777216 "
	    "addresses); split it into /16 or smaller ranges");
	expect_error("[target t]\nhosts = 10.1.0.5/28\n", 2,
	    "did you mean 10.1.0.0/28?");
	expect_error("[target t]\nhosts = 10.1.0.0/33\n", 2,
	    "is not an IPv4 range");
	expect_error("[target t]\nhosts = 10.1.0\n", 2,
	    "'10.1.0' is not a valid IPv4 address");
	expect_error("[target t]\nhosts = fe80::/64\n", 2,
	    "IPv6 ranges are not supported");
	expect_error("[target t]\nhosts = fe80::zz\n", 2,
	    "not a valid IPv6 address");
	expect_error("[target t]\nhosts = bad!name\n", 2,
	    "'bad!name' is not a host name");
}

static void
test_err_duplicate_section(void **state)
{
	(void)state;
	expect_exact("[target a]\nhosts = h\n\n[target a]\nhosts = g\n", 4,
	    "duplicate section [target a] (first at line 1)");
	expect_exact("[maildatd]\nworkers = 2\n[maildatd]\n", 3,
	    "duplicate section [maildatd] (first at line 1)");
	expect_error("[rule malformed]\nenabled = no\n[rule malformed]\n", 3,
	    "duplicate section [rule malformed]");
}

static void
test_err_duplicate_key(void **state)
{
	(void)state;
	expect_exact("[maildatd]\nworkers = 2\nworkers = 3\n", 3,
	    "duplicate key 'workers' in [maildatd] (first at line 2)");
	expect_error("[target t]\nhosts = a\nhosts = b\n", 3,
	    "duplicate key 'hosts' in [target t]");
}

static void
test_err_authfile_mode(void **state)
{
	char auth[512], text[1024];

	(void)state;
	mkfile(auth, sizeof(auth), "open.auth",
	    "username = u\npassword = p\n", 0644);
	snprintf(text, sizeof(text), "[credentials corp]\n\nauth_file = %s\n"
	    "[target t]\nhosts = h\ncredentials = corp\n", auth);
	expect_error(text, 3, "credentials corp: ");
	expect_error(text, 3, "mode 0644 is too open");

	/* 0400 is fine. */
	mkfile(auth, sizeof(auth), "ro.auth", "username = u\n", 0400);
	snprintf(text, sizeof(text), "[credentials ro]\nauth_file = %s\n",
	    auth);
	conf_free(load_ok(text));
}

static void
test_err_authfile_missing(void **state)
{
	char text[1024], want[1024];

	(void)state;
	snprintf(text, sizeof(text), "[credentials corp]\n"
	    "auth_file = %s/nosuch.auth\n", tmpdir);
	snprintf(want, sizeof(want), "credentials corp: %s/nosuch.auth: "
	    "No such file or directory", tmpdir);
	expect_exact(text, 2, want);
	expect_exact("[credentials corp]\n", 1,
	    "[credentials corp] has no auth_file");
	expect_error("[credentials corp]\nauth_file = corp.auth\n", 2,
	    "auth_file: 'corp.auth' is not an absolute path");
}

/* Auth files as smbclient reads them. */
static void
test_authfile_smbclient_forms(void **state)
{
	static const struct {
		const char *text, *user, *pass, *domain;
	} v[] = {
		{ "Username = u\nPassword = p\n", "u", "p", NULL },
		{ "username = CORP\\u\npassword = p\n", "u", "p", "CORP" },
		{ "username = u@CORP.EXAMPLE\npassword = p\n", "u", "p",
		    "CORP.EXAMPLE" },
		{ "username = u\nrealm = R.EXAMPLE\npassword = p\n", "u", "p",
		    "R.EXAMPLE" },
		{ "username = u\ndomain = D\nrealm = R\npassword = p\n", "u",
		    "p", "D" },
		{ "# smbclient\nusername = u\npassword = p  \n", "u", "p  ",
		    NULL },
		{ "username = u\nworkgroup = W\nno equals here\npassword = "
		    "a=b\n", "u", "a=b", NULL },
		{ "username = u%pw\r\n", "u", "pw", NULL },
		{ "USERNAME=u\nPASSWORD=p\nDOMAIN=D\n", "u", "p", "D" },
	};
	char auth[512], text[1024];
	struct conf *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		mkfile(auth, sizeof(auth), "form.auth", v[i].text, 0600);
		snprintf(text, sizeof(text), "[credentials corp]\n"
		    "auth_file = %s\n", auth);
		c = load_ok(text);
		assert_string_equal(c->creds[0].username, v[i].user);
		assert_string_equal(c->creds[0].password, v[i].pass);
		if (v[i].domain == NULL)
			assert_null(c->creds[0].domain);
		else
			assert_string_equal(c->creds[0].domain, v[i].domain);
		conf_free(c);
	}
}

static void
test_err_kerberos(void **state)
{
	char auth[512], text[1024];

	(void)state;
	mkfile(auth, sizeof(auth), "k.auth", "username = u\n", 0600);
	snprintf(text, sizeof(text), "[credentials k]\nkerberos = maybe\n"
	    "auth_file = %s\n", auth);
	expect_error(text, 2, "kerberos: 'maybe' is not no, yes or required");
	expect_error("[credentials k]\nkeytab = /k\n", 2,
	    "keytab needs kerberos = yes or required");
	expect_error("[credentials k]\nkerberos = yes\nkeytab = /k\n"
	    "ccache = /c\nprincipal = u@R\n", 4,
	    "keytab and ccache exclude each other");
	expect_error("[credentials k]\nkerberos = required\n", 1,
	    "has no auth_file (nor keytab or ccache)");
	expect_error("[credentials k]\nkerberos = required\nccache = /c\n",
	    3, "ccache without auth_file needs principal");
	snprintf(text, sizeof(text), "[credentials k]\nauth_file = %s\n"
	    "principal = u@R\n", auth);
	expect_error(text, 3, "principal needs keytab or ccache");
	snprintf(text, sizeof(text), "[credentials k]\nkerberos = required\n"
	    "keytab = %s/nosuch.keytab\n", tmpdir);
	expect_error(text, 3, "credentials k: ");
	expect_error(text, 3, "No such file or directory");
}

static void
test_kerberos_ccache(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok("[credentials k]\nkerberos = Required\n"
	    "ccache = FILE:/run/k.cc\nprincipal = mon@CORP.EXAMPLE\n");
	assert_int_equal(c->creds[0].kerberos, CONF_KRB_REQUIRED);
	assert_string_equal(c->creds[0].ccache, "/run/k.cc");
	assert_string_equal(c->creds[0].username, "mon");
	assert_string_equal(c->creds[0].domain, "CORP.EXAMPLE");
	assert_string_equal(c->creds[0].password, "");
	conf_free(c);
	c = load_ok("[credentials k]\nkerberos = yes\n"
	    "ccache = KEYRING:persistent:0\nprincipal = m@R\n");
	assert_int_equal(c->creds[0].kerberos, CONF_KRB_YES);
	assert_string_equal(c->creds[0].ccache, "KEYRING:persistent:0");
	conf_free(c);
}

static void
test_err_rules(void **state)
{
	(void)state;
	expect_exact("[rule duplicate-serial]\nquery = SELECT 1\n", 2,
	    "query is not allowed in [rule duplicate-serial]: "
	    "duplicate-serial is a built-in rule (only enabled, severity and "
	    "renotify may be set)");
	expect_error("[maildatd]\n[rule mine]\nseverity = err\n", 2,
	    "[rule mine] has no query");
	expect_error("[rule mine]\nquery =\n", 1, "[rule mine] has no query");
}

static void
test_err_other(void **state)
{
	(void)state;
	expect_exact("[maildatd]\ndatabase =\n", 2, "database is empty");
	expect_error("[maildatd]\ndatabase = maildat.db\n", 2,
	    "not an absolute path");
	expect_exact("workers = 2\n[maildatd]\n", 1,
	    "key 'workers' outside a section");
	expect_exact("[maildatd]\nworkers\n", 2,
	    "expected 'key = value', '[section]' or a comment");
	expect_error("[maildatd]\nsyslog = udp:loghost\n", 2,
	    "syslog: missing :port");
	expect_error("[maildatd]\nsyslog = unix:dev/log\n", 2,
	    "needs an absolute path");
	expect_error("[maildatd]\nsyslog = tcp:::1:514\n", 2, "in brackets");
	expect_error("[maildatd]\nsyslog = udp:h:70000\n", 2, "bad port");
	expect_error("[maildatd]\nsyslog = remote\n", 2,
	    "'remote' is not local");
	expect_error("[maildatd]\nsyslog_facility = kern\n", 2,
	    "unknown facility 'kern'");
	expect_error("[target t]\nhosts = h\nprotocol = SMB4\n", 3,
	    "unknown dialect 'SMB4'");
	expect_error("[target t]\nhosts = h\nprotocol = SMB3 NT1\n", 3,
	    "lowest dialect SMB3 is above highest NT1");
	expect_error("[target t]\nhosts = h\nprotocol = NT1 SMB2 SMB3\n", 3,
	    "protocol: give the lowest dialect");
	expect_error("[target t]\nhosts = h\nshare = a/b\n", 3,
	    "bad share name 'a/b'");
	/* An indented line continues the key above: not for single values. */
	expect_exact("[maildatd]\nuser = a\n  workers = 3\n", 3,
	    "indented line: 'user' takes one line (an indented line "
	    "continues the key above it)");
}

static void
test_missing_file(void **state)
{
	struct conf_errors e;
	struct conf *c;
	char path[600], want[700];

	(void)state;
	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	assert_int_equal(conf_load(path, &c, &e), -1);
	assert_null(c);
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(e.v[0], want);
	conf_errors_free(&e);
}

static void
test_several_errors(void **state)
{
	struct conf_errors e;
	struct conf *c;
	char want[1024];

	(void)state;
	assert_int_equal(load(
	    "[maildatd]\n"				/* 1 */
	    "workers = 0\n"				/* 2 */
	    "interval = soon\n"				/* 3 */
	    "\n"
	    "[target a]\n"				/* 5: no hosts nor url */
	    "share = X\n"
	    "colour = blue\n"				/* 7 */
	    "[target b]\n"
	    "hosts = 10.0.0.0/12\n"			/* 9 */
	    "credentials = nobody\n"			/* 10 */
	    "[rule mine]\n"				/* 11: no query */
	    "severity = urgent\n",			/* 12 */
	    &c, &e), -1);
	assert_null(c);
	assert_int_equal(e.n, 8);
	snprintf(want, sizeof(want), "%sworkers: '0' is not a whole number "
	    "from 1 to 256", at(2));
	assert_string_equal(e.v[0], want);
	snprintf(want, sizeof(want), "%sinterval: bad duration 'soon' (a "
	    "number with s, m, h, d, w or y: 30s, 5m, 1h, 2d, 1y)", at(3));
	assert_string_equal(e.v[1], want);
	snprintf(want, sizeof(want), "%s[target a] has neither hosts nor url",
	    at(5));
	assert_string_equal(e.v[2], want);
	snprintf(want, sizeof(want), "%sunknown key 'colour' in [target a]",
	    at(7));
	assert_string_equal(e.v[3], want);
	assert_true(strncmp(e.v[4], at(9), strlen(at(9))) == 0);
	assert_non_null(strstr(e.v[4], "'10.0.0.0/12': range larger"));
	snprintf(want, sizeof(want), "%s[target b]: unknown credentials "
	    "'nobody' (there is no [credentials nobody] section)", at(10));
	assert_string_equal(e.v[5], want);
	assert_true(strncmp(e.v[6], at(11), strlen(at(11))) == 0);
	assert_non_null(strstr(e.v[6], "[rule mine] has no query"));
	assert_true(strncmp(e.v[7], at(12), strlen(at(12))) == 0);
	assert_non_null(strstr(e.v[7], "unknown severity 'urgent'"));
	conf_errors_free(&e);
}

static void
test_cidr_expansion(void **state)
{
	struct conf *c;
	char **urls;
	size_t n;

	(void)state;
	c = load_ok("[target a]\nhosts = 192.168.7.0/30\n"
	    "[target b]\nhosts = 192.168.7.9/32\nshare = PO\n"
	    "[target c]\nhosts = 192.168.7.10/31\n"
	    "[target d]\nhosts = 172.16.0.0/16\n");
	assert_int_equal(c->ntargets, 4);

	target_urls(c, 0, &urls, &n);
	assert_int_equal(n, 2);
	assert_string_equal(urls[0], "smb://192.168.7.1/MAILDAT$");
	assert_string_equal(urls[1], "smb://192.168.7.2/MAILDAT$");
	target_urls_free(urls, n);

	target_urls(c, 1, &urls, &n);
	assert_int_equal(n, 1);
	assert_string_equal(urls[0], "smb://192.168.7.9/PO");
	target_urls_free(urls, n);

	target_urls(c, 2, &urls, &n);
	assert_int_equal(n, 2);
	assert_string_equal(urls[0], "smb://192.168.7.10/MAILDAT$");
	assert_string_equal(urls[1], "smb://192.168.7.11/MAILDAT$");
	target_urls_free(urls, n);

	/* The largest range allowed. */
	target_urls(c, 3, &urls, &n);
	assert_int_equal(n, 65534);
	assert_string_equal(urls[0], "smb://172.16.0.1/MAILDAT$");
	assert_string_equal(urls[255], "smb://172.16.1.0/MAILDAT$");
	assert_string_equal(urls[65533], "smb://172.16.255.254/MAILDAT$");
	target_urls_free(urls, n);
	conf_free(c);
}

static void
test_urls_accumulate(void **state)
{
	struct conf *c;
	char **urls;
	size_t n;

	(void)state;
	c = load_ok("[target lab]\n"
	    "hosts = h1 [fe80::2], h2\n"
	    "url = smb://127.0.0.1:4450/MAILDAT$\n"
	    "url = smb://[::1]:4451/PO/sub dir\n"
	    "; a comment between\n"
	    "url = smb://h1/MAILDAT$   ; the same as hosts' h1\n"
	    "url = smb://h3/\n"
	    "      smb://h4/SHARE\n"
	    "discover = on\n");
	assert_int_equal(c->targets[0].nhosts, 3);
	assert_string_equal(c->targets[0].hosts[0], "h1");
	assert_string_equal(c->targets[0].hosts[1], "fe80::2");
	assert_string_equal(c->targets[0].hosts[2], "h2");
	assert_int_equal(c->targets[0].nurls, 5);
	assert_string_equal(c->targets[0].urls[0],
	    "smb://127.0.0.1:4450/MAILDAT$");
	assert_string_equal(c->targets[0].urls[1], "smb://[::1]:4451/PO/sub dir");
	assert_string_equal(c->targets[0].urls[2], "smb://h1/MAILDAT$");
	assert_string_equal(c->targets[0].urls[3], "smb://h3/");
	assert_string_equal(c->targets[0].urls[4], "smb://h4/SHARE");
	assert_int_equal(c->targets[0].discover, 1);

	/*
	 * Hosts first, then URLs, normalised; the repeated h1 once.  With
	 * discover, a host, or a URL without a folder, is the host's shares.
	 */
	target_urls(c, 0, &urls, &n);
	assert_int_equal(n, 7);
	assert_string_equal(urls[0], "smb://h1/");
	assert_string_equal(urls[1], "smb://[fe80::2]/");
	assert_string_equal(urls[2], "smb://h2/");
	assert_string_equal(urls[3], "smb://127.0.0.1:4450/");
	assert_string_equal(urls[4], "smb://[::1]:4451/PO/sub%20dir");
	assert_string_equal(urls[5], "smb://h3/");
	assert_string_equal(urls[6], "smb://h4/");
	target_urls_free(urls, n);
	conf_free(c);
}

static void
test_inline_comments(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok("# a comment line\n"
	    "; another\n"
	    "[maildatd]   ; the globals\n"
	    "workers = 4 ; four\n"
	    "user = bob\t# hash comment\n"
	    "smb_conf = # none\n"
	    "pidfile =\n"
	    "[target t]\n"
	    "hosts = h1 h2 ; two hosts\n"
	    "share = MAIL;DAT#1\n"		/* no space: not a comment */
	    "[rule mine]\n"
	    "query = SELECT 'a;b' AS key, x AS message FROM t ; trailing\n");
	assert_int_equal(c->workers, 4);
	assert_string_equal(c->user, "bob");
	assert_null(c->smb_conf);
	assert_null(c->pidfile);
	assert_int_equal(c->targets[0].nhosts, 2);
	assert_string_equal(c->targets[0].hosts[1], "h2");
	assert_string_equal(c->targets[0].share, "MAIL;DAT#1");
	assert_string_equal(conf_find_rule(c, "mine")->query,
	    "SELECT 'a;b' AS key, x AS message FROM t");
	conf_free(c);
	/* "2m;" is the value: a bad duration. */
	expect_error("[maildatd]\ninterval = 2m;\n", 2,
	    "bad duration '2m;'");
}

static void
test_continuation(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok("[rule mine]\n"
	    "query = SELECT location AS key,\n"
	    "\t'x' AS message   ; a comment\n"
	    "\n"
	    "    FROM postoffices\n"
	    "severity = info\n"
	    "[target t]\n"
	    "hosts = a b\n"
	    "  c 10.0.0.0/30\n");
	assert_string_equal(conf_find_rule(c, "mine")->query,
	    "SELECT location AS key,\n'x' AS message\nFROM postoffices");
	assert_int_equal(conf_find_rule(c, "mine")->severity, LOG_INFO);
	assert_int_equal(c->targets[0].nhosts, 4);
	assert_string_equal(c->targets[0].hosts[2], "c");
	assert_string_equal(c->targets[0].hosts[3], "10.0.0.0/30");
	conf_free(c);

	/* After a section header an indented line is a key, not more. */
	c = load_ok("[target t]\nhosts = a\n[maildatd]\n  workers = 3\n");
	assert_int_equal(c->workers, 3);
	assert_int_equal(c->targets[0].nhosts, 1);
	conf_free(c);
	expect_exact("[maildatd]\n  workers = 3\n  user = x\n", 3,
	    "indented line: 'workers' takes one line (an indented line "
	    "continues the key above it)");

	/* Line numbers stay right after continuation lines. */
	expect_error("[rule mine]\nquery = SELECT 1 AS key,\n  2 AS message\n"
	    "  FROM t\nfoo = 1\n", 5, "unknown key 'foo' in [rule mine]");
	expect_error("[target t]\nhosts = a\n  b c/24\n", 3,
	    "hosts: 'c/24' is not an IPv4 range");
}

static void
test_long_lines(void **state)
{
	struct conf *c;
	char *text, *query, *db;
	size_t i;

	(void)state;
	query = malloc(2100);
	db = malloc(600);
	assert_non_null(query);
	assert_non_null(db);
	strcpy(query, "SELECT location AS key, address AS message FROM "
	    "postoffices WHERE serial IN (");
	for (i = 0; i < 200; i++)
		strcat(query, i == 0 ? "'1-1'" : ",'1-1'");
	strcat(query, ")");
	assert_true(strlen(query) > 1000);
	strcpy(db, "/");
	for (i = 0; i < 50; i++)
		strcat(db, "directory/");
	strcat(db, "maildat.db");
	assert_int_equal(asprintf(&text,
	    "; %s\n"				/* a long comment: 1 */
	    "[maildatd]\n"
	    "database = %s ; long\n"
	    "[rule long]\n"
	    "query = %s ; a comment after a long query\n"	/* 5 */
	    "enabled = no\n", query, db, query) > 0, 1);
	c = load_ok(text);
	assert_string_equal(c->database, db);
	assert_string_equal(conf_find_rule(c, "long")->query, query);
	assert_int_equal(conf_find_rule(c, "long")->enabled, 0);
	assert_int_equal(conf_find_rule(c, "long")->line, 4);
	conf_free(c);
	free(text);

	/* The line after a long line is still counted right. */
	assert_int_equal(asprintf(&text, "[rule long]\nquery = %s\nbogus = 1\n",
	    query) > 0, 1);
	expect_exact(text, 3, "unknown key 'bogus' in [rule long]");
	free(text);
	assert_int_equal(asprintf(&text, "[rule long]\nquery = %s\n"
	    "query = %s\n", query, query) > 0, 1);
	expect_exact(text, 3,
	    "duplicate key 'query' in [rule long] (first at line 2)");
	free(text);
	free(query);
	free(db);
}

static void
test_bom_crlf(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok("\xEF\xBB\xBF[maildatd]\r\nworkers = 7\r\n"
	    "user = crlf ; comment\r\n");
	assert_int_equal(c->workers, 7);
	assert_string_equal(c->user, "crlf");
	conf_free(c);
	expect_error("\xEF\xBB\xBF[maildatd]\r\n\r\nworkers = x\r\n", 3,
	    "workers: 'x'");
}

static void
test_parse_helpers(void **state)
{
	struct confval_syslog d;
	char err[256];
	int v;

	(void)state;
	assert_int_equal(confval_bool("Yes", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(confval_bool("on", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(confval_bool("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(confval_bool("TRUE", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(confval_bool("off", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(confval_bool("false", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(confval_bool("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(confval_bool("no", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(confval_bool("", &v), -1);
	assert_int_equal(confval_bool("yess", &v), -1);

	assert_int_equal(confval_severity("emerg", &v), 0);
	assert_int_equal(v, LOG_EMERG);
	assert_int_equal(confval_severity("warning", &v), 0);
	assert_int_equal(v, LOG_WARNING);
	assert_int_equal(confval_severity("debug", &v), 0);
	assert_int_equal(v, LOG_DEBUG);
	assert_int_equal(confval_severity("warn", &v), -1);
	assert_string_equal(confval_severity_name(LOG_ERR), "err");
	assert_string_equal(confval_severity_name(LOG_NOTICE), "notice");
	assert_string_equal(confval_severity_name(LOG_ALERT), "alert");
	assert_string_equal(confval_severity_name(99), "unknown");

	assert_int_equal(confval_facility("daemon", &v), 0);
	assert_int_equal(v, LOG_DAEMON);
	assert_int_equal(confval_facility("user", &v), 0);
	assert_int_equal(v, LOG_USER);
	assert_int_equal(confval_facility("local0", &v), 0);
	assert_int_equal(v, LOG_LOCAL0);
	assert_int_equal(confval_facility("local7", &v), 0);
	assert_int_equal(v, LOG_LOCAL7);
	assert_int_equal(confval_facility("local8", &v), -1);
	assert_int_equal(confval_facility("local", &v), -1);
	assert_int_equal(confval_facility("auth", &v), -1);

	assert_int_equal(confval_syslog("local", &d, err, sizeof(err)), 0);
	assert_int_equal(d.kind, CONFVAL_SYSLOG_LOCAL);
	assert_int_equal(confval_syslog("unix:/dev/log", &d, err,
	    sizeof(err)), 0);
	assert_int_equal(d.kind, CONFVAL_SYSLOG_UNIX);
	assert_string_equal(d.path, "/dev/log");
	assert_int_equal(confval_syslog("udp:loghost.example:514", &d, err,
	    sizeof(err)), 0);
	assert_int_equal(d.kind, CONFVAL_SYSLOG_UDP);
	assert_string_equal(d.host, "loghost.example");
	assert_string_equal(d.port, "514");
	assert_int_equal(confval_syslog("tcp:[2001:db8::1]:6514", &d, err,
	    sizeof(err)), 0);
	assert_int_equal(d.kind, CONFVAL_SYSLOG_TCP);
	assert_string_equal(d.host, "2001:db8::1");
	assert_string_equal(d.port, "6514");
	assert_int_equal(confval_syslog("tcp:10.0.0.1:0", &d, err,
	    sizeof(err)), -1);
	assert_int_equal(confval_syslog("tcp:[10.0.0.1]:514", &d, err,
	    sizeof(err)), -1);
	assert_int_equal(confval_syslog("udp::514", &d, err, sizeof(err)),
	    -1);
	assert_int_equal(confval_syslog("LOCAL", &d, err, sizeof(err)), -1);
}

static void
test_default_path(void **state)
{
	const char *p = conf_default_path();

	(void)state;
	assert_true(p[0] == '/');
	assert_true(strlen(p) > strlen("/maildatd/maildatd.conf"));
	assert_string_equal(p + strlen(p) - strlen("/maildatd/maildatd.conf"),
	    "/maildatd/maildatd.conf");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_err_unknown_key),
		cmocka_unit_test(test_err_unknown_section),
		cmocka_unit_test(test_err_bad_duration),
		cmocka_unit_test(test_err_bad_bool),
		cmocka_unit_test(test_err_bad_severity),
		cmocka_unit_test(test_err_workers),
		cmocka_unit_test(test_err_unknown_credentials),
		cmocka_unit_test(test_err_target_empty),
		cmocka_unit_test(test_err_bad_url),
		cmocka_unit_test(test_err_url_credentials),
		cmocka_unit_test(test_err_cidr),
		cmocka_unit_test(test_err_duplicate_section),
		cmocka_unit_test(test_err_duplicate_key),
		cmocka_unit_test(test_err_authfile_mode),
		cmocka_unit_test(test_err_authfile_missing),
		cmocka_unit_test(test_authfile_smbclient_forms),
		cmocka_unit_test(test_err_kerberos),
		cmocka_unit_test(test_kerberos_ccache),
		cmocka_unit_test(test_err_rules),
		cmocka_unit_test(test_err_other),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_several_errors),
		cmocka_unit_test(test_cidr_expansion),
		cmocka_unit_test(test_urls_accumulate),
		cmocka_unit_test(test_inline_comments),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_bom_crlf),
		cmocka_unit_test(test_parse_helpers),
		cmocka_unit_test(test_default_path),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
