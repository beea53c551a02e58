/*
 * echo — the smallest consumer: any authenticated user, {"action":"ping"}
 * answered with {"action":"pong","payload":null}. Mounted at ws/echo/.
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    return CHANX_OK;
}

CHANX_CONSUMER(echo) {
    .incoming = "{\"ping\": null}",
    .outgoing = "{\"pong\": null}",
    .log_ignored_actions = CHANX_ACTIONS("ping", "pong"),
    .receive_message = receive_message,
};
