/*
 * dep_broken_rate — a consumer whose throttle rate is not DRF's syntax: the
 * worker must refuse the plugin with a line naming it, and serve the rest.
 */
#include <chanx/consumer.h>

static int receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) ctx, (void) msg;
    return CHANX_OK;
}

CHANX_CONSUMER(fast) { .routes = CHANX_ROUTES("fast/"), .throttle_rate = "20/fortnight", .receive_message = receive };
