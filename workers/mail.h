/*
 * mail.h — the messages in a connection actor's mailbox.
 *
 * Everything that makes a consumer run arrives as mail, so it runs in
 * arrival order on the actor's thread: the connection starting, each text
 * frame, each timer tick, the end. To add a kind (a server-side event, say):
 * append it to cx_mail_kind, say in cx_mail_counts whether it counts against
 * CHANX_MAILBOX_MAX, and handle it in deliver() in workers/actor.c.
 */
#ifndef CX_WORKERS_MAIL_H
#define CX_WORKERS_MAIL_H

#include <stddef.h>
#include <stdint.h>
#include "chanx/timer.h"

typedef enum {
    CX_MAIL_CONNECT,      /* run the connection's start: has_permission ... post_authentication */
    CX_MAIL_RECEIVE,      /* text/len: one frame from the client */
    CX_MAIL_TIMER,        /* timer_id, fn, arg: a timer came due (workers/timers.c) */
    CX_MAIL_DISCONNECT,   /* code: the client is gone; the last mail an actor handles */
    CX_MAIL_EVENT,        /* arg: a cx_event_share (workers/events.h), released when the mail is freed */
    CX_MAIL_DROPPED,      /* tell the client how many events its full mailbox refused (CHANX_EVENT_OVERFLOW=notify) */
    CX_MAIL_ANSWER,       /* code, text/len: the gateway's own answer to a client frame, sent back in order (ANSWER) */
} cx_mail_kind;

typedef struct cx_mail {
    struct cx_mail *next;
    cx_mail_kind kind;
    int code;
    uint64_t timer_id;
    chanx_timer_fn *fn;
    void *arg;
    size_t len;
    char text[];
} cx_mail;

/* Whether mail of this kind counts against the bound: what a client, a timer or the application's
 * events can pile up does; the lifecycle (CONNECT, DISCONNECT) never does, so an actor always learns
 * it has ended, nor does DROPPED, which a full mailbox must take (at most one waits at a time). */
static inline int cx_mail_counts(cx_mail_kind kind)
{
    return kind == CX_MAIL_RECEIVE || kind == CX_MAIL_TIMER || kind == CX_MAIL_EVENT || kind == CX_MAIL_ANSWER;
}

#endif
