/*
 * act_probe — a consumer that blocks on demand, for the tests of connection
 * actors (tests/e2e/test_actors.c):
 *   ping            → pong
 *   sleep {ms}      blocks its thread for ms (a plain usleep, as a slow
 *                   library call would), then → slept {ms}
 *   seq {n}         → seq {n}, after a little work that varies with n, so
 *                   threads interleave differently from message to message
 */
#include <chanx/consumer.h>
#include <unistd.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    const json_t *p = chanx_msg_payload(msg);
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    if (chanx_msg_is(msg, "sleep")) {
        usleep((useconds_t) json_integer_value(json_object_get(p, "ms")) * 1000);
        return chanx_send_message(ctx, "slept", p);
    }
    if (chanx_msg_is(msg, "seq")) {
        volatile unsigned spin = 0;
        for (json_int_t i = 0; i < (json_integer_value(json_object_get(p, "n")) % 7) * 2000; i++)
            spin += (unsigned) i;
        return chanx_send_message(ctx, "seq", p);
    }
    return CHANX_ERROR;
}

CHANX_CONSUMER(probe) {
    .incoming = "{\"ping\": null,"
                " \"sleep\": {\"type\": \"object\", \"properties\": {\"ms\": {\"type\": \"integer\", \"minimum\": 0,"
                "            \"maximum\": 10000}}, \"required\": [\"ms\"]},"
                " \"seq\": {\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}}, \"required\": [\"n\"]}}",
    .log_received_message = CHANX_OFF,
    .log_sent_message = CHANX_OFF,
    .receive_message = receive_message,
};
