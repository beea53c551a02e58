/*
 * broker.c — the broker's lifecycle and its loop: the top of its layers.
 *
 * Data flow: a ZeroMQ message arrives as [peer identity][envelope]; drain()
 * reads everything waiting and hands each envelope to the dispatch
 * (dispatch.c), which forwards it (send.c) using the state of peers
 * (peers.c), connections (conns.c) and the rebuild after a restart
 * (rebuild.c). Events from the application are events.c. After each batch
 * the loop ends a slice of a lost peer's connections (endings.c), ticks the
 * rebuild window, sends heartbeats and publishes the gauges. One thread
 * owns everything: no locks.
 *
 * Envelopes the rebuild held back (a peer that spoke before introducing
 * itself, traffic during a rebuild window) come back here as a replay queue
 * and go through the dispatch again, in arrival order: the rebuild never
 * calls the dispatch, which calls it. A stranger's envelopes are replayed
 * right after the RESUME 0 that ends its introduction, before anything else
 * is read, so its order holds.
 */
#include "broker/broker_internal.h"
#include "broker/bans.h"
#include "common/curve.h"
#include "broker/metrics.h"
#include "common/env.h"
#include "common/link.h"
#include "common/log.h"
#include "common/memory_limit.h"
#include "proto/envelope.h"

#include <czmq.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* What the rebuild released, through the dispatch in arrival order (which may release more). */
static void replay_released(cx_broker *self)
{
    for (cx_replay_queue *q; (q = cx_rebuild_take_released(self->rebuild)); cx_replay_queue_destroy(&q))
        for (size_t i = 0; i < cx_replay_queue_size(q); i++) {
            const char *id = cx_replay_queue_id(q, i);
            cx_sender from = cx_replay_queue_sender(q, i);
            cx_broker_dispatch(self, id, strlen(id), cx_replay_queue_msg(q, i), &from);
        }
}

/* A batch from a peer (proto/batch.h): each envelope dispatched on its own, in order, with what ZAP said
 * of the message that carried them, so one refused or malformed envelope drops alone; what the rebuild
 * releases after one is replayed before the next, as between messages. */
static void dispatch_batch(cx_broker *self, cx_batch_reader *batch, const char *id, size_t idlen,
                           const cx_sender *from)
{
    const void *data;
    size_t len;
    int rc;
    while ((rc = cx_batch_next(batch, &data, &len)) == 1) {
        zmq_msg_t one;
        if (zmq_msg_init_size(&one, len) != 0)
            return;
        memcpy(zmq_msg_data(&one), data, len);
        cx_broker_dispatch(self, id, idlen, &one, from);
        zmq_msg_close(&one);
        replay_released(self);
    }
    if (rc < 0) {
        cx_warn("dropped the rest of a batch from %s: broken framing", id);
        cx_broker_count_malformed();
    }
}

static void dispatch(cx_broker *self, zmq_msg_t *idmsg, zmq_msg_t *body)
{
    size_t idlen = zmq_msg_size(idmsg);
    char id[MAX_IDENTITY + 1];
    if (idlen == 0 || idlen > MAX_IDENTITY || memchr(zmq_msg_data(idmsg), 0, idlen))
        return;
    memcpy(id, zmq_msg_data(idmsg), idlen);
    id[idlen] = '\0';
    cx_sender from = { NULL, NULL };
    if (self->zap) {
        from.role = zmq_msg_gets(body, "User-Id");
        from.key = zmq_msg_gets(body, CX_ZAP_KEY_PROPERTY);
    }
    cx_batch_reader batch;
    if (cx_batch_open(&batch, zmq_msg_data(body), zmq_msg_size(body))) {
        dispatch_batch(self, &batch, id, idlen, &from);
        return;
    }
    cx_broker_dispatch(self, id, idlen, body, &from);
    replay_released(self);
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
        if (++handled % 256 == 0)
            cx_broker_flush(self);   /* a flood that never lets drain end must not hold batches back */
    }
    zmq_msg_close(&idmsg);
    zmq_msg_close(&body);
    return handled;
}

/* The gauges of broker/metrics.h, from the tables; after each batch (a handful of peers to count). */
static void publish_state(cx_broker *self)
{
    cx_broker_state s = { .connections = cx_idmap_size(self->conns), .groups = cx_groups_count(self->groups),
                          .members = cx_groups_memberships(self->groups),
                          .routes = cx_route_table_size(self->routes),
                          .stranger_bytes = cx_rebuild_stranger_bytes(self->rebuild) };
    cx_history_stats(self->history, &s.history_groups, &s.history_messages, &s.history_bytes);
    for (cx_broker_peer *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers))
        if (!p->supervisor)   /* a worker supervisor serves nothing itself: its children are the workers */
            *(p->role == CX_ROLE_WORKER ? &s.workers : &s.gateways) += 1;
    cx_broker_metrics_state(&s);
}

static int group_has_members(const char *group, void *arg)
{
    return cx_groups_members(arg, group) > 0;
}

/* Held messages past their TTL go, about once a second (a check per group). */
static void expire_history(cx_broker *self)
{
    int64_t now = cx_now_ms();
    if (now - self->history_expired_ms < 1000)
        return;
    self->history_expired_ms = now;
    cx_history_expire(self->history, now, group_has_members, self->groups);
}

