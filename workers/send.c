/*
 * send.c — the send side of the plugin API: messages, groups, close, logs.
 *
 * Every send becomes one envelope right away: encoded on the connection's
 * pool thread and queued to the link thread through the outbox the worker
 * handed the connection (workers/outbox.h, services.h); the link thread owns
 * the broker socket. Ordering per connection follows from that
 * one FIFO queue (whatever thread the connection's callbacks ran on), the
 * single broker socket (ZeroMQ keeps order per pipe) and the gateway's
 * per-client queue. Group messages are serialized once here; the gateway
 * adds is_mine/is_current per recipient, so the worker's cost does not grow
 * with the group's size.
 */
#include "workers/context_internal.h"
#include "common/json_text.h"
#include "common/http_status.h"
#include "common/log.h"
#include "workers/camel.h"
#include "workers/ctx_log.h"
#include "workers/group_limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *serialize(const chanx_ctx *self, const json_t *message)
{
    if (!self->camelize)
        return cx_json_text(message, NULL);
    json_t *wire = cx_json_camelize(message);
    char *text = cx_json_text(wire, NULL);
    json_decref(wire);
    return text;
}

static int action_ignored(const chanx_ctx *self, const char *action)
{
    for (const char *const *a = self->consumer->desc->log_ignored_actions; a && *a; a++)
        if (strcmp(*a, action) == 0)
            return 1;
    size_t i;
    json_t *name;
    json_array_foreach(self->services->settings->log_ignored_actions, i, name)
        if (strcmp(json_string_value(name), action) == 0)
            return 1;
    return 0;
}

void cx_ctx_log_message(const chanx_ctx *self, const char *event, const char *action, json_t *extra)
{
    if (!cx_log_enabled(CX_LOG_INFO) || (action && action_ignored(self, action))) {
        json_decref(extra);
        return;
    }
    json_t *fields = cx_ctx_log_fields(self);
    if (action)
        json_object_set_new(fields, "action", json_string(action));
    if (extra)
        json_object_update_new(fields, extra);
    cx_log_fields(CX_LOG_INFO, event, fields);
}

/* A group message is logged once, by its sender, with the groups it went to: the recipients'
 * copies are made by the gateways, which do not log each one. */
static void log_sent(const chanx_ctx *self, const json_t *message, const char *const *groups, size_t ngroups)
{
    if (!self->log_sent)
        return;
    json_t *extra = NULL;
    if (groups) {
        json_t *list = json_array();
        for (size_t i = 0; i < ngroups; i++)
            json_array_append_new(list, json_string(groups[i]));
        extra = json_pack("{s:o}", "groups", list);
    }
    cx_ctx_log_message(self, "Sent websocket json", json_string_value(json_object_get(message, "action")), extra);
}

/* Inside a topic's callback or a frame with a ref, direct sends carry Chanx's envelope fields
 * (send_topic_json): the topic with "version": 1, and the ref being answered. New reference. */
static json_t *stamped(const chanx_ctx *ctx, const json_t *message)
{
    json_t *out = json_copy((json_t *) message);
    if (ctx->topic) {
        json_object_set_new(out, "version", json_integer(1));
        json_object_set_new(out, "topic", json_string(ctx->topic));
    }
    if (ctx->ref)
        json_object_set_new(out, "ref", json_string(ctx->ref));
    return out;
}

int chanx_send_json(chanx_ctx *ctx, const json_t *message)
{
    if (!json_is_object(message) || ctx->closed)
        return CHANX_ERROR;
    if (ctx->topic || ctx->ref) {
        json_t *m = stamped(ctx, message);
        const char *topic = ctx->topic, *ref = ctx->ref;
        ctx->topic = ctx->ref = NULL;
        int rc = chanx_send_json(ctx, m);
        ctx->topic = topic, ctx->ref = ref;
        json_decref(m);
        return rc;
    }
    char *text = serialize(ctx, message);
    if (!text)
        return CHANX_ERROR;
    cx_env env = { .type = CX_ENV_SEND, .conn = ctx->conn, .text = cx_slice_of(text) };
    int rc = cx_outbox_send(ctx->services->outbox, &env);
    free(text);
    if (rc == 0)
        log_sent(ctx, message, NULL, 0);
    return rc == 0 ? CHANX_OK : CHANX_ERROR;
}

int cx_ctx_send_text(chanx_ctx *ctx, const char *text, const char *action)
{
    if (ctx->closed || ctx->topic || ctx->ref)
        return CHANX_ERROR;
    cx_env env = { .type = CX_ENV_SEND, .conn = ctx->conn, .text = cx_slice_of(text) };
    if (cx_outbox_send(ctx->services->outbox, &env) != 0)
        return CHANX_ERROR;
    if (ctx->log_sent)
        cx_ctx_log_message(ctx, "Sent websocket json", action, NULL);
    return CHANX_OK;
}

