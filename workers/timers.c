/*
 * timers.c — a binary min-heap of timers with lazy cancel (see timers.h).
 *
 * The id → timer map finds a timer to cancel in O(1); a cancelled timer stays
 * in the heap, marked, until it surfaces. A repeating timer is re-armed one
 * period after its due time, or one period from now when the worker fell
 * behind, so a stalled worker does not fire a burst of catch-up ticks. When
 * fire cannot deliver (the connection's mailbox is full), a repeating timer
 * skips that tick and a once-only timer is retried RETRY_MS later: a
 * call_later is never lost while its connection lives.
 */
#include "workers/timers.h"
#include "common/idmap.h"

#include <stdlib.h>
#include <time.h>

/* A once-only timer whose mail could not be posted (full mailbox) tries again this much later. */
#define RETRY_MS 10

struct cx_timers {
    cx_timer **heap;
    size_t n, cap;
    cx_idmap *live;   /* id → timer, the ones not cancelled */
};

int64_t cx_timer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cx_timers *cx_timers_new(void)
{
    cx_timers *self = calloc(1, sizeof *self);
    if (self && !(self->live = cx_idmap_new())) {
        free(self);
        return NULL;
    }
    return self;
}

void cx_timers_destroy(cx_timers **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_timers *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        free(self->heap[i]);
    free(self->heap);
    cx_idmap_destroy(&self->live);
    free(self);
    *self_p = NULL;
}

static int before(const cx_timer *a, const cx_timer *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->id < b->id);
}

static void sift_up(cx_timers *self, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(self->heap[i], self->heap[parent]))
            break;
        cx_timer *t = self->heap[i];
        self->heap[i] = self->heap[parent];
        self->heap[parent] = t;
        i = parent;
    }
}

static void sift_down(cx_timers *self, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < self->n && before(self->heap[l], self->heap[min]))
            min = l;
        if (r < self->n && before(self->heap[r], self->heap[min]))
            min = r;
        if (min == i)
            return;
        cx_timer *t = self->heap[i];
        self->heap[i] = self->heap[min];
        self->heap[min] = t;
        i = min;
    }
}

static int push(cx_timers *self, cx_timer *timer)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        cx_timer **grown = realloc(self->heap, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->heap = grown;
        self->cap = cap;
    }
    self->heap[self->n] = timer;
    sift_up(self, self->n++);
    return 0;
}

static cx_timer *pop(cx_timers *self)
{
    cx_timer *top = self->heap[0];
    self->heap[0] = self->heap[--self->n];
    if (self->n)
        sift_down(self, 0);
    return top;
}

void cx_timers_add(cx_timers *self, cx_timer *timer)
{
    if (push(self, timer) != 0) {
        free(timer);   /* out of memory: the plugin's callback never runs, as if cancelled */
        return;
    }
    if (cx_idmap_put(self->live, timer->id, timer) != 0)
        timer->cancelled = 1;   /* the same; dropped when it surfaces */
}

void cx_timers_cancel(cx_timers *self, uint64_t id)
{
    cx_timer *t = cx_idmap_remove(self->live, id);
    if (t)
        t->cancelled = 1;
}

/* Drops cancelled timers from the top. */
static void prune(cx_timers *self)
{
    while (self->n && self->heap[0]->cancelled)
        free(pop(self));
}

int cx_timers_next_ms(cx_timers *self, int64_t now_ms)
{
    prune(self);
    if (!self->n)
        return -1;
    int64_t wait = self->heap[0]->due_ms - now_ms;
    return wait <= 0 ? 0 : wait > 86400000 ? 86400000 : (int) wait;
}

void cx_timers_expire(cx_timers *self, int64_t now_ms, int (*fire)(const cx_timer *timer, void *arg), void *arg)
{
    for (prune(self); self->n && self->heap[0]->due_ms <= now_ms; prune(self)) {
        cx_timer *t = pop(self);
        int retry = fire(t, arg) != 0 && t->period_ms == 0;
        if ((t->period_ms > 0 || retry) && !t->cancelled) {
            t->due_ms = retry ? now_ms + RETRY_MS : t->due_ms + t->period_ms;
            if (t->due_ms <= now_ms)
                t->due_ms = now_ms + t->period_ms;
            if (push(self, t) == 0)
                continue;
        }
        cx_idmap_remove(self->live, t->id);
        free(t);
    }
}
