/*
 * callbacks.c — what libwebsockets calls: the gateway's protocols table.
 *
 * One callback serves every WebSocket (with or without a subprotocol) and
 * the plain HTTP the gateway answers (/healthz, /metrics, the docs); another
 * wakes the gateway when the broker link's ZeroMQ notification fd (adopted
 * into the loop as a raw file) is readable. Callbacks only translate lws's
 * reasons into the gateway's steps (clients.c, outbox.c, upstream.c).
 * Which gateway a callback is for comes from the lws context's user pointer
 * (set by gateway.c), not from a global: this file sits below gateway.c and
 * never calls back up into it.
 */
#include "gateway/gateway_internal.h"
#include "common/json_text.h"
#include "common/http_status.h"
#include "common/log.h"
#include "gateway/deflate.h"
#include "gateway/handshake.h"
#include "gateway/http_reply.h"
#include "gateway/metrics.h"
#include "gateway/request.h"
#include "gateway/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- helpers */

static int http_reply(struct lws *wsi, unsigned status, const char *body)
{
    return cx_http_reply(wsi, status, "application/json", NULL, body, strlen(body));
}

/* ------------------------------------------------------------ callbacks */

/* Answers an upgrade request with a status and closes. The head is written by
 * hand: at this stage lws_return_http_status() answers "HTTP/1.0", which
 * strict WebSocket clients (python3-websockets) reject as invalid. */
static int refuse_status(struct lws *wsi, unsigned status, const char *body)
{
    unsigned char buf[LWS_PRE + 512];
    cx_gw_count_upgrade(status);
    int n = snprintf((char *) buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %u %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
                     "connection: close\r\n\r\n%s", status, cx_http_status_text((int) status), strlen(body), body);
    if (lws_write(wsi, buf + LWS_PRE, (size_t) n, LWS_WRITE_HTTP_HEADERS) != n)
        return -1;
    return 1;
}

/* 503 naming the quarantine, so whoever reads it knows that waiting will not help: a new version will. */
static int refuse_quarantined(struct lws *wsi, const char *target)
{
    char detail[300];   /* refuse_status sends one buffer of 512 bytes, headers included */
    snprintf(detail, sizeof detail, "Consumer %.120s is quarantined: its plugin crashed its worker processes "
             "repeatedly. Deploying a new version of the plugin lifts the quarantine.", target ? target : "?");
    json_t *body = json_pack("{s:s}", "detail", detail);
    char *text = cx_json_text(body, NULL);
    json_decref(body);
    int rc = refuse_status(wsi, 503, text ? text : "{\"detail\":\"Quarantined.\"}");
    free(text);
    return rc;
}

static int refuse_upgrade(cx_gateway *gw, struct lws *wsi)
{
    char *path = cx_request_header(wsi, WSI_TOKEN_GET_URI);
    const char *target = NULL;
    cx_route_entry *route = path ? cx_gw_route(gw, path, NULL, &target) : NULL;
    int rc = 0;
    if (gw->draining || !gw->have_routes || !cx_link_alive(gw->link))
        rc = refuse_status(wsi, 503, "{\"detail\":\"Service unavailable.\"}");
    else if (!route)
        rc = refuse_status(wsi, 404, "{\"detail\":\"Not found.\"}");
    else if (route->quarantined)
        rc = refuse_quarantined(wsi, target);
    else if (!route->available)
        rc = refuse_status(wsi, 503, "{\"detail\":\"No worker serves this route.\"}");
    if (rc && cx_log_enabled(CX_LOG_INFO))
        cx_log_fields(CX_LOG_INFO, "upgrade refused", json_pack("{s:s, s:s}", "path", path ? path : "",
                                                                 "why", !route ? "no route" : "unavailable"));
    free(path);
    return rc;
}

/* The subprotocols of the consumer the request's path routes to (NULL-terminated), or NULL. */
static const char *const *route_subprotocols(cx_gateway *gw, struct lws *wsi)
{
    char *path = cx_request_header(wsi, WSI_TOKEN_GET_URI);
    const char *target = NULL;
    cx_route_entry *route = path ? cx_gw_route(gw, path, NULL, &target) : NULL;
    free(path);
    return route && route->spec ? (const char *const *) route->spec->subprotocols : NULL;
}

