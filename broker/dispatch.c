/*
 * dispatch.c — what the broker does with each envelope.
 *
 * An envelope is decoded (only its fixed fields are read), checked against
 * what its sender's role may send (roles.c), and usually forwarded unchanged
 * to one peer: RECEIVE to the worker the connection is pinned to, SEND and
 * CLOSE to the gateway holding it, group traffic to every gateway holding
 * members. While a restarted broker rebuilds (rebuild.c), envelopes about
 * connections wait and replay through here.
 */
#include "broker/broker_internal.h"
#include "broker/bans.h"
#include "broker/metrics.h"
#include "common/link.h"
#include "common/log.h"
#include "proto/envelope.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

static void on_connect(cx_broker *self, peer *gateway, const cx_env *env, zmq_msg_t *msg)
{
    peer *worker = cx_broker_least_loaded_worker(self, env->consumer);
    if (!worker) {
        cx_broker_close_at_gateway(self, gateway, env->conn, 1013, "no worker serves this route");
        return;
    }
    conn *c = cx_idmap_get(self->conns, env->conn);
    if (c && c->gateway == gateway && !c->worker) {
        /* After a restart its gateway re-announced it before this CONNECT (sent while no broker
         * answered) was replayed: it is that connection, not a duplicate; pin it now. */
        cx_broker_conn_pin_worker(self, c, worker);
        cx_idmap_put(worker->conns, c->id, c);
        if (c->user_id == 0 && env->user_id > 0) {
            c->user_id = env->user_id;
            cx_users_add(self->users, c->user_id, c->id, c);
        }
        cx_broker_forward(self, worker, msg);
        return;
    }
    if (c || !(c = calloc(1, sizeof *c))) {
        cx_broker_close_at_gateway(self, gateway, env->conn, 1011, "duplicate connection id");
        return;
    }
    *c = (conn) { .id = env->conn, .gateway = gateway, .worker = worker, .user_id = env->user_id };
    cx_idmap_put(self->conns, c->id, c);
    cx_users_add(self->users, c->user_id, c->id, c);
    cx_idmap_put(gateway->conns, c->id, c);
    cx_idmap_put(worker->conns, c->id, c);
    cx_broker_forward(self, worker, msg);
}

static void on_gateway_envelope(cx_broker *self, peer *gateway, const cx_env *env, zmq_msg_t *msg)
{
    if (env->type == CX_ENV_CONNECT) {
        on_connect(self, gateway, env, msg);
        return;
    }
    conn *c = cx_idmap_get(self->conns, env->conn);
    if (c && c->gateway && c->gateway != gateway) {
        cx_broker_offence(self, gateway, env, "a connection another gateway opened");
        return;
    }
    if (c && !c->gateway)
        return;   /* re-announced by its worker only, while the broker rebuilds: not this gateway's */
    if (!c) {
        /* After a broker restart: the client must reconnect to get a consumer. */
        if (env->type == CX_ENV_RECEIVE)
            cx_broker_close_at_gateway(self, gateway, env->conn, 1011, "unknown connection");
        return;
    }
    if (!c->worker) {   /* re-announced by its gateway only: its worker died while the broker was away */
        if (env->type == CX_ENV_RECEIVE)
            cx_broker_close_at_gateway(self, gateway, c->id, 1011, "worker lost");
        cx_broker_conn_forget(self, c);
        return;
    }
    if (env->type == CX_ENV_RECEIVE) {
        cx_broker_forward(self, c->worker, msg);
    } else if (env->type == CX_ENV_DISCONNECT) {
        cx_broker_forward(self, c->worker, msg);
        cx_broker_conn_forget(self, c);
    }
}

static void on_group_send(cx_broker *self, const cx_env *env, zmq_msg_t *msg)
{
    char *names[CX_PROTO_MAX_GROUPS];
    size_t n = 0;
    for (; n < env->ngroups; n++)
        if (!(names[n] = cx_slice_dup(env->groups[n])))
            break;
    cx_broker_fanout f = { self, msg, 0 };
    cx_groups_gateways(self->groups, (const char *const *) names, n, cx_broker_fanout_forward, &f);
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
            cx_broker_publish_routes(self);
        return;
    }
    conn *c = cx_idmap_get(self->conns, env->conn);
    if (c && c->worker && c->worker != worker) {   /* GROUP_SEND's conn is its sender: is_current must not be forged */
        cx_broker_offence(self, worker, env, "a connection pinned to another worker");
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
        cx_broker_forward(self, c->gateway, msg);
        break;
    case CX_ENV_CLOSE:
        cx_broker_forward(self, c->gateway, msg);
        break;
    case CX_ENV_GROUP_ADD:
        if (cx_broker_conn_join(self, c, env->group) == 1)
            cx_broker_forward(self, c->gateway, msg);
        break;
    case CX_ENV_GROUP_DISCARD:
        if (cx_broker_conn_part(self, c, env->group) == 1)
            cx_broker_forward(self, c->gateway, msg);
        break;
    default:
        break;
    }
}

void cx_broker_dispatch(cx_broker *self, cx_decoder *dec, const char *id, size_t idlen, zmq_msg_t *body,
                        const cx_sender *from)
{
    cx_env env;
    if (cx_decoder_decode(dec, zmq_msg_data(body), zmq_msg_size(body), &env) != 0) {
        cx_warn("dropped a malformed envelope from %s: %s", id, cx_decoder_error(dec));
        cx_broker_count_malformed();
        return;
    }
    cx_broker_count_envelope(env.type);
    /* With CURVE, the role is the key's (ZAP User-Id), read on every envelope: a routing id freed by one
     * peer and taken by another key's holder must not inherit the first one's role. Bans are by key
     * (ZAP's X-Key, zap.h), so a banned peer gains nothing by taking a new routing id. */
    const cx_role_rule *key_rule = NULL;
    if (self->zap && !(key_rule = cx_role_rule_named(from->role)))
        return;
    const char *key = self->zap ? from->key : NULL;
    if (cx_bans_banned(self->bans, key && *key ? key : id))
        return;
    peer *p = zhashx_lookup(self->peers, id);
    if (env.type == CX_ENV_HELLO) {
        cx_broker_on_hello(self, id, idlen, p, &env, key_rule, key);
        return;
    }
    if (!p) {
        /* Sent before its HELLO reached us (queued while we were down): kept until it has introduced
         * itself, so a restart loses none of it; a heartbeat just asks who it is. */
        if (env.type == CX_ENV_HEARTBEAT || cx_rebuild_hold_stranger(self, id, body, from))
            cx_broker_send_identity_request(self, id, idlen);
        return;
    }
    if (key_rule && key_rule != p->rule) {
        cx_broker_offence(self, p, &env, "sent with a key of another role");
        return;
    }
    p->last_heard = cx_now_ms();
    if (env.type == CX_ENV_HEARTBEAT)
        return;
    if (!cx_role_may_send(p->rule, env.type)) {
        cx_broker_offence(self, p, &env, "not an envelope its role may send");
        return;
    }
    if (env.type == CX_ENV_RESUME) {
        cx_rebuild_on_resume(self, p, &env);
        return;
    }
    if (cx_rebuild_defer(self, p, &env, body, from))
        return;
    if (p->role == CX_ROLE_GATEWAY)
        on_gateway_envelope(self, p, &env, body);
    else if (p->role == CX_ROLE_API)
        cx_broker_on_api_envelope(self, p, &env, body);
    else
        on_worker_envelope(self, p, &env, body);
}

