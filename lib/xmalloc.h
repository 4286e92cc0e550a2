/*
 * xmalloc: allocation that never returns NULL.  Running out of memory is
 * fatal in maildatd: the process logs it and exits (a worker is replaced by
 * the parent; the parent is restarted by its service manager).
 */
#ifndef MAILDAT_XMALLOC_H
#define MAILDAT_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* Allocate size bytes (size 0 is treated as 1); never returns NULL. */
void	*xmalloc(size_t size);
/* Allocate a zeroed array of nmemb * size bytes, checking for overflow. */
void	*xcalloc(size_t nmemb, size_t size);
/* Resize ptr to nmemb * size bytes, checking for overflow. */
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
/* Duplicate a NUL-terminated string. */
char	*xstrdup(const char *s);
/* Duplicate s, or return NULL when s is NULL. */
char	*xstrdup_null(const char *s);
/* Duplicate at most n bytes of s and NUL-terminate the copy. */
char	*xstrndup(const char *s, size_t n);
/* Format into a newly allocated string. */
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Format ap into a newly allocated string. */
char	*xvasprintf(const char *fmt, va_list ap)
	    __attribute__((format(printf, 1, 0)));
/* Overwrite the secret string s with zeros, then free it; NULL is ignored. */
void	 xfree_secret(char *s);

#endif
