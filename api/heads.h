/*
 * heads.h — a deadline for a whole request head on the publish API.
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client that
 * sends one header line every 10 s never idles 30 s, and 1,010 of them kept
 * its 1,000 slots busy for as long as they liked (slowloris): every other
 * request, /healthz included, timed out. Here each connection's request head
 * must be complete within CHANX_API_HEAD_TIMEOUT_SECS of the connection's
 * start (of the previous request's end, on a kept-alive connection);
 * otherwise its socket is shut down and libmicrohttpd closes it as it
 * closes any connection its peer ended. With the per-address connection
 * limit (CHANX_API_MAX_CONNECTIONS_PER_ADDRESS) one address cannot take
 * the slots at all, and many addresses give them back within the deadline.
 */
#ifndef CX_API_HEADS_H
#define CX_API_HEADS_H

#include <stddef.h>
#include <microhttpd.h>

typedef struct cx_heads cx_heads;

cx_heads *cx_heads_new(int timeout_secs);
void cx_heads_destroy(cx_heads **self_p);
/* MHD_OPTION_NOTIFY_CONNECTION's callback (cls: the cx_heads): follows connections as they open and close. */
void cx_heads_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);
/* The connection's head arrived (the access handler's first call for a request). */
void cx_heads_arrived(struct MHD_Connection *conn);
/* The connection's request is over: a next head on the same connection gets the whole deadline again. */
void cx_heads_restart(struct MHD_Connection *conn);
/* Ends the connections whose head is late; returns how many. */
size_t cx_heads_enforce(cx_heads *self);
/* Milliseconds until the nearest deadline of a head still coming (-1: none). */
long cx_heads_next_ms(const cx_heads *self);

#endif
