/*
 * link.c — DEALER link to the broker with HELLO and heartbeats (see link.h).
 *
 * Any envelope from the broker counts as a sign of life, so heartbeats only
 * flow when a link is idle in practice. The broker answers an envelope from a
 * peer it does not know with HELLO; the link turns that into
 * CX_LINK_REINTRODUCE rather than handling it itself because only the owner
 * knows what else it must re-send (a worker's routes).
 *
 * A standby broker: CHANX_BROKER may list endpoints separated by commas. The
 * link dials one at a time (a DEALER dialling two would split its envelopes
 * between two brokers); when the current one has been silent for
 * CHANX_FAILOVER_MS (default 2000, under the 3 s the README promises) it
 * hangs up and dials the next, says HELLO there, and cx_link_tick returns 1
 * so the owner re-announces its state to the new broker. What the owner
 * sends meanwhile must not wait in the dead broker's pipe, which dies with
 * the hang-up: with a standby the socket is ZMQ_IMMEDIATE (no pipe without
 * a live connection, so a send says EAGAIN) and the link keeps those
 * envelopes itself, in order, until a broker takes them (the new one holds
 * what arrives before the sender's HELLO: broker/rebuild.c). Past
 * CX_LINK_MAX_BACKLOG bytes cx_link_send fails, and the owner tells the
 * client (a gateway closes it with 1011).
 *
 * Batches (proto/batch.h): the HELLO says the link reads them, and the broker
 * then sends what it has for this peer in one loop turn as one message.
 * cx_link_recv takes a batch apart in order, one envelope per call, each
 * decoded on its own, so a malformed one is dropped alone, as if it had come
 * in a message of its own. The other way, an owner that calls cx_link_batch
 * has what it sends gathered until cx_link_flush (or the next tick, or
 * CX_BATCH_MAX_BYTES), which it calls once per loop turn before it waits:
 * one message, one CURVE box, one hand-off to the I/O thread for the turn.
 * A long turn (a worker draining thousands of envelopes under a sanitizer)
 * must not hold what it sends for long: the broker takes a peer it has not
 * heard from within the heartbeat timeout for dead. So a batch older than
 * CX_LINK_BATCH_MAX_AGE_MS leaves at the next send or receive, whichever
 * comes first: what an unbatched link would have sent at once waits at most
 * that long, or until the turn ends.
 */
#include "common/link.h"
#include "common/curve.h"
#include "common/env.h"
#include "common/log.h"
#include "proto/batch.h"

#include <sched.h>
#include <stdatomic.h>

#define CX_LINK_MAX_BACKLOG (64u * 1024u * 1024u)
#define CX_LINK_BATCH_MAX_AGE_MS 2

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cx_link {
    zsock_t *sock;
    void *handle;          /* the libzmq socket behind sock */
    cx_role role;
    uint32_t hello_flags;  /* HELLO's flags (CX_HELLO_SUPERVISOR) */
    char *node;
    cx_encoder *enc;
    cx_decoder *dec;
    zmq_msg_t msg;         /* the message the last decoded envelope points into */
    int have_msg;
    cx_batch_reader batch; /* the rest of msg when it is a batch */
    int in_batch;
    cx_batch *out;         /* what this loop turn sends, with cx_link_batch on */
    size_t batch_max;      /* cx_link_batch_max() */
    int64_t out_since;     /* when out got its first envelope */
    int64_t last_heard;
    int64_t last_sent;
    int lost;
    char *endpoints[CX_LINK_MAX_ENDPOINTS];
    int nendpoints, current;
    zmq_msg_t *backlog;    /* envelopes no broker could take yet, oldest at head (a ring) */
    size_t head, nbacklog, cap, backlog_bytes;
};

/* Sends what waits, oldest first, until the socket refuses one. */
static void backlog_flush(cx_link *self)
{
    while (self->nbacklog > 0) {
        zmq_msg_t *m = &self->backlog[self->head];
        size_t len = zmq_msg_size(m);
        if (zmq_msg_send(m, self->handle, ZMQ_DONTWAIT) < 0)
            return;
        self->head = (self->head + 1) % self->cap;
        self->nbacklog--;
        self->backlog_bytes -= len;
        self->last_sent = cx_now_ms();
    }
}

