/*
 * topics.c — Chanx 2.10's topic dispatch for one connection (see topics.h).
 *
 * The order of events follows chanx/core/websocket.py: _subscribe matches,
 * authorizes, joins the group (chanx_group_add: the topic's group also joins
 * the connection's groups, as Chanx appends it to self.groups), confirms
 * with the request's ref, then runs on_subscribe with the ref cleared;
 * _unsubscribe runs on_unsubscribe, leaves and confirms (unsubscribed even
 * when not subscribed, as Chanx); a disconnect runs every on_unsubscribe.
 * Beyond Chanx: a cap on subscriptions per connection (a storm of subscribes
 * must not grow one connection's groups without bound in three processes)
 * and a strict envelope (version 1, bounded topic and ref), each refused
 * with a clear error frame while the connection's other topics go on.
 * Completion (send_completion) follows Chanx too: a frame handled by a
 * subscribed topic is completed on that topic with its ref; subscribe,
 * unsubscribe, topic errors and bad envelopes get no completion. A topic's
 * own route whose subscription was refused (unauthorized, unknown_topic, a
 * topic past the envelope's 256 characters) stays open, as Chanx's
 * as_consumer() does: its frames are then answered not_subscribed.
 *
 * A subscription is a few hundred bytes: the topic, its parameters and its
 * group name; lookups are linear over at most the cap.
 */
#include "workers/topics.h"
#include "common/log.h"
#include "common/schema.h"
#include "workers/context_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *topic;
    const cx_topic_decl *decl;
    json_t *params;
    char group[CX_TOPIC_MAX_GROUP + 1];
} cx_sub;

struct cx_topic_subs {
    cx_sub *items;
    size_t n, cap;
    char *own;   /* on a topic's own route: the topic the URL filled in */
};

/* Chanx's envelope fields, with their lengths for the scan of a frame's quotes (cx_topics_candidate). */
typedef struct {
    const char *name;
    size_t len;
} quoted_name;

#define NAME(s) { s, sizeof s - 1 }
static const quoted_name ENVELOPE_FIELDS[] = { NAME("version"), NAME("topic"), NAME("ref"), NAME("seq"), { 0 } };
static const quoted_name REF_OR_TOPIC[] = { NAME("ref"), NAME("topic"), { 0 } };
#undef NAME

/* CHANX_TOPIC_SUBSCRIPTIONS_MAX, read when the worker started (workers/settings.h). */
static size_t max_subscriptions(const chanx_ctx *ctx)
{
    return (size_t) ctx->services->settings->topic_subscriptions_max;
}

static struct cx_topic_subs *subs_of(chanx_ctx *ctx)
{
    if (!ctx->subs)
        ctx->subs = calloc(1, sizeof *ctx->subs);
    return ctx->subs;
}

static cx_sub *find(chanx_ctx *ctx, const char *topic)
{
    for (size_t i = 0; ctx->subs && i < ctx->subs->n; i++)
        if (strcmp(ctx->subs->items[i].topic, topic) == 0)
            return &ctx->subs->items[i];
    return NULL;
}

/* Whether one of names appears in text in double quotes, as memmem of each quoted name would say, in
 * one pass over the quotes: a frame has a handful, and this runs on every frame a consumer gets. */
static int quotes_one_of(const char *text, size_t len, const quoted_name *names)
{
    const char *p = text, *end = text + len;
    while ((p = memchr(p, '"', (size_t) (end - p))) && ++p < end)
        for (const quoted_name *q = names; q->name; q++)
            if (*p == q->name[0] && (size_t) (end - p) > q->len && p[q->len] == '"' && memcmp(p, q->name, q->len) == 0)
                return 1;
    return 0;
}

int cx_topics_candidate(const chanx_ctx *ctx, const char *text, size_t len)
{
    if (ctx->own_topic)
        return 1;
    /* a consumer without topics needs the envelope for a ref or a topic (Chanx answers that) */
    return quotes_one_of(text, len, ctx->consumer->topics ? ENVELOPE_FIELDS : REF_OR_TOPIC);
}

/* ------------------------------------------------------------ replies */

