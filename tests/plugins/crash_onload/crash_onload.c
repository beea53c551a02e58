/*
 * crash_onload — a plugin whose constructor dereferences NULL: it crashes every worker process that
 * loads it (tests/e2e/test_crash.c: reported as the plugin's "load", restarts back off).
 */
#include <chanx/consumer.h>

static int *volatile nowhere;

/* Not instrumented by the sanitizers (make test's ASan build): a real SIGSEGV there too. */
__attribute__((constructor, no_sanitize("address", "undefined"))) static void crash_while_loading(void)
{
    *nowhere = 1;
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, "pong", NULL);
}

CHANX_CONSUMER(onload) {
    .routes = CHANX_ROUTES(""),
    .receive_message = receive_message,
};
