/*
 * cred_probe — consumers for the credential-lifetime and throttling tests
 * (tests/e2e/test_credentials.c), mounted at ws/cred_probe/<route>.
 *
 * Each echoes "echo" messages, so a test sees which messages reached the
 * consumer. The schema also lists "authenticate", and a consumer that ever
 * receives it answers "leaked": the gateway must keep that action to itself.
 */
#include <chanx/consumer.h>

static int receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "authenticate"))
        return chanx_send_message(ctx, "leaked", chanx_msg_payload(msg));
    return chanx_send_message(ctx, "echo", chanx_msg_payload(msg));
}

#define PROBE .incoming = "{\"echo\": {\"type\": \"object\"}, \"authenticate\": {\"type\": \"object\"}}", \
              .receive_message = receive

/* JWT first, then a DRF token and a Django session: every class whose credential can be revoked. */
CHANX_CONSUMER(any_class) {
    .routes = CHANX_ROUTES("any/"),
    .authentication = CHANX_AUTHENTICATION(CHANX_JWT_AUTH, CHANX_TOKEN_AUTH, CHANX_SESSION_AUTH), PROBE
};
/* Its own rate, whatever the deployment's. */
CHANX_CONSUMER(throttled) { .routes = CHANX_ROUTES("throttled/"), .throttle_rate = "3/min", PROBE };
/* The deployment's rate (CHANX_THROTTLE_RATE). */
CHANX_CONSUMER(deployment_rate) { .routes = CHANX_ROUTES("default/"), PROBE };
/* Opted out of the deployment's rate. */
CHANX_CONSUMER(unthrottled) { .routes = CHANX_ROUTES("unthrottled/"), .throttle_rate = "none", PROBE };
/* No JWT class: "authenticate" is an ordinary message of the consumer's. */
CHANX_CONSUMER(token_only) { .routes = CHANX_ROUTES("token/"), PROBE };
