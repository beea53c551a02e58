/*
 * actor.h — a connection's consumer instance as an actor: a chanx_ctx plus
 * a bounded mailbox, run by the scheduler (workers/scheduler.h).
 *
 * The link thread posts mail (workers/mail.h); the first mail that finds
 * the actor idle schedules it, and a pool thread then handles the mailbox in
 * arrival order until it is empty. An actor is in the run queue or running
 * at most once, so it runs on at most one thread at a time, and its
 * callbacks never overlap: the guarantees of include/chanx/consumer.h.
 *
 * Lifetime: created by the link thread on CONNECT; after it handles
 * DISCONNECT, the pool thread hands it back to the link thread with a
 * CX_LQ_ACTOR_DONE item (behind every send it made), and only the link
 * thread destroys it and its context, and releases the plugin. So a plugin
 * replaced on disk is unloaded only once no thread can be inside its code.
 *
 * Threading: new, post, destroy and the overflow mark belong to the link
 * thread; cx_actor_run to pool threads.
 */
#ifndef CX_WORKERS_ACTOR_H
#define CX_WORKERS_ACTOR_H

#include <stddef.h>
#include "workers/context.h"
#include "workers/link_queue.h"
#include "workers/mail.h"
#include "workers/scheduler.h"

typedef struct cx_actor cx_actor;

/* The actor takes ctx (destroy it with cx_actor_ctx before cx_actor_destroy). mailbox_max bounds
 * the mail that counts (cx_mail_counts). */
cx_actor *cx_actor_new(chanx_ctx *ctx, cx_scheduler *scheduler, cx_link_queue *done_queue, size_t mailbox_max);
void cx_actor_destroy(cx_actor **self_p);
chanx_ctx *cx_actor_ctx(const cx_actor *self);

/* A mail with len bytes of text copied in (text may be NULL). NULL when out of memory. */
cx_mail *cx_mail_new(cx_mail_kind kind, const char *text, size_t len);
/* Takes mail. Returns 0, or -1 when it was dropped: the mailbox is full (for mail that counts) or
 * the actor has handled DISCONNECT. */
int cx_actor_post(cx_actor *self, cx_mail *mail);
/* Link thread: marks the actor as closed for overflow; returns 1 the first time. From then on the
 * link thread posts it nothing but DISCONNECT, so what its consumer handled stays a gap-free prefix. */
int cx_actor_mark_overflow(cx_actor *self);
int cx_actor_overflowed(const cx_actor *self);
/* Link thread: one more event refused for this connection (a full mailbox, or after the overflow
 * mark), and how many so far: the connection's own count, for its log record. */
void cx_actor_count_dropped_event(cx_actor *self);
size_t cx_actor_dropped_events(const cx_actor *self);
/* Link thread, CHANX_EVENT_OVERFLOW=notify: the connection stays and its client is told. Adds one to
 * the drops not yet told, and returns 1 when no DROPPED mail is waiting to tell them: post one. */
int cx_actor_note_unreported(cx_actor *self);

/* The scheduler's run function (see cx_scheduler_new). */
void cx_actor_run(cx_sched_node *node);
/* Link thread, for its CX_LQ_HANDLED item (ptr: the actor): how many RECEIVEs the consumer has handled
 * (the broker's ACK). The item is the actor's: the link thread does not free it. */
uint64_t cx_actor_take_handled(cx_actor *self);

#endif
