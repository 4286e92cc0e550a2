/*
 * log: the one place maildatd writes diagnostics.  Before log_init() and in
 * the foreground messages go to stderr; a daemon logs through syslog(3).
 * The fatal functions log and exit(1); they are for states the process
 * cannot continue from (allocation failure, a broken invariant).
 */
#ifndef MAILDAT_LOG_H
#define MAILDAT_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Set the destination: to_stderr != 0 for stderr, else syslog(3) with facility. */
void	log_init(const char *ident, int to_stderr, int facility);
/* Set verbosity: 0 info and above, 1 adds debug messages. */
void	log_setverbose(int verbose);
/* Return the verbosity set by log_setverbose(). */
int	log_getverbose(void);
/* Log a warning followed by ": strerror(errno)". */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Log a warning. */
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Log a critical message (the daemon goes on; someone must look). */
void	log_crit(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Log an informational message. */
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Log a debug message (only when verbose). */
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Log at an explicit syslog(3) priority. */
void	log_vlog(int pri, const char *, va_list) __attribute__((format(printf, 2, 0)));
/* Log with strerror(errno) appended, then exit(1). */
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Log, then exit(1). */
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
