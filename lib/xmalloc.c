/* xmalloc: allocation helpers that treat failure as fatal. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

/* Allocate size bytes (size 0 is treated as 1); never returns NULL. */
void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		fatal("xmalloc: %zu bytes", size);
	return p;
}

/* Allocate a zeroed array of nmemb * size bytes, checking for overflow. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	p = calloc(nmemb, size);
	if (p == NULL)
		fatal("xcalloc: %zu * %zu bytes", nmemb, size);
	return p;
}

/* Resize ptr to nmemb * size bytes, checking for overflow. */
void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		fatalx("xreallocarray: %zu * %zu overflows", nmemb, size);
	p = realloc(ptr, (nmemb * size) != 0 ? nmemb * size : 1);
	if (p == NULL)
		fatal("xreallocarray: %zu * %zu bytes", nmemb, size);
	return p;
}

/* Duplicate a NUL-terminated string. */
char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("xstrdup");
	return p;
}

/* Duplicate at most n bytes of s and NUL-terminate the copy. */
char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		fatal("xstrndup");
	return p;
}

/* Format into a newly allocated string. */
char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0)
		fatal("xasprintf");
	return p;
}

/* Format ap into a newly allocated string. */
char *
xvasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		fatal("xvasprintf");
	return p;
}

/* Duplicate s, or return NULL when s is NULL. */
char *
xstrdup_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Overwrite the secret string s with zeros, then free it; NULL is ignored. */
void
xfree_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}
