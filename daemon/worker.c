/*
 * worker: one crawl at a time, on behalf of the parent.  The worker keeps
 * its libsmbclient session between jobs while the job's options (credentials,
 * protocols, timeouts) stay the same, so connections to a server are reused.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crawl.h"
#include "ipc.h"
#include "log.h"
#include "smbio.h"
#include "worker.h"
#include "xmalloc.h"

struct worker_session {
	struct smbio	*io;
	struct ipc_job	 opts;		/* the options io was opened with */
	char		*statedir;	/* for libsmbclient, or NULL */
};

static int
worker_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
worker_same_opts(const struct ipc_job *a, const struct ipc_job *b)
{
	return worker_streq(a->username, b->username) &&
	    worker_streq(a->password, b->password) &&
	    worker_streq(a->domain, b->domain) &&
	    worker_streq(a->min_protocol, b->min_protocol) &&
	    worker_streq(a->max_protocol, b->max_protocol) &&
	    worker_streq(a->smb_conf, b->smb_conf) &&
	    a->kerberos == b->kerberos &&
	    worker_streq(a->ccache, b->ccache) &&
	    a->timeout_ms == b->timeout_ms &&
	    a->connect_timeout_ms == b->connect_timeout_ms;
}

static void
worker_session_close(struct worker_session *s)
{
	smbio_close(s->io);
	s->io = NULL;
	ipc_job_free(&s->opts);
}

/* Make sure s has a session fit for job j; -1 with err if none can be had. */
static int
worker_session(struct worker_session *s, const struct ipc_job *j, char *err,
    size_t errlen)
{
	struct smbio_opts o;
	int reqms;

	if (s->io != NULL && worker_same_opts(&s->opts, j))
		return 0;
	worker_session_close(s);
	memset(&o, 0, sizeof(o));
	o.username = j->username;
	o.password = j->password;
	o.domain = j->domain;
	o.min_protocol = j->min_protocol;
	o.max_protocol = j->max_protocol;
	o.smb_conf = j->smb_conf;
	o.connect_timeout_ms = j->connect_timeout_ms;
	o.statedir = s->statedir;
	o.kerberos = j->kerberos == IPC_KRB_REQUIRED ? SMBIO_KRB_REQUIRED :
	    j->kerberos == IPC_KRB_YES ? SMBIO_KRB_DESIRED : SMBIO_KRB_OFF;
	o.ccache = j->ccache;
	/*
	 * Each SMB request times out a little before the parent's deadline
	 * for the whole job, so a stalled server gives a "timeout" outcome
	 * from here rather than a killed worker.
	 */
	reqms = j->timeout_ms > 2000 ? j->timeout_ms - 1000 : 1000;
	o.timeout_ms = reqms;
	if ((s->io = smbio_open(&o, err, errlen)) == NULL)
		return -1;
	memset(&s->opts, 0, sizeof(s->opts));
	s->opts.username = xstrdup_null(j->username);
	s->opts.password = xstrdup_null(j->password);
	s->opts.domain = xstrdup_null(j->domain);
	s->opts.min_protocol = xstrdup_null(j->min_protocol);
	s->opts.max_protocol = xstrdup_null(j->max_protocol);
	s->opts.smb_conf = xstrdup_null(j->smb_conf);
	s->opts.timeout_ms = j->timeout_ms;
	s->opts.connect_timeout_ms = j->connect_timeout_ms;
	s->opts.kerberos = j->kerberos;
	s->opts.ccache = xstrdup_null(j->ccache);
	return 0;
}

/* Crawl job j and send its results and the end-of-job message. */
static int
worker_job(int fd, struct worker_session *s, const struct ipc_job *j)
{
	struct results rs = { NULL, 0 };
	struct ipcbuf b;
	char err[256];
	size_t i;
	struct ipc_job ntlm;
	int rc;

	/*
	 * The parent could get no Kerberos ticket: with kerberos = required
	 * that is a failed logon (the lockout guard counts it), with yes the
	 * crawl goes on with NTLM.
	 */
	if (j->krb_error != NULL && j->kerberos == IPC_KRB_REQUIRED)
		results_fail(&rs, &j->loc, OUTCOME_AUTH_FAILED, j->krb_error);
	else {
		ntlm = *j;
		if (j->krb_error != NULL) {
			ntlm.kerberos = IPC_KRB_NO;
			ntlm.ccache = NULL;
		}
		if (worker_session(s, &ntlm, err, sizeof(err)) == -1)
			results_fail(&rs, &j->loc, OUTCOME_ERROR, err);
		else
			crawl_run(s->io, &j->loc, 0, &rs);
	}

	ipcbuf_init(&b);
	for (i = 0; i < rs.n; i++) {
		struct results one = { NULL, 0 };

		if (ipc_frame_result(&b, j->id, &rs.v[i]) == 0)
			continue;
		/* Too large to send (a huge NETWORK.GLB): say so instead. */
		results_fail(&one, &rs.v[i].loc, OUTCOME_ERROR, "the crawl "
		    "result is too large to send to the parent");
		if (ipc_frame_result(&b, j->id, &one.v[0]) == -1)
			fatalx("worker: cannot encode a failure result");
		results_free(&one);
	}
	ipc_frame_done(&b, j->id, (uint32_t)rs.n);
	rc = ipc_write_all(fd, b.data, b.len);
	ipcbuf_free(&b);
	results_free(&rs);
	return rc;
}

/*
 * Serve crawl jobs arriving on fd until it reaches end of file, then return
 * the exit status.
 */
int
worker_main(int fd, const char *statedir)
{
	struct worker_session s;
	struct ipc_job j;
	struct ipcbuf b;
	const uint8_t *payload;
	uint32_t type, plen;
	char err[256];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the parent decides when we stop */
	memset(&s, 0, sizeof(s));
	if (statedir != NULL)
		s.statedir = xasprintf("%s/w%ld", statedir, (long)getpid());
	ipcbuf_init(&b);
	for (;;) {
		rc = ipc_read_frame(fd, &b, &type, &payload, &plen, err,
		    sizeof(err));
		if (rc == 0)
			break;
		if (rc == -1) {
			log_warnx("worker: %s", err);
			break;
		}
		if (type != IPC_JOB || ipc_decode_job(payload, plen, &j, err,
		    sizeof(err)) == -1) {
			log_warnx("worker: bad job message: %s", type != IPC_JOB ?
			    "not a job" : err);
			rc = -1;
			break;
		}
		ipcbuf_reset(&b);
		rc = worker_job(fd, &s, &j);
		ipc_job_free(&j);
		if (rc == -1) {
			log_warn("worker: sending results");
			break;
		}
	}
	ipcbuf_free(&b);
	worker_session_close(&s);
	smbio_cleanup();
	if (s.statedir != NULL) {
		smbio_rmtree(s.statedir);
		free(s.statedir);
	}
	close(fd);
	return rc == -1 ? 1 : 0;
}
