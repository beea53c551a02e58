/*
 * The metrics registry and its HTTP side: the exact text format Prometheus
 * reads (HELP/TYPE, label escaping, cumulative histogram buckets with
 * _sum/_count), exact counts under concurrent increments, the bound on label
 * sets, and /metrics served over a real socket by libmicrohttpd.
 */
#include "common/metrics.h"
#include "common/metrics_http.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

Test(metrics, renders_counters_gauges_and_labels_in_the_text_format)
{
    cx_metrics *r = cx_metrics_new();
    cx_metric *c = cx_metrics_counter(r, "chanx_things_total", "Things.\nWith a \\ newline.", "kind,code");
    cx_metric *g = cx_metrics_gauge(r, "chanx_open", "Open now.", NULL);
    cx_series_add(cx_metric_series(c, "a\"b", "1000"), 3);
    cx_series_inc(cx_metric_series(c, "plain", "4401"));
    cx_series_inc(cx_metric_series(c, "plain", "4401"));
    cx_series_set(cx_metric_series(g), 5);
    cx_series_gauge_add(cx_metric_series(g), -7);
    char *text = cx_metrics_render(r, NULL);
    cr_assert_str_eq(text, "# HELP chanx_things_total Things.\\nWith a \\\\ newline.\n"
                           "# TYPE chanx_things_total counter\n"
                           "chanx_things_total{kind=\"a\\\"b\",code=\"1000\"} 3\n"
                           "chanx_things_total{kind=\"plain\",code=\"4401\"} 2\n"
                           "# HELP chanx_open Open now.\n"
                           "# TYPE chanx_open gauge\n"
                           "chanx_open -2\n");
    free(text);
    cx_metrics_destroy(&r);
    cr_assert_null(r);
}

Test(metrics, histograms_render_cumulative_buckets_sum_and_count)
{
    cx_metrics *r = cx_metrics_new();
    const double bounds[] = { 0.1, 1 };
    cx_series *h = cx_metric_series(cx_metrics_histogram(r, "chanx_wait_seconds", "Waits.", "op", bounds, 2), "q");
    cx_series_observe(h, 0.05);
    cx_series_observe(h, 0.1);    /* upper bounds are inclusive (le) */
    cx_series_observe(h, 0.5);
    cx_series_observe(h, 7);
    char *text = cx_metrics_render(r, NULL);
    cr_assert_str_eq(text, "# HELP chanx_wait_seconds Waits.\n"
                           "# TYPE chanx_wait_seconds histogram\n"
                           "chanx_wait_seconds_bucket{op=\"q\",le=\"0.1\"} 2\n"
                           "chanx_wait_seconds_bucket{op=\"q\",le=\"1\"} 3\n"
                           "chanx_wait_seconds_bucket{op=\"q\",le=\"+Inf\"} 4\n"
                           "chanx_wait_seconds_sum{op=\"q\"} 7.65\n"
                           "chanx_wait_seconds_count{op=\"q\"} 4\n");
    free(text);
    cx_metrics_destroy(&r);
}

Test(metrics, registering_again_returns_the_same_metric_and_a_clash_is_refused)
{
    cx_metrics *r = cx_metrics_new();
    cx_metric *a = cx_metrics_counter(r, "chanx_x_total", "X.", "a,b");
    cr_assert_eq(cx_metrics_counter(r, "chanx_x_total", "X again.", "a,b"), a);
    cr_assert_null(cx_metrics_gauge(r, "chanx_x_total", "X.", "a,b"));
    cr_assert_null(cx_metrics_counter(r, "chanx_x_total", "X.", "a"));
    cr_assert_eq(cx_metric_series(a, "1", "2"), cx_metric_series(a, "1", "2"));
    cr_assert_neq(cx_metric_series(a, "1", "2"), cx_metric_series(a, "2", "1"));
    cx_metrics_destroy(&r);
}

Test(metrics, label_sets_are_bounded_and_the_excess_counts_as_other)
{
    cx_metrics *r = cx_metrics_new();
    cx_metric *m = cx_metrics_counter(r, "chanx_codes_total", "Codes.", "code");
    char code[16];
    for (int i = 0; i < CX_METRICS_MAX_SERIES + 50; i++) {
        snprintf(code, sizeof code, "%d", i);
        cx_series_inc(cx_metric_series(m, code));
    }
    cx_series *other = cx_metric_series(m, "other");
    cr_assert_eq(cx_series_value(other), 50);
    cr_assert_eq(cx_metric_series(m, "123456"), other);
    cr_assert_eq(cx_series_value(cx_metric_series(m, "7")), 1);
    char *text = cx_metrics_render(r, NULL);
    cr_assert_null(strstr(text, "code=\"300\""));
    cr_assert(strstr(text, "chanx_codes_total{code=\"other\"} 50\n"));
    free(text);
    cx_metrics_destroy(&r);
}

