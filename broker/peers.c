/*
 * peers.c — the broker's peers: who they are, and when they are gone.
 *
 * A peer is a gateway, a worker or an API publisher, known by its ZeroMQ
 * routing id once it has introduced itself (HELLO). The same process saying
 * HELLO again keeps its state; a new pid under the same id is a restart, so
 * the old one's connections end first. Heartbeats detect dead peers: a dead
 * worker's connections are closed with 1011 so their clients reconnect, a
 * dead gateway's connections are reported to their workers as DISCONNECT.
 * A peer that keeps sending what its role may not (roles.c) is dropped and
 * its CURVE key (its routing id on plain links) banned until the broker
 * restarts (bans.h). A lost peer's connections end in slices (endings.c).
 * The route table is published from here too, since it
 * goes to every gateway and API peer and changes when a worker peer comes or
 * goes.
 */
#include "broker/broker_internal.h"
#include "broker/bans.h"
#include "broker/metrics.h"
#include "common/link.h"
#include "common/log.h"
#include "proto/envelope.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

/* The current peers, as an array the caller frees: safe to iterate while peers are removed. */
static cx_broker_peer **peers_snapshot(cx_broker *self, size_t *n)
{
    cx_broker_peer **all = malloc((zhashx_size(self->peers) + 1) * sizeof *all);
    *n = 0;
    for (cx_broker_peer *p = zhashx_first(self->peers); all && p; p = zhashx_next(self->peers))
        all[(*n)++] = p;
    return all;
}

void cx_broker_peer_free(void **item)
{
    cx_broker_peer *p = *item;
    if (!p)
        return;
    *item = NULL;
    if (!p->gone)   /* else out of the table, its connections ending: endings.c frees it after the last */
        cx_broker_peer_destroy(&p);
}

/* Takes a peer out of service: its connections are closed on the other side, in slices (endings.c). */
void cx_broker_peer_remove(cx_broker *self, cx_broker_peer *p, const char *why)
{
    size_t n = cx_idmap_size(p->conns);
    cx_log_fields(CX_LOG_WARNING, "peer removed",
                  json_pack("{s:s, s:s, s:s, s:I}", "peer", p->id,
                            "role", p->rule->name, "why", why,
                            "connections", (json_int_t) n));
    int routes_changed = p->role == CX_ROLE_WORKER && cx_route_table_remove_worker(self->routes, p);
    cx_broker_flush_peer(self, p);   /* what it was sent before it went, as unbatched sends would have */
    if (self->standby == p)
        self->standby = NULL;
    if (n > 0)
        cx_broker_endings_start(self, p);   /* p->gone: the table's destructor leaves it to endings.c */
    zhashx_delete(self->peers, p->id);
    if (routes_changed)
        cx_broker_publish_routes(self);
}

/* ROUTES to p. A peer built before quarantine refuses a whole ROUTES with an available of 2 (its
 * decoder knows 0 and 1): it gets 0 there, "no worker serves it", which it answers as it always has.
 * So the broker can be upgraded before gateways and chanx-api, the order every other change needs. */
static void send_routes(cx_broker *self, cx_broker_peer *p, const cx_env *routes)
{
    int downgrade = 0;
    for (uint32_t i = 0; !p->reads_quarantine && i < routes->nroutes; i++)
        downgrade |= routes->routes[i].available == CX_ROUTE_QUARANTINED;
    if (!downgrade) {
        cx_broker_send_env(self, p, routes);
        return;
    }
    cx_env_route *rows = malloc((routes->nroutes + 1) * sizeof *rows);
    if (!rows)
        return;   /* it keeps its table; the next change sends it again */
    cx_env old = *routes;
    for (uint32_t i = 0; i < routes->nroutes; i++) {
        rows[i] = routes->routes[i];
        if (rows[i].available == CX_ROUTE_QUARANTINED)
            rows[i].available = 0;
    }
    old.routes = rows;
    cx_broker_send_env(self, p, &old);
    free(rows);
}

