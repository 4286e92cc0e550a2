/* reload: load, check and swap the configuration. */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "conf.h"
#include "log.h"
#include "pool.h"
#include "recorder.h"
#include "reload.h"
#include "rules.h"
#include "sched.h"
#include "sink.h"
#include "store.h"
#include "targets.h"
#include "tickets.h"
#include "xmalloc.h"

static struct conf	*reload_cur;
static const char	*reload_file;
static time_t		 reload_when;
static int		 reload_lockfd = -1;
static dev_t		 reload_db_dev;		/* the database file opened */
static ino_t		 reload_db_ino;

/* Note which file the database in use is. */
static void
reload_note_db(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == 0) {
		reload_db_dev = sb.st_dev;
		reload_db_ino = sb.st_ino;
	} else
		reload_db_dev = reload_db_ino = 0;
}

/* Whether the file at path is no longer the database in use. */
static int
reload_db_moved(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		return 1;
	return sb.st_dev != reload_db_dev || sb.st_ino != reload_db_ino;
}

/* Return the recorder's policy from c. */
static void
reload_policy(const struct conf *c, struct recorder_policy *pol)
{
	pol->retention_ms = c->retention_ms;
	pol->alert_retention_ms = c->alert_retention_ms;
	pol->retire_after_ms = c->retire_after_ms;
}

static void
reload_rules_free(struct rules *rs)
{
	if (rs != NULL) {
		rules_free(rs);
		free(rs);
	}
}

/* Load the configuration at path and check it; every problem to errs. */
int
reload_check(const char *path, const struct conf *old, struct conf **c,
    struct rules **rs, struct conf_errors *errs, struct conf_errors *notes)
{
	struct target_location *v;
	struct store *st;
	char err[512];
	size_t n;

	*rs = NULL;
	conf_load(path, c, errs);
	if (*c == NULL)
		return -1;
	conf_read_secrets(*c, old, errs);
	/* Rule queries are checked against the schema, in memory. */
	if (store_open(":memory:", STORE_RDWR | STORE_CREATE, &st, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	*rs = xcalloc(1, sizeof(**rs));
	if (rules_build(*c, st, *rs, errs) == -1) {
		free(*rs);
		*rs = NULL;
	}
	store_close(st);
	if (errs->n == 0 && notes != NULL &&
	    targets_expand(*c, &v, &n, notes) == 0)
		targets_free(v, n);
	conf_errors_sort(errs, path);
	if (errs->n > 0) {
		reload_rules_free(*rs);
		*rs = NULL;
		conf_free(*c);
		*c = NULL;
		return -1;
	}
	return 0;
}

/* Keep c (taken), read from path, as the configuration in force. */
void
reload_init(const char *path, struct conf *c, int lockfd)
{
	reload_file = path;
	reload_cur = c;
	reload_when = time(NULL);
	reload_lockfd = lockfd;
	reload_note_db(c->database);
}

/* Fill in the recorder's policy from the configuration in force. */
void
reload_recorder_policy(struct recorder_policy *pol)
{
	reload_policy(reload_cur, pol);
}

/*
 * Open the database of the configuration in force anew (its file was
 * deleted or replaced): lock, open, hand it to the recorder.
 */
int
reload_reopen(char *err, size_t errlen)
{
	struct store *st;
	const char *path = reload_cur->database;
	int lockfd;

	/* The lock file may be the one we hold: let go of it first. */
	store_unlock(reload_lockfd);
	reload_lockfd = -1;
	if ((lockfd = store_lock(path, err, errlen)) == -1)
		return -1;
	if (store_open(path, STORE_RDWR | STORE_CREATE, &st, err, errlen) ==
	    -1) {
		store_unlock(lockfd);
		return -1;
	}
	reload_lockfd = lockfd;
	reload_note_db(path);
	recorder_set_store(st);
	log_warnx("database %s opened anew", path);
	return 0;
}

/* Return the configuration in force. */
const struct conf *
reload_conf(void)
{
	return reload_cur;
}

/* Return the path the configuration is read from. */
const char *
reload_path(void)
{
	return reload_file;
}

/* Return when the configuration in force was loaded (wall clock). */
time_t
reload_loaded(void)
{
	return reload_when;
}

/* Reload: check the file again and, when everything checks, swap. */
int
reload_config(char *msg, size_t msglen)
{
	struct conf_errors errs = { NULL, 0 };
	struct conf *c, *old;
	struct rules *rs;
	struct store *st = NULL;
	struct sink *sk = NULL;
	struct recorder_policy pol;
	char err[512];
	int lockfd = -1, same;

	log_info("reloading %s", reload_file);
	if (reload_check(reload_file, reload_cur, &c, &rs, &errs, NULL) ==
	    -1) {
		conf_errors_log(&errs, msg, msglen);
		conf_errors_free(&errs);
		goto refused;
	}
	same = strcmp(c->database, reload_cur->database) == 0;
	if (same && reload_db_moved(c->database)) {
		/* Deleted or replaced under us: a reload opens it anew. */
		log_warnx("database %s is not the file the daemon has open; "
		    "opening it anew", c->database);
		store_unlock(reload_lockfd);
		reload_lockfd = -1;
		same = 0;
	}
	if (!same &&
	    ((lockfd = store_lock(c->database, err, sizeof(err))) == -1 ||
	    store_open(c->database, STORE_RDWR | STORE_CREATE, &st, err,
	    sizeof(err)) == -1)) {
		log_warnx("%s", err);
		snprintf(msg, msglen, "%s", err);
		store_unlock(lockfd);
		goto undo;
	}
	if ((strcmp(c->syslog, reload_cur->syslog) != 0 ||
	    c->syslog_facility != reload_cur->syslog_facility) &&
	    sink_open(c->syslog, c->syslog_facility, "maildatd", &sk, err,
	    sizeof(err)) == -1) {
		log_warnx("syslog = %s: %s", c->syslog, err);
		snprintf(msg, msglen, "syslog = %s: %s", c->syslog, err);
		store_close(st);
		store_unlock(lockfd);
		goto undo;
	}
	/* Everything checked: swap. */
	if (st != NULL) {
		recorder_set_store(st);
		store_unlock(reload_lockfd);
		reload_lockfd = lockfd;
		reload_note_db(c->database);
	}
	recorder_set_rules(rs);
	reload_policy(c, &pol);
	recorder_set_policy(&pol);
	if (sk != NULL)
		alert_set_sink(sk);
	if (strcmp(c->control_socket, reload_cur->control_socket) != 0)
		log_warnx("control_socket changes take effect at restart");
	old = reload_cur;
	reload_cur = c;
	reload_when = time(NULL);
	tickets_load(c);
	sched_load(c);
	pool_configure(c->workers, c->jobs_per_worker);
	conf_free(old);
	snprintf(msg, msglen, "configuration reloaded: %zu targets",
	    c->ntargets);
	log_info("%s", msg);
	return 0;
undo:
	reload_rules_free(rs);
	conf_free(c);
refused:
	log_warnx("configuration not reloaded; the old one stays in force");
	return -1;
}

/* Free the configuration in force and release its database lock. */
void
reload_free(void)
{
	conf_free(reload_cur);
	reload_cur = NULL;
	store_unlock(reload_lockfd);
	reload_lockfd = -1;
}
