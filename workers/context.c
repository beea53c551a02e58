/*
 * context.c — the consumer lifecycle and the read side of the plugin API.
 *
 * Flow of one connection: CONNECT → cx_ctx_new (copies the request into
 * JSON values the accessors read) → cx_ctx_start (has_permission,
 * build_groups, the authentication message, post_authentication) → for each
 * RECEIVE, cx_ctx_receive (validate, receive_message, completion; a frame
 * that may carry Chanx's topic envelope goes through topics.c first) →
 * DISCONNECT → cx_ctx_stop and cx_ctx_destroy. The send side of the API is
 * in send.c. cx_ctx_new and cx_ctx_destroy run on the link thread; start,
 * receive and stop on the connection's pool thread, as mail of its actor
 * (workers/actor.c), which is what makes the ctx safe to use without locks.
 */
#include "workers/context_internal.h"
#include "workers/topics.h"
#include "common/http_status.h"
#include "common/invariant.h"
#include "common/log.h"
#include "common/subprotocol.h"
#include "common/metrics.h"
#include "workers/camel.h"
#include "workers/request_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *OK_TEXT = "OK";
/* The authentication message of an accepted connection, as send_authentication would build it
 * (DRF's status and detail; camelized with CHANX_CAMELIZE): the same text for every connection. */
static const char AUTHENTICATED[] =
    "{\"action\":\"authentication\",\"payload\":{\"status_code\":200,\"status_text\":\"OK\",\"data\":{\"detail\":\"OK\"}}}";
static const char AUTHENTICATED_CAMEL[] =
    "{\"action\":\"authentication\",\"payload\":{\"statusCode\":200,\"statusText\":\"OK\",\"data\":{\"detail\":\"OK\"}}}";
static const char *PERMISSION_DENIED = "You do not have permission to perform this action.";

static int flag_on(chanx_flag flag, int deployment_default)
{
    return flag == CHANX_DEFAULT ? deployment_default : flag == CHANX_ON;
}

static json_t *parse_or_empty(cx_slice text)
{
    json_t *value = text.len ? json_loadb(text.ptr, text.len, 0, NULL) : NULL;
    return value ? value : json_object();
}


/* Text forms of the URL kwargs, so chanx_url_kwarg() can hand out strings for int converters too. */
static json_t *kwargs_as_text(const json_t *kwargs)
{
    json_t *text = json_object();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) kwargs, key, value) {
        if (json_is_string(value))
            json_object_set(text, key, value);
        else if (json_is_integer(value)) {
            char buf[32];
            snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
            json_object_set_new(text, key, json_string(buf));
        }
    }
    return text;
}

/* ?since=E:N (repeatable) as one "E:N,E:N" for the broker, which picks the entry of each group's
 * epoch (broker/history.c). At most 1 KiB, so a huge value cannot bloat every GROUP_ADD: an entry
 * that does not fit whole is left out (its group is told recovered: false), never cut. */
