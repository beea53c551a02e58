/*
 * replay_queue.h — envelopes held back, to be handled later in arrival order.
 *
 * The broker sometimes cannot handle an envelope when it arrives: a peer
 * spoke before introducing itself, or a restarted broker is still learning
 * its connections back (rebuild.c). Such envelopes wait here as received
 * (routing id + body; the body is a refcounted copy, its bytes are not
 * copied) and are later handed, in order, to whoever replays them (broker.c
 * through the dispatch). One class for every such wait, so that the rule
 * "held traffic is replayed in the order it arrived" lives in one place.
 * The queue sets no bound: its owner decides how much may wait.
 */
#ifndef CX_BROKER_REPLAY_QUEUE_H
#define CX_BROKER_REPLAY_QUEUE_H

#include <stddef.h>
#include <zmq.h>

typedef struct cx_replay_queue cx_replay_queue;

/* What ZAP said of the ZeroMQ message an envelope came in (both NULL without CURVE): the name of its
 * key's role (User-Id) and the key itself (CX_ZAP_KEY_PROPERTY). Kept beside the envelope because one
 * taken out of a batch (proto/batch.h) has no metadata of its own. */
typedef struct {
    const char *role;
    const char *key;
} cx_sender;

cx_replay_queue *cx_replay_queue_new(void);
/* Closes the messages still queued. */
void cx_replay_queue_destroy(cx_replay_queue **self_p);
/* Appends body (a refcounted copy: the caller's msg stays its own) from routing id (a C string of at
 * most 255 bytes, copied) and from (copied). 0, or -1 when out of memory. */
int cx_replay_queue_push(cx_replay_queue *self, const char *id, zmq_msg_t *body, const cx_sender *from);
/* Moves every item of src to the end of self, in order; src is left empty. 0, or -1 when out of
 * memory (both unchanged). */
int cx_replay_queue_append(cx_replay_queue *self, cx_replay_queue *src);
size_t cx_replay_queue_size(const cx_replay_queue *self);
/* The bytes of its messages (what holding them costs, for its owner's bounds). */
size_t cx_replay_queue_bytes(const cx_replay_queue *self);
/* The i-th item (i < size): its sender's routing id and its body, owned by the queue. */
const char *cx_replay_queue_id(const cx_replay_queue *self, size_t i);
zmq_msg_t *cx_replay_queue_msg(cx_replay_queue *self, size_t i);
/* The i-th item's sender, as pushed (pointers into the queue). */
cx_sender cx_replay_queue_sender(const cx_replay_queue *self, size_t i);

#endif
