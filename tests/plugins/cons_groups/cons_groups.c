/*
 * cons_groups — a consumer whose every action is one group feature, so that
 * end-to-end tests (tests/e2e/test_consumer_groups.c) can drive group
 * messages, explicit groups, dynamic membership, ordering and the
 * disconnect callback from a WebSocket client.
 *
 * Mounted at ws/cons_groups/<room>/; each connection joins "room_<room>".
 * Connections that send "observe" join "observers", where every other
 * connection reports its disconnect and close code. "join_many" and
 * "to_many" join, or send to, <prefix>0 .. <prefix><count - 1>.
 */
#include <chanx/consumer.h>
#include <stdio.h>
#include <stdlib.h>

static int group_of_payload(chanx_ctx *ctx, const chanx_msg *msg, const char *reply)
{
    const char *group = json_string_value(json_object_get(chanx_msg_payload(msg), "group"));
    int rc = chanx_msg_is(msg, "join") ? chanx_group_add(ctx, group) : chanx_group_discard(ctx, group);
    return rc == CHANX_OK ? chanx_send_message(ctx, reply, chanx_msg_payload(msg)) : rc;
}

/* Alternates group and direct messages to the sender: their order on the wire must be send order. */
static int mixed(chanx_ctx *ctx, const chanx_msg *msg)
{
    json_int_t count = json_integer_value(json_object_get(chanx_msg_payload(msg), "count"));
    for (json_int_t i = 0; i < count; i++) {
        json_t *payload = json_pack("{s:I}", "i", i);
        int rc = i % 2 ? chanx_send_message(ctx, "seq", payload)
                       : chanx_send_group_message(ctx, "seq", payload, NULL, CHANX_INCLUDE_CURRENT);
        json_decref(payload);
        if (rc != CHANX_OK)
            return rc;
    }
    return CHANX_OK;
}

/* Joins <prefix>0 .. <prefix><count - 1>, and says how many it could ("joined_many"). */
static int join_many(chanx_ctx *ctx, const json_t *payload)
{
    const char *prefix = json_string_value(json_object_get(payload, "prefix"));
    json_int_t count = json_integer_value(json_object_get(payload, "count")), joined = 0;
    char name[200];
    for (; joined < count; joined++) {
        snprintf(name, sizeof name, "%s%lld", prefix, (long long) joined);
        if (chanx_group_add(ctx, name) != CHANX_OK)
            break;
    }
    json_t *reply = json_pack("{s:I}", "joined", joined);
    int rc = chanx_send_message(ctx, "joined_many", reply);
    json_decref(reply);
    return rc;
}

/* One group message to the explicit groups <prefix>0 .. <prefix><count - 1>. */
static int to_many(chanx_ctx *ctx, const json_t *payload)
{
    const char *prefix = json_string_value(json_object_get(payload, "prefix"));
    json_int_t count = json_integer_value(json_object_get(payload, "count"));
    char **names = calloc((size_t) count + 1, sizeof *names);
    for (json_int_t i = 0; names && i < count; i++)
        if (asprintf(&names[i], "%s%lld", prefix, (long long) i) < 0)
            names[i] = NULL;
    int rc = names ? chanx_send_group_message(ctx, "to_many", payload, (const char *const *) names,
                                              CHANX_EXCLUDE_CURRENT) : CHANX_ERROR;
    for (json_int_t i = 0; names && i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    const json_t *payload = chanx_msg_payload(msg);
    if (chanx_msg_is(msg, "join_many"))
        return join_many(ctx, payload);
    if (chanx_msg_is(msg, "to_many"))
        return to_many(ctx, payload);
    if (chanx_msg_is(msg, "say")) {
        int include = json_is_true(json_object_get(payload, "include"));
        return chanx_send_group_message(ctx, "say", payload, NULL, include ? CHANX_INCLUDE_CURRENT
                                                                           : CHANX_EXCLUDE_CURRENT);
    }
    if (chanx_msg_is(msg, "to")) {
        const char *groups[] = { json_string_value(json_object_get(payload, "group")), NULL };
        return chanx_send_group_message(ctx, "to", payload, groups, CHANX_EXCLUDE_CURRENT);
    }
    if (chanx_msg_is(msg, "raw")) {
        json_t *m = json_pack("{s:s, s:O}", "kind", "raw", "body", (json_t *) payload);
        int rc = chanx_send_group_json(ctx, m, NULL, CHANX_INCLUDE_CURRENT);
        json_decref(m);
        return rc;
    }
    if (chanx_msg_is(msg, "join"))
        return group_of_payload(ctx, msg, "joined");
    if (chanx_msg_is(msg, "leave"))
        return group_of_payload(ctx, msg, "left");
    if (chanx_msg_is(msg, "direct"))
        return chanx_send_message(ctx, "direct", payload);
    if (chanx_msg_is(msg, "mixed"))
        return mixed(ctx, msg);
    if (chanx_msg_is(msg, "observe"))
        return chanx_group_add(ctx, "observers") == CHANX_OK ? chanx_send_message(ctx, "observing", NULL)
                                                             : CHANX_ERROR;
    return CHANX_OK;
}

static int build_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    return chanx_groups_addf(groups, "room_%s", chanx_url_kwarg(ctx, "room"));
}

static void disconnect(chanx_ctx *ctx, int close_code)
{
    static const char *const observers[] = { "observers", NULL };
    json_t *payload = json_pack("{s:i, s:I}", "code", close_code, "user", (json_int_t) chanx_user_of(ctx)->id);
    chanx_send_group_message(ctx, "disconnected", payload, observers, CHANX_EXCLUDE_CURRENT);
    json_decref(payload);
}

CHANX_CONSUMER(room) {
    .routes = CHANX_ROUTES("<str:room>/"),
    .incoming = "{\"observe\": null,"
                " \"say\": {\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\"},"
                "                                                \"include\": {\"type\": \"boolean\"}}},"
                " \"to\": {\"type\": \"object\", \"required\": [\"group\", \"text\"],"
                "          \"properties\": {\"group\": {\"type\": \"string\"}, \"text\": {\"type\": \"string\"}}},"
                " \"raw\": {\"type\": \"object\"},"
                " \"join\": {\"type\": \"object\", \"required\": [\"group\"],"
                "            \"properties\": {\"group\": {\"type\": \"string\", \"minLength\": 1}}},"
                " \"leave\": {\"type\": \"object\", \"required\": [\"group\"],"
                "             \"properties\": {\"group\": {\"type\": \"string\", \"minLength\": 1}}},"
                " \"direct\": {\"type\": \"object\"},"
                " \"join_many\": {\"type\": \"object\", \"required\": [\"prefix\", \"count\"]},"
                " \"to_many\": {\"type\": \"object\", \"required\": [\"prefix\", \"count\"]},"
                " \"mixed\": {\"type\": \"object\", \"required\": [\"count\"],"
                "             \"properties\": {\"count\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 5000}}}}",
    .send_completion = CHANX_ON,
    .build_groups = build_groups,
    .receive_message = receive_message,
    .disconnect = disconnect,
};
