/* log: stderr or syslog(3) diagnostics, in the manner of OpenBSD's log.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int	 log_to_stderr = 1;
static int	 log_verbose;
static const char *log_ident = "maildat";

/*
 * Set the destination: to_stderr != 0 for stderr, else syslog(3) with
 * facility.
 */
void
log_init(const char *ident, int to_stderr, int facility)
{
	log_ident = ident;
	log_to_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
	tzset();
}

/* Set verbosity: 0 info and above, 1 adds debug messages. */
void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

/* Return the verbosity set by log_setverbose(). */
int
log_getverbose(void)
{
	return log_verbose;
}

/* Log at an explicit syslog(3) priority. */
void
log_vlog(int pri, const char *fmt, va_list ap)
{
	int saved_errno = errno;

	if (pri == LOG_DEBUG && !log_verbose)
		return;
	if (log_to_stderr) {
		flockfile(stderr);
		fprintf(stderr, "%s: ", log_ident);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		funlockfile(stderr);
		fflush(stderr);
	} else
		vsyslog(pri, fmt, ap);
	errno = saved_errno;
}

static void __attribute__((format(printf, 2, 3)))
log_msg(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(pri, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 3, 0)))
log_with_errno(int pri, int errnum, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (errnum)
		log_msg(pri, "%s: %s", buf, strerror(errnum));
	else
		log_msg(pri, "%s", buf);
}

/* Log a warning followed by ": strerror(errno)". */
void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	log_with_errno(LOG_WARNING, e, fmt, ap);
	va_end(ap);
}

/* Log a warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* Log a critical message: the daemon goes on, but someone must look. */
void
log_crit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
}

/* Log an informational message. */
void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

/* Log a debug message (only when verbose). */
void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* Log with strerror(errno) appended, then exit(1). */
void
fatal(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	log_with_errno(LOG_CRIT, e, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log, then exit(1). */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
