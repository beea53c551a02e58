/*
 * broker.c — peers, connections and the dispatch of envelopes.
 *
 * Data flow: a ZeroMQ message arrives as [peer identity][envelope]. The
 * envelope is decoded (only its fixed fields are read), dispatched by type,
 * and usually forwarded unchanged to one peer: RECEIVE to the worker the
 * connection is pinned to, SEND and CLOSE to the gateway holding it, group
 * traffic to every gateway holding members. Forwarding reuses the received
 * zmq_msg_t, so a frame's bytes are never copied by the broker.
 *
 * A connection is pinned to a worker at CONNECT (least connections among the
 * workers serving its consumer) and stays there: the consumer instance and
 * its state live in that worker. Heartbeats detect dead peers; a dead
 * worker's connections are closed with 1011 so their clients reconnect, a
 * dead gateway's connections are reported to their workers as DISCONNECT.
 */
#include "broker/broker_internal.h"
#include "common/curve.h"
#include "broker/metrics.h"
#include "common/link.h"
#include "common/log.h"
#include "proto/envelope.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- sending */

static int send_to(cx_broker *self, const peer *p, zmq_msg_t *body)
{
    if (zmq_send(self->handle, p->id, p->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_msg_send(body, self->handle, ZMQ_DONTWAIT) < 0) {
        cx_debug("cannot send to %s: %s", p->id, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

/* Forwards the received body; msg stays usable by the caller (refcounted copy). */
static void forward(cx_broker *self, const peer *p, zmq_msg_t *msg)
{
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, msg);
    if (send_to(self, p, &copy) < 0)
        zmq_msg_close(&copy);
}

static void send_env(cx_broker *self, const peer *p, const cx_env *env)
{
    const char *data;
    size_t len;
    if (cx_encoder_encode(self->enc, env, &data, &len) != 0)
        return;
    zmq_msg_t msg;
    zmq_msg_init_size(&msg, len);
    memcpy(zmq_msg_data(&msg), data, len);
    if (send_to(self, p, &msg) < 0)
        zmq_msg_close(&msg);
}

static void send_identity_request(cx_broker *self, const char *id, size_t idlen)
{
    peer stranger = { .idlen = idlen };
    memcpy(stranger.id, id, idlen);
    cx_env hello = { .type = CX_ENV_HELLO, .role = 0, .node = cx_slice_of("broker") };
    send_env(self, &stranger, &hello);
}

static void close_conn_at_gateway(cx_broker *self, const peer *gateway, uint64_t id, uint32_t code,
                                  const char *reason)
{
    cx_env close = { .type = CX_ENV_CLOSE, .conn = id, .code = code, .text = cx_slice_of(reason) };
    send_env(self, gateway, &close);
}

/* The current peers, as an array the caller frees: safe to iterate while peers are removed. */
static peer **peers_snapshot(cx_broker *self, size_t *n)
{
    peer **all = malloc((zhashx_size(self->peers) + 1) * sizeof *all);
    *n = 0;
    for (peer *p = zhashx_first(self->peers); all && p; p = zhashx_next(self->peers))
        all[(*n)++] = p;
    return all;
}

static void publish_routes(cx_broker *self)
{
    cx_env env;
    size_t n;
    cx_route_table_envelope(self->routes, &env);
    peer **all = peers_snapshot(self, &n);
    for (size_t i = 0; i < n; i++)
        if (all[i]->role == CX_ROLE_GATEWAY)
            send_env(self, all[i], &env);
    free(all);
}

/* --------------------------------------------------------- connections */

static void conn_leave_groups(cx_broker *self, conn *c)
{
    for (size_t i = 0; i < c->ngroups; i++) {
        cx_groups_discard(self->groups, c->groups[i], c->id, c->gateway);
        if (c->worker)
            cx_groups_discard(self->worker_groups, c->groups[i], c->id, c->worker);
        free(c->groups[i]);
    }
    free(c->groups);
    c->groups = NULL;
    c->ngroups = 0;
}

static void conn_forget(cx_broker *self, conn *c)
{
    conn_leave_groups(self, c);
    cx_users_remove(self->users, c->user_id, c->id);
    cx_idmap_remove(self->conns, c->id);
    if (c->gateway)   /* either may be missing while a restarted broker rebuilds (rebuild.c) */
        cx_idmap_remove(c->gateway->conns, c->id);
    if (c->worker)
        cx_idmap_remove(c->worker->conns, c->id);
    free(c);
}

void cx_broker_conn_pin_worker(cx_broker *self, conn *c, peer *worker)
{
    c->worker = worker;
    for (size_t i = 0; i < c->ngroups; i++)
        if (cx_groups_add(self->worker_groups, c->groups[i], c->id, worker) < 0)
            cx_warn("out of memory: events to group %s miss connection %llu's worker", c->groups[i],
                    (unsigned long long) c->id);
}

static int conn_join(cx_broker *self, conn *c, cx_slice name)
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
    return 1;
}

static int conn_part(cx_broker *self, conn *c, cx_slice name)
{
    for (size_t i = 0; i < c->ngroups; i++) {
        if (!cx_slice_eq(name, c->groups[i]))
            continue;
        cx_groups_discard(self->groups, c->groups[i], c->id, c->gateway);
        if (c->worker)
            cx_groups_discard(self->worker_groups, c->groups[i], c->id, c->worker);
        free(c->groups[i]);
        c->groups[i] = c->groups[--c->ngroups];
        return 1;
    }
    return 0;
}

static peer *least_loaded_worker(cx_broker *self, cx_slice target)
{
    void *workers[256];
    size_t n = cx_route_table_workers(self->routes, target, workers, 256);
    peer *best = NULL;
    for (size_t i = 0; i < n; i++) {
        peer *w = workers[i];
        if (!best || cx_idmap_size(w->conns) < cx_idmap_size(best->conns))
            best = w;
    }
    return best;
}

/* ---------------------------------------------------------------- peers */


static void peer_free(void **item)
{
    peer *p = *item;
    if (!p)
        return;
    cx_idmap_destroy(&p->conns);
    free(p);
    *item = NULL;
}

/* Takes a peer out of service: its connections are closed on the other side. */
static void peer_remove(cx_broker *self, peer *p, const char *why)
{
    size_t n = cx_idmap_size(p->conns);
    conn **list = malloc((n + 1) * sizeof *list);
    n = list ? cx_idmap_values(p->conns, (void **) list, n) : 0;
    for (size_t i = 0; i < n; i++) {
        conn *c = list[i];
        if (p->role == CX_ROLE_WORKER) {
            if (c->gateway)
                close_conn_at_gateway(self, c->gateway, c->id, 1011, "worker lost");
        } else if (c->worker) {
            cx_env gone = { .type = CX_ENV_DISCONNECT, .conn = c->id, .code = 1006 };
            send_env(self, c->worker, &gone);
        }
        cx_rebuild_ended(self, c->id);
        conn_forget(self, c);
    }
    free(list);
    cx_log_fields(CX_LOG_WARNING, "peer removed",
                  json_pack("{s:s, s:s, s:s, s:I}", "peer", p->id,
                            "role", p->rule->name, "why", why,
                            "connections", (json_int_t) n));
    int routes_changed = p->role == CX_ROLE_WORKER && cx_route_table_remove_worker(self->routes, p);
    zhashx_delete(self->peers, p->id);
    if (routes_changed)
        publish_routes(self);
}

static void on_hello(cx_broker *self, const char *id, size_t idlen, peer *known, const cx_env *env,
                     const cx_role_rule *key_rule)
{
    const cx_role_rule *rule = cx_role_rule_of(env->role);
    if (!rule || !rule->role)
        return;
    if (key_rule && key_rule != rule) {   /* CURVE on: the key decides, not the claim */
        cx_log_fields(CX_LOG_WARNING, "peer refused",
                      json_pack("{s:s, s:s, s:s, s:s}", "peer", id, "key_role", key_rule->name, "claimed_role",
                                rule->name, "why", "its key is not a key of the role it claims"));
        return;
    }
    if (known && known->pid == env->pid && known->role == env->role)
        return;   /* the same process introducing itself again: keep its state */
    if (known)
        peer_remove(self, known, "restarted");
    peer *p = calloc(1, sizeof *p);
    if (!p || !(p->conns = cx_idmap_new())) {
        free(p);
        return;
    }
    memcpy(p->id, id, idlen);
    p->idlen = idlen;
    p->role = (cx_role) env->role;
    p->rule = rule;
    p->pid = env->pid;
    p->last_heard = cx_now_ms();
    zhashx_insert(self->peers, p->id, p);
    cx_log_fields(CX_LOG_INFO, "peer joined",
                  json_pack("{s:s, s:s, s:I}", "peer", p->id,
                            "role", p->rule->name, "pid", (json_int_t) p->pid));
    if (p->role == CX_ROLE_GATEWAY) {
        cx_env routes;
        cx_route_table_envelope(self->routes, &routes);
        send_env(self, p, &routes);
    }
}

/* ------------------------------------------------------------- dispatch */

/* An envelope this peer may not send: dropped and logged with the peer's name; after MAX_OFFENCES the
 * peer is dropped too (its connections closed as for a dead peer) and its routing id banned until the
 * broker restarts, so a compromised or broken peer cannot keep trying. */
static void offence(cx_broker *self, peer *p, const cx_env *env, const char *why)
{
    p->offences++;
    cx_log_fields(CX_LOG_WARNING, "envelope refused",
                  json_pack("{s:s, s:s, s:s, s:I, s:s, s:i}", "peer", p->id, "role", p->rule->name, "type",
                            cx_env_type_name(env->type), "conn", (json_int_t) env->conn, "why", why, "offences",
                            p->offences));
    if (p->offences >= MAX_OFFENCES) {
        zhashx_insert(self->banned, p->id, (void *) 1);
        peer_remove(self, p, "repeated offences");
    }
}

static void on_connect(cx_broker *self, peer *gateway, const cx_env *env, zmq_msg_t *msg)
{
    peer *worker = least_loaded_worker(self, env->consumer);
    if (!worker) {
        close_conn_at_gateway(self, gateway, env->conn, 1013, "no worker serves this route");
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c || cx_idmap_get(self->conns, env->conn)) {
        free(c);
        close_conn_at_gateway(self, gateway, env->conn, 1011, "duplicate connection id");
        return;
    }
    *c = (conn) { .id = env->conn, .gateway = gateway, .worker = worker, .user_id = env->user_id };
    cx_idmap_put(self->conns, c->id, c);
    cx_users_add(self->users, c->user_id, c->id, c);
    cx_idmap_put(gateway->conns, c->id, c);
    cx_idmap_put(worker->conns, c->id, c);
    forward(self, worker, msg);
}

static void on_gateway_envelope(cx_broker *self, peer *gateway, const cx_env *env, zmq_msg_t *msg)
{
    if (env->type == CX_ENV_CONNECT) {
        on_connect(self, gateway, env, msg);
        return;
    }
    conn *c = cx_idmap_get(self->conns, env->conn);
    if (c && c->gateway && c->gateway != gateway) {
        offence(self, gateway, env, "a connection another gateway opened");
        return;
    }
    if (c && !c->gateway)
        return;   /* re-announced by its worker only, while the broker rebuilds: not this gateway's */
    if (!c) {
        /* After a broker restart: the client must reconnect to get a consumer. */
        if (env->type == CX_ENV_RECEIVE)
            close_conn_at_gateway(self, gateway, env->conn, 1011, "unknown connection");
        return;
    }
    if (!c->worker) {   /* re-announced by its gateway only: its worker died while the broker was away */
        if (env->type == CX_ENV_RECEIVE)
            close_conn_at_gateway(self, gateway, c->id, 1011, "worker lost");
        conn_forget(self, c);
        return;
    }
    if (env->type == CX_ENV_RECEIVE) {
        forward(self, c->worker, msg);
    } else if (env->type == CX_ENV_DISCONNECT) {
        forward(self, c->worker, msg);
        conn_forget(self, c);
    }
}

typedef struct {
    cx_broker *self;
    zmq_msg_t *msg;
    uint32_t peers;   /* how many it went to */
} fanout;

static void forward_to_gateway(void *gateway, void *arg)
{
    fanout *f = arg;
    forward(f->self, gateway, f->msg);
    f->peers++;
}

static void on_group_send(cx_broker *self, const cx_env *env, zmq_msg_t *msg)
{
    char *names[CX_PROTO_MAX_GROUPS];
    size_t n = 0;
    for (; n < env->ngroups; n++)
        if (!(names[n] = cx_slice_dup(env->groups[n])))
            break;
    fanout f = { self, msg, 0 };
    cx_groups_gateways(self->groups, (const char *const *) names, n, forward_to_gateway, &f);
    while (n > 0)
        free(names[--n]);
}

static void on_worker_envelope(cx_broker *self, peer *worker, const cx_env *env, zmq_msg_t *msg)
{
    if (env->type == CX_ENV_REGISTER) {
        /* Logged because a worker only takes connections from here on: the moment to look for when
         * a freshly started worker seems idle. */
        cx_log_fields(CX_LOG_INFO, "worker registered",
                      json_pack("{s:s, s:I}", "peer", worker->id, "routes", (json_int_t) env->nroutes));
        if (cx_route_table_set_worker(self->routes, worker, env->routes, env->nroutes) > 0)
            publish_routes(self);
        return;
    }
    conn *c = cx_idmap_get(self->conns, env->conn);
    if (c && c->worker && c->worker != worker) {   /* GROUP_SEND's conn is its sender: is_current must not be forged */
        offence(self, worker, env, "a connection pinned to another worker");
        return;
    }
    if (env->type == CX_ENV_GROUP_SEND) {
        on_group_send(self, env, msg);
        return;
    }
    if (!c || !c->gateway || c->worker != worker)
        return;   /* the connection ended while the worker was answering (or is not whole yet) */
    switch (env->type) {
    case CX_ENV_SEND:
        forward(self, c->gateway, msg);
        break;
    case CX_ENV_CLOSE:
        forward(self, c->gateway, msg);
        break;
    case CX_ENV_GROUP_ADD:
        if (conn_join(self, c, env->group) == 1)
            forward(self, c->gateway, msg);
        break;
    case CX_ENV_GROUP_DISCARD:
        if (conn_part(self, c, env->group) == 1)
            forward(self, c->gateway, msg);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------- events from the application */

/* What an API peer (chanx-api, chanx-admin publish) may send, HELLO and HEARTBEAT aside: the one
 * list to map onto a key role. Everything else from it is dropped. */

/* The connections an EVENT or CLOSE_TARGET names by user or connection id (out has room for max). */
static size_t target_conns(cx_broker *self, const cx_env *env, conn **out, size_t max)
{
    if (env->target == CX_TARGET_USER)
        return cx_users_connections(self->users, env->user_id, (void **) out, max);
    conn *c = env->target == CX_TARGET_CONNECTION ? cx_idmap_get(self->conns, env->conn) : NULL;
    if (c)
        out[0] = c;
    return c ? 1 : 0;
}

static uint32_t count_gateways(conn **conns, size_t n)
{
    uint32_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < i && conns[j]->gateway != conns[i]->gateway)
            j++;
        distinct += j == i;
    }
    return distinct;
}

/* Groups: one envelope to each gateway holding members (passthrough happens there) and one to each
 * worker holding members (receive_event happens there), as GROUP_SEND costs. A user or a connection:
 * one EVENT per connection, to its gateway and its worker, in the order the publisher sent them. */
static void on_event(cx_broker *self, const cx_env *env, zmq_msg_t *msg, cx_env *result)
{
    if (env->target == CX_TARGET_GROUPS) {
        char *names[CX_PROTO_MAX_GROUPS];
        size_t n = 0;
        for (; n < env->ngroups; n++)
            if (!(names[n] = cx_slice_dup(env->groups[n])))
                break;
        fanout gateways = { self, msg, 0 }, workers = { self, msg, 0 };
        cx_groups_gateways(self->groups, (const char *const *) names, n, forward_to_gateway, &gateways);
        cx_groups_gateways(self->worker_groups, (const char *const *) names, n, forward_to_gateway, &workers);
        result->gateways = gateways.peers;
        result->connections = (uint32_t) cx_groups_reach(self->groups, (const char *const *) names, n);
        while (n > 0)
            free(names[--n]);
        return;
    }
    size_t total = cx_users_count(self->users, env->user_id) + 1;
    conn **conns = malloc(total * sizeof *conns);
    size_t n = conns ? target_conns(self, env, conns, total) : 0;
    for (size_t i = 0; i < n; i++) {
        cx_env one = *env;
        one.target = CX_TARGET_CONNECTION;
        one.conn = conns[i]->id;
        send_env(self, conns[i]->gateway, &one);
        send_env(self, conns[i]->worker, &one);
    }
    result->gateways = count_gateways(conns, n);
    result->connections = (uint32_t) n;
    free(conns);
}

static void on_close_target(cx_broker *self, const cx_env *env, cx_env *result)
{
    size_t total = cx_users_count(self->users, env->user_id) + 1;
    conn **conns = malloc(total * sizeof *conns);
    size_t n = conns ? target_conns(self, env, conns, total) : 0;
    for (size_t i = 0; i < n; i++)
        close_conn_at_gateway(self, conns[i]->gateway, conns[i]->id, env->code, "disconnected by the application");
    result->gateways = count_gateways(conns, n);
    result->connections = (uint32_t) n;
    free(conns);
}

/* What it may send (EVENT, CLOSE_TARGET) is the api row of roles.c, checked in cx_broker_dispatch. */
static void on_api_envelope(cx_broker *self, peer *api, const cx_env *env, zmq_msg_t *msg)
{
    cx_env result = { .type = CX_ENV_RESULT, .request = env->request };
    if (env->type == CX_ENV_EVENT)
        on_event(self, env, msg, &result);
    else
        on_close_target(self, env, &result);
    send_env(self, api, &result);
}

static void dispatch(cx_broker *self, zmq_msg_t *idmsg, zmq_msg_t *body)
{
    size_t idlen = zmq_msg_size(idmsg);
    char id[MAX_IDENTITY + 1];
    if (idlen == 0 || idlen > MAX_IDENTITY || memchr(zmq_msg_data(idmsg), 0, idlen))
        return;
    memcpy(id, zmq_msg_data(idmsg), idlen);
    id[idlen] = '\0';
    cx_broker_dispatch(self, self->dec, id, idlen, body);
}

void cx_broker_dispatch(cx_broker *self, cx_decoder *dec, const char *id, size_t idlen, zmq_msg_t *body)
{
    cx_env env;
    if (cx_decoder_decode(dec, zmq_msg_data(body), zmq_msg_size(body), &env) != 0) {
        cx_warn("dropped a malformed envelope from %s: %s", id, cx_decoder_error(dec));
        cx_broker_count_malformed();
        return;
    }
    cx_broker_count_envelope(env.type);
    if (zhashx_size(self->banned) > 0 && zhashx_lookup(self->banned, id))   /* no hashing when nobody is */
        return;
    /* With CURVE, the role is the key's (ZAP User-Id), read on every envelope: a routing id freed by one
     * peer and taken by another key's holder must not inherit the first one's role. */
    const cx_role_rule *key_rule = NULL;
    if (self->zap && !(key_rule = cx_role_rule_named(zmq_msg_gets(body, "User-Id"))))
        return;
    peer *p = zhashx_lookup(self->peers, id);
    if (env.type == CX_ENV_HELLO) {
        on_hello(self, id, idlen, p, &env, key_rule);
        return;
    }
    if (!p) {
        /* Sent before its HELLO reached us (queued while we were down): kept until it has introduced
         * itself, so a restart loses none of it; a heartbeat just asks who it is. */
        if (env.type == CX_ENV_HEARTBEAT || cx_rebuild_hold_stranger(self, id, body))
            send_identity_request(self, id, idlen);
        return;
    }
    if (key_rule && key_rule != p->rule) {
        offence(self, p, &env, "sent with a key of another role");
        return;
    }
    p->last_heard = cx_now_ms();
    if (env.type == CX_ENV_HEARTBEAT)
        return;
    if (!cx_role_may_send(p->rule, env.type)) {
        offence(self, p, &env, "not an envelope its role may send");
        return;
    }
    if (env.type == CX_ENV_RESUME) {
        cx_rebuild_on_resume(self, p, &env);
        return;
    }
    if (cx_rebuild_defer(self, p, &env, body))
        return;
    if (p->role == CX_ROLE_GATEWAY)
        on_gateway_envelope(self, p, &env, body);
    else if (p->role == CX_ROLE_API)
        on_api_envelope(self, p, &env, body);
    else
        on_worker_envelope(self, p, &env, body);
}

/* Reads everything waiting; returns the number of messages handled. */
static int drain(cx_broker *self)
{
    int handled = 0;
    zmq_msg_t idmsg, body;
    zmq_msg_init(&idmsg);
    zmq_msg_init(&body);
    while (zmq_msg_recv(&idmsg, self->handle, ZMQ_DONTWAIT) >= 0) {
        if (!zmq_msg_more(&idmsg) || zmq_msg_recv(&body, self->handle, ZMQ_DONTWAIT) < 0)
            continue;
        int extra_frames = 0;
        while (zmq_msg_more(&body)) {   /* not an envelope: skip the whole message */
            extra_frames = 1;
            zmq_msg_recv(&body, self->handle, ZMQ_DONTWAIT);
        }
        if (!extra_frames)
            dispatch(self, &idmsg, &body);
        handled++;
    }
    zmq_msg_close(&idmsg);
    zmq_msg_close(&body);
    return handled;
}

static void heartbeat(cx_broker *self)
{
    int64_t now = cx_now_ms();
    if (now - self->last_beat < cx_heartbeat_interval_ms())
        return;
    self->last_beat = now;
    cx_env beat = { .type = CX_ENV_HEARTBEAT };
    size_t n;
    peer **all = peers_snapshot(self, &n);
    for (size_t i = 0; i < n; i++) {
        if (now - all[i]->last_heard > cx_heartbeat_timeout_ms())
            peer_remove(self, all[i], "heartbeat timeout");
        else
            send_env(self, all[i], &beat);
    }
    free(all);
}

/* The gauges of broker/metrics.h, from the tables; after each batch (a handful of peers to count). */
static void publish_state(cx_broker *self)
{
    cx_broker_state s = { .connections = cx_idmap_size(self->conns), .groups = cx_groups_count(self->groups),
                          .members = cx_groups_memberships(self->groups),
                          .routes = cx_route_table_size(self->routes) };
    for (peer *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers))
        *(p->role == CX_ROLE_WORKER ? &s.workers : &s.gateways) += 1;
    cx_broker_metrics_state(&s);
}

int cx_broker_run(cx_broker *self, volatile int *stop)
{
    zmq_pollitem_t items[2] = { { .socket = self->handle, .events = ZMQ_POLLIN },
                                { .socket = self->zap ? cx_zap_socket(self->zap) : NULL, .events = ZMQ_POLLIN } };
    while (!*stop) {
        long timeout = cx_heartbeat_interval_ms() - (cx_now_ms() - self->last_beat);
        if (zmq_poll(items, self->zap ? 2 : 1, timeout < 0 ? 0 : timeout) < 0 && zmq_errno() != EINTR)
            return -1;
        if (self->zap)
            cx_zap_handle(self->zap);
        drain(self);
        cx_rebuild_tick(self);
        heartbeat(self);
        publish_state(self);
    }
    return 0;
}

/* ------------------------------------------------- for rebuild.c (internal) */

void cx_broker_send_env(cx_broker *self, const peer *p, const cx_env *env) { send_env(self, p, env); }
void cx_broker_send_identity_request(cx_broker *self, const char *id, size_t idlen)
{
    send_identity_request(self, id, idlen);
}
void cx_broker_close_at_gateway(cx_broker *self, const peer *gateway, uint64_t id, uint32_t code, const char *reason)
{
    close_conn_at_gateway(self, gateway, id, code, reason);
}
void cx_broker_conn_forget(cx_broker *self, conn *c) { conn_forget(self, c); }
int cx_broker_conn_join(cx_broker *self, conn *c, cx_slice group) { return conn_join(self, c, group); }
void cx_broker_offence(cx_broker *self, peer *p, const cx_env *env, const char *why) { offence(self, p, env, why); }

/* ------------------------------------------------------------- lifecycle */

cx_broker *cx_broker_new(const char *endpoint)
{
    cx_broker *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->router = zsock_new(ZMQ_ROUTER);
    self->peers = zhashx_new();
    self->conns = cx_idmap_new();
    self->groups = cx_groups_new();
    self->worker_groups = cx_groups_new();
    self->users = cx_users_new();
    self->routes = cx_route_table_new();
    self->dec = cx_decoder_new();
    self->enc = cx_encoder_new();
    self->banned = zhashx_new();
    self->rebuild = cx_rebuild_new();
    if (!self->router || !self->peers || !self->conns || !self->groups || !self->routes || !self->dec
        || !self->enc || !self->banned || !self->rebuild || !self->worker_groups || !self->users) {
        cx_broker_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->peers, peer_free);
    self->handle = zsock_resolve(self->router);
    zsock_set_router_mandatory(self->router, 1);
    zsock_set_sndhwm(self->router, 0);
    zsock_set_rcvhwm(self->router, 0);
    zsock_set_linger(self->router, 0);
    char *allowed = NULL, public_key[41];
    int curve = cx_curve_server(self->router, &allowed, public_key);
    if (curve == 1)
        self->zap = cx_zap_new(allowed, public_key);
    free(allowed);
    if (curve < 0 || (curve == 1 && !self->zap) || (curve == 0 && !cx_curve_plain_allowed(endpoint))) {
        cx_broker_destroy(&self);
        return NULL;
    }
    if (zsock_bind(self->router, "%s", endpoint) < 0) {
        cx_error("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        cx_broker_destroy(&self);
        return NULL;
    }
    return self;
}

static void free_conn(uint64_t id, void *value, void *arg)
{
    (void) id;
    (void) arg;
    conn *c = value;
    for (size_t i = 0; i < c->ngroups; i++)
        free(c->groups[i]);
    free(c->groups);
    free(c);
}

void cx_broker_destroy(cx_broker **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_broker *self = *self_p;
    if (self->conns)
        cx_idmap_foreach(self->conns, free_conn, NULL);
    cx_idmap_destroy(&self->conns);
    zhashx_destroy(&self->peers);
    cx_groups_destroy(&self->groups);
    cx_groups_destroy(&self->worker_groups);
    cx_users_destroy(&self->users);
    cx_route_table_destroy(&self->routes);
    cx_decoder_destroy(&self->dec);
    cx_encoder_destroy(&self->enc);
    zsock_destroy(&self->router);
    cx_zap_destroy(&self->zap);
    cx_rebuild_destroy(&self->rebuild);
    zhashx_destroy(&self->banned);
    free(self);
    *self_p = NULL;
}
