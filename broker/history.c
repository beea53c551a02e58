/*
 * history.c — each history group's last messages, in a ring.
 *
 * Centrifugo's model (history by offset and epoch), kept in the broker
 * because it already sees every group send: a group with a history has an
 * epoch (16 random hex digits, new whenever the group's history starts
 * over: a broker restart, or the group idle past its TTL with nothing held)
 * and a seq that grows by one per message. A client that saw seq N of epoch
 * E asks for "E:N" and either gets exactly N+1.. (recovered) or is told it
 * cannot (another epoch, N trimmed by the count or the bytes bound, expired,
 * or in the future): never a silent gap.
 *
 * The ring is an array of `size` slots; the byte bound (max_bytes per
 * group) drops the oldest first, as the count does. Each message is one
 * malloc'd copy of its text: the broker otherwise never copies frames, and
 * this is the cost docs/scaling.md measures. Only the broker's thread uses
 * it.
 *
 * The groups together hold at most total_max_bytes (CHANX_HISTORY_TOTAL_
 * MAX_BYTES): group names come from clients (a topic per room), so without
 * it one client cycling through new rooms made the broker hold everything
 * it said for the TTL, 90 MB in 8 s. Past it the group least recently sent
 * to gives up its oldest messages first: the groups that hold messages are
 * kept in a list in the order of their last message (an O(1) move per
 * message), and a subscriber who missed what was dropped is told
 * recovered: false, as for any trimmed history.
 */
#include "broker/history.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define EPOCH_LEN 16

typedef struct {
    uint64_t seq;
    int64_t at_ms;
    int64_t user_id;
    uint32_t flags;
    char *text;        /* the text, then the action (an event's; one allocation for both) */
    uint32_t len, action_len;
} held;

typedef struct group_log {
    char epoch[EPOCH_LEN + 1];
    uint64_t seq;           /* the last seq given */
    uint32_t size;          /* messages kept at most (the largest declared) */
    uint32_t cap;           /* slots allocated: grows by doubling up to size, so an idle group costs little */
    uint32_t ttl_ms;
    held *ring;
    uint32_t first, count;  /* the oldest held message's slot, and how many are held */
    size_t bytes;
    int64_t last_ms;        /* the last send or declaration: an idle empty group is forgotten */
    uint64_t hole_lo, hole_hi;  /* after a standby's takeover: seqs no message has (a since in it fails) */
    struct group_log *older, *newer;   /* in the list of groups holding messages, by their last message */
} group_log;

struct cx_history {
    zhashx_t *logs;         /* group name → group_log */
    uint32_t default_size, default_ttl_ms;
    size_t max_bytes, total_max_bytes;
    size_t messages, bytes; /* over every group, for the metrics and total_max_bytes */
    group_log *least_recent, *most_recent;   /* the groups holding messages, by their last message */
};

static void unlink_group(cx_history *self, group_log *g)
{
    if (g->older)
        g->older->newer = g->newer;
    else if (self->least_recent == g)
        self->least_recent = g->newer;
    if (g->newer)
        g->newer->older = g->older;
    else if (self->most_recent == g)
        self->most_recent = g->older;
    g->older = g->newer = NULL;
}

static void link_most_recent(cx_history *self, group_log *g)
{
    unlink_group(self, g);
    g->older = self->most_recent;
    if (self->most_recent)
        self->most_recent->newer = g;
    else
        self->least_recent = g;
    self->most_recent = g;
}

static void new_epoch(char out[EPOCH_LEN + 1])
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t) sizeof r)
        r = (uint64_t) zclock_usecs() ^ ((uint64_t) getpid() << 32);
    snprintf(out, EPOCH_LEN + 1, "%016llx", (unsigned long long) r);
}

static void drop_oldest(cx_history *self, group_log *g)
{
    held *h = &g->ring[g->first];
    g->bytes -= h->len;
    self->bytes -= h->len;
    self->messages--;
    free(h->text);
    h->text = NULL;
    g->first = (g->first + 1) % g->cap;
    if (--g->count == 0)
        unlink_group(self, g);
}

/* A ring of cap slots: the held messages move to its start, in order. */
static int grow(group_log *g, uint32_t cap)
{
    held *ring = calloc(cap, sizeof *ring);
    if (!ring)
        return -1;
    for (uint32_t i = 0; i < g->count; i++)
        ring[i] = g->ring[(g->first + i) % g->cap];
    free(g->ring);
    g->ring = ring;
    g->first = 0;
    g->cap = cap;
    return 0;
}

