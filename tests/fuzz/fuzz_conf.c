/*
 * fuzz_conf: libFuzzer target for the maildatd.conf reader (lib/conf.c,
 * with lib/confval.c, lib/location.c, lib/targets.c and lib/duration.c
 * under it).
 *
 * conf_load() reads a file, so each input is written to one temporary file
 * made once per process (mkstemp in /tmp, then ftruncate and pwrite for
 * every input); auth files are never opened (conf_read_secrets() is not
 * called).  A loaded configuration is checked against conf.h (a result or
 * messages; messages free of control characters; defaults filled in;
 * syslog accepted by confval_syslog) and its targets are expanded with
 * targets_expand(), whose locations must give URLs that parse back to the
 * same key.  Everything is freed.  Built by tools/fuzz.sh.
 *
 * An IPv4 range expands to up to 65534 URLs and conf.c sets no limit on
 * the total, so a few bytes per range can ask for millions of URLs.  To
 * keep each run short, a target is expanded with only as many of its hosts
 * entries as stay under FUZZ_MAX_ADDRS addresses.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "confval.h"
#include "location.h"
#include "targets.h"

#define FUZZ_MAX_ADDRS	(UINT64_C(1) << 17)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char	 conf_path[] = "/tmp/fuzz_conf.XXXXXX";
static int	 conf_fd = -1;

static void
cleanup(void)
{
	if (conf_fd != -1) {
		close(conf_fd);
		unlink(conf_path);
		conf_fd = -1;
	}
}

/* Abort if s holds a control character (conf.c promises it does not). */
static void
check_msg(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			abort();
}

/* How many addresses hosts entry h can stand for (an estimate, >= 1). */
static uint64_t
host_weight(const char *h)
{
	const char *slash = strchr(h, '/');
	long prefix;

	if (slash == NULL || strchr(h, ':') != NULL)
		return 1;
	prefix = strtol(slash + 1, NULL, 10);
	if (prefix < 0 || prefix > 32)
		return 1;
	return UINT64_C(1) << (32 - prefix);
}

static void
check_target(const struct conf_target *t)
{
	if (t->name == NULL || t->share == NULL || t->min_protocol == NULL ||
	    t->max_protocol == NULL || t->interval_ms <= 0 || t->timeout_ms <= 0)
		abort();
}

/* Expand the targets of c, each with as many hosts as FUZZ_MAX_ADDRS allows. */
static void
check_targets(struct conf *c)
{
	struct target_location *v;
	struct location u;
	uint64_t addrs = 0;
	size_t *keep, n, i, j;
	char *url, *key;

	keep = calloc(c->ntargets + 1, sizeof(*keep));
	if (keep == NULL)
		abort();
	for (i = 0; i < c->ntargets; i++) {
		keep[i] = c->targets[i].nhosts;
		for (j = 0; j < c->targets[i].nhosts; j++) {
			addrs += host_weight(c->targets[i].hosts[j]);
			if (addrs > FUZZ_MAX_ADDRS) {
				c->targets[i].nhosts = j;
				break;
			}
		}
	}
	/* Every entry was checked when the file was loaded. */
	if (targets_expand(c, &v, &n, NULL) == -1)
		abort();
	for (i = 0; i < n; i++) {
		url = location_config_url(&v[i].loc);
		if (location_parse(url, LOCATION_NO_SHARE, &u, NULL, 0) == -1)
			abort();
		u.discover = v[i].loc.discover;
		key = location_key(&u);
		if (strcmp(key, v[i].key) != 0)
			abort();
		free(key);
		free(url);
		location_free(&u);
	}
	targets_free(v, n);
	for (i = 0; i < c->ntargets; i++)
		c->targets[i].nhosts = keep[i];
	free(keep);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors errs;
	struct confval_syslog sl;
	struct conf *c = NULL;
	char err[256];
	size_t i;
	int rc;

	if (conf_fd == -1) {
		if ((conf_fd = mkstemp(conf_path)) == -1) {
			perror("fuzz_conf: mkstemp");
			exit(1);
		}
		atexit(cleanup);
	}
	if (ftruncate(conf_fd, 0) == -1 ||
	    (size > 0 && pwrite(conf_fd, data, size, 0) != (ssize_t)size)) {
		perror("fuzz_conf: write");
		exit(1);
	}

	rc = conf_load(conf_path, &c, &errs);
	if (rc == 0) {
		if (c == NULL || errs.n != 0)
			abort();
		if (confval_syslog(c->syslog, &sl, err, sizeof(err)) == -1)
			abort();
		if (c->nrules < CONF_NBUILTIN_RULES)
			abort();
		for (i = 0; i < c->nrules; i++)
			if (conf_find_rule(c, c->rules[i].name) == NULL)
				abort();
		for (i = 0; i < c->ntargets; i++) {
			if (c->targets[i].credentials != NULL &&
			    conf_find_credentials(c,
			    c->targets[i].credentials) == NULL)
				abort();
			check_target(&c->targets[i]);
		}
		check_targets(c);
	} else {
		if (rc != -1 || errs.n == 0)
			abort();
		for (i = 0; i < errs.n; i++)
			check_msg(errs.v[i]);
	}
	conf_free(c);
	conf_errors_free(&errs);
	return 0;
}
