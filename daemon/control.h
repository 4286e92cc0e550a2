/*
 * control: the daemon's UNIX control socket.  A client writes one command
 * line ("status", "reload", "crawl [TARGET]") and reads the answer: a first
 * line "ok" or "error: <why>", then text, then end of file.  The socket is
 * mode 0660; peers other than root, the daemon's user and members of its
 * group are refused.
 *
 * No client can exhaust the daemon: each connection is tracked and closed
 * on one path; at most CONTROL_MAX_CLIENTS are connected at once (a new
 * one pushes out the oldest that has not sent its line yet); one that
 * sends no full line within CONTROL_IDLE_S seconds, or does not read its
 * answer within CONTROL_WRITE_S, is dropped; a line over CONTROL_MAX_LINE
 * bytes is refused; and when descriptors run out the socket stops
 * accepting for a second instead of spinning.  Accepted sockets are
 * close-on-exec, so crawl workers never inherit one.
 */
#ifndef MAILDAT_CONTROL_H
#define MAILDAT_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#define CONTROL_MAX_CLIENTS	64
#define CONTROL_MAX_LINE	1024
#define CONTROL_IDLE_S		5
#define CONTROL_WRITE_S		10

struct event_base;
struct evbuffer;

/* What control asks of the daemon above it. */
struct control_hooks {
	/* Append the daemon's own status lines ("key: value") to out. */
	void	(*status)(struct evbuffer *out, void *arg);
	/* Reload; 0 with a summary in msg, or -1 with the problems. */
	int	(*reload)(char *msg, size_t msglen, void *arg);
	/* Return 1 while the daemon is stopping (no crawl is started). */
	int	(*stopping)(void *arg);
	void	*arg;
};

/*
 * Create and bind the socket at path (replacing a stale one), owned by
 * uid:gid when those are not -1.  Returns 0, or -1 with err.
 */
int	control_open(const char *path, uid_t uid, gid_t gid, char *err,
	    size_t errlen);

/* Start accepting clients on base; hooks (copied) answer them. */
void	control_start(struct event_base *base, const struct control_hooks *h);

/* Return the number of clients connected now. */
int	control_clients(void);

/* Stop accepting, close every connection and the socket, remove its file. */
void	control_close(void);

#endif
