/*
 * ipc: the frames the parent and its workers exchange over a socketpair.
 *
 * A frame is an 8-byte header, a uint32 type and a uint32 payload length
 * (both little-endian), then the payload.  Payload fields are written in a
 * fixed order as u8, u16, u32, u64 or i64 (little-endian, i32 as u32),
 * strings as a u32 length and that many bytes (no NUL among them; a NULL
 * string is the length 0xFFFFFFFF) and fixed-size blobs as raw bytes.
 *
 *	IPC_JOB		parent -> worker: one crawl job
 *	IPC_RESULT	worker -> parent: one result of a job
 *	IPC_DONE	worker -> parent: the job is finished (u64 job id,
 *			u32 number of IPC_RESULT frames sent for it)
 *
 * The decoders take untrusted bytes: every length is checked against what
 * remains before anything is read or allocated, trailing bytes are refused
 * and every value is range-checked, so that a decoded frame encodes back to
 * exactly the same bytes.
 */
#ifndef MAILDAT_IPC_H
#define MAILDAT_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "location.h"
#include "result.h"

#define IPC_HDR_LEN		8
#define IPC_MAX_PAYLOAD		(16u * 1024 * 1024)
#define IPC_MAX_ROUTES		1000000u	/* routes in one IPC_RESULT */
#define IPC_STR_NULL		0xFFFFFFFFu	/* string length of NULL */

enum ipc_type {
	IPC_JOB = 1,
	IPC_RESULT = 2,
	IPC_DONE = 3
};

/* A growable byte buffer; its bytes are wiped before they are released. */
struct ipcbuf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
};

/* One crawl job.  Every string is malloc'd and owned by the job. */
struct ipc_job {
	uint64_t	 id;
	struct location	 loc;		/* what to crawl; with loc.discover
					   the host's shares, each that holds a
					   postoffice */
	char		*username;	/* NULL: guest */
	char		*password;
	char		*domain;
	char		*min_protocol;
	char		*max_protocol;
	int32_t		 timeout_ms;
	int32_t		 connect_timeout_ms;
	char		*smb_conf;
	uint8_t		 kerberos;	/* IPC_KRB_NO, _YES (NTLM if it fails),
					   _REQUIRED */
	char		*ccache;	/* a ticket cache for Kerberos, or NULL */
	char		*krb_error;	/* the parent could get no ticket: why
					   (NULL: no such failure) */
};

#define IPC_KRB_NO		0
#define IPC_KRB_YES		1
#define IPC_KRB_REQUIRED	2

/* Make b an empty buffer that owns no memory. */
void	ipcbuf_init(struct ipcbuf *b);
/* Wipe b's bytes with explicit_bzero, release them and make b empty. */
void	ipcbuf_free(struct ipcbuf *b);
/* Wipe b's bytes and set its length to 0, keeping the memory for reuse. */
void	ipcbuf_reset(struct ipcbuf *b);

/* Append an IPC_JOB frame to out; returns 0, or -1 (out unchanged) if j->loc.host is NULL or the frame is too large. */
int	ipc_frame_job(struct ipcbuf *out, const struct ipc_job *j);
/* Append an IPC_RESULT frame to out; returns 0, or -1 (out unchanged) if r holds a value the decoder would refuse or the frame is too large. */
int	ipc_frame_result(struct ipcbuf *out, uint64_t job_id,
	    const struct result *r);
/* Append an IPC_DONE frame to out. */
void	ipc_frame_done(struct ipcbuf *out, uint64_t job_id, uint32_t nresults);

/* Look at buf[0..avail): 1 with *type, *payload, *plen, *framelen set when a whole frame is there, 0 when more bytes are needed, -1 with err when the header is bad (unknown type, length over IPC_MAX_PAYLOAD). */
int	ipc_frame_peek(const uint8_t *buf, size_t avail, uint32_t *type,
	    const uint8_t **payload, uint32_t *plen, size_t *framelen,
	    char *err, size_t errlen);

/* Decode a IPC_JOB payload into *j; returns 0, or -1 with err and *j zeroed. */
int	ipc_decode_job(const uint8_t *p, size_t len, struct ipc_job *j,
	    char *err, size_t errlen);
/* Decode a IPC_RESULT payload into *r (release it with result_free); returns 0, or -1 with err and *r zeroed. */
int	ipc_decode_result(const uint8_t *p, size_t len, uint64_t *job_id,
	    struct result *r, char *err, size_t errlen);
/* Decode a IPC_DONE payload; returns 0, or -1 with err. */
int	ipc_decode_done(const uint8_t *p, size_t len, uint64_t *job_id,
	    uint32_t *nresults, char *err, size_t errlen);
/* Release what a job owns (wiping the password first) and zero it. */
void	ipc_job_free(struct ipc_job *j);

/* Write all of buf[0..len) to fd, retrying on EINTR and short writes; returns 0, or -1 with errno set. */
int	ipc_write_all(int fd, const uint8_t *buf, size_t len);
/* Read exactly one frame from fd into b (reset first; *payload points into b): 1 frame read, 0 clean EOF before any byte, -1 with err on error, EOF inside a frame or a bad header. */
int	ipc_read_frame(int fd, struct ipcbuf *b, uint32_t *type,
	    const uint8_t **payload, uint32_t *plen, char *err, size_t errlen);

#endif
