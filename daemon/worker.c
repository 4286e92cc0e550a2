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
#include "log.h"
#include "msg.h"
#include "smbio.h"
#include "worker.h"
#include "xmalloc.h"

struct worker_session {
	struct smbio	*io;
	struct msg_job	 opts;		/* the options io was opened with */
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
worker_same_opts(const struct msg_job *a, const struct msg_job *b)
{
	return worker_streq(a->username, b->username) &&
	    worker_streq(a->password, b->password) &&
	    worker_streq(a->domain, b->domain) &&
	    worker_streq(a->min_protocol, b->min_protocol) &&
	    worker_streq(a->max_protocol, b->max_protocol) &&
	    worker_streq(a->smb_conf, b->smb_conf) &&
	    a->timeout_ms == b->timeout_ms &&
	    a->connect_timeout_ms == b->connect_timeout_ms;
}

static char *
worker_dup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
worker_session_close(struct worker_session *s)
{
	smbio_close(s->io);
	s->io = NULL;
	msg_job_free(&s->opts);
}

/* Make sure s has a session fit for job j; -1 with err if none can be had. */
static int
worker_session(struct worker_session *s, const struct msg_job *j, char *err,
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
	s->opts.username = worker_dup(j->username);
	s->opts.password = worker_dup(j->password);
	s->opts.domain = worker_dup(j->domain);
	s->opts.min_protocol = worker_dup(j->min_protocol);
	s->opts.max_protocol = worker_dup(j->max_protocol);
	s->opts.smb_conf = worker_dup(j->smb_conf);
	s->opts.timeout_ms = j->timeout_ms;
	s->opts.connect_timeout_ms = j->connect_timeout_ms;
	return 0;
}

/* Crawl job j and send its results and the end-of-job message. */
static int
worker_job(int fd, struct worker_session *s, const struct msg_job *j)
{
	struct crawl_results rs = { NULL, 0 };
	struct msgbuf b;
	char err[256];
	size_t i;
	int rc;

	if (worker_session(s, j, err, sizeof(err)) == -1)
		crawl_result_fail(&rs, j->url, CRAWL_ERROR, err);
	else if (j->discover)
		crawl_discover(s->io, j->url, &rs);
	else
		crawl_url(s->io, j->url, &rs);

	msgbuf_init(&b);
	for (i = 0; i < rs.n; i++) {
		struct crawl_results one = { NULL, 0 };

		if (msg_frame_result(&b, j->id, &rs.v[i]) == 0)
			continue;
		/* Too large to send (a huge NETWORK.GLB): say so instead. */
		crawl_result_fail(&one, j->url, CRAWL_ERROR, "the crawl "
		    "result is too large to send to the parent");
		free(one.v[0].location);
		one.v[0].location = xstrdup(rs.v[i].location);
		if (msg_frame_result(&b, j->id, &one.v[0]) == -1)
			fatalx("worker: cannot encode a failure result");
		crawl_results_free(&one);
	}
	msg_frame_done(&b, j->id, (uint32_t)rs.n);
	rc = msg_write_all(fd, b.data, b.len);
	msgbuf_free(&b);
	crawl_results_free(&rs);
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
	struct msg_job j;
	struct msgbuf b;
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
	msgbuf_init(&b);
	for (;;) {
		rc = msg_read_frame(fd, &b, &type, &payload, &plen, err,
		    sizeof(err));
		if (rc == 0)
			break;
		if (rc == -1) {
			log_warnx("worker: %s", err);
			break;
		}
		if (type != MSG_JOB || msg_decode_job(payload, plen, &j, err,
		    sizeof(err)) == -1) {
			log_warnx("worker: bad job message: %s", type != MSG_JOB ?
			    "not a job" : err);
			rc = -1;
			break;
		}
		msgbuf_reset(&b);
		rc = worker_job(fd, &s, &j);
		msg_job_free(&j);
		if (rc == -1) {
			log_warn("worker: sending results");
			break;
		}
	}
	msgbuf_free(&b);
	worker_session_close(&s);
	smbio_cleanup();
	if (s.statedir != NULL) {
		smbio_rmtree(s.statedir);
		free(s.statedir);
	}
	close(fd);
	return rc == -1 ? 1 : 0;
}
