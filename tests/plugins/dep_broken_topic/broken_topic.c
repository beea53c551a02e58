/*
 * dep_broken_topic — a consumer whose topic pattern never closes its parameter. Refused at load,
 * naming the consumer and the topic, before any client can subscribe.
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, "never", NULL);
}

static const chanx_topic room = {
    .name = "RoomTopic",
    .pattern = "room:{name",
    .receive_message = receive_message,
};

CHANX_CONSUMER(rooms) {
    .receive_message = receive_message,
    .topics = CHANX_TOPICS(&room),
};
