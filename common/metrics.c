/*
 * metrics.c — the registry behind metrics.h.
 *
 * Layout: the registry is a list of metrics in registration order (the order
 * of the output); a metric is a fixed array of series pointers plus a count.
 * A new series is fully built, stored in the array, and only then published
 * by a release store of the count, so readers (increments on any thread, the
 * renderer on the HTTP thread) scan the first `count` entries with an acquire
 * load and never need the lock. Series are never removed or moved.
 *
 * Values are atomics: a counter is a uint64_t, a gauge an int64_t, a
 * histogram one uint64_t per bucket (not cumulative: an observation touches
 * one bucket) plus its sum as the bits of a double, added with a CAS loop.
 * Rendering makes the buckets cumulative and takes _count from them, so a
 * scrape that races an observation stays self-consistent (+Inf == _count).
 */
#include "common/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } metric_kind;

static const char *const KIND_NAMES[] = { "counter", "gauge", "histogram" };

struct cx_series {
    char *values[CX_METRICS_MAX_LABELS];
    _Atomic uint64_t value;       /* counter; a gauge's int64_t bits */
    _Atomic uint64_t sum_bits;    /* histogram: the sum, a double's bits */
    _Atomic uint64_t *buckets;    /* histogram: nbounds + 1 (the last is +Inf) */
    const cx_metric *metric;
};

