/*
 * clock.h — the monotonic clock the testing kit and its tests measure
 * deadlines with. One definition, inline so that it adds no symbol to the
 * kit's library: a deadline that waits "up to N ms" reads this, never the
 * wall clock, which may jump.
 */
#ifndef CX_KIT_CLOCK_H
#define CX_KIT_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC: only differences mean anything. */
static inline int64_t cx_kit_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