static int backlog_push(cx_link *self, const void *data, size_t len)
{
    if (self->backlog_bytes + len > CX_LINK_MAX_BACKLOG)
        return -1;
    if (self->nbacklog == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 256;
        zmq_msg_t *grown = malloc(cap * sizeof *grown);
        if (!grown)
            return -1;
        for (size_t i = 0; i < self->nbacklog; i++)   /* unwrap the ring (zmq_msg_t moves with memcpy) */
            memcpy(&grown[i], &self->backlog[(self->head + i) % self->cap], sizeof *grown);
        free(self->backlog);
        self->backlog = grown;
        self->head = 0;
        self->cap = cap;
    }
    zmq_msg_t *m = &self->backlog[(self->head + self->nbacklog) % self->cap];
    if (zmq_msg_init_size(m, len) != 0)
        return -1;
    memcpy(zmq_msg_data(m), data, len);
    self->nbacklog++;
    self->backlog_bytes += len;
    return 0;
}

int64_t cx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Each process's ZeroMQ I/O thread moves bytes between its sockets and the
 * application thread. With normal scheduling every zmq_send wakes it, and
 * the wake-up preempts the thread that is producing a burst of messages,
 * so it writes them one by one with a context switch each. As SCHED_BATCH
 * it does not preempt: the producer finishes its burst and the I/O thread
 * writes the lot at once. Measured with the three processes on one core
 * (docs/benchmarks.md): echo went from 47k to 83k round trips/s, 20.8 to
 * 12.0 us of CPU per round trip, p99 3.8 to 2.0 ms. The application
 * threads keep normal scheduling, so a waiting client is still served at
 * once. CHANX_ZMQ_BATCH=0 turns it off. */
void cx_zmq_init(void)
{
    zsys_handler_set(NULL);   /* our own SIGINT/SIGTERM handling, not czmq's */
    if (cx_env_flag("CHANX_ZMQ_BATCH", 1))
        zsys_set_thread_sched_policy(SCHED_BATCH);
}

/* A setting read once: the loops of all three processes ask for these on every turn, and a getenv with
 * its parse cost ~700 instructions (a tenth of the worker's work per echo message went here). Relaxed
 * atomics: whichever thread reads it first stores the same value. */
static int setting_once(atomic_int *slot, const char *name, long def, long min, long max)
{
    int v = atomic_load_explicit(slot, memory_order_relaxed);
    if (v == 0) {
        v = (int) cx_env_long(name, def, min, max);
        atomic_store_explicit(slot, v, memory_order_relaxed);
    }
    return v;
}

int cx_heartbeat_interval_ms(void)
{
    static atomic_int ms;
    return setting_once(&ms, "CHANX_HEARTBEAT_MS", 1000, 10, 600000);
}

int cx_heartbeat_timeout_ms(void)
{
    static atomic_int ms;
    return setting_once(&ms, "CHANX_HEARTBEAT_TIMEOUT_MS", 3 * cx_heartbeat_interval_ms(), 20, 3600000);
}

int cx_failover_ms(void)
{
    static atomic_int ms;
    return setting_once(&ms, "CHANX_FAILOVER_MS", 2000, 20, 3600000);
}

cx_link *cx_link_new(const char *endpoint, cx_role role, const char *node)
{
    cx_link *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    for (const char *p = endpoint; *p && self->nendpoints < CX_LINK_MAX_ENDPOINTS;) {
        size_t n = strcspn(p, ", ");
        if (n > 0)
            self->endpoints[self->nendpoints++] = strndup(p, n);
        p += n;
        p += strspn(p, ", ");
    }
    if (self->nendpoints == 0) {
        cx_error("no broker endpoint in '%s'", endpoint);
        free(self);
        return NULL;
    }
    if (self->nendpoints > 1 && cx_failover_ms() < 2 * cx_heartbeat_interval_ms())
        cx_warn("CHANX_FAILOVER_MS (%d) is under two heartbeat intervals (%d ms): a live broker may be "
                "taken for a silent one", cx_failover_ms(), cx_heartbeat_interval_ms());
    self->role = role;
    self->node = strdup(node);
    self->enc = cx_encoder_new();
    self->dec = cx_decoder_new();
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->node || !self->enc || !self->dec || !self->sock) {
        cx_link_destroy(&self);
        return NULL;
    }
    self->handle = zsock_resolve(self->sock);
    zsock_set_identity(self->sock, node);
    zsock_set_sndhwm(self->sock, 0);   /* never drop: backpressure is handled per client at the edge */
    zsock_set_rcvhwm(self->sock, 0);
    zsock_set_linger(self->sock, 200);
    cx_link_limit_messages(self->handle);
    zsock_set_reconnect_ivl(self->sock, 100);
    zsock_set_reconnect_ivl_max(self->sock, 1000);
    if (self->nendpoints > 1)
        zsock_set_immediate(self->sock, 1);   /* see the top: the link keeps what no broker takes */
    /* the key is the role's; role 0 is the broker's own health probe, with the broker's key */
    const char *key_name = role == CX_ROLE_GATEWAY ? "gateway"
                         : role == CX_ROLE_WORKER ? "worker"
                         : role == CX_ROLE_API    ? "api"
                                                  : "broker";
    if (cx_curve_client(self->sock, key_name) < 0) {
        cx_link_destroy(&self);
        return NULL;
    }
    if (zsock_connect(self->sock, "%s", self->endpoints[0]) != 0) {
        cx_error("cannot connect to broker %s: %s%s", self->endpoints[0], zmq_strerror(zmq_errno()),
                 cx_link_endpoint_hint(self->endpoints[0]));
        cx_link_destroy(&self);
        return NULL;
    }
    self->last_heard = cx_now_ms();
    return self;
}