Test(metrics, a_missing_metric_or_series_is_a_no_op)
{
    cx_series_inc(NULL);
    cx_series_add(NULL, 3);
    cx_series_set(NULL, 1);
    cx_series_observe(NULL, 1.0);
    cr_assert_null(cx_metric_series(NULL, "x"));
    cr_assert_eq(cx_series_value(NULL), 0);
    cr_assert_null(cx_metrics_counter(NULL, "chanx_y_total", "Y.", NULL));
}

typedef struct {
    cx_metric *counter, *histogram;
    int id;
} hammer_arg;

static void *hammer(void *p)
{
    hammer_arg *a = p;
    char label[8];
    snprintf(label, sizeof label, "t%d", a->id % 3);
    for (int i = 0; i < 100000; i++) {
        cx_series_inc(cx_metric_series(a->counter));
        cx_series_add(cx_metric_series(a->counter), 1);
        cx_series_observe(cx_metric_series(a->histogram, label), 0.5);
    }
    return NULL;
}

Test(metrics, concurrent_increments_are_all_counted)
{
    cx_metrics *r = cx_metrics_new();
    const double bounds[] = { 1 };
    cx_metric *c = cx_metrics_counter(r, "chanx_hits_total", "Hits.", NULL);
    cx_metric *h = cx_metrics_histogram(r, "chanx_lat_seconds", "Latency.", "thread", bounds, 1);
    pthread_t threads[4];
    hammer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (hammer_arg) { c, h, i };
        pthread_create(&threads[i], NULL, hammer, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    cr_assert_eq(cx_series_value(cx_metric_series(c)), 800000);
    char *text = cx_metrics_render(r, NULL);
    /* threads 0 and 3 share label t0: 200000 observations of 0.5 */
    cr_assert(strstr(text, "chanx_lat_seconds_count{thread=\"t0\"} 200000\n"), "%s", text);
    cr_assert(strstr(text, "chanx_lat_seconds_sum{thread=\"t0\"} 100000\n"), "%s", text);
    cr_assert(strstr(text, "chanx_lat_seconds_count{thread=\"t1\"} 100000\n"), "%s", text);
    free(text);
    cx_metrics_destroy(&r);
}

/* ------------------------------------------------------------------ http */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    cr_assert(bind(fd, (struct sockaddr *) &addr, sizeof addr) == 0);
    getsockname(fd, (struct sockaddr *) &addr, &len);
    close(fd);
    return ntohs(addr.sin_port);
}

/* One raw HTTP/1.1 exchange; the whole response (owned). */
static char *exchange(int port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert(connect(fd, (struct sockaddr *) &addr, sizeof addr) == 0);
    cr_assert(write(fd, request, strlen(request)) == (ssize_t) strlen(request));
    char *buf = calloc(1, 65536);
    size_t n = 0;
    for (ssize_t got; n < 65535 && (got = read(fd, buf + n, 65535 - n)) > 0;)
        n += (size_t) got;
    close(fd);
    return buf;
}

Test(metrics_http, serves_the_registry_on_get_metrics_only)
{
    cx_metrics *r = cx_metrics_new();
    cx_series_add(cx_metric_series(cx_metrics_counter(r, "chanx_served_total", "Served.", NULL)), 42);
    int port = free_port();
    char listen[32], err[256];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    cx_metrics_http *http = cx_metrics_http_new(listen, r, err, sizeof err);
    cr_assert_not_null(http, "%s", err);

    char *resp = exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strncmp(resp, "HTTP/1.1 200", 12) == 0, "%s", resp);
    cr_assert(strstr(resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), "%s", resp);
    cr_assert(strstr(resp, "\r\n\r\n# HELP chanx_served_total Served.\n# TYPE chanx_served_total counter\n"
                           "chanx_served_total 42\n"), "%s", resp);
    free(resp);
    resp = exchange(port, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert(strncmp(resp, "HTTP/1.1 404", 12) == 0, "%s", resp);
    free(resp);
    resp = exchange(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
    cr_assert(strncmp(resp, "HTTP/1.1 405", 12) == 0, "[%s]", resp);
    free(resp);

    /* the address is now taken: a second server says so */
    cr_assert_null(cx_metrics_http_new(listen, r, err, sizeof err));
    cr_assert(strstr(err, "cannot serve metrics on 127.0.0.1:"), "%s", err);
    cx_metrics_http_destroy(&http);
    cr_assert_null(http);
    cx_metrics_destroy(&r);
}

Test(metrics_http, a_malformed_address_is_refused_with_its_text)
{
    char err[256];
    const char *bad[] = { "9100", "localhost:9100", "127.0.0.1:", "127.0.0.1:99999", ":abc" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_null(cx_metrics_http_new(bad[i], NULL, err, sizeof err), "%s accepted", bad[i]);
        cr_assert(strstr(err, bad[i]) && strstr(err, "is not HOST:PORT"), "%s: %s", bad[i], err);
    }
}
