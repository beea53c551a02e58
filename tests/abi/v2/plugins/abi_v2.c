/*
 * abi_v2 — a consumer built against plugin API 2's header (tests/abi/v2),
 * the release before topics: it registers its descriptor with API 2's size
 * and sets every field API 2 has, down to the last (throttle_rate), so a
 * worker that read an API 2 descriptor at the wrong size or offsets, or
 * took garbage for the .topics it cannot have, would behave differently
 * (tests/e2e/test_abi.c).
 *
 *   routes        "feed/<str:room>/" (at ws/abi_v2/), group "v2_<room>"
 *   subprotocols  "v2.chanx": the handshake answers it
 *   incoming      ping (answered with pong and the chosen subprotocol)
 *   events        "tick" {"n": integer}, handled by receive_event: "tock" {"n"}
 *   passthrough   "notice", delivered by the gateway as it is
 *   throttle      "1000/s": set, and high enough never to refuse the test's frames
 */
#include <chanx/consumer.h>   /* tests/abi/v2/chanx/consumer.h: built with -I tests/abi/v2 */

#if CHANX_API_VERSION != 2
#error "abi_v2 must be built against the plugin API 2 header"
#endif

static int build_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    return chanx_groups_addf(groups, "v2_%s", chanx_url_kwarg(ctx, "room"));
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (!chanx_msg_is(msg, "ping"))
        return CHANX_OK;
    const char *sub = chanx_subprotocol(ctx);
    json_t *payload = json_pack("{s:s}", "subprotocol", sub ? sub : "");
    int rc = chanx_send_message(ctx, "pong", payload);
    json_decref(payload);
    return rc;
}

static int receive_event(chanx_ctx *ctx, const chanx_msg *event)
{
    return chanx_send_message(ctx, "tock", chanx_msg_payload(event));
}

CHANX_CONSUMER(v2) {
    .routes = CHANX_ROUTES("feed/<str:room>/"),
    .permissions = CHANX_PERMISSIONS(CHANX_IS_AUTHENTICATED),
    .incoming = "{\"ping\": null}",
    .build_groups = build_groups,
    .receive_message = receive_message,
    .log_ignored_actions = CHANX_ACTIONS("ping", "pong"),
    .subprotocols = CHANX_SUBPROTOCOLS("v2.chanx"),
    .outgoing = "{\"pong\": {\"type\": \"object\"}, \"tock\": {\"type\": \"object\"}}",
    .events = "{\"tick\": {\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}},"
              " \"required\": [\"n\"]}}",
    .passthrough_events = CHANX_ACTIONS("notice"),
    .receive_event = receive_event,
    .throttle_rate = "1000/s",
};
