/*
 * smbio: libsmbclient access.
 *
 * Error reporting.  libsmbclient reports failures as errno values, which
 * lose the difference between a refused logon and a refused share (both
 * EACCES).  Its debug output, at level 3, carries that difference: "SPNEGO
 * login failed: <text>" on a failed session setup, "Server connect ok" once
 * the tree connect succeeded, and "cli_status_to_errno: 0x<status> -> <errno>"
 * for the NT status behind an errno.  smbio installs a log callback, keeps
 * those facts for the operation under way, and forwards the rest to log_debug.
 *
 * Configuration.  libsmbclient reads $HOME/.smb/smb.conf, or failing that
 * the system smb.conf, when the first context of a process is initialised.
 * smbio points HOME at a private directory holding a generated smb.conf, so
 * that the host's Samba settings never change how maildat crawls; a user who
 * wants them names a file with the smb_conf option, which is included.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libsmbclient.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "smbio.h"
#include "xmalloc.h"

struct smbio {
	SMBCCTX		*ctx;
	char		*username;
	char		*password;
	char		*domain;
	int		 connect_timeout_ms;
	char		 protocols[64];	/* "NT1 to SMB3", for messages */
	char		*server;	/* "host:port" of the cached connections */
	char		*share;		/* the share they were opened for */
	int		 carried;	/* a connection from an earlier crawl may
					   serve the next operation */
	int		 server_ok;	/* an operation on server succeeded since
					   it was named and none lost it since */
	int		 kerberos;	/* SMBIO_KRB_* */
	int		 use_ccache;	/* tickets in KRB5CCNAME: no password */
	int		 fell_back;	/* DESIRED: NTLM on this server */
};

/*
 * libsmbclient reads its configuration once per process, so the private
 * directory it names lives as long as the process: smbio_cleanup() removes
 * it when we made it.
 */
static char	*smbio_statedir;
static int	 smbio_statedir_ours;

/* Facts gathered from libsmbclient's log during one operation. */
static struct {
	int		login_failed;
	char		login_text[160];
	int		connected;
	uint32_t	ntstatus;
	int		connecting;	/* TCP connected, dialect not agreed */
	int		noproto;	/* no dialect in common */
	const char	*protocols;	/* the session's range, for messages */
	char		krb_text[200];	/* why Kerberos failed, if it did */
	int		kerberos;	/* the logon was a Kerberos one */
} smbio_seen;

static const struct {
	uint32_t	 code;
	const char	*name;
} smbio_ntstatus[] = {
	{ 0xc0000022, "NT_STATUS_ACCESS_DENIED" },
	{ 0xc000006d, "NT_STATUS_LOGON_FAILURE" },
	{ 0xc000006a, "NT_STATUS_WRONG_PASSWORD" },
	{ 0xc0000064, "NT_STATUS_NO_SUCH_USER" },
	{ 0xc0000234, "NT_STATUS_ACCOUNT_LOCKED_OUT" },
	{ 0xc0000072, "NT_STATUS_ACCOUNT_DISABLED" },
	{ 0xc0000193, "NT_STATUS_ACCOUNT_EXPIRED" },
	{ 0xc0000071, "NT_STATUS_PASSWORD_EXPIRED" },
	{ 0xc0000224, "NT_STATUS_PASSWORD_MUST_CHANGE" },
	{ 0xc000006e, "NT_STATUS_ACCOUNT_RESTRICTION" },
	{ 0xc000006f, "NT_STATUS_INVALID_LOGON_HOURS" },
	{ 0xc0000070, "NT_STATUS_INVALID_WORKSTATION" },
	{ 0xc000015b, "NT_STATUS_LOGON_TYPE_NOT_GRANTED" },
	{ 0xc0000034, "NT_STATUS_OBJECT_NAME_NOT_FOUND" },
	{ 0xc000003a, "NT_STATUS_OBJECT_PATH_NOT_FOUND" },
	{ 0xc00000cc, "NT_STATUS_BAD_NETWORK_NAME" },
	{ 0xc0000043, "NT_STATUS_SHARING_VIOLATION" },
	{ 0xc0000054, "NT_STATUS_FILE_LOCK_CONFLICT" },
	{ 0xc0000056, "NT_STATUS_DELETE_PENDING" },
	{ 0xc00000b5, "NT_STATUS_IO_TIMEOUT" },
	{ 0xc00000ba, "NT_STATUS_FILE_IS_A_DIRECTORY" },
	{ 0xc0000103, "NT_STATUS_NOT_A_DIRECTORY" },
	{ 0xc00000bb, "NT_STATUS_NOT_SUPPORTED" },
	{ 0xc00000c4, "NT_STATUS_UNEXPECTED_NETWORK_ERROR" },
	{ 0xc00000c9, "NT_STATUS_NETWORK_NAME_DELETED" },
	{ 0xc0000203, "NT_STATUS_USER_SESSION_DELETED" },
	{ 0xc000020c, "NT_STATUS_CONNECTION_DISCONNECTED" },
	{ 0xc000020d, "NT_STATUS_CONNECTION_RESET" },
	{ 0xc0000236, "NT_STATUS_CONNECTION_REFUSED" },
	{ 0xc000013b, "NT_STATUS_LOCAL_DISCONNECT" },
	{ 0xc000013c, "NT_STATUS_REMOTE_DISCONNECT" },
	{ 0xc0000008, "NT_STATUS_INVALID_HANDLE" },
	{ 0xc000000d, "NT_STATUS_INVALID_PARAMETER" },
	{ 0xc0000010, "NT_STATUS_INVALID_DEVICE_REQUEST" },
	{ 0xc00000ac, "NT_STATUS_PIPE_NOT_AVAILABLE" },
	{ 0xc0000205, "NT_STATUS_INSUFF_SERVER_RESOURCES" },
	{ 0xc0000017, "NT_STATUS_NO_MEMORY" },
	{ 0xc000009a, "NT_STATUS_INSUFFICIENT_RESOURCES" },
	{ 0xc00000ca, "NT_STATUS_NETWORK_ACCESS_DENIED" },
	{ 0xc0000225, "NT_STATUS_NOT_FOUND" },
};

