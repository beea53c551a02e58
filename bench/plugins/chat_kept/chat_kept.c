/*
 * chat_kept — the chat example (examples/chat) with its rooms keeping a
 * history: 100 messages for 10 minutes, the hub's room:{name} figures. The
 * benchmark's broadcast_history scenario drives it exactly as broadcast
 * drives chat, so the two figures side by side are the price of a history
 * on the broadcast path (every message held and re-encoded with its seq,
 * broker/recovery.c); the recover scenario reconnects its clients with
 * ?since= to have what they missed replayed. Same protocol as chat:
 * "chat" {"message"} goes to the whole room, the sender included.
 *
 * A copy of examples/chat/chat.c on purpose (duplicates lists it): the two
 * figures compare the same consumer with and without the two history fields,
 * and chat.c stays the README's first consumer, byte for byte.
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
    return chanx_groups_addf(groups, "kept_room_%s", chanx_url_kwarg(ctx, "room_id"));
}

CHANX_CONSUMER(chat_kept) {
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
    .history_size = 100,
    .history_ttl = 600,
};