static char *since_of(const json_t *query)
{
    char out[1024] = "";
    size_t n = 0, i;
    int asked = 0;
    json_t *v;
    json_array_foreach(json_object_get(query, "since"), i, v) {
        const char *s = json_string_value(v);
        size_t len = s ? strlen(s) : 0;
        asked = 1;
        if (len == 0 || n + len + 2 > sizeof out)
            continue;
        if (n)
            out[n++] = ',';
        memcpy(out + n, s, len + 1);
        n += len;
    }
    return strdup(asked && n == 0 ? "-" : out);   /* asked but nothing usable: recovered false, not silence */
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The consumer's declared history and presence pushes, as GROUP_ADD and RESUME carry them
 * (broker/history.c, broker/presence.c). */
static void declared_history(chanx_ctx *self)
{
    const chanx_consumer *d = self->consumer->desc;
    uint32_t size = d->history_size == CHANX_HISTORY_DEFAULT ? CX_HISTORY_DEFAULT
                    : d->history_size > 0 ? (uint32_t) d->history_size : 0;
    self->history_size = size;
    self->group_add_flags = d->presence_pushes ? CX_GROUP_ADD_PRESENCE : 0;
    self->history_ttl_ms = !size ? 0
                           : d->history_ttl > 0 && d->history_ttl <= 86400 ? (uint32_t) d->history_ttl * 1000u
                                                                          : CX_HISTORY_DEFAULT;
}

chanx_ctx *cx_ctx_new(const cx_services *services, cx_consumer_entry *consumer, const cx_env *c)
{
    chanx_ctx *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->services = services;
    self->consumer = consumer;
    self->conn = c->conn;
    self->state = calloc(1, consumer->desc->state_size ? consumer->desc->state_size : 1);
    self->username = cx_slice_dup(c->username);
    self->path = cx_slice_dup(c->path);
    self->client = cx_slice_dup(c->client);
    self->kwargs = parse_or_empty(c->kwargs);
    self->kwargs_text = kwargs_as_text(self->kwargs);
    self->headers_text = c->headers.len ? malloc(c->headers.len) : NULL;
    if (self->headers_text) {
        memcpy(self->headers_text, c->headers.ptr, c->headers.len);
        self->headers_len = c->headers.len;
    }
    self->query = cx_query_parse(c->query.ptr, c->query.len);
    self->obj = c->obj.len ? json_loadb(c->obj.ptr, c->obj.len, 0, NULL) : NULL;
    self->since = since_of(self->query);
    self->connected_ms = c->connected_ms ? (int64_t) c->connected_ms : wall_ms();   /* the gateway's, as the broker has it */
    declared_history(self);
    self->user = (chanx_user) {
        .id = c->user_id, .username = self->username,
        .is_authenticated = (c->flags & CX_USER_AUTHENTICATED) != 0,
        .is_staff = (c->flags & CX_USER_STAFF) != 0, .is_superuser = (c->flags & CX_USER_SUPERUSER) != 0,
    };
    self->object_verdict = c->flags & (CX_USER_OBJECT_NOT_FOUND | CX_USER_OBJECT_DENIED);
    self->restarted = (c->flags & CX_USER_RESTARTED) != 0;
    self->auth_class = (c->flags & CX_USER_AUTH_TOKEN) ? CHANX_TOKEN_AUTH
                       : (c->flags & CX_USER_AUTH_SESSION) ? CHANX_SESSION_AUTH
                       : (c->flags & CX_USER_AUTH_JWT) ? CHANX_JWT_AUTH : NULL;
    const cx_settings *s = services->settings;
    const chanx_consumer *d = consumer->desc;
    self->send_completion = flag_on(d->send_completion, s->send_completion);
    self->log_received = flag_on(d->log_received_message, s->log_received_message);
    self->log_sent = flag_on(d->log_sent_message, s->log_sent_message);
    self->camelize = flag_on(d->camelize, s->camelize);
    const char *mark = memchr(c->consumer.ptr, CX_TOPIC_ROUTE_MARK, c->consumer.len);
    if (mark)   /* "<plugin>.<consumer>#<topic>": a topic's own route */
        self->own_topic = cx_topic_decls_named(consumer->topics, mark + 1,
                                               c->consumer.len - (size_t) (mark + 1 - c->consumer.ptr));
    if (!self->state || !self->username || !self->path || !self->client || !self->since) {
        cx_ctx_destroy(&self);
        return NULL;
    }
    cx_plugin_ref(consumer->plugin);
    cx_consumer_count_instance(consumer->metrics, 1);
    return self;
}

void cx_ctx_destroy(chanx_ctx **self_p)
{
    if (!self_p || !*self_p)
        return;
    chanx_ctx *self = *self_p;
    if (self->state && self->username && self->path && self->client) {
        cx_consumer_count_instance(self->consumer->metrics, -1);
        cx_plugin_unref(self->consumer->plugin);
    }
    cx_topics_release(self);
    for (size_t i = 0; i < self->ngroups; i++)
        free(self->groups[i]);
    free(self->groups);
    free(self->timers);
    free(self->state);
    free(self->username);
    free(self->path);
    free(self->client);
    json_decref(self->kwargs);
    json_decref(self->kwargs_text);
    free(self->headers_text);
    json_decref(self->headers);
    json_decref(self->cookies);
    json_decref(self->query);
    free(self->since);
    json_decref(self->obj);
    free(self);
    *self_p = NULL;
}

cx_consumer_entry *cx_ctx_consumer(const chanx_ctx *self)
{
    return self->consumer;
}

int cx_ctx_closed(const chanx_ctx *self)
{
    return self->closed;
}

/* ------------------------------------------------------------ lifecycle */

static int send_authentication(chanx_ctx *self, int status, const char *status_text, const char *detail)
{
    const cx_settings *s = self->services->settings;
    /* A restarted consumer's client was told once, by the consumer before it (chanx_restarted). */
    if (self->restarted || !flag_on(self->consumer->desc->send_authentication_message, s->send_authentication_message))
        return 0;
    if (status == 200 && status_text == OK_TEXT && detail == OK_TEXT && !self->topic && !self->ref) /* prebuilt */
        return cx_ctx_send_text(self, self->camelize ? AUTHENTICATED_CAMEL : AUTHENTICATED, "authentication");
    json_t *payload = json_pack("{s:i, s:s, s:{s:s}}", "status_code", status, "status_text", status_text,
                                "data", "detail", detail);
    int rc = chanx_send_message(self, "authentication", payload);
    json_decref(payload);
    return rc;
}

static int refuse(chanx_ctx *self, int status, const char *detail, const char *why)
{
    send_authentication(self, status, cx_http_status_text(status), detail);
    chanx_close(self, 4000 + status);
    chanx_log(self, CHANX_LOG_INFO, "refused by %s (%d)", why, status);
    return -1;
}

/* DRF's order: has_permission, then the object the gateway looked up (its verdict came with CONNECT). */
static int start(chanx_ctx *self)
{
    const chanx_consumer *d = self->consumer->desc;
    chanx_denial denial = { 0, NULL };
    cx_ctx_crash_enter(self, "has_permission", NULL);
    int permitted = !d->has_permission || d->has_permission(self, &denial) == CHANX_OK;
    cx_crash_leave();
    if (!permitted)
        return refuse(self, denial.status ? denial.status : 403, denial.detail ? denial.detail : PERMISSION_DENIED,
                      "has_permission");
    if (self->object_verdict & CX_USER_OBJECT_NOT_FOUND)
        return refuse(self, 404, "Not found.", "the queryset");
    if (self->object_verdict & CX_USER_OBJECT_DENIED)
        return refuse(self, 403, PERMISSION_DENIED, "object_permission");
    /* The joins go first: the authentication message is the client's ready point (consumer.h). Its
     * SEND leaves on the same FIFO and broker socket as the GROUP_ADDs before it, and the broker
     * applies each GROUP_ADD (and forwards it to the gateway) before it forwards the SEND, so when
     * the client reads the message its groups are in effect everywhere an event can be routed. */
    if (d->build_groups) {
        chanx_groups groups = { self };
        cx_ctx_crash_enter(self, "build_groups", NULL);
        int rc = d->build_groups(self, &groups);
        cx_crash_leave();
        if (rc != CHANX_OK)
            chanx_log(self, CHANX_LOG_ERROR, "build_groups failed");
    }
    send_authentication(self, 200, OK_TEXT, OK_TEXT);
    if (d->post_authentication) {
        cx_ctx_crash_enter(self, "post_authentication", NULL);
        int rc = d->post_authentication(self);
        cx_crash_leave();
        if (rc != CHANX_OK)
            chanx_log(self, CHANX_LOG_ERROR, "post_authentication failed");
    }
    return 0;
}

int cx_ctx_start(chanx_ctx *self)
{
    CX_ASSERT(!self->ending, "connection %llu started after its disconnect", (unsigned long long) self->conn);
    double started = cx_metrics_now();
    int rc = start(self);
    if (rc == 0)
        cx_topics_start(self);
    cx_consumer_observe_connect(self->consumer->metrics, cx_metrics_now() - started);
    return rc;
}

static void send_completion(chanx_ctx *self)
{
    if (self->send_completion)
        chanx_send_message(self, "complete", NULL);
}

/* Parses, converts camelCase keys when asked, and validates. Returns the message or NULL after replying.
 * Key conversion must come between parsing and validating, so camelized consumers (and consumers
 * without a schema) parse with cx_schema_parse: the same json_invalid / model_type errors either way.
 * A frame that may carry Chanx's envelope (topics.h) is parsed too, then either handled as a topic
 * frame (*handled, NULL) or stripped of its envelope and checked as the consumer's own; its ref
 * stays set for the replies until cx_topics_done. */
static json_t *validated(chanx_ctx *self, const char *text, size_t len, int *handled)
{
    cx_schema *schema = self->consumer->schema;
    json_t *errors = NULL, *message = NULL;
    int envelope = cx_topics_candidate(self, text, len);
    *handled = 0;
    if (!envelope && !self->camelize && schema) {
        if (cx_schema_validate(schema, text, len, &message, &errors) == 0)
            return message;
    } else if (cx_schema_parse(text, len, &message, &errors) == 0) {
        if (self->camelize) {
            json_t *wire = message;
            message = cx_json_snakeize(wire);
            json_decref(wire);
        }
        if (envelope && message && cx_topics_route(self, message) == CX_TOPICS_HANDLED) {
            json_decref(message);
            *handled = 1;
            return NULL;
        }
        if (message && (!schema || cx_schema_validate_object(schema, message, &errors) == 0))
            return message;
        json_decref(message);
    }
    chanx_send_message(self, "error", errors);
    json_decref(errors);
    return NULL;
}

/* "%08x" of n (32 bits: always 8 digits), as the logs show it, without snprintf (about 800 instructions,
 * per message). */
static void message_id(char out[16], uint32_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 7; i >= 0; i--, n >>= 4)
        out[i] = hex[n & 15];
    out[8] = '\0';
}

