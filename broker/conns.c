/*
 * conns.c — a connection's state at the broker: its pins and its groups.
 *
 * A connection is pinned to a worker at CONNECT (least connections among the
 * workers serving its consumer) and stays there: the consumer instance and
 * its state live in that worker. Each of its groups counts it twice, in
 * the group's one record (groups.h): per gateway (where GROUP_SEND and
 * passthrough events go) and per worker (where receive_event runs). Every
 * change here keeps the two counts, the connection's own list and the users
 * index in step, and tells presence.c (presence pushes count users per
 * group).
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

/* Leaves one group (its record: no lookup by name), then says so to presence pushes, which count users
 * per group name (presence.c) and are kept for few groups: the name is copied only for them, since a
 * group left empty frees its record and the name with it. */
static void leave_group(cx_broker *self, cx_broker_conn *c, cx_broker_membership *m)
{
    void *worker = m->at_worker ? c->worker : NULL;
    if (c->user_id <= 0 || !zhashx_size(self->presence_pushed)) {   /* the usual case: no push to make */
        cx_groups_leave(self->groups, m->group, c->id, c->gateway, worker);
        return;
    }
    char *name = strdup(cx_group_name(m->group));
    cx_groups_leave(self->groups, m->group, c->id, c->gateway, worker);
    if (name)
        cx_broker_presence_left(self, c, name);
    free(name);
}

/* Leaves them all. Their records are scattered in memory and each leave waits for its record, then for
 * its member slot: asked for all at once first, the cache misses overlap instead of following each other
 * (a lost gateway ends thousands of connections in a row). */
static void leave_all(cx_broker *self, cx_broker_conn *c, cx_broker_membership *ms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cx_group_prefetch(ms[i].group);
    for (size_t i = 0; i < n; i++)
        cx_group_prefetch_member(ms[i].group, c->id);
    for (size_t i = 0; i < n; i++)
        leave_group(self, c, &ms[i]);
}

static void conn_leave_groups(cx_broker *self, cx_broker_conn *c)
{
    leave_all(self, c, c->groups, c->ngroups);
    free(c->groups);
    c->groups = NULL;
    c->ngroups = 0;
    leave_all(self, c, c->stale, c->nstale);
    free(c->stale);
    c->stale = NULL;
    c->nstale = 0;
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
    cx_broker_conn_free(c);
}

void cx_broker_conn_free(cx_broker_conn *c)
{
    free(c->groups);
    free(c->stale);
    cx_inflight_destroy(&c->inflight);
    free(c->username);
    free(c);
}

void cx_broker_conn_unpin(cx_broker *self, cx_broker_conn *c)
{
    cx_broker_membership *stale = realloc(c->stale, (c->nstale + c->ngroups + 1) * sizeof *stale);
    if (!stale) {   /* out of memory: the memberships go, as before groups were kept through a move */
        conn_leave_groups(self, c);
    } else {
        c->stale = stale;
        for (size_t i = 0; i < c->ngroups; i++) {
            cx_broker_membership m = c->groups[i];
            if (m.at_worker)
                cx_groups_uncount_worker(m.group, c->worker);
            m.at_worker = 0;
            c->stale[c->nstale++] = m;
        }
        free(c->groups);
        c->groups = NULL;
        c->ngroups = 0;
    }
    if (c->worker)
        unmap(c->worker->conns, c->id, c);
    c->worker = NULL;
}

void cx_broker_conn_drop_stale(cx_broker *self, cx_broker_conn *c)
{
    for (size_t i = 0; i < c->nstale; i++) {
        /* the name first: leaving may free the group's record, name included */
        char *name = c->gateway ? strdup(cx_group_name(c->stale[i].group)) : NULL;
        leave_group(self, c, &c->stale[i]);
        if (name) {
            cx_env leave = { .type = CX_ENV_GROUP_DISCARD, .conn = c->id, .group = cx_slice_of(name) };
            cx_broker_send_env(self, c->gateway, &leave);
        }
        free(name);
    }
    free(c->stale);
    c->stale = NULL;
    c->nstale = 0;
}

/* m's group counted for worker too (events for receive_event); out of memory, events miss it. */
static void count_at_worker(const cx_broker_conn *c, cx_broker_membership *m, cx_broker_peer *worker)
{
    if (!worker)
        return;
    if (cx_groups_count_worker(m->group, worker) == 0)
        m->at_worker = 1;
    else
        cx_warn("out of memory: events to group %s miss connection %llu's worker", cx_group_name(m->group),
                (unsigned long long) c->id);
}

/* A stale group joined again by the new consumer: a member all along, now counted for its worker. */
static int rejoin_stale(cx_broker_conn *c, cx_slice name)
{
    for (size_t i = 0; i < c->nstale; i++) {
        if (!cx_slice_eq(name, cx_group_name(c->stale[i].group)))
            continue;
        cx_broker_membership *grown = realloc(c->groups, (c->ngroups + 1) * sizeof *grown);
        if (!grown)
            return -1;
        c->groups = grown;
        cx_broker_membership *m = &c->groups[c->ngroups++];
        *m = c->stale[i];
        c->stale[i] = c->stale[--c->nstale];
        count_at_worker(c, m, c->worker);
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
    (void) self;   /* the counts are in the groups' records */
    for (size_t i = 0; i < c->ngroups; i++) {
        cx_broker_membership *m = &c->groups[i];
        if (m->at_worker)   /* counted for the worker it had */
            cx_groups_uncount_worker(m->group, c->worker);
        m->at_worker = 0;
        count_at_worker(c, m, worker);
    }
    c->worker = worker;
}

int cx_broker_conn_join(cx_broker *self, cx_broker_conn *c, cx_slice name)
{
    int revived = c->nstale ? rejoin_stale(c, name) : 0;
    if (revived)
        return revived < 0 ? -1 : 0;
    char *group = cx_slice_dup(name);
    cx_broker_membership m = { NULL, 0 };
    int added = group ? cx_groups_add(self->groups, group, c->id, c->gateway, &m.group) : -1;
    free(group);
    if (added != 1)
        return added;
    /* counted per worker only with a worker: during a rebuild (rebuild.c) the worker may re-announce the
     * connection after its gateway did, and cx_broker_conn_pin_worker counts the groups then. */
    m.at_worker = c->worker && cx_groups_count_worker(m.group, c->worker) == 0;
    cx_broker_membership *grown = NULL;
    if ((!c->worker || m.at_worker) && (grown = realloc(c->groups, (c->ngroups + 1) * sizeof *grown))) {
        c->groups = grown;
        c->groups[c->ngroups++] = m;
        cx_broker_presence_joined(self, c, cx_group_name(m.group));
        return 1;
    }
    cx_groups_leave(self->groups, m.group, c->id, c->gateway, m.at_worker ? c->worker : NULL);
    return -1;
}

int cx_broker_conn_part(cx_broker *self, cx_broker_conn *c, cx_slice name)
{
    for (size_t i = 0; i < c->ngroups; i++) {
        if (!cx_slice_eq(name, cx_group_name(c->groups[i].group)))
            continue;
        leave_group(self, c, &c->groups[i]);
        c->groups[i] = c->groups[--c->ngroups];
        return 1;
    }
    for (size_t i = 0; i < c->nstale; i++) {
        if (!cx_slice_eq(name, cx_group_name(c->stale[i].group)))
            continue;
        leave_group(self, c, &c->stale[i]);
        c->stale[i] = c->stale[--c->nstale];
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

