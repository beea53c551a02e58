/*
 * events.h — server-side events in the worker (Chanx's event handlers).
 *
 * The broker sends a worker one EVENT per event for the groups it holds
 * members of, or one per recipient connection for user and connection
 * targets. cx_events_dispatch finds the recipients among this worker's
 * connections and, for each one whose consumer handles the action
 * (.events + receive_event, not .passthrough_events, which the gateway
 * delivers), runs cx_ctx_event. cx_ctx_event is the unit of work for one
 * connection, the same shape as cx_ctx_receive: with connection actors it
 * is what an EVENT mailbox message runs, in order with the connection's
 * RECEIVE messages.
 *
 * With connection actors (workers/actor.c), the link thread turns an EVENT
 * envelope into one EVENT mail per candidate actor (workers/worker.c: the
 * groups' members as the link thread's index has them, workers/memberships.h,
 * or the one connection of a connection target; never an actor whose
 * consumer passes the action through), each holding a cx_event_share; the
 * actor, on its own thread, checks group membership again and runs
 * cx_ctx_event, in order with the connection's other mail.
 *
 * Threading: cx_ctx_* on the connection's actor thread; the share's
 * reference counting on any thread.
 */
#ifndef CX_WORKERS_EVENTS_H
#define CX_WORKERS_EVENTS_H

#include <stddef.h>
#include "common/idmap.h"
#include "proto/envelope.h"
#include "workers/context.h"

typedef enum {
    CX_EVENT_HANDLED,      /* the consumer's receive_event takes it */
    CX_EVENT_PASSTHROUGH,  /* the gateway already sent it to the client */
    CX_EVENT_UNKNOWN,      /* neither: dropped (logged once per event by the dispatcher) */
} cx_event_route;

/* What this connection's consumer does with an event of this action. */
cx_event_route cx_ctx_event_route(const chanx_ctx *ctx, cx_slice action);
/* Validates the event (text: {"action", "payload"}) against .events and runs receive_event; then
 * event_complete with send_completion. An invalid event is logged and dropped. */
void cx_ctx_event(chanx_ctx *ctx, const char *text, size_t len);
/* Whether the connection joined any of these groups (its own list: call it where its callbacks run). */
int cx_ctx_in_any_group(const chanx_ctx *ctx, const cx_slice *groups, size_t ngroups);
/* One event on its way to a worker's connection actors: the event's text, action and groups,
 * shared (not copied) by every EVENT mail it becomes, and how many recipients dropped it, so the
 * drop is logged once per event, by whoever releases it last. Reference counted across threads. */
typedef struct cx_event_share cx_event_share;

/* Link thread: a share of env (EVENT) with one reference. NULL when out of memory. */
cx_event_share *cx_event_share_new(const cx_env *env);
/* Any thread: another reference (one per mail posted). */
cx_event_share *cx_event_share_hold(cx_event_share *self);
/* Any thread: drops a reference; the last logs "Dropped event no consumer handles" if any did. */
void cx_event_share_release(cx_event_share **self_p);
/* The event's action. */
cx_slice cx_event_share_action(const cx_event_share *self);
/* The actor's thread (an EVENT mail): for a group event, whether the connection is a member (its own
 * group list, changed only on this thread); then receive_event through cx_ctx_event, or counts it
 * as dropped when the consumer neither handles nor passes it through. */
void cx_ctx_event_mail(chanx_ctx *ctx, cx_event_share *event);
/* The connection's thread (CHANX_EVENT_OVERFLOW=notify): tells the client that its full mailbox refused
 * n events, with an error message it can resync on: {"action":"error","payload":{"detail":...,
 * "dropped":n}}. */
void cx_ctx_tell_dropped(chanx_ctx *ctx, size_t n);
/* Link thread, when the connection is done: one record naming it and how many events it lost. */
void cx_event_log_dropped(const chanx_ctx *ctx, size_t dropped, size_t mailbox_max);

#endif
