/*
 * fuzz_url: libFuzzer target for the smb:// URL parser (lib/location.c).
 *
 * Each input is copied into a NUL-terminated string and parsed with
 * location_parse(), once without and once with LOCATION_NO_SHARE.  A URL
 * that parses is formatted back with location_config_url(), which must
 * parse again to the same host, port, share and path, and to the same
 * key; location_url() (with and without an extra path), location_unc()
 * and location_key() must build something.  Everything is freed.  Built
 * by tools/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "location.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == NULL || *a == '\0') && (b == NULL || *b == '\0');
	return strcmp(a, b) == 0;
}

/* Say which promise broke, then crash. */
static void
fail(const char *why, const char *url, const struct location *u,
    const char *formatted, const char *err)
{
	fprintf(stderr, "fuzz_url: %s\n  url: '%s'\n", why, url);
	if (u != NULL)
		fprintf(stderr, "  parsed: host '%s' port %u share '%s' path "
		    "'%s'\n", u->host ? u->host : "(null)", u->port,
		    u->share ? u->share : "(null)",
		    u->path ? u->path : "(null)");
	if (formatted != NULL)
		fprintf(stderr, "  location_url: '%s'\n", formatted);
	if (err != NULL)
		fprintf(stderr, "  %s\n", err);
	abort();
}

static void
one(const char *url, int allow_no_share)
{
	struct location u, v;
	char err[512];
	char *f, *fx, *ku, *kv;

	err[0] = '\0';
	if (location_parse(url, allow_no_share, &u, err, sizeof(err)) == -1) {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			fail("failed without a message", url, NULL, NULL,
			    NULL);
		if (u.host != NULL || u.share != NULL || u.path != NULL)
			fail("failed but left u set", url, &u, NULL, NULL);
		return;
	}
	if (u.host == NULL || u.path == NULL ||
	    (!allow_no_share && (u.share == NULL || u.share[0] == '\0')))
		fail("parsed to a missing host, path or share", url, &u, NULL,
		    NULL);
	f = location_config_url(&u);
	fx = location_url(&u, "SUB DIR/x%y");
	free(location_url(&u, NULL));
	ku = location_key(&u);
	free(location_unc(&u));
	/* What location_config_url() builds must parse back the same. */
	if (location_parse(f, allow_no_share, &v, err, sizeof(err)) == 0) {
		kv = location_key(&v);
		if (!same(u.host, v.host) || u.port != v.port ||
		    !same(u.share, v.share) || !same(u.path, v.path) ||
		    strcmp(ku, kv) != 0) {
			fprintf(stderr, "  reparsed: host '%s' port %u share "
			    "'%s' path '%s'\n", v.host, v.port,
			    v.share ? v.share : "(null)", v.path);
			fail("location_config_url() names another location",
			    url, &u, f, NULL);
		}
		free(kv);
		location_free(&v);
	} else
		fail("location_config_url() built a URL location_parse() "
		    "refuses",
		    url, &u, f, err);
	free(f);
	free(fx);
	free(ku);
	location_free(&u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	one(s, 0);
	one(s, 1);
	free(s);
	return 0;
}
