/*
 * gateway.c — the client side of the gateway: libwebsockets callbacks.
 *
 * Life of a client:
 *   1. HTTP upgrade: CONFIRM_UPGRADE matches the path; no route is 404, a
 *      route without a live worker (or no route table yet) is 503, and the
 *      upgrade is refused before any WebSocket exists.
 *   2. ESTABLISHED: a session is created and authentication is queued on the
 *      database pool (auth.c); frames the client sends meanwhile are held.
 *   3. The pool's result wakes the loop (EVENT_WAIT_CANCELLED): a refusal
 *      sends DRF's authentication message and closes with 4000 + status; an
 *      acceptance sends CONNECT to the broker, then the held frames.
 *   4. Text frames become RECEIVE envelopes; SEND envelopes become frames
 *      queued per session and written once per batch (outbox.c).
 *   5. CLOSED: DISCONNECT to the broker, the session is forgotten.
 *
 * The loop is ours, libuv's (epoll), lent to lws: lws's own loop polls every
 * descriptor on every turn, which made idle connections tax every message.
 * The broker link's ZeroMQ notification fd is adopted into it as a raw file,
 * so one thread serves clients and broker without blocking.
 */
#include "gateway/gateway_internal.h"
#include "common/env.h"
#include "common/http_status.h"
#include "common/log.h"
#include "gateway/deflate.h"
#include "gateway/handshake.h"
#include "gateway/forwarded.h"
#include "gateway/metrics.h"
#include "gateway/request.h"
#include "gateway/wire.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PENDING_FRAMES 256

cx_gateway *cx_gw;

/* -------------------------------------------------------------- helpers */

static int http_reply(struct lws *wsi, unsigned status, const char *body)
{
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    size_t len = strlen(body);
    if (lws_add_http_common_headers(wsi, status, "application/json", len, &p, end)
        || lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    memcpy(start, body, len);
    if (lws_write(wsi, start, len, LWS_WRITE_HTTP_FINAL) != (int) len)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ------------------------------------------------------------- sessions */

void cx_gw_close_session(cx_session *s, int code, const char *reason)
{
    s->state = SESSION_CLOSING;
    if (s->close_code)
        return;
    s->close_code = code;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason ? reason : "");
    lws_callback_on_writable(s->wsi);
}

static void send_receive(cx_gateway *gw, cx_session *s, const void *text, size_t len)
{
    cx_env env = { .type = CX_ENV_RECEIVE, .conn = s->id, .text = cx_slice_n(text, len) };
    if (cx_link_send(gw->link, &env) != 0)
        cx_gw_close_session(s, 1011, "broker unavailable");
}

static void on_established(cx_gateway *gw, struct lws *wsi, cx_session **slot)
{
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
    char *host = NULL;   /* what the Origin check compares with */
    cx_forwarded_read(gw->proxies, wsi, client, sizeof client, &host);
    s->path = path;
    s->kwargs = kwargs;
    s->client = strdup(client);
    s->query = cx_request_query(wsi, &token, &jwt);
    s->headers = cx_request_headers(wsi, offers);
    free(offers);
    if (!token)
        token = offered_token;   /* a DRF token offered as "<CHANX_TOKEN_SUBPROTOCOL>.<key>" */
    else
        free(offered_token);
    cx_idmap_put(gw->sessions, s->id, s);
    cx_keepalive_add(gw->keepalive, s);
    if (!route || !route->spec || !route->available) {
        cx_gw_close_session(s, 1011, "route changed");
    } else {
        s->target = strdup(target);
        s->spec = cx_consumer_spec_ref(route->spec);
        char *authorization = cx_request_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION), *cookie = cx_request_header(wsi, WSI_TOKEN_HTTP_COOKIE);
        char *origin = cx_request_header(wsi, WSI_TOKEN_ORIGIN);
        cx_credentials cred = { authorization, cookie, origin, host, token, jwt };
        if (cx_auth_submit(gw->auth, s->id, route->spec, &cred, s->kwargs) != 0)
            cx_gw_close_session(s, 1011, "out of memory");
        free(authorization);
        free(cookie);
        free(origin);
    }
    free(host);
    free(token);
    free(jwt);
}

