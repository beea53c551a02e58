/*
 * chanx/timer.h — timers for consumers: call me later, or every N ms.
 *
 * Live tickers, presence heartbeats, debounced saves: a timer belongs to one
 * connection and fires as mail in that connection's mailbox, so its callback
 * runs like any other callback of the connection — on a pool thread, never
 * at the same time as the connection's receive_message or another of its
 * timers, in order with its messages. It is the C form of an asyncio task
 * that awaits asyncio.sleep() inside a Channels consumer.
 *
 *     static int tick(chanx_ctx *ctx, void *arg)
 *     {
 *         (void) arg;
 *         return chanx_send_message(ctx, "tick", NULL);
 *     }
 *     ... in post_authentication:  chanx_call_every(ctx, 1000, tick, NULL);
 *
 * Order: timers of one connection that come due at the same moment fire in
 * the order they were set. A timer never fires before its delay; it may fire
 * later when the worker is busy (the delay is a minimum, in milliseconds, on
 * the monotonic clock).
 *
 * End: every timer of a connection is cancelled when the connection ends;
 * no callback runs after disconnect. A repeating timer whose ticks the
 * consumer does not keep up with is not queued without bound: a tick that
 * finds the mailbox full (CHANX_MAILBOX_MAX) is skipped, with a warning.
 *
 * Threading: call these from the connection's own callbacks only (they
 * belong to ctx, like its state). arg is the plugin's: the framework never
 * reads or frees it; free what it points to in disconnect if needed.
 *
 * Errors: chanx_call_later/chanx_call_every return 0 (no timer) when ms is
 * negative or beyond one day (86 400 000), fn is NULL, the connection is
 * ending, or memory runs out. A callback that returns CHANX_ERROR is logged
 * ("Timer callback failed"); the connection and a repeating timer go on.
 */
#ifndef CHANX_TIMER_H
#define CHANX_TIMER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chanx_ctx chanx_ctx;

/* A timer callback: ctx is the connection the timer belongs to; returns CHANX_OK or CHANX_ERROR. */
typedef int (chanx_timer_fn)(chanx_ctx *ctx, void *arg);

/* Calls fn(ctx, arg) once, ms milliseconds from now (0: as soon as the mailbox gets to it).
 * Returns the timer's id (never 0), for chanx_timer_cancel, or 0 on error. */
uint64_t chanx_call_later(chanx_ctx *ctx, int64_t ms, chanx_timer_fn *fn, void *arg);
/* Calls fn(ctx, arg) every ms milliseconds (at least 1) until cancelled or the connection ends. */
uint64_t chanx_call_every(chanx_ctx *ctx, int64_t ms, chanx_timer_fn *fn, void *arg);
/* Cancels a timer of this connection: its callback does not run again, even when its tick is
 * already in the mailbox. CHANX_OK, or CHANX_ERROR when id is not a live timer of ctx (already
 * fired once-only, cancelled, or another connection's). */
int chanx_timer_cancel(chanx_ctx *ctx, uint64_t id);

#ifdef __cplusplus
}
#endif

#endif
