/*
 * test_rogue.h — a peer of the broker played by hand: a raw ZeroMQ DEALER
 * that speaks envelopes (proto/envelope.h) with a key of the stack's, or
 * none. test_link_security.c plays an attacker with it, test_upgrade.c a
 * process of an older build. It receives single envelopes only (it never
 * says HELLO flag 2, so the broker sends it no batch) and counts them by
 * type, keeping the availability of one watched route from ROUTES. The
 * stack is the including file's `stack`.
 */
#ifndef CX_TEST_ROGUE_H
#define CX_TEST_ROGUE_H

#include "tests/kit/deploy_helpers.h"
#include "proto/envelope.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

static cx_stack *stack;

typedef struct {
    zsock_t *sock;
    cx_encoder *enc;
    cx_decoder *dec;
    int seen[CX_ENV_TYPE_MAX];   /* envelopes received, by type */
    uint64_t connect_conn;       /* the last CONNECT's connection */
    const char *watch;           /* a target whose row in ROUTES is kept: */
    int watch_available;         /* its available in the last ROUTES, -1 none yet */
} rogue;

typedef enum { NO_KEY, UNKNOWN_KEY, WORKER_KEY, GATEWAY_KEY, EXTRA_WORKER_KEY, API_KEY } key_kind;

static inline rogue *rogue_new(const char *name, key_kind kind)
{
    rogue *r = calloc(1, sizeof *r);
    r->sock = zsock_new(ZMQ_DEALER);
    r->enc = cx_encoder_new();
    r->dec = cx_decoder_new();
    r->watch_available = -1;
    zsock_set_identity(r->sock, name);
    zsock_set_linger(r->sock, 0);
    char path[700];
    if (kind != NO_KEY) {
        snprintf(path, sizeof path, "%s/%s", cx_stack_keys_dir(stack),
                 kind == WORKER_KEY ? "worker.key_secret" : kind == EXTRA_WORKER_KEY ? "extra.key_secret"
                 : kind == API_KEY ? "api.key_secret" : "gateway.key_secret");
        zcert_t *cert = kind == UNKNOWN_KEY ? zcert_new() : zcert_load(path);
        cr_assert_not_null(cert, "cannot load %s", path);
        snprintf(path, sizeof path, "%s/broker.key", cx_stack_keys_dir(stack));
        zcert_t *broker = zcert_load(path);
        cr_assert_not_null(broker);
        zcert_apply(cert, r->sock);
        zsock_set_curve_serverkey(r->sock, zcert_public_txt(broker));
        zcert_destroy(&cert);
        zcert_destroy(&broker);
    }
    cr_assert_eq(zsock_connect(r->sock, "%s", cx_stack_broker_endpoint(stack)), 0);
    return r;
}

static inline void rogue_destroy(rogue **r)
{
    zsock_destroy(&(*r)->sock);
    cx_encoder_destroy(&(*r)->enc);
    cx_decoder_destroy(&(*r)->dec);
    free(*r);
    *r = NULL;
}

static inline void rogue_send(rogue *r, const cx_env *env)
{
    const char *data;
    size_t len;
    cr_assert_eq(cx_encoder_encode(r->enc, env, &data, &len), 0);
    zmq_send(zsock_resolve(r->sock), data, len, ZMQ_DONTWAIT);
}

static inline void rogue_hello(rogue *r, cx_role role, const char *name)
{
    cx_env hello = { .type = CX_ENV_HELLO, .role = (uint8_t) role, .pid = 4242, .node = cx_slice_of(name) };
    rogue_send(r, &hello);
}

/* REGISTERs one route, pattern served by target, as a token-authenticated consumer anyone may use. */
static inline void rogue_register_route(rogue *r, const char *pattern, const char *target)
{
    cx_env_route route = { .kind = 0, .pattern = cx_slice_of(pattern), .target = cx_slice_of(target),
                           .spec = cx_slice_of("{\"authentication\": [\"token\"], \"permissions\": [\"AllowAny\"],"
                                               " \"auth_method\": \"GET\"}"),
                           .available = 1 };
    cx_env reg = { .type = CX_ENV_REGISTER, .nroutes = 1, .routes = &route };
    rogue_send(r, &reg);
}

/* Reads for ms, heartbeating as a live peer does, counting what arrives. */
static inline void rogue_pump(rogue *r, int ms)
{
    void *s = zsock_resolve(r->sock);
    cx_env beat = { .type = CX_ENV_HEARTBEAT }, env;
    for (int64_t end = zclock_mono() + ms; zclock_mono() < end;) {
        rogue_send(r, &beat);
        zmq_pollitem_t item = { .socket = s, .events = ZMQ_POLLIN };
        zmq_poll(&item, 1, 100);
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        while (zmq_msg_recv(&msg, s, ZMQ_DONTWAIT) >= 0) {
            if (cx_decoder_decode(r->dec, zmq_msg_data(&msg), zmq_msg_size(&msg), &env) == 0) {
                r->seen[env.type]++;
                if (env.type == CX_ENV_CONNECT)
                    r->connect_conn = env.conn;
                for (uint32_t i = 0; env.type == CX_ENV_ROUTES && r->watch && i < env.nroutes; i++)
                    if (cx_slice_eq(env.routes[i].target, r->watch))
                        r->watch_available = (int) env.routes[i].available;
            }
        }
        zmq_msg_close(&msg);
    }
}

#endif
