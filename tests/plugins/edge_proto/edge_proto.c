/*
 * edge_proto — consumers for the RFC 6455 conformance tests: one that speaks
 * two subprotocols and reports which was chosen and what was offered, one
 * that declares none, and an echo for the framing tests (what arrives must be
 * exactly what the client sent, and nothing after a close).
 */
#include <chanx/consumer.h>

static int report(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "echo"))
        return chanx_send_message(ctx, "echo", chanx_msg_payload(msg));
    const char *chosen = chanx_subprotocol(ctx), *offers = chanx_header(ctx, "sec-websocket-protocol");
    json_t *payload = json_pack("{s:s?, s:s?, s:s?}", "subprotocol", chosen, "offers", offers, "user",
                                chanx_user_of(ctx)->is_authenticated ? chanx_user_of(ctx)->username : NULL);
    int rc = chanx_send_message(ctx, "which", payload);
    json_decref(payload);
    return rc;
}

#define INCOMING "{\"which\": null, \"echo\": {\"type\": [\"string\", \"object\", \"null\"]}}"

CHANX_CONSUMER(versioned) {
    .routes = CHANX_ROUTES("versioned/"),
    .authentication = CHANX_AUTHENTICATION(CHANX_TOKEN_AUTH),
    .permissions = CHANX_PERMISSIONS(CHANX_ALLOW_ANY),
    .subprotocols = CHANX_SUBPROTOCOLS("chanx.v2", "chanx.v1"),
    .incoming = INCOMING,
    .receive_message = report,
};

CHANX_CONSUMER(plain) {
    .routes = CHANX_ROUTES("plain/"),
    .authentication = CHANX_AUTHENTICATION(CHANX_TOKEN_AUTH),
    .permissions = CHANX_PERMISSIONS(CHANX_ALLOW_ANY),
    .incoming = INCOMING,
    .send_authentication_message = CHANX_OFF,
    .receive_message = report,
};