void cx_ctx_receive(chanx_ctx *self, const char *text, size_t len)
{
    /* After disconnect the consumer may have freed what its state points to: its receive would crash. */
    CX_ASSERT(!self->ending, "a frame for connection %llu handled after its disconnect",
              (unsigned long long) self->conn);
    message_id(self->message_id, ++self->received);
    int handled = 0;
    json_t *message = validated(self, text, len, &handled);
    if (!message) {
        if (!handled) {
            cx_consumer_count_invalid(self->consumer->metrics);
            if (self->log_received)
                cx_ctx_log_message(self, "Received invalid websocket json", NULL, NULL);
        }
        cx_topics_done(self);
        if (!handled)   /* a topic frame's completion went out on its topic, if it had one (topics.c) */
            send_completion(self);
        self->message_id[0] = '\0';
        return;
    }
    const char *key = self->consumer->desc->action_key ? self->consumer->desc->action_key : "action";
    chanx_msg msg = { message, json_string_value(json_object_get(message, key)), json_object_get(message, "payload") };
    if (!msg.action)
        msg.action = "";
    if (json_is_null(msg.payload))
        msg.payload = NULL;
    if (self->log_received)
        cx_ctx_log_message(self, "Received websocket json", msg.action, NULL);
    double started = cx_metrics_now();
    cx_ctx_crash_enter(self, "receive_message", msg.action);
    int rc = self->consumer->desc->receive_message(self, &msg);
    cx_crash_leave();
    cx_consumer_count_message(self->consumer->metrics, msg.action, rc == CHANX_OK, cx_metrics_now() - started);
    if (rc != CHANX_OK)
        cx_ctx_answer_handler_error(self, msg.action, NULL);
    json_decref(message);
    cx_topics_done(self);
    send_completion(self);
    self->message_id[0] = '\0';
}

