/*
 * dep_broken_schema — a consumer whose incoming schema names a type JSON
 * Schema does not have. Refused at load, before any client can reach it.
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, "never", NULL);
}

CHANX_CONSUMER(bad) {
    .incoming = "{\"say\": {\"type\": \"text\"}}",
    .receive_message = receive_message,
};