void cx_ctx_answer_handler_error(chanx_ctx *ctx, const char *action, const char *topic)
{
    json_t *fields = cx_ctx_log_fields(ctx);
    json_object_set_new(fields, "action", json_string(action));
    if (topic)
        json_object_set_new(fields, "topic", json_string(topic));
    cx_log_fields(CX_LOG_ERROR, "Failed to process message", fields);
    char text[300];
    snprintf(text, sizeof text, "Failed to process message for %.250s", action);
    json_t *detail = json_pack("{s:s}", "detail", text);
    chanx_send_message(ctx, "error", detail);
    json_decref(detail);
}

/* The payload is shared, not copied: the message is serialized and released before the caller gets its
 * payload back, nothing on the way changes it (camelizing and stamping copy), and jansson's reference
 * counts are atomic, so another reader of the same payload sees nothing either. */
static json_t *action_message(const char *action, const json_t *payload)
{
    json_t *m = json_object();
    json_object_set_new(m, "action", json_string(action));
    json_object_set(m, "payload", payload ? (json_t *) payload : json_null());
    return m;
}

/* chanx_send_message's common case (no camelizing, no topic or ref to stamp): the text is written
 * straight from action and payload, without the message object chanx_send_json would serialize, which
 * cost an echo's reply more than writing it. */
static int send_action_text(chanx_ctx *ctx, const char *action, const json_t *payload)
{
    char *text = cx_json_text_action(action, payload, NULL);
    if (!text)
        return CHANX_ERROR;
    int rc = cx_ctx_send_text(ctx, text, action);
    free(text);
    return rc;
}

int chanx_send_message(chanx_ctx *ctx, const char *action, const json_t *payload)
{
    if (!action)
        return CHANX_ERROR;
    if (!ctx->camelize && !ctx->topic && !ctx->ref)
        return send_action_text(ctx, action, payload);
    json_t *m = action_message(action, payload);
    int rc = chanx_send_json(ctx, m);
    json_decref(m);
    return rc;
}

/* With send_completion, each recipient of a group message gets group_complete after it. */
static uint32_t group_complete(const chanx_ctx *ctx)
{
    return ctx->send_completion ? CX_GROUP_COMPLETE : 0;
}

/* One GROUP_SEND carries at most CX_PROTO_MAX_GROUPS groups: a longer list (explicit, or the groups the
 * connection joined) goes in consecutive envelopes, flagged CX_GROUP_SPLIT (CX_GROUP_CONTINUES after the
 * first), so that a gateway still delivers the message once to a member of several of them. flags are
 * the caller's GROUP_SEND flags: ownership and completion are its to say. */
static int send_group(chanx_ctx *ctx, const json_t *message, const char *const *groups, int options,
                      uint32_t flags)
{
    if (!json_is_object(message) || (groups && !cx_group_names_ok(ctx, groups)))
        return CHANX_ERROR;
    const char *const *list = groups ? groups : (const char *const *) ctx->groups;
    size_t n = 0;
    if (groups)
        while (groups[n])
            n++;
    else
        n = ctx->ngroups;
    if (n == 0)
        return CHANX_OK;
    flags |= (options & CHANX_INCLUDE_CURRENT ? 0 : CX_GROUP_EXCLUDE_CURRENT) | (ctx->camelize ? CX_GROUP_CAMELIZE : 0)
             | (n > CX_PROTO_MAX_GROUPS ? CX_GROUP_SPLIT : 0);
    char *text = serialize(ctx, message);
    if (!text)
        return CHANX_ERROR;
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < n; at += CX_PROTO_MAX_GROUPS) {
        cx_env env = { .type = CX_ENV_GROUP_SEND, .conn = ctx->conn, .user_id = ctx->user.id,
                       .flags = flags | (at > 0 ? CX_GROUP_CONTINUES : 0), .text = cx_slice_of(text) };
        for (size_t i = at; i < n && env.ngroups < CX_PROTO_MAX_GROUPS; i++)
            env.groups[env.ngroups++] = cx_slice_of(list[i]);
        rc = cx_outbox_send(ctx->services->outbox, &env);
    }
    free(text);
    if (rc == 0)
        log_sent(ctx, message, list, n);
    return rc == 0 ? CHANX_OK : CHANX_ERROR;
}

