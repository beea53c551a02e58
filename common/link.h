/*
 * link.h — a gateway's or worker's connection to the broker.
 *
 * Both kinds of peer talk to the broker the same way: a DEALER socket whose
 * routing id is the peer's node name, a HELLO on connect, a HEARTBEAT every
 * interval, and envelopes both ways. The link also notices a silent broker
 * (no traffic for the timeout; with a standby listed, it then dials the
 * next endpoint) and a broker that asks "who are you?" after a restart, and
 * says so through cx_link_recv's or cx_link_tick's return so the owner can
 * introduce itself again (HELLO, a worker's REGISTER, RESUME for every
 * connection it holds). With keys configured the link is CURVE (curve.h).
 *
 * The socket is non-blocking on both sides: cx_link_recv never waits, and
 * cx_link_fd() is ZeroMQ's notification fd for the owner's event loop (edge
 * semantics: after it fires, call cx_link_recv until it returns 0).
 */
#ifndef CX_COMMON_LINK_H
#define CX_COMMON_LINK_H

#include <stdint.h>
#include "proto/envelope.h"

typedef struct cx_link cx_link;

typedef enum {
    CX_LINK_NONE = 0,      /* nothing (more) to read */
    CX_LINK_ENVELOPE,      /* *env holds an envelope */
    CX_LINK_REINTRODUCE,   /* the broker does not know us (restarted or timed us out) */
} cx_link_event;

/* The broker's endpoint when CHANX_BROKER does not say: what it binds and the others dial. */
#define CX_DEFAULT_BROKER "tcp://127.0.0.1:5555"

#define CX_LINK_MAX_ENDPOINTS 4

/* endpoint: CX_DEFAULT_BROKER or CHANX_BROKER, one endpoint or several separated by commas (a primary
 * and its standbys, dialled one at a time); node is the peer's unique name. */
cx_link *cx_link_new(const char *endpoint, cx_role role, const char *node);
/* For a ZeroMQ error about endpoint: " (an endpoint is written tcp://HOST:PORT or ipc://PATH)" when it
 * names no transport ("127.0.0.1:5555", which ZeroMQ only calls "Invalid argument"), else "". Static text. */
const char *cx_link_endpoint_hint(const char *endpoint);
void cx_link_destroy(cx_link **self_p);
int cx_link_fd(const cx_link *self);
/* The libzmq socket, for zmq_poll in loops that ZeroMQ drives. */
void *cx_link_socket(const cx_link *self);
/* Encodes and sends; 0 on success, -1 when the envelope cannot be encoded or queued. */
int cx_link_send(cx_link *self, const cx_env *env);
/* Sends bytes that are already an encoded envelope. */
int cx_link_send_raw(cx_link *self, const void *data, size_t len);
/* From now on what is sent is gathered into one message (proto/batch.h) until cx_link_flush, which the
 * owner calls once per loop turn before it waits (cx_link_tick flushes too, cx_link_next_tick_ms says 0
 * while a batch waits, and a batch 2 ms old leaves at the next send or receive). A batch needs a broker of this version or later: upgrade the broker
 * first. 0, or -1 without memory. */
int cx_link_batch(cx_link *self);
/* Sends the gathered batch as one message; 0, or -1 as cx_link_send. */
int cx_link_flush(cx_link *self);
/* Reads one envelope if one is waiting. env is valid until the next call. */
cx_link_event cx_link_recv(cx_link *self, cx_env *env);
/* Sends HELLO now. */
int cx_link_hello(cx_link *self);
/* The flags every HELLO of this link carries from now on (CX_HELLO_SUPERVISOR); 0 by default. */
void cx_link_set_hello_flags(cx_link *self, uint32_t flags);
/* Sends a HEARTBEAT when due; returns 1 when the broker has been silent past the timeout
 * (the link then re-sends HELLO by itself, and the owner should re-register). */
int cx_link_tick(cx_link *self);
/* Whether the broker has been heard from within the timeout. */
int cx_link_alive(const cx_link *self);
/* Milliseconds until the next tick is due (for poll timeouts). */
int cx_link_next_tick_ms(const cx_link *self);

/* Heartbeat interval and timeout, from CHANX_HEARTBEAT_MS / CHANX_HEARTBEAT_TIMEOUT_MS. */
/* Process-wide ZeroMQ settings every process (broker included) applies
 * before its first socket: see link.c for why the I/O threads run as batch. */
void cx_zmq_init(void);
/* ZMQ_MAXMSGSIZE for a link socket (both ends): CHANX_LINK_MAX_MESSAGE_BYTES, default the largest
 * envelope (CX_PROTO_MAX_ENVELOPE). libzmq drops a connection that sends a bigger message before
 * any of it is buffered, so no peer, admitted or not, makes the other end hold more. */
void cx_link_limit_messages(void *zmq_socket);
/* The most a batch may hold (bytes, framing included): CX_BATCH_MAX_BYTES, or less when
 * CHANX_LINK_MAX_MESSAGE_BYTES is less, so no batch is a message the other end refuses. */
size_t cx_link_batch_max(void);

/* CHANX_HEARTBEAT_MS and CHANX_HEARTBEAT_TIMEOUT_MS (these three are read from the environment once, at
 * the first call: start-up settings). */
int cx_heartbeat_interval_ms(void);
int cx_heartbeat_timeout_ms(void);
/* How long the current broker may be silent before the link dials the next one (CHANX_FAILOVER_MS). */
int cx_failover_ms(void);
int64_t cx_now_ms(void);

#endif
