/*
 * dep_probe — a test plugin for deployment tests: it tells a client which
 * worker process and which build of the plugin serve its connection, so
 * tests can see how connections spread across workers, that they stay
 * pinned, and which code a hot-reloaded plugin runs.
 *
 *   whoami  → {"action":"whoami","payload":{"pid":<worker pid>,"version":N,"live":<connections here>}}
 *   chat    → {"message"} to everyone in the room (ws/<plugin>/<room>/), sender included
 *
 * N is DEP_PROBE_VERSION (1 unless built with another value; dep_probe_v2
 * builds this file again with 2). "live" counts this build's connections in
 * this worker, so a test sees the broker forget a dead gateway's clients.
 */
#include <chanx/consumer.h>
#include <unistd.h>

#ifndef DEP_PROBE_VERSION
#define DEP_PROBE_VERSION 1
#endif

static int live;   /* one worker thread runs every callback: no lock needed */

static int post_authentication(chanx_ctx *ctx)
{
    (void) ctx;
    live++;
    return CHANX_OK;
}

static void disconnect(chanx_ctx *ctx, int close_code)
{
    (void) ctx;
    (void) close_code;
    live--;
}

static int build_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    const char *room = chanx_url_kwarg(ctx, "room");
    return room ? chanx_groups_addf(groups, "probe_%s", room) : CHANX_OK;
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "chat"))
        return chanx_send_group_message(ctx, "chat", chanx_msg_payload(msg), NULL, CHANX_INCLUDE_CURRENT);
    json_t *me = json_pack("{s:I, s:i, s:i}", "pid", (json_int_t) getpid(), "version", DEP_PROBE_VERSION,
                           "live", live);
    int rc = chanx_send_message(ctx, "whoami", me);
    json_decref(me);
    return rc;
}

CHANX_CONSUMER(probe) {
    .routes = CHANX_ROUTES("", "<str:room>/"),
    .incoming = "{\"whoami\": null,"
                " \"chat\": {\"type\": \"object\", \"properties\": {\"message\": {\"type\": \"string\"}},"
                "           \"required\": [\"message\"]}}",
    .post_authentication = post_authentication,
    .build_groups = build_groups,
    .receive_message = receive_message,
    .disconnect = disconnect,
};
