/*
 * dispatch.c — what the broker does with each envelope: one table.
 *
 * An envelope is decoded (only its fixed fields are read), its sender is
 * looked up and checked against what its role may send (roles.c), and then
 * the row of HANDLERS for its type handles it, as Redis's command table
 * does for commands. Most rows forward the envelope unchanged to one peer:
 * RECEIVE (and ANSWER) to the worker the connection is pinned to, SEND and CLOSE to the
 * gateway holding it, group traffic to every gateway holding members.
 *
 * Adding an envelope type the broker receives is a row here (its handler
 * and flags), a bit in roles.c for the role that may send it, and proto/
 * (proto/README.md, "Adding an envelope type"). Only HELLO and HEARTBEAT
 * are handled before the table: they are the two a peer may send before
 * the broker knows it.
 *
 * A row flagged WAITS_FOR_REBUILD is about connections: while a restarted
 * broker rebuilds its state (rebuild.c) it waits there, and broker.c
 * replays it through here when the window closes.
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

/* A row's handler: p is a known peer whose role may send env's type; msg is the received body. */
typedef void cx_broker_handler(cx_broker *self, cx_broker_peer *p, const cx_env *env, zmq_msg_t *msg);

enum {
    WAITS_FOR_REBUILD = 1,   /* about connections: held while a rebuild window is open (rebuild.c) */
};

/* The connection env is about, or NULL; one of a lost peer's that waits for its slice (endings.c) is
 * ended now and is not there any more, exactly as if it had been ended when its peer was lost. */
static cx_broker_conn *conn_of(cx_broker *self, const cx_env *env)
{
    cx_broker_conn *c = cx_idmap_get(self->conns, env->conn);
    if (c && cx_broker_conn_ending(c)) {
        cx_broker_end_now(self, c);
        return NULL;
    }
    return c;
}

/* --------------------------------------------------------- from gateways */

static void on_connect(cx_broker *self, cx_broker_peer *gateway, const cx_env *env, zmq_msg_t *msg)
{
    cx_broker_conn *c = conn_of(self, env);
    if (c && c->gateway == gateway && !c->worker && cx_broker_repinning(self, c->id)) {
        cx_broker_repin_connect(self, c, env, msg);   /* its worker process died: asked again (repin.c) */
        return;
    }
    cx_broker_peer *worker = cx_broker_least_loaded_worker(self, env->consumer);
    if (!worker) {
        cx_broker_close_at_gateway(self, gateway, env->conn, 1013, "no worker serves this route");
        return;
    }
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
    *c = (cx_broker_conn) { .id = env->conn, .gateway = gateway, .worker = worker, .user_id = env->user_id,
                            .username = env->username.len ? cx_slice_dup(env->username) : NULL,
                            .connected_ms = env->connected_ms ? (int64_t) env->connected_ms : zclock_time() };
    cx_idmap_put(self->conns, c->id, c);
    cx_users_add(self->users, c->user_id, c->id, c);
    cx_idmap_put(gateway->conns, c->id, c);
    cx_idmap_put(worker->conns, c->id, c);
    cx_broker_forward(self, worker, msg);
}

/* Whether the client waits for what the envelope leads to (an answer): a connection the broker cannot
 * serve must then be closed, not left waiting. */
static int awaits_answer(const cx_env *env)
{
    return env->type == CX_ENV_RECEIVE || env->type == CX_ENV_ANSWER;
}

/* The whole connection a gateway's envelope is about, or NULL when there is none to serve (the
 * gateway is told what it must be: a client's message to a connection without a consumer closes it). */
static cx_broker_conn *gateway_conn(cx_broker *self, cx_broker_peer *gateway, const cx_env *env, zmq_msg_t *msg)
{
    cx_broker_conn *c = conn_of(self, env);
    if (c && c->gateway && c->gateway != gateway) {
        cx_broker_offence(self, gateway, env, "a connection another gateway opened");
        return NULL;
    }
    if (c && !c->gateway)
        return NULL;   /* re-announced by its worker only, while the broker rebuilds: not this gateway's */
    if (!c) {
        /* After a broker restart: the client must reconnect to get a consumer. */
        if (awaits_answer(env))
            cx_broker_close_at_gateway(self, gateway, env->conn, 1011, "unknown connection");
        return NULL;
    }
    if (!c->worker && cx_broker_repinning(self, c->id)) {   /* its consumer starts again elsewhere (repin.c) */
        if (env->type == CX_ENV_RECEIVE) {
            cx_broker_repin_hold(self, c, msg);
        } else {
            cx_broker_repin_drop(self, c->id);
            cx_broker_conn_forget(self, c);
        }
        return NULL;
    }
    if (!c->worker) {   /* re-announced by its gateway only: its worker died while the broker was away */
        if (awaits_answer(env))
            cx_broker_close_at_gateway(self, gateway, c->id, 1011, "worker lost");
        cx_broker_conn_forget(self, c);
        return NULL;
    }
    return c;
}

