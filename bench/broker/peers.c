/*
 * peers.c — the fake gateways and workers (see load.h): their links, and
 * what each does with an envelope from the broker.
 *
 * A worker answers a RECEIVE with a SEND of the same text (the echo a chat
 * consumer's round trip costs the broker) and learns its connections from
 * CONNECT. A gateway counts what reaches it: GROUP_ADD (and, for the
 * fan-out groups, how many members it holds), SEND (a round trip ends:
 * latency from the timestamp the text carries), GROUP_SEND (deliveries =
 * its local members of the group, as a real gateway would write them).
 */
#include "bench/broker/load.h"
#include "common/log.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GATEWAY_BASE 0x5eed0000u

uint64_t bl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

uint64_t bl_conn_id(const bl_load *b, uint64_t i)
{
    uint64_t g = i % (uint64_t) b->ngateways;
    return (GATEWAY_BASE + g) << 32 | (i / (uint64_t) b->ngateways + 1);
}

uint64_t bl_conn_index(const bl_load *b, uint64_t id)
{
    uint64_t g = (id >> 32) - GATEWAY_BASE, n = id & 0xffffffffu;
    if ((id >> 32) < GATEWAY_BASE || g >= (uint64_t) b->ngateways || n == 0)
        return UINT64_MAX;
    uint64_t i = (n - 1) * (uint64_t) b->ngateways + g;
    return i < b->announced ? i : UINT64_MAX;
}

/* The timestamp (ns, 16 hex digits) a text carries after "t":" (route and fan-out texts). */
static uint64_t text_stamp(cx_slice text)
{
    const char *p = memmem(text.ptr, text.len, "\"t\":\"", 5);
    if (!p || (size_t) (p - text.ptr) + 5 + 16 > text.len)
        return 0;
    char hex[17];
    memcpy(hex, p + 5, 16);
    hex[16] = 0;
    return strtoull(hex, NULL, 16);
}

static uint64_t text_seq(cx_slice text)
{
    const char *p = memmem(text.ptr, text.len, "\"seq\":", 6);
    return p ? strtoull(p + 6, NULL, 10) : UINT64_MAX;
}

/* "fan-<index>-..." → index, or -1 for a room. */
static int fan_index(cx_slice group)
{
    if (group.len < 6 || memcmp(group.ptr, "fan-", 4) != 0)
        return -1;
    int f = group.ptr[4] - '0';
    return f >= 0 && f < BL_MAX_FANOUT ? f : -1;
}

static void on_gateway(bl_load *b, int g, const cx_env *env)
{
    switch (env->type) {
    case CX_ENV_ROUTES:
        for (uint32_t i = 0; i < env->nroutes; i++)
            if (cx_slice_eq(env->routes[i].target, BL_TARGET) && env->routes[i].available)
                b->gateways[g].ready = 1;
        break;
    case CX_ENV_GROUP_ADD: {
        b->joins_seen++;
        int f = fan_index(env->group);
        if (f >= 0)
            b->fan_members[f][g]++;
        break;
    }
    case CX_ENV_SEND: {
        b->sends_seen++;
        uint64_t t0 = text_stamp(env->text);
        if (t0)
            hist_record(&b->latency, bl_now_ns() - t0);
        break;
    }
    case CX_ENV_GROUP_SEND: {
        if (env->ngroups == 1 && env->groups[0].len > 5 && !memcmp(env->groups[0].ptr, "hist-", 5)) {
            b->held_seen++;   /* bl_held */
            break;
        }
        b->gsend_envelopes++;
        int f = env->ngroups == 1 ? fan_index(env->groups[0]) : -1;
        if (f < 0) {
            b->unexpected++;
            break;
        }
        b->deliveries += b->fan_members[f][g];
        uint64_t seq = text_seq(env->text);
        bl_pending *p = b->pending && seq < b->seq ? &b->pending[seq % b->ring] : NULL;
        if (p && p->remaining > 0 && --p->remaining == 0) {
            b->gsends_complete++;
            hist_record(&b->latency, bl_now_ns() - p->t0);
        }
        break;
    }
    case CX_ENV_RECOVERY:   /* --history: each join to a group with a history says its epoch and seq */
        if (!b->history && !b->held_groups)
            b->unexpected++;
        break;
    case CX_ENV_CLOSE:
        b->closes++;
        if (b->closes <= 3)
            fprintf(stderr, "chanx-bench-broker: the broker closed connection %llu with %u: %.*s\n",
                    (unsigned long long) env->conn, env->code, (int) env->text.len, env->text.ptr);
        break;
    default:
        b->unexpected++;
    }
}

