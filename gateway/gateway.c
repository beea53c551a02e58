/*
 * gateway.c — the gateway process: setup, its loop and teardown.
 *
 * The loop is ours, libuv's (epoll), lent to lws: lws's own loop polls every
 * descriptor on every turn, which made idle connections tax every message.
 * The broker link's ZeroMQ notification fd is adopted into it as a raw file,
 * so one thread serves clients and broker without blocking. What lws calls
 * is callbacks.c; a client's life is clients.c; the broker side is
 * upstream.c; frames to clients leave through outbox.c.
 */
#include "gateway/gateway_internal.h"
#include "common/env.h"
#include "common/log.h"
#include "common/rate.h"
#include "gateway/conn_limits.h"
#include "gateway/deflate.h"
#include "gateway/metrics.h"
#include "gateway/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

/* ----------------------------------------------------------------- loop */

static void on_tick(lws_sorted_usec_list_t *sul)
{
    cx_gateway *gw = lws_container_of(sul, cx_gateway, tick);
    if (cx_link_tick(gw->link))
        cx_gw_reintroduce(gw);
    cx_gw_metrics_state(cx_idmap_size(gw->sessions), cx_link_alive(gw->link));
    cx_gw_metrics_buffered(gw->buffered, gw->buffered_peak);
    cx_gw_check_credentials(gw);
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
    cx_link_flush(gw->link);   /* what this turn sent the broker, as one message (common/link.h) */
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

/* CHANX_THROTTLE_RATE, checked once at start: a typo must stop the gateway, not turn into a 500
 * for every route when the route table arrives. */
static int throttle_rate_ok(void)
{
    cx_rate rate;
    char why[160];
    if (cx_rate_parse(cx_env_str("CHANX_THROTTLE_RATE", NULL), &rate, why, sizeof why) == 0)
        return 1;
    cx_error("CHANX_THROTTLE_RATE: %s", why);
    return 0;
}

static int setup(cx_gateway *gw, const cx_gateway_config *config)
{
    if (!throttle_rate_ok() || !can_listen(config) || cx_wire_init() != 0)
        return -1;
    char host[64] = "host", node[160];
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "gateway-%s-%d-%d", host, (int) getpid(), config->port);
    if (getrandom(&gw->node, sizeof gw->node, 0) != sizeof gw->node)
        gw->node = (uint32_t) getpid();
    gw->node &= 0x7fffffff;   /* connection ids (node << 32 | n) stay positive as JSON integers in logs */
    gw->config = config;
    gw->sessions = cx_idmap_new();
    gw->docs = cx_docs_new(config->playground, config->listen_host, config->port);
    gw->groups = cx_gw_groups_new();
    gw->link = cx_link_new(config->broker, CX_ROLE_GATEWAY, node);
    gw->enc = cx_encoder_new();
    gw->dec = cx_decoder_new();
    if (gw->link)   /* it answers REPIN: a dead worker process's connections move without a close */
        cx_link_set_hello_flags(gw->link, CX_HELLO_REPINS);
    gw->conn_limits = cx_conn_limits_new(config->max_conns_per_user, config->max_conns_per_address);
    if (!gw->sessions || !gw->groups || !gw->link || !gw->enc || !gw->dec || !gw->conn_limits
        || cx_link_batch(gw->link) != 0)   /* flushed in before_poll */
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
    info.protocols = cx_gw_protocols;
    info.user = gw;   /* what callbacks.c finds with lws_context_user(lws_get_context(wsi)): no global */
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
    gw->expiry = cx_expiry_new();
    gw->revalidate = gw->auth ? cx_revalidate_new(gw->auth, cx_env_long("CHANX_REVALIDATE_INTERVAL_MS", 60000, 0,
                                                                         86400000)) : NULL;
    if (!gw->auth || !gw->expiry || !gw->revalidate || adopt_broker_fd(gw) != 0)
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
    cx_revalidate_destroy(&gw->revalidate);   /* after the pool: a round may have been its task */
    cx_expiry_destroy(&gw->expiry);
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
    cx_conn_limits_destroy(&gw->conn_limits);
    cx_docs_destroy(&gw->docs);
    cx_link_destroy(&gw->link);
    cx_encoder_destroy(&gw->enc);
    cx_decoder_destroy(&gw->dec);
}

int cx_gateway_run(const cx_gateway_config *config, volatile int *stop)
{
    static cx_gateway gateway;
    cx_gateway *gw = &gateway;
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
    cx_gw_close_everyone(gw, 1001);
    int64_t deadline = cx_now_ms() + config->drain_ms;
    while (cx_idmap_size(gw->sessions) > 0 && cx_now_ms() < deadline)
        uv_run(&gw->loop, UV_RUN_ONCE);
    teardown(gw);
    return 0;
}