static int healthz(cx_gateway *gw, struct lws *wsi, const char *uri)
{
    if (strcmp(uri, "/metrics") == 0)
        return cx_gw_metrics_reply(wsi);
    if (strcmp(uri, "/healthz") != 0)
        return http_reply(wsi, 404, "{\"detail\":\"Not found.\"}");
    int ok = cx_link_alive(gw->link) && gw->have_routes && !gw->draining;
    /* Routes no live worker serves (a worker process crashed and is restarting, or none registered them):
     * "degraded", naming their consumers. Still 200: this gateway serves its other routes, and a failing
     * health check would have an orchestrator restart a gateway that a restart cannot help. */
    json_t *unserved = json_array(), *quarantined = json_array();
    size_t available = 0, named = 0;
    for (size_t i = 0; i < gw->nentries; i++) {
        const char *target = cx_router_target(gw->router, i);
        if (gw->entries[i].available)
            available++;
        else if (target && (named += strlen(target) + 3) < 600)   /* the reply is one buffer of 1 KiB */
            json_array_append_new(gw->entries[i].quarantined ? quarantined : unserved, json_string(target));
    }
    json_t *reply = json_pack("{s:s, s:b, s:I, s:I, s:I, s:o}", "status",
                              !ok ? "unavailable" : available < gw->nentries ? "degraded" : "ok", "broker",
                              cx_link_alive(gw->link), "routes", (json_int_t) gw->nentries, "available",
                              (json_int_t) available,
                              "connections", (json_int_t) cx_idmap_size(gw->sessions), "unavailable", unserved);
    if (reply && json_array_size(quarantined))
        json_object_set(reply, "quarantined", quarantined);
    json_decref(quarantined);
    char *body = reply ? json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(reply);
    int rc = http_reply(wsi, ok ? 200 : 503, body ? body : "{\"status\":\"unavailable\"}");
    free(body);
    return rc;
}

/* The gateway a callback is for: the context's user pointer (gateway.c sets it), so this file needs
 * no global and never calls up into gateway.c. */
static cx_gateway *gateway_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    cx_gateway *gw = gateway_of(wsi);
    cx_session **slot = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        int rc;
        /* libwebsockets ends the path at a ';' (it reads one as a query's '&') and hands us what came
         * before: "/metrics;x" was served as /metrics, which a proxy hiding "/metrics" does not match */
        char *uri = NULL;
        int uri_len = 0;
        if (lws_http_get_uri_and_method(wsi, &uri, &uri_len) < 0 || uri_len != (int) strlen(in))
            return http_reply(wsi, 404, "{\"detail\":\"Not found.\"}");
        if (cx_docs_serve(gw->docs, wsi, in, &rc))   /* /asyncapi.json, /playground/ */
            return rc;
        return healthz(gw, wsi, in);
    }
    case LWS_CALLBACK_CONFIRM_EXTENSION_OKAY:   /* 0 accepts (only permessage-deflate is registered) */
        gw->handshake_deflate = gw->deflate && cx_deflate_confirm(wsi);
        return !gw->handshake_deflate;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
        gw->handshake_deflate = 0;
        int rc = cx_handshake_check(wsi);
        rc = rc ? rc : refuse_upgrade(gw, wsi);
        if (rc)
            cx_wire_accept(lws_get_socket_fd(wsi));   /* refused: HTTP again, no frames follow (wire.h) */
        return rc;
    }
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return cx_handshake_choose(wsi, route_subprotocols(gw, wsi));
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        cx_wire_accept(lws_get_socket_fd(wsi));
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        cx_gw_on_established(gw, wsi, slot);
        if (*slot) {
            (*slot)->deflate = gw->handshake_deflate;
            cx_wire_established(lws_get_socket_fd(wsi), (*slot)->id, (*slot)->deflate);
        }
        gw->handshake_deflate = 0;
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (*slot)
            cx_gw_on_receive(gw, wsi, *slot, in, len);
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (*slot)
            cx_keepalive_seen(gw->keepalive, *slot);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return *slot ? cx_gw_on_writeable(gw, *slot) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (*slot && len >= 2)
            (*slot)->peer_close_code = ((const unsigned char *) in)[0] << 8 | ((const unsigned char *) in)[1];
        /* Our close frame went out raw (outbox.c), so lws does not know this is the client's answer
         * and would echo it: a second close frame, after which Chromium reports 1006 instead of our
         * code. Non-zero closes without the echo: the closing handshake is complete. */
        return *slot && (*slot)->close_sent ? -1 : 0;
    case LWS_CALLBACK_CLOSED:
        cx_gw_on_closed(gw, slot, *slot && (*slot)->peer_close_code ? (*slot)->peer_close_code : 1006);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        cx_gw_collect_auth_results(gw);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static int callback_broker_fd(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        cx_gw_upstream_drain(gateway_of(wsi));
        return 0;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols cx_gw_protocols[] = {
    /* rx_buffer_size: lws reads a frame in chunks of this size (on_receive
     * reassembles them). 64 KiB per connection cost the gateway 15.7 KiB of
     * resident memory per idle connection, 4 KiB costs 5.6 (docs/benchmarks.md).
     * tx_packet_size: the most one send() may carry; left 0, lws would take
     * rx_buffer_size and cut a big message into 4 KiB writes, one per turn. */
    /* Names with a space: no subprotocol offer can equal them (handshake.c). */
    { "chanx ws", callback_ws, sizeof(cx_session *), 4096, 0, NULL, 65536 },
    { "chanx broker", callback_broker_fd, 0, 0, 0, NULL, 0 },
    /* Upgrades that offer subprotocols bind here; handshake.c names it per handshake. */
    { cx_handshake_slot, callback_ws, sizeof(cx_session *), 4096, 0, NULL, 65536 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};
