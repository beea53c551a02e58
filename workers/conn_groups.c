/*
 * conn_groups.c — per connection, the groups the broker was told it joined.
 *
 * Why the worker keeps them: group membership lives in three places (the
 * consumer's chanx_ctx, the broker's tables, the gateway's mirror), and a
 * GROUP_ADD travels worker → broker → gateway. A broker that dies holding
 * one (read from the worker's socket, not yet forwarded) takes it along: the
 * gateway never mirrors the membership, so its RESUME to the restarted
 * broker lacks it too, and the connection silently misses every message of
 * that group for good while its consumer believes it is a member. The
 * worker is where memberships are decided, so its RESUME carries them and
 * the restarted broker re-adds what the gateway lacks (broker/rebuild.c).
 *
 * A small array per connection: connections are in a handful of groups.
 */
#include "workers/conn_groups.h"
#include "common/idmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char **names;
    size_t n;
} entry;

struct cx_conn_groups {
    cx_idmap *conns;   /* conn id → entry */
    cx_decoder *dec;
};

cx_conn_groups *cx_conn_groups_new(void)
{
    cx_conn_groups *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->conns = cx_idmap_new();
    self->dec = cx_decoder_new();
    if (!self->conns || !self->dec)
        cx_conn_groups_destroy(&self);
    return self;
}

static void entry_free(entry *e)
{
    for (size_t i = 0; e && i < e->n; i++)
        free(e->names[i]);
    if (e)
        free(e->names);
    free(e);
}

static void free_one(uint64_t id, void *value, void *arg)
{
    (void) id;
    (void) arg;
    entry_free(value);
}

void cx_conn_groups_destroy(cx_conn_groups **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_conn_groups *self = *self_p;
    if (self->conns)
        cx_idmap_foreach(self->conns, free_one, NULL);
    cx_idmap_destroy(&self->conns);
    cx_decoder_destroy(&self->dec);
    free(self);
    *self_p = NULL;
}

static long find(const entry *e, cx_slice name)
{
    for (size_t i = 0; e && i < e->n; i++)
        if (cx_slice_eq(name, e->names[i]))
            return (long) i;
    return -1;
}

void cx_conn_groups_apply(cx_conn_groups *self, const cx_env *env)
{
    if (!self || (env->type != CX_ENV_GROUP_ADD && env->type != CX_ENV_GROUP_DISCARD))
        return;
    entry *e = cx_idmap_get(self->conns, env->conn);
    long at = find(e, env->group);
    if (env->type == CX_ENV_GROUP_DISCARD) {
        if (at >= 0) {
            free(e->names[at]);
            e->names[at] = e->names[--e->n];
        }
        return;
    }
    if (at >= 0)
        return;
    if (!e) {
        if (!(e = calloc(1, sizeof *e)))
            return;
        if (cx_idmap_put(self->conns, env->conn, e) < 0) {
            free(e);
            return;
        }
    }
    char *name = cx_slice_dup(env->group);
    char **grown = name ? realloc(e->names, (e->n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(name);
        return;
    }
    e->names = grown;
    e->names[e->n++] = name;
}

void cx_conn_groups_apply_encoded(cx_conn_groups *self, const void *data, size_t len)
{
    cx_env env;
    if (self && cx_decoder_decode(self->dec, data, len, &env) == 0)
        cx_conn_groups_apply(self, &env);
}

void cx_conn_groups_forget(cx_conn_groups *self, uint64_t conn)
{
    if (self)
        entry_free(cx_idmap_remove(self->conns, conn));
}

size_t cx_conn_groups_of(const cx_conn_groups *self, uint64_t conn, char *const **names)
{
    entry *e = self ? cx_idmap_get(self->conns, conn) : NULL;
    *names = e ? e->names : NULL;
    return e ? e->n : 0;
}