/* Chanx's send_topic_error: {"action": "error", "payload": {"reason", "detail"}} on the topic. */
static void topic_error(chanx_ctx *ctx, const char *reason, const char *fmt, const char *topic)
{
    char detail[4 * CX_TOPIC_MAX_LENGTH + 128];   /* a character is up to 4 bytes */
    snprintf(detail, sizeof detail, fmt, topic);
    json_t *fields = cx_ctx_log_fields(ctx);
    json_object_set_new(fields, "topic", json_string(topic));
    json_object_set_new(fields, "reason", json_string(reason));
    cx_log_fields(CX_LOG_WARNING, "Topic error", fields);
    json_t *payload = json_pack("{s:s, s:s}", "reason", reason, "detail", detail);
    chanx_send_message(ctx, "error", payload);
    json_decref(payload);
}

static json_t *envelope_error(const char *type, const char *field, const char *msg)
{
    return json_pack("{s:s, s:[s], s:s}", "type", type, "loc", field, "msg", msg);
}

static json_t *too_long(const char *field)
{
    return envelope_error("string_too_long", field, "String should have at most 256 characters");
}

/* Checks the envelope (Chanx's Envelope model, with version pinned to 1 and bounded strings).
 * Errors in pydantic's shape without input (Chanx's handle_validation_error), or NULL. */
static json_t *check_envelope(const json_t *m)
{
    json_t *errors = json_array();
    const json_t *v = json_object_get(m, "version");
    if (v && !json_is_integer(v))   /* Chanx's "version: int = 1": absent is 1, null is no integer */
        json_array_append_new(errors, envelope_error("int_type", "version", "Input should be a valid integer"));
    else if (json_is_integer(v) && json_integer_value(v) != 1)
        json_array_append_new(errors, envelope_error("literal_error", "version", "Input should be 1"));
    const char *strings[] = { "topic", "ref" };
    for (int i = 0; i < 2; i++) {
        const json_t *s = json_object_get(m, strings[i]);
        if (s && !json_is_null(s) && !json_is_string(s))
            json_array_append_new(errors, envelope_error("string_type", strings[i], "Input should be a valid string"));
        else if (cx_schema_string_length(s) > CX_TOPIC_MAX_LENGTH)
            json_array_append_new(errors, too_long(strings[i]));
        else if (json_is_string(s) && memchr(json_string_value(s), '\0', json_string_length(s)))
            /* the worker reads these as C strings: "room:a\u0000b" would be room:a, another topic */
            json_array_append_new(errors, envelope_error("string_type", strings[i],
                                                         "Input should be a string without NUL characters"));
    }
    const json_t *seq = json_object_get(m, "seq");
    if (seq && !json_is_null(seq) && !json_is_integer(seq))
        json_array_append_new(errors, envelope_error("int_type", "seq", "Input should be a valid integer"));
    if (json_array_size(errors))
        return errors;
    json_decref(errors);
    return NULL;
}

/* ------------------------------------------------------------ subscribe / unsubscribe */

static void run_on_subscribe(chanx_ctx *ctx, cx_sub *sub)
{
    if (!sub->decl->desc->on_subscribe)
        return;
    const char *ref = ctx->ref;
    ctx->ref = NULL;   /* what it pushes is state, not a reply to the subscribe */
    if (sub->decl->desc->on_subscribe(ctx) != CHANX_OK)
        chanx_log(ctx, CHANX_LOG_ERROR, "on_subscribe failed for topic %s", sub->topic);
    ctx->ref = ref;
}

static void free_sub(cx_sub *sub)
{
    free(sub->topic);
    json_decref(sub->params);
}

/* Adds the subscription; NULL when out of memory. */
static cx_sub *add_sub(chanx_ctx *ctx, const char *topic, const cx_topic_decl *decl, json_t *params)
{
    struct cx_topic_subs *s = subs_of(ctx);
    if (!s)
        return NULL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        cx_sub *grown = realloc(s->items, cap * sizeof *grown);
        if (!grown)
            return NULL;
        s->items = grown, s->cap = cap;
    }
    cx_sub *sub = &s->items[s->n];
    *sub = (cx_sub) { .topic = strdup(topic), .decl = decl, .params = params };
    if (!sub->topic || cx_topic_group_of(decl->pattern, topic, strlen(topic), decl->desc->name, sub->group) != 0) {
        free(sub->topic);
        return NULL;
    }
    json_incref(params);
    s->n++;
    return sub;
}

