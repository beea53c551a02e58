/*
 * dep_broken_api — a plugin built against a plugin API newer than the
 * worker's: it registers its consumer the way CHANX_CONSUMER does, but
 * claims the level after this header's. The worker must refuse it with
 * "built for plugin API N+1, this worker speaks OLDEST..N", and keep serving.
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, "never", NULL);
}

static const chanx_consumer future = { .receive_message = receive_message };

__attribute__((constructor)) static void register_future(void)
{
    chanx_register_consumer_sized(CHANX_API_VERSION + 1, sizeof future, "future", &future);
}
