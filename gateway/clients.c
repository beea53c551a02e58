/*
 * clients.c — the life of a client at the gateway.
 *
 *   1. HTTP upgrade: callbacks.c matches the path; no route is 404, a route
 *      without a live worker (or no route table yet) is 503, and the
 *      upgrade is refused before any WebSocket exists.
 *   2. ESTABLISHED: a session is created and authentication is queued on the
 *      database pool (auth.c); frames the client sends meanwhile are held.
 *   3. The pool's result wakes the loop (EVENT_WAIT_CANCELLED): a refusal
 *      sends DRF's authentication message and closes with 4000 + status; an
 *      acceptance sends CONNECT to the broker, then the held frames. That
 *      CONNECT is kept, encoded (a few hundred bytes), for REPIN: when the
 *      worker process serving the connection dies, it goes again, flagged
 *      restarted.
 *   4. Text frames become RECEIVE envelopes; SEND envelopes become frames
 *      queued per session and written once per batch (outbox.c). Before
 *      that, the consumer's throttle rate is applied (throttle.h) and the
 *      authenticate action is taken out and answered here (refresh.h); such
 *      answers of our own go out through the worker all the same (ANSWER),
 *      behind the consumer's answers to the client's earlier messages.
 *      While connected, a JWT's exp (expiry.h) or a revoked credential
 *      (revalidate.h) ends the connection with 4401.
 *   5. CLOSED: DISCONNECT to the broker, the session is forgotten.
 */
#include "gateway/gateway_internal.h"
#include "common/json_text.h"
#include "common/http_status.h"
#include "common/log.h"
#include "gateway/conn_limits.h"
#include "gateway/handshake.h"
#include "gateway/forwarded.h"
#include "gateway/metrics.h"
#include "gateway/refresh.h"
#include "gateway/request.h"
#include "gateway/shed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PENDING_FRAMES 256
#define CREDENTIAL_COOKIES 32

static void send_receive(cx_gateway *gw, cx_session *s, const void *text, size_t len)
{
    cx_env env = { .type = CX_ENV_RECEIVE, .conn = s->id, .text = cx_slice_n(text, len) };
    if (cx_link_send(gw->link, &env) != 0)
        cx_session_close(s, 1011, "broker unavailable");
}

/* The cookies any consumer of the route table reads credentials from (mapped classes): they leave
 * every connection's headers, whichever route it took (request.c's rule for the deployment's). */
static const char *const *credential_cookies(const cx_gateway *gw, const char *names[CREDENTIAL_COOKIES + 1])
{
    size_t n = 0;
    for (size_t i = 0; i < gw->nentries; i++)
        cx_consumer_spec_credential_cookies(gw->entries[i].spec, names, &n, CREDENTIAL_COOKIES);
    names[n] = NULL;
    return names;
}