const char *cx_link_endpoint_hint(const char *endpoint)
{
    return strstr(endpoint, "://") ? "" : " (an endpoint is written tcp://HOST:PORT or ipc://PATH)";
}

void cx_link_destroy(cx_link **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_link *self = *self_p;
    if (self->have_msg)
        zmq_msg_close(&self->msg);
    cx_link_flush(self);   /* the last turn's envelopes (a worker's withdrawal) leave within the linger */
    cx_batch_destroy(&self->out);
    for (size_t i = 0; i < self->nbacklog; i++)
        zmq_msg_close(&self->backlog[(self->head + i) % self->cap]);
    free(self->backlog);
    zsock_destroy(&self->sock);
    cx_encoder_destroy(&self->enc);
    cx_decoder_destroy(&self->dec);
    free(self->node);
    for (int i = 0; i < self->nendpoints; i++)
        free(self->endpoints[i]);
    free(self);
    *self_p = NULL;
}

int cx_link_fd(const cx_link *self)
{
    return zsock_fd(self->sock);
}

void *cx_link_socket(const cx_link *self)
{
    return self->handle;
}

/* Sends one ZeroMQ message now, or keeps it behind what waits. */
static int link_write(cx_link *self, const void *data, size_t len)
{
    if (self->nbacklog > 0)
        backlog_flush(self);
    if (self->nbacklog == 0) {   /* order: nothing may overtake what waits */
        if (zmq_send(self->handle, data, len, ZMQ_DONTWAIT) >= 0) {
            self->last_sent = cx_now_ms();
            return 0;
        }
        if (zmq_errno() != EAGAIN)
            return -1;
    }
    if (backlog_push(self, data, len) != 0)
        return -1;
    self->last_sent = cx_now_ms();   /* a heartbeat waits there too: no need for another each tick */
    return 0;
}

int cx_link_batch(cx_link *self)
{
    if (!self->out && !(self->out = cx_batch_new()))
        return -1;
    self->batch_max = cx_link_batch_max();
    return 0;
}

int cx_link_flush(cx_link *self)
{
    if (!self->out || cx_batch_count(self->out) == 0)
        return 0;
    const void *data;
    size_t len;
    cx_batch_message(self->out, &data, &len);
    int rc = link_write(self, data, len);
    cx_batch_clear(self->out);
    return rc;
}

/* See the top: a batch older than CX_LINK_BATCH_MAX_AGE_MS leaves now. */
static int flush_if_old(cx_link *self)
{
    if (!self->out || cx_batch_count(self->out) == 0 || cx_now_ms() - self->out_since < CX_LINK_BATCH_MAX_AGE_MS)
        return 0;
    return cx_link_flush(self);
}

int cx_link_send_raw(cx_link *self, const void *data, size_t len)
{
    if (!self->out)
        return link_write(self, data, len);
    if (self->backlog_bytes + cx_batch_bytes(self->out) + len > CX_LINK_MAX_BACKLOG)
        return -1;
    if (cx_batch_count(self->out) > 0 && cx_batch_bytes(self->out) + CX_BATCH_FRAMING + len > self->batch_max
        && cx_link_flush(self) != 0)
        return -1;
    if (cx_batch_count(self->out) == 0)
        self->out_since = cx_now_ms();
    if (cx_batch_add(self->out, data, len) != 0)
        return -1;
    return flush_if_old(self);
}

int cx_link_send(cx_link *self, const cx_env *env)
{
    const char *data;
    size_t len;
    if (cx_encoder_encode(self->enc, env, &data, &len) != 0)
        return -1;
    return cx_link_send_raw(self, data, len);
}