static const char *
smbio_ntstatus_name(uint32_t code, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(smbio_ntstatus) / sizeof(smbio_ntstatus[0]); i++)
		if (smbio_ntstatus[i].code == code)
			return smbio_ntstatus[i].name;
	snprintf(buf, len, "NT status 0x%08x", code);
	return buf;
}

/* Copy s into d (of size n) with control characters dropped. */
static void
smbio_copyclean(char *d, size_t n, const char *s)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < n; s++)
		if ((unsigned char)*s >= 0x20 && *s != 0x7F)
			d[o++] = *s;
	d[o] = '\0';
}

static void
smbio_logcb(void *arg, int level, const char *msg)
{
	const char *p;
	unsigned int code;
	int e;

	(void)arg;
	if ((p = strstr(msg, "Kerberos auth with ")) != NULL &&
	    strstr(msg, "not possible") != NULL)
		snprintf(smbio_seen.krb_text, sizeof(smbio_seen.krb_text),
		    "no Kerberos logon is possible to a server named by its "
		    "address or as localhost (name it by its host name)");
	else if ((p = strstr(msg, "Kinit for ")) != NULL &&
	    (p = strstr(p, " failed: ")) != NULL)
		smbio_copyclean(smbio_seen.krb_text,
		    sizeof(smbio_seen.krb_text), p + 9);
	else if ((p = strstr(msg, "gss_init_sec_context failed with ")) !=
	    NULL)
		smbio_copyclean(smbio_seen.krb_text,
		    sizeof(smbio_seen.krb_text), p + 33);
	if ((p = strstr(msg, "SPNEGO login failed: ")) != NULL) {
		smbio_seen.login_failed = 1;
		smbio_copyclean(smbio_seen.login_text,
		    sizeof(smbio_seen.login_text), p + 21);
	} else if (strstr(msg, "Server connect ok") != NULL)
		smbio_seen.connected = 1;
	else if ((p = strstr(msg, "cli_status_to_errno: 0x")) != NULL &&
	    sscanf(p + 21, "%x -> %d", &code, &e) == 2)
		smbio_seen.ntstatus = code;
	else if ((p = strstr(msg, "NT_STATUS_LOGON_FAILURE")) != NULL)
		smbio_seen.login_failed = 1;
	else if (strstr(msg, "No compatible protocol") != NULL)
		smbio_seen.noproto = 1;
	else if (strncmp(msg, "Connecting to ", 14) == 0)
		smbio_seen.connecting = 1;
	else if (strstr(msg, "NTLMSSP") != NULL || strstr(msg, "challenge") !=
	    NULL)
		smbio_seen.connecting = 0;	/* negotiated: logging on */
	if (level <= 1 || log_getverbose() > 1) {
		char clean[512];

		smbio_copyclean(clean, sizeof(clean), msg);
		if (clean[0] != '\0')
			log_debug("libsmbclient: %s", clean);
	}
}