void cx_gw_on_established(cx_gateway *gw, struct lws *wsi, cx_session **slot)
{
    const char *cookies[CREDENTIAL_COOKIES + 1];
    char *path = cx_request_header(wsi, WSI_TOKEN_GET_URI), *token = NULL, *jwt = NULL, client[128] = "";
    char *offered_token = NULL, *offers = cx_handshake_offers(wsi, &offered_token);
    cx_handshake_done();
    const char *target = NULL;
    json_t *kwargs = NULL;
    cx_route_entry *route = path ? cx_gw_route(gw, path, &kwargs, &target) : NULL;
    cx_session *s = cx_session_new(((uint64_t) gw->node << 32) | ++gw->next_conn, wsi);
    cx_gw_count_upgrade(101);
    if (!s) {
        free(path);
        free(offers);
        free(offered_token);
        json_decref(kwargs);
        return;
    }
    *slot = s;
    s->out.total = s->pending.total = &gw->buffered;   /* the gateway-wide bound (shed.h) */
    char *host = NULL;   /* what the Origin check compares with */
    cx_forwarded_read(gw->proxies, wsi, client, sizeof client, &host);
    s->path = path;
    s->kwargs = kwargs;
    s->client = strdup(client);
    s->query = cx_request_query(wsi, &token, &jwt);
    s->headers = cx_request_headers(wsi, offers, credential_cookies(gw, cookies));
    free(offers);
    if (!token)
        token = offered_token;   /* a DRF token offered as "<CHANX_TOKEN_SUBPROTOCOL>.<key>" */
    else
        free(offered_token);
    cx_idmap_put(gw->sessions, s->id, s);
    cx_keepalive_add(gw->keepalive, s);
    if (!route || !route->spec || !route->available) {
        cx_session_close(s, 1011, "route changed");
    } else {
        s->target = strdup(target);
        s->spec = cx_consumer_spec_ref(route->spec);
        char *authorization = cx_request_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
        char *cookie = cx_request_cookies(wsi);   /* every Cookie header, not lws's glued copy */
        char *origin = cx_request_header(wsi, WSI_TOKEN_ORIGIN);
        cx_credentials cred = { authorization, cookie, origin, host, token, jwt };
        if (cx_auth_submit(gw->auth, s->id, route->spec, &cred, s->kwargs) != 0)
            cx_session_close(s, 1011, "out of memory");
        free(authorization);
        free(cookie);
        free(origin);
    }
    free(host);
    free(token);
    free(jwt);
}

/* A frame of the gateway's own: {"action": action, "payload": payload (taken)}; "action" whatever the
 * consumer's .action_key, as the worker sends (the key names incoming actions only). The caller frees
 * it; NULL when out of memory. */
static char *own_frame(const char *action, json_t *payload)
{
    json_t *msg = json_pack("{s:s, s:o}", "action", action, "payload", payload);
    char *text = cx_json_text(msg, NULL);
    json_decref(msg);
    return text;
}

/* DRF's answer, as the worker sends it after a connect: {"action":"authentication","payload":{...}};
 * with CHANX_CAMELIZE, statusCode/statusText as the worker would. */
static char *authentication_frame(const cx_session *s, int status, const char *detail)
{
    int camel = s->spec && s->spec->camelize;
    return own_frame("authentication", json_pack("{s:i, s:s, s:{s:s}}", camel ? "statusCode" : "status_code", status,
                                                 camel ? "statusText" : "status_text", cx_http_status_text(status),
                                                 "data", "detail", detail));
}

/* A frame for a client no worker serves yet (a refusal): queued here, nothing can come before it. */
static void queue_own(cx_gateway *gw, cx_session *s, char *text)
{
    if (text)
        cx_gw_queue(gw, s, text, strlen(text), NULL, 0);
    free(text);
}

/* The gateway's own answer to a client message travels the messages' ordered path and comes back from
 * the worker behind the consumer's answers to the earlier ones (ANSWER, proto/README.md), so the client
 * sees its answers in the order of its messages and a close cuts none of them off. */
static int send_answer(cx_gateway *gw, cx_session *s, int code, const char *text)
{
    cx_env env = { .type = CX_ENV_ANSWER, .conn = s->id, .code = (uint32_t) code, .text = cx_slice_of(text) };
    if (cx_link_send(gw->link, &env) == 0)
        return 0;
    cx_session_close(s, 1011, "broker unavailable");
    return -1;
}

/* A frame answering a client message (text taken; NULL: out of memory). */
static void answer_frame(cx_gateway *gw, cx_session *s, char *text)
{
    if (text)
        send_answer(gw, s, 0, text);
    else
        cx_session_close(s, 1011, "out of memory");
    free(text);
}

/* A close answering a client message (reason: a static string): the client's later messages are
 * passed on no more (closing_behind). */
static void answer_close(cx_gateway *gw, cx_session *s, int code, const char *reason)
{
    if (send_answer(gw, s, code, reason) != 0)
        return;
    s->closing_behind_us = lws_now_usecs();
    s->closing_behind_code = code;
    s->closing_behind_reason = reason;
}