int cx_broker_run(cx_broker *self, volatile int *stop)
{
    zmq_pollitem_t items[3] = { { .socket = self->handle, .events = ZMQ_POLLIN },
                                { .socket = self->zap ? cx_zap_socket(self->zap) : NULL, .events = ZMQ_POLLIN } };
    while (!*stop) {
        cx_broker_flush(self);   /* what the last turn sent each peer, one message per peer */
        long timeout = cx_heartbeat_interval_ms() - (cx_now_ms() - self->last_beat);
        if (cx_broker_endings_pending(self))   /* a lost peer's connections: the next slice after a look */
            timeout = 0;
        if (cx_broker_repin_waiting(self) && timeout > 100)
            timeout = 100;   /* a re-pin's timeout (repin.c) */
        int n = self->zap ? 2 : 1;
        if (self->following)   /* a standby: the primary's histories (standby.c) */
            items[n++] = (zmq_pollitem_t) { .socket = cx_broker_standby_socket(self->following), .events = ZMQ_POLLIN };
        if (zmq_poll(items, n, timeout < 0 ? 0 : timeout) < 0 && zmq_errno() != EINTR)
            return -1;
        cx_broker_standby_pump(self);
        /* Only what the poll saw ready is read: an empty read is not free (libzmq checks its mailbox
         * with a poll() and a getpid() each time), and what arrives meanwhile makes the next poll
         * return at once. */
        if (self->zap && (items[1].revents & ZMQ_POLLIN))
            cx_zap_handle(self->zap);
        if (items[0].revents & ZMQ_POLLIN)
            drain(self);
        cx_broker_endings_slice(self);
        if (cx_rebuild_tick(self)) {   /* the window closed: what waited, then what stayed half-known */
            replay_released(self);
            cx_rebuild_end_incomplete(self);
        }
        cx_broker_repin_expire(self);
        cx_broker_heartbeat(self);
        expire_history(self);
        publish_state(self);
    }
    cx_broker_flush(self);
    return 0;
}

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
    self->users = cx_users_new();
    self->routes = cx_route_table_new();
    self->dec = cx_decoder_new();
    self->enc = cx_encoder_new();
    self->bans = cx_bans_new();
    self->rebuild = cx_rebuild_new();
    self->endings = cx_broker_endings_new();
    self->repins = cx_broker_repins_new(self);
    self->presence_pushed = zhashx_new();
    if (self->presence_pushed)
        zhashx_set_destructor(self->presence_pushed, cx_broker_presence_free);
    self->history = cx_history_new((uint32_t) cx_env_long("CHANX_HISTORY_SIZE", 100, 1, 1000000),
                                   (uint32_t) cx_env_long("CHANX_HISTORY_TTL_MS", 300000, 1, 86400000L),
                                   (size_t) cx_env_long("CHANX_HISTORY_MAX_BYTES", 1L << 20, 1024, 1L << 30),
                                   (size_t) cx_env_long("CHANX_HISTORY_TOTAL_MAX_BYTES",
                                                        (long) cx_memory_quarter((size_t) 64 << 20), 1024, LONG_MAX));
    if (!self->router || !self->peers || !self->conns || !self->groups || !self->routes || !self->dec
        || !self->enc || !self->bans || !self->rebuild || !self->users
        || !self->history || !self->presence_pushed || !self->endings || !self->repins) {
        cx_broker_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->peers, cx_broker_peer_free);
    self->handle = zsock_resolve(self->router);
    zsock_set_router_mandatory(self->router, 1);
    zsock_set_sndhwm(self->router, 0);
    zsock_set_rcvhwm(self->router, 0);
    zsock_set_linger(self->router, 0);
    cx_link_limit_messages(self->handle);
    self->batch_max = cx_link_batch_max();
    if (*cx_link_endpoint_hint(endpoint)) {   /* no transport: neither loopback nor network, and ZeroMQ's EINVAL */
        cx_error("cannot bind %s%s", endpoint, cx_link_endpoint_hint(endpoint));
        cx_broker_destroy(&self);
        return NULL;
    }
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
    cx_broker_conn_free(value);
}

int cx_broker_follow(cx_broker *self, const char *primary)
{
    self->following = cx_broker_standby_new(primary);
    return self->following ? 0 : -1;
}

void cx_broker_destroy(cx_broker **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_broker_standby_destroy(&(*self_p)->following);
    cx_broker *self = *self_p;
    if (self->conns)
        cx_idmap_foreach(self->conns, free_conn, NULL);
    cx_idmap_destroy(&self->conns);
    zhashx_destroy(&self->peers);
    cx_broker_endings_destroy(&self->endings);
    cx_groups_destroy(&self->groups);
    cx_history_destroy(&self->history);
    zhashx_destroy(&self->presence_pushed);
    cx_users_destroy(&self->users);
    cx_route_table_destroy(&self->routes);
    cx_decoder_destroy(&self->dec);
    cx_encoder_destroy(&self->enc);
    zsock_destroy(&self->router);
    cx_zap_destroy(&self->zap);
    cx_rebuild_destroy(&self->rebuild);
    cx_broker_repins_destroy(&self->repins);
    cx_bans_destroy(&self->bans);
    free(self);
    *self_p = NULL;
}