static void refuse(cx_gateway *gw, cx_session *s, const cx_auth_result *r)
{
    json_t *msg = json_pack("{s:s, s:{s:i, s:s, s:{s:s}}}", "action", "authentication", "payload", "status_code",
                            r->status, "status_text", cx_http_status_text(r->status), "data", "detail", r->detail);
    char *text = json_dumps(msg, JSON_COMPACT);
    cx_gw_queue(gw, s, text, strlen(text), NULL, 0);
    free(text);
    json_decref(msg);
    cx_log_fields(CX_LOG_INFO, "connection refused",
                  json_pack("{s:I, s:s, s:s, s:i}", "conn", (json_int_t) s->id, "path", s->path, "client",
                            s->client, "status", r->status));
    cx_gw_close_session(s, 4000 + r->status, "");
}

static void admit(cx_gateway *gw, cx_session *s, const cx_auth_result *r)
{
    s->user_id = r->user_id;
    char *kwargs = json_dumps(s->kwargs ? s->kwargs : json_object(), JSON_COMPACT);
    cx_env env = {
        .type = CX_ENV_CONNECT, .conn = s->id, .consumer = cx_slice_of(s->target), .path = cx_slice_of(s->path),
        .query = cx_slice_of(s->query), .client = cx_slice_of(s->client), .kwargs = cx_slice_of(kwargs),
        .headers = cx_slice_of(s->headers), .user_id = r->user_id, .flags = r->user_flags,
        .username = cx_slice_of(r->username), .obj = cx_slice_of(r->obj),
    };
    int rc = cx_link_send(gw->link, &env);
    free(kwargs);
    if (rc != 0) {
        cx_gw_close_session(s, 1011, "broker unavailable");
        return;
    }
    s->state = SESSION_CONNECTED;
    s->announced = 1;
    cx_session_forget_request(s);
    for (cx_frame *f; (f = cx_frame_queue_pop(&s->pending));) {
        send_receive(gw, s, f->data + LWS_PRE, f->len);
        free(f);
    }
}

static void collect_auth_results(cx_gateway *gw)
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
    cx_gw_upstream_drain(gw);
}

/* A complete client message. */
static void on_message(cx_gateway *gw, cx_session *s, const unsigned char *data, size_t len)
{
    cx_gw_count_received(len);
    if (s->state == SESSION_CONNECTED) {
        send_receive(gw, s, data, len);
        gw->drain_pending = 1;   /* once before the loop sleeps, not once per message: see before_poll */
    } else if (s->state == SESSION_AUTHENTICATING) {
        if (s->pending.count >= MAX_PENDING_FRAMES || s->pending.bytes + len > gw->config->max_buffered)
            cx_gw_close_session(s, 1008, "too many messages before authentication");
        else
            cx_frame_queue_push(&s->pending, data, len);
    }
}

