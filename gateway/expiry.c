/*
 * expiry.c — the indexed binary min-heap of expiry.h. Each entry records its
 * index (slot) so it can be moved or removed from the middle; every swap
 * updates both entries' slots.
 */
#include "gateway/expiry.h"

#include <stdlib.h>

struct cx_expiry {
    cx_expiry_entry **heap;
    size_t n, cap;
};

cx_expiry *cx_expiry_new(void)
{
    return calloc(1, sizeof(cx_expiry));
}

void cx_expiry_destroy(cx_expiry **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (size_t i = 0; i < (*self_p)->n; i++)
        (*self_p)->heap[i]->slot = -1;
    free((*self_p)->heap);
    free(*self_p);
    *self_p = NULL;
}

void cx_expiry_entry_init(cx_expiry_entry *e)
{
    e->at_ms = 0;
    e->slot = -1;
}

static void place(cx_expiry *self, size_t i, cx_expiry_entry *e)
{
    self->heap[i] = e;
    e->slot = (long) i;
}

static void sift_up(cx_expiry *self, size_t i)
{
    cx_expiry_entry *e = self->heap[i];
    while (i > 0 && self->heap[(i - 1) / 2]->at_ms > e->at_ms) {
        place(self, i, self->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(self, i, e);
}

static void sift_down(cx_expiry *self, size_t i)
{
    cx_expiry_entry *e = self->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= self->n)
            break;
        if (child + 1 < self->n && self->heap[child + 1]->at_ms < self->heap[child]->at_ms)
            child++;
        if (self->heap[child]->at_ms >= e->at_ms)
            break;
        place(self, i, self->heap[child]);
        i = child;
    }
    place(self, i, e);
}

int cx_expiry_set(cx_expiry *self, cx_expiry_entry *e, int64_t at_ms)
{
    if (e->slot >= 0) {
        e->at_ms = at_ms;
        sift_up(self, (size_t) e->slot);
        sift_down(self, (size_t) e->slot);
        return 0;
    }
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        cx_expiry_entry **grown = realloc(self->heap, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->heap = grown;
        self->cap = cap;
    }
    e->at_ms = at_ms;
    place(self, self->n++, e);
    sift_up(self, self->n - 1);
    return 0;
}

void cx_expiry_remove(cx_expiry *self, cx_expiry_entry *e)
{
    if (!self || e->slot < 0)
        return;
    size_t i = (size_t) e->slot;
    e->slot = -1;
    cx_expiry_entry *last = self->heap[--self->n];
    if (i == self->n)
        return;
    place(self, i, last);
    sift_up(self, i);
    sift_down(self, (size_t) last->slot);
}

cx_expiry_entry *cx_expiry_pop_due(cx_expiry *self, int64_t now_ms)
{
    if (!self || !self->n || self->heap[0]->at_ms > now_ms)
        return NULL;
    cx_expiry_entry *e = self->heap[0];
    cx_expiry_remove(self, e);
    return e;
}

size_t cx_expiry_size(const cx_expiry *self)
{
    return self ? self->n : 0;
}
