/*
 * topic_probe — a topic that tells its other subscribers when one leaves, to show when
 * on_unsubscribe runs (tests/e2e/test_topics_lifecycle.c): "probe:{id}", on_unsubscribe publishes
 * "left" {"user", "ref"} (ref: the unsubscribe frame's, null on a disconnect); "whoami" answers the
 * topic, its parameter and the ref; "stray" tries to publish to a topic this consumer does not
 * declare and answers what chanx_topic_publish returned. A second consumer, camelized (ws/topic_probe/
 * camel/), has the topic "camel:{id}": "post_reply" answers "reply_posted" with the payload and the
 * keys it arrived with, to show both directions of the conversion on topic frames.
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, "plain", NULL);
}

static void left(chanx_ctx *ctx)
{
    json_t *p = json_pack("{s:s, s:s?}", "user", chanx_user_of(ctx)->username, "ref", chanx_ref(ctx));
    chanx_topic_publish(ctx, chanx_topic_name(ctx), "left", p);
    json_decref(p);
}

static int receive_probe(chanx_ctx *ctx, const chanx_msg *msg)
{
    json_t *p;
    if (chanx_msg_is(msg, "stray"))
        p = json_pack("{s:i}", "rc", chanx_topic_publish(ctx, "elsewhere:1", "x", NULL));
    else
        p = json_pack("{s:s, s:s, s:s?}", "topic", chanx_topic_name(ctx), "id", chanx_topic_param(ctx, "id"), "ref",
                      chanx_ref(ctx));
    int rc = chanx_send_message(ctx, "you", p);
    json_decref(p);
    return rc;
}

static const chanx_topic probe = {
    .name = "ProbeTopic",
    .pattern = "probe:{id}",
    .on_unsubscribe = left,
    .receive_message = receive_probe,
};

CHANX_CONSUMER(topic_probe) {
    .receive_message = receive_message,
    .topics = CHANX_TOPICS(&probe),
};

static int receive_camel(chanx_ctx *ctx, const chanx_msg *msg)
{
    json_t *keys = json_array();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) chanx_msg_payload(msg), key, value)
        json_array_append_new(keys, json_string(key));
    json_t *p = json_pack("{s:O?, s:o}", "reply_body", (json_t *) chanx_msg_payload(msg), "arrived_as", keys);
    int rc = chanx_send_message(ctx, "reply_posted", p);
    json_decref(p);
    return rc;
}

static const chanx_topic camel = {
    .name = "CamelTopic",
    .pattern = "camel:{id}",
    .receive_message = receive_camel,
};

CHANX_CONSUMER(camel) {
    .routes = CHANX_ROUTES("camel/"),
    .camelize = CHANX_ON,
    .receive_message = receive_message,
    .topics = CHANX_TOPICS(&camel),
};
