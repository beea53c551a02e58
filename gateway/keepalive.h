/*
 * keepalive.h — server pings and dead-connection detection for the
 * gateway's clients (RFC 6455 5.5.2/5.5.3).
 *
 * After CHANX_PING_INTERVAL_MS (default 20000; 0 turns pings off) without a
 * frame from a client, the gateway sends it a ping; a client that then sends
 * nothing, pong or frame (its own pings and empty pongs count too), and reads
 * none of a backlog waiting for it, for CHANX_PING_TIMEOUT_MS (default
 * 30000) more is dropped without a close handshake (there is nobody to answer it): its
 * consumer's disconnect runs with 1006 and its groups are left, as for a
 * link that dropped. These are Daphne's defaults (ping every 20 s, give up
 * after 30 s). TCP keepalive on every client socket (gateway.c, lws ka_*)
 * is the second line for a gateway that runs with pings off.
 *
 * Cost: one libuv timer for all clients and an idle wheel
 * (gateway/idle_wheel.h); a frame from a client costs one store.
 * Called from the gateway's loop thread only.
 */
#ifndef CX_GATEWAY_KEEPALIVE_H
#define CX_GATEWAY_KEEPALIVE_H

#include <uv.h>
#include "gateway/idle_wheel.h"

struct cx_session;
typedef struct cx_keepalive cx_keepalive;

/* Reads the settings and starts the timer on loop; NULL (and *disabled = 1)
 * when pings are off, NULL with *disabled = 0 when out of memory. */
cx_keepalive *cx_keepalive_new(uv_loop_t *loop, int *disabled);
/* Stops the timer; the loop must run afterwards for libuv to let go of it (gateway.c close_loop). */
void cx_keepalive_destroy(cx_keepalive **self_p);

/* NULL-safe: a gateway with pings off has no keepalive. */
void cx_keepalive_add(cx_keepalive *self, struct cx_session *s);
void cx_keepalive_remove(cx_keepalive *self, struct cx_session *s);
/* The client sent something (a frame or a pong). */
void cx_keepalive_seen(cx_keepalive *self, struct cx_session *s);

#endif