/* A close sent the ordered way (answer_close) is on its way back through the worker: the client's later
 * messages go nowhere. Should it not come (a worker built before ANSWER, an envelope lost with a
 * killed broker), a client that keeps sending is closed here after CLOSING_BEHIND_MAX_US. */
#define CLOSING_BEHIND_MAX_US (10 * LWS_US_PER_SEC)
static int closing_behind(cx_session *s)
{
    if (!s->closing_behind_us)
        return 0;
    if (lws_now_usecs() - s->closing_behind_us > CLOSING_BEHIND_MAX_US)
        cx_session_close(s, s->closing_behind_code, s->closing_behind_reason);
    return 1;
}

static void refuse(cx_gateway *gw, cx_session *s, const cx_auth_result *r)
{
    queue_own(gw, s, authentication_frame(s, r->status, r->detail));
    cx_log_fields(CX_LOG_INFO, "connection refused",
                  json_pack("{s:I, s:s, s:s, s:i}", "conn", (json_int_t) s->id, "path", s->path, "client",
                            s->client, "status", r->status));
    cx_session_close(s, 4000 + r->status, "");
}

/* One more connection of this user (or anonymous address) would pass CHANX_MAX_CONNECTIONS_PER_USER
 * (_PER_ADDRESS): refused as DRF refuses, 429 and the detail (conn_limits.h). */
static int over_connection_limit(cx_gateway *gw, cx_session *s, const cx_auth_result *r)
{
    char detail[160];
    size_t limit = cx_conn_limits_admit(gw->conn_limits, s->id, r->user_id, s->client, detail, sizeof detail);
    if (!limit)
        return 0;
    cx_auth_result refused = *r;
    refused.status = 429;
    snprintf(refused.detail, sizeof refused.detail, "%s", detail);
    refuse(gw, s, &refused);
    return 1;
}

/* The authenticate action (refresh.h): answered here, never passed on. */
static int refreshed(cx_gateway *gw, cx_session *s, const void *data, size_t len)
{
    int64_t expires_ms = 0;
    cx_refresh_verdict verdict = cx_refresh_check(s->spec, s->user_id, data, len, &expires_ms);
    if (verdict == CX_REFRESH_NOT_MINE)
        return 0;
    /* Only a JWT's deadline moves: a connection a DRF token or a session opened has none, and a JWT of
     * the same user sent on it confirms the user without giving it one. */
    if (verdict == CX_REFRESH_OK && s->expiry.slot >= 0 && cx_expiry_set(gw->expiry, &s->expiry, expires_ms) != 0)
        verdict = CX_REFRESH_INVALID;   /* out of memory: the old expiry stands */
    if (verdict == CX_REFRESH_OK) {
        answer_frame(gw, s, authentication_frame(s, 200, "OK"));
    } else if (verdict == CX_REFRESH_INVALID) {
        answer_frame(gw, s, authentication_frame(s, 401, "Given token not valid for any token type"));
    } else {
        answer_frame(gw, s, authentication_frame(s, 403, "You do not have permission to perform this action."));
        answer_close(gw, s, 4403, "Token of another user");
    }
    return 1;
}

/* Whether the message is within the consumer's rate (throttle.h); answers or closes when not. */
static int within_rate(cx_gateway *gw, cx_session *s)
{
    if (!s->spec || !s->spec->throttle.num)
        return 1;   /* not throttled: not even a clock read */
    long wait_s = 0;
    cx_throttle_verdict verdict = cx_throttle_check(&s->throttle, &s->spec->throttle, lws_now_usecs(), &wait_s);
    if (verdict == CX_THROTTLE_THROTTLED) {
        char detail[96];
        cx_throttle_detail(wait_s, detail, sizeof detail);
        answer_frame(gw, s, own_frame("error", json_pack("{s:s}", "detail", detail)));
    } else if (verdict == CX_THROTTLE_ABUSE) {
        cx_log_fields(CX_LOG_WARNING, "connection throttled out",
                      json_pack("{s:I, s:s?}", "conn", (json_int_t) s->id, "consumer", s->target));
        answer_close(gw, s, 1008, "Request was throttled.");
    }
    return verdict == CX_THROTTLE_PASS;
}