static void on_worker(bl_load *b, int w, const cx_env *env)
{
    uint64_t i = env->conn ? bl_conn_index(b, env->conn) : UINT64_MAX;
    switch (env->type) {
    case CX_ENV_CONNECT:
        if (i == UINT64_MAX) {
            b->unexpected++;
            break;
        }
        b->conn_worker[i] = (uint8_t) w;
        b->connects_seen++;
        if (!b->workers[w].sample_conn)
            b->workers[w].sample_conn = env->conn;
        break;
    case CX_ENV_RECEIVE: {
        b->receives_seen++;
        cx_env send = { .type = CX_ENV_SEND, .conn = env->conn, .text = env->text };
        cx_link_send(b->workers[w].link, &send);
        break;
    }
    case CX_ENV_DISCONNECT:
        if (env->code == 1006) {   /* from the broker: the connection's gateway is gone */
            uint64_t now = bl_now_ns();
            if (!b->gone_seen++)
                b->gone_first_ns = now;
            b->gone_last_ns = now;
        } else {
            b->disconnects_seen++;
        }
        break;
    default:
        b->unexpected++;
    }
}

static void drain(bl_load *b, bl_peer *p, int gateway, int index)
{
    cx_env env;
    for (;;) {
        cx_link_event ev = cx_link_recv(p->link, &env);
        if (ev == CX_LINK_NONE)
            return;
        if (ev == CX_LINK_REINTRODUCE) {
            b->lost = 1;   /* the broker forgot us: a restart, or it timed us out */
            continue;
        }
        if (gateway)
            on_gateway(b, index, &env);
        else
            on_worker(b, index, &env);
    }
}

void bl_pump(bl_load *b, int timeout_ms)
{
    static uint64_t last_tick;
    zmq_pollitem_t items[2 * BL_MAX_PEERS];
    int n = 0;
    for (int g = 0; g < b->ngateways; g++)   /* a lost gateway's item polls nothing (NULL socket, fd -1) */
        items[n++] = b->gateways[g].link ? (zmq_pollitem_t) { .socket = cx_link_socket(b->gateways[g].link),
                                                              .events = ZMQ_POLLIN }
                                         : (zmq_pollitem_t) { .fd = -1 };
    for (int w = 0; w < b->nworkers; w++)
        items[n++] = (zmq_pollitem_t) { .socket = cx_link_socket(b->workers[w].link), .events = ZMQ_POLLIN };
    if (zmq_poll(items, n, timeout_ms) > 0)
        for (int k = 0; k < n; k++)
            if (items[k].revents & ZMQ_POLLIN) {
                int gw = k < b->ngateways;
                drain(b, gw ? &b->gateways[k] : &b->workers[k - b->ngateways], gw, gw ? k : k - b->ngateways);
            }
    uint64_t now = bl_now_ns();
    if (now - last_tick > 200000000u) {   /* heartbeats when a link is idle; a silent broker is noticed */
        last_tick = now;
        for (int g = 0; g < b->ngateways; g++)
            if (b->gateways[g].link)
                b->lost |= cx_link_tick(b->gateways[g].link);
        for (int w = 0; w < b->nworkers; w++)
            b->lost |= cx_link_tick(b->workers[w].link);
    }
}

static int open_peer(bl_load *b, bl_peer *p, cx_role role, const char *kind, int index)
{
    char host[64];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    snprintf(p->node, sizeof p->node, "%s-benchload-%s-%d-%d", kind, host, (int) getpid(), index);
    if (!(p->link = cx_link_new(b->endpoint, role, p->node)))
        return -1;
    return cx_link_hello(p->link);
}

int bl_peers_start(bl_load *b, int timeout_ms)
{
    if (!(b->conn_worker = malloc(b->connections ? b->connections : 1)))
        return -1;
    memset(b->conn_worker, BL_NO_WORKER, b->connections);
    for (int w = 0; w < b->nworkers; w++)
        if (open_peer(b, &b->workers[w], CX_ROLE_WORKER, "worker", w) != 0)
            return -1;
    for (int g = 0; g < b->ngateways; g++)
        if (open_peer(b, &b->gateways[g], CX_ROLE_GATEWAY, "gateway", g) != 0)
            return -1;
    /* The route a chat consumer registers; its spec is what a gateway enforces (none here). */
    cx_env_route route = { .kind = 0, .pattern = cx_slice_of("ws/benchload/<str:room_name>/"),
                           .target = cx_slice_of(BL_TARGET),
                           .spec = cx_slice_of("{\"authentication\":[],\"permissions\":[]}"), .available = 1 };
    cx_env reg = { .type = CX_ENV_REGISTER, .nroutes = 1, .routes = &route };
    for (int w = 0; w < b->nworkers; w++)
        cx_link_send(b->workers[w].link, &reg);
    for (uint64_t deadline = bl_now_ns() + (uint64_t) timeout_ms * 1000000u; bl_now_ns() < deadline;) {
        bl_pump(b, 50);
        int ready = 0;
        for (int g = 0; g < b->ngateways; g++)
            ready += b->gateways[g].ready;
        if (ready == b->ngateways)
            return 0;
    }
    fprintf(stderr, "chanx-bench-broker: no route from the broker at %s within %d ms (is it running, with the "
            "same keys?)\n", b->endpoint, timeout_ms);
    return -1;
}

void bl_peers_stop(bl_load *b)
{
    for (int g = 0; g < b->ngateways; g++)
        cx_link_destroy(&b->gateways[g].link);
    for (int w = 0; w < b->nworkers; w++)
        cx_link_destroy(&b->workers[w].link);
    free(b->conn_worker);
    b->conn_worker = NULL;
}
