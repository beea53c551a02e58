/*
 * worker_exit.c — a worker process died: its connections are closed now,
 * not after the heartbeat timeout.
 *
 * chanx-worker is a supervisor of worker processes (workers/supervisor.c).
 * It sees a child die at once (SIGCHLD) and says so with WORKER_EXIT: the
 * child's node name and pid, the signal, and, when a consumer's callback
 * crashed it, which connection, consumer and callback. Without this the
 * broker would notice only when the child's heartbeats stop (the timeout,
 * seconds), and its clients would wait that long for a close.
 *
 * Only a supervisor (HELLO flag) may report, and only about its own
 * children: their node names start with its own and a '-' (proto/README.md),
 * which the broker checks like any ownership. A report about a pid the
 * broker does not know under that name (the child was already declared
 * dead, or the name now belongs to a successor) changes nothing.
 *
 * The connection whose callback crashed is closed with 1011 "consumer
 * crashed"; the child's other connections did nothing wrong: they are
 * re-pinned to a live worker (repin.c) and their clients see no close. Only
 * those that cannot be (a gateway built before REPIN) are closed with 1011
 * "worker lost", as for any dead worker (cx_broker_peer_remove). When the crash made the supervisor
 * quarantine the plugin (workers/quarantine.h), its routes are published as
 * quarantined, so gateways answer 503 saying so rather than a bare 503. A
 * plugin quarantined while loading never had routes: the gauge says it.
 */
#include "broker/broker_internal.h"
#include "broker/metrics.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether node names a child of the supervisor: "<supervisor id>-<child pid>". */
static int is_child_of(const cx_broker_peer *supervisor, cx_slice node)
{
    return node.len > supervisor->idlen + 1 && memcmp(node.ptr, supervisor->id, supervisor->idlen) == 0
           && node.ptr[supervisor->idlen] == '-' && node.len <= MAX_IDENTITY;
}

/* The crashed connection first, with its own reason: its client's close says what happened. */
static void close_crashed(cx_broker *self, cx_broker_peer *child, uint64_t id)
{
    cx_broker_conn *c = id ? cx_idmap_get(child->conns, id) : NULL;
    if (!c)
        return;
    if (c->gateway)
        cx_broker_close_at_gateway(self, c->gateway, c->id, 1011, "consumer crashed");
    cx_rebuild_ended(self, c->id);
    cx_broker_conn_forget(self, c);
}

/* The child's other connections move to a live worker (repin.c), so cx_broker_peer_remove, which
 * closes what is left, no longer holds them. */
static void repin_innocent(cx_broker *self, cx_broker_peer *child)
{
    size_t n = cx_idmap_size(child->conns);
    cx_broker_conn **list = malloc((n + 1) * sizeof *list);
    n = list ? cx_idmap_values(child->conns, (void **) list, n) : 0;
    size_t moved = 0;
    for (size_t i = 0; i < n; i++)
        moved += (size_t) cx_broker_repin_start(self, list[i]);
    free(list);
    if (n)
        cx_log_fields(CX_LOG_INFO, "re-pinning the dead worker process's connections",
                      json_pack("{s:s, s:I, s:I}", "peer", child->id, "connections", (json_int_t) n, "re-pinned",
                                (json_int_t) moved));
}

/* Counts the crash; with the quarantine flag, marks the plugin's routes. Returns 1 when rows were marked.
 * A crash while loading names the plugin alone ("crash_onload", no consumer): not a consumer's crash,
 * and a plugin that never loaded has no routes to mark, so its quarantine is told by the gauge. */
static int count_crash(cx_broker *self, cx_slice consumer, uint32_t flags)
{
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int) consumer.len, consumer.ptr);
    char *dot = strchr(name, '.');
    if (dot) {
        *dot = '\0';
        cx_broker_count_worker_crash(name, dot + 1);
    }
    if (!(flags & CX_WORKER_EXIT_QUARANTINED))
        return 0;
    if (cx_route_table_quarantine(self->routes, name) == 0) {
        if (!dot && !cx_route_table_has_plugin(self->routes, name)) {
            cx_broker_metrics_quarantine(name, 1);   /* back to 0 when its routes come (publish_routes) */
            cx_log_fields(CX_LOG_ERROR, "plugin quarantined while loading: it has no routes until a new version "
                                        "is deployed", json_pack("{s:s}", "plugin", name));
        }
        return 0;
    }
    cx_log_fields(CX_LOG_ERROR, "plugin quarantined: its routes answer 503 until a new version is deployed",
                  json_pack("{s:s}", "plugin", name));
    return 1;
}

void cx_broker_on_worker_exit(cx_broker *self, cx_broker_peer *supervisor, const cx_env *env, zmq_msg_t *msg)
{
    (void) msg;
    if (!supervisor->supervisor || !is_child_of(supervisor, env->node)) {
        cx_broker_offence(self, supervisor, env, "a worker that is not its child");
        return;
    }
    char id[MAX_IDENTITY + 1];
    snprintf(id, sizeof id, "%.*s", (int) env->node.len, env->node.ptr);
    cx_broker_peer *child = zhashx_lookup(self->peers, id);
    int known = child && child->role == CX_ROLE_WORKER && child->pid == env->pid;
    cx_log_fields(CX_LOG_WARNING, "worker process died",
                  json_pack("{s:s, s:I, s:i, s:I, s:s%, s:s%, s:b}", "peer", id, "pid", (json_int_t) env->pid,
                            "signal", (int) env->code, "conn", (json_int_t) env->conn, "consumer",
                            env->consumer.ptr ? env->consumer.ptr : "", (size_t) env->consumer.len, "callback",
                            env->text.ptr ? env->text.ptr : "", (size_t) env->text.len, "known", known));
    int quarantined = env->consumer.len && count_crash(self, env->consumer, env->flags);
    if (known) {
        close_crashed(self, child, env->conn);
        repin_innocent(self, child);
        cx_broker_peer_remove(self, child, env->code ? "worker process killed by a signal" : "worker process exited");
    }
    if (quarantined)
        cx_broker_publish_routes(self);
}
