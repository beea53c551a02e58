/*
 * inflight.c — a connection's unhandled RECEIVEs (see inflight.h).
 *
 * A ring of (number, message): pushed at the back as the broker forwards,
 * released from the front as ACKs come, so both ends are O(1) and a busy
 * connection allocates nothing once its ring has grown to its working size.
 */
#include "broker/inflight.h"

#include <stdlib.h>

typedef struct {
    uint64_t n;        /* its place since the pin */
    zmq_msg_t msg;
} item;

struct cx_inflight {
    item *ring;
    size_t cap, head, size;
    size_t bytes;
    uint64_t forwarded;   /* RECEIVEs numbered since the pin */
    uint64_t hole;        /* the last one not kept (0: none unhandled) */
};

cx_inflight *cx_inflight_new(void)
{
    return calloc(1, sizeof(cx_inflight));
}

static item *at(cx_inflight *self, size_t i)
{
    return &self->ring[(self->head + i) & (self->cap - 1)];   /* cap: a power of two */
}

void cx_inflight_reset(cx_inflight *self)
{
    for (size_t i = 0; i < self->size; i++)
        zmq_msg_close(&at(self, i)->msg);
    self->head = self->size = self->bytes = 0;
    self->forwarded = self->hole = 0;
}

void cx_inflight_destroy(cx_inflight **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_inflight_reset(*self_p);
    free((*self_p)->ring);
    free(*self_p);
    *self_p = NULL;
}

/* Room for one more: the ring doubles, its items moved to the front in order. */
static int grow(cx_inflight *self)
{
    if (self->size < self->cap)
        return 0;
    size_t cap = self->cap ? 2 * self->cap : 8;
    item *ring = malloc(cap * sizeof *ring);
    if (!ring)
        return -1;
    for (size_t i = 0; i < self->size; i++) {
        ring[i].n = at(self, i)->n;
        zmq_msg_init(&ring[i].msg);
        zmq_msg_move(&ring[i].msg, &at(self, i)->msg);
    }
    free(self->ring);
    self->ring = ring;
    self->cap = cap;
    self->head = 0;
    return 0;
}

int cx_inflight_push(cx_inflight *self, zmq_msg_t *msg, size_t max_messages, size_t max_bytes)
{
    uint64_t n = ++self->forwarded;
    if (self->size >= max_messages || self->bytes + zmq_msg_size(msg) > max_bytes) {
        self->hole = n;
        return 1;
    }
    if (grow(self) != 0) {
        self->hole = n;
        return -1;
    }
    item *it = at(self, self->size++);
    it->n = n;
    zmq_msg_init(&it->msg);
    zmq_msg_copy(&it->msg, msg);
    self->bytes += zmq_msg_size(msg);
    return 0;
}

void cx_inflight_handled(cx_inflight *self, uint64_t handled)
{
    while (self->size && self->ring[self->head].n <= handled) {
        item *it = &self->ring[self->head];
        self->bytes -= zmq_msg_size(&it->msg);
        zmq_msg_close(&it->msg);
        self->head = (self->head + 1) & (self->cap - 1);
        self->size--;
    }
    if (self->hole && self->hole <= handled)
        self->hole = 0;
}

size_t cx_inflight_size(const cx_inflight *self)
{
    return self->size;
}

zmq_msg_t *cx_inflight_msg(cx_inflight *self, size_t i)
{
    return &at(self, i)->msg;
}

int cx_inflight_has_hole(const cx_inflight *self)
{
    return self->hole != 0;
}
