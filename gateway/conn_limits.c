/*
 * conn_limits.c — open connections per user and per anonymous address
 * (conn_limits.h).
 *
 * Two maps: key ("u:<user id>" or "a:<address>") → count, and connection id
 * → its key, so that a connection's release needs nothing from its session
 * (which forgets the client's address once CONNECT is sent).
 */
#include "gateway/conn_limits.h"
#include "common/idmap.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cx_conn_limits {
    size_t per_user, per_address;
    zhashx_t *counts;   /* key → (uintptr_t) count */
    cx_idmap *keys;     /* conn → its key (malloc'd) */
};

cx_conn_limits *cx_conn_limits_new(size_t per_user, size_t per_address)
{
    cx_conn_limits *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->per_user = per_user;
    self->per_address = per_address;
    self->counts = zhashx_new();
    self->keys = cx_idmap_new();
    if (!self->counts || !self->keys)
        cx_conn_limits_destroy(&self);
    return self;
}

static void free_key(uint64_t conn, void *key, void *arg)
{
    (void) conn;
    (void) arg;
    free(key);
}

void cx_conn_limits_destroy(cx_conn_limits **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_conn_limits *self = *self_p;
    if (self->keys)
        cx_idmap_foreach(self->keys, free_key, NULL);
    cx_idmap_destroy(&self->keys);
    zhashx_destroy(&self->counts);
    free(self);
    *self_p = NULL;
}

size_t cx_conn_limits_admit(cx_conn_limits *self, uint64_t conn, int64_t user_id, const char *address,
                            char *detail, size_t size)
{
    size_t limit = user_id ? self->per_user : self->per_address;
    if (!limit)
        return 0;
    char key[160];
    if (user_id)
        snprintf(key, sizeof key, "u:%" PRId64, user_id);
    else
        snprintf(key, sizeof key, "a:%s", address ? address : "");
    size_t count = (uintptr_t) zhashx_lookup(self->counts, key);
    if (count >= limit) {
        snprintf(detail, size, "Too many connections: %s already holds %zu (the limit).",
                 user_id ? "this user" : "this address", count);
        return limit;
    }
    char *copy = strdup(key);
    if (!copy || cx_idmap_put(self->keys, conn, copy) != 0) {
        free(copy);
        return 0;
    }
    zhashx_update(self->counts, key, (void *) (uintptr_t) (count + 1));
    return 0;
}

void cx_conn_limits_release(cx_conn_limits *self, uint64_t conn)
{
    char *key = self ? cx_idmap_remove(self->keys, conn) : NULL;
    if (!key)
        return;
    size_t count = (uintptr_t) zhashx_lookup(self->counts, key);
    if (count > 1)
        zhashx_update(self->counts, key, (void *) (uintptr_t) (count - 1));
    else
        zhashx_delete(self->counts, key);
    free(key);
}
