/*
 * metrics.c — see metrics.h. The series every count touches are looked up
 * once, at init, and kept here; labels whose values are known in advance
 * (authentication classes and statuses, upgrade statuses) get their series
 * at init too, so they read 0 before the first event rather than being absent
 * (rate() needs the 0). Close codes are looked up per close: one lock-free
 * scan of the codes seen so far.
 */
#include "gateway/metrics.h"
#include "gateway/http_reply.h"
#include "common/metrics.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    cx_metric *upgrades, *auths, *closes;
    cx_series *connections, *broker_up, *received, *received_bytes, *sent, *sent_bytes, *group_deliveries,
        *slow_clients, *pool_wait, *query, *buffered, *buffered_peak, *shed;
} m;

/* Index 1 + cx_auth_class (gateway/consumer_spec.h: token, session, jwt), 0 for none. */
static const char *const CLASSES[] = { "none", "token", "session", "jwt" };
static const char *const STATUSES[] = { "200", "401", "403", "404", "500" };

void cx_gw_metrics_init(void)
{
    cx_metrics *r = cx_metrics_process();
    if (m.connections)
        return;
    m.connections = cx_metric_series(
        cx_metrics_gauge(r, "chanx_gateway_connections", "Open WebSocket connections on this gateway.", NULL));
    m.upgrades = cx_metrics_counter(r, "chanx_gateway_upgrades_total",
                                    "WebSocket upgrade requests by the HTTP status answered (101: accepted).",
                                    "status");
    m.auths = cx_metrics_counter(r, "chanx_gateway_authentications_total",
                                 "Authentication decisions by the class that identified or refused the user "
                                 "(none: anonymous) and the HTTP status of the decision.", "class,status");
    m.received = cx_metric_series(cx_metrics_counter(r, "chanx_gateway_messages_received_total",
                                                     "WebSocket messages received from clients.", NULL));
    m.received_bytes = cx_metric_series(cx_metrics_counter(r, "chanx_gateway_received_bytes_total",
                                                           "Payload bytes of the messages received from clients.",
                                                           NULL));
    m.sent = cx_metric_series(cx_metrics_counter(r, "chanx_gateway_messages_sent_total",
                                                 "WebSocket messages queued for clients.", NULL));
    m.sent_bytes = cx_metric_series(cx_metrics_counter(r, "chanx_gateway_sent_bytes_total",
                                                       "Payload bytes of the messages queued for clients.", NULL));
    m.group_deliveries = cx_metric_series(
        cx_metrics_counter(r, "chanx_gateway_group_deliveries_total",
                           "Group messages queued for local members (one per member reached).", NULL));
    m.closes = cx_metrics_counter(r, "chanx_gateway_closes_total",
                                  "Ended WebSocket connections by close code (1006: no close frame).", "code");
    m.slow_clients = cx_metric_series(
        cx_metrics_counter(r, "chanx_gateway_slow_client_closes_total",
                           "Connections closed with 1013 because the client did not read its messages.", NULL));
    m.buffered = cx_metric_series(cx_metrics_gauge(r, "chanx_gateway_buffered_bytes",
                                                   "Bytes queued at this gateway for and from its clients.", NULL));
    m.buffered_peak = cx_metric_series(
        cx_metrics_gauge(r, "chanx_gateway_buffered_bytes_peak",
                         "The most bytes queued at this gateway at once since it started.", NULL));
    m.shed = cx_metric_series(
        cx_metrics_counter(r, "chanx_gateway_overload_closes_total",
                           "Connections closed with 1013 because the gateway's queued bytes passed "
                           "CHANX_GATEWAY_MAX_BUFFERED_TOTAL.", NULL));
    m.pool_wait = cx_metric_series(cx_metrics_histogram(
        r, "chanx_gateway_db_pool_wait_seconds",
        "Time an authentication request waited for a database pool thread.", NULL, cx_metrics_latency_buckets,
        cx_metrics_latency_nbuckets));
    m.query = cx_metric_series(cx_metrics_histogram(r, "chanx_gateway_db_query_duration_seconds",
                                                    "Time of one authentication query to PostgreSQL.", NULL,
                                                    cx_metrics_latency_buckets, cx_metrics_latency_nbuckets));
    m.broker_up = cx_metric_series(cx_metrics_gauge(r, "chanx_gateway_broker_link_up",
                                                    "1 when the broker link is alive, 0 otherwise.", NULL));
    cx_metric_series(m.upgrades, "101");
    cx_metric_series(m.upgrades, "404");
    cx_metric_series(m.upgrades, "503");
    for (size_t c = 0; c < sizeof CLASSES / sizeof *CLASSES; c++)
        for (size_t s = 0; s < sizeof STATUSES / sizeof *STATUSES; s++)
            cx_metric_series(m.auths, CLASSES[c], STATUSES[s]);
    cx_metric_series(m.closes, "1000");
}

void cx_gw_count_upgrade(unsigned status)
{
    char label[16];
    snprintf(label, sizeof label, "%u", status);
    cx_series_inc(cx_metric_series(m.upgrades, label));
}

void cx_gw_count_auth(int decided_by, int status)
{
    char label[16];
    snprintf(label, sizeof label, "%d", status);
    int known = decided_by >= 0 && decided_by < (int) (sizeof CLASSES / sizeof *CLASSES);
    cx_series_inc(cx_metric_series(m.auths, known ? CLASSES[decided_by] : "none", label));
}

void cx_gw_count_received(size_t len)
{
    cx_series_inc(m.received);
    cx_series_add(m.received_bytes, len);
}

void cx_gw_count_sent(size_t len)
{
    cx_series_inc(m.sent);
    cx_series_add(m.sent_bytes, len);
}

void cx_gw_count_group_delivery(void)
{
    cx_series_inc(m.group_deliveries);
}

void cx_gw_count_close(int code)
{
    char label[16];
    snprintf(label, sizeof label, "%d", code);
    cx_series_inc(cx_metric_series(m.closes, label));
}

void cx_gw_count_slow_client(void)
{
    cx_series_inc(m.slow_clients);
}

void cx_gw_count_shed(size_t closed)
{
    cx_series_add(m.shed, closed);
}

void cx_gw_metrics_buffered(size_t bytes, size_t peak)
{
    cx_series_set(m.buffered, (int64_t) bytes);
    cx_series_set(m.buffered_peak, (int64_t) peak);
}

void cx_gw_observe_pool_wait(double seconds)
{
    cx_series_observe(m.pool_wait, seconds);
}

void cx_gw_observe_query(double seconds)
{
    cx_series_observe(m.query, seconds);
}

void cx_gw_metrics_state(size_t connections, int broker_up)
{
    cx_series_set(m.connections, (int64_t) connections);
    cx_series_set(m.broker_up, broker_up != 0);
}

int cx_gw_metrics_reply(struct lws *wsi)
{
    size_t len = 0;
    char *text = cx_metrics_render(cx_metrics_process(), &len);
    int rc = text ? cx_http_reply(wsi, 200, CX_METRICS_CONTENT_TYPE, NULL, text, len) : -1;
    free(text);
    return rc;
}
