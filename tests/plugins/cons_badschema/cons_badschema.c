/*
 * cons_badschema — a plugin the worker must refuse: its schema gives
 * maxLength a negative number. The error must name the plugin, the consumer
 * and the place in the schema, and the worker must go on serving its other
 * plugins (tests/e2e/test_consumer_logs.c).
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    return chanx_send_message(ctx, "echo", chanx_msg_payload(msg));
}

CHANX_CONSUMER(broken) {
    .incoming = "{\"ping\": null,"
                " \"chat\": {\"type\": \"object\","
                "            \"properties\": {\"message\": {\"type\": \"string\", \"maxLength\": -1}}}}",
    .receive_message = receive_message,
};
