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
#include "common/http_status.h"
#include "common/log.h"
#include "gateway/request.h"

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
    const char *target = NULL;
    json_t *kwargs = NULL;
    cx_route_entry *route = path ? cx_gw_route(gw, path, &kwargs, &target) : NULL;
    cx_session *s = cx_session_new(((uint64_t) gw->node << 32) | ++gw->next_conn, wsi);
    if (!s) {
        free(path);
        json_decref(kwargs);
        return;
    }
    *slot = s;
    lws_get_peer_simple(wsi, client, sizeof client);
    s->path = path;
    s->kwargs = kwargs;
    s->client = strdup(client);
    s->query = cx_request_query(wsi, &token, &jwt);
    s->headers = cx_request_headers(wsi);
    cx_idmap_put(gw->sessions, s->id, s);
    if (!route || !route->spec || !route->available) {
        cx_gw_close_session(s, 1011, "route changed");
    } else {
        s->target = strdup(target);
        s->spec = cx_consumer_spec_ref(route->spec);
        char *authorization = cx_request_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION), *cookie = cx_request_header(wsi, WSI_TOKEN_HTTP_COOKIE);
        char *origin = cx_request_header(wsi, WSI_TOKEN_ORIGIN), *host = cx_request_header(wsi, WSI_TOKEN_HOST);
        cx_credentials cred = { authorization, cookie, origin, host, token, jwt };
        if (cx_auth_submit(gw->auth, s->id, route->spec, &cred, s->kwargs) != 0)
            cx_gw_close_session(s, 1011, "out of memory");
        free(authorization);
        free(cookie);
        free(origin);
        free(host);
    }
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
    if (s->announced) {
        cx_env env = { .type = CX_ENV_DISCONNECT, .conn = s->id, .code = (uint32_t) code };
        cx_link_send(gw->link, &env);
    }
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

static int healthz(cx_gateway *gw, struct lws *wsi, const char *uri)
{
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
    case LWS_CALLBACK_HTTP:
        return healthz(gw, wsi, in);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return refuse_upgrade(gw, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        on_established(gw, wsi, slot);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (*slot)
            on_receive(gw, wsi, *slot, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return *slot ? cx_gw_on_writeable(gw, *slot) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (*slot && len >= 2)
            (*slot)->peer_close_code = ((const unsigned char *) in)[0] << 8 | ((const unsigned char *) in)[1];
        return 0;
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
    { "chanx", callback_ws, sizeof(cx_session *), 4096, 0, NULL, 65536 },
    { "chanx-broker", callback_broker_fd, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ----------------------------------------------------------------- loop */

static void on_tick(lws_sorted_usec_list_t *sul)
{
    cx_gateway *gw = lws_container_of(sul, cx_gateway, tick);
    if (cx_link_tick(gw->link))
        cx_gw_broker_lost(gw);
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
    return fd.filefd >= 0 && lws_adopt_descriptor_vhost(gw->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "chanx-broker", NULL)
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

/* The broker has forgotten this gateway's connections: it restarted, or it
 * declared us dead after a silence. They have no consumer any more, so their
 * clients are told to reconnect (1012, service restart); upgrades answer 503
 * until the broker sends the route table again. Clients still authenticating
 * carry on: their CONNECT goes to the broker after our HELLO. */
void cx_gw_broker_lost(cx_gateway *gw)
{
    gw->have_routes = 0;
    size_t n, closed = 0;
    cx_session **all = all_sessions(gw, &n);
    for (size_t i = 0; i < n; i++)
        if (all[i]->announced) {
            all[i]->announced = 0;   /* nobody to tell about its DISCONNECT */
            cx_gw_close_session(all[i], 1012, "broker restarted");
            closed++;
        }
    free(all);
    if (closed)
        cx_warn("broker lost our connections: closed %zu with 1012 so their clients reconnect", closed);
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
    if (!can_listen(config))
        return -1;
    char host[64] = "host", node[160];
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "gateway-%s-%d-%d", host, (int) getpid(), config->port);
    if (getrandom(&gw->node, sizeof gw->node, 0) != sizeof gw->node)
        gw->node = (uint32_t) getpid();
    gw->node &= 0x7fffffff;   /* connection ids (node << 32 | n) stay positive as JSON integers in logs */
    gw->config = config;
    gw->sessions = cx_idmap_new();
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
    void *loops[1] = { &gw->loop };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.foreign_loops = loops;
    info.port = config->port;
    info.iface = config->listen_host;
    info.protocols = PROTOCOLS;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_LIBUV;
    info.fd_limit_per_thread = 0;
    info.timeout_secs = 10;
    info.ka_time = 60;
    info.ka_probes = 3;
    info.ka_interval = 10;
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
    close_loop(gw);
    cx_gw_upstream_free(gw);
    free(gw->scratch);
    free(gw->dirty);
    zhashx_destroy(&gw->groups);
    cx_idmap_destroy(&gw->sessions);
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
