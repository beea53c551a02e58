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
 *
 * A connection re-pinned after its worker process died (repin.c) keeps its
 * memberships at the gateway through the move, so a group message sent
 * meanwhile still reaches its client: they wait as stale groups until the
 * new consumer's build_groups joins them again (idempotent: the gateway is
 * told nothing) or has started without them (left then).
 *
 * The RECEIVEs forwarded to a worker that acknowledges are kept (inflight.h)
 * until its ACK says the consumer handled them: what a dying worker process
 * held is replayed to the next consumer (repin.c).
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
    for (size_t i = 0; i < c->nstale; i++) {
        cx_groups_discard(self->groups, c->stale_groups[i], c->id, c->gateway);
        cx_broker_presence_left(self, c, c->stale_groups[i]);
        free(c->stale_groups[i]);
    }
    free(c->stale_groups);
    c->stale_groups = NULL;
    c->nstale = 0;
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
    cx_inflight_destroy(&c->inflight);
    free(c->username);
    free(c);
}

void cx_broker_conn_unpin(cx_broker *self, cx_broker_conn *c)
{
    char **stale = realloc(c->stale_groups, (c->nstale + c->ngroups + 1) * sizeof *stale);
    if (!stale) {   /* out of memory: the memberships go, as before groups were kept through a move */
        conn_leave_groups(self, c);
    } else {
        c->stale_groups = stale;
        for (size_t i = 0; i < c->ngroups; i++) {
            if (c->worker)
                cx_groups_discard(self->worker_groups, c->groups[i], c->id, c->worker);
            c->stale_groups[c->nstale++] = c->groups[i];
        }
        free(c->groups);
        c->groups = NULL;
        c->ngroups = 0;
    }
    if (c->worker)
        cx_idmap_remove(c->worker->conns, c->id);
    c->worker = NULL;
}

void cx_broker_conn_drop_stale(cx_broker *self, cx_broker_conn *c)
{
    for (size_t i = 0; i < c->nstale; i++) {
        cx_groups_discard(self->groups, c->stale_groups[i], c->id, c->gateway);
        cx_broker_presence_left(self, c, c->stale_groups[i]);
        if (c->gateway) {
            cx_env leave = { .type = CX_ENV_GROUP_DISCARD, .conn = c->id, .group = cx_slice_of(c->stale_groups[i]) };
            cx_broker_send_env(self, c->gateway, &leave);
        }
        free(c->stale_groups[i]);
    }
    free(c->stale_groups);
    c->stale_groups = NULL;
    c->nstale = 0;
}

/* A stale group joined again by the new consumer: a member all along, now counted for its worker. */
static int rejoin_stale(cx_broker *self, cx_broker_conn *c, cx_slice name)
{
    for (size_t i = 0; i < c->nstale; i++) {
        if (!cx_slice_eq(name, c->stale_groups[i]))
            continue;
        char **grown = realloc(c->groups, (c->ngroups + 1) * sizeof *grown);
        if (!grown)
            return -1;
        c->groups = grown;
        c->groups[c->ngroups++] = c->stale_groups[i];
        c->stale_groups[i] = c->stale_groups[--c->nstale];
        if (c->worker && cx_groups_add(self->worker_groups, c->groups[c->ngroups - 1], c->id, c->worker) < 0)
            cx_warn("out of memory: events to group %s miss connection %llu's worker", c->groups[c->ngroups - 1],
                    (unsigned long long) c->id);
        return 1;
    }
    return 0;
}

void cx_broker_conn_deliver(cx_broker *self, cx_broker_conn *c, zmq_msg_t *msg)
{
    cx_broker_forward(self, c->worker, msg);
    if (!c->worker->acks || !c->numbered)
        return;
    if (!c->inflight && !(c->inflight = cx_inflight_new())) {
        cx_warn("out of memory: connection %llu's messages are not kept for a crash", (unsigned long long) c->id);
        return;
    }
    cx_inflight_push(c->inflight, msg, self->held_max_messages, self->held_max_bytes);
}

void cx_broker_conn_handled(cx_broker *self, cx_broker_peer *worker, uint64_t conn, uint64_t handled)
{
    cx_broker_conn *c = cx_idmap_get(worker->conns, conn);
    if (!c || c->worker != worker)
        return;   /* it ended meanwhile */
    if (c->inflight)
        cx_inflight_handled(c->inflight, handled);
    if (c->nstale)   /* its first ACK: the new consumer has started */
        cx_broker_conn_drop_stale(self, c);
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
    int revived = c->nstale ? rejoin_stale(self, c, name) : 0;
    if (revived)
        return revived < 0 ? -1 : 0;
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
    for (size_t i = 0; i < c->nstale; i++) {
        if (!cx_slice_eq(name, c->stale_groups[i]))
            continue;
        cx_groups_discard(self->groups, c->stale_groups[i], c->id, c->gateway);
        cx_broker_presence_left(self, c, c->stale_groups[i]);
        free(c->stale_groups[i]);
        c->stale_groups[i] = c->stale_groups[--c->nstale];
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

