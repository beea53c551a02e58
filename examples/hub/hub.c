/*
 * hub — many streams over one socket: Chanx 2.10's topics (ws/hub/).
 *
 * The consumer itself answers "ping" with "pong" (carrying the frame's ref
 * when it has one). Its topic room:{name} (declared as RoomTopic, so
 * "room:lobby" is the channel group "RoomTopic.room-lobby", as Chanx names
 * it) may be subscribed to by any authenticated user, except rooms whose
 * name starts with "staff-", which need is_staff. A subscriber is welcomed
 * with {"topic", "user"}; "say" reaches every subscriber of the room as
 * "said", the sender included; "echo" is answered to the sender alone, with
 * the request's ref; "announce", published by the application to the topic
 * (POST /api/broadcast {"topic": "room:lobby", "event": {...}}), reaches the
 * subscribers as it is. The same topic is served on its own route,
 * ws/hub/room/<name>/, where connecting is the subscription and frames need
 * no envelope (Chanx's Topic.as_consumer()).
 *
 * A room keeps its last 100 messages for 10 minutes (issue 25): every "said"
 * carries the room's "seq", "subscribed" carries {"epoch", "seq"}, and a
 * client back from a tunnel subscribes with "payload": {"since": {"epoch": E,
 * "seq": N}} (on the room's own route: ?since=E:N) and gets "recovered": true
 * and exactly what it missed, or "recovered": false and reloads. "who" is
 * answered "present" with the room's users (chanx_topic_presence), with the
 * request's ref.
 *
 *     -> {"version": 1, "topic": "room:lobby", "ref": "1", "action": "subscribe"}
 *     <- {"version": 1, "topic": "room:lobby", "ref": "1", "action": "subscribed", "payload": {"epoch": "9f2c61d0a4b3e857", "seq": 41}}
 *     <- {"version": 1, "topic": "room:lobby", "action": "welcome", "payload": {"topic": "room:lobby", "user": "alice"}}
 *     -> {"version": 1, "topic": "room:lobby", "ref": "2", "action": "say", "payload": {"text": "hi"}}
 *     <- {"version": 1, "topic": "room:lobby", "action": "said", "payload": {"text": "hi", "user": "alice"}, "seq": 42}
 *     -> {"version": 1, "topic": "room:lobby", "ref": "3", "action": "who"}
 *     <- {"version": 1, "topic": "room:lobby", "ref": "3", "action": "present", "payload": {"group": ..., "users": [...], ...}}
 */
#include <chanx/consumer.h>
#include <string.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    return CHANX_OK;
}

static int authorize_room(chanx_ctx *ctx)
{
    const char *name = chanx_topic_param(ctx, "name");
    if (strncmp(name, "staff-", 6) == 0 && !chanx_user_of(ctx)->is_staff)
        return CHANX_ERROR;
    return CHANX_OK;
}

static int welcome(chanx_ctx *ctx)
{
    json_t *payload = json_pack("{s:s, s:s}", "topic", chanx_topic_name(ctx), "user", chanx_user_of(ctx)->username);
    int rc = chanx_send_message(ctx, "welcome", payload);
    json_decref(payload);
    return rc;
}

static int receive_room(chanx_ctx *ctx, const chanx_msg *msg)
{
    const json_t *text = json_object_get(chanx_msg_payload(msg), "text");
    json_t *payload = json_pack("{s:O}", "text", (json_t *) text);
    int rc = CHANX_OK;
    if (chanx_msg_is(msg, "say")) {
        json_object_set_new(payload, "user", json_string(chanx_user_of(ctx)->username));
        rc = chanx_topic_publish(ctx, chanx_topic_name(ctx), "said", payload);
    } else if (chanx_msg_is(msg, "echo")) {
        rc = chanx_send_message(ctx, "echoed", payload);
    } else if (chanx_msg_is(msg, "who")) {
        json_t *present = chanx_topic_presence(ctx, 0);   /* NULL: the broker did not answer */
        rc = chanx_send_message(ctx, "present", present);
        json_decref(present);
    }
    json_decref(payload);
    return rc;
}

static const chanx_topic room = {
    .name = "RoomTopic",
    .pattern = "room:{name}",
    .route = "room/<str:name>/",
    .incoming = "{ \"say\": {\"type\": \"object\","
                "            \"properties\": {\"text\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 1000}},"
                "            \"required\": [\"text\"]},"
                "  \"echo\": {\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\"}},"
                "            \"required\": [\"text\"]},"
                "  \"who\": null }",
    .outgoing = "{ \"welcome\": {\"type\": \"object\", \"properties\": {\"topic\": {\"type\": \"string\"},"
                "                                                  \"user\": {\"type\": \"string\"}}},"
                "  \"said\": {\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\"},"
                "                                               \"user\": {\"type\": \"string\"}}},"
                "  \"echoed\": {\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\"}}},"
                "  \"present\": {\"type\": \"object\", \"properties\": {\"users\": {\"type\": \"array\"}}} }",
    .authorize = authorize_room,
    .on_subscribe = welcome,
    .receive_message = receive_room,
    .passthrough_events = CHANX_ACTIONS("announce"),
    .history_size = 100,   /* messages */
    .history_ttl = 600,    /* seconds */
};

CHANX_CONSUMER(hub) {
    .permissions = CHANX_PERMISSIONS(CHANX_IS_AUTHENTICATED),
    .incoming = "{\"ping\": null}",
    .outgoing = "{\"pong\": null}",
    .receive_message = receive_message,
    .topics = CHANX_TOPICS(&room),
};