/* A client message for a connected session, the ones held during authentication included: counted
 * against the rate, then to the worker unless it is the gateway's own (whose answer still goes
 * through the worker, behind the earlier messages: send_answer). */
static void deliver(cx_gateway *gw, cx_session *s, const void *data, size_t len)
{
    if (!s->close_code && !closing_behind(s) && within_rate(gw, s) && !refreshed(gw, s, data, len))
        send_receive(gw, s, data, len);
}

/* Sends CONNECT, keeping its bytes for REPIN (upstream.c): if the worker process serving the connection
 * dies, the same CONNECT goes again, and the request fields it is made of are forgotten once it is
 * sent. One allocation the size of the envelope, and a copy: no second encoding per connect. 0, or -1
 * (out of memory, or the link refused it). */
static int send_connect(cx_gateway *gw, cx_session *s, const cx_env *env)
{
    const char *data;
    size_t len;
    if (cx_encoder_encode(gw->enc, env, &data, &len) != 0 || !(s->connect_again = malloc(len)))
        return -1;
    memcpy(s->connect_again, data, len);
    s->connect_again_len = len;
    return cx_link_send_raw(gw->link, data, len);
}

static void admit(cx_gateway *gw, cx_session *s, const cx_auth_result *r)
{
    if (over_connection_limit(gw, s, r))
        return;
    s->user_id = r->user_id;
    char *kwargs = s->kwargs ? cx_json_text(s->kwargs, NULL) : strdup("{}");
    cx_env env = {
        .type = CX_ENV_CONNECT, .conn = s->id, .consumer = cx_slice_of(s->target), .path = cx_slice_of(s->path),
        .query = cx_slice_of(s->query), .client = cx_slice_of(s->client), .kwargs = cx_slice_of(kwargs),
        .headers = cx_slice_of(s->headers), .user_id = r->user_id, .flags = r->user_flags,
        .username = cx_slice_of(r->username), .obj = cx_slice_of(r->obj),
        .connected_ms = (uint64_t) zclock_time(),   /* presence's connected_since, one clock for all */
    };
    int rc = send_connect(gw, s, &env);
    free(kwargs);
    if (rc != 0) {
        cx_session_close(s, 1011, "broker unavailable");
        return;
    }
    s->state = SESSION_CONNECTED;
    s->announced = 1;
    cx_session_forget_request(s);
    if ((r->expires_ms && cx_expiry_set(gw->expiry, &s->expiry, r->expires_ms) != 0)
        || cx_revalidate_track(gw->revalidate, s->id, r->user_id, r->decided_by, r->credential) != 0) {
        cx_session_close(s, 1011, "out of memory");   /* a credential we cannot watch is not kept open */
        return;
    }
    for (cx_frame *f; (f = cx_frame_queue_pop(&s->pending));) {
        deliver(gw, s, f->data + LWS_PRE, f->len);
        free(f);
    }
}

void cx_gw_collect_auth_results(cx_gateway *gw)
{
    cx_auth_result r;
    while (cx_auth_poll(gw->auth, &r)) {
        cx_gw_count_auth(r.decided_by, r.status);
        cx_session *s = cx_idmap_get(gw->sessions, r.conn);
        if (s && s->state == SESSION_AUTHENTICATING) {
            if (r.status == 200)
                admit(gw, s, &r);
            else
                refuse(gw, s, &r);
        }
        free(r.obj);
    }
    cx_gw_check_credentials(gw);   /* a revalidation round may have finished: it wakes the loop too */
    cx_gw_upstream_drain(gw);
}

