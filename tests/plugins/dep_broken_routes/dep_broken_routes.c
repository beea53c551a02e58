/*
 * dep_broken_routes — two consumers that declare no .routes, so both would be
 * mounted at ws/dep_broken_routes/ and the second could never be reached: a
 * newcomer's first multi-consumer plugin. The worker must refuse the plugin
 * with a line naming the clash, serve the rest, and go on taking plugins.
 */
#include <chanx/consumer.h>

static int receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, chanx_consumer_name(ctx), NULL);
}

CHANX_CONSUMER(first) { .receive_message = receive };
CHANX_CONSUMER(second) { .receive_message = receive };