void cx_ctx_stop(chanx_ctx *self, int close_code)
{
    CX_ASSERT(!self->ending, "connection %llu disconnected twice", (unsigned long long) self->conn);
    self->ending = 1;
    cx_topics_stop(self);   /* every topic is left first, as Chanx's websocket_disconnect */
    double started = cx_metrics_now();
    if (self->consumer->desc->disconnect) {
        cx_ctx_crash_enter(self, "disconnect", NULL);
        self->consumer->desc->disconnect(self, close_code);
        cx_crash_leave();
    }
    cx_consumer_observe_disconnect(self->consumer->metrics, cx_metrics_now() - started);
    /* The broker forgets the connection's groups by itself on DISCONNECT. */
}

/* ------------------------------------------------------------ accessors */

void *chanx_state(chanx_ctx *ctx) { return ctx->state; }
const chanx_user *chanx_user_of(const chanx_ctx *ctx) { return &ctx->user; }
const json_t *chanx_obj(const chanx_ctx *ctx) { return ctx->obj; }
const char *chanx_consumer_name(const chanx_ctx *ctx) { return ctx->consumer->name; }
uint64_t chanx_connection_id(const chanx_ctx *ctx) { return ctx->conn; }
const char *chanx_auth_class(const chanx_ctx *ctx) { return ctx->auth_class; }
int chanx_restarted(const chanx_ctx *ctx) { return ctx->restarted; }
const char *chanx_path(const chanx_ctx *ctx) { return ctx->path; }
const char *chanx_client_addr(const chanx_ctx *ctx) { return ctx->client; }
const json_t *chanx_url_kwargs(const chanx_ctx *ctx) { return ctx->kwargs; }
const json_t *chanx_query_params(const chanx_ctx *ctx) { return ctx->query; }

