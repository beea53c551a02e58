/*
 * idle_wheel.c — the lazy timer wheel of idle_wheel.h.
 *
 * Slot k holds the entries filed under a deadline in ((k-1)*G, k*G] for some
 * turn of the wheel; sweeping tick t (absolute, time / G) empties slot
 * t % NSLOTS. An entry whose deadline is further than one turn away simply
 * comes round early, sees its deadline still ahead and is filed again, so
 * any interval works with a fixed number of slots. G is a sixteenth of the
 * shorter of interval and timeout (10 ms to 1 s): pings and closes happen at
 * most G late, and a connection is visited a few times per interval at most.
 */
#include "gateway/idle_wheel.h"

#include <stdlib.h>

#define NSLOTS 256

struct cx_idle_wheel {
    int64_t interval_ms, timeout_ms;
    int64_t granularity;    /* G, ms per slot */
    int64_t next_tick;      /* the first tick not swept yet */
    size_t size;
    cx_idle_probe_fn *probe;
    cx_idle_entry *slots[NSLOTS];
};

cx_idle_wheel *cx_idle_wheel_new(int64_t interval_ms, int64_t timeout_ms, int64_t now_ms)
{
    if (interval_ms <= 0 || timeout_ms <= 0)
        return NULL;
    cx_idle_wheel *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    int64_t shorter = interval_ms < timeout_ms ? interval_ms : timeout_ms;
    self->interval_ms = interval_ms;
    self->timeout_ms = timeout_ms;
    self->granularity = shorter / 16 < 10 ? 10 : shorter / 16 > 1000 ? 1000 : shorter / 16;
    self->next_tick = now_ms / self->granularity + 1;
    return self;
}

void cx_idle_wheel_destroy(cx_idle_wheel **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);   /* entries belong to their owners */
    *self_p = NULL;
}

int64_t cx_idle_wheel_granularity(const cx_idle_wheel *self)
{
    return self->granularity;
}

size_t cx_idle_wheel_size(const cx_idle_wheel *self)
{
    return self->size;
}

/* Files e under deadline due, but never before tick `earliest` (the slot being swept is done). */
static void file(cx_idle_wheel *self, cx_idle_entry *e, int64_t due, int64_t earliest)
{
    int64_t tick = (due + self->granularity - 1) / self->granularity;   /* swept once now >= due */
    if (tick < earliest)
        tick = earliest;
    int slot = (int) (tick % NSLOTS);
    e->slot = slot;
    e->prev = NULL;
    e->next = self->slots[slot];
    if (e->next)
        e->next->prev = e;
    self->slots[slot] = e;
    self->size++;
}

void cx_idle_wheel_add(cx_idle_wheel *self, cx_idle_entry *e, int64_t now_ms)
{
    e->seen_ms = now_ms;
    e->ping_ms = 0;
    file(self, e, now_ms + self->interval_ms, self->next_tick);
}

void cx_idle_wheel_remove(cx_idle_wheel *self, cx_idle_entry *e)
{
    if (e->slot < 0)
        return;
    if (e->prev)
        e->prev->next = e->next;
    else
        self->slots[e->slot] = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
    e->slot = -1;
    self->size--;
}

void cx_idle_wheel_set_probe(cx_idle_wheel *self, cx_idle_probe_fn *probe)
{
    self->probe = probe;
}

/* When e is due next: a ping seen answered (a pong, or anything else) starts a new interval. */
static int64_t deadline(const cx_idle_wheel *self, cx_idle_entry *e)
{
    if (e->ping_ms && e->seen_ms >= e->ping_ms)
        e->ping_ms = 0;
    return e->ping_ms ? e->ping_ms + self->timeout_ms : e->seen_ms + self->interval_ms;
}

/* One entry whose slot came round at tick t. */
static void visit(cx_idle_wheel *self, cx_idle_entry *e, int64_t t, int64_t now, cx_idle_fn *fn, void *arg)
{
    int64_t due = deadline(self, e);
    if (due <= now && self->probe && self->probe(e, arg)) {
        e->seen_ms = now;
        due = deadline(self, e);
    }
    if (due <= now) {
        if (e->ping_ms) {
            fn(e, CX_IDLE_DEAD, arg);
            return;   /* stays out of the wheel */
        }
        e->ping_ms = now;
        fn(e, CX_IDLE_PING, arg);
        due = now + self->timeout_ms;
    }
    file(self, e, due, t + 1);
}

size_t cx_idle_wheel_sweep(cx_idle_wheel *self, int64_t now_ms, cx_idle_fn *fn, void *arg)
{
    size_t visited = 0;
    int64_t last = now_ms / self->granularity;
    /* After a long stall every slot is visited once: the later ticks would revisit the same slots. */
    if (last - self->next_tick >= NSLOTS)
        self->next_tick = last - NSLOTS + 1;
    for (int64_t t = self->next_tick; t <= last; t++) {
        cx_idle_entry *list = self->slots[t % NSLOTS];
        self->slots[t % NSLOTS] = NULL;
        while (list) {
            cx_idle_entry *e = list;
            list = e->next;
            e->prev = e->next = NULL;
            e->slot = -1;
            self->size--;
            visited++;
            visit(self, e, t, now_ms, fn, arg);
        }
    }
    if (last >= self->next_tick)
        self->next_tick = last + 1;
    return visited;
}