/* A topic's history and presence pushes, as its GROUP_ADD carries them (cx_group_join). */
static cx_group_join join_of(const chanx_topic *t)
{
    uint32_t size = t->history_size == CHANX_HISTORY_DEFAULT ? CX_HISTORY_DEFAULT
                    : t->history_size > 0 ? (uint32_t) t->history_size : 0;
    uint32_t ttl = !size ? 0 : t->history_ttl > 0 && t->history_ttl <= 86400 ? (uint32_t) t->history_ttl * 1000u
                                                                            : CX_HISTORY_DEFAULT;
    return (cx_group_join) { size, ttl, t->presence_pushes ? CX_GROUP_ADD_PRESENCE : 0, NULL, NULL, NULL };
}

/* subscribe's "payload": {"since": {"epoch": E, "seq": N}} as the broker reads it ("E:N"), in out;
 * NULL when the payload asks for none. A since that makes no sense (an epoch that is not a string of
 * 1..64 characters without ':' or ',', a seq that is not an integer from 0) becomes "-", which the
 * broker answers recovered: false. On a topic's own route the URL's ?since= stands for it. */
static const char *since_of(const chanx_ctx *ctx, const json_t *payload, char out[96])
{
    const json_t *since = json_object_get(payload, "since");
    if (!since)
        return ctx->subs && ctx->subs->own && ctx->since && *ctx->since ? ctx->since : NULL;
    const char *epoch = json_string_value(json_object_get(since, "epoch"));
    const json_t *seq = json_object_get(since, "seq");
    size_t len = epoch ? strlen(epoch) : 0;
    if (len == 0 || len > 64 || strpbrk(epoch, ":,") || !json_is_integer(seq) || json_integer_value(seq) < 0)
        return "-";
    snprintf(out, 96, "%s:%lld", epoch, (long long) json_integer_value(seq));
    return out;
}

static void subscribe(chanx_ctx *ctx, const char *topic, const json_t *payload)
{
    cx_sub *again = find(ctx, topic);
    if (again) {   /* a history topic's "subscribed" comes from the broker, with its epoch and seq */
        cx_group_join join = join_of(again->decl->desc);
        join.topic = topic;
        join.ref = ctx->ref;
        if (!join.history_size || cx_ctx_group_join(ctx, again->group, &join) != CHANX_OK)
            chanx_send_message(ctx, "subscribed", NULL);
        return;
    }
    json_t *params = json_object();
    const cx_topic_decl *decl = cx_topic_decls_match(ctx->consumer->topics, topic, strlen(topic), params);
    char probe[CX_TOPIC_MAX_GROUP + 1];
    if (!decl || cx_topic_group_name(topic, strlen(topic), decl->desc->name, probe) != 0) {
        topic_error(ctx, "unknown_topic", "Unknown topic '%s'", topic);
    } else if (cx_topic_group_of(decl->pattern, topic, strlen(topic), decl->desc->name, probe) != 0) {
        topic_error(ctx, "unknown_topic", "Topic '%s' is refused: its group name would end as the names given "
                    "to other topics' spellings do ('.' and 12 hex digits)", topic);
    } else if (ctx->subs && ctx->subs->n >= max_subscriptions(ctx)) {
        char fmt[160];
        snprintf(fmt, sizeof fmt, "Not subscribed to '%%s': a connection may hold %zu subscriptions "
                 "(CHANX_TOPIC_SUBSCRIPTIONS_MAX); unsubscribe from one first", max_subscriptions(ctx));
        topic_error(ctx, "too_many_subscriptions", fmt, topic);
    } else {
        ctx->topic_params = params;
        int allowed = !decl->desc->authorize || decl->desc->authorize(ctx) == CHANX_OK;
        cx_sub *sub = allowed ? add_sub(ctx, topic, decl, params) : NULL;
        cx_group_join join = join_of(decl->desc);
        char since[96];
        if (join.history_size) {   /* the broker answers "subscribed" with epoch, seq, recovered */
            join.since = since_of(ctx, payload, since);
            join.topic = topic;
            join.ref = ctx->ref;
        }
        if (sub && cx_ctx_group_join(ctx, sub->group, &join) != CHANX_OK) {   /* out of memory, or closing */
            free_sub(sub);
            ctx->subs->n--;
            sub = NULL;
        }
        if (!allowed)
            topic_error(ctx, "unauthorized", "Not allowed to subscribe to '%s'", topic);
        else if (!sub)
            topic_error(ctx, "unauthorized", "Could not subscribe to '%s' (out of memory)", topic);
        else {
            if (!join.history_size)
                chanx_send_message(ctx, "subscribed", NULL);
            run_on_subscribe(ctx, sub);
        }
    }
    json_decref(params);
}