/* The headers, parsed on first use (see context_internal.h). The ctx is const to its callers, but
 * these two fields are a cache: one connection's callbacks never run at once (consumer.h), so the
 * first reader fills them without a race. */
static json_t *request_headers(const chanx_ctx *ctx)
{
    chanx_ctx *self = (chanx_ctx *) ctx;
    if (!self->headers) {
        self->headers = parse_or_empty((cx_slice) { self->headers_text, self->headers_len });
        self->cookies = cx_cookies_parse(json_string_value(json_object_get(self->headers, "cookie")));
    }
    return self->headers;
}

const char *chanx_subprotocol(const chanx_ctx *ctx)
{
    /* The gateway forwards the offers without credentials and chose with the same rule. */
    return cx_subprotocol_choose(json_string_value(json_object_get(request_headers(ctx), "sec-websocket-protocol")),
                                 ctx->consumer->desc->subprotocols);
}

const char *chanx_header(const chanx_ctx *ctx, const char *name)
{
    return json_string_value(json_object_get(request_headers(ctx), name));
}

const char *chanx_cookie(const chanx_ctx *ctx, const char *name)
{
    request_headers(ctx);
    return json_string_value(json_object_get(ctx->cookies, name));
}

const char *chanx_url_kwarg(const chanx_ctx *ctx, const char *name)
{
    return json_string_value(json_object_get(ctx->kwargs_text, name));
}

const char *chanx_query_param(const chanx_ctx *ctx, const char *name)
{
    return json_string_value(json_array_get(json_object_get(ctx->query, name), 0));
}

const char *chanx_msg_action(const chanx_msg *msg) { return msg->action; }
int chanx_msg_is(const chanx_msg *msg, const char *action) { return strcmp(msg->action, action) == 0; }
const json_t *chanx_msg_payload(const chanx_msg *msg) { return msg->payload; }
const json_t *chanx_msg_json(const chanx_msg *msg) { return msg->json; }
