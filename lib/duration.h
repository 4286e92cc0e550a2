/* duration: parse the durations of the configuration and command line. */
#ifndef MAILDAT_DURATION_H
#define MAILDAT_DURATION_H

#include <stdint.h>

/*
 * Parse "30s", "5m", "1h", "2d", "1500ms" or a bare number of seconds into
 * milliseconds.  Returns 0, or -1 for anything else (including negative
 * values and overflow).
 */
int	duration_parse(const char *s, int64_t *ms);

#endif
