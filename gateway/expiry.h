/*
 * expiry.h — connections that end at a time of their credential's choosing:
 * a JWT's exp (RFC 7519 §4.1.4; simplejwt's ACCESS_TOKEN_LIFETIME).
 *
 * Design: a binary min-heap of deadlines whose entries are embedded in what
 * they track (a session) and know their place, so a refreshed token moves
 * its entry (O(log n)) and a closing connection takes it out (O(log n)),
 * with no timer per connection and nothing left behind: a client refreshing
 * in a loop cannot grow the heap. The gateway's 50 ms tick pops what is due
 * (cx_expiry_pop_due), so a connection ends within a tick of its deadline.
 * A timer per connection in lws's sorted list would cost a walk over all of
 * them per insertion; a libuv timer each, a handle to close asynchronously.
 *
 * Times are milliseconds of the wall clock (exp is wall-clock seconds).
 * Not thread-safe: one heap belongs to one event loop.
 */
#ifndef CX_GATEWAY_EXPIRY_H
#define CX_GATEWAY_EXPIRY_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in what it tracks; slot -1 (set by cx_expiry_entry_init) when not in a heap. */
typedef struct {
    int64_t at_ms;   /* deadline, ms since the epoch */
    long slot;
} cx_expiry_entry;

typedef struct cx_expiry cx_expiry;

cx_expiry *cx_expiry_new(void);
void cx_expiry_destroy(cx_expiry **self_p);
void cx_expiry_entry_init(cx_expiry_entry *e);
/* Files e under at_ms, or moves it there when already filed. -1 when out of memory (e not filed). */
int cx_expiry_set(cx_expiry *self, cx_expiry_entry *e, int64_t at_ms);
/* Takes e out if it is filed. */
void cx_expiry_remove(cx_expiry *self, cx_expiry_entry *e);
/* The entry with the earliest deadline at or before now_ms, out of the heap; NULL when none is due. */
cx_expiry_entry *cx_expiry_pop_due(cx_expiry *self, int64_t now_ms);
size_t cx_expiry_size(const cx_expiry *self);

#endif
