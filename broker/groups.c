/*
 * groups.c — group name → members, and each group's member counts per
 * gateway and per worker.
 *
 * One record per group holds everything a join, a leave and a group send
 * touch: its member set, its counts per peer, its name. A connection keeps
 * its groups as these records (conns.c), so a leave looks nothing up by
 * name, and a disconnect of a connection in 10 groups is 10 records
 * visited, not 20 (the counts by gateway and by worker used to be two
 * tables, each with its own records and member maps).
 *
 * Why it is laid out as it is: a lost gateway ends its connections by the
 * thousand, each leaving its groups in a scattered order, so a leave's cost
 * is the cache lines it misses far more than its instructions. So
 *   - the member set is an open-addressing set of connection ids inside
 *     the record while a group is small (2 members), in one array beyond,
 *     at most half full so that a removal shifts few of them back;
 *   - the counts are a handful of (peer, members) pairs in the record (a
 *     deployment has a few gateways and workers: a linear scan beats any
 *     map, and keeps GROUP_SEND's work proportional to peers, never
 *     members), in one array beyond that;
 *   - the name table is this file's own chained hash table, the hash kept
 *     in the record: freeing an empty group unlinks it without hashing its
 *     name again, and the name lives in the record itself (one allocation
 *     per group, two for a big one).
 */
#include "broker/groups.h"
#include "common/idmap.h"

#include <stdlib.h>
#include <string.h>

#define INLINE_IDS_LOG2 2
#define INLINE_IDS (1 << INLINE_IDS_LOG2)   /* members held in the record itself */
#define INLINE_PEERS 6   /* (peer, members) counts held in the record itself */
#define WORKER_TAG 1u    /* a count's peer with this bit is a worker's (peers are aligned pointers) */

struct cx_group {
    /* What a leave touches first, together: the member set's header and the counts. */
    uint64_t *ids;            /* the member set: open addressing, 0 is empty; inline_ids while small */
    uint32_t cap, size;       /* cap a power of two, kept at most half full (short runs to shift) */
    uintptr_t *peer;          /* counts: the peer (WORKER_TAG set for a worker) ... */
    uint32_t *members;        /* ... and its members; in the record until more than INLINE_PEERS */
    uint16_t npeers, peers_cap;
    uint8_t shift;            /* 64 - log2(cap): a member's home slot is its Fibonacci hash's top bits */
    uint32_t inline_members[INLINE_PEERS];
    uintptr_t inline_peer[INLINE_PEERS];
    uint64_t inline_ids[INLINE_IDS];
    cx_group *next;           /* in its bucket of the name table */
    uint64_t hash;            /* of the name, so that unlinking hashes nothing */
    size_t len;
    char name[];              /* NUL-terminated */
};
typedef cx_group group;

struct cx_groups {
    group **buckets;          /* nbuckets, a power of two; at most one group per bucket on average */
    size_t nbuckets, count;
    size_t memberships;       /* members of all groups, for metrics */
};

/* ------------------------------------------------------------ member set */

/* A member's home slot: Fibonacci hashing (one multiply; connection ids are sequential per gateway,
 * which it spreads evenly), so that the backward shift of a removal recomputes homes cheaply. */
static uint32_t home_of(const group *g, uint64_t id)
{
    return (uint32_t) ((id * 0x9e3779b97f4a7c15ULL) >> g->shift);
}

/* The slot holding id, or the empty slot where it would go. */
static uint64_t *slot_of(const group *g, uint64_t id)
{
    uint32_t mask = g->cap - 1;
    for (uint32_t i = home_of(g, id);; i = (i + 1) & mask)
        if (g->ids[i] == id || g->ids[i] == 0)
            return &g->ids[i];
}

static int has_member(const group *g, uint64_t id)
{
    return id != 0 && *slot_of(g, id) == id;
}

static int grow_ids(group *g)
{
    uint64_t *old = g->ids;
    uint32_t oldcap = g->cap;
    uint64_t *fresh = calloc((size_t) oldcap * 2, sizeof *fresh);
    if (!fresh)
        return -1;
    g->ids = fresh;
    g->cap = oldcap * 2;
    g->shift--;
    for (uint32_t i = 0; i < oldcap; i++)
        if (old[i])
            *slot_of(g, old[i]) = old[i];
    if (old != g->inline_ids)
        free(old);
    return 0;
}

static int add_member(group *g, uint64_t id)
{
    if ((g->size + 1) * 2 > g->cap && grow_ids(g) != 0)
        return -1;
    *slot_of(g, id) = id;
    g->size++;
    return 0;
}

