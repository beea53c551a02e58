/*
 * outbox.h — the way out of a connection's callbacks: envelopes to the
 * broker and commands to the link thread, from whatever thread the caller is on.
 *
 * ZeroMQ sockets are not thread-safe and the broker socket lives on the link
 * thread. On the link thread an envelope goes straight to the link; on a
 * pool thread it is encoded there (each pool thread has its own encoder) and
 * queued to the link thread (workers/link_queue.h), behind everything that
 * thread queued before, which is what keeps one connection's sends in order.
 * GROUP_ADD and GROUP_DISCARD are noted in the link thread's membership index
 * (workers/memberships.h) as they pass, ahead of the envelope itself, so the
 * index never lags behind what the broker was told.
 *
 * The worker (worker.c) owns the outbox and hands it down to every
 * connection (workers/services.h); the plugin API (send.c, timer_api.c)
 * calls down into it and never up into the worker.
 *
 * Threading: cx_outbox_send and cx_outbox_post on any thread;
 * cx_outbox_thread_hook is the scheduler's thread hook (workers/scheduler.h):
 * it marks the calling thread as a pool thread and gives it its encoder.
 */
#ifndef CX_WORKERS_OUTBOX_H
#define CX_WORKERS_OUTBOX_H

#include "common/link.h"
#include "proto/envelope.h"
#include "workers/link_queue.h"
#include "workers/memberships.h"

typedef struct cx_outbox cx_outbox;

/* Borrows link, queue and members: they outlive the outbox. NULL when out of memory. */
cx_outbox *cx_outbox_new(cx_link *link, cx_link_queue *queue, cx_memberships *members);
void cx_outbox_destroy(cx_outbox **self_p);
/* Sends env to the broker (directly on the link thread, encoded and queued on a pool thread).
 * 0, or -1 when it could not be encoded or queued (out of memory) or the link refused it. */
int cx_outbox_send(cx_outbox *self, const cx_env *env);
/* Queues a command to the link thread; takes item. */
void cx_outbox_post(cx_outbox *self, cx_lq_item *item);
/* The scheduler's thread hook: starting 1 when a pool thread starts, 0 when it ends. */
void cx_outbox_thread_hook(int starting);
/* Whether the calling thread is a pool thread (a call that waits for the link thread must be). */
int cx_outbox_on_pool_thread(void);

#endif
