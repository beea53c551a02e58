/*
 * route_probe — one consumer behind every path() converter, answering
 * "where" with its consumer name, the decoded path and the URL kwargs as the
 * consumer sees them (chanx_url_kwargs), so tests/e2e/test_routing.c can
 * check types (int kwargs are JSON integers) and decoding (exactly once)
 * from outside. AllowAny: routing is under test here, not authentication.
 */
#include <chanx/consumer.h>

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (!chanx_msg_is(msg, "where"))
        return CHANX_OK;
    const char *id_text = chanx_url_kwarg(ctx, "id");
    json_t *payload = json_pack("{s:s, s:s, s:O, s:s?}", "consumer", chanx_consumer_name(ctx), "path",
                                chanx_path(ctx), "kwargs", chanx_url_kwargs(ctx), "id_text", id_text);
    int rc = chanx_send_message(ctx, "where", payload);
    json_decref(payload);
    return rc;
}

CHANX_CONSUMER(probe) {
    .routes = CHANX_ROUTES("<int:id>/", "s/<str:value>/", "slug/<slug:value>/", "u/<uuid:value>/", "p/<path:rest>"),
    .permissions = CHANX_PERMISSIONS(CHANX_ALLOW_ANY),
    .incoming = "{\"where\": null}",
    .receive_message = receive_message,
};
