/*
 * idmap.c — open-addressing uint64 → pointer map (see idmap.h for why).
 *
 * The capacity is a power of two and kept under 70% full. Ids are mixed with
 * a 64-bit finalizer because connection ids are sequential within a gateway
 * and would otherwise cluster.
 */
#include "common/idmap.h"

#include <stdlib.h>

typedef struct {
    uint64_t id;
    void *value;
} slot;

struct cx_idmap {
    slot *slots;
    size_t cap;   /* power of two */
    size_t size;
};

static size_t mix(uint64_t x)
{
    return (size_t) cx_idmap_mix(x);
}

cx_idmap *cx_idmap_new(void)
{
    cx_idmap *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    /* Small: most maps stay small (a room's members, a user's tabs, one per group and per user in the
     * broker), and a 64-slot start cost the broker 1 KiB per group and per user (docs/scaling.md). */
    self->cap = 8;
    self->slots = calloc(self->cap, sizeof(slot));
    if (!self->slots) {
        free(self);
        return NULL;
    }
    return self;
}

void cx_idmap_destroy(cx_idmap **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static slot *find(const cx_idmap *self, uint64_t id)
{
    size_t mask = self->cap - 1;
    for (size_t i = mix(id) & mask;; i = (i + 1) & mask) {
        slot *s = &self->slots[i];
        if (s->id == id || s->id == 0)
            return s;
    }
}

static int grow(cx_idmap *self)
{
    slot *old = self->slots;
    size_t oldcap = self->cap;
    slot *fresh = calloc(oldcap * 2, sizeof(slot));
    if (!fresh)
        return -1;
    self->slots = fresh;
    self->cap = oldcap * 2;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].id)
            *find(self, old[i].id) = old[i];
    free(old);
    return 0;
}

int cx_idmap_put(cx_idmap *self, uint64_t id, void *value)
{
    if (id == 0)
        return -1;
    if ((self->size + 1) * 10 > self->cap * 7 && grow(self))
        return -1;
    slot *s = find(self, id);
    if (s->id == 0) {
        s->id = id;
        self->size++;
    }
    s->value = value;
    return 0;
}

void *cx_idmap_get(const cx_idmap *self, uint64_t id)
{
    if (id == 0)
        return NULL;
    slot *s = find(self, id);
    return s->id ? s->value : NULL;
}

/* Backward-shift deletion: pull later members of the probe run into the hole
 * so that lookups never stop early at it. */
void *cx_idmap_remove(cx_idmap *self, uint64_t id)
{
    if (id == 0)
        return NULL;
    slot *s = find(self, id);
    if (s->id == 0)
        return NULL;
    void *value = s->value;
    size_t mask = self->cap - 1;
    size_t hole = (size_t) (s - self->slots);
    for (size_t i = (hole + 1) & mask; self->slots[i].id; i = (i + 1) & mask) {
        size_t home = mix(self->slots[i].id) & mask;
        /* The entry at i may move into the hole if its home is not in (hole, i]. */
        int between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!between) {
            self->slots[hole] = self->slots[i];
            hole = i;
        }
    }
    self->slots[hole].id = 0;
    self->slots[hole].value = NULL;
    self->size--;
    return value;
}

size_t cx_idmap_size(const cx_idmap *self)
{
    return self->size;
}

void cx_idmap_foreach(const cx_idmap *self, void (*fn)(uint64_t, void *, void *), void *arg)
{
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].id)
            fn(self->slots[i].id, self->slots[i].value, arg);
}

size_t cx_idmap_values(const cx_idmap *self, void **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->cap && n < max; i++)
        if (self->slots[i].id)
            out[n++] = self->slots[i].value;
    return n;
}

int cx_idmap_next(const cx_idmap *self, size_t *cursor, uint64_t *id, void **value)
{
    for (size_t i = *cursor; i < self->cap; i++)
        if (self->slots[i].id) {
            *id = self->slots[i].id;
            *value = self->slots[i].value;
            *cursor = i + 1;
            return 1;
        }
    *cursor = self->cap;
    return 0;
}