/* Backward-shift deletion (as common/idmap.c): no tombstones, lookups never stop early at a hole. */
static int remove_member(group *g, uint64_t id)
{
    uint64_t *s = slot_of(g, id);
    if (id == 0 || *s != id)
        return 0;
    uint32_t mask = g->cap - 1, hole = (uint32_t) (s - g->ids);
    for (uint32_t i = (hole + 1) & mask; g->ids[i]; i = (i + 1) & mask) {
        uint32_t home = home_of(g, g->ids[i]);
        int between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!between) {
            g->ids[hole] = g->ids[i];
            hole = i;
        }
    }
    g->ids[hole] = 0;
    g->size--;
    return 1;
}

/* ------------------------------------------------------------ counts per peer */

static uintptr_t tagged(void *peer, uintptr_t tag)
{
    return (uintptr_t) peer | tag;
}

static int count_peer(group *g, uintptr_t peer)
{
    for (uint16_t i = 0; i < g->npeers; i++)
        if (g->peer[i] == peer) {
            g->members[i]++;
            return 0;
        }
    if (g->npeers == g->peers_cap) {   /* both arrays in one block, peers first */
        if (g->peers_cap > UINT16_MAX / 2)
            return -1;
        uint16_t cap = (uint16_t) (g->peers_cap * 2);
        uintptr_t *block = malloc((size_t) cap * (sizeof(uintptr_t) + sizeof(uint32_t)));
        if (!block)
            return -1;
        uint32_t *members = (uint32_t *) (block + cap);
        memcpy(block, g->peer, g->npeers * sizeof *block);
        memcpy(members, g->members, g->npeers * sizeof *members);
        if (g->peer != g->inline_peer)
            free(g->peer);
        g->peer = block;
        g->members = members;
        g->peers_cap = cap;
    }
    g->peer[g->npeers] = peer;
    g->members[g->npeers++] = 1;
    return 0;
}

static void uncount_peer(group *g, uintptr_t peer)
{
    for (uint16_t i = 0; i < g->npeers; i++)
        if (g->peer[i] == peer) {
            if (--g->members[i] == 0) {
                g->npeers--;
                g->peer[i] = g->peer[g->npeers];
                g->members[i] = g->members[g->npeers];
            }
            return;
        }
}

/* ------------------------------------------------------------ the name table */

/* FNV-1a: names are short, and hashed only on a lookup by name (a join, a group send), never on a leave. */
static uint64_t hash_name(const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char) name[i]) * 0x100000001b3ULL;
    return cx_idmap_mix(h);
}

static group *lookup(const cx_groups *self, const char *name, size_t len, uint64_t hash)
{
    for (group *g = self->buckets[hash & (self->nbuckets - 1)]; g; g = g->next)
        if (g->hash == hash && g->len == len && memcmp(g->name, name, len) == 0)
            return g;
    return NULL;
}

static group *find_group(const cx_groups *self, const char *name)
{
    size_t len = strlen(name);
    return lookup(self, name, len, hash_name(name, len));
}

static void link_group(group **buckets, size_t nbuckets, group *g)
{
    group **head = &buckets[g->hash & (nbuckets - 1)];
    g->next = *head;
    *head = g;
}

static int grow_table(cx_groups *self)
{
    size_t n = self->nbuckets * 2;
    group **fresh = calloc(n, sizeof *fresh);
    if (!fresh)
        return -1;
    for (size_t i = 0; i < self->nbuckets; i++)
        for (group *g = self->buckets[i], *next; g; g = next) {
            next = g->next;
            link_group(fresh, n, g);
        }
    free(self->buckets);
    self->buckets = fresh;
    self->nbuckets = n;
    return 0;
}

static void group_free(group *g)
{
    if (g->ids != g->inline_ids)
        free(g->ids);
    if (g->peer != g->inline_peer)
        free(g->peer);
    free(g);
}

/* The group's record, created empty when there is none (NULL when out of memory). */
static group *group_of(cx_groups *self, const char *name)
{
    size_t len = strlen(name);
    uint64_t hash = hash_name(name, len);
    group *g = lookup(self, name, len, hash);
    if (g)
        return g;
    if (self->count >= self->nbuckets && grow_table(self) != 0)
        return NULL;
    if (!(g = malloc(sizeof *g + len + 1)))
        return NULL;
    *g = (group) { .ids = g->inline_ids, .cap = INLINE_IDS, .peer = g->inline_peer, .members = g->inline_members,
                   .peers_cap = INLINE_PEERS, .shift = 64 - INLINE_IDS_LOG2, .hash = hash, .len = len };
    memcpy(g->name, name, len + 1);
    link_group(self->buckets, self->nbuckets, g);
    self->count++;
    return g;
}

/* An empty group goes: unlinked from its bucket by its kept hash, its name is not hashed again. */
static void drop_if_empty(cx_groups *self, group *g)
{
    if (g->size)
        return;
    group **p = &self->buckets[g->hash & (self->nbuckets - 1)];
    while (*p != g)
        p = &(*p)->next;
    *p = g->next;
    self->count--;
    group_free(g);
}

