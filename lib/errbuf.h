/*
 * errbuf: how every module returns what went wrong.  A function that can
 * fail takes a buffer (char *err, size_t errlen) from its caller and
 * writes one message into it, without a trailing newline; the caller logs
 * it once, with the context it knows.
 */
#ifndef MAILDAT_ERRBUF_H
#define MAILDAT_ERRBUF_H

#include <stddef.h>

/*
 * Format a message into err of errlen bytes, cut to fit (nothing when err
 * is NULL or errlen 0).
 */
void	errbuf_set(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
