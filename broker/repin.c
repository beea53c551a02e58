/*
 * repin.c — a worker process died: its innocent connections move to a live
 * worker, and their clients never see a close.
 *
 * When a supervisor reports a child's death (worker_exit.c), the connection
 * whose callback crashed is closed; every other connection of that child is
 * re-pinned: the broker unpins it (it stays a member of its groups at the
 * gateway, so group messages meanwhile still reach its client: conns.c) and
 * asks its gateway for the connection's CONNECT again (REPIN). The gateway
 * keeps that envelope, encoded and flagged CX_USER_RESTARTED, from the
 * moment it admitted the client, so the broker remembers nothing per
 * connection beyond this table's entries, which exist only while a re-pin
 * is under way (a restart's ~200 ms): the echo and broadcast paths never
 * look here, only the branch for a connection without a worker does
 * (dispatch.c's gateway_conn).
 *
 * What the dead process held of the connection's messages (forwarded, not
 * yet handled by its consumer: conns.c keeps them until the worker's ACK)
 * goes first into the held queue, so the new consumer handles each of them
 * once; the crashed connection's are dropped with it, so the message that
 * crashed a consumer is never delivered again. A connection that had more
 * in the dead process than the bound let the broker keep cannot be moved
 * without a hole: it is closed 1011 "worker lost" (nothing lost in silence).
 *
 * The CONNECT comes back like any other, after every RECEIVE the gateway
 * sent before it (one pipe, one order). Those RECEIVEs, and any that follow
 * it while no worker serves the route yet (the only process is restarting),
 * wait here in arrival order with the EVENTs addressed to the connection
 * meanwhile (events.c), and are forwarded right after the CONNECT: the
 * worker queues a connection's mail behind its start, so the new consumer
 * gets them once, in order, after has_permission, build_groups and
 * post_authentication. Past CHANX_REPIN_MAX_MESSAGES or _BYTES held the
 * client is closed with 1013 (try again later), as a full mailbox is. When
 * no worker serves the route within CHANX_REPIN_TIMEOUT_MS, or its plugin
 * is quarantined, the connection is closed 1011 "worker lost" as before
 * re-pinning existed. A gateway built before REPIN (no CX_HELLO_REPINS)
 * gets that close at once.
 *
 * Layering: below dispatch.c, events.c and worker_exit.c; calls conns.c,
 * send.c, the route table and replay_queue.c only.
 */
#include "broker/broker_internal.h"
#include "common/env.h"
#include "common/link.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t deadline;           /* when it is closed "worker lost" if still not served */
    cx_replay_queue *held;      /* the client's RECEIVEs meanwhile, in arrival order */
    zmq_msg_t connect;          /* its CONNECT again, while no worker serves the route */
    int has_connect;
    char *target;               /* the CONNECT's consumer, to pin it when a worker registers */
} repin;

struct cx_broker_repins {
    cx_idmap *waiting;          /* conn id → repin */
    int64_t timeout_ms;         /* CHANX_REPIN_TIMEOUT_MS */
    size_t max_messages, max_bytes;   /* CHANX_REPIN_MAX_MESSAGES, CHANX_REPIN_MAX_BYTES: held per connection */
    int64_t next_expiry;
};

cx_broker_repins *cx_broker_repins_new(cx_broker *broker)
{
    cx_broker_repins *self = calloc(1, sizeof *self);
    if (!self || !(self->waiting = cx_idmap_new())) {
        free(self);
        return NULL;
    }
    self->timeout_ms = cx_env_long("CHANX_REPIN_TIMEOUT_MS", 5000, 1, 3600000L);
    self->max_messages = (size_t) cx_env_long("CHANX_REPIN_MAX_MESSAGES", 256, 1, 1000000L);
    self->max_bytes = (size_t) cx_env_long("CHANX_REPIN_MAX_BYTES", 1L << 20, 1024, 1L << 30);
    broker->held_max_messages = self->max_messages;
    broker->held_max_bytes = self->max_bytes;
    return self;
}

static void repin_free(repin *r)
{
    if (!r)
        return;
    cx_replay_queue_destroy(&r->held);
    if (r->has_connect)
        zmq_msg_close(&r->connect);
    free(r->target);
    free(r);
}

static void free_entry(uint64_t id, void *value, void *arg)
{
    (void) id;
    (void) arg;
    repin_free(value);
}

void cx_broker_repins_destroy(cx_broker_repins **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_broker_repins *self = *self_p;
    cx_idmap_foreach(self->waiting, free_entry, NULL);
    cx_idmap_destroy(&self->waiting);
    free(self);
    *self_p = NULL;
}

/* What the dead process had not handled of c's messages, oldest first: the start of what r holds.
 * 0, or -1 when they cannot all be replayed (some were past the bound, or out of memory). */
