/*
 * hist_probe — consumers whose groups keep a history, for the end-to-end
 * tests of history, recovery and presence (tests/e2e/test_history.c).
 *
 * ws/hist_probe/<room>/ joins "feed_<room>", whose broker history keeps 100
 * messages for 10 minutes; ws/hist_probe/brief/<room>/ joins "brief_<room>",
 * kept 100 messages for 1 second (the TTL test). "say" sends the payload to
 * the room as "said", the sender included; "burst" {"count": n} sends n
 * "said" {"i": 1..n}. ws/hist_probe/lobby/... also asks for presence pushes,
 * and "who" {"stats": bool} answers "present" with chanx_group_presence of
 * the room (or {"error": "no answer"} when it returns NULL).
 */
#include <chanx/consumer.h>
#include <stdio.h>

static int say_or_burst(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "say"))
        return chanx_send_group_message(ctx, "said", chanx_msg_payload(msg), NULL, CHANX_INCLUDE_CURRENT);
    if (!chanx_msg_is(msg, "burst"))
        return CHANX_OK;
    json_int_t count = json_integer_value(json_object_get(chanx_msg_payload(msg), "count"));
    for (json_int_t i = 1; i <= count; i++) {
        json_t *payload = json_pack("{s:I}", "i", i);
        int rc = chanx_send_group_message(ctx, "said", payload, NULL, CHANX_INCLUDE_CURRENT);
        json_decref(payload);
        if (rc != CHANX_OK)
            return rc;
    }
    return CHANX_OK;
}

static int who(chanx_ctx *ctx, const chanx_msg *msg)
{
    char group[300];
    snprintf(group, sizeof group, "feed_%s", chanx_url_kwarg(ctx, "room"));
    json_t *answer = chanx_group_presence(ctx, group, json_is_true(json_object_get(chanx_msg_payload(msg), "stats")));
    if (!answer)
        answer = json_pack("{s:s}", "error", "no answer");
    int rc = chanx_send_message(ctx, "present", answer);
    json_decref(answer);
    return rc;
}

static int feed_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    return chanx_msg_is(msg, "who") ? who(ctx, msg) : say_or_burst(ctx, msg);
}

static int feed_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    return chanx_groups_addf(groups, "feed_%s", chanx_url_kwarg(ctx, "room"));
}

static int brief_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    return chanx_groups_addf(groups, "brief_%s", chanx_url_kwarg(ctx, "room"));
}

CHANX_CONSUMER(feed) {
    .routes = CHANX_ROUTES("<str:room>/"),
    .build_groups = feed_groups,
    .receive_message = feed_message,
    .history_size = 100,
    .history_ttl = 600,
    .presence_pushes = 1,
};

CHANX_CONSUMER(brief) {
    .routes = CHANX_ROUTES("brief/<str:room>/"),
    .build_groups = brief_groups,
    .receive_message = say_or_burst,
    .history_size = 100,
    .history_ttl = 1,
};