/* Holds m (its seq the group's next) as the newest, dropping the oldest past the count and the bytes. */
static int hold(cx_history *self, group_log *g, const cx_history_message *m, int64_t now_ms)
{
    char *copy = malloc(m->text.len + m->action.len + 1);
    if (!copy)
        return -1;
    memcpy(copy, m->text.ptr, m->text.len);
    if (m->action.len)
        memcpy(copy + m->text.len, m->action.ptr, m->action.len);
    if (g->count == g->size)
        drop_oldest(self, g);
    else if (g->count == g->cap && grow(g, g->cap ? (g->cap > g->size / 2 ? g->size : 2 * g->cap)
                                                   : (g->size < 8 ? g->size : 8)) != 0) {
        free(copy);
        return -1;
    }
    while (g->count > 0 && g->bytes + m->text.len > self->max_bytes)
        drop_oldest(self, g);
    while (self->least_recent && self->bytes + m->text.len > self->total_max_bytes)
        drop_oldest(self, self->least_recent);
    held *h = &g->ring[(g->first + g->count) % g->cap];
    *h = (held) { m->seq, now_ms, m->user_id, m->flags, copy, m->text.len, m->action.len };
    g->seq = m->seq;
    g->count++;
    g->bytes += m->text.len;
    g->last_ms = now_ms;
    self->bytes += m->text.len;
    self->messages++;
    link_most_recent(self, g);
    return 0;
}

static cx_history_message held_message(const held *h)
{
    return (cx_history_message) { h->seq, h->user_id, h->flags, cx_slice_n(h->text, h->len),
                                  cx_slice_n(h->text + h->len, h->action_len) };
}

static void log_free(void **item)
{
    group_log *g = *item;
    if (!g)
        return;
    for (uint32_t i = 0; i < g->count; i++)
        free(g->ring[(g->first + i) % g->cap].text);
    free(g->ring);
    free(g);
    *item = NULL;
}

cx_history *cx_history_new(uint32_t default_size, uint32_t default_ttl_ms, size_t max_bytes, size_t total_max_bytes)
{
    cx_history *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->logs = zhashx_new();
    zhashx_set_destructor(self->logs, log_free);
    self->default_size = default_size;
    self->default_ttl_ms = default_ttl_ms;
    self->max_bytes = max_bytes;
    self->total_max_bytes = total_max_bytes;
    return self;
}

void cx_history_destroy(cx_history **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->logs);
    free(*self_p);
    *self_p = NULL;
}


int cx_history_declare(cx_history *self, const char *group, uint32_t size, uint32_t ttl_ms, int64_t now_ms)
{
    if (size == CX_HISTORY_DEFAULT)
        size = self->default_size;
    if (ttl_ms == CX_HISTORY_DEFAULT)
        ttl_ms = self->default_ttl_ms;
    if (size == 0 || ttl_ms == 0)
        return zhashx_lookup(self->logs, group) != NULL;
    group_log *g = zhashx_lookup(self->logs, group);
    int created = !g;
    if (!g) {
        if (!(g = calloc(1, sizeof *g)))
            return -1;
        new_epoch(g->epoch);
        zhashx_insert(self->logs, group, g);
    }
    if (size > g->size)
        g->size = size;   /* the ring grows as messages come (hold) */
    if (ttl_ms > g->ttl_ms)
        g->ttl_ms = ttl_ms;
    g->last_ms = now_ms;
    return created ? 2 : 1;
}

int cx_history_current(cx_history *self, const char *group, const char **epoch, uint64_t *seq)
{
    group_log *g = zhashx_lookup(self->logs, group);
    if (!g)
        return 0;
    *epoch = g->epoch;
    *seq = g->seq;
    return 1;
}

int cx_history_any(const cx_history *self)
{
    return zhashx_size(self->logs) > 0;
}

int cx_history_bounds(cx_history *self, const char *group, uint32_t *size, uint32_t *ttl_ms)
{
    group_log *g = zhashx_lookup(self->logs, group);
    if (!g)
        return 0;
    *size = g->size;
    *ttl_ms = g->ttl_ms;
    return 1;
}

uint64_t cx_history_append(cx_history *self, const char *group, const cx_history_message *m, int64_t now_ms,
                           const char **epoch)
{
    group_log *g = zhashx_lookup(self->logs, group);
    cx_history_message one = *m;
    one.seq = g ? g->seq + 1 : 0;
    if (!g || hold(self, g, &one, now_ms) != 0)
        return 0;
    *epoch = g->epoch;
    return g->seq;
}

static void drop_all(cx_history *self, group_log *g)
{
    while (g->count > 0)
        drop_oldest(self, g);
}

int cx_history_mirror(cx_history *self, const char *group, cx_slice epoch, uint64_t seq, uint32_t size,
                      uint32_t ttl_ms, const cx_history_message *m, int64_t now_ms)
{
    if (epoch.len != EPOCH_LEN || cx_history_declare(self, group, size, ttl_ms, now_ms) < 0)
        return -1;
    group_log *g = zhashx_lookup(self->logs, group);
    if (!g)
        return 0;   /* size or TTL 0: nothing to keep */
    if (memcmp(g->epoch, epoch.ptr, EPOCH_LEN) != 0) {
        drop_all(self, g);
        memcpy(g->epoch, epoch.ptr, EPOCH_LEN);
    }
    if (!m) {
        if (seq != g->seq)
            drop_all(self, g);
        g->seq = seq;
        return 0;
    }
    if (seq != g->seq + 1)
        drop_all(self, g);
    return hold(self, g, m, now_ms);
}

