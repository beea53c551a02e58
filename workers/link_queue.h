/*
 * link_queue.h — what pool threads hand to the link thread.
 *
 * ZeroMQ sockets are not thread-safe, and the worker's one broker socket
 * lives on the link thread. Pool threads never touch it: everything they
 * want from the link thread goes through this queue, in one FIFO for all of
 * them, so what one actor queued on thread A (a send) stays ahead of what it
 * queues later on thread B. (A ZeroMQ inproc socket per thread would
 * fair-queue between threads and could swap an actor's messages when it
 * moves from one thread to the next.) The link thread polls the queue's fd
 * (an eventfd, written only when the queue goes from empty to non-empty) and
 * takes the whole list at once.
 *
 * Items are commands: an encoded envelope to send, an actor that finished,
 * a timer to arm or cancel, a group membership to note. The link thread owns every item it takes.
 */
#ifndef CX_WORKERS_LINK_QUEUE_H
#define CX_WORKERS_LINK_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CX_LQ_ENVELOPE,      /* data/len: an encoded envelope for the broker */
    CX_LQ_ACTOR_DONE,    /* ptr: a cx_actor whose DISCONNECT was handled; the link thread frees it */
    CX_LQ_TIMER_ADD,     /* ptr: a cx_timer (workers/timers.h) to arm */
    CX_LQ_TIMER_CANCEL,  /* id: a timer to cancel */
    CX_LQ_GROUP_JOIN,    /* id: a connection, data/len: a cx_membership_terms, then a group it joined
                          * (workers/memberships.h) */
    CX_LQ_GROUP_LEAVE,   /* id: a connection, data/len: a group it left */
} cx_lq_kind;

typedef struct cx_lq_item {
    struct cx_lq_item *next;
    cx_lq_kind kind;
    void *ptr;
    uint64_t id;
    size_t len;
    char data[];
} cx_lq_item;

typedef struct cx_link_queue cx_link_queue;

cx_link_queue *cx_link_queue_new(void);
void cx_link_queue_destroy(cx_link_queue **self_p);
/* The fd to poll for input (readable when items are waiting). */
int cx_link_queue_fd(const cx_link_queue *self);
/* Any thread. Allocates an item with room for len bytes of data (copied when data is not NULL). */
cx_lq_item *cx_lq_item_new(cx_lq_kind kind, void *ptr, uint64_t id, const void *data, size_t len);
/* Any thread; takes the item. */
void cx_link_queue_push(cx_link_queue *self, cx_lq_item *item);
/* Link thread: every waiting item, oldest first, as a list the caller frees (NULL when empty). */
cx_lq_item *cx_link_queue_take(cx_link_queue *self);

#endif