int chanx_send_group_message(chanx_ctx *ctx, const char *action, const json_t *payload,
                             const char *const *groups, int options)
{
    if (!action)
        return CHANX_ERROR;
    json_t *m = action_message(action, payload);
    int rc = send_group(ctx, m, groups, options, group_complete(ctx));
    json_decref(m);
    return rc;
}

int chanx_send_group_json(chanx_ctx *ctx, const json_t *message, const char *const *groups, int options)
{
    return send_group(ctx, message, groups, options, CX_GROUP_NO_OWNERSHIP | group_complete(ctx));
}

int cx_ctx_send_topic_push(chanx_ctx *ctx, const json_t *message, const char *group)
{
    const char *groups[] = { group, NULL };
    return send_group(ctx, message, groups, CHANX_INCLUDE_CURRENT, CX_GROUP_NO_OWNERSHIP);   /* Chanx: none */
}

int chanx_group_add(chanx_ctx *ctx, const char *group)
{
    cx_group_join join = { ctx->history_size, ctx->history_ttl_ms, ctx->group_add_flags, ctx->since, NULL, NULL };
    return cx_ctx_group_join(ctx, group, &join);
}

int cx_ctx_group_join(chanx_ctx *ctx, const char *group, const cx_group_join *join)
{
    if (!group || !*group)
        return CHANX_ERROR;
    cx_env env = { .type = CX_ENV_GROUP_ADD, .conn = ctx->conn, .group = cx_slice_of(group),
                   .history_size = join->history_size, .history_ttl_ms = join->history_ttl_ms,
                   .flags = join->flags, .topic = cx_slice_of(join->topic), .ref = cx_slice_of(join->ref) };
    if (env.history_size && join->since)
        env.since = cx_slice_of(join->since);
    for (size_t i = 0; i < ctx->ngroups; i++)
        if (strcmp(ctx->groups[i], group) == 0)   /* a topic subscribed again is answered by the broker */
            return !join->topic || cx_outbox_send(ctx->services->outbox, &env) == 0 ? CHANX_OK : CHANX_ERROR;
    if (!cx_group_join_allowed(ctx, group))
        return CHANX_ERROR;
    char **grown = realloc(ctx->groups, (ctx->ngroups + 1) * sizeof *grown);
    char *copy = strdup(group);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            ctx->groups = grown;
        return CHANX_ERROR;
    }
    ctx->groups = grown;
    ctx->groups[ctx->ngroups++] = copy;
    return cx_outbox_send(ctx->services->outbox, &env) == 0 ? CHANX_OK : CHANX_ERROR;
}

int chanx_group_discard(chanx_ctx *ctx, const char *group)
{
    for (size_t i = 0; group && i < ctx->ngroups; i++) {
        if (strcmp(ctx->groups[i], group) != 0)
            continue;
        free(ctx->groups[i]);
        ctx->groups[i] = ctx->groups[--ctx->ngroups];
        cx_env env = { .type = CX_ENV_GROUP_DISCARD, .conn = ctx->conn, .group = cx_slice_of(group) };
        return cx_outbox_send(ctx->services->outbox, &env) == 0 ? CHANX_OK : CHANX_ERROR;
    }
    return CHANX_OK;
}

int chanx_close(chanx_ctx *ctx, int code)
{
    if (code < 1000 || code > 4999)
        return CHANX_ERROR;
    cx_env env = { .type = CX_ENV_CLOSE, .conn = ctx->conn, .code = (uint32_t) code };
    ctx->closed = 1;
    return cx_outbox_send(ctx->services->outbox, &env) == 0 ? CHANX_OK : CHANX_ERROR;
}

void cx_ctx_answer(chanx_ctx *ctx, int code, const char *text, size_t len)
{
    if (ctx->closed)
        return;   /* already closing: the client gets no more frames, and one close */
    cx_env env = { .type = code ? CX_ENV_CLOSE : CX_ENV_SEND, .conn = ctx->conn, .code = (uint32_t) code,
                   .text = cx_slice_n(text, len) };
    ctx->closed = code != 0;
    cx_outbox_send(ctx->services->outbox, &env);
}

int chanx_groups_add(chanx_groups *groups, const char *name)
{
    return chanx_group_add(groups->ctx, name);
}

int chanx_groups_addf(chanx_groups *groups, const char *fmt, ...)
{
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= sizeof name)
        return CHANX_ERROR;
    return chanx_group_add(groups->ctx, name);
}

void chanx_log(const chanx_ctx *ctx, chanx_log_level level, const char *fmt, ...)
{
    if (!cx_log_enabled((cx_log_level) level))
        return;   /* before building the fields */
    va_list ap;
    va_start(ap, fmt);
    cx_logv((cx_log_level) level, cx_ctx_log_fields(ctx), fmt, ap);
    va_end(ap);
}
