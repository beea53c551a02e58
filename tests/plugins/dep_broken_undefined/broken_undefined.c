/*
 * dep_broken_undefined — a plugin that calls a function the worker does not
 * export (built against a newer or a different API). dlopen must refuse it
 * (RTLD_NOW) rather than crash the worker on the first message.
 */
#include <chanx/consumer.h>

int chanx_send_telepathy(chanx_ctx *ctx);   /* exists nowhere */

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_telepathy(ctx);
}

CHANX_CONSUMER(ghost) {
    .receive_message = receive_message,
};
