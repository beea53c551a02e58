/*
 * users.c — user id → that user's connections.
 *
 * An idmap of user ids whose values are idmaps of connection ids: both
 * lookups are O(1), and a user with no connection left is freed at once so
 * the index never outgrows the live connections. User ids are Django's
 * positive integers; the idmap reserves 0, which is "anonymous" here anyway.
 */
#include "broker/users.h"
#include "common/idmap.h"

#include <stdlib.h>

struct cx_users {
    cx_idmap *by_user;   /* user id → cx_idmap (conn id → conn) */
};

cx_users *cx_users_new(void)
{
    cx_users *self = calloc(1, sizeof *self);
    if (self && !(self->by_user = cx_idmap_new())) {
        free(self);
        return NULL;
    }
    return self;
}

static void free_user(uint64_t id, void *value, void *arg)
{
    (void) id;
    (void) arg;
    cx_idmap *conns = value;
    cx_idmap_destroy(&conns);
}

void cx_users_destroy(cx_users **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_idmap_foreach((*self_p)->by_user, free_user, NULL);
    cx_idmap_destroy(&(*self_p)->by_user);
    free(*self_p);
    *self_p = NULL;
}

int cx_users_add(cx_users *self, int64_t user_id, uint64_t conn_id, void *conn)
{
    if (user_id <= 0)
        return 0;
    cx_idmap *conns = cx_idmap_get(self->by_user, (uint64_t) user_id);
    if (!conns) {
        if (!(conns = cx_idmap_new()))
            return -1;
        if (cx_idmap_put(self->by_user, (uint64_t) user_id, conns)) {
            cx_idmap_destroy(&conns);
            return -1;
        }
    }
    return cx_idmap_put(conns, conn_id, conn);
}

void cx_users_remove(cx_users *self, int64_t user_id, uint64_t conn_id, const void *conn)
{
    if (user_id <= 0)
        return;
    cx_idmap *conns = cx_idmap_get(self->by_user, (uint64_t) user_id);
    if (!conns || cx_idmap_get(conns, conn_id) != conn)
        return;
    cx_idmap_remove(conns, conn_id);
    if (cx_idmap_size(conns) == 0) {
        cx_idmap_remove(self->by_user, (uint64_t) user_id);
        cx_idmap_destroy(&conns);
    }
}

size_t cx_users_connections(const cx_users *self, int64_t user_id, void **out, size_t max)
{
    cx_idmap *conns = user_id > 0 ? cx_idmap_get(self->by_user, (uint64_t) user_id) : NULL;
    return conns ? cx_idmap_values(conns, out, max) : 0;
}

size_t cx_users_count(const cx_users *self, int64_t user_id)
{
    cx_idmap *conns = user_id > 0 ? cx_idmap_get(self->by_user, (uint64_t) user_id) : NULL;
    return conns ? cx_idmap_size(conns) : 0;
}
