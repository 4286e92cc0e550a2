/*
 * msg: the frames the parent and its workers exchange over a socketpair.
 *
 * A frame is an 8-byte header, a uint32 type and a uint32 payload length
 * (both little-endian), then the payload.  Payload fields are written in a
 * fixed order as u8, u16, u32, u64 or i64 (little-endian, i32 as u32),
 * strings as a u32 length and that many bytes (no NUL among them; a NULL
 * string is the length 0xFFFFFFFF) and fixed-size blobs as raw bytes.
 *
 *	MSG_JOB		parent -> worker: one crawl job
 *	MSG_RESULT	worker -> parent: one crawl_result of a job
 *	MSG_DONE	worker -> parent: the job is finished (u64 job id,
 *			u32 number of MSG_RESULT frames sent for it)
 *
 * The decoders take untrusted bytes: every length is checked against what
 * remains before anything is read or allocated, trailing bytes are refused
 * and every value is range-checked, so that a decoded frame encodes back to
 * exactly the same bytes.
 */
#ifndef MAILDAT_MSG_H
#define MAILDAT_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "crawl.h"

#define MSG_HDR_LEN		8
#define MSG_MAX_PAYLOAD		(16u * 1024 * 1024)
#define MSG_MAX_ROUTES		1000000u	/* routes in one MSG_RESULT */
#define MSG_STR_NULL		0xFFFFFFFFu	/* string length of NULL */

enum msg_type {
	MSG_JOB = 1,
	MSG_RESULT = 2,
	MSG_DONE = 3
};

/* A growable byte buffer; its bytes are wiped before they are released. */
struct msgbuf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
};

/* One crawl job.  Every string is malloc'd and owned by the job. */
struct msg_job {
	uint64_t	 id;
	char		*url;		/* smb://host[:port]/share[/path], or
					   smb://host[:port]/ with discover */
	int		 discover;	/* list the host's shares and crawl each
					   that holds a postoffice */
	char		*username;	/* NULL: guest */
	char		*password;
	char		*domain;
	char		*min_protocol;
	char		*max_protocol;
	int32_t		 timeout_ms;
	int32_t		 connect_timeout_ms;
	char		*smb_conf;
};

/* Make b an empty buffer that owns no memory. */
void	msgbuf_init(struct msgbuf *b);
/* Wipe b's bytes with explicit_bzero, release them and make b empty. */
void	msgbuf_free(struct msgbuf *b);
/* Wipe b's bytes and set its length to 0, keeping the memory for reuse. */
void	msgbuf_reset(struct msgbuf *b);

/* Append a MSG_JOB frame to out; returns 0, or -1 (out unchanged) if j->url is NULL or the frame is too large. */
int	msg_frame_job(struct msgbuf *out, const struct msg_job *j);
/* Append a MSG_RESULT frame to out; returns 0, or -1 (out unchanged) if r holds a value the decoder would refuse or the frame is too large. */
int	msg_frame_result(struct msgbuf *out, uint64_t job_id,
	    const struct crawl_result *r);
/* Append a MSG_DONE frame to out. */
void	msg_frame_done(struct msgbuf *out, uint64_t job_id, uint32_t nresults);

/* Look at buf[0..avail): 1 with *type, *payload, *plen, *framelen set when a whole frame is there, 0 when more bytes are needed, -1 with err when the header is bad (unknown type, length over MSG_MAX_PAYLOAD). */
int	msg_frame_peek(const uint8_t *buf, size_t avail, uint32_t *type,
	    const uint8_t **payload, uint32_t *plen, size_t *framelen,
	    char *err, size_t errlen);

/* Decode a MSG_JOB payload into *j; returns 0, or -1 with err and *j zeroed. */
int	msg_decode_job(const uint8_t *p, size_t len, struct msg_job *j,
	    char *err, size_t errlen);
/* Decode a MSG_RESULT payload into *r (release it with crawl_result_free); returns 0, or -1 with err and *r zeroed. */
int	msg_decode_result(const uint8_t *p, size_t len, uint64_t *job_id,
	    struct crawl_result *r, char *err, size_t errlen);
/* Decode a MSG_DONE payload; returns 0, or -1 with err. */
int	msg_decode_done(const uint8_t *p, size_t len, uint64_t *job_id,
	    uint32_t *nresults, char *err, size_t errlen);
/* Release what a job owns (wiping the password first) and zero it. */
void	msg_job_free(struct msg_job *j);

/* Write all of buf[0..len) to fd, retrying on EINTR and short writes; returns 0, or -1 with errno set. */
int	msg_write_all(int fd, const uint8_t *buf, size_t len);
/* Read exactly one frame from fd into b (reset first; *payload points into b): 1 frame read, 0 clean EOF before any byte, -1 with err on error, EOF inside a frame or a bad header. */
int	msg_read_frame(int fd, struct msgbuf *b, uint32_t *type,
	    const uint8_t **payload, uint32_t *plen, char *err, size_t errlen);

#endif
