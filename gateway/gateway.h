/*
 * gateway.h — the edge process: WebSocket clients on one side, the broker
 * on the other.
 *
 * The gateway terminates WebSockets (libwebsockets, one event loop),
 * matches the request path against the route table the broker publishes,
 * authenticates the client against PostgreSQL (gateway/auth.h), and then
 * only moves frames: client text frames become RECEIVE envelopes, SEND
 * envelopes become client frames, and group sends fan out to the local
 * members. It knows nothing about consumers beyond their routes and specs.
 */
#ifndef CX_GATEWAY_GATEWAY_H
#define CX_GATEWAY_GATEWAY_H

typedef struct {
    const char *listen_host;   /* "127.0.0.1" */
    int port;
    const char *broker;        /* "tcp://127.0.0.1:5555" */
    const char *database;      /* libpq conninfo */
    int db_threads;
    size_t max_message;        /* largest client message accepted, bytes */
    size_t max_buffered;       /* largest backlog for one client, bytes */
    size_t max_buffered_total; /* largest backlog of all clients together, bytes (shed.h) */
    size_t max_conns_per_user; /* open connections of one user (0: no limit, conn_limits.h) */
    size_t max_conns_per_address;   /* open anonymous connections of one address (0: no limit) */
    int drain_ms;              /* how long SIGTERM waits for clients to take their close */
    int playground;            /* serve /playground/ (CHANX_PLAYGROUND) */
} cx_gateway_config;

/* Runs until *stop; then closes clients with 1001 (going away) and returns. */
int cx_gateway_run(const cx_gateway_config *config, volatile int *stop);

#endif
