/*
 * send.c — what the broker sends, and how.
 *
 * Everything leaves through the one ROUTER socket as [peer identity][body],
 * never blocking (ZMQ_DONTWAIT, router_mandatory: a peer that is gone is an
 * error here, not a silent drop). Forwarding reuses the received zmq_msg_t
 * (a refcounted copy), so a frame's bytes are never copied by the broker;
 * only envelopes the broker makes itself (HELLO, CLOSE, DISCONNECT, ROUTES,
 * RESULT, HEARTBEAT, one EVENT per connection) are encoded here. The bottom
 * of the broker's layers: it knows a peer only by its routing id, and calls
 * no other file of broker/.
 *
 * Batches (proto/batch.h): to a peer whose HELLO said it reads them, what
 * one loop turn sends it is gathered (copied: a small envelope costs a
 * memcpy, its own CURVE box ~4,000 instructions) and leaves as one message
 * when the loop flushes, before it waits again (broker.c) or before the peer
 * is removed (peers.c), so the order between envelopes to one peer is kept.
 * A peer that is gone (lost, its connections ending in slices: endings.c)
 * is sent nothing: its routing id may already be a new process's.
 */
#include "broker/broker_internal.h"
#include "common/log.h"
#include "proto/envelope.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

static int send_now(cx_broker *self, const cx_broker_peer *p, zmq_msg_t *body)
{
    if (zmq_send(self->handle, p->id, p->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_msg_send(body, self->handle, ZMQ_DONTWAIT) < 0) {
        cx_debug("cannot send to %s: %s", p->id, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

static int send_bytes(cx_broker *self, const cx_broker_peer *p, const void *data, size_t len)
{
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, len) != 0)
        return -1;
    memcpy(zmq_msg_data(&msg), data, len);
    if (send_now(self, p, &msg) < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    return 0;
}

void cx_broker_flush_peer(cx_broker *self, const cx_broker_peer *p)
{
    if (!p->out || cx_batch_count(p->out) == 0)
        return;
    const void *data;
    size_t len;
    cx_batch_message(p->out, &data, &len);
    send_bytes(self, p, data, len);
    cx_batch_clear(p->out);
}

void cx_broker_flush(cx_broker *self)
{
    for (cx_broker_peer *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers))
        cx_broker_flush_peer(self, p);
}

/* Sends p's batch first when len more bytes would make it a message bigger than the links take. */
static void make_room(cx_broker *self, const cx_broker_peer *p, size_t len)
{
    if (cx_batch_count(p->out) > 0 && cx_batch_bytes(p->out) + CX_BATCH_FRAMING + len > self->batch_max)
        cx_broker_flush_peer(self, p);
}

/* Sends body to p (taking it), or adds its bytes to p's batch (closing it). 0, or -1 with body still the
 * caller's. */
static int send_to(cx_broker *self, const cx_broker_peer *p, zmq_msg_t *body)
{
    if (!p->out)
        return send_now(self, p, body);
    size_t len = zmq_msg_size(body);
    make_room(self, p, len);
    if (cx_batch_add(p->out, zmq_msg_data(body), len) != 0)
        return -1;
    zmq_msg_close(body);
    return 0;
}

/* Forwards the received body; msg stays usable by the caller (refcounted copy). */
void cx_broker_forward(cx_broker *self, const cx_broker_peer *p, zmq_msg_t *msg)
{
    if (p->gone)   /* lost, its connections ending (endings.c): a new process under its id is another peer */
        return;
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, msg);
    if (send_to(self, p, &copy) < 0)
        zmq_msg_close(&copy);
}

int cx_broker_encode_msg(cx_broker *self, const cx_env *env, zmq_msg_t *out)
{
    const char *data;
    size_t len;
    if (cx_encoder_encode(self->enc, env, &data, &len) != 0 || zmq_msg_init_size(out, len) != 0)
        return -1;
    memcpy(zmq_msg_data(out), data, len);
    return 0;
}

void cx_broker_send_env(cx_broker *self, const cx_broker_peer *p, const cx_env *env)
{
    const char *data;
    size_t len;
    if (p->gone || cx_encoder_encode(self->enc, env, &data, &len) != 0)
        return;
    if (p->out) {
        make_room(self, p, len);
        cx_batch_add(p->out, data, len);
    } else {
        send_bytes(self, p, data, len);
    }
}

void cx_broker_send_identity_request(cx_broker *self, const char *id, size_t idlen)
{
    cx_broker_peer stranger = { .idlen = idlen };
    memcpy(stranger.id, id, idlen);
    cx_env hello = { .type = CX_ENV_HELLO, .role = 0, .node = cx_slice_of("broker") };
    cx_broker_send_env(self, &stranger, &hello);
}

void cx_broker_close_at_gateway(cx_broker *self, const cx_broker_peer *gateway, uint64_t id, uint32_t code,
                                const char *reason)
{
    cx_env close = { .type = CX_ENV_CLOSE, .conn = id, .code = code, .text = cx_slice_of(reason) };
    cx_broker_send_env(self, gateway, &close);
}

/* cx_groups_gateways callback: forwards the message to one more peer (arg is a cx_broker_fanout). */
void cx_broker_fanout_forward(void *peer, void *arg)
{
    cx_broker_fanout *f = arg;
    const cx_broker_peer *p = peer;
    cx_broker_forward(f->self, p, f->msg);
    f->peers += !p->gone;
}

