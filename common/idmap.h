/*
 * idmap.h — a hash map from 64-bit ids to pointers.
 *
 * Every process keeps its connections by connection id and looks them up
 * on every message, so this is on the hot path of all three. Open addressing
 * with linear probing and backward-shift deletion keeps lookups to one or two
 * cache lines and needs no tombstones; id 0 is reserved as "empty".
 * The map does not own the values.
 */
#ifndef CX_COMMON_IDMAP_H
#define CX_COMMON_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct cx_idmap cx_idmap;

/* The 64-bit finalizer ids are spread with (MurmurHash3's fmix64): sequential connection ids would
 * otherwise cluster. Also what broker/groups.c finishes its name hash with. */
static inline uint64_t cx_idmap_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

cx_idmap *cx_idmap_new(void);
void cx_idmap_destroy(cx_idmap **self_p);
/* Inserts or replaces; id must not be 0. Returns 0, or -1 when out of memory. */
int cx_idmap_put(cx_idmap *self, uint64_t id, void *value);
void *cx_idmap_get(const cx_idmap *self, uint64_t id);
/* Removes and returns the value, or NULL when absent. */
void *cx_idmap_remove(cx_idmap *self, uint64_t id);
size_t cx_idmap_size(const cx_idmap *self);
/* Calls fn for every entry; fn must not modify the map. */
void cx_idmap_foreach(const cx_idmap *self, void (*fn)(uint64_t id, void *value, void *arg), void *arg);
/* The first entry at slot *cursor or after (start with 0), moving *cursor past it: 1, or 0 when there is
 * none. The map may change between calls: a removal can move an entry back past the cursor, so a
 * caller emptying the map this way restarts from 0 until it is empty. */
int cx_idmap_next(const cx_idmap *self, size_t *cursor, uint64_t *id, void **value);
/* Copies up to max values into out (for iterating while modifying). Returns the count copied. */
size_t cx_idmap_values(const cx_idmap *self, void **out, size_t max);

#endif
