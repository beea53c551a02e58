/*
 * abi_v1 — a consumer built against plugin API 1's header (tests/abi/v1),
 * the release before descriptors carried their size: its CHANX_CONSUMER
 * calls chanx_register_consumer without one. It sets every field API 1 has,
 * down to the last (log_ignored_actions), with values other than their
 * defaults, so a worker that read an API 1 descriptor past its end or at
 * the wrong offsets would behave differently (tests/e2e/test_abi.c).
 *
 *   routes        "<int:room>/"; the queryset reads the room back, the
 *                 object permission closes room 7, has_permission room 13
 *   groups        "room_<room>"; "shout" reaches the room
 *   state         counts the messages of one connection
 *   flags         send_completion on, camelize on, authentication message on
 *   ignored       "ping" is never logged, "count_up" is
 */
#include <chanx/consumer.h>   /* tests/abi/v1/chanx/consumer.h: built with -I tests/abi/v1 */

#if CHANX_API_VERSION != 1
#error "abi_v1 must be built against the plugin API 1 header"
#endif

typedef struct {
    int count;
} counter;

static int has_permission(chanx_ctx *ctx, chanx_denial *denial)
{
    if (json_integer_value(json_object_get(chanx_url_kwargs(ctx), "room")) == 13) {
        denial->status = 403;
        denial->detail = "room 13 is closed";
        return CHANX_ERROR;
    }
    return CHANX_OK;
}

static int build_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    return chanx_groups_addf(groups, "room_%s", chanx_url_kwarg(ctx, "room"));
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    counter *c = chanx_state(ctx);
    c->count++;
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    if (chanx_msg_is(msg, "count_up")) {
        json_t *payload = json_pack("{s:i, s:O}", "message_count", c->count, "room_row", chanx_obj(ctx));
        int rc = chanx_send_message(ctx, "count", payload);
        json_decref(payload);
        return rc;
    }
    if (chanx_msg_is(msg, "shout"))
        return chanx_send_group_message(ctx, "shout", chanx_msg_payload(msg), NULL, CHANX_INCLUDE_CURRENT);
    return CHANX_OK;
}

CHANX_CONSUMER(v1) {
    .routes = CHANX_ROUTES("<int:room>/"),
    .authentication = CHANX_AUTHENTICATION(CHANX_TOKEN_AUTH),
    .permissions = CHANX_PERMISSIONS(CHANX_IS_AUTHENTICATED),
    .queryset = "SELECT $room::int AS room_number, $user_id::int AS user_id",
    .object_permission = "SELECT 1 WHERE $room::int <> 7",
    .auth_method = "GET",
    .incoming = "{\"ping\": null, \"count_up\": null,"
                " \"shout\": {\"type\": \"object\", \"properties\": {\"loud_text\": {\"type\": \"string\"}},"
                "            \"required\": [\"loud_text\"], \"additionalProperties\": false}}",
    .action_key = "action",
    .state_size = sizeof(counter),
    .has_permission = has_permission,
    .build_groups = build_groups,
    .receive_message = receive_message,
    .send_completion = CHANX_ON,
    .send_authentication_message = CHANX_ON,
    .log_received_message = CHANX_ON,
    .log_sent_message = CHANX_ON,
    .camelize = CHANX_ON,
    .log_ignored_actions = CHANX_ROUTES("ping", "pong"),
};
