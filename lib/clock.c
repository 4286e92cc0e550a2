/* clock: monotonic milliseconds and wall-clock microseconds. */
#include <time.h>

#include "clock.h"

/* Return the monotonic clock in milliseconds (from an arbitrary origin). */
int64_t
clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Return the wall clock in microseconds since the epoch (UTC). */
int64_t
clock_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
