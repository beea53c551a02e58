/*
 * lim_echo — echoes a text payload back, for the tests of message limits:
 * what a client sends must come back byte for byte however big it was.
 * "join" puts the connection in the group "flood" (answered "joined"), and
 * "shout" sends its payload to that group, the sender excluded: the tests
 * of the gateway's bounds flood clients that do not read with it. Anyone
 * may connect, anonymous clients too.
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    static const char *const flood[] = { "flood", NULL };
    if (chanx_msg_is(msg, "join"))
        return chanx_group_add(ctx, "flood") == CHANX_OK ? chanx_send_message(ctx, "joined", NULL) : CHANX_ERROR;
    if (chanx_msg_is(msg, "shout"))
        return chanx_send_group_message(ctx, "shout", chanx_msg_payload(msg), flood, CHANX_EXCLUDE_CURRENT);
    return chanx_send_message(ctx, "echo", chanx_msg_payload(msg));
}

CHANX_CONSUMER(echo) {
    .permissions = CHANX_PERMISSIONS(CHANX_ALLOW_ANY),   /* anonymous clients too: per-address limits */
    .incoming = "{\"echo\": {\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\"}},"
                "           \"required\": [\"text\"]},"
                " \"shout\": {\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\"}},"
                "            \"required\": [\"text\"]},"
                " \"join\": null}",
    .log_received_message = CHANX_OFF,
    .log_sent_message = CHANX_OFF,
    .receive_message = receive_message,
};