static void on_receive(cx_broker *self, cx_broker_peer *gateway, const cx_env *env, zmq_msg_t *msg)
{
    cx_broker_conn *c = gateway_conn(self, gateway, env, msg);
    if (c)
        cx_broker_forward(self, c->worker, msg);
}

static void on_disconnect(cx_broker *self, cx_broker_peer *gateway, const cx_env *env, zmq_msg_t *msg)
{
    cx_broker_conn *c = gateway_conn(self, gateway, env, msg);
    if (!c)
        return;
    cx_broker_forward(self, c->worker, msg);
    cx_broker_conn_forget(self, c);
}

/* ---------------------------------------------------------- from workers */

static void on_register(cx_broker *self, cx_broker_peer *worker, const cx_env *env, zmq_msg_t *msg)
{
    (void) msg;
    /* Logged because a worker only takes connections from here on: the moment to look for when
     * a freshly started worker seems idle. */
    cx_log_fields(CX_LOG_INFO, "worker registered",
                  json_pack("{s:s, s:I}", "peer", worker->id, "routes", (json_int_t) env->nroutes));
    if (cx_route_table_set_worker(self->routes, worker, env->routes, env->nroutes) > 0)
        cx_broker_publish_routes(self);
    cx_broker_repin_retry(self);   /* connections of a dead worker process waiting for one (repin.c) */
}

/* Whether a worker may speak about env's connection: not when another worker holds it (an offence:
 * GROUP_SEND's conn is its sender, and is_current must not be forged). *c is the connection, if any. */
static int worker_may_address(cx_broker *self, cx_broker_peer *worker, const cx_env *env, cx_broker_conn **c)
{
    *c = conn_of(self, env);
    if (*c && (*c)->worker && (*c)->worker != worker) {
        cx_broker_offence(self, worker, env, "a connection pinned to another worker");
        return 0;
    }
    return 1;
}

/* The whole connection pinned to this worker that env is about, or NULL: it ended while the worker
 * was answering (or is not whole yet), and what the worker said is dropped. */
static cx_broker_conn *worker_conn(cx_broker *self, cx_broker_peer *worker, const cx_env *env)
{
    cx_broker_conn *c;
    if (!worker_may_address(self, worker, env, &c) || !c || !c->gateway || c->worker != worker)
        return NULL;
    return c;
}

/* SEND and CLOSE: to the gateway holding the connection, as they came. */
static void on_to_gateway(cx_broker *self, cx_broker_peer *worker, const cx_env *env, zmq_msg_t *msg)
{
    cx_broker_conn *c = worker_conn(self, worker, env);
    if (c)
        cx_broker_forward(self, c->gateway, msg);
}

/* The group's history, when the consumer declares one (history.c), starts before the join so that
 * the join is told its epoch and seq (recovery.c). */
static void on_group_add(cx_broker *self, cx_broker_peer *worker, const cx_env *env, zmq_msg_t *msg)
{
    cx_broker_conn *c = worker_conn(self, worker, env);
    if (!c)
        return;
    if (env->history_size) {
        char *name = cx_slice_dup(env->group);
        if (name && cx_history_declare(self->history, name, env->history_size, env->history_ttl_ms, cx_now_ms()) == 2)
            cx_broker_replicate_start(self, name);
        free(name);
    }
    if (env->flags & CX_GROUP_ADD_PRESENCE) {   /* counted from before this join: its push follows */
        char *name = cx_slice_dup(env->group);
        if (name)
            cx_broker_presence_track(self, name);
        free(name);
    }
    int joined = cx_broker_conn_join(self, c, env->group);
    if (joined == 1) {
        cx_broker_forward(self, c->gateway, msg);
        cx_broker_recover(self, c, env, 1);
    } else if (joined == 0 && env->topic.len) {   /* a topic subscribed again: "subscribed", nothing replayed */
        cx_broker_recover(self, c, env, 0);
    }
}

static void on_group_discard(cx_broker *self, cx_broker_peer *worker, const cx_env *env, zmq_msg_t *msg)
{
    cx_broker_conn *c = worker_conn(self, worker, env);
    if (c && cx_broker_conn_part(self, c, env->group) == 1)
        cx_broker_forward(self, c->gateway, msg);
}

/* One envelope to each gateway holding members of any of the groups (the sender may have left). */
static void on_group_send(cx_broker *self, cx_broker_peer *worker, const cx_env *env, zmq_msg_t *msg)
{
    cx_broker_conn *c;
    if (!worker_may_address(self, worker, env, &c))
        return;
    char *names[CX_PROTO_MAX_GROUPS] = { 0 };   /* = { 0 }: gcc cannot see n bounds the reads */
    size_t n = 0;
    for (; n < env->ngroups; n++)
        if (!(names[n] = cx_slice_dup(env->groups[n])))
            break;
    if (cx_broker_any_held(self, names, n)) {   /* stamped with each group's seq: re-encoded (recovery.c) */
        while (n > 0)
            free(names[--n]);
        cx_broker_send_held(self, env);
        return;
    }
    cx_broker_fanout f = { self, msg, 0 };
    cx_groups_gateways(self->groups, (const char *const *) names, n, cx_broker_fanout_forward, &f);
    while (n > 0)
        free(names[--n]);
}