static void on_receive(cx_gateway *gw, struct lws *wsi, cx_session *s, const void *in, size_t len)
{
    cx_keepalive_seen(gw->keepalive, s);
    if (s->close_code)
        return;   /* closing: what the client still sends has nowhere to go */
    if (lws_frame_is_binary(wsi)) {
        cx_gw_close_session(s, 1003, "text frames only");
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
        cx_gw_close_session(s, 1009, "message too big");
        return;
    }
    unsigned char *grown = realloc(s->rx, s->rxlen + len + 1);
    if (!grown) {
        cx_gw_close_session(s, 1011, "out of memory");
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

static void on_closed(cx_gateway *gw, cx_session **slot, int code)
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
    cx_gw_forget_session(gw, s);
    cx_session_destroy(slot);
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
    size_t available = 0;
    for (size_t i = 0; i < gw->nentries; i++)
        available += gw->entries[i].available != 0;
    char body[200];
    snprintf(body, sizeof body,
             "{\"status\":\"%s\",\"broker\":%s,\"routes\":%zu,\"available\":%zu,\"connections\":%zu}",
             ok ? "ok" : "unavailable", cx_link_alive(gw->link) ? "true" : "false", gw->nentries, available,
             cx_idmap_size(gw->sessions));
    return http_reply(wsi, ok ? 200 : 503, body);
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    cx_gateway *gw = cx_gw;
    cx_session **slot = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        int rc;
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
        on_established(gw, wsi, slot);
        if (*slot) {
            (*slot)->deflate = gw->handshake_deflate;
            cx_wire_established(lws_get_socket_fd(wsi), (*slot)->id, (*slot)->deflate);
        }
        gw->handshake_deflate = 0;
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (*slot)
            on_receive(gw, wsi, *slot, in, len);
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
        on_closed(gw, slot, *slot && (*slot)->peer_close_code ? (*slot)->peer_close_code : 1006);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        collect_auth_results(gw);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static int callback_broker_fd(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        cx_gw_upstream_drain(cx_gw);
        return 0;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols PROTOCOLS[] = {
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

/* ----------------------------------------------------------------- loop */

static void on_tick(lws_sorted_usec_list_t *sul)
{
    cx_gateway *gw = lws_container_of(sul, cx_gateway, tick);
    if (cx_link_tick(gw->link))
        cx_gw_reintroduce(gw);
    cx_gw_metrics_state(cx_idmap_size(gw->sessions), cx_link_alive(gw->link));
    cx_gw_upstream_drain(gw);
    lws_sul_schedule(gw->lws, 0, &gw->tick, on_tick, 50 * LWS_US_PER_MS);
}

/* Runs before every wait for I/O. A zmq_send can consume the broker socket's
 * edge-triggered notification, so replies that arrived meanwhile must be
 * read before the loop sleeps; doing it here once per loop turn rather than
 * after every client message saves a zmq_msg_recv (and its poll() syscall)
 * per message when a turn handles many. */
static void before_poll(uv_prepare_t *prepare)
{
    cx_gateway *gw = prepare->data;
    cx_wire_collect(cx_gw_on_wire_verdict, gw);
    if (gw->drain_pending) {
        gw->drain_pending = 0;
        cx_gw_upstream_drain(gw);
    }
    cx_gw_flush_dirty(gw);
}

static void wake_loop(void *arg)
{
    lws_cancel_service(((cx_gateway *) arg)->lws);
}

static int adopt_broker_fd(cx_gateway *gw)
{
    /* lws closes what it adopts; ZeroMQ must keep its own fd, so lws gets a duplicate. */
    lws_sock_file_fd_type fd;
    fd.filefd = dup(cx_link_fd(gw->link));
    return fd.filefd >= 0 && lws_adopt_descriptor_vhost(gw->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "chanx broker", NULL)
               ? 0 : -1;
}

/* A copy of the session list (closing edits the map); free it. *n = 0 when out of memory. */
static cx_session **all_sessions(cx_gateway *gw, size_t *n)
{
    *n = cx_idmap_size(gw->sessions);
    cx_session **all = malloc((*n + 1) * sizeof *all);
    *n = all ? cx_idmap_values(gw->sessions, (void **) all, *n) : 0;
    return all;
}

static void close_everyone(cx_gateway *gw, int code)
{
    size_t n;
    cx_session **all = all_sessions(gw, &n);
    for (size_t i = 0; i < n; i++)
        cx_gw_close_session(all[i], code, "server shutting down");
    free(all);
}

/* A broker that does not know us (restarted, a standby that took over, or one that declared us dead
 * after a silence): the link has sent HELLO; we re-announce every connection we hold with its groups
 * (RESUME, then RESUME 0), and the broker pins them again to the workers that re-announce them
 * (broker/rebuild.c). Clients keep their connections; upgrades answer 503 until the broker sends the
 * route table again. */
void cx_gw_reintroduce(cx_gateway *gw)
{
    gw->have_routes = 0;
    size_t n, resumed = 0;
    cx_session **all = all_sessions(gw, &n);
    for (size_t i = 0; i < n; i++) {
        cx_session *s = all[i];
        if (!s->announced)
            continue;
        size_t g = 0;
        do {   /* a RESUME carries at most CX_PROTO_MAX_GROUPS groups: more go in more RESUMEs */
            cx_env env = { .type = CX_ENV_RESUME, .conn = s->id };
            for (; g < s->ngroups && env.ngroups < CX_PROTO_MAX_GROUPS; g++)
                env.groups[env.ngroups++] = cx_slice_of(s->groups[g]);
            cx_link_send(gw->link, &env);
        } while (g < s->ngroups);
        resumed++;
    }
    free(all);
    cx_env done = { .type = CX_ENV_RESUME, .conn = 0 };
    cx_link_send(gw->link, &done);
    if (resumed)
        cx_warn("re-announced %zu connections to the broker", resumed);
}

/* Whether the listen address can be bound, tried before lws is: lws builds a
 * context even when its listening socket fails, and destroying that context
 * on the libuv loop crashes. SO_REUSEADDR as lws sets it, so a port in
 * TIME_WAIT is not mistaken for a taken one. */
static int can_listen(const cx_gateway_config *config)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) config->port) };
    if (inet_pton(AF_INET, config->listen_host, &addr.sin_addr) != 1)
        return 1;   /* an interface name: lws resolves it, and says if it cannot */
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    int ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0
             && bind(fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    if (!ok)
        cx_error("cannot listen on %s:%d: %s", config->listen_host, config->port, strerror(errno));
    if (fd >= 0)
        close(fd);
    return ok;
}

static int setup(cx_gateway *gw, const cx_gateway_config *config)
{
    if (!can_listen(config) || cx_wire_init() != 0)
        return -1;
    char host[64] = "host", node[160];
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "gateway-%s-%d-%d", host, (int) getpid(), config->port);
    if (getrandom(&gw->node, sizeof gw->node, 0) != sizeof gw->node)
        gw->node = (uint32_t) getpid();
    gw->node &= 0x7fffffff;   /* connection ids (node << 32 | n) stay positive as JSON integers in logs */
    gw->config = config;
    gw->sessions = cx_idmap_new();
    gw->docs = cx_docs_new(config->playground);
    gw->groups = cx_gw_groups_new();
    gw->link = cx_link_new(config->broker, CX_ROLE_GATEWAY, node);
    if (!gw->sessions || !gw->groups || !gw->link)
        return -1;
    if (uv_loop_init(&gw->loop) != 0)
        return -1;
    gw->loop_ready = 1;
    gw->prepare.data = gw;
    uv_prepare_init(&gw->loop, &gw->prepare);   /* cannot fail: it only links the handle in */
    uv_prepare_start(&gw->prepare, before_poll);
    int pings_off = 0;
    char why[160] = "";
    gw->keepalive = cx_keepalive_new(&gw->loop, &pings_off);
    gw->proxies = cx_proxies_new(cx_env_str("CHANX_TRUSTED_PROXIES", NULL), why, sizeof why);
    if (!gw->proxies)
        cx_error("CHANX_TRUSTED_PROXIES: %s", why);
    if ((!gw->keepalive && !pings_off) || !gw->proxies)
        return -1;
    void *loops[1] = { &gw->loop };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.foreign_loops = loops;
    info.port = config->port;
    info.iface = config->listen_host;
    info.protocols = PROTOCOLS;
    int level = cx_deflate_level_setting();   /* permessage-deflate, opt-in (deflate.h) */
    if (level && !(gw->deflate = cx_deflate_new(level)))
        return -1;
    info.extensions = level ? cx_deflate_extensions() : NULL;
    /* UTF-8 of text frames is checked by wire.c before lws reads them; lws checks it again only where
     * wire.c cannot: compressed messages, once inflated. */
    info.options = (level ? LWS_SERVER_OPTION_VALIDATE_UTF8 : 0) | LWS_SERVER_OPTION_DISABLE_IPV6
                   | LWS_SERVER_OPTION_LIBUV;
    info.fd_limit_per_thread = 0;
    info.timeout_secs = 10;
    /* A request head must be complete this long after the connection opened (slowloris), and may
     * be as large as wire.h lets through: lws drops what overflows its buffer without an answer. */
    info.timeout_secs_ah_idle = (unsigned int) cx_env_long("CHANX_HANDSHAKE_TIMEOUT_SECS", 10, 1, 3600);
    info.max_http_header_data = CX_WIRE_MAX_HEAD + 2048;
    info.ka_time = 60;
    info.ka_probes = 3;
    info.ka_interval = 10;
    /* lws's own "validity" pings off (its default: ping at 300 s, hang up at 310 s): gateway/keepalive.c
     * pings instead. lws re-files a connection's validity timer in a sorted list on every pong, a
     * walk over all connections: with 10,000 idle clients pinged each second that cost the gateway
     * 100 us per pong (make bench, echo_busy pinged). A zero policy makes lws skip those timers. */
    static const lws_retry_bo_t no_lws_validity = { 0 };
    info.retry_and_idle_policy = &no_lws_validity;
    gw->lws = lws_create_context(&info);
    if (!gw->lws)
        return -1;
    gw->vhost = lws_get_vhost_by_name(gw->lws, "default");
    if (!gw->vhost) {   /* lws makes the context even when it cannot listen */
        cx_error("cannot listen on %s:%d (address in use?)", config->listen_host, config->port);
        return -1;
    }
    gw->auth = cx_auth_new(config->database, config->db_threads, wake_loop, gw);
    if (!gw->auth || adopt_broker_fd(gw) != 0)
        return -1;
    cx_link_hello(gw->link);
    lws_sul_schedule(gw->lws, 0, &gw->tick, on_tick, 50 * LWS_US_PER_MS);
    return 0;
}

