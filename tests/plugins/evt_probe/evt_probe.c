/*
 * evt_probe — consumers for the end-to-end tests of server-side events
 * (tests/e2e/test_events*.c).
 *
 * feed, at ws/evt_probe/feed/<room>/: joins "room_<room>". Passes "notify"
 * through (the gateway delivers it as is) and handles "announce" (answers
 * "announced" with the payload, a server timestamp and the connection's
 * message count, so tests can see that events and messages share the
 * connection's order and state), "staff_only" (sent only to staff users: a
 * handler filtering by user), "kick" (closes with the payload's code) and
 * "nap" {"ms"} (answers "napping", then holds its thread that long, so the
 * connection's mailbox fills: CHANX_MAILBOX_MAX), "tick" {"n", "ms"} (holds its
 * thread ms, as a slow handler does, then answers "ticked" {"n"}). Messages: "count"
 * (increments and answers the count), "whoami" (the connection id as a
 * decimal string), "join" {"group"}.
 *
 * plain, at ws/evt_probe/plain/: knows no events at all.
 *
 * loose, at ws/evt_probe/loose/: takes "tally" and "announce" with any object
 * (answers "loose" with the whole event as it read it: a topic's stamp too), so the publish API, which refuses only
 * events no consumer could take, lets through events feed still drops.
 */
#include <chanx/consumer.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

typedef struct {
    json_int_t count;
} feed_state;

static int feed_receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    feed_state *st = chanx_state(ctx);
    if (chanx_msg_is(msg, "count")) {
        json_t *p = json_pack("{s:I}", "count", ++st->count);
        int rc = chanx_send_message(ctx, "count", p);
        json_decref(p);
        return rc;
    }
    if (chanx_msg_is(msg, "whoami")) {
        char id[32];
        snprintf(id, sizeof id, "%" PRIu64, chanx_connection_id(ctx));
        json_t *p = json_pack("{s:s, s:I}", "connection", id, "user_id", (json_int_t) chanx_user_of(ctx)->id);
        int rc = chanx_send_message(ctx, "whoami", p);
        json_decref(p);
        return rc;
    }
    if (chanx_msg_is(msg, "join")) {
        int rc = chanx_group_add(ctx, json_string_value(json_object_get(chanx_msg_payload(msg), "group")));
        return rc == CHANX_OK ? chanx_send_message(ctx, "joined", chanx_msg_payload(msg)) : rc;
    }
    return CHANX_OK;
}

static int feed_event(chanx_ctx *ctx, const chanx_msg *event)
{
    feed_state *st = chanx_state(ctx);
    const json_t *payload = chanx_msg_payload(event);
    if (chanx_msg_is(event, "announce")) {
        json_t *p = json_deep_copy(payload);
        json_object_set_new(p, "server_time", json_integer((json_int_t) time(NULL)));
        json_object_set_new(p, "count", json_integer(st->count));
        int rc = chanx_send_message(ctx, "announced", p);
        json_decref(p);
        return rc;
    }
    if (chanx_msg_is(event, "staff_only"))
        return chanx_user_of(ctx)->is_staff ? chanx_send_message(ctx, "staff_only", payload) : CHANX_OK;
    if (chanx_msg_is(event, "kick"))
        return chanx_close(ctx, (int) json_integer_value(json_object_get(payload, "code")));
    if (chanx_msg_is(event, "fail"))
        return CHANX_ERROR;
    if (chanx_msg_is(event, "tick")) {
        json_int_t ms = json_integer_value(json_object_get(payload, "ms"));
        struct timespec work = { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000L };
        nanosleep(&work, NULL);
        json_t *p = json_pack("{s:O}", "n", json_object_get(payload, "n"));
        int rc = chanx_send_message(ctx, "ticked", p);
        json_decref(p);
        return rc;
    }
    if (chanx_msg_is(event, "nap")) {
        json_int_t ms = json_integer_value(json_object_get(payload, "ms"));
        int rc = chanx_send_message(ctx, "napping", payload);
        struct timespec nap = { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000L };
        nanosleep(&nap, NULL);
        return rc;
    }
    return CHANX_OK;
}

static int feed_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    return chanx_groups_addf(groups, "room_%s", chanx_url_kwarg(ctx, "room"));
}

CHANX_CONSUMER(feed) {
    .routes = CHANX_ROUTES("feed/<str:room>/"),
    .incoming = "{\"count\": null, \"whoami\": null,"
                " \"join\": {\"type\": \"object\", \"properties\": {\"group\": {\"type\": \"string\"}}, \"required\": [\"group\"]}}",
    .state_size = sizeof(feed_state),
    .build_groups = feed_groups,
    .receive_message = feed_receive,
    .events = "{\"announce\": {\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}}, \"required\": [\"n\"]},"
              " \"staff_only\": null, \"fail\": null,"
              " \"tick\": {\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}, \"ms\": {\"type\": \"integer\"}},"
              "            \"required\": [\"n\", \"ms\"]},"
              " \"nap\": {\"type\": \"object\", \"properties\": {\"ms\": {\"type\": \"integer\"}}, \"required\": [\"ms\"]},"
              " \"kick\": {\"type\": \"object\", \"properties\": {\"code\": {\"type\": \"integer\"}}, \"required\": [\"code\"]}}",
    .passthrough_events = CHANX_ACTIONS("notify"),
    .receive_event = feed_event,
};

static int plain_receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "join"))
        return chanx_group_add(ctx, json_string_value(json_object_get(chanx_msg_payload(msg), "group"))) == CHANX_OK
                   ? chanx_send_message(ctx, "joined", NULL)
                   : CHANX_ERROR;
    return chanx_send_message(ctx, "pong", NULL);
}

CHANX_CONSUMER(plain) {
    .routes = CHANX_ROUTES("plain/"),
    .receive_message = plain_receive,
};

/* Takes "tally", which feed does not know, and "announce" with any object: events the publish API lets
 * through (some consumer can take them) that a feed connection still drops, unhandled or invalid. It
 * answers with the whole event it read. */
static int loose_event(chanx_ctx *ctx, const chanx_msg *event)
{
    return chanx_send_message(ctx, "loose", chanx_msg_json(event));
}

CHANX_CONSUMER(loose) {
    .routes = CHANX_ROUTES("loose/"),
    .receive_message = plain_receive,
    .events = "{\"tally\": null, \"announce\": {\"type\": \"object\"}}",
    .receive_event = loose_event,
};
