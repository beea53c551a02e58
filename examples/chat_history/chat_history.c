/*
 * chat_history — the chat example with its messages kept in PostgreSQL, the
 * consumer a Django developer writes with the ORM (Message.objects.create,
 * Message.objects.filter(room=...).order_by("-id")[:50]).
 *
 *   ws/chat_history/<room_id>/
 *   on connect           → {"action":"history","payload":{"messages":[...last 50, oldest first],
 *                                                         "has_more": bool}}
 *   chat {message}       stored, then to the whole room, sender included:
 *                        {"action":"chat","payload":{"id","username","message","created"},
 *                         "is_mine","is_current"}
 *   history {before: id} → the 50 messages before id, in the same shape as on connect
 *   ping                 → pong
 *
 * Its table is db/chat_history.sql. Each database call blocks this
 * connection's thread only (see "Doing work in a consumer" in docs/consumers.md);
 * a failed one is logged by the worker and answered with Chanx's generic
 * error, never with the database's message.
 */
#include <chanx/consumer.h>
#include <chanx/db.h>

#define PAGE 50

/* One page of the room's messages before `before` (NULL: the newest), oldest first. */
static int send_page(chanx_ctx *ctx, const json_t *before)
{
    json_t *params = json_pack("[s, O, i]", chanx_url_kwarg(ctx, "room_id"), before ? before : json_null(), PAGE + 1);
    json_t *rows = chanx_db_query(ctx,
        "SELECT id, username, message, created FROM ("
        "  SELECT id, username, message, created FROM chat_history_message"
        "  WHERE room = $1 AND ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $3"
        ") newest ORDER BY id", params);
    json_decref(params);
    if (!rows)
        return CHANX_ERROR;
    int has_more = json_array_size(rows) > PAGE;
    if (has_more)
        json_array_remove(rows, 0);   /* the extra row only told us there is more */
    json_t *payload = json_pack("{s:o, s:b}", "messages", rows, "has_more", has_more);
    int rc = chanx_send_message(ctx, "history", payload);
    json_decref(payload);
    return rc;
}

static int save_and_broadcast(chanx_ctx *ctx, const json_t *payload)
{
    const chanx_user *user = chanx_user_of(ctx);
    json_t *params = json_pack("[s, I, s, O]", chanx_url_kwarg(ctx, "room_id"), (json_int_t) user->id,
                               user->username, json_object_get(payload, "message"));
    json_t *rows = chanx_db_query(ctx,
        "INSERT INTO chat_history_message (room, user_id, username, message) VALUES ($1, $2, $3, $4)"
        " RETURNING id, username, message, created", params);
    json_decref(params);
    if (!rows)
        return CHANX_ERROR;
    int rc = chanx_send_group_message(ctx, "chat", json_array_get(rows, 0), NULL, CHANX_INCLUDE_CURRENT);
    json_decref(rows);
    return rc;
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    if (chanx_msg_is(msg, "chat"))
        return save_and_broadcast(ctx, chanx_msg_payload(msg));
    if (chanx_msg_is(msg, "history"))
        return send_page(ctx, json_object_get(chanx_msg_payload(msg), "before"));
    return CHANX_OK;
}

static int build_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    return chanx_groups_addf(groups, "chat_history_%s", chanx_url_kwarg(ctx, "room_id"));
}

static int post_authentication(chanx_ctx *ctx)
{
    return send_page(ctx, NULL);
}

CHANX_CONSUMER(chat) {
    .routes = CHANX_ROUTES("<str:room_id>/"),
    .permissions = CHANX_PERMISSIONS(CHANX_IS_AUTHENTICATED),
    .incoming = "{ \"ping\": null,"
                "  \"chat\": {\"type\": \"object\","
                "             \"properties\": {\"message\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 4096}},"
                "             \"required\": [\"message\"]},"
                "  \"history\": {\"type\": \"object\","
                "                \"properties\": {\"before\": {\"type\": \"integer\", \"minimum\": 1}},"
                "                \"required\": [\"before\"]} }",
    .log_ignored_actions = CHANX_ACTIONS("ping", "pong"),
    .build_groups = build_groups,
    .post_authentication = post_authentication,
    .receive_message = receive_message,
};
