/* duration: "30s", "5m", "1h", "2d", "1w", "1y" into milliseconds. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

/*
 * Parse "30s", "5m", "1h", "2d", "1w", "1y" (365 days), "1500ms" or a bare
 * number of seconds into milliseconds.
 */
int
duration_parse(const char *s, int64_t *ms)
{
	unsigned long long v;
	int64_t mult;
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mult = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		mult = 86400 * 1000;
	else if (strcmp(end, "w") == 0)
		mult = 7 * 86400 * 1000LL;
	else if (strcmp(end, "y") == 0)
		mult = 365 * 86400 * 1000LL;	/* a year of 365 days */
	else
		return -1;
	if (v > (unsigned long long)(INT64_MAX / mult))
		return -1;
	*ms = (int64_t)v * mult;
	return 0;
}
