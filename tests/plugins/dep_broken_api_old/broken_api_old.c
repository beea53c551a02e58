/*
 * dep_broken_api_old — a plugin from before the worker's major release: it
 * claims the level below CHANX_API_OLDEST. The worker must refuse it with
 * "built for plugin API OLDEST-1, this worker speaks OLDEST..N".
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, "never", NULL);
}

static const chanx_consumer past = { .receive_message = receive_message };

__attribute__((constructor)) static void register_past(void)
{
    chanx_register_consumer_sized(CHANX_API_OLDEST - 1, sizeof past, "past", &past);
}