/* -------------------------------------------------------- from any peer */

static void on_resume(cx_broker *self, cx_broker_peer *p, const cx_env *env, zmq_msg_t *msg)
{
    (void) msg;
    const char *offence = cx_rebuild_on_resume(self, p, env);
    if (offence)
        cx_broker_offence(self, p, env, offence);
}

/* ----------------------------------------------------------------- table */

/* Envelope type → handler. Who may send each type is roles.c's table; a type without a row (ROUTES,
 * RESULT: the broker sends them, never receives them) is dropped after that check. */
static const struct {
    cx_broker_handler *handle;
    int flags;
} HANDLERS[CX_ENV_TYPE_MAX] = {
    /* CX_ENV_HELLO, CX_ENV_HEARTBEAT: before the table (cx_broker_dispatch) */
    [CX_ENV_RESUME] = { on_resume, 0 },                          /* gateway, worker */
    /* CONNECT waits too: during a rebuild it would meet a route table the workers have not
     * re-announced yet and be refused with 1013 "no worker serves this route". */
    [CX_ENV_CONNECT] = { on_connect, WAITS_FOR_REBUILD },        /* gateway */
    [CX_ENV_RECEIVE] = { on_receive, WAITS_FOR_REBUILD },        /* gateway */
    [CX_ENV_ANSWER] = { on_receive, WAITS_FOR_REBUILD },         /* gateway: on RECEIVE's path (proto/README.md) */
    [CX_ENV_DISCONNECT] = { on_disconnect, WAITS_FOR_REBUILD },  /* gateway */
    [CX_ENV_REGISTER] = { on_register, 0 },                      /* worker */
    [CX_ENV_SEND] = { on_to_gateway, WAITS_FOR_REBUILD },        /* worker */
    [CX_ENV_CLOSE] = { on_to_gateway, WAITS_FOR_REBUILD },       /* worker */
    [CX_ENV_GROUP_ADD] = { on_group_add, WAITS_FOR_REBUILD },    /* worker */
    [CX_ENV_GROUP_DISCARD] = { on_group_discard, WAITS_FOR_REBUILD },   /* worker */
    [CX_ENV_GROUP_SEND] = { on_group_send, WAITS_FOR_REBUILD },  /* worker */
    [CX_ENV_EVENT] = { cx_broker_on_event, 0 },                  /* api (events.c) */
    [CX_ENV_CLOSE_TARGET] = { cx_broker_on_close_target, 0 },    /* api (events.c) */
    [CX_ENV_PRESENCE] = { cx_broker_on_presence, 0 },            /* api, worker (presence.c) */
    [CX_ENV_WORKER_EXIT] = { cx_broker_on_worker_exit, 0 },      /* worker supervisor (worker_exit.c) */
};

/* A peer the broker does not know: HELLO introduces it; anything else was sent before its HELLO
 * reached us (queued while we were down) and is kept until it has introduced itself, so a restart
 * loses none of it; a heartbeat just asks who it is. */
static void from_stranger(cx_broker *self, const char *id, size_t idlen, const cx_env *env, zmq_msg_t *body,
                          const cx_role_rule *key_rule, const cx_sender *from)
{
    if (env->type == CX_ENV_HELLO)
        cx_broker_on_hello(self, id, idlen, NULL, env, key_rule, self->zap ? from->key : NULL);
    else if (env->type == CX_ENV_HEARTBEAT || cx_rebuild_hold_stranger(self->rebuild, id, body, from))
        cx_broker_send_identity_request(self, id, idlen);
}

void cx_broker_dispatch(cx_broker *self, const char *id, size_t idlen, zmq_msg_t *body, const cx_sender *from)
{
    cx_env env;
    if (cx_decoder_decode(self->dec, zmq_msg_data(body), zmq_msg_size(body), &env) != 0) {
        cx_warn("dropped a malformed envelope from %s: %s", id, cx_decoder_error(self->dec));
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
    cx_broker_peer *p = zhashx_lookup(self->peers, id);
    if (!p) {
        from_stranger(self, id, idlen, &env, body, key_rule, from);
        return;
    }
    if (env.type == CX_ENV_HELLO) {
        cx_broker_on_hello(self, id, idlen, p, &env, key_rule, key);
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
    if ((unsigned) env.type >= CX_ENV_TYPE_MAX || !HANDLERS[env.type].handle)
        return;
    if ((HANDLERS[env.type].flags & WAITS_FOR_REBUILD) && cx_rebuild_defer(self->rebuild, p->id, body, from))
        return;
    HANDLERS[env.type].handle(self, p, &env, body);
}
