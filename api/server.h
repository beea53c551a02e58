/*
 * server.h — the publish API's HTTP side (libmicrohttpd).
 *
 * POST /api/broadcast, /api/send, /api/disconnect, /api/batch with a JSON
 * body, guarded by "Authorization: apikey <key>"; GET /healthz. See
 * common/publish.h for the commands and docs/events.md ("The HTTP API") for
 * the contract. The server runs in the caller's thread: it is
 * driven by cx_api_server_run's loop together with the broker link, so a
 * request is answered only after the broker said what it reached.
 */
#ifndef CX_API_SERVER_H
#define CX_API_SERVER_H

#include <stddef.h>

typedef struct {
    const char *listen;        /* "host:port", IPv4 */
    const char *api_key;       /* NULL or "": the API is off (every request answers 503 api_disabled) */
    size_t max_body;           /* bytes; larger bodies answer 413 */
    int timeout_ms;            /* how long to wait for the broker's answer */
    const char *broker;        /* ZeroMQ endpoint */
    int max_per_address;       /* connections one client address may hold open (0: no limit) */
    int head_timeout_secs;     /* a request head must be complete this long after it began (heads.h) */
} cx_api_config;

typedef struct cx_api_server cx_api_server;

/* Binds and connects; NULL (with a log record) on failure. */
cx_api_server *cx_api_server_new(const cx_api_config *config);
void cx_api_server_destroy(cx_api_server **self_p);
/* Serves until *stop; 0 on a clean stop. */
int cx_api_server_run(cx_api_server *self, volatile int *stop);

#endif
