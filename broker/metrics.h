/*
 * metrics.h — the broker's Prometheus metrics (names in docs/observing.md's
 * "Observing" table), counted with one call where each thing happens.
 *
 * cx_broker_metrics_init registers them in the process registry
 * (common/metrics.h); before it every call is a no-op. Envelope counts are
 * one atomic add into a series found by type (an array index); the gauges
 * are set by the broker's loop after each batch, from its own tables.
 */
#ifndef CX_BROKER_METRICS_H
#define CX_BROKER_METRICS_H

#include <stddef.h>

void cx_broker_metrics_init(void);
/* One envelope received and decoded, of this cx_env_type. */
void cx_broker_count_envelope(int type);
/* One message dropped because it was not a valid envelope. */
void cx_broker_count_malformed(void);
/* A worker process died in a callback of consumer ("plugin.consumer") of plugin (WORKER_EXIT). */
void cx_broker_count_worker_crash(const char *plugin, const char *consumer);

/* Whether plugin's routes are quarantined now (chanx_plugin_quarantined{plugin}, 0 or 1). */
void cx_broker_metrics_quarantine(const char *plugin, int quarantined);

typedef struct {
    size_t gateways, workers;   /* peers by role */
    size_t connections;         /* client connections the broker routes */
    size_t groups, members;     /* groups with members; memberships (a connection in two groups counts twice) */
    size_t routes;              /* rows of the route table */
    size_t history_groups, history_messages, history_bytes;   /* what history.c holds */
    size_t stranger_bytes;      /* held for peers that have not said HELLO */
} cx_broker_state;

void cx_broker_metrics_state(const cx_broker_state *state);

#endif
