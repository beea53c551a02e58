/*
 * dep_broken_typo — a plugin with a misspelt API call (chanx_send_mesage), built without -Werror as
 * a newcomer might. The worker must refuse it saying the name is not in the plugin API and which
 * one was meant, not guess that it was built for a newer worker (tests/e2e/test_reload.c).
 */
#include <chanx/consumer.h>

int chanx_send_mesage(chanx_ctx *ctx, const char *action, json_t *payload);   /* the typo, declared */

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_mesage(ctx, "pong", NULL);
}

CHANX_CONSUMER(typo) {
    .receive_message = receive_message,
};