void cx_broker_on_hello(cx_broker *self, const char *id, size_t idlen, cx_broker_peer *known, const cx_env *env,
                       const cx_role_rule *key_rule, const char *key)
{
    const cx_role_rule *rule = cx_role_rule_of(env->role);
    if (!rule || !rule->role)
        return;
    if (key_rule && key_rule != rule) {   /* CURVE on: the key decides, not the claim */
        cx_log_fields(CX_LOG_WARNING, "peer refused",
                      json_pack("{s:s, s:s, s:s, s:s}", "peer", id, "key_role", key_rule->name, "claimed_role",
                                rule->name, "why", "its key is not a key of the role it claims"));
        return;
    }
    if (known && known->pid == env->pid && known->role == env->role) {
        known->supervisor = env->role == CX_ROLE_WORKER && (env->flags & CX_HELLO_SUPERVISOR);
        known->repins = env->role == CX_ROLE_GATEWAY && (env->flags & CX_HELLO_REPINS);
        known->acks = env->role == CX_ROLE_WORKER && (env->flags & CX_HELLO_ACKS);
        known->reads_quarantine = !!(env->flags & CX_HELLO_READS_QUARANTINE);
        return;   /* the same process introducing itself again: keep its state */
    }
    if (known)
        cx_broker_peer_remove(self, known, "restarted");
    cx_broker_peer *p = calloc(1, sizeof *p);
    if (!p || !(p->conns = cx_idmap_new())) {
        cx_broker_peer_destroy(&p);
        return;
    }
    memcpy(p->id, id, idlen);
    p->idlen = idlen;
    p->role = (cx_role) env->role;
    p->rule = rule;
    snprintf(p->key, sizeof p->key, "%s", key ? key : "");
    p->pid = env->pid;
    p->supervisor = p->role == CX_ROLE_WORKER && (env->flags & CX_HELLO_SUPERVISOR);
    p->repins = p->role == CX_ROLE_GATEWAY && (env->flags & CX_HELLO_REPINS);
    p->acks = p->role == CX_ROLE_WORKER && (env->flags & CX_HELLO_ACKS);
    p->reads_quarantine = !!(env->flags & CX_HELLO_READS_QUARANTINE);
    p->last_heard = cx_now_ms();
    if ((env->flags & CX_HELLO_READS_BATCH) && !(p->out = cx_batch_new())) {
        cx_broker_peer_free((void **) &p);
        return;
    }
    zhashx_insert(self->peers, p->id, p);
    cx_log_fields(CX_LOG_INFO, "peer joined",
                  json_pack("{s:s, s:s, s:I, s:b}", "peer", p->id,
                            "role", p->rule->name, "pid", (json_int_t) p->pid, "supervisor", p->supervisor));
    if (p->role == CX_ROLE_STANDBY) {   /* a standby follows us: it gets the histories (recovery.c) */
        self->standby = p;
        cx_broker_replicate_all(self);
    } else if (self->following && (p->role == CX_ROLE_GATEWAY || p->role == CX_ROLE_WORKER)) {
        /* we are the standby and peers fail over to us: serve from the copy, follow no more */
        cx_broker_standby_destroy(&self->following);
        cx_history_takeover(self->history);
        cx_log_fields(CX_LOG_WARNING, "standby takes over", json_pack("{s:s}", "first", p->id));
    }
    if (p->role == CX_ROLE_GATEWAY || p->role == CX_ROLE_API) {   /* the API checks events and resolves topics with it */
        cx_env routes;
        cx_route_table_envelope(self->routes, &routes);
        send_routes(self, p, &routes);
    }
}

/* An envelope this peer may not send: dropped and logged with the peer's name; after MAX_OFFENCES under
 * its key (bans.h) every peer with that key is dropped (their connections closed as for a dead peer)
 * and the key banned until the broker restarts, so a compromised or broken peer cannot keep trying,
 * not even under a new routing id. */
void cx_broker_offence(cx_broker *self, cx_broker_peer *p, const cx_env *env, const char *why)
{
    const char *name = p->key[0] ? p->key : p->id;
    int offences = cx_bans_offence(self->bans, name);
    cx_log_fields(CX_LOG_WARNING, "envelope refused",
                  json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:i}", "peer", p->id, "key", p->key, "role",
                            p->rule->name, "type", cx_env_type_name(env->type), "conn", (json_int_t) env->conn,
                            "why", why, "offences", offences));
    if (offences != MAX_OFFENCES)
        return;
    char banned[MAX_IDENTITY + 1];
    snprintf(banned, sizeof banned, "%s", name);
    size_t n;
    cx_broker_peer **all = peers_snapshot(self, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i]->key[0] ? all[i]->key : all[i]->id, banned) == 0)
            cx_broker_peer_remove(self, all[i], "repeated offences");
    free(all);
}

void cx_broker_heartbeat(cx_broker *self)
{
    int64_t now = cx_now_ms();
    if (now - self->last_beat < cx_heartbeat_interval_ms())
        return;
    self->last_beat = now;
    cx_env beat = { .type = CX_ENV_HEARTBEAT };
    size_t n;
    cx_broker_peer **all = peers_snapshot(self, &n);
    for (size_t i = 0; i < n; i++) {
        if (now - all[i]->last_heard > cx_heartbeat_timeout_ms())
            cx_broker_peer_remove(self, all[i], "heartbeat timeout");
        else
            cx_broker_send_env(self, all[i], &beat);
    }
    free(all);
}


void cx_broker_publish_routes(cx_broker *self)
{
    cx_env env;
    size_t n;
    cx_route_table_envelope(self->routes, &env);
    cx_route_table_each_plugin(self->routes, cx_broker_metrics_quarantine);   /* what a table change says */
    cx_broker_peer **all = peers_snapshot(self, &n);
    for (size_t i = 0; i < n; i++)
        if (all[i]->role == CX_ROLE_GATEWAY || all[i]->role == CX_ROLE_API)   /* the API checks events against it */
            send_routes(self, all[i], &env);
    free(all);
}
