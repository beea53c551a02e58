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

/* Leaves the i-th group (its records: no lookup by name), then says so to presence pushes, which count
 * users per group name (presence.c) and are kept for few groups: the name is copied only for them, since
 * a group left empty frees its record and the name with it. */
static void leave_group(cx_broker *self, cx_broker_conn *c, size_t i)
{
    cx_broker_membership *m = &c->groups[i];
    char *name = c->user_id > 0 && zhashx_size(self->presence_pushed) ? strdup(cx_group_name(m->at_gateway)) : NULL;
    if (m->at_worker)
        cx_groups_leave(self->worker_groups, m->at_worker, c->id, c->worker);
    cx_groups_leave(self->groups, m->at_gateway, c->id, c->gateway);
    if (name)
        cx_broker_presence_left(self, c, name);
    free(name);
}

static void conn_leave_groups(cx_broker *self, cx_broker_conn *c)
{
    for (size_t i = 0; i < c->ngroups; i++)
        leave_group(self, c, i);
    free(c->groups);
    c->groups = NULL;
    c->ngroups = 0;
}

/* Removes id from map only when it still names c: a connection ended late (a lost peer's, in slices) must
 * not take out a newer one that reuses its id. */
static void unmap(cx_idmap *map, uint64_t id, const cx_broker_conn *c)
{
    if (cx_idmap_get(map, id) == c)
        cx_idmap_remove(map, id);
}

void cx_broker_conn_forget(cx_broker *self, cx_broker_conn *c)
{
    conn_leave_groups(self, c);
    cx_users_remove(self->users, c->user_id, c->id, c);
    unmap(self->conns, c->id, c);
    if (c->gateway)   /* either may be missing while a restarted broker rebuilds (rebuild.c) */
        unmap(c->gateway->conns, c->id, c);
    if (c->worker)
        unmap(c->worker->conns, c->id, c);
    free(c->username);
    free(c);
}

void cx_broker_conn_unpin(cx_broker *self, cx_broker_conn *c)
{
    conn_leave_groups(self, c);
    if (c->worker)
        unmap(c->worker->conns, c->id, c);
    c->worker = NULL;
}

void cx_broker_conn_pin_worker(cx_broker *self, cx_broker_conn *c, cx_broker_peer *worker)
{
    for (size_t i = 0; i < c->ngroups; i++) {
        cx_broker_membership *m = &c->groups[i];
        if (m->at_worker)   /* counted for the worker it had */
            cx_groups_leave(self->worker_groups, m->at_worker, c->id, c->worker);
        m->at_worker = NULL;
        if (cx_groups_add(self->worker_groups, cx_group_name(m->at_gateway), c->id, worker, &m->at_worker) < 0)
            cx_warn("out of memory: events to group %s miss connection %llu's worker", cx_group_name(m->at_gateway),
                    (unsigned long long) c->id);
    }
    c->worker = worker;
}

int cx_broker_conn_join(cx_broker *self, cx_broker_conn *c, cx_slice name)
{
    char *group = cx_slice_dup(name);
    cx_broker_membership m = { NULL, NULL };
    int added = group ? cx_groups_add(self->groups, group, c->id, c->gateway, &m.at_gateway) : -1;
    free(group);
    if (added != 1)
        return added;
    /* worker_groups counts by worker: during a rebuild (rebuild.c) the worker may re-announce the
     * connection after its gateway did, and cx_broker_conn_pin_worker indexes the groups then. */
    cx_broker_membership *grown = NULL;
    if ((!c->worker || cx_groups_add(self->worker_groups, cx_group_name(m.at_gateway), c->id, c->worker,
                                     &m.at_worker) >= 0)
        && (grown = realloc(c->groups, (c->ngroups + 1) * sizeof *grown))) {
        c->groups = grown;
        c->groups[c->ngroups++] = m;
        cx_broker_presence_joined(self, c, cx_group_name(m.at_gateway));
        return 1;
    }
    if (m.at_worker)
        cx_groups_leave(self->worker_groups, m.at_worker, c->id, c->worker);
    cx_groups_leave(self->groups, m.at_gateway, c->id, c->gateway);
    return -1;
}

int cx_broker_conn_part(cx_broker *self, cx_broker_conn *c, cx_slice name)
{
    for (size_t i = 0; i < c->ngroups; i++) {
        if (!cx_slice_eq(name, cx_group_name(c->groups[i].at_gateway)))
            continue;
        leave_group(self, c, i);
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