static void unsubscribe(chanx_ctx *ctx, const char *topic)
{
    cx_sub *sub = find(ctx, topic);
    if (sub) {
        ctx->topic_params = sub->params;
        if (sub->decl->desc->on_unsubscribe)
            sub->decl->desc->on_unsubscribe(ctx);
        chanx_group_discard(ctx, sub->group);
        free_sub(sub);
        *sub = ctx->subs->items[--ctx->subs->n];
    }
    chanx_send_message(ctx, "unsubscribed", NULL);
}

/* ------------------------------------------------------------ topic frames */

/* Chanx's Topic.handle_json ends with CompleteMessage sent through the topic, so it carries the
 * topic and the frame's ref like the replies: {"action": "complete", "payload": null, "version": 1,
 * "topic", "ref"}. Only a frame that reached a subscribed topic's handling is completed: subscribe,
 * unsubscribe and the topic errors (unknown_topic, not_subscribed, ...) are not, as in Chanx. */
static void complete(chanx_ctx *ctx)
{
    if (ctx->send_completion)
        chanx_send_message(ctx, "complete", NULL);
}

static void dispatch(chanx_ctx *ctx, const char *topic, json_t *message)
{
    cx_sub *sub = find(ctx, topic);
    if (!sub) {
        topic_error(ctx, "not_subscribed", "Not subscribed to '%s'", topic);
        return;
    }
    json_t *errors = NULL;
    if (sub->decl->schema && cx_schema_validate_object(sub->decl->schema, message, &errors) != 0) {
        chanx_send_message(ctx, "error", errors);
        json_decref(errors);
        complete(ctx);
        return;
    }
    chanx_msg msg = { message, json_string_value(json_object_get(message, "action")), json_object_get(message, "payload") };
    if (!msg.action)
        msg.action = "";
    if (json_is_null(msg.payload))
        msg.payload = NULL;
    ctx->topic_params = sub->params;
    if (ctx->log_received)
        cx_ctx_log_message(ctx, "Received websocket json", msg.action, json_pack("{s:s}", "topic", topic));
    if (sub->decl->desc->receive_message(ctx, &msg) != CHANX_OK)
        cx_ctx_answer_handler_error(ctx, msg.action, topic);
    complete(ctx);
}

static void route_topic(chanx_ctx *ctx, const char *topic, json_t *message)
{
    const char *action = json_string_value(json_object_get(message, "action"));
    ctx->topic = topic;
    if (action && strcmp(action, "subscribe") == 0)
        subscribe(ctx, topic, json_object_get(message, "payload"));
    else if (action && strcmp(action, "unsubscribe") == 0)
        unsubscribe(ctx, topic);
    else
        dispatch(ctx, topic, message);
    ctx->topic = NULL;
    ctx->topic_params = NULL;
}

