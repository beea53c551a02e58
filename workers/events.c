/*
 * events.c — receive_event: recipients, validation, the handler, completion.
 *
 * Group events arrive once per worker, so the recipients are found here: the
 * connections that joined any of the event's groups (each chanx_ctx keeps
 * its groups). Passthrough recipients are skipped, the gateway served them;
 * recipients whose consumer knows nothing of the action make one log record
 * per event, not one per connection, so a misaddressed broadcast to a big
 * group cannot flood the log.
 */
#include "workers/events.h"
#include "workers/context_internal.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int slice_in(const char *const *list, cx_slice s)
{
    for (; list && *list; list++)
        if (cx_slice_eq(s, *list))
            return 1;
    return 0;
}

cx_event_route cx_ctx_event_route(const chanx_ctx *ctx, cx_slice action)
{
    const chanx_consumer *d = ctx->consumer->desc;
    if (slice_in(d->passthrough_events, action))
        return CX_EVENT_PASSTHROUGH;
    cx_schema *schema = ctx->consumer->event_schema;
    if (!d->receive_event || !schema)
        return CX_EVENT_UNKNOWN;
    for (size_t i = 0; i < cx_schema_action_count(schema); i++)
        if (cx_slice_eq(action, cx_schema_action_name(schema, i)))
            return CX_EVENT_HANDLED;
    return CX_EVENT_UNKNOWN;
}

void cx_ctx_event(chanx_ctx *self, const char *text, size_t len)
{
    json_t *event = NULL, *errors = NULL;
    if (cx_schema_validate(self->consumer->event_schema, text, len, &event, &errors) != 0) {
        json_t *fields = cx_ctx_log_fields(self);
        json_object_set_new(fields, "errors", errors);   /* types and locations, not values: see below */
        size_t i;
        json_t *e;
        json_array_foreach(errors, i, e)
            json_object_del(e, "input");                  /* payloads are never logged */
        cx_log_fields(CX_LOG_WARNING, "Dropped invalid event", fields);
        return;
    }
    snprintf(self->message_id, sizeof self->message_id, "e%07x", ++self->received);
    chanx_msg msg = { event, json_string_value(json_object_get(event, "action")), json_object_get(event, "payload") };
    if (json_is_null(msg.payload))
        msg.payload = NULL;
    if (self->log_received)
        cx_ctx_log_message(self, "Received event", msg.action, NULL);
    if (!self->closed && self->consumer->desc->receive_event(self, &msg) != CHANX_OK) {
        json_t *fields = cx_ctx_log_fields(self);
        json_object_set_new(fields, "action", json_string(msg.action));
        cx_log_fields(CX_LOG_ERROR, "Failed to process event", fields);
    }
    json_decref(event);
    if (self->send_completion && !self->closed)
        chanx_send_message(self, "event_complete", NULL);
    self->message_id[0] = '\0';
}

int cx_ctx_in_any_group(const chanx_ctx *ctx, const cx_slice *groups, size_t ngroups)
{
    for (size_t i = 0; i < ctx->ngroups; i++)
        for (size_t j = 0; j < ngroups; j++)
            if (cx_slice_eq(groups[j], ctx->groups[i]))
                return 1;
    return 0;
}

typedef struct {
    const cx_env *env;
    size_t dropped;
    const char *consumer;   /* one of the consumers that dropped it, for the log */
} dispatch_state;

static void offer(chanx_ctx *ctx, dispatch_state *st)
{
    if (ctx->closed)
        return;
    switch (cx_ctx_event_route(ctx, st->env->action)) {
    case CX_EVENT_HANDLED:
        cx_ctx_event(ctx, st->env->text.ptr, st->env->text.len);
        break;
    case CX_EVENT_UNKNOWN:
        st->dropped++;
        st->consumer = ctx->consumer->name;
        break;
    case CX_EVENT_PASSTHROUGH:
        break;
    }
}

void cx_events_dispatch(cx_idmap *ctxs, const cx_env *env)
{
    dispatch_state st = { env, 0, NULL };
    if (env->target == CX_TARGET_CONNECTION) {
        chanx_ctx *ctx = cx_idmap_get(ctxs, env->conn);
        if (ctx)
            offer(ctx, &st);
    } else if (env->target == CX_TARGET_GROUPS) {
        /* A snapshot: a handler may close its connection or another, which must not disturb the walk. */
        size_t n = cx_idmap_size(ctxs);
        chanx_ctx **all = malloc((n + 1) * sizeof *all);
        n = all ? cx_idmap_values(ctxs, (void **) all, n) : 0;
        for (size_t i = 0; i < n; i++)
            if (cx_ctx_in_any_group(all[i], env->groups, env->ngroups))
                offer(all[i], &st);
        free(all);
    }
    if (st.dropped)
        cx_log_fields(CX_LOG_WARNING, "Dropped event no consumer handles",
                      json_pack("{s:s%, s:s, s:I}", "action", env->action.ptr, (size_t) env->action.len, "consumer",
                                st.consumer, "recipients", (json_int_t) st.dropped));
}
