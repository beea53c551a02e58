/*
 * topic_probe — a topic that tells its other subscribers when one leaves, to show when
 * on_unsubscribe runs (tests/e2e/test_topics_lifecycle.c): "probe:{id}", on_unsubscribe publishes
 * "left" {"user", "ref"} (ref: the unsubscribe frame's, null on a disconnect); "whoami" answers the
 * topic, its parameter and the ref; "stray" tries to publish to a topic this consumer does not
 * declare and answers what chanx_topic_publish returned.
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
