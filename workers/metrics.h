/*
 * metrics.h — the worker's Prometheus metrics (names in docs/observing.md's
 * "Observing" table), counted with one call where each thing happens.
 *
 * Per-consumer series hang off the consumer entry (cx_consumer_metrics, made
 * when the plugin loads), so counting a message is a short scan of the
 * consumer's declared actions and atomic adds: no lock, no allocation, safe
 * from any worker thread. The action label takes only the actions the
 * consumer's incoming schema declares; anything else, and every action of a
 * consumer without a schema, counts as "other", so clients cannot grow the
 * label set. Series outlive a plugin (a replaced plugin's counters carry on
 * under the same consumer name). Before cx_worker_metrics_init every call is
 * a no-op.
 */
#ifndef CX_WORKERS_METRICS_H
#define CX_WORKERS_METRICS_H

#include <stdint.h>
#include "common/schema.h"

typedef struct cx_consumer_metrics cx_consumer_metrics;

void cx_worker_metrics_init(void);
/* One plugin loaded, or refused (whatever the reason: a bad schema, a missing symbol...). */
void cx_worker_count_plugin(int loaded);

/* Why a server-side event did not reach a recipient's receive_event (chanx_worker_events_dropped_total's
 * reason label). */
typedef enum {
    CX_EVENT_DROP_MAILBOX_FULL,   /* the connection's mailbox was at CHANX_MAILBOX_MAX */
    CX_EVENT_DROP_UNHANDLED,      /* its consumer neither handles nor passes the action through */
    CX_EVENT_DROP_INVALID,        /* the event broke the consumer's .events schema */
    CX_EVENT_DROP_REASONS
} cx_event_drop;

/* n events dropped for reason (any thread). */
void cx_worker_count_events_dropped(cx_event_drop reason, uint64_t n);

/* The series of consumer "plugin.consumer" with the actions of schema (may be NULL). NULL-safe users. */
cx_consumer_metrics *cx_consumer_metrics_new(const char *consumer, const cx_schema *schema);
void cx_consumer_metrics_destroy(cx_consumer_metrics **self_p);

/* A consumer instance started (+1) or ended (-1). */
void cx_consumer_count_instance(cx_consumer_metrics *self, int delta);
/* receive_message ran for action (ok: it returned CHANX_OK) and took seconds. */
void cx_consumer_count_message(cx_consumer_metrics *self, const char *action, int ok, double seconds);
/* A message refused by validation (never reached receive_message). */
void cx_consumer_count_invalid(cx_consumer_metrics *self);
/* The connect callbacks (has_permission, build_groups, post_authentication) or disconnect took seconds. */
void cx_consumer_observe_connect(cx_consumer_metrics *self, double seconds);
void cx_consumer_observe_disconnect(cx_consumer_metrics *self, double seconds);

#endif
