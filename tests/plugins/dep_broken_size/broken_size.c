/*
 * dep_broken_size — a plugin whose descriptor is larger than the worker's
 * for the same API level, as one built against an unreleased header with
 * fields this worker does not know. The worker must refuse it (reading
 * only its own size would silently drop settings the plugin relies on):
 * "declares a descriptor of N bytes for plugin API L, this worker reads A..B".
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, "never", NULL);
}

static const struct {
    chanx_consumer consumer;
    const char *field_from_the_future;
} bigger = { .consumer = { .receive_message = receive_message }, .field_from_the_future = "x" };

__attribute__((constructor)) static void register_bigger(void)
{
    chanx_register_consumer_sized(CHANX_API_VERSION, sizeof bigger, "bigger", &bigger.consumer);
}