struct cx_metric {
    char *name, *help;
    metric_kind kind;
    char *labels[CX_METRICS_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    cx_series *series[CX_METRICS_MAX_SERIES + 1];   /* + the "other" series past the bound */
    _Atomic size_t nseries;
    pthread_mutex_t lock;
    cx_metric *next;
};

struct cx_metrics {
    pthread_mutex_t lock;
    cx_metric *first, *last;
};

const double cx_metrics_latency_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                              0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
const size_t cx_metrics_latency_nbuckets = sizeof cx_metrics_latency_buckets / sizeof cx_metrics_latency_buckets[0];

/* ------------------------------------------------------------- registry */

cx_metrics *cx_metrics_new(void)
{
    cx_metrics *self = calloc(1, sizeof *self);
    if (self)
        pthread_mutex_init(&self->lock, NULL);
    return self;
}

static void series_free(cx_series *s)
{
    for (size_t i = 0; i < CX_METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->buckets);
    free(s);
}

static void metric_free(cx_metric *m)
{
    size_t n = atomic_load(&m->nseries);
    for (size_t i = 0; i < n; i++)
        series_free(m->series[i]);
    for (size_t i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    pthread_mutex_destroy(&m->lock);
    free(m->name);
    free(m->help);
    free(m->bounds);
    free(m);
}

void cx_metrics_destroy(cx_metrics **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_metrics *self = *self_p;
    for (cx_metric *m = self->first, *next; m; m = next) {
        next = m->next;
        metric_free(m);
    }
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static cx_metrics *process_registry;
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

static void make_process_registry(void)
{
    process_registry = cx_metrics_new();
}

cx_metrics *cx_metrics_process(void)
{
    pthread_once(&process_once, make_process_registry);
    return process_registry;
}

/* Splits "a,b" into m->labels; -1 on too many or out of memory. */
static int parse_labels(cx_metric *m, const char *labels)
{
    for (const char *p = labels; p && *p;) {
        size_t len = strcspn(p, ",");
        if (m->nlabels == CX_METRICS_MAX_LABELS || !(m->labels[m->nlabels] = strndup(p, len)))
            return -1;
        m->nlabels++;
        p += len + (p[len] == ',');
    }
    return 0;
}

static int same_shape(const cx_metric *m, metric_kind kind, const char *labels)
{
    char joined[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < m->nlabels; i++)
        used += (size_t) snprintf(joined + used, used < sizeof joined ? sizeof joined - used : 0, "%s%s",
                                  i ? "," : "", m->labels[i]);
    return m->kind == kind && strcmp(joined, labels ? labels : "") == 0;
}

static cx_metric *add_metric(cx_metrics *self, metric_kind kind, const char *name, const char *help,
                             const char *labels, const double *bounds, size_t nbounds)
{
    if (!self)
        return NULL;
    pthread_mutex_lock(&self->lock);
    cx_metric *m = self->first;
    while (m && strcmp(m->name, name) != 0)
        m = m->next;
    if (m) {
        pthread_mutex_unlock(&self->lock);
        return same_shape(m, kind, labels) ? m : NULL;
    }
    m = calloc(1, sizeof *m);
    if (m) {
        pthread_mutex_init(&m->lock, NULL);
        m->kind = kind;
        m->name = strdup(name);
        m->help = strdup(help);
        m->nbounds = nbounds;
        m->bounds = nbounds ? malloc(nbounds * sizeof *bounds) : NULL;
        if (m->bounds)
            memcpy(m->bounds, bounds, nbounds * sizeof *bounds);
        if (!m->name || !m->help || (nbounds && !m->bounds) || parse_labels(m, labels) != 0) {
            metric_free(m);
            m = NULL;
        }
    }
    if (m) {
        if (self->last)
            self->last->next = m;
        else
            self->first = m;
        self->last = m;
    }
    pthread_mutex_unlock(&self->lock);
    /* A metric without labels has exactly one series: made now, so it is rendered (as 0) from the start. */
    if (m && m->nlabels == 0)
        cx_metric_series_v(m, NULL);
    return m;
}

cx_metric *cx_metrics_counter(cx_metrics *self, const char *name, const char *help, const char *labels)
{
    return add_metric(self, KIND_COUNTER, name, help, labels, NULL, 0);
}

cx_metric *cx_metrics_gauge(cx_metrics *self, const char *name, const char *help, const char *labels)
{
    return add_metric(self, KIND_GAUGE, name, help, labels, NULL, 0);
}

cx_metric *cx_metrics_histogram(cx_metrics *self, const char *name, const char *help, const char *labels,
                                const double *bounds, size_t nbounds)
{
    return add_metric(self, KIND_HISTOGRAM, name, help, labels, bounds, nbounds);
}

/* --------------------------------------------------------------- series */

static int series_is(const cx_series *s, size_t nlabels, const char *const *values)
{
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(s->values[i], values[i]) != 0)
            return 0;
    return 1;
}

static cx_series *find(cx_metric *m, size_t from, size_t to, const char *const *values)
{
    for (size_t i = from; i < to; i++)
        if (series_is(m->series[i], m->nlabels, values))
            return m->series[i];
    return NULL;
}

static cx_series *series_new(cx_metric *m, const char *const *values)
{
    cx_series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->metric = m;
    int ok = 1;
    for (size_t i = 0; i < m->nlabels; i++)
        ok &= (s->values[i] = strdup(values[i] ? values[i] : "")) != NULL;
    if (ok && m->kind == KIND_HISTOGRAM)
        ok = (s->buckets = calloc(m->nbounds + 1, sizeof *s->buckets)) != NULL;
    if (!ok) {
        series_free(s);
        return NULL;
    }
    return s;
}

cx_series *cx_metric_series_v(cx_metric *m, const char *const *values)
{
    if (!m)
        return NULL;
    size_t seen = atomic_load_explicit(&m->nseries, memory_order_acquire);
    cx_series *s = find(m, 0, seen, values);
    if (s)
        return s;
    static const char *const other[CX_METRICS_MAX_LABELS] = { "other", "other", "other" };
    pthread_mutex_lock(&m->lock);
    size_t now = atomic_load_explicit(&m->nseries, memory_order_relaxed);
    s = find(m, seen, now, values);
    if (!s && now >= CX_METRICS_MAX_SERIES) {   /* the bound: every further label set is "other" */
        s = find(m, 0, now, other);
        values = other;
    }
    if (!s && now <= CX_METRICS_MAX_SERIES && (s = series_new(m, values))) {
        m->series[now] = s;
        atomic_store_explicit(&m->nseries, now + 1, memory_order_release);
    }
    pthread_mutex_unlock(&m->lock);
    return s;
}

cx_series *cx_metric_series(cx_metric *m, ...)
{
    if (!m)
        return NULL;
    const char *values[CX_METRICS_MAX_LABELS] = { NULL };
    va_list ap;
    va_start(ap, m);
    for (size_t i = 0; i < m->nlabels; i++)
        values[i] = va_arg(ap, const char *);
    va_end(ap);
    return cx_metric_series_v(m, values);
}

void cx_series_inc(cx_series *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->value, 1, memory_order_relaxed);
}

void cx_series_add(cx_series *s, uint64_t n)
{
    if (s)
        atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void cx_series_set(cx_series *s, int64_t value)
{
    if (s)
        atomic_store_explicit(&s->value, (uint64_t) value, memory_order_relaxed);
}

void cx_series_gauge_add(cx_series *s, int64_t delta)
{
    if (s)   /* two's complement: adding the unsigned bits of a negative delta subtracts */
        atomic_fetch_add_explicit(&s->value, (uint64_t) delta, memory_order_relaxed);
}

int64_t cx_series_value(const cx_series *s)
{
    return s ? (int64_t) atomic_load_explicit(&((cx_series *) s)->value, memory_order_relaxed) : 0;
}

static double bits_to_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static uint64_t double_to_bits(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

void cx_series_observe(cx_series *s, double value)
{
    if (!s || !s->buckets)
        return;
    const cx_metric *m = s->metric;
    size_t i = 0;
    while (i < m->nbounds && value > m->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&s->sum_bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&s->sum_bits, &old, double_to_bits(bits_to_double(old) + value),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

double cx_metrics_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ rendering */

/* HELP text escapes backslash and newline; label values also the double quote. */
static void put_escaped(FILE *out, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else if (*s == '"' && quote)
            fputs("\\\"", out);
        else
            fputc(*s, out);
    }
}

/* {a="x",b="y"} with an optional extra le="..." label; nothing when there are no labels at all. */
static void put_labels(FILE *out, const cx_metric *m, const cx_series *s, const char *le)
{
    if (m->nlabels == 0 && !le)
        return;
    fputc('{', out);
    for (size_t i = 0; i < m->nlabels; i++) {
        fprintf(out, "%s%s=\"", i ? "," : "", m->labels[i]);
        put_escaped(out, s->values[i], 1);
        fputc('"', out);
    }
    if (le)
        fprintf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    fputc('}', out);
}

static void render_histogram(FILE *out, const cx_metric *m, cx_series *s)
{
    uint64_t cumulative = 0;
    char le[32];
    for (size_t i = 0; i <= m->nbounds; i++) {
        cumulative += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        if (i < m->nbounds)
            snprintf(le, sizeof le, "%g", m->bounds[i]);
        else
            strcpy(le, "+Inf");
        fprintf(out, "%s_bucket", m->name);
        put_labels(out, m, s, le);
        fprintf(out, " %llu\n", (unsigned long long) cumulative);
    }
    fprintf(out, "%s_sum", m->name);
    put_labels(out, m, s, NULL);
    fprintf(out, " %.9g\n%s_count", bits_to_double(atomic_load_explicit(&s->sum_bits, memory_order_relaxed)),
            m->name);
    put_labels(out, m, s, NULL);
    fprintf(out, " %llu\n", (unsigned long long) cumulative);
}

static void render_metric(FILE *out, cx_metric *m)
{
    fprintf(out, "# HELP %s ", m->name);
    put_escaped(out, m->help, 0);
    fprintf(out, "\n# TYPE %s %s\n", m->name, KIND_NAMES[m->kind]);
    size_t n = atomic_load_explicit(&m->nseries, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        cx_series *s = m->series[i];
        if (m->kind == KIND_HISTOGRAM) {
            render_histogram(out, m, s);
            continue;
        }
        fputs(m->name, out);
        put_labels(out, m, s, NULL);
        uint64_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
        if (m->kind == KIND_GAUGE)
            fprintf(out, " %lld\n", (long long) (int64_t) v);
        else
            fprintf(out, " %llu\n", (unsigned long long) v);
    }
}

char *cx_metrics_render(cx_metrics *self, size_t *len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    if (self) {
        pthread_mutex_lock(&self->lock);
        for (cx_metric *m = self->first; m; m = m->next)
            render_metric(out, m);
        pthread_mutex_unlock(&self->lock);
    }
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    if (len)
        *len = size;
    return text;
}
