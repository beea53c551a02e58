/*
 * timers.h — the worker's timer heap, owned by the link thread.
 *
 * Plugins arm timers from pool threads (chanx_call_later, workers/timer_api.c)
 * by queueing a cx_timer to the link thread (CX_LQ_TIMER_ADD); the link
 * thread keeps them in a min-heap ordered by (due, id), sleeps in its poll
 * until the earliest, and turns each due timer into a CX_MAIL_TIMER for its
 * connection's actor. Cancelling is lazy: the timer is marked and dropped
 * when it reaches the top. Ids grow monotonically, so timers due at the same
 * moment fire in the order they were set.
 *
 * Threading: link thread only (cx_timer_now_ms: any thread).
 */
#ifndef CX_WORKERS_TIMERS_H
#define CX_WORKERS_TIMERS_H

#include <stdint.h>
#include "chanx/timer.h"

typedef struct {
    uint64_t id;
    uint64_t conn;          /* the connection whose actor gets the tick */
    int64_t due_ms;         /* cx_timer_now_ms() clock */
    int64_t period_ms;      /* 0: once */
    chanx_timer_fn *fn;
    void *arg;
    int cancelled;
} cx_timer;

typedef struct cx_timers cx_timers;

cx_timers *cx_timers_new(void);
void cx_timers_destroy(cx_timers **self_p);
/* Takes timer (malloc'd). */
void cx_timers_add(cx_timers *self, cx_timer *timer);
void cx_timers_cancel(cx_timers *self, uint64_t id);
/* Milliseconds until the earliest timer (0 when one is due), or -1 when there is none. */
int cx_timers_next_ms(cx_timers *self, int64_t now_ms);
/* Calls fire for every timer due at now_ms, earliest first; repeating ones are re-armed. fire
 * returns 0 when delivered, non-zero when not (a once-only timer is then retried shortly). */
void cx_timers_expire(cx_timers *self, int64_t now_ms, int (*fire)(const cx_timer *timer, void *arg), void *arg);
/* The monotonic clock timers run on, in milliseconds. */
int64_t cx_timer_now_ms(void);

#endif