int cx_link_hello(cx_link *self)
{
    cx_env hello = {
        .type = CX_ENV_HELLO,
        .role = (uint8_t) self->role,
        .pid = (uint64_t) getpid(),
        .node = cx_slice_of(self->node),
        .flags = self->hello_flags | CX_HELLO_READS_BATCH | CX_HELLO_READS_QUARANTINE,   /* what proto/ decodes */
    };
    return cx_link_send(self, &hello);
}

void cx_link_set_hello_flags(cx_link *self, uint32_t flags)
{
    self->hello_flags = flags;
}

/* The next envelope's bytes: the rest of a batch first, then a new message (a batch, or one envelope). */
static int next_envelope(cx_link *self, const void **data, size_t *len)
{
    for (;;) {
        if (self->in_batch) {
            int r = cx_batch_next(&self->batch, data, len);
            if (r == 1)
                return 1;
            self->in_batch = 0;
            if (r < 0)
                cx_warn("dropped the rest of a batch from the broker: broken framing");
        }
        if (self->have_msg)
            zmq_msg_close(&self->msg);
        zmq_msg_init(&self->msg);
        self->have_msg = 1;
        if (zmq_msg_recv(&self->msg, self->handle, ZMQ_DONTWAIT) < 0)
            return 0;
        self->last_heard = cx_now_ms();
        self->lost = 0;
        *data = zmq_msg_data(&self->msg);
        *len = zmq_msg_size(&self->msg);
        if (!cx_batch_open(&self->batch, *data, *len))
            return 1;
        self->in_batch = 1;
    }
}

cx_link_event cx_link_recv(cx_link *self, cx_env *env)
{
    const void *data;
    size_t len;
    flush_if_old(self);
    while (next_envelope(self, &data, &len)) {
        if (cx_decoder_decode(self->dec, data, len, env) != 0) {
            cx_warn("dropped a malformed envelope from the broker: %s", cx_decoder_error(self->dec));
            continue;
        }
        if (env->type == CX_ENV_HEARTBEAT)
            continue;
        if (env->type == CX_ENV_HELLO)
            return CX_LINK_REINTRODUCE;
        return CX_LINK_ENVELOPE;
    }
    return CX_LINK_NONE;
}

int cx_link_tick(cx_link *self)
{
    cx_link_flush(self);
    if (self->nbacklog > 0)
        backlog_flush(self);
    int64_t now = cx_now_ms();
    if (now - self->last_sent >= cx_heartbeat_interval_ms()) {
        cx_env hb = { .type = CX_ENV_HEARTBEAT };
        cx_link_send(self, &hb);
    }
    if (self->nendpoints > 1 && now - self->last_heard > cx_failover_ms()) {
        /* the next broker; what was queued for the silent one is dropped with its pipe */
        zsock_disconnect(self->sock, "%s", self->endpoints[self->current]);
        self->current = (self->current + 1) % self->nendpoints;
        zsock_connect(self->sock, "%s", self->endpoints[self->current]);
        cx_warn("broker silent for %d ms: failing over to %s", cx_failover_ms(), self->endpoints[self->current]);
        self->last_heard = now;
        self->lost = 1;
        cx_link_hello(self);
        return 1;
    }
    if (!self->lost && now - self->last_heard > cx_heartbeat_timeout_ms()) {
        self->lost = 1;
        cx_warn("broker silent for %d ms; introducing ourselves again", cx_heartbeat_timeout_ms());
        cx_link_hello(self);
        return 1;
    }
    return 0;
}

int cx_link_alive(const cx_link *self)
{
    return !self->lost;
}

int cx_link_next_tick_ms(const cx_link *self)
{
    if (self->out && cx_batch_count(self->out) > 0)
        return 0;    /* a batch is waiting for the flush */
    if (self->nbacklog > 0)
        return 20;   /* a broker may take the backlog any moment: retry soon */
    int64_t due = self->last_sent + cx_heartbeat_interval_ms() - cx_now_ms();
    return due < 0 ? 0 : (int) due;
}

static int64_t link_max_message_bytes(void)
{
    return cx_env_long("CHANX_LINK_MAX_MESSAGE_BYTES", CX_PROTO_MAX_ENVELOPE, 4096, 1L << 31);
}

size_t cx_link_batch_max(void)
{
    int64_t max = link_max_message_bytes();
    return max < (int64_t) CX_BATCH_MAX_BYTES ? (size_t) max : CX_BATCH_MAX_BYTES;
}

void cx_link_limit_messages(void *zmq_socket)
{
    int64_t max = link_max_message_bytes();
    zmq_setsockopt(zmq_socket, ZMQ_MAXMSGSIZE, &max, sizeof max);
}
