/*
 * dep_broken_api — a plugin built against a plugin API the worker does not
 * speak: it registers its consumer with a future API version. The worker
 * must refuse it with a log line naming both versions, and keep serving.
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
    chanx_register_consumer(CHANX_API_VERSION + 1, "future", &future);
}
