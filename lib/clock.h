/*
 * clock: the two clocks maildatd reads.  The monotonic clock measures
 * intervals, deadlines and uptime (a step of the wall clock changes none of
 * them); the wall clock dates what is recorded.
 */
#ifndef MAILDAT_CLOCK_H
#define MAILDAT_CLOCK_H

#include <stdint.h>

/* Return the monotonic clock in milliseconds (from an arbitrary origin). */
int64_t	clock_mono_ms(void);

/* Return the wall clock in microseconds since the epoch (UTC). */
int64_t	clock_wall_us(void);

#endif
