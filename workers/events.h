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
 * Threading: the worker's thread, like every chanx_ctx call.
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
/* Every recipient of env (EVENT) among ctxs (conn id → chanx_ctx). With connection actors this
 * becomes: for each actor whose consumer's route is CX_EVENT_HANDLED, post an EVENT mail (text and,
 * for groups, the group names); the actor checks cx_ctx_in_any_group on its own thread, where its
 * membership changes, then runs cx_ctx_event. */
void cx_events_dispatch(cx_idmap *ctxs, const cx_env *env);

#endif
