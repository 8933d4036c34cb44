/*
 * clock.h - the monotonic clock, for timeouts, backoff and timings (never for dates).
 */
#ifndef CE_CLOCK_H
#define CE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic time in seconds (fractional). */
static inline double ce_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Monotonic time in milliseconds. */
static inline int64_t ce_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds (a signal may end it early). */
static inline void ce_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#endif
