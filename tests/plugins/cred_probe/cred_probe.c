/*
 * cred_probe — consumers for the credential-lifetime and throttling tests
 * (tests/e2e/test_credentials.c), mounted at ws/cred_probe/<route>.
 *
 * Each echoes "echo" messages, so a test sees which messages reached the
 * consumer. The schema also lists "authenticate", and a consumer that ever
 * receives it answers "leaked": the gateway must keep that action to itself.
 */
#include <chanx/consumer.h>
#include <time.h>

static int receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "authenticate"))
        return chanx_send_message(ctx, "leaked", chanx_msg_payload(msg));
    return chanx_send_message(ctx, "echo", chanx_msg_payload(msg));
}

/* A consumer that takes its time: its echoes are still on their way when the gateway throttles
 * the messages after them (the order and close tests). */
static int receive_slowly(chanx_ctx *ctx, const chanx_msg *msg)
{
    struct timespec pause = { 0, 300 * 1000 * 1000 };
    nanosleep(&pause, NULL);
    return receive(ctx, msg);
}

#define PROBE_INCOMING .incoming = "{\"echo\": {\"type\": \"object\"}, \"authenticate\": {\"type\": \"object\"}}"
#define PROBE PROBE_INCOMING, .receive_message = receive

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
/* Its own rate, and 300 ms per message; a JWT or a DRF token. */
CHANX_CONSUMER(slow_throttled) {
    .routes = CHANX_ROUTES("slow_throttled/"), .throttle_rate = "3/min",
    .authentication = CHANX_AUTHENTICATION(CHANX_JWT_AUTH, CHANX_TOKEN_AUTH),
    PROBE_INCOMING, .receive_message = receive_slowly
};