/* A complete client message. */
static void on_message(cx_gateway *gw, cx_session *s, const unsigned char *data, size_t len)
{
    cx_gw_count_received(len);
    if (s->state == SESSION_CONNECTED) {
        deliver(gw, s, data, len);
        gw->drain_pending = 1;   /* once before the loop sleeps, not once per message: see before_poll */
    } else if (s->state == SESSION_AUTHENTICATING) {
        if (s->pending.count >= MAX_PENDING_FRAMES || s->pending.bytes + len > gw->config->max_buffered)
            cx_session_close(s, 1008, "too many messages before authentication");
        else if (cx_frame_queue_push(&s->pending, data, len) == 0)
            cx_gw_shed_if_over(gw);
    }
}

void cx_gw_on_receive(cx_gateway *gw, struct lws *wsi, cx_session *s, const void *in, size_t len)
{
    cx_keepalive_seen(gw->keepalive, s);
    if (s->close_code)
        return;   /* closing: what the client still sends has nowhere to go */
    if (lws_frame_is_binary(wsi)) {
        cx_session_close(s, 1003, "text frames only");
        return;
    }
    int first = lws_is_first_fragment(wsi), last = lws_is_final_fragment(wsi);
    if (first && last && !s->rx) {
        on_message(gw, s, in, len);
        return;
    }
    if (s->rxlen + len > gw->config->max_message) {
        free(s->rx);
        s->rx = NULL;
        s->rxlen = 0;
        cx_session_close(s, 1009, "message too big");
        return;
    }
    unsigned char *grown = realloc(s->rx, s->rxlen + len + 1);
    if (!grown) {
        cx_session_close(s, 1011, "out of memory");
        return;
    }
    memcpy(grown + s->rxlen, in, len);
    s->rx = grown;
    s->rxlen += len;
    if (last) {
        on_message(gw, s, s->rx, s->rxlen);
        free(s->rx);
        s->rx = NULL;
        s->rxlen = 0;
    }
}

void cx_gw_on_closed(cx_gateway *gw, cx_session **slot, int code)
{
    cx_session *s = *slot;
    if (!s)
        return;
    cx_gw_count_close(s->close_code ? s->close_code : code);   /* ours when we closed, else the client's */
    if (s->announced) {
        cx_env env = { .type = CX_ENV_DISCONNECT, .conn = s->id, .code = (uint32_t) code };
        cx_link_send(gw->link, &env);
    }
    cx_keepalive_remove(gw->keepalive, s);
    cx_conn_limits_release(gw->conn_limits, s->id);
    cx_expiry_remove(gw->expiry, &s->expiry);
    cx_revalidate_forget(gw->revalidate, s->id);
    cx_gw_forget_session(gw, s);
    cx_session_destroy(slot);
}

void cx_gw_close_everyone(cx_gateway *gw, int code)
{
    size_t n;
    cx_session **all = cx_session_snapshot(gw->sessions, &n);
    for (size_t i = 0; i < n; i++)
        cx_session_close(all[i], code, "server shutting down");
    free(all);
}

static void end_revoked(uint64_t conn, void *arg)
{
    cx_gateway *gw = arg;
    cx_session *s = cx_idmap_get(gw->sessions, conn);
    if (!s || s->close_code)
        return;
    cx_log_fields(CX_LOG_INFO, "connection revoked",
                  json_pack("{s:I, s:I}", "conn", (json_int_t) s->id, "user_id", (json_int_t) s->user_id));
    cx_session_close(s, 4401, "Authentication revoked");
}

void cx_gw_check_credentials(cx_gateway *gw)
{
    struct timespec wall;   /* exp is wall-clock time */
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t wall_ms = (int64_t) wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    for (cx_expiry_entry *e; (e = cx_expiry_pop_due(gw->expiry, wall_ms));) {
        cx_session *s = lws_container_of(e, cx_session, expiry);
        cx_session_close(s, 4401, "Token expired");
    }
    cx_revalidate_collect(gw->revalidate, end_revoked, gw);
    cx_revalidate_tick(gw->revalidate, lws_now_usecs() / 1000);
}
