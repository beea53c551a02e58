/*
 * actor.c — mailbox and run loop of a connection actor (see actor.h).
 *
 * The mailbox is a linked list under the actor's own mutex; `scheduled` says
 * the actor is in the run queue or on a thread, and only the poster that
 * finds it clear pushes it, which is what keeps one actor on one thread.
 * A run handles at most BATCH mails and then goes to the back of the run
 * queue, so a connection flooding its consumer shares the threads fairly.
 * Mail is handled with the lock released: a slow callback never blocks the
 * link thread's posts, only fills the mailbox, whose bound (CHANX_MAILBOX_MAX)
 * the link thread enforces by closing the connection with 1013.
 */
#include "workers/actor.h"
#include "workers/events.h"
#include "common/invariant.h"
#include "common/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 32

struct cx_actor {
    cx_sched_node node;        /* first: the scheduler hands this back */
    pthread_mutex_t lock;
    cx_mail *head, *tail;      /* under lock */
    size_t count;              /* mail that counts against max; under lock */
    int scheduled;             /* in the run queue or running; under lock */
    int finished;              /* DISCONNECT handled; under lock */
    size_t max;
    chanx_ctx *ctx;
    cx_scheduler *scheduler;
    cx_link_queue *done_queue;
    int overflowed;            /* link thread only */
    size_t dropped_events;     /* link thread only */
    atomic_size_t unreported;  /* refused events the client was not told of yet (DROPPED mail) */
};

cx_actor *cx_actor_new(chanx_ctx *ctx, cx_scheduler *scheduler, cx_link_queue *done_queue, size_t mailbox_max)
{
    cx_actor *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    atomic_init(&self->unreported, 0);
    self->ctx = ctx;
    self->scheduler = scheduler;
    self->done_queue = done_queue;
    self->max = mailbox_max;
    return self;
}

/* One mail, and what it holds: an EVENT's share of its event. */
static void mail_free(cx_mail *m)
{
    if (m->kind == CX_MAIL_EVENT) {
        cx_event_share *event = m->arg;
        cx_event_share_release(&event);
    }
    free(m);
}

static void free_mail(cx_mail *m)
{
    for (cx_mail *next; m; m = next) {
        next = m->next;
        mail_free(m);
    }
}

void cx_actor_destroy(cx_actor **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_actor *self = *self_p;
    pthread_mutex_lock(&self->lock);
    int may_run = self->scheduled && !self->finished;
    pthread_mutex_unlock(&self->lock);
    CX_ASSERT(!may_run, "connection actor %p destroyed while a pool thread may run it", (void *) self);
    free_mail(self->head);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

chanx_ctx *cx_actor_ctx(const cx_actor *self)
{
    return self->ctx;
}

cx_mail *cx_mail_new(cx_mail_kind kind, const char *text, size_t len)
{
    cx_mail *m = malloc(sizeof *m + len + 1);
    if (!m)
        return NULL;
    *m = (cx_mail) { .kind = kind, .len = len };
    if (text && len)
        memcpy(m->text, text, len);
    m->text[len] = '\0';
    return m;
}

int cx_actor_post(cx_actor *self, cx_mail *mail)
{
    int counts = cx_mail_counts(mail->kind);
    pthread_mutex_lock(&self->lock);
    if (self->finished || (counts && self->count >= self->max)) {
        pthread_mutex_unlock(&self->lock);
        mail_free(mail);
        return -1;
    }
    mail->next = NULL;
    if (self->tail)
        self->tail->next = mail;
    else
        self->head = mail;
    self->tail = mail;
    self->count += counts;
    int wake = !self->scheduled;
    self->scheduled = 1;
    pthread_mutex_unlock(&self->lock);
    if (wake)
        cx_scheduler_push(self->scheduler, &self->node);
    return 0;
}

int cx_actor_mark_overflow(cx_actor *self)
{
    if (self->overflowed)
        return 0;
    self->overflowed = 1;
    return 1;
}

int cx_actor_overflowed(const cx_actor *self)
{
    return self->overflowed;
}

void cx_actor_count_dropped_event(cx_actor *self)
{
    self->dropped_events++;
}

size_t cx_actor_dropped_events(const cx_actor *self)
{
    return self->dropped_events;
}

int cx_actor_note_unreported(cx_actor *self)
{
    return atomic_fetch_add(&self->unreported, 1) == 0;
}

/* Runs one mail on this thread. Returns 1 when it was the last (DISCONNECT). New kinds: here. */
static int deliver(cx_actor *self, cx_mail *m)
{
    switch (m->kind) {
    case CX_MAIL_CONNECT:
        cx_ctx_start(self->ctx);
        return 0;
    case CX_MAIL_RECEIVE:
        if (!cx_ctx_closed(self->ctx))   /* closed by the consumer: later frames are dropped */
            cx_ctx_receive(self->ctx, m->text, m->len);
        return 0;
    case CX_MAIL_TIMER:
        cx_ctx_fire_timer(self->ctx, m->timer_id, m->fn, m->arg, m->code);
        return 0;
    case CX_MAIL_EVENT:   /* membership and closed are checked here, on the connection's thread */
        cx_ctx_event_mail(self->ctx, m->arg);
        return 0;
    case CX_MAIL_DROPPED:   /* every drop until now, also those after this mail was posted */
        cx_ctx_tell_dropped(self->ctx, atomic_exchange(&self->unreported, 0));
        return 0;
    case CX_MAIL_ANSWER:   /* behind what the consumer sent for the frames before it */
        cx_ctx_answer(self->ctx, m->code, m->text, m->len);
        return 0;
    case CX_MAIL_DISCONNECT:
        cx_ctx_stop(self->ctx, m->code);
        return 1;
    }
    return 0;
}

void cx_actor_run(cx_sched_node *node)
{
    cx_actor *self = (cx_actor *) ((char *) node - offsetof(cx_actor, node));
    for (int i = 0; i < BATCH; i++) {
        pthread_mutex_lock(&self->lock);
        /* A run nobody scheduled (a stale run-queue entry) could run its consumer beside another thread. */
        CX_ASSERT(self->scheduled && !self->finished, "connection actor of %llu run while %s",
                  (unsigned long long) chanx_connection_id(self->ctx), self->finished ? "finished" : "not scheduled");
        cx_mail *m = self->head;
        if (!m) {
            self->scheduled = 0;
            pthread_mutex_unlock(&self->lock);
            return;
        }
        self->head = m->next;
        if (!self->head)
            self->tail = NULL;
        self->count -= cx_mail_counts(m->kind);
        pthread_mutex_unlock(&self->lock);
        int last = deliver(self, m);
        mail_free(m);
        if (last) {
            pthread_mutex_lock(&self->lock);
            self->finished = 1;
            free_mail(self->head);
            self->head = self->tail = NULL;
            pthread_mutex_unlock(&self->lock);
            /* The actor's last act: from here on the link thread owns it and may free it. */
            cx_lq_item *done = cx_lq_item_new(CX_LQ_ACTOR_DONE, self, 0, NULL, 0);
            if (done)
                cx_link_queue_push(self->done_queue, done);
            else
                cx_error("out of memory: a finished connection actor is leaked");
            return;
        }
    }
    cx_scheduler_push(self->scheduler, &self->node);   /* more mail: to the back of the queue */
}
