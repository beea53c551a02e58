/*
 * inflight.h — a connection's RECEIVEs its worker has not handled yet.
 *
 * A worker process can die with messages in it: queued in the connection's
 * mailbox or being handled. So that its innocent connections lose none of
 * them (repin.c replays them to the new consumer, once, in order), the
 * broker keeps each RECEIVE it forwards to a worker that acknowledges
 * (HELLO flag CX_HELLO_ACKS) until that worker says the consumer has handled
 * it (ACK); an ANSWER travels the same path and counts as one. A RECEIVE
 * is numbered by its place since the connection was pinned (1, 2, ...),
 * the count the worker's actor keeps of the RECEIVEs it delivered, so no id
 * travels in the envelope. (After a broker restart the connections its
 * peers re-announce were pinned by another broker: the counts differ, and
 * conns.c keeps nothing for them.) What is kept is a refcounted copy of the
 * received message (zmq_msg_copy: no byte copy), in a ring.
 *
 * The bound (CHANX_REPIN_MAX_MESSAGES / _BYTES, the owner passes it) caps
 * what one connection pins in memory: past it a RECEIVE is forwarded but not
 * kept, and the queue says it lost track until the worker has handled
 * everything up to that one (a crash meanwhile cannot replay it: the owner
 * closes the connection rather than re-pin it with a hole).
 */
#ifndef CX_BROKER_INFLIGHT_H
#define CX_BROKER_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct cx_inflight cx_inflight;

cx_inflight *cx_inflight_new(void);
/* Closes the messages still kept. */
void cx_inflight_destroy(cx_inflight **self_p);
/* The next RECEIVE forwarded (msg stays the caller's: a refcounted copy is kept), unless that would pass
 * max_messages or max_bytes kept. 0 kept, 1 not kept (the queue has a hole), -1 out of memory (a hole too). */
int cx_inflight_push(cx_inflight *self, zmq_msg_t *msg, size_t max_messages, size_t max_bytes);
/* The worker has handled the first `handled` RECEIVEs since the pin: they are released. */
void cx_inflight_handled(cx_inflight *self, uint64_t handled);
/* How many are kept, and the i-th oldest (owned by the queue). */
size_t cx_inflight_size(const cx_inflight *self);
zmq_msg_t *cx_inflight_msg(cx_inflight *self, size_t i);
/* Whether a RECEIVE not handled yet was not kept (past the bound). */
int cx_inflight_has_hole(const cx_inflight *self);
/* A new pin: everything released, numbering from 1 again. */
void cx_inflight_reset(cx_inflight *self);

#endif
