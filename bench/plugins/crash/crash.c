/*
 * crash — the benchmark's consumer that crashes on demand, for the recover
 * scenario (bench/recover.c): "ping" is answered with "pong", and "crash"
 * dereferences NULL in receive_message, which kills the worker process
 * running it. What the scenario times is chanx-worker's answer to that:
 * the supervisor restarting the process and the route being served again.
 * It lives in its own plugin folder in scripts/bench, never beside the
 * consumers the other scenarios measure.
 */
#include <chanx/consumer.h>

static int *volatile nowhere;

/* Not instrumented by the sanitizers: a real SIGSEGV in an ASan build too. */
__attribute__((no_sanitize("address", "undefined"))) static void crash(void)
{
    *nowhere = 1;
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "crash"))
        crash();
    return chanx_send_message(ctx, "pong", NULL);
}

CHANX_CONSUMER(crash) {
    .routes = CHANX_ROUTES(""),
    .receive_message = receive_message,
    .log_received_message = CHANX_OFF,
    .log_sent_message = CHANX_OFF,
};
