/*
 * notifications — a user's notification feed, fed by the application.
 *
 * A client of ws/notifications/ (authenticated) joins "user_<id>" and the
 * site-wide "announcements". The Django site publishes, e.g. from a view or
 * a Celery task:
 *
 *     send_event_sync({"action": "notification", "payload": {"title": "Order shipped"}}, user_id=7)
 *     broadcast_event_sync({"action": "announcement", "payload": {"text": "Maintenance at 22:00"}},
 *                          groups="announcements")
 *
 * "notification" is handled here (receive_event, in the worker, in order with
 * the connection's messages): it is validated against .events, stamped with
 * the server's time and a per-connection sequence number, and sent. Clients
 * that said "mute" get nothing. "announcement" is a passthrough event: the
 * gateways send it to every member as it is, without a worker hop — the
 * cheap path for what needs no per-user logic.
 *
 * Client messages: "mute" / "unmute" (answers "muted" with the state).
 */
#include <chanx/consumer.h>
#include <stdio.h>
#include <time.h>

typedef struct {
    int muted;
    json_int_t seq;
} feed;

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    feed *f = chanx_state(ctx);
    f->muted = chanx_msg_is(msg, "mute");
    json_t *state = json_pack("{s:b}", "muted", f->muted);
    int rc = chanx_send_message(ctx, "muted", state);
    json_decref(state);
    return rc;
}

static int receive_event(chanx_ctx *ctx, const chanx_msg *event)
{
    feed *f = chanx_state(ctx);
    if (!chanx_msg_is(event, "notification") || f->muted)
        return CHANX_OK;
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    json_t *payload = json_deep_copy(chanx_msg_payload(event));
    json_object_set_new(payload, "server_time", json_string(now));
    json_object_set_new(payload, "seq", json_integer(++f->seq));
    int rc = chanx_send_message(ctx, "notification", payload);
    json_decref(payload);
    return rc;
}

static int build_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    if (chanx_groups_addf(groups, "user_%lld", (long long) chanx_user_of(ctx)->id) != CHANX_OK)
        return CHANX_ERROR;
    return chanx_groups_add(groups, "announcements");
}

CHANX_CONSUMER(notifications) {
    .permissions = CHANX_PERMISSIONS(CHANX_IS_AUTHENTICATED),
    .incoming = "{\"mute\": null, \"unmute\": null}",
    .state_size = sizeof(feed),
    .build_groups = build_groups,
    .receive_message = receive_message,
    .events = "{\"notification\": {\"type\": \"object\","
              "                   \"properties\": {\"title\": {\"type\": \"string\", \"minLength\": 1},"
              "                                    \"body\": {\"type\": \"string\"}, \"url\": {\"type\": \"string\"}},"
              "                   \"required\": [\"title\"]}}",
    .passthrough_events = CHANX_ACTIONS("announcement"),
    .receive_event = receive_event,
};