/* lws closes its libuv handles asynchronously: the loop must run until they
 * are gone before it can be closed. Bounded, so a stuck handle cannot hang
 * a stopping gateway. */
static void close_loop(cx_gateway *gw)
{
    if (!gw->loop_ready)
        return;
    uv_close((uv_handle_t *) &gw->prepare, NULL);
    for (int i = 0; i < 1000 && uv_loop_alive(&gw->loop); i++)
        uv_run(&gw->loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&gw->loop) != 0)
        cx_warn("event loop closed with handles still open");
    gw->loop_ready = 0;
}

static void teardown(cx_gateway *gw)
{
    cx_auth_destroy(&gw->auth);   /* first: its threads call back into the lws context */
    if (gw->lws) {
        lws_sul_cancel(&gw->tick);
        lws_context_destroy(gw->lws);
    }
    cx_keepalive_destroy(&gw->keepalive);   /* after lws: closing clients leave its wheel */
    close_loop(gw);
    cx_proxies_destroy(&gw->proxies);
    cx_gw_upstream_free(gw);
    cx_deflate_destroy(&gw->deflate);
    free(gw->scratch);
    free(gw->dirty);
    zhashx_destroy(&gw->groups);
    cx_idmap_destroy(&gw->sessions);
    cx_docs_destroy(&gw->docs);
    cx_link_destroy(&gw->link);
}

int cx_gateway_run(const cx_gateway_config *config, volatile int *stop)
{
    static cx_gateway gateway;
    cx_gateway *gw = cx_gw = &gateway;
    memset(gw, 0, sizeof *gw);
    lws_set_log_level(getenv("CHANX_LWS_DEBUG") ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO : LLL_ERR, NULL);
    if (setup(gw, config) != 0) {
        cx_error("gateway could not start on %s:%d", config->listen_host, config->port);
        teardown(gw);
        return -1;
    }
    cx_info("gateway listening on %s:%d, broker %s", config->listen_host, config->port, config->broker);
    /* UV_RUN_ONCE returns at least every tick (50 ms), so a signal's stop flag is seen promptly. */
    while (!*stop)
        uv_run(&gw->loop, UV_RUN_ONCE);
    /* Drain: stop accepting, tell clients we are going away, give them a bounded time. */
    gw->draining = 1;
    close_everyone(gw, 1001);
    int64_t deadline = cx_now_ms() + config->drain_ms;
    while (cx_idmap_size(gw->sessions) > 0 && cx_now_ms() < deadline)
        uv_run(&gw->loop, UV_RUN_ONCE);
    teardown(gw);
    return 0;
}