void cx_history_each(cx_history *self,
                     void (*fn)(const char *group, const char *epoch, uint64_t seq, uint32_t size, uint32_t ttl_ms,
                                const cx_history_message *m, void *arg),
                     void *arg)
{
    for (group_log *g = zhashx_first(self->logs); g; g = zhashx_next(self->logs)) {
        const char *name = zhashx_cursor(self->logs);
        uint64_t before = g->count ? g->ring[g->first].seq - 1 : g->seq;
        fn(name, g->epoch, before, g->size, g->ttl_ms, NULL, arg);
        for (uint32_t i = 0; i < g->count; i++) {
            const held *h = &g->ring[(g->first + i) % g->cap];
            cx_history_message m = held_message(h);
            fn(name, g->epoch, h->seq, g->size, g->ttl_ms, &m, arg);
        }
    }
}

static void expire_log(cx_history *self, group_log *g, int64_t now_ms)
{
    while (g->count > 0 && now_ms - g->ring[g->first].at_ms >= (int64_t) g->ttl_ms)
        drop_oldest(self, g);
}

/* One "epoch:seq" of a since list: 1 when its epoch is this group's, with *seq its seq; 0 when it
 * names another epoch; -1 when it is malformed (no colon, a seq that is not a decimal uint64). */
static int since_entry(const char *p, size_t n, const char *epoch, uint64_t *seq)
{
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p + n - 1 || (size_t) (p + n - colon - 1) > 20)
        return -1;
    uint64_t v = 0;
    for (const char *d = colon + 1; d < p + n; d++) {
        if (*d < '0' || *d > '9' || v > (UINT64_MAX - (uint64_t) (*d - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t) (*d - '0');
    }
    if ((size_t) (colon - p) != strlen(epoch) || memcmp(p, epoch, (size_t) (colon - p)) != 0)
        return 0;
    *seq = v;
    return 1;
}

/* The seq the since list asks from for this group's epoch: 1 found, 0 none of this epoch or malformed. */
static int since_seq(cx_slice since, const char *epoch, uint64_t *seq)
{
    const char *p = since.ptr, *end = since.ptr + since.len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t) (end - p));
        size_t n = (size_t) ((comma ? comma : end) - p);
        int rc = since_entry(p, n, epoch, seq);
        if (rc != 0)
            return rc == 1;
        p += n + 1;
    }
    return 0;
}

int cx_history_covers(cx_history *self, const char *group, cx_slice since, int64_t now_ms, uint64_t *from)
{
    group_log *g = zhashx_lookup(self->logs, group);
    if (!g)
        return 0;
    expire_log(self, g, now_ms);
    if (!since_seq(since, g->epoch, from) || *from > g->seq || (*from >= g->hole_lo && *from < g->hole_hi))
        return 0;
    uint64_t oldest = g->count ? g->ring[g->first].seq : g->seq + 1;
    return *from + 1 >= oldest;   /* else messages between from and the oldest held are gone */
}

void cx_history_each_after(cx_history *self, const char *group, uint64_t from,
                           void (*fn)(const cx_history_message *m, void *arg), void *arg)
{
    group_log *g = zhashx_lookup(self->logs, group);
    for (uint32_t i = 0; g && i < g->count; i++) {
        const held *h = &g->ring[(g->first + i) % g->cap];
        if (h->seq > from) {
            cx_history_message m = held_message(h);
            fn(&m, arg);
        }
    }
}

void cx_history_takeover(cx_history *self)
{
    for (group_log *g = zhashx_first(self->logs); g; g = zhashx_next(self->logs)) {
        g->hole_lo = g->seq + 1;
        g->hole_hi = g->seq + CX_HISTORY_TAKEOVER_GAP;
        g->seq = g->hole_hi;
    }
}

void cx_history_expire(cx_history *self, int64_t now_ms, int (*in_use)(const char *group, void *arg), void *arg)
{
    zlistx_t *idle = zlistx_new();
    for (group_log *g = zhashx_first(self->logs); g; g = zhashx_next(self->logs)) {
        expire_log(self, g, now_ms);
        if (g->count == 0 && now_ms - g->last_ms >= (int64_t) g->ttl_ms && idle
            && !in_use(zhashx_cursor(self->logs), arg))
            zlistx_add_end(idle, (void *) zhashx_cursor(self->logs));
    }
    for (const char *name = idle ? zlistx_first(idle) : NULL; name; name = zlistx_next(idle))
        zhashx_delete(self->logs, name);
    zlistx_destroy(&idle);
}

void cx_history_stats(const cx_history *self, size_t *groups, size_t *messages, size_t *bytes)
{
    *groups = zhashx_size(self->logs);
    *messages = self->messages;
    *bytes = self->bytes;
}
