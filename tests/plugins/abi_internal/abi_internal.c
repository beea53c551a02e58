/*
 * abi_internal — a plugin that links against a framework internal: it
 * declares and calls cx_env_str (common/env.c, linked into every worker),
 * as an author who read the worker's source might. The worker exports only
 * the chanx_* API, so the plugin must be refused at load ("it calls
 * cx_env_str, which is neither in the plugin API ..."), never run.
 */
#include <chanx/consumer.h>

const char *cx_env_str(const char *name, const char *fallback);

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, cx_env_str("CHANX_PLUGINS", "internal"), NULL);
}

CHANX_CONSUMER(internal) {
    .receive_message = receive_message,
};
