/*
 * metrics_http.h — GET /metrics over HTTP for any process, with libmicrohttpd.
 *
 * The broker and the workers have no HTTP side of their own, and an HTTP
 * server is not something to write again: libmicrohttpd (GNU, in Debian)
 * runs one thread of its own that answers scrapes from the registry. The
 * registry is thread-safe (metrics.h), so the process's own threads are
 * never stopped or locked by a scrape. Every process serves this on
 * CHANX_METRICS_LISTEN when it is set; the gateway also answers /metrics on
 * its WebSocket port.
 *
 * Answers: GET or HEAD /metrics → 200 in the text exposition format 0.0.4;
 * another path → 404; another method → 405.
 */
#ifndef CX_COMMON_METRICS_HTTP_H
#define CX_COMMON_METRICS_HTTP_H

#include <stddef.h>
#include "common/metrics.h"

typedef struct cx_metrics_http cx_metrics_http;

/* Starts serving registry (borrowed: must outlive the server) on listen, "HOST:PORT" or ":PORT"
 * (all interfaces); HOST is an IPv4 address. NULL with the reason in err when the address is
 * malformed or cannot be bound. */
cx_metrics_http *cx_metrics_http_new(const char *listen, cx_metrics *registry, char *err, size_t errlen);
/* Stops the server thread and frees it; NULL-safe. */
void cx_metrics_http_destroy(cx_metrics_http **self_p);

/* What each process's main calls: serves the process registry on CHANX_METRICS_LISTEN when set.
 * Returns 0 with *out NULL when unset; -1 after logging why it could not start (the process should
 * exit: the operator asked for metrics). */
int cx_metrics_http_from_env(cx_metrics_http **out);

#endif
