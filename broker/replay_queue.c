/*
 * replay_queue.c — envelopes held back, in arrival order (see replay_queue.h).
 *
 * A growable array of (routing id, message): items are only ever appended
 * and read front to back, and the whole queue is handed over or destroyed
 * at once, so an array is the cheapest shape (no per-item allocation beyond
 * ZeroMQ's refcount).
 */
#include "broker/replay_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char id[256];   /* a ZeroMQ routing id is at most 255 bytes */
    char role[32], key[48];   /* cx_sender: a role's name, a Z85 key (40); "" on plain links */
    int curve;                /* whether from held anything (NULL pointers otherwise) */
    zmq_msg_t msg;
} item;

struct cx_replay_queue {
    item *items;
    size_t n, cap;
    size_t bytes;   /* of the messages */
};

cx_replay_queue *cx_replay_queue_new(void)
{
    return calloc(1, sizeof(cx_replay_queue));
}

void cx_replay_queue_destroy(cx_replay_queue **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_replay_queue *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        zmq_msg_close(&self->items[i].msg);
    free(self->items);
    free(self);
    *self_p = NULL;
}

static int reserve(cx_replay_queue *self, size_t need)
{
    if (need <= self->cap)
        return 0;
    size_t cap = self->cap ? 2 * self->cap : 64;
    while (cap < need)
        cap *= 2;
    item *grown = realloc(self->items, cap * sizeof *grown);
    if (!grown)
        return -1;
    self->items = grown;
    self->cap = cap;
    return 0;
}

int cx_replay_queue_push(cx_replay_queue *self, const char *id, zmq_msg_t *body, const cx_sender *from)
{
    if (reserve(self, self->n + 1) != 0)
        return -1;
    item *it = &self->items[self->n++];
    snprintf(it->id, sizeof it->id, "%s", id);
    it->curve = from && (from->role || from->key);
    snprintf(it->role, sizeof it->role, "%s", from && from->role ? from->role : "");
    snprintf(it->key, sizeof it->key, "%s", from && from->key ? from->key : "");
    zmq_msg_init(&it->msg);
    zmq_msg_copy(&it->msg, body);
    self->bytes += zmq_msg_size(body);
    return 0;
}

int cx_replay_queue_append(cx_replay_queue *self, cx_replay_queue *src)
{
    if (reserve(self, self->n + src->n) != 0)
        return -1;
    for (size_t i = 0; i < src->n; i++) {
        item *to = &self->items[self->n + i];
        memcpy(to->id, src->items[i].id, sizeof to->id);
        memcpy(to->role, src->items[i].role, sizeof to->role);
        memcpy(to->key, src->items[i].key, sizeof to->key);
        to->curve = src->items[i].curve;
        zmq_msg_init(&to->msg);
        zmq_msg_move(&to->msg, &src->items[i].msg);
        zmq_msg_close(&src->items[i].msg);
    }
    self->n += src->n;
    self->bytes += src->bytes;
    src->n = 0;
    src->bytes = 0;
    return 0;
}

size_t cx_replay_queue_size(const cx_replay_queue *self)
{
    return self->n;
}

size_t cx_replay_queue_bytes(const cx_replay_queue *self)
{
    return self->bytes;
}

const char *cx_replay_queue_id(const cx_replay_queue *self, size_t i)
{
    return self->items[i].id;
}

zmq_msg_t *cx_replay_queue_msg(cx_replay_queue *self, size_t i)
{
    return &self->items[i].msg;
}

cx_sender cx_replay_queue_sender(const cx_replay_queue *self, size_t i)
{
    const item *it = &self->items[i];
    cx_sender from = { it->curve ? it->role : NULL, it->curve ? it->key : NULL };
    return from;
}