static int take_unhandled(cx_broker_conn *c, repin *r)
{
    if (!c->inflight)
        return 0;
    if (cx_inflight_has_hole(c->inflight))
        return -1;
    size_t n = cx_inflight_size(c->inflight);
    if (n && !(r->held = cx_replay_queue_new()))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (cx_replay_queue_push(r->held, c->gateway->id, cx_inflight_msg(c->inflight, i), NULL) != 0)
            return -1;
    cx_inflight_reset(c->inflight);
    return 0;
}

int cx_broker_repin_start(cx_broker *self, cx_broker_conn *c)
{
    if (!c->gateway || !c->gateway->repins || cx_idmap_get(self->repins->waiting, c->id))
        return 0;
    repin *r = calloc(1, sizeof *r);
    if (!r || take_unhandled(c, r) != 0 || cx_idmap_put(self->repins->waiting, c->id, r) != 0) {
        if (c->inflight && cx_inflight_has_hole(c->inflight))
            cx_log_fields(CX_LOG_WARNING, "connection not re-pinned",
                          json_pack("{s:I, s:s}", "conn", (json_int_t) c->id, "why",
                                    "more messages in the dead process than CHANX_REPIN_MAX_MESSAGES/_BYTES kept"));
        repin_free(r);
        return 0;
    }
    r->deadline = cx_now_ms() + self->repins->timeout_ms;
    cx_broker_conn_unpin(self, c);
    cx_env ask = { .type = CX_ENV_REPIN, .conn = c->id };
    cx_broker_send_env(self, c->gateway, &ask);
    return 1;
}

int cx_broker_repinning(const cx_broker *self, uint64_t conn)
{
    return cx_idmap_get(self->repins->waiting, conn) != NULL;
}

void cx_broker_repin_drop(cx_broker *self, uint64_t conn)
{
    repin_free(cx_idmap_remove(self->repins->waiting, conn));
}

/* No worker will serve it in time: closed as a lost worker's connections always were. */
static void lost(cx_broker *self, cx_broker_conn *c, const char *why)
{
    cx_log_fields(CX_LOG_WARNING, "connection not re-pinned",
                  json_pack("{s:I, s:s}", "conn", (json_int_t) c->id, "why", why));
    if (c->gateway)
        cx_broker_close_at_gateway(self, c->gateway, c->id, 1011, "worker lost");
    cx_broker_repin_drop(self, c->id);
    cx_broker_conn_forget(self, c);
}

void cx_broker_repin_hold(cx_broker *self, cx_broker_conn *c, zmq_msg_t *msg)
{
    repin *r = cx_idmap_get(self->repins->waiting, c->id);
    if (!r->held && !(r->held = cx_replay_queue_new())) {
        lost(self, c, "out of memory");
        return;
    }
    if (cx_replay_queue_size(r->held) >= self->repins->max_messages
        || cx_replay_queue_bytes(r->held) + zmq_msg_size(msg) > self->repins->max_bytes
        || cx_replay_queue_push(r->held, c->gateway->id, msg, NULL) != 0) {
        cx_log_fields(CX_LOG_WARNING, "too many messages while its consumer restarted: closing (1013)",
                      json_pack("{s:I, s:I}", "conn", (json_int_t) c->id, "held",
                                (json_int_t) cx_replay_queue_size(r->held)));
        cx_broker_close_at_gateway(self, c->gateway, c->id, 1013, "consumer restarting");
        cx_broker_repin_drop(self, c->id);
        cx_broker_conn_forget(self, c);
    }
}

/* Pinned to worker: the CONNECT, then what the client sent meanwhile, in order. */
static void pin(cx_broker *self, cx_broker_conn *c, repin *r, cx_broker_peer *worker, zmq_msg_t *connect)
{
    cx_broker_conn_pin_worker(self, c, worker);
    cx_idmap_put(worker->conns, c->id, c);
    c->numbered = 1;   /* a new consumer there: its count starts with what follows */
    if (!worker->acks)   /* it will not say when its consumer has started: the groups it rejoins come back */
        cx_broker_conn_drop_stale(self, c);
    cx_broker_forward(self, worker, connect);
    for (size_t i = 0; r->held && i < cx_replay_queue_size(r->held); i++) {
        zmq_msg_t *held = cx_replay_queue_msg(r->held, i);
        int type = cx_env_peek_type(zmq_msg_data(held), zmq_msg_size(held));
        if (type == CX_ENV_RECEIVE || type == CX_ENV_ANSWER)
            cx_broker_conn_deliver(self, c, held);   /* kept again until this worker has handled it */
        else
            cx_broker_forward(self, worker, held);   /* an EVENT (events.c) */
    }
    cx_log_fields(CX_LOG_INFO, "connection re-pinned",
                  json_pack("{s:I, s:s, s:I}", "conn", (json_int_t) c->id, "worker", worker->id, "held",
                            (json_int_t) (r->held ? cx_replay_queue_size(r->held) : 0)));
    cx_broker_repin_drop(self, c->id);
}