cx_topics_outcome cx_topics_route(chanx_ctx *ctx, json_t *message)
{
    json_t *errors = check_envelope(message);
    if (errors) {
        chanx_send_message(ctx, "error", errors);
        json_decref(errors);
        return CX_TOPICS_HANDLED;
    }
    char *topic = json_is_string(json_object_get(message, "topic"))
                      ? strdup(json_string_value(json_object_get(message, "topic"))) : NULL;
    const char *ref = json_string_value(json_object_get(message, "ref"));
    ctx->ref = ref ? strdup(ref) : NULL;
    for (const quoted_name *f = ENVELOPE_FIELDS; f->name; f++)
        json_object_del(message, f->name);
    if (!topic && ctx->subs && ctx->subs->own)   /* a topic's own route: no envelope needed */
        topic = strdup(ctx->subs->own);
    if (!topic)
        return CX_TOPICS_PLAIN;
    /* A consumer without topics answers as Chanx's does: its _match finds nothing (unknown_topic),
     * unsubscribe is confirmed all the same, anything else is not_subscribed. */
    route_topic(ctx, topic, message);
    free(topic);
    cx_topics_done(ctx);
    return CX_TOPICS_HANDLED;
}

void cx_topics_done(chanx_ctx *ctx)
{
    free((char *) ctx->ref);
    ctx->ref = NULL;
}

void cx_topics_start(chanx_ctx *ctx)
{
    if (!ctx->own_topic || ctx->closed)
        return;
    char err[200];
    char *topic = cx_topic_pattern_fill(ctx->own_topic->pattern, ctx->kwargs, err, sizeof err);
    struct cx_topic_subs *s = topic ? subs_of(ctx) : NULL;
    if (!s) {
        chanx_log(ctx, CHANX_LOG_ERROR, "topic route: %s", topic ? "out of memory" : err);
        free(topic);
        chanx_close(ctx, 1011);
        return;
    }
    s->own = topic;
    json_t *name = json_string(topic);
    if (cx_schema_string_length(name) > CX_TOPIC_MAX_LENGTH) {   /* the envelope's limit and its error */
        json_t *errors = json_pack("[o]", too_long("topic"));
        chanx_send_message(ctx, "error", errors);
        json_decref(errors);
    } else {
        ctx->topic = topic;
        subscribe(ctx, topic, NULL);
        ctx->topic = NULL;
        ctx->topic_params = NULL;
    }
    json_decref(name);
}

void cx_topics_stop(chanx_ctx *ctx)
{
    struct cx_topic_subs *s = ctx->subs;
    for (size_t i = 0; s && i < s->n; i++) {
        cx_sub *sub = &s->items[i];
        ctx->topic = sub->topic;
        ctx->topic_params = sub->params;
        if (sub->decl->desc->on_unsubscribe)
            sub->decl->desc->on_unsubscribe(ctx);
    }
    ctx->topic = NULL;
    ctx->topic_params = NULL;
    cx_topics_release(ctx);
}

const char *cx_topics_group_of(const chanx_ctx *ctx, const char *topic)
{
    cx_sub *sub = topic ? find((chanx_ctx *) ctx, topic) : NULL;
    return sub ? sub->group : NULL;
}

void cx_topics_release(chanx_ctx *ctx)
{
    struct cx_topic_subs *s = ctx->subs;
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free_sub(&s->items[i]);
    free(s->items);
    free(s->own);
    free(s);
    ctx->subs = NULL;
}

/* ------------------------------------------------------------ the plugin API (level 3) */

const char *chanx_topic_name(const chanx_ctx *ctx)
{
    return ctx->topic;
}

const char *chanx_topic_param(const chanx_ctx *ctx, const char *name)
{
    return json_string_value(json_object_get(ctx->topic_params, name));
}

const char *chanx_ref(const chanx_ctx *ctx)
{
    return ctx->ref;
}

int chanx_topic_publish(chanx_ctx *ctx, const char *topic, const char *action, const json_t *payload)
{
    const cx_topic_decl *decl = topic && action ? cx_topic_decls_match(ctx->consumer->topics, topic, strlen(topic), NULL)
                                                : NULL;
    char group[CX_TOPIC_MAX_GROUP + 1];
    if (!decl || cx_topic_group_of(decl->pattern, topic, strlen(topic), decl->desc->name, group) != 0)
        return CHANX_ERROR;
    json_t *m = json_pack("{s:s, s:O?, s:i, s:s}", "action", action, "payload", (json_t *) payload, "version", 1,
                          "topic", topic);
    int rc = cx_ctx_send_topic_push(ctx, m, group);
    json_decref(m);
    return rc;
}
