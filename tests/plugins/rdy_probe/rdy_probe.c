/*
 * rdy_probe — a consumer whose build_groups is as slow as a database query
 * (20 ms), for the ready-point tests (tests/e2e/test_delivery.c): the
 * authentication message must reach the client only once its groups are in
 * effect, however long build_groups takes.
 *
 * Mounted at ws/rdy_probe/<room>/; joins "ready_<room>" after a 20 ms nap.
 * Events: "bell" passes through (the gateway delivers it), "hello" is
 * handled here and answered as "hello" with its payload. Messages: "ping"
 * (answers "pong").
 */
#include <chanx/consumer.h>
#include <time.h>

static int build_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    struct timespec query = { 0, 20 * 1000000L };
    nanosleep(&query, NULL);
    return chanx_groups_addf(groups, "ready_%s", chanx_url_kwarg(ctx, "room"));
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, "pong", NULL);
}

static int receive_event(chanx_ctx *ctx, const chanx_msg *event)
{
    return chanx_send_message(ctx, "hello", chanx_msg_payload(event));
}

CHANX_CONSUMER(room) {
    .routes = CHANX_ROUTES("<str:room>/"),
    .incoming = "{\"ping\": null}",
    .events = "{\"hello\": {\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}}, \"required\": [\"n\"]}}",
    .passthrough_events = CHANX_ROUTES("bell"),
    .build_groups = build_groups,
    .receive_message = receive_message,
    .receive_event = receive_event,
    .log_received_message = CHANX_OFF,
    .log_sent_message = CHANX_OFF,
};