static void
smbio_seen_reset(const struct smbio *io)
{
	memset(&smbio_seen, 0, sizeof(smbio_seen));
	smbio_seen.protocols = io->protocols;
	smbio_seen.kerberos = io->kerberos != SMBIO_KRB_OFF && !io->fell_back;
}

static void
smbio_auth(SMBCCTX *c, const char *srv, const char *shr, char *wg, int wglen,
    char *un, int unlen, char *pw, int pwlen)
{
	struct smbio *io = smbc_getOptionUserData(c);

	(void)srv;
	(void)shr;
	if (io->domain != NULL)
		snprintf(wg, (size_t)wglen, "%s", io->domain);
	snprintf(un, (size_t)unlen, "%s", io->username ? io->username : "");
	/*
	 * With tickets in a cache, no password: libsmbclient would get
	 * tickets of its own with it instead of using the cache's.
	 */
	if (io->kerberos != SMBIO_KRB_OFF && !io->fell_back && io->use_ccache)
		pw[0] = '\0';
	else
		snprintf(pw, (size_t)pwlen, "%s", io->password ?
		    io->password : "");
}

static int
smbio_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

/*
 * Write the private smb.conf that libsmbclient reads through $HOME.  It
 * is read once per process, so its client use kerberos line is that of the
 * first session; what counts for each session is smbio_open()'s
 * smbc_setOptionUseKerberos(), which sets the state of every logon.
 */
