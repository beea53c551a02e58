/*
 * cons_probe — consumers that exist to let end-to-end tests see the
 * consumer framework from the outside (tests/e2e/test_consumer_*.c).
 *
 * Each consumer turns one part of the framework into something a WebSocket
 * client can observe: "strict" has a schema with one field per error type,
 * fails on demand, counts in its per-connection state and echoes its
 * context; "free" has no schema; "camel" is camelized; "quiet" and "logged"
 * differ only in their log flags. Mounted at ws/cons_probe/<route>.
 */
#include <chanx/consumer.h>

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ strict */

/* What the state keeps across messages: a counter and a heap string, so a
 * missed disconnect (or a missed free of the state) shows up as a leak. */
typedef struct {
    int count;
    char *history;
} probe_state;

static int count_message(chanx_ctx *ctx)
{
    probe_state *st = chanx_state(ctx);
    size_t len = st->history ? strlen(st->history) : 0;
    char *grown = realloc(st->history, len + 2);
    if (!grown)
        return CHANX_ERROR;
    grown[len] = (char) ('a' + st->count % 26);
    grown[len + 1] = '\0';
    st->history = grown;
    st->count++;
    json_t *payload = json_pack("{s:i, s:s}", "count", st->count, "history", st->history);
    int rc = chanx_send_message(ctx, "count", payload);
    json_decref(payload);
    return rc;
}

static json_t *or_null(const char *text)
{
    return text ? json_string(text) : json_null();
}

/* Everything the context accessors hand out, as one JSON object. */
static json_t *context_of(chanx_ctx *ctx)
{
    const chanx_user *u = chanx_user_of(ctx);
    json_t *user = json_pack("{s:I, s:s?, s:b, s:b, s:b}", "id", (json_int_t) u->id, "username", u->username,
                             "is_authenticated", u->is_authenticated, "is_staff", u->is_staff, "is_superuser",
                             u->is_superuser);
    json_t *c = json_object();
    json_object_set_new(c, "user", user);
    json_object_set_new(c, "kwargs", json_deep_copy(chanx_url_kwargs(ctx)));
    json_object_set_new(c, "num_text", or_null(chanx_url_kwarg(ctx, "num")));
    json_object_set_new(c, "query", json_deep_copy(chanx_query_params(ctx)));
    json_object_set_new(c, "q", or_null(chanx_query_param(ctx, "q")));
    json_object_set_new(c, "header", or_null(chanx_header(ctx, "accept-language")));
    json_object_set_new(c, "cookie", or_null(chanx_cookie(ctx, "flavor")));
    json_object_set_new(c, "custom_header", or_null(chanx_header(ctx, "x-request-id")));
    json_object_set_new(c, "unlisted_header", or_null(chanx_header(ctx, "x-not-forwarded")));
    json_object_set_new(c, "authorization", or_null(chanx_header(ctx, "authorization")));
    json_object_set_new(c, "client", or_null(chanx_client_addr(ctx)));
    json_object_set_new(c, "path", or_null(chanx_path(ctx)));
    json_object_set_new(c, "consumer", or_null(chanx_consumer_name(ctx)));
    json_object_set_new(c, "conn", json_integer((json_int_t) chanx_connection_id(ctx)));
    /* what must never arrive (credentials) and what says how the user came in */
    json_object_set_new(c, "auth_class", or_null(chanx_auth_class(ctx)));
    json_object_set_new(c, "cookie_header", or_null(chanx_header(ctx, "cookie")));
    json_object_set_new(c, "sessionid", or_null(chanx_cookie(ctx, "sessionid")));
    json_object_set_new(c, "token_param", or_null(chanx_query_param(ctx, "token")));
    return c;
}

static int strict_receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    if (chanx_msg_is(msg, "fail"))
        return CHANX_ERROR;
    if (chanx_msg_is(msg, "count"))
        return count_message(ctx);
    if (chanx_msg_is(msg, "typed"))
        return chanx_send_message(ctx, "typed", chanx_msg_payload(msg));
    if (chanx_msg_is(msg, "context")) {
        json_t *c = context_of(ctx);
        int rc = chanx_send_message(ctx, "context", c);
        json_decref(c);
        return rc;
    }
    return CHANX_OK;
}

