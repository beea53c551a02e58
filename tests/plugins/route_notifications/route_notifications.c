/*
 * route_notifications — the seed's notifications consumer, reduced to what
 * routing tests need: a re_path() route (Django's
 * re_path(r"^(?P<user_id>\w+)/$", NotificationConsumer)) and a "where"
 * action answering which consumer got the connection and with which URL
 * kwargs, so tests/e2e/test_routing.c can see a regex mount from outside.
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (!chanx_msg_is(msg, "where"))
        return CHANX_OK;
    json_t *payload = json_pack("{s:s, s:s, s:O}", "consumer", chanx_consumer_name(ctx), "path", chanx_path(ctx),
                                "kwargs", chanx_url_kwargs(ctx));
    int rc = chanx_send_message(ctx, "where", payload);
    json_decref(payload);
    return rc;
}

CHANX_CONSUMER(notifications) {
    .routes = CHANX_ROUTES("re:^(?P<user_id>\\w+)/$"),
    .incoming = "{\"where\": null}",
    .receive_message = receive_message,
};
