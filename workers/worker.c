/*
 * worker.c — a worker process: plugins, consumer instances, the broker link.
 *
 * The worker is one thread around one ZeroMQ socket. Envelopes from the
 * broker drive everything: CONNECT creates a consumer instance (chanx_ctx),
 * RECEIVE runs it, DISCONNECT ends it. Because every envelope of one
 * connection comes through the same socket in order and is handled to
 * completion before the next, a connection's messages are handled in arrival
 * order and its callbacks never overlap.
 *
 * On start, and whenever the broker asks who we are, the worker sends HELLO
 * and REGISTER with the routes of every loaded consumer; routes are composed
 * from the plugins' relative routes and the deployment routing file (see
 * workers/routing_file.h). The plugin folder is watched (plugin_watch.c) so
 * that a new or replaced .so goes live without a restart.
 */
#include "workers/worker.h"
#include "common/env.h"
#include "workers/context_internal.h"
#include "workers/events.h"
#include "workers/liveness.h"
#include "common/idmap.h"
#include "common/link.h"
#include "common/log.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cx_worker {
    cx_link *link;
    cx_idmap *ctxs;             /* conn id → chanx_ctx */
    cx_plugin_set *plugins;
    cx_settings settings;
    int closing_code;           /* set on shutdown: connections get this close code */
};

int cx_worker_send(cx_worker *worker, const cx_env *env)
{
    return cx_link_send(worker->link, env);
}

const cx_settings *cx_worker_settings(const cx_worker *worker)
{
    return &worker->settings;
}

void cx_settings_load(cx_settings *s)
{
    s->send_completion = cx_env_flag("CHANX_SEND_COMPLETION", 0);
    s->send_authentication_message = cx_env_flag("CHANX_SEND_AUTHENTICATION_MESSAGE", 1);
    s->log_received_message = cx_env_flag("CHANX_LOG_RECEIVED_MESSAGE", 1);
    s->log_sent_message = cx_env_flag("CHANX_LOG_SENT_MESSAGE", 1);
    s->camelize = cx_env_flag("CHANX_CAMELIZE", 0);
    s->log_ignored_actions = json_array();
    const char *ignored = cx_env_str("CHANX_LOG_IGNORED_ACTIONS", NULL);
    char *copy = ignored ? strdup(ignored) : NULL, *save = NULL;
    for (char *a = copy ? strtok_r(copy, ", ", &save) : NULL; a; a = strtok_r(NULL, ", ", &save))
        json_array_append_new(s->log_ignored_actions, json_string(a));
    free(copy);
}

void cx_settings_free(cx_settings *s)
{
    json_decref(s->log_ignored_actions);
    s->log_ignored_actions = NULL;
}

/* ----------------------------------------------------------- registration */

static void send_register(cx_worker *self)
{
    cx_env env = { .type = CX_ENV_REGISTER };
    char **texts = NULL;
    size_t n = cx_plugin_set_routes(self->plugins, &env.routes, &texts);
    env.nroutes = (uint32_t) n;
    if (cx_link_send(self->link, &env) != 0)
        cx_error("cannot send the route table (%zu routes) to the broker", n);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(env.routes);
}

static void introduce(cx_worker *self)
{
    cx_link_hello(self->link);
    send_register(self);
}

/* --------------------------------------------------------------- dispatch */

static void on_connect(cx_worker *self, const cx_env *env)
{
    cx_consumer_entry *consumer = cx_plugin_set_find(self->plugins, env->consumer);
    chanx_ctx *ctx = consumer ? cx_ctx_new(self, consumer, env) : NULL;
    if (!ctx) {
        cx_warn("cannot start consumer '%.*s' for connection %llu", (int) env->consumer.len,
                env->consumer.ptr, (unsigned long long) env->conn);
        cx_env close = { .type = CX_ENV_CLOSE, .conn = env->conn, .code = 1011 };
        cx_link_send(self->link, &close);
        return;
    }
    cx_idmap_put(self->ctxs, env->conn, ctx);
    cx_ctx_start(ctx);
}

static void end_connection(cx_worker *self, uint64_t conn, int code)
{
    chanx_ctx *ctx = cx_idmap_remove(self->ctxs, conn);
    if (!ctx)
        return;
    cx_plugin *plugin = cx_ctx_consumer(ctx)->plugin;
    cx_ctx_stop(ctx, code);
    cx_ctx_destroy(&ctx);
    cx_plugin_set_release(self->plugins, plugin);
}

