/*
 * events.c — receive_event: recipients, validation, the handler, completion.
 *
 * Group events arrive once per worker, so the recipients are found here: the
 * connections that joined any of the event's groups (the link thread posts
 * to the members it knows of, workers/memberships.h; each chanx_ctx keeps
 * its groups, and each actor checks its own on its thread, where a leave it
 * just made wins). Passthrough recipients are skipped, the gateway served them;
 * recipients whose consumer knows nothing of the action make one log record
 * per event, not one per connection, so a misaddressed broadcast to a big
 * group cannot flood the log. An event a connection's full mailbox refused
 * (CHANX_MAILBOX_MAX) closes that connection with 1013 (worker.c), or with
 * CHANX_EVENT_OVERFLOW=notify tells its client how many in an error message,
 * in order with its other messages; either way the connection's events lost
 * that way make one record when it ends, naming it with its own count. Every drop is counted (chanx_worker_events_dropped_total,
 * by reason).
 */
#include "workers/events.h"
#include "workers/context_internal.h"
#include "common/log.h"
#include "common/publish.h"
#include "workers/metrics.h"

#include <stdatomic.h>
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
    if (slice_in(d->passthrough_events, action) || cx_topic_decls_passes(ctx->consumer->topics, action))
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
        cx_worker_count_events_dropped(CX_EVENT_DROP_INVALID, 1);
        return;
    }
    snprintf(self->message_id, sizeof self->message_id, "e%07x", ++self->received);
    chanx_msg msg = { event, json_string_value(json_object_get(event, "action")), json_object_get(event, "payload") };
    if (json_is_null(msg.payload))
        msg.payload = NULL;
    if (self->log_received)
        cx_ctx_log_message(self, "Received event", msg.action, NULL);
    int rc = CHANX_OK;
    if (!self->closed) {
        cx_ctx_crash_enter(self, "receive_event", msg.action);
        rc = self->consumer->desc->receive_event(self, &msg);
        cx_crash_leave();
    }
    if (rc != CHANX_OK) {
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

struct cx_event_share {
    atomic_size_t refs;
    atomic_size_t dropped;                 /* recipients whose consumer knows nothing of the action */
    _Atomic(const char *) consumer;        /* one of them, for the log (plugins outlive the share) */
    char *text;                            /* the event, {"action": ..., "payload": ...} */
    size_t len;
    char *action;
    size_t action_len;
    size_t ngroups;                        /* 0: a connection target */
    cx_slice groups[CX_PROTO_MAX_GROUPS];
    char *names[CX_PROTO_MAX_GROUPS];
};

static char *copy_slice(cx_slice s)
{
    char *p = malloc(s.len + 1);
    if (p) {
        if (s.len)
            memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
    }
    return p;
}

/* The event as its consumer reads it: a topic broadcast's own seq (EVENT's topic_seq) is its last member,
 * "seq", as the gateway writes it for passthrough clients (gateway/events.c). */
static char *event_text(const cx_env *env, size_t *len)
{
    if (!(env->flags & CX_EVENT_TOPIC_SEQ) || env->text.len < 2 || env->text.ptr[env->text.len - 1] != '}') {
        *len = env->text.len;
        return copy_slice(env->text);
    }
    char suffix[CX_PUBLISH_SEQ_MEMBER_MAX];
    size_t n = cx_publish_seq_member(env->text.len, env->topic_seq, suffix);
    char *p = malloc(env->text.len + n);
    if (p) {
        memcpy(p, env->text.ptr, env->text.len - 1);
        memcpy(p + env->text.len - 1, suffix, n + 1);
        *len = env->text.len - 1 + n;
    }
    return p;
}

static void share_free(cx_event_share *self)
{
    for (size_t i = 0; i < self->ngroups; i++)
        free(self->names[i]);
    free(self->text);
    free(self->action);
    free(self);
}

cx_event_share *cx_event_share_new(const cx_env *env)
{
    cx_event_share *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    atomic_init(&self->refs, 1);
    atomic_init(&self->dropped, 0);
    atomic_init(&self->consumer, NULL);
    self->text = event_text(env, &self->len);
    self->action = copy_slice(env->action);
    self->action_len = env->action.len;
    int ok = self->text && self->action;
    if (env->target == CX_TARGET_GROUPS)
        for (size_t i = 0; ok && i < env->ngroups && i < CX_PROTO_MAX_GROUPS; i++) {
            ok = (self->names[i] = copy_slice(env->groups[i])) != NULL;
            self->groups[i] = (cx_slice) { self->names[i], env->groups[i].len };
            self->ngroups += ok;
        }
    if (!ok) {
        share_free(self);
        return NULL;
    }
    return self;
}

cx_event_share *cx_event_share_hold(cx_event_share *self)
{
    atomic_fetch_add(&self->refs, 1);
    return self;
}

void cx_event_share_release(cx_event_share **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_event_share *self = *self_p;
    *self_p = NULL;
    if (atomic_fetch_sub(&self->refs, 1) != 1)
        return;
    size_t dropped = atomic_load(&self->dropped);
    if (dropped) {
        cx_worker_count_events_dropped(CX_EVENT_DROP_UNHANDLED, dropped);
        cx_log_fields(CX_LOG_WARNING, "Dropped event no consumer handles",
                      json_pack("{s:s%, s:s, s:I}", "action", self->action, self->action_len, "consumer",
                                atomic_load(&self->consumer), "recipients", (json_int_t) dropped));
    }
    share_free(self);
}

cx_slice cx_event_share_action(const cx_event_share *self)
{
    return (cx_slice) { self->action, self->action_len };
}

void cx_ctx_event_mail(chanx_ctx *ctx, cx_event_share *event)
{
    if (ctx->closed)
        return;
    if (event->ngroups && !cx_ctx_in_any_group(ctx, event->groups, event->ngroups))
        return;
    switch (cx_ctx_event_route(ctx, cx_event_share_action(event))) {
    case CX_EVENT_HANDLED:
        cx_ctx_event(ctx, event->text, event->len);
        break;
    case CX_EVENT_UNKNOWN:
        atomic_store(&event->consumer, ctx->consumer->name);
        atomic_fetch_add(&event->dropped, 1);
        break;
    case CX_EVENT_PASSTHROUGH:
        break;
    }
}

void cx_ctx_tell_dropped(chanx_ctx *ctx, size_t n)
{
    if (n == 0 || ctx->closed)
        return;
    char detail[128];
    snprintf(detail, sizeof detail, "%zu event%s dropped: the connection's mailbox was full", n,
             n == 1 ? " was" : "s were");
    json_t *payload = json_pack("{s:s, s:I}", "detail", detail, "dropped", (json_int_t) n);
    chanx_send_message(ctx, "error", payload);
    json_decref(payload);
}

void cx_event_log_dropped(const chanx_ctx *ctx, size_t dropped, size_t mailbox_max)
{
    json_t *fields = cx_ctx_log_identity(ctx);   /* not ours: no message_id */
    json_object_set_new(fields, "mailbox_max", json_integer((json_int_t) mailbox_max));
    json_object_set_new(fields, "dropped", json_integer((json_int_t) dropped));
    cx_log_fields(CX_LOG_WARNING, "Dropped events: mailbox full", fields);
}
