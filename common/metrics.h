/*
 * metrics.h — Prometheus metrics: a registry of counters, gauges and
 * histograms, rendered in the text exposition format 0.0.4.
 *
 * Terms are Prometheus's: a metric (cx_metric) has a name, a help text, a
 * type and fixed label names; each set of label values is one time series
 * (cx_series), which holds the value. Names follow Prometheus's conventions,
 * which this module does not enforce: a `chanx_` prefix, base units
 * (`_seconds`, `_bytes`), `_total` on counters.
 *
 * Threading and cost: everything here may be called from any thread. The hot
 * path is cx_series_inc/add/set/observe, which is one relaxed atomic operation
 * (a histogram: a short bucket scan, two atomic adds and a compare-and-swap
 * for the sum), no lock and no allocation. Callers look a series up once and
 * keep the pointer; cx_metric_series itself is a lock-free scan of the series
 * made so far and takes the metric's lock only the first time a label set is
 * seen. Series live as long as the registry (a counter must never go back).
 *
 * Cardinality is bounded: a metric holds at most CX_METRICS_MAX_SERIES label
 * sets; past that, new label sets all land in one series whose every label is
 * "other", so a client that makes up values cannot grow the output forever.
 *
 * Every function accepts NULL for its metric or series and then does nothing,
 * so code compiled into a program that never sets metrics up (a unit test)
 * runs unchanged.
 */
#ifndef CX_COMMON_METRICS_H
#define CX_COMMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define CX_METRICS_MAX_LABELS 3
#define CX_METRICS_MAX_SERIES 256

typedef struct cx_metrics cx_metrics;
typedef struct cx_metric cx_metric;
typedef struct cx_series cx_series;

cx_metrics *cx_metrics_new(void);
void cx_metrics_destroy(cx_metrics **self_p);
/* The process's registry, made on first use, what /metrics serves. Never freed. */
cx_metrics *cx_metrics_process(void);

/* Registers a metric; labels is a comma-separated list of label names ("class,result") or NULL.
 * Registering a name again returns the existing metric (NULL if its type or labels differ).
 * name, help and labels are copied. Histograms take their bucket upper bounds in ascending order
 * (+Inf is implied); bounds is copied. */
cx_metric *cx_metrics_counter(cx_metrics *self, const char *name, const char *help, const char *labels);
cx_metric *cx_metrics_gauge(cx_metrics *self, const char *name, const char *help, const char *labels);
cx_metric *cx_metrics_histogram(cx_metrics *self, const char *name, const char *help, const char *labels,
                                const double *bounds, size_t nbounds);

/* The series for label values, one const char * per label name, in order (made on first use).
 * Borrowed; valid as long as the registry. */
cx_series *cx_metric_series(cx_metric *metric, ...);
/* Same, values as an array of the metric's label count. */
cx_series *cx_metric_series_v(cx_metric *metric, const char *const *values);

/* Counters. */
void cx_series_inc(cx_series *series);
void cx_series_add(cx_series *series, uint64_t n);
/* Gauges (integer valued: counts, 0/1 states). */
void cx_series_set(cx_series *series, int64_t value);
void cx_series_gauge_add(cx_series *series, int64_t delta);
/* Histograms: one observation, in the metric's base unit (seconds, bytes). */
void cx_series_observe(cx_series *series, double value);

/* Reads a counter's or gauge's value (tests, /healthz-style summaries). */
int64_t cx_series_value(const cx_series *series);

/* The whole registry in the text exposition format; malloc'd, *len set. NULL when out of memory. */
char *cx_metrics_render(cx_metrics *self, size_t *len);
/* The media type of what cx_metrics_render returns. */
#define CX_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A monotonic clock in seconds, for durations to observe. */
double cx_metrics_now(void);

/* Bucket bounds for durations of things a person waits for (a database query, a callback): 100 µs to 10 s. */
extern const double cx_metrics_latency_buckets[];
extern const size_t cx_metrics_latency_nbuckets;

#endif
