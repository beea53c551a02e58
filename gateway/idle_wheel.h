/*
 * idle_wheel.h — which connections have been silent too long, found
 * without a timer per connection.
 *
 * A hashed timer wheel (Varghese & Lauck) whose entries are rescheduled
 * lazily: noting that a peer sent something is one store into its entry
 * (cx_idle_seen), never a move in the wheel. An entry is visited when the
 * slot of the deadline it was filed under comes round; only then is its
 * real deadline computed from the last time it was seen, and it is filed
 * again (still quiet is rare on a busy connection: about one visit per
 * interval each), pinged, or declared dead. The gateway drives it from one
 * libuv timer (gateway/keepalive.c), so 10,000 idle connections cost one
 * timer and a few hundred visits a second, and a message costs nothing.
 *
 * States of an entry: quiet for interval_ms → CX_IDLE_PING (the caller
 * pings); still nothing from the peer for timeout_ms after that ping →
 * CX_IDLE_DEAD (the caller drops the connection). Anything seen after the
 * ping starts a new interval. Before either, an optional probe may report
 * activity the owner could not note as it happened (cx_idle_wheel_set_probe).
 *
 * Times are milliseconds of one monotonic clock chosen by the caller.
 * Not thread-safe: one wheel belongs to one event loop.
 */
#ifndef CX_GATEWAY_IDLE_WHEEL_H
#define CX_GATEWAY_IDLE_WHEEL_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in what it tracks (a session); the wheel links it, never frees it. */
typedef struct cx_idle_entry {
    struct cx_idle_entry *prev, *next;
    int64_t seen_ms;   /* the peer last sent something */
    int64_t ping_ms;   /* our unanswered ping went out then; 0: none outstanding */
    int slot;          /* -1 when not in a wheel */
} cx_idle_entry;

typedef enum { CX_IDLE_PING, CX_IDLE_DEAD } cx_idle_event;

/* Called from cx_idle_wheel_sweep. The entry is out of the wheel during the
 * call; the callback must not add or remove entries. After CX_IDLE_DEAD the
 * entry stays out of the wheel (removing it later is a no-op). */
typedef void (cx_idle_fn)(cx_idle_entry *entry, cx_idle_event event, void *arg);

typedef struct cx_idle_wheel cx_idle_wheel;

/* interval_ms, timeout_ms > 0. NULL when out of memory. */
cx_idle_wheel *cx_idle_wheel_new(int64_t interval_ms, int64_t timeout_ms, int64_t now_ms);
void cx_idle_wheel_destroy(cx_idle_wheel **self_p);
/* How often cx_idle_wheel_sweep should run (ms): the width of one slot. */
int64_t cx_idle_wheel_granularity(const cx_idle_wheel *self);

/* Starts tracking entry as seen now. */
void cx_idle_wheel_add(cx_idle_wheel *self, cx_idle_entry *entry, int64_t now_ms);
/* Stops tracking it (no-op when not tracked). */
void cx_idle_wheel_remove(cx_idle_wheel *self, cx_idle_entry *entry);
/* The peer sent something (a frame, a pong). */
static inline void cx_idle_seen(cx_idle_entry *entry, int64_t now_ms)
{
    entry->seen_ms = now_ms;
}
/* Optional: asked about an entry whose deadline came with nothing seen, before it is pinged or
 * declared dead; returns 1 when its owner knows the peer was active meanwhile by other means (the
 * kernel's TCP counters, gateway/tcp_peer.h), which counts as seen now. Same arg as the sweep's. */
typedef int (cx_idle_probe_fn)(cx_idle_entry *entry, void *arg);
void cx_idle_wheel_set_probe(cx_idle_wheel *self, cx_idle_probe_fn *probe);
/* Visits the slots whose time has come; returns how many entries it visited. */
size_t cx_idle_wheel_sweep(cx_idle_wheel *self, int64_t now_ms, cx_idle_fn *fn, void *arg);
size_t cx_idle_wheel_size(const cx_idle_wheel *self);

#endif