void cx_broker_repin_connect(cx_broker *self, cx_broker_conn *c, const cx_env *env, zmq_msg_t *msg)
{
    repin *r = cx_idmap_get(self->repins->waiting, c->id);
    cx_broker_peer *worker = cx_broker_least_loaded_worker(self, env->consumer);
    if (worker && cx_now_ms() >= r->deadline) {   /* as retry_one: the timeout holds whoever is first */
        lost(self, c, "no worker serves its route within CHANX_REPIN_TIMEOUT_MS");
        return;
    }
    if (worker) {
        pin(self, c, r, worker, msg);
        return;
    }
    if (cx_route_table_quarantined(self->routes, env->consumer)) {
        lost(self, c, "its plugin is quarantined");
        return;
    }
    if (r->has_connect || !(r->target = cx_slice_dup(env->consumer))) {
        lost(self, c, r->has_connect ? "a second CONNECT" : "out of memory");
        return;
    }
    zmq_msg_init(&r->connect);   /* waits for a worker to register the route (cx_broker_repin_retry) */
    zmq_msg_copy(&r->connect, msg);
    r->has_connect = 1;
}

typedef struct {
    uint64_t *ids;
    size_t n, max;
} id_list;

static void collect_id(uint64_t id, void *value, void *arg)
{
    (void) value;
    id_list *l = arg;
    if (l->n < l->max)
        l->ids[l->n++] = id;
}

/* The one walk over the waiting connections: fn gets each whose connection still exists (and may end
 * either; the ids are taken first), with arg; one whose gateway went or whose client left is dropped. */
static void for_each_waiting(cx_broker *self, void (*fn)(cx_broker *, cx_broker_conn *, repin *, void *), void *arg)
{
    id_list l = { NULL, 0, cx_idmap_size(self->repins->waiting) };
    if (!(l.ids = malloc((l.max + 1) * sizeof *l.ids)))
        return;
    cx_idmap_foreach(self->repins->waiting, collect_id, &l);
    for (size_t i = 0; i < l.n; i++) {
        repin *r = cx_idmap_get(self->repins->waiting, l.ids[i]);
        cx_broker_conn *c = cx_idmap_get(self->conns, l.ids[i]);
        if (!r)
            continue;
        if (!c || !c->gateway || cx_broker_conn_ending(c))   /* its gateway went, or the client left: nothing to re-pin */
            cx_broker_repin_drop(self, l.ids[i]);
        else
            fn(self, c, r, arg);
    }
    free(l.ids);
}

static void retry_one(cx_broker *self, cx_broker_conn *c, repin *r, void *arg)
{
    int64_t now = *(const int64_t *) arg;
    if (!r->has_connect)
        return;
    if (now >= r->deadline) {   /* expiry runs every 100 ms: a worker registering late must not win */
        lost(self, c, "no worker serves its route within CHANX_REPIN_TIMEOUT_MS");
        return;
    }
    cx_broker_peer *worker = cx_broker_least_loaded_worker(self, cx_slice_of(r->target));
    if (worker)
        pin(self, c, r, worker, &r->connect);
}

void cx_broker_repin_retry(cx_broker *self)
{
    if (!cx_idmap_size(self->repins->waiting))
        return;
    int64_t now = cx_now_ms();
    for_each_waiting(self, retry_one, &now);
}

static void expire_one(cx_broker *self, cx_broker_conn *c, repin *r, void *arg)
{
    if (*(const int64_t *) arg >= r->deadline)
        lost(self, c, "no worker serves its route within CHANX_REPIN_TIMEOUT_MS");
}

void cx_broker_repin_expire(cx_broker *self)
{
    if (!cx_idmap_size(self->repins->waiting))
        return;   /* the usual case, every loop turn: not even a clock read */
    int64_t now = cx_now_ms();
    if (now < self->repins->next_expiry)
        return;
    self->repins->next_expiry = now + 100;
    for_each_waiting(self, expire_one, &now);
}

static int in_stale_group(const cx_broker_conn *c, const cx_env *env)
{
    for (size_t i = 0; i < c->nstale; i++)
        for (uint32_t g = 0; g < env->ngroups; g++)
            if (cx_slice_eq(env->groups[g], cx_group_name(c->stale[i].group)))
                return 1;
    return 0;
}

/* A group EVENT for a waiting connection that was in one of its groups: to it alone, held (the new
 * worker's other members had theirs). */
static void hold_group_event(cx_broker *self, cx_broker_conn *c, repin *r, void *arg)
{
    const cx_env *env = arg;
    (void) r;
    if (c->worker || !in_stale_group(c, env))
        return;
    cx_env one = *env;
    one.target = CX_TARGET_CONNECTION;
    one.conn = c->id;
    one.ngroups = 0;
    zmq_msg_t m;
    if (cx_broker_encode_msg(self, &one, &m) != 0)
        return;
    cx_broker_repin_hold(self, c, &m);
    zmq_msg_close(&m);
}

void cx_broker_repin_hold_group_event(cx_broker *self, const cx_env *env)
{
    for_each_waiting(self, hold_group_event, (void *) env);
}

int cx_broker_repin_waiting(const cx_broker *self)
{
    return cx_idmap_size(self->repins->waiting) > 0;
}
