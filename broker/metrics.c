/*
 * metrics.c — see metrics.h. Every envelope type's series is made at init,
 * named by proto/'s own type names, so the hot path is an index and an add.
 */
#include "broker/metrics.h"
#include "common/metrics.h"
#include "proto/envelope.h"

static struct {
    cx_series *types[CX_ENV_TYPE_MAX];
    cx_metric *crashes, *quarantined;
    cx_series *malformed, *gateways, *workers, *connections, *groups, *members, *routes, *stranger_bytes;
    cx_series *history_groups, *history_messages, *history_bytes;
} m;

void cx_broker_metrics_init(void)
{
    cx_metrics *r = cx_metrics_process();
    if (m.connections)
        return;
    cx_metric *envelopes = cx_metrics_counter(r, "chanx_broker_envelopes_received_total",
                                              "Envelopes received from gateways and workers, by type.", "type");
    for (int t = 1; t < CX_ENV_TYPE_MAX; t++)
        m.types[t] = cx_metric_series(envelopes, cx_env_type_name((cx_env_type) t));
    m.malformed = cx_metric_series(cx_metrics_counter(r, "chanx_broker_malformed_envelopes_total",
                                                      "Messages dropped because they were not valid envelopes.",
                                                      NULL));
    cx_metric *peers = cx_metrics_gauge(r, "chanx_broker_peers", "Live peers by role.", "role");
    m.gateways = cx_metric_series(peers, "gateway");
    m.workers = cx_metric_series(peers, "worker");
    m.connections = cx_metric_series(cx_metrics_gauge(r, "chanx_broker_connections",
                                                      "Client connections routed by the broker.", NULL));
    m.groups = cx_metric_series(cx_metrics_gauge(r, "chanx_broker_groups", "Groups with at least one member.", NULL));
    m.members = cx_metric_series(cx_metrics_gauge(r, "chanx_broker_group_members",
                                                  "Group memberships (a connection in two groups counts twice).",
                                                  NULL));
    m.stranger_bytes = cx_metric_series(
        cx_metrics_gauge(r, "chanx_broker_stranger_held_bytes",
                         "Bytes of envelopes held for peers that have not said HELLO yet.", NULL));
    m.routes = cx_metric_series(cx_metrics_gauge(r, "chanx_broker_routes",
                                                 "Rows of the route table published to gateways.", NULL));
    m.history_groups = cx_metric_series(cx_metrics_gauge(r, "chanx_broker_history_groups",
                                                         "Groups keeping a history (epoch and seq).", NULL));
    m.history_messages = cx_metric_series(cx_metrics_gauge(r, "chanx_broker_history_messages",
                                                           "Group messages held for recovery.", NULL));
    m.history_bytes = cx_metric_series(cx_metrics_gauge(r, "chanx_broker_history_bytes",
                                                        "Bytes of message text held for recovery.", NULL));
    /* Counted here, not in the worker: the process that crashed is gone, and the broker hears of every
     * worker's crashes (WORKER_EXIT from their supervisors). */
    m.crashes = cx_metrics_counter(r, "chanx_worker_crashes_total",
                                   "Worker processes that died in a consumer's callback, by plugin and consumer.",
                                   "plugin,consumer");
    /* A gauge per plugin with routes, 1 while they are quarantined (and per plugin quarantined while
     * loading, which has none: worker_exit.c): an alert on it says which plugin needs a new version,
     * where the crash counter only says something crashed. */
    m.quarantined = cx_metrics_gauge(r, "chanx_plugin_quarantined",
                                     "1 while the plugin's routes are quarantined (it crashed its worker processes "
                                     "CHANX_CRASH_QUARANTINE times; a new version lifts it), 0 otherwise.",
                                     "plugin");
}

void cx_broker_count_worker_crash(const char *plugin, const char *consumer)
{
    cx_series_inc(cx_metric_series(m.crashes, plugin, consumer));
}

void cx_broker_metrics_quarantine(const char *plugin, int quarantined)
{
    cx_series_set(cx_metric_series(m.quarantined, plugin), quarantined);
}

void cx_broker_count_envelope(int type)
{
    if (type > 0 && type < CX_ENV_TYPE_MAX)
        cx_series_inc(m.types[type]);
}

void cx_broker_count_malformed(void)
{
    cx_series_inc(m.malformed);
}

void cx_broker_metrics_state(const cx_broker_state *s)
{
    cx_series_set(m.gateways, (int64_t) s->gateways);
    cx_series_set(m.workers, (int64_t) s->workers);
    cx_series_set(m.connections, (int64_t) s->connections);
    cx_series_set(m.groups, (int64_t) s->groups);
    cx_series_set(m.members, (int64_t) s->members);
    cx_series_set(m.routes, (int64_t) s->routes);
    cx_series_set(m.history_groups, (int64_t) s->history_groups);
    cx_series_set(m.history_messages, (int64_t) s->history_messages);
    cx_series_set(m.history_bytes, (int64_t) s->history_bytes);
    cx_series_set(m.stranger_bytes, (int64_t) s->stranger_bytes);
}
