/*
 * lim_echo — echoes a text payload back, for the tests of message limits:
 * what a client sends must come back byte for byte however big it was.
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    return chanx_send_message(ctx, "echo", chanx_msg_payload(msg));
}

CHANX_CONSUMER(echo) {
    .incoming = "{\"echo\": {\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\"}},"
                "           \"required\": [\"text\"]}}",
    .log_received_message = CHANX_OFF,
    .log_sent_message = CHANX_OFF,
    .receive_message = receive_message,
};
