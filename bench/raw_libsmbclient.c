/*
 * raw_libsmbclient: the raw limit for crawling postoffices with
 * libsmbclient, as a yardstick for maildatd.
 *
 *	raw_libsmbclient [-n PROCS] [-q] URLS
 *
 * URLS is a file with one smb://HOST:PORT/SHARE[/PATH] a line.  Forks
 * PROCS processes (default 8); process i takes locations i, i+PROCS, ...
 * and reads each with one SMBCCTX it keeps for all of them, reading what
 * maildatd's crawl of a sound postoffice reads and nothing else:
 * GLB/MASTER.GLB, GLB/NETWORK.GLB and the XTN file each NETWORK.GLB record
 * names, each opened by name (open, read to the end, close), no folder
 * listed.  (maildatd lists a folder only when an open misses: names in
 * another case on a case-sensitive share, a missing file, or a postoffice
 * one folder down.)  Anonymous session, libsmbclient's
 * defaults otherwise (its configuration comes from the host's smb.conf as
 * for any libsmbclient program; debug level 0).  libsmbclient finds a
 * cached connection by server name, share and user, not by port, so when
 * a process moves to another host:port it drops its cached connections
 * (as maildatd does).  (smbc_setOptionOneSharePerServer, one connection
 * per server, cannot be used: libsmbclient 4.17 then connects the tree of
 * the server's first share again and reads its files for every share.)
 *
 * Prints one line: locations, ok, failed, wall seconds, crawls/s, and the
 * user+sys CPU seconds of the crawling processes (getrusage of the
 * children).  Exit status 1 if a crawl failed.
 *
 * Built and run by bench/run-crawl-bench.sh.
 */
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libsmbclient.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int	 quiet;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
auth(SMBCCTX *c, const char *srv, const char *shr, char *wg, int wglen,
    char *un, int unlen, char *pw, int pwlen)
{
	(void)c; (void)srv; (void)shr; (void)wg; (void)wglen;
	if (unlen > 0)
		un[0] = '\0';
	if (pwlen > 0)
		pw[0] = '\0';
}

/* Read the file at url into buf (at most cap bytes); length or -1. */
static ssize_t
readfile(SMBCCTX *ctx, const char *url, uint8_t *buf, size_t cap)
{
	SMBCFILE *f;
	ssize_t r;
	size_t have = 0;

	if ((f = smbc_getFunctionOpen(ctx)(ctx, url, O_RDONLY, 0)) == NULL)
		return -1;
	while (have < cap && (r = smbc_getFunctionRead(ctx)(ctx, f,
	    buf + have, cap - have)) > 0)
		have += (size_t)r;
	smbc_getFunctionClose(ctx)(ctx, f);
	return (ssize_t)have;
}

/*
 * Crawl one location; 0 if every file was read.  Files are opened by name
 * (the farm's smbd, like Windows, matches names without regard to case), so
 * no folder is listed: the fewest SMB requests that read these files.
 */
static int
crawl(SMBCCTX *ctx, const char *url)
{
	static uint8_t buf[1 << 20];
	char u[2048];
	ssize_t len;
	int i;

	snprintf(u, sizeof(u), "%.1100s/GLB/MASTER.GLB", url);
	if (readfile(ctx, u, buf, sizeof(buf)) != 176)
		return -1;
	snprintf(u, sizeof(u), "%.1100s/GLB/NETWORK.GLB", url);
	if ((len = readfile(ctx, u, buf, sizeof(buf))) < 0)
		return errno == ENOENT ? 0 : -1;
	if (len % 122 != 0)
		return -1;
	for (i = 0; i + 122 <= len; i += 122) {
		uint8_t small[4096];

		if (buf[i + 13] == 0)
			continue;
		snprintf(u, sizeof(u), "%.1100s/XTN/%.8s.XTN", url,
		    (const char *)buf + i + 13);
		if (readfile(ctx, u, small, sizeof(small)) < 0)
			return -1;
	}
	return 0;
}

/* host:port part of url, for noticing a change of server. */
static void
server_of(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://"), *e;

	p = p ? p + 3 : url;
	e = strchr(p, '/');
	snprintf(out, len, "%.*s", e ? (int)(e - p) : (int)strlen(p), p);
}

static int
child(char **urls, int nurls, int first, int step)
{
	SMBCCTX *ctx;
	char last[256] = "", cur[256];
	int i, failed = 0;

	if ((ctx = smbc_new_context()) == NULL)
		return 100;
	smbc_setDebug(ctx, 0);
	smbc_setFunctionAuthDataWithContext(ctx, auth);
	smbc_setOptionUseKerberos(ctx, 0);
	smbc_setOptionFallbackAfterKerberos(ctx, 1);
	if (smbc_init_context(ctx) == NULL)
		return 100;
	for (i = first; i < nurls; i += step) {
		server_of(urls[i], cur, sizeof(cur));
		if (last[0] != '\0' && strcmp(cur, last) != 0)
			smbc_getFunctionPurgeCachedServers(ctx)(ctx);
		snprintf(last, sizeof(last), "%s", cur);
		if (crawl(ctx, urls[i]) != 0) {
			if (!quiet && failed < 3)
				fprintf(stderr, "raw_libsmbclient: %s: %s\n",
				    urls[i], strerror(errno));
			failed++;
		}
	}
	smbc_free_context(ctx, 1);
	return failed > 99 ? 99 : failed;
}

int
main(int argc, char **argv)
{
	char line[1024], **urls = NULL;
	int nurls = 0, nprocs = 8, ch, i, status, failed = 0;
	FILE *f;
	double t0, dt;
	struct rusage ru;
	pid_t pid;

	while ((ch = getopt(argc, argv, "n:q")) != -1) {
		switch (ch) {
		case 'n':
			nprocs = atoi(optarg);
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			fprintf(stderr, "usage: raw_libsmbclient [-n PROCS] [-q] "
			    "URLS\n");
			return 2;
		}
	}
	if (optind + 1 != argc || nprocs < 1) {
		fprintf(stderr, "usage: raw_libsmbclient [-n PROCS] [-q] URLS\n");
		return 2;
	}
	if ((f = fopen(argv[optind], "r")) == NULL) {
		perror(argv[optind]);
		return 2;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		urls = realloc(urls, (size_t)(nurls + 1) * sizeof(*urls));
		urls[nurls++] = strdup(line);
	}
	fclose(f);

	t0 = now();
	for (i = 0; i < nprocs; i++) {
		if ((pid = fork()) == -1) {
			perror("fork");
			return 2;
		}
		if (pid == 0)
			_exit(child(urls, nurls, i, nprocs));
	}
	while ((pid = wait(&status)) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed += WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	dt = now() - t0;
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("raw_libsmbclient: %d locations, %d ok, %d failed, %.3f s, "
	    "%.1f crawls/s, cpu %.2f s (%d processes)\n", nurls,
	    nurls - failed, failed, dt, nurls / dt,
	    ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, nprocs);
	return failed ? 1 : 0;
}
