/*
 * metrics.h — the gateway's Prometheus metrics (names in docs/observing.md's
 * "Observing" table), counted with one call where each thing happens.
 *
 * cx_gw_metrics_init registers them in the process registry
 * (common/metrics.h); before it, every count is a no-op, so unit tests that
 * link gateway code need not set anything up. Counting is safe from any
 * thread (the database pool counts its waits and queries) and costs one
 * atomic add on the message path.
 */
#ifndef CX_GATEWAY_METRICS_H
#define CX_GATEWAY_METRICS_H

#include <stddef.h>

struct lws;

void cx_gw_metrics_init(void);

/* An upgrade request answered with status (101 when the WebSocket was accepted). */
void cx_gw_count_upgrade(unsigned status);
/* An authentication decision: decided_by is 1 + the cx_auth_class that identified or refused the
 * user, 0 when none did (anonymous); status the decision's HTTP status (200, 401, 403, 404, 500). */
void cx_gw_count_auth(int decided_by, int status);
/* A complete client message of len bytes received; a message of len bytes queued for a client. */
void cx_gw_count_received(size_t len);
void cx_gw_count_sent(size_t len);
/* One group message queued for one local member. */
void cx_gw_count_group_delivery(void);
/* A connection ended with this close code; a client closed for not reading (1013). */
void cx_gw_count_close(int code);
void cx_gw_count_slow_client(void);
/* Connections closed with 1013 because the gateway's buffered bytes passed their bound (shed.h). */
void cx_gw_count_shed(size_t closed);
/* Database pool: seconds a request waited for a thread; seconds one query took. */
void cx_gw_observe_pool_wait(double seconds);
void cx_gw_observe_query(double seconds);
/* Gauges, set from the loop's tick and before each scrape. */
void cx_gw_metrics_state(size_t connections, int broker_up);
/* Bytes queued for and from clients now, and the most at once since the start (shed.h). */
void cx_gw_metrics_buffered(size_t bytes, size_t peak);

/* Answers GET /metrics on the gateway's own port (an lws HTTP callback); returns what the callback returns. */
int cx_gw_metrics_reply(struct lws *wsi);

#endif
