/*
 * conns.c — a connection's state at the broker: its pins and its groups.
 *
 * A connection is pinned to a worker at CONNECT (least connections among the
 * workers serving its consumer) and stays there: the consumer instance and
 * its state live in that worker. Its groups are counted twice: per gateway
 * (groups, where GROUP_SEND and passthrough events go) and per worker
 * (worker_groups, where receive_event runs). Every change here keeps the
 * two, the connection's own list and the users index in step, and tells
 * presence.c (presence pushes count users per group).
 */
#include "broker/broker_internal.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

static void conn_leave_groups(cx_broker *self, cx_broker_conn *c)
{
    for (size_t i = 0; i < c->ngroups; i++) {
        cx_groups_discard(self->groups, c->groups[i], c->id, c->gateway);
        if (c->worker)
            cx_groups_discard(self->worker_groups, c->groups[i], c->id, c->worker);
        cx_broker_presence_left(self, c, c->groups[i]);
        free(c->groups[i]);
    }
    free(c->groups);
    c->groups = NULL;
    c->ngroups = 0;
}

void cx_broker_conn_forget(cx_broker *self, cx_broker_conn *c)
{
    conn_leave_groups(self, c);
    cx_users_remove(self->users, c->user_id, c->id);
    cx_idmap_remove(self->conns, c->id);
    if (c->gateway)   /* either may be missing while a restarted broker rebuilds (rebuild.c) */
        cx_idmap_remove(c->gateway->conns, c->id);
    if (c->worker)
        cx_idmap_remove(c->worker->conns, c->id);
    free(c->username);
    free(c);
}

void cx_broker_conn_unpin(cx_broker *self, cx_broker_conn *c)
{
    conn_leave_groups(self, c);
    if (c->worker)
        cx_idmap_remove(c->worker->conns, c->id);
    c->worker = NULL;
}

void cx_broker_conn_pin_worker(cx_broker *self, cx_broker_conn *c, cx_broker_peer *worker)
{
    c->worker = worker;
    for (size_t i = 0; i < c->ngroups; i++)
        if (cx_groups_add(self->worker_groups, c->groups[i], c->id, worker) < 0)
            cx_warn("out of memory: events to group %s miss connection %llu's worker", c->groups[i],
                    (unsigned long long) c->id);
}

int cx_broker_conn_join(cx_broker *self, cx_broker_conn *c, cx_slice name)
{
    char *group = cx_slice_dup(name);
    int added = group ? cx_groups_add(self->groups, group, c->id, c->gateway) : -1;
    /* worker_groups counts by worker: during a rebuild (rebuild.c) the worker may re-announce the
     * connection after its gateway did, and cx_broker_conn_pin_worker indexes the groups then. */
    if (added == 1 && c->worker && cx_groups_add(self->worker_groups, group, c->id, c->worker) < 0) {
        cx_groups_discard(self->groups, group, c->id, c->gateway);
        added = -1;
    }
    char **grown = added == 1 ? realloc(c->groups, (c->ngroups + 1) * sizeof *grown) : NULL;
    if (!grown) {
        if (added == 1) {
            cx_groups_discard(self->groups, group, c->id, c->gateway);
            if (c->worker)
                cx_groups_discard(self->worker_groups, group, c->id, c->worker);
        }
        free(group);
        return added == 1 ? -1 : added;
    }
    c->groups = grown;
    c->groups[c->ngroups++] = group;
    cx_broker_presence_joined(self, c, group);
    return 1;
}

int cx_broker_conn_part(cx_broker *self, cx_broker_conn *c, cx_slice name)
{
    for (size_t i = 0; i < c->ngroups; i++) {
        if (!cx_slice_eq(name, c->groups[i]))
            continue;
        cx_groups_discard(self->groups, c->groups[i], c->id, c->gateway);
        if (c->worker)
            cx_groups_discard(self->worker_groups, c->groups[i], c->id, c->worker);
        cx_broker_presence_left(self, c, c->groups[i]);
        free(c->groups[i]);
        c->groups[i] = c->groups[--c->ngroups];
        return 1;
    }
    return 0;
}

cx_broker_peer *cx_broker_least_loaded_worker(cx_broker *self, cx_slice target)
{
    void *workers[256];
    size_t n = cx_route_table_workers(self->routes, target, workers, 256);
    cx_broker_peer *best = NULL;
    for (size_t i = 0; i < n; i++) {
        cx_broker_peer *w = workers[i];
        if (!best || cx_idmap_size(w->conns) < cx_idmap_size(best->conns))
            best = w;
    }
    return best;
}