/* ------------------------------------------------------------ the API */

cx_groups *cx_groups_new(void)
{
    cx_groups *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->nbuckets = 64;
    if (!(self->buckets = calloc(self->nbuckets, sizeof *self->buckets))) {
        free(self);
        return NULL;
    }
    return self;
}

void cx_groups_destroy(cx_groups **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_groups *self = *self_p;
    for (size_t i = 0; i < self->nbuckets; i++)
        for (group *g = self->buckets[i], *next; g; g = next) {
            next = g->next;
            group_free(g);
        }
    free(self->buckets);
    free(self);
    *self_p = NULL;
}

int cx_groups_add(cx_groups *self, const char *name, uint64_t conn, void *gateway, cx_group **out)
{
    group *g = conn ? group_of(self, name) : NULL;
    if (!g)
        return -1;
    if (has_member(g, conn)) {
        *out = g;
        return 0;
    }
    if (add_member(g, conn) != 0 || count_peer(g, tagged(gateway, 0)) != 0) {
        remove_member(g, conn);
        drop_if_empty(self, g);
        return -1;
    }
    self->memberships++;
    *out = g;
    return 1;
}

int cx_groups_count_worker(cx_group *g, void *worker)
{
    return count_peer(g, tagged(worker, WORKER_TAG));
}

void cx_groups_uncount_worker(cx_group *g, void *worker)
{
    uncount_peer(g, tagged(worker, WORKER_TAG));
}

void cx_groups_leave(cx_groups *self, cx_group *g, uint64_t conn, void *gateway, void *worker)
{
    if (!remove_member(g, conn))
        return;
    uncount_peer(g, tagged(gateway, 0));
    if (worker)
        uncount_peer(g, tagged(worker, WORKER_TAG));
    self->memberships--;
    drop_if_empty(self, g);
}

void cx_group_prefetch(const cx_group *g)
{
    __builtin_prefetch(g, 1);
    __builtin_prefetch((const char *) g + 64, 1);   /* the counts' peers */
}

void cx_group_prefetch_member(const cx_group *g, uint64_t conn)
{
    __builtin_prefetch(&g->ids[home_of(g, conn)], 1);
}

const char *cx_group_name(const cx_group *g)
{
    return g->name;
}

/* fn once per peer of the kind tag holding members of any of the groups. */
static void each_peer(cx_groups *self, const char *const *names, size_t nnames, uintptr_t tag,
                      void (*fn)(void *peer, void *arg), void *arg)
{
    uintptr_t seen[64];
    size_t nseen = 0;
    for (size_t i = 0; i < nnames; i++) {
        group *g = find_group(self, names[i]);
        for (uint32_t j = 0; g && j < g->npeers; j++) {
            uintptr_t p = g->peer[j];
            if ((p & WORKER_TAG) != tag)
                continue;
            size_t k = 0;
            while (k < nseen && seen[k] != p)
                k++;
            if (k < nseen)
                continue;
            if (nseen < sizeof seen / sizeof seen[0])
                seen[nseen++] = p;
            fn((void *) (p & ~(uintptr_t) WORKER_TAG), arg);
        }
    }
}

void cx_groups_gateways(cx_groups *self, const char *const *names, size_t nnames,
                        void (*fn)(void *gateway, void *arg), void *arg)
{
    each_peer(self, names, nnames, 0, fn, arg);
}

void cx_groups_workers(cx_groups *self, const char *const *names, size_t nnames,
                       void (*fn)(void *worker, void *arg), void *arg)
{
    each_peer(self, names, nnames, WORKER_TAG, fn, arg);
}

size_t cx_groups_count(const cx_groups *self)
{
    return self->count;
}

size_t cx_groups_memberships(const cx_groups *self)
{
    return self->memberships;
}

size_t cx_groups_members(cx_groups *self, const char *name)
{
    group *g = find_group(self, name);
    return g ? g->size : 0;
}

size_t cx_groups_reach(cx_groups *self, const char *const *names, size_t nnames)
{
    if (nnames == 1)
        return cx_groups_members(self, names[0]);
    cx_idmap *seen = cx_idmap_new();
    for (size_t i = 0; seen && i < nnames; i++) {
        group *g = find_group(self, names[i]);
        for (uint32_t j = 0; g && j < g->cap; j++)
            if (g->ids[j])
                cx_idmap_put(seen, g->ids[j], seen);
    }
    size_t n = seen ? cx_idmap_size(seen) : 0;
    cx_idmap_destroy(&seen);
    return n;
}

void cx_groups_each_member(cx_groups *self, const char *name, void (*fn)(uint64_t conn, void *arg), void *arg)
{
    group *g = find_group(self, name);
    for (uint32_t j = 0; g && j < g->cap; j++)
        if (g->ids[j])
            fn(g->ids[j], arg);
}
