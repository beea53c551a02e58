/*
 * events.c — events from the application (chanx-api, chanx-admin publish).
 *
 * An API peer sends EVENT (to groups, a user or a connection) and
 * CLOSE_TARGET, and gets one RESULT back saying how many gateways and
 * connections it reached. Groups: one envelope to each gateway and each
 * worker holding members (on groups that keep a history, the gateways' copy
 * is stamped with each group's seq and held, exactly as a consumer's group
 * send: recovery.c); a user or a connection: one EVENT per connection, to
 * its gateway and its worker, in the order the publisher sent them. Those
 * are never held: a replay to a group's joiners would hand one user's event
 * to others.
 * A connection being re-pinned (repin.c) has no worker for a moment: what
 * its consumer's receive_event should get waits with its client's messages
 * and reaches the new consumer after its start.
 */
#include "broker/broker_internal.h"

#include <stdlib.h>
#include <string.h>

/* The connections an EVENT or CLOSE_TARGET names by user or connection id (out has room for max). */
static size_t target_conns(cx_broker *self, const cx_env *env, cx_broker_conn **out, size_t max)
{
    size_t n = 0;
    if (env->target == CX_TARGET_USER) {
        n = cx_users_connections(self->users, env->user_id, (void **) out, max);
    } else if (env->target == CX_TARGET_CONNECTION && (out[0] = cx_idmap_get(self->conns, env->conn))) {
        n = 1;
    }
    size_t live = 0;   /* a lost peer's connections, ending (endings.c), are not reached */
    for (size_t i = 0; i < n; i++)
        if (!cx_broker_conn_ending(out[i]))
            out[live++] = out[i];
    return live;
}

static uint32_t count_gateways(cx_broker_conn **conns, size_t n)
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

/* An EVENT for a connection being re-pinned waits with its client's messages, in their order. */
static void hold_event(cx_broker *self, cx_broker_conn *c, const cx_env *one)
{
    zmq_msg_t m;
    if (cx_broker_encode_msg(self, one, &m) != 0)
        return;
    cx_broker_repin_hold(self, c, &m);
    zmq_msg_close(&m);
}

static void count_peer(void *peer, void *arg)
{
    (void) peer;
    (*(uint32_t *) arg)++;
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
        cx_broker_fanout gateways = { self, msg, 0 }, workers = { self, msg, 0 };
        if (cx_broker_any_held(self, names, n)) {   /* held and stamped as a group send is (recovery.c) */
            cx_broker_send_held(self, env);
            cx_groups_gateways(self->groups, (const char *const *) names, n, count_peer, &gateways.peers);
        } else {
            cx_groups_gateways(self->groups, (const char *const *) names, n, cx_broker_fanout_forward, &gateways);
            cx_groups_workers(self->groups, (const char *const *) names, n, cx_broker_fanout_forward, &workers);
        }
        result->gateways = gateways.peers;
        result->connections = (uint32_t) cx_groups_reach(self->groups, (const char *const *) names, n);
        if (cx_broker_repin_waiting(self))   /* members whose consumer restarts get theirs after it (repin.c) */
            cx_broker_repin_hold_group_event(self, env);
        while (n > 0)
            free(names[--n]);
        return;
    }
    size_t total = cx_users_count(self->users, env->user_id) + 1;
    cx_broker_conn **conns = malloc(total * sizeof *conns);
    size_t n = conns ? target_conns(self, env, conns, total) : 0;
    result->gateways = count_gateways(conns, n);   /* now: holding an event may end a connection */
    for (size_t i = 0; i < n; i++) {
        cx_env one = *env;
        one.target = CX_TARGET_CONNECTION;
        one.conn = conns[i]->id;
        if (conns[i]->gateway)
            cx_broker_send_env(self, conns[i]->gateway, &one);
        if (conns[i]->worker)
            cx_broker_send_env(self, conns[i]->worker, &one);
        else if (cx_broker_repinning(self, one.conn))   /* its consumer restarts: after the start (repin.c) */
            hold_event(self, conns[i], &one);
        /* else half rebuilt (rebuild.c): no consumer to run receive_event */
    }
    result->connections = (uint32_t) n;
    free(conns);
}

static void on_close_target(cx_broker *self, const cx_env *env, cx_env *result)
{
    size_t total = cx_users_count(self->users, env->user_id) + 1;
    cx_broker_conn **conns = malloc(total * sizeof *conns);
    size_t n = conns ? target_conns(self, env, conns, total) : 0;
    for (size_t i = 0; i < n; i++)
        cx_broker_close_at_gateway(self, conns[i]->gateway, conns[i]->id, env->code, "disconnected by the application");
    result->gateways = count_gateways(conns, n);
    result->connections = (uint32_t) n;
    free(conns);
}

/* The handlers of dispatch.c's table: one RESULT back to the publisher, whatever was reached. */
void cx_broker_on_event(cx_broker *self, cx_broker_peer *api, const cx_env *env, zmq_msg_t *msg)
{
    cx_env result = { .type = CX_ENV_RESULT, .request = env->request };
    on_event(self, env, msg, &result);
    cx_broker_send_env(self, api, &result);
}

void cx_broker_on_close_target(cx_broker *self, cx_broker_peer *api, const cx_env *env, zmq_msg_t *msg)
{
    (void) msg;
    cx_env result = { .type = CX_ENV_RESULT, .request = env->request };
    on_close_target(self, env, &result);
    cx_broker_send_env(self, api, &result);
}
