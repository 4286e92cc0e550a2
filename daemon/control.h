/*
 * control: the daemon's UNIX control socket.  A client writes one command
 * line ("status", "reload", "crawl [TARGET]") and reads the answer: a first
 * line "ok" or "error: <why>", then text, then end of file.  The socket is
 * mode 0660; peers other than root, the daemon's user and members of its
 * group are refused.
 */
#ifndef MAILDAT_CONTROL_H
#define MAILDAT_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

struct event_base;

/*
 * Create and bind the socket at path (replacing a stale one), owned by
 * uid:gid when those are not -1.  Returns 0, or -1 with err.
 */
int	control_open(const char *path, uid_t uid, gid_t gid, char *err,
	    size_t errlen);

/* Start accepting clients on base. */
void	control_start(struct event_base *base);

/* Stop accepting, close the socket and remove its file. */
void	control_close(void);

#endif
