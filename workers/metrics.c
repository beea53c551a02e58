/*
 * metrics.c — see metrics.h.
 */
#include "workers/metrics.h"
#include "common/metrics.h"

#include <stdlib.h>
#include <string.h>

static struct {
    cx_metric *instances, *messages, *errors, *invalid, *callbacks;
    cx_series *loads, *refusals;
    cx_series *events_dropped[CX_EVENT_DROP_REASONS];
} m;

static const char *const DROP_REASONS[CX_EVENT_DROP_REASONS] = {
    [CX_EVENT_DROP_MAILBOX_FULL] = "mailbox_full",
    [CX_EVENT_DROP_UNHANDLED] = "unhandled",
    [CX_EVENT_DROP_INVALID] = "invalid",
};

struct cx_consumer_metrics {
    size_t nactions;
    char **actions;           /* the schema's, in order; index nactions is "other" */
    cx_series **handled, **failed;
    cx_series *instances, *invalid, *receive, *connect, *disconnect;
};

void cx_worker_metrics_init(void)
{
    cx_metrics *r = cx_metrics_process();
    if (m.instances)
        return;
    m.instances = cx_metrics_gauge(r, "chanx_worker_consumer_instances", "Live consumer instances by consumer.",
                                   "consumer");
    m.messages = cx_metrics_counter(r, "chanx_worker_messages_total",
                                    "Messages handled by receive_message, by consumer and action (actions the "
                                    "consumer's schema declares; anything else is \"other\").", "consumer,action");
    m.errors = cx_metrics_counter(r, "chanx_worker_message_errors_total",
                                  "Messages whose receive_message failed, by consumer and action.", "consumer,action");
    m.invalid = cx_metrics_counter(r, "chanx_worker_invalid_messages_total",
                                   "Messages refused by the consumer's schema, by consumer.", "consumer");
    m.callbacks = cx_metrics_histogram(r, "chanx_worker_callback_duration_seconds",
                                       "Time spent in a consumer's callbacks: receive_message, connect "
                                       "(has_permission, build_groups, post_authentication) and disconnect.",
                                       "consumer,callback", cx_metrics_latency_buckets, cx_metrics_latency_nbuckets);
    m.loads = cx_metric_series(cx_metrics_counter(r, "chanx_worker_plugin_loads_total", "Plugins loaded.", NULL));
    m.refusals = cx_metric_series(cx_metrics_counter(r, "chanx_worker_plugin_refusals_total",
                                                     "Plugins refused (see the worker's log for why).", NULL));
    cx_metric *dropped = cx_metrics_counter(r, "chanx_worker_events_dropped_total",
                                            "Server-side events that did not reach a recipient's receive_event, by "
                                            "reason: mailbox_full (CHANX_MAILBOX_MAX), unhandled (its consumer "
                                            "neither handles nor passes the action through), invalid (the event "
                                            "broke the consumer's .events schema).", "reason");
    for (int i = 0; i < CX_EVENT_DROP_REASONS; i++)   /* every reason shows, at 0, from the start */
        m.events_dropped[i] = cx_metric_series(dropped, DROP_REASONS[i]);
}

void cx_worker_count_events_dropped(cx_event_drop reason, uint64_t n)
{
    if (reason < CX_EVENT_DROP_REASONS)
        cx_series_add(m.events_dropped[reason], n);
}

void cx_worker_count_plugin(int loaded)
{
    cx_series_inc(loaded ? m.loads : m.refusals);
}

cx_consumer_metrics *cx_consumer_metrics_new(const char *consumer, const cx_schema *schema)
{
    cx_consumer_metrics *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t n = schema ? cx_schema_action_count(schema) : 0;
    self->actions = calloc(n + 1, sizeof *self->actions);
    self->handled = calloc(n + 1, sizeof *self->handled);
    self->failed = calloc(n + 1, sizeof *self->failed);
    if (!self->actions || !self->handled || !self->failed) {
        cx_consumer_metrics_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; i <= n; i++) {
        const char *action = i < n ? cx_schema_action_name(schema, i) : "other";
        if (i < n && !(self->actions[self->nactions++] = strdup(action))) {
            cx_consumer_metrics_destroy(&self);
            return NULL;
        }
        self->handled[i] = cx_metric_series(m.messages, consumer, action);
        self->failed[i] = cx_metric_series(m.errors, consumer, action);
    }
    self->instances = cx_metric_series(m.instances, consumer);
    self->invalid = cx_metric_series(m.invalid, consumer);
    self->receive = cx_metric_series(m.callbacks, consumer, "receive_message");
    self->connect = cx_metric_series(m.callbacks, consumer, "connect");
    self->disconnect = cx_metric_series(m.callbacks, consumer, "disconnect");
    return self;
}

void cx_consumer_metrics_destroy(cx_consumer_metrics **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_consumer_metrics *self = *self_p;
    for (size_t i = 0; self->actions && i < self->nactions; i++)
        free(self->actions[i]);
    free(self->actions);
    free(self->handled);
    free(self->failed);
    free(self);
    *self_p = NULL;
}

void cx_consumer_count_instance(cx_consumer_metrics *self, int delta)
{
    if (self)
        cx_series_gauge_add(self->instances, delta);
}

void cx_consumer_count_message(cx_consumer_metrics *self, const char *action, int ok, double seconds)
{
    if (!self)
        return;
    size_t i = 0;
    while (i < self->nactions && strcmp(self->actions[i], action ? action : "") != 0)
        i++;
    cx_series_inc(self->handled[i]);
    if (!ok)
        cx_series_inc(self->failed[i]);
    cx_series_observe(self->receive, seconds);
}

void cx_consumer_count_invalid(cx_consumer_metrics *self)
{
    if (self)
        cx_series_inc(self->invalid);
}

void cx_consumer_observe_connect(cx_consumer_metrics *self, double seconds)
{
    if (self)
        cx_series_observe(self->connect, seconds);
}

void cx_consumer_observe_disconnect(cx_consumer_metrics *self, double seconds)
{
    if (self)
        cx_series_observe(self->disconnect, seconds);
}