static void dispatch(cx_worker *self, const cx_env *env)
{
    chanx_ctx *ctx;
    switch (env->type) {
    case CX_ENV_CONNECT:
        on_connect(self, env);
        break;
    case CX_ENV_RECEIVE:
        ctx = cx_idmap_get(self->ctxs, env->conn);
        if (ctx && !ctx->closed) {
            cx_ctx_receive(ctx, env->text.ptr, env->text.len);
        } else if (!ctx) {   /* a connection this worker no longer has: its client must not wait forever */
            cx_env close = { .type = CX_ENV_CLOSE, .conn = env->conn, .code = 1011 };
            cx_link_send(self->link, &close);
        }
        break;
    case CX_ENV_DISCONNECT:
        end_connection(self, env->conn, (int) env->code);
        break;
    case CX_ENV_EVENT:
        cx_events_dispatch(self->ctxs, env);
        break;
    default:
        cx_debug("worker ignores %s", cx_env_type_name(env->type));
        break;
    }
}

static void close_all(cx_worker *self, int code, int tell_broker);

/* The broker restarted or declared us dead: it no longer routes to our
 * connections (their gateways close them with 1012), so their consumers end
 * here with the same code. */
static void broker_lost(cx_worker *self)
{
    if (cx_idmap_size(self->ctxs) > 0)
        cx_warn("broker lost our connections: ending %zu consumers", cx_idmap_size(self->ctxs));
    close_all(self, 1012, 0);
}

static int drain(cx_worker *self)
{
    int handled = 0;
    cx_env env;
    for (cx_link_event ev; (ev = cx_link_recv(self->link, &env)) != CX_LINK_NONE; handled++) {
        if (ev == CX_LINK_REINTRODUCE) {
            broker_lost(self);
            introduce(self);
        } else {
            dispatch(self, &env);
        }
    }
    return handled;
}

/* ------------------------------------------------------------- lifecycle */

cx_worker *cx_worker_new(const char *endpoint, cx_plugin_set *plugins)
{
    cx_worker *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    char host[64] = "host", node[160];
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "worker-%s-%d", host, (int) getpid());
    self->plugins = plugins;
    self->ctxs = cx_idmap_new();
    self->link = cx_link_new(endpoint, CX_ROLE_WORKER, node);
    cx_settings_load(&self->settings);
    if (!self->ctxs || !self->link) {
        cx_worker_destroy(&self);
        return NULL;
    }
    return self;
}

/* Ends every consumer with code; tell_broker also closes their clients. */
static void close_all(cx_worker *self, int code, int tell_broker)
{
    size_t n = cx_idmap_size(self->ctxs);
    chanx_ctx **all = malloc((n + 1) * sizeof *all);
    n = all ? cx_idmap_values(self->ctxs, (void **) all, n) : 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t conn = all[i]->conn;
        if (tell_broker) {
            cx_env close = { .type = CX_ENV_CLOSE, .conn = conn, .code = (uint32_t) code };
            cx_link_send(self->link, &close);
        }
        end_connection(self, conn, code);
    }
    free(all);
}

void cx_worker_destroy(cx_worker **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_worker *self = *self_p;
    if (self->ctxs)
        close_all(self, 1001, 0);
    cx_idmap_destroy(&self->ctxs);
    cx_link_destroy(&self->link);
    cx_settings_free(&self->settings);
    free(self);
    *self_p = NULL;
}

int cx_worker_run(cx_worker *self, volatile int *stop)
{
    introduce(self);
    zmq_pollitem_t items[2] = {
        { .socket = cx_link_socket(self->link), .events = ZMQ_POLLIN },
        { .fd = cx_plugin_set_watch_fd(self->plugins), .events = ZMQ_POLLIN },
    };
    int nitems = items[1].fd >= 0 ? 2 : 1;
    while (!*stop) {
        if (zmq_poll(items, nitems, cx_link_next_tick_ms(self->link) + 1) < 0 && zmq_errno() != EINTR)
            return -1;
        drain(self);
        if (nitems == 2 && cx_plugin_set_rescan(self->plugins) > 0)
            send_register(self);
        if (cx_link_tick(self->link)) {   /* silent broker: HELLO went out again */
            broker_lost(self);
            send_register(self);
        }
        cx_liveness_beat(cx_link_alive(self->link));
    }
    /* An empty REGISTER first, so the broker pins no new connection here: clients that reconnect
     * at once must land on another worker. Then 1012 (service restart): reconnect. */
    cx_env withdraw = { .type = CX_ENV_REGISTER };
    cx_link_send(self->link, &withdraw);
    close_all(self, 1012, 1);
    zclock_sleep(50);   /* let the CLOSE envelopes leave before the socket goes */
    return 0;
}