static int
smbio_write_conf(const char *dir, const char *include, int kerberos,
    char *err, size_t errlen)
{
	static const char *const krb[] = { "off", "desired", "required" };

	char *smbdir, *conf;
	FILE *f;
	int rc = -1;

	smbdir = xasprintf("%s/.smb", dir);
	conf = xasprintf("%s/smb.conf", smbdir);
	if (mkdir(smbdir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", smbdir, strerror(errno));
		goto out;
	}
	if ((f = fopen(conf, "we")) == NULL) {
		snprintf(err, errlen, "%s: %s", conf, strerror(errno));
		goto out;
	}
	fprintf(f, "# written by maildat: libsmbclient reads this file "
	    "instead of the host's smb.conf\n[global]\n"
	    "\tcache directory = %s\n\tlock directory = %s\n"
	    "\tstate directory = %s\n\tprivate dir = %s\n"
	    "\tncalrpc dir = %s\n\tclient use kerberos = %s\n",
	    dir, dir, dir, dir, dir, krb[kerberos]);
	if (include != NULL)
		fprintf(f, "\tinclude = %s\n", include);
	if (fclose(f) != 0) {
		snprintf(err, errlen, "%s: %s", conf, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(smbdir);
	free(conf);
	return rc;
}

/* Put HOME back as it was before smbio_open() changed it. */
static void
smbio_restore_home(char *oldhome)
{
	if (oldhome != NULL) {
		setenv("HOME", oldhome, 1);
		free(oldhome);
	} else
		unsetenv("HOME");
}

/* Create a session with options o. */
struct smbio *
smbio_open(const struct smbio_opts *o, char *err, size_t errlen)
{
	struct smbio *io = xcalloc(1, sizeof(*io));
	char *oldhome = NULL, tmpl[] = "/tmp/maildat-smb.XXXXXX";
	const char *dir;
	SMBCCTX *ctx;

	if (o->smb_conf != NULL && access(o->smb_conf, R_OK) == -1) {
		snprintf(err, errlen, "smb_conf %s: %s", o->smb_conf,
		    strerror(errno));
		free(io);
		return NULL;
	}
	if (smbio_statedir == NULL && o->statedir != NULL) {
		if (mkdir(o->statedir, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", o->statedir,
			    strerror(errno));
			free(io);
			return NULL;
		}
		smbio_statedir = xstrdup(o->statedir);
	} else if (smbio_statedir == NULL) {
		if (mkdtemp(tmpl) == NULL) {
			snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
			free(io);
			return NULL;
		}
		smbio_statedir = xstrdup(tmpl);
		smbio_statedir_ours = 1;
	}
	dir = smbio_statedir;
	if (o->kerberos < SMBIO_KRB_OFF || o->kerberos > SMBIO_KRB_REQUIRED) {
		snprintf(err, errlen, "bad Kerberos mode %d", o->kerberos);
		goto fail;
	}
	if (smbio_write_conf(dir, o->smb_conf, o->kerberos, err,
	    errlen) == -1)
		goto fail;
	io->kerberos = o->kerberos;
	io->use_ccache = o->ccache != NULL;
	/* libsmbclient's Kerberos reads the default cache: this one. */
	if (o->kerberos != SMBIO_KRB_OFF && o->ccache != NULL)
		setenv("KRB5CCNAME", o->ccache, 1);

	io->username = o->username ? xstrdup(o->username) : NULL;
	io->password = o->password ? xstrdup(o->password) : NULL;
	io->domain = o->domain ? xstrdup(o->domain) : NULL;
	io->connect_timeout_ms = o->connect_timeout_ms > 0 ?
	    o->connect_timeout_ms : 5000;

	/*
	 * libsmbclient reads its configuration once per process, in the
	 * first smbc_new_context(): HOME must point at our file by then.
	 */
	if (getenv("HOME") != NULL)
		oldhome = xstrdup(getenv("HOME"));
	setenv("HOME", dir, 1);
	ctx = smbc_new_context();
	if (ctx == NULL) {
		snprintf(err, errlen, "smbc_new_context: %s", strerror(errno));
		smbio_restore_home(oldhome);
		goto fail;
	}
	io->ctx = ctx;
	smbc_setDebug(ctx, 3);
	smbc_setLogCallback(ctx, NULL, smbio_logcb);
	smbc_setOptionUserData(ctx, io);
	smbc_setFunctionAuthDataWithContext(ctx, smbio_auth);
	/*
	 * DESIRED falls back to NTLM here, per server (smbio_fallback), not
	 * in libsmbclient, which would fall back without the password when
	 * the tickets come from a cache.
	 */
	smbc_setOptionUseKerberos(ctx, io->kerberos != SMBIO_KRB_OFF);
	smbc_setOptionFallbackAfterKerberos(ctx, 0);
	smbc_setOptionUseCCache(ctx, 0);
	smbc_setOptionNoAutoAnonymousLogin(ctx, 1);
	smbc_setTimeout(ctx, o->timeout_ms > 0 ? o->timeout_ms : 30000);

	if (smbc_init_context(ctx) == NULL) {
		snprintf(err, errlen, "smbc_init_context: %s", strerror(errno));
		smbc_free_context(ctx, 1);
		io->ctx = NULL;
	}
	smbio_restore_home(oldhome);
	if (io->ctx == NULL)
		goto fail;
	snprintf(io->protocols, sizeof(io->protocols), "%s to %s",
	    o->min_protocol ? o->min_protocol : "NT1",
	    o->max_protocol ? o->max_protocol : "SMB3");
	if (!smbc_setOptionProtocols(ctx,
	    o->min_protocol ? o->min_protocol : "NT1",
	    o->max_protocol ? o->max_protocol : "SMB3")) {
		snprintf(err, errlen, "unknown SMB protocol in %s..%s "
		    "(use NT1, SMB2, SMB3)",
		    o->min_protocol ? o->min_protocol : "NT1",
		    o->max_protocol ? o->max_protocol : "SMB3");
		goto fail;
	}
	return io;
fail:
	smbio_close(io);
	return NULL;
}

static void
smbio_wipe(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Close the session, dropping its cached connections. */
void
smbio_close(struct smbio *io)
{
	if (io == NULL)
		return;
	if (io->ctx != NULL)
		smbc_free_context(io->ctx, 1);
	smbio_wipe(io->username);
	smbio_wipe(io->password);
	smbio_wipe(io->domain);
	free(io->server);
	free(io->share);
	free(io);
}

/*
 * Point io at share of host:port, dropping cached connections to any other
 * server or share.
 */
void
smbio_server(struct smbio *io, const char *host, uint16_t port,
    const char *share)
{
	char *key = xasprintf("%s:%u", host, port);
	int same_server = io->server != NULL && strcmp(io->server, key) == 0;
	int same_share = same_server && io->share != NULL &&
	    strcmp(io->share, share) == 0;

	/*
	 * libsmbclient finds a cached connection by server name, share and
	 * user, not by port: two servers on one host would share one.  And
	 * it opens a connection per share and keeps it until told otherwise:
	 * a worker that crawled 100 shares of one server would hold 100
	 * connections (on Samba, 100 smbd processes), none of them of use to
	 * a crawl of another share, and each to be closed (a tree disconnect
	 * and its answer) some time.  So a crawl of another share than the
	 * last starts by closing what the one before left open, and a crawl
	 * of the same share (another folder of it) goes on with the
	 * connection, saving the server a connection (a fork of smbd) and
	 * the client its negotiation, logon and tree connect.  libsmbclient
	 * checks with an echo that a connection idle for longer than the
	 * request timeout still answers, and opens another if not.
	 */
	if (io->server != NULL && !same_share)
		smbc_getFunctionPurgeCachedServers(io->ctx)(io->ctx);
	if (!same_server) {
		io->server_ok = 0;
		if (io->fell_back) {
			io->fell_back = 0;
			smbc_setOptionUseKerberos(io->ctx, 1);
		}
	}
	io->carried = same_share && io->server_ok;
	free(io->server);
	io->server = key;
	free(io->share);
	io->share = xstrdup(share);
}

/*
 * Note how an operation on io's server went: a success shows that the
 * server answers (smbio_probe need not check again); a failure that may
 * have lost the connection makes the next crawl probe first.
 */
static void
smbio_server_result(struct smbio *io, int ok, const struct smbio_status *st)
{
	if (ok)
		io->server_ok = 1;
	else if (st->outcome == OUTCOME_UNREACHABLE ||
	    st->outcome == OUTCOME_TIMEOUT || st->outcome == OUTCOME_ERROR)
		io->server_ok = 0;
}

/*
 * A connection kept from an earlier crawl may have died unseen since (the
 * server restarted, or dropped it while idle): libsmbclient sends an echo
 * before reusing a connection only when the last was longer ago than the
 * request timeout.  When the first operation on such a connection finds it
 * lost, drop it and return 1: the caller tries once more, on a connection
 * of its own.
 */
static int
smbio_stale(struct smbio *io, const struct smbio_status *st)
{
	if (!io->carried || st->outcome != OUTCOME_UNREACHABLE)
		return 0;
	io->carried = 0;
	log_debug("%s: the connection kept from the last crawl is gone (%s); "
	    "connecting again", io->server, st->message);
	smbc_getFunctionPurgeCachedServers(io->ctx)(io->ctx);
	return 1;
}

/*
 * With Kerberos DESIRED, a logon that failed before any share was reached
 * (an NTLM-only server, one named by its address, no ticket to be had) is
 * tried once more with NTLM; the server keeps NTLM until the next one is
 * named.  Returns 1 when the caller should try again.
 */
static int
smbio_fallback(struct smbio *io, const struct smbio_status *st)
{
	if (io->kerberos != SMBIO_KRB_DESIRED || io->fell_back ||
	    smbio_seen.connected || (st->outcome != OUTCOME_AUTH_FAILED &&
	    st->outcome != OUTCOME_ACCESS_DENIED))
		return 0;
	log_debug("%s: Kerberos failed (%s); trying NTLM", io->server ?
	    io->server : "server", st->message);
	io->fell_back = 1;
	smbc_setOptionUseKerberos(io->ctx, 0);
	smbc_getFunctionPurgeCachedServers(io->ctx)(io->ctx);
	return 1;
}

/* Remove the directory tree at dir (a private state directory). */
void
smbio_rmtree(const char *dir)
{
	nftw(dir, smbio_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* Remove the private directory smbio made, when it made one. */
void
smbio_cleanup(void)
{
	if (smbio_statedir != NULL && smbio_statedir_ours)
		smbio_rmtree(smbio_statedir);
	free(smbio_statedir);
	smbio_statedir = NULL;
	smbio_statedir_ours = 0;
}

static void __attribute__((format(printf, 3, 4)))
smbio_set(struct smbio_status *st, enum outcome o, const char *fmt,
    ...)
{
	va_list ap;

	st->outcome = o;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
}

/*
 * Turn errno e from an operation on what into an outcome, using what the
 * log callback saw during the operation.
 */
static void
smbio_classify(int e, const char *what, struct smbio_status *st)
{
	char nbuf[32], status[96] = "";
	const char *name = NULL;

	if (smbio_seen.ntstatus != 0) {
		name = smbio_ntstatus_name(smbio_seen.ntstatus, nbuf,
		    sizeof(nbuf));
		snprintf(status, sizeof(status), " (%s)", name);
	}
	if (smbio_seen.noproto) {
		smbio_set(st, OUTCOME_ERROR, "%s: the server speaks no SMB dialect "
		    "from %s", what, smbio_seen.protocols);
		return;
	}
	if (smbio_seen.connecting && (e == ECONNABORTED || e == ECONNRESET ||
	    e == EPIPE)) {
		smbio_set(st, OUTCOME_ERROR, "%s: the server closed the "
		    "connection while agreeing on the SMB dialect (tried %s; an "
		    "SMB1-only server needs NT1)", what, smbio_seen.protocols);
		return;
	}
	/*
	 * libsmbclient reports a server that stops answering, or drops the
	 * connection, during the session setup as "SPNEGO login failed" too:
	 * the credentials were never checked, so it is no logon failure (and
	 * must not count towards the lockout guard).
	 */
	if (smbio_seen.login_failed &&
	    strstr(smbio_seen.login_text, "Timeout") != NULL) {
		smbio_set(st, OUTCOME_TIMEOUT, "%s: no answer during the session "
		    "setup (NT_STATUS_IO_TIMEOUT)", what);
		return;
	}
	if (smbio_seen.login_failed &&
	    (strstr(smbio_seen.login_text, "disconnected") != NULL ||
	    strstr(smbio_seen.login_text, "connection reset") != NULL)) {
		smbio_set(st, OUTCOME_UNREACHABLE, "%s: the connection was lost "
		    "during the session setup (%s)", what,
		    smbio_seen.login_text);
		return;
	}
	/* SPNEGO found no mechanism: Kerberos had no ticket to offer. */
	if (smbio_seen.kerberos && smbio_seen.login_failed &&
	    smbio_seen.krb_text[0] == '\0' &&
	    strstr(smbio_seen.login_text, "invalid parameter") != NULL)
		snprintf(smbio_seen.krb_text, sizeof(smbio_seen.krb_text),
		    "no ticket could be used (is the ticket cache there, "
		    "unexpired, for this realm and owned by this user?)");
	if (smbio_seen.krb_text[0] != '\0' && !smbio_seen.connected &&
	    (smbio_seen.login_failed || e == EACCES || e == EPERM)) {
		smbio_set(st, OUTCOME_AUTH_FAILED, "%s: logon failed: Kerberos: "
		    "%s%s", what, smbio_seen.krb_text, name ? status : "");
		return;
	}
	if (smbio_seen.login_failed) {
		const char *t = smbio_seen.login_text;
		const char *guess = " (NT_STATUS_LOGON_FAILURE)";

		/* Without a status code, name it from the server's words. */
		if (strstr(t, "locked") != NULL)
			guess = " (NT_STATUS_ACCOUNT_LOCKED_OUT)";
		else if (strstr(t, "disabled") != NULL)
			guess = " (NT_STATUS_ACCOUNT_DISABLED)";
		else if (strstr(t, "password has expired") != NULL)
			guess = " (NT_STATUS_PASSWORD_EXPIRED)";
		else if (strstr(t, "account has expired") != NULL)
			guess = " (NT_STATUS_ACCOUNT_EXPIRED)";
		smbio_set(st, OUTCOME_AUTH_FAILED, "%s: logon failed: %s%s", what,
		    t[0] ? t : "the server refused the credentials",
		    name ? status : guess);
		return;
	}
	if (name != NULL && (strstr(name, "LOGON") != NULL ||
	    strstr(name, "PASSWORD") != NULL || strstr(name, "ACCOUNT") != NULL ||
	    strstr(name, "NO_SUCH_USER") != NULL)) {
		smbio_set(st, OUTCOME_AUTH_FAILED, "%s: logon refused%s", what,
		    status);
		return;
	}
	switch (e) {
	case EACCES:
	case EPERM:
		smbio_set(st, OUTCOME_ACCESS_DENIED, "%s: access denied%s", what,
		    name ? status : " (NT_STATUS_ACCESS_DENIED)");
		return;
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case EADDRNOTAVAIL:
		smbio_set(st, OUTCOME_UNREACHABLE, "%s: %s", what, strerror(e));
		return;
	case ETIMEDOUT:
		smbio_set(st, OUTCOME_TIMEOUT, "%s: no answer within the "
		    "timeout%s", what, status);
		return;
	case ENOENT:
	case ENODEV:
	case ENOTDIR:
		smbio_set(st, OUTCOME_NOT_POSTOFFICE, "%s: not found%s", what,
		    status);
		return;
	case ECONNRESET:
	case ENETRESET:
	case EPIPE:
	case ECONNABORTED:
		smbio_set(st, OUTCOME_UNREACHABLE, "%s: connection lost (%s)%s",
		    what, strerror(e), status);
		return;
	case EBUSY:
	case ETXTBSY:
		smbio_set(st, OUTCOME_ERROR, "%s: locked by another user%s",
		    what, status);
		return;
	default:
		smbio_set(st, OUTCOME_ERROR, "%s: %s%s", what, strerror(e),
		    status);
		return;
	}
}

/* Try one non-blocking TCP connect; 0 ok, else an errno (ETIMEDOUT...). */
static int
smbio_tcp_try(const char *host, const char *port, int timeout_ms)
{
	struct addrinfo hints, *res, *ai;
	struct pollfd pfd;
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int fd, rc, e = ECONNREFUSED, left;
	socklen_t elen;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return rc == EAI_NONAME || rc == EAI_NODATA ? -1 : -2;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			close(fd);
			e = 0;
			break;
		}
		if (errno != EINPROGRESS) {
			e = errno;
			close(fd);
			continue;
		}
		left = (int)(deadline - clock_mono_ms());
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do {
			rc = poll(&pfd, 1, left > 0 ? left : 0);
		} while (rc == -1 && errno == EINTR);
		if (rc == 0)
			e = ETIMEDOUT;
		else {
			elen = sizeof(e);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
				e = errno;
		}
		close(fd);
		if (e == 0)
			break;
	}
	freeaddrinfo(res);
	return e;
}

/*
 * Check that host accepts TCP on port (or 445, then 139, when port is 0)
 * within the connect timeout.  Skipped while the session holds a
 * connection to that server that served the last operation: it answers,
 * and a probe would only cost the server another TCP connection (on Samba,
 * a fork of smbd).
 */
int
smbio_probe(struct smbio *io, const char *host, uint16_t port,
    struct smbio_status *st)
{
	char pbuf[8];
	int e;

	if (io->server_ok && io->server != NULL) {
		char *key = xasprintf("%s:%u", host, port);
		int same = strcmp(io->server, key) == 0;

		free(key);
		if (same)
			return 0;
	}
	if (port != 0) {
		snprintf(pbuf, sizeof(pbuf), "%u", port);
		e = smbio_tcp_try(host, pbuf, io->connect_timeout_ms);
	} else {
		snprintf(pbuf, sizeof(pbuf), "445");
		e = smbio_tcp_try(host, pbuf, io->connect_timeout_ms);
		if (e > 0 && e != ETIMEDOUT) {
			snprintf(pbuf, sizeof(pbuf), "139");
			e = smbio_tcp_try(host, pbuf, io->connect_timeout_ms);
		}
	}
	if (e == 0)
		return 0;
	if (e == -1)
		smbio_set(st, OUTCOME_UNREACHABLE, "%s: host name not found",
		    host);
	else if (e == -2)
		smbio_set(st, OUTCOME_UNREACHABLE, "%s: name lookup failed",
		    host);
	else if (e == ETIMEDOUT)
		smbio_set(st, OUTCOME_UNREACHABLE, "%s port %s: no answer to "
		    "TCP connect within %d ms", host, pbuf,
		    io->connect_timeout_ms);
	else
		smbio_set(st, OUTCOME_UNREACHABLE, "%s port %s: %s", host, pbuf,
		    strerror(e));
	return -1;
}

static int
smbio_listdir_once(struct smbio *io, const char *url, struct smbio_dirent **v,
    size_t *n, struct smbio_status *st)
{
	SMBCFILE *d;
	struct smbc_dirent *de;
	size_t nv = 0, cap = 0;
	struct smbio_dirent *a = NULL;
	int e;

	*v = NULL;
	*n = 0;
	smbio_seen_reset(io);
	errno = 0;
	if ((d = smbc_getFunctionOpendir(io->ctx)(io->ctx, url)) == NULL) {
		e = errno ? errno : EIO;
		smbio_classify(e, url, st);
		smbio_server_result(io, 0, st);
		return -1;
	}
	errno = 0;
	while ((de = smbc_getFunctionReaddir(io->ctx)(io->ctx, d)) != NULL) {
		if (strcmp(de->name, ".") == 0 || strcmp(de->name, "..") == 0)
			continue;
		if (de->smbc_type != SMBC_DIR && de->smbc_type != SMBC_FILE &&
		    de->smbc_type != SMBC_FILE_SHARE)
			continue;
		if (nv == cap) {
			cap = cap ? cap * 2 : 16;
			a = xreallocarray(a, cap, sizeof(*a));
		}
		a[nv].name = xstrdup(de->name);
		a[nv].isdir = de->smbc_type != SMBC_FILE;
		nv++;
	}
	e = errno;
	smbc_getFunctionClosedir(io->ctx)(io->ctx, d);
	if (e != 0 && e != ENOENT) {
		smbio_classify(e, url, st);
		smbio_server_result(io, 0, st);
		smbio_dirents_free(a, nv);
		return -1;
	}
	smbio_server_result(io, 1, st);
	*v = a;
	*n = nv;
	return 0;
}

/* List the directory at url (without "." and ".."). */
int
smbio_listdir(struct smbio *io, const char *url, struct smbio_dirent **v,
    size_t *n, struct smbio_status *st)
{
	int rc;

	rc = smbio_listdir_once(io, url, v, n, st);
	if (rc == -1 && (smbio_stale(io, st) || smbio_fallback(io, st)))
		rc = smbio_listdir_once(io, url, v, n, st);
	io->carried = 0;
	return rc;
}

/* Free a listing returned by smbio_listdir(). */
void
smbio_dirents_free(struct smbio_dirent *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/*
 * Files up to this size are read with one read call and no fstat.
 * libsmbclient's read asks the server again after a short answer until it
 * has the count asked for or meets end of file, so a call that returns
 * less than it asked for has read the whole file: there is no need to ask
 * the size first, nor to read once more to see the end.  That saves two
 * of the six SMB requests per file (open, fstat, read, read at the end,
 * close), and every file of a postoffice but a huge NETWORK.GLB is small.
 */
#define SMBIO_SMALL_FILE	(64 * 1024)

/* One attempt at reading url; returns 0, -1 with st, or 1 if it changed. */
static int
smbio_read_once(struct smbio *io, const char *url, size_t cap, uint8_t **buf,
    size_t *len, struct smbio_status *st)
{
	SMBCFILE *f;
	struct stat sb;
	uint8_t *b = NULL;
	size_t have = 0, first;
	ssize_t r;
	int e, rc = -1;

	smbio_seen_reset(io);
	if ((f = smbc_getFunctionOpen(io->ctx)(io->ctx, url, O_RDONLY, 0)) ==
	    NULL) {
		smbio_classify(errno ? errno : EIO, url, st);
		return -1;
	}
	first = cap < SMBIO_SMALL_FILE ? cap + 1 : SMBIO_SMALL_FILE;
	b = xmalloc(first);
	r = smbc_getFunctionRead(io->ctx)(io->ctx, f, b, first);
	if (r == -1) {
		smbio_classify(errno ? errno : EIO, url, st);
		goto out;
	}
	if ((size_t)r < first) {
		/* The whole file (at most cap bytes, since first <= cap + 1). */
		*buf = xreallocarray(b, (size_t)r + 1, 1);
		*len = (size_t)r;
		b = NULL;
		rc = 0;
		goto out;
	}
	/* A large file: check its size, then read it from the start. */
	free(b);
	b = NULL;
	if (smbc_getFunctionLseek(io->ctx)(io->ctx, f, 0, SEEK_SET) == -1 ||
	    smbc_getFunctionFstat(io->ctx)(io->ctx, f, &sb) == -1) {
		smbio_classify(errno ? errno : EIO, url, st);
		goto out;
	}
	if (sb.st_size < 0 || (uint64_t)sb.st_size > cap) {
		smbio_set(st, OUTCOME_MALFORMED, "%s: file is %lld bytes, over "
		    "the %zu byte limit", url, (long long)sb.st_size, cap);
		goto out;
	}
	b = xmalloc((size_t)sb.st_size + 1);
	for (;;) {
		size_t want = (size_t)sb.st_size + 1 - have;

		if (want == 0)
			break;
		r = smbc_getFunctionRead(io->ctx)(io->ctx, f, b + have, want);
		if (r == -1) {
			e = errno ? errno : EIO;
			smbio_classify(e, url, st);
			goto out;
		}
		have += (size_t)r;
		if ((size_t)r < want)
			break;		/* end of file: see SMBIO_SMALL_FILE */
	}
	if (have != (size_t)sb.st_size) {
		rc = 1;		/* grew or shrank while read */
		goto out;
	}
	*buf = b;
	*len = have;
	b = NULL;
	rc = 0;
out:
	free(b);
	smbc_getFunctionClose(io->ctx)(io->ctx, f);
	return rc;
}

/* Read the whole file at url, at most cap bytes. */
int
smbio_readfile(struct smbio *io, const char *url, size_t cap, uint8_t **buf,
    size_t *len, struct smbio_status *st)
{
	int rc, tries;

	*buf = NULL;
	*len = 0;
	for (tries = 0; tries < 3; tries++) {
		rc = smbio_read_once(io, url, cap, buf, len, st);
		if (rc == -1 && (smbio_stale(io, st) ||
		    smbio_fallback(io, st)))
			rc = smbio_read_once(io, url, cap, buf, len, st);
		io->carried = 0;
		if (rc != 1) {
			smbio_server_result(io, rc == 0, st);
			return rc;
		}
	}
	smbio_set(st, OUTCOME_ERROR, "%s: file kept changing while read", url);
	return -1;
}
