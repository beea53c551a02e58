/*
 * chat — the chat room of Chanx's example project: authenticated users join
 * the room named in the path (ws/chat/<room_id>/), "ping" is answered with
 * "pong", and a "chat" message goes to the whole room, the sender included,
 * each copy marked with is_mine (same user) and is_current (same connection).
 *
 * It is also what the benchmark's broadcast scenario drives, and what the
 * Django Channels peer (shared/peers/django-channels) answers the same way.
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    if (chanx_msg_is(msg, "chat"))
        return chanx_send_group_message(ctx, "chat", chanx_msg_payload(msg), NULL, CHANX_INCLUDE_CURRENT);
    return CHANX_OK;
}

static int build_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    return chanx_groups_addf(groups, "chat_room_%s", chanx_url_kwarg(ctx, "room_id"));
}

CHANX_CONSUMER(chat) {
    .routes = CHANX_ROUTES("<str:room_id>/"),
    .permissions = CHANX_PERMISSIONS(CHANX_IS_AUTHENTICATED),
    .incoming = "{ \"ping\": null,"
                "  \"chat\": {\"type\": \"object\","
                "             \"properties\": {\"message\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 4096}},"
                "             \"required\": [\"message\"]} }",
    .outgoing = "{ \"pong\": null,"
                "  \"chat\": {\"type\": \"object\", \"properties\": {\"message\": {\"type\": \"string\"}}} }",
    .log_ignored_actions = CHANX_ACTIONS("ping", "pong"),
    .build_groups = build_groups,
    .receive_message = receive_message,
    /* Django's group_send("chat_room_<id>", {"type": "notify", "payload": ...}) through the channel
     * layer of clients/python reaches every member as {"action":"notify","payload":...}, as in the
     * Django Channels chat it replaces. */
    .passthrough_events = CHANX_ACTIONS("notify"),
};