static void strict_disconnect(chanx_ctx *ctx, int close_code)
{
    probe_state *st = chanx_state(ctx);
    (void) close_code;
    free(st->history);
    st->history = NULL;
}

CHANX_CONSUMER(strict) {
    .routes = CHANX_ROUTES("strict/", "ctx/<int:num>/<slug:name>/"),
    .incoming = "{\"ping\": null, \"fail\": null, \"count\": null, \"context\": null,"
                " \"typed\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"name\"],"
                "   \"properties\": {"
                "     \"name\": {\"type\": \"string\", \"maxLength\": 5},"
                "     \"age\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 150},"
                "     \"admin\": {\"type\": \"boolean\"},"
                "     \"color\": {\"enum\": [\"red\", \"green\"]},"
                "     \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}}}}",
    .state_size = sizeof(probe_state),
    .send_completion = CHANX_ON,
    .receive_message = strict_receive,
    .disconnect = strict_disconnect,
};

/* -------------------------------------------------------------------- free */

/* No schema: any JSON object reaches receive_message, and is echoed whole. */
static int free_receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    return chanx_send_message(ctx, "echo", chanx_msg_json(msg));
}

CHANX_CONSUMER(free) {
    .routes = CHANX_ROUTES("free/"),
    .receive_message = free_receive,
};

/* ------------------------------------------------------------------- camel */

/* Echoes the snake_case keys it saw; replies and group messages leave camelized. */
static int camel_receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    const json_t *payload = chanx_msg_payload(msg);
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    if (chanx_msg_is(msg, "shout"))
        return chanx_send_group_message(ctx, "shout", payload, NULL, CHANX_INCLUDE_CURRENT);
    json_t *seen = json_array();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) payload, key, value)
        json_array_append_new(seen, json_string(key));
    json_t *reply = json_pack("{s:o, s:O}", "seen_keys", seen, "first_name",
                              json_object_get(payload, "first_name"));
    int rc = chanx_send_message(ctx, "name_set", reply);
    json_decref(reply);
    return rc;
}

static int camel_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    (void) ctx;
    return chanx_groups_add(groups, "camel_room");
}

CHANX_CONSUMER(camel) {
    .routes = CHANX_ROUTES("camel/"),
    .incoming = "{\"ping\": null, \"set_name\": {\"type\": \"object\", \"additionalProperties\": false,"
                "   \"properties\": {\"first_name\": {\"type\": \"string\"}, \"last_name\": {\"type\": \"string\"}},"
                "   \"required\": [\"first_name\"]},"
                " \"shout\": {\"type\": \"object\", \"properties\": {\"text_body\": {\"type\": \"string\"}}}}",
    .camelize = CHANX_ON,
    .send_completion = CHANX_ON,
    .build_groups = camel_groups,
    .receive_message = camel_receive,
};

/* ------------------------------------------------------------- log flags */

static int hello_receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    return chanx_send_message(ctx, "hi", chanx_msg_payload(msg));
}

CHANX_CONSUMER(logged) {
    .routes = CHANX_ROUTES("logged/"),
    .incoming = "{\"ping\": null, \"hello\": {\"type\": \"string\"}}",
    /* Written as plugins did before CHANX_ACTIONS: that spelling must keep compiling and silencing
     * (consumer_logs/ignored_actions_and_log_flags_silence_records); new code says CHANX_ACTIONS. */
    .log_ignored_actions = CHANX_ROUTES("ping", "pong"),
    .receive_message = hello_receive,
};

CHANX_CONSUMER(quiet) {
    .routes = CHANX_ROUTES("quiet/"),
    .incoming = "{\"ping\": null, \"hello\": {\"type\": \"string\"}}",
    .log_received_message = CHANX_OFF,
    .log_sent_message = CHANX_OFF,
    .receive_message = hello_receive,
};
