/*
 * ws_client — a blocking WebSocket client for tests and benchmarks.
 *
 * Why blocking: end-to-end tests read best as a script ("connect, send,
 * expect this reply, expect that close code"), so every call here drives its
 * own libwebsockets event loop until its condition holds or its timeout
 * passes. Each client owns a private lws_context: that keeps clients fully
 * isolated (one test's stuck connection cannot starve another) at the price
 * of a few fds each, fine for the few hundred clients a test opens.
 *
 * Received messages land in a per-client FIFO the moment lws hands them over,
 * whichever call happens to be servicing the loop, so nothing is lost while
 * a test is busy elsewhere. Nothing in here knows about the Chanx server: the
 * same client is pointed at Django Channels (daphne) in the benchmarks.
 */
#ifndef CX_WS_CLIENT_H
#define CX_WS_CLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cx_ws cx_ws;

/* Opens ws://host:port/path?query (wss:// too; certificates are not
 * verified: this is a test tool). headers: NULL or a NULL-terminated array of
 * "Name: value" strings added to the upgrade request (Authorization, Cookie,
 * Origin, ...; do not pass Host, lws sends it). Returns once the handshake has
 * finished OR failed (or timed out): check cx_ws_is_open(). NULL only on
 * out-of-memory or an unparsable URL. */
cx_ws *cx_ws_connect(const char *url, const char *const *headers, int timeout_ms);

int cx_ws_is_open(const cx_ws *self);
/* HTTP status the server answered the upgrade with: 101 when open, the
 * refusal status (403, 404, 503, ...) when refused, 0 when there was no
 * answer at all (connection refused, timeout, reset). */
int cx_ws_http_status(const cx_ws *self);
/* The subprotocol the server answered (borrowed; "" for none). Offer them with a
 * "Sec-WebSocket-Protocol: a, b" entry in headers: lws sends it and fails the
 * handshake if the server answers something not offered. */
const char *cx_ws_subprotocol(const cx_ws *self);
/* lws's description of why the connection failed, or "" (for diagnostics). */
const char *cx_ws_error(const cx_ws *self);

/* Queued and flushed to the socket before returning; 0 ok, -1 when the
 * connection is not open or could not be flushed within 10 s. */
int cx_ws_send_text(cx_ws *self, const char *text, size_t len);
int cx_ws_send_binary(cx_ws *self, const void *data, size_t len);

/* Next received message (malloc'd, NUL-terminated; *len if non-NULL), or NULL
 * on timeout or when closed and nothing is left queued. Fragmented messages
 * are reassembled. cx_ws_recv_text returns binary messages too (they share
 * the FIFO so ordering is kept); cx_ws_recv tells which kind it was. */
char *cx_ws_recv_text(cx_ws *self, int timeout_ms, size_t *len);
char *cx_ws_recv(cx_ws *self, int timeout_ms, size_t *len, int *is_binary);
/* Number of messages waiting in the FIFO (does not service the loop). */
size_t cx_ws_pending(const cx_ws *self);

/* Waits until the connection is closed; returns 1 with the close code (the
 * server's 1000, 1011, 4401, ...; 1005 when its close frame had no code;
 * 1006 when TCP dropped without a close frame; ours after cx_ws_close), or 0
 * on timeout. Messages received meanwhile stay queued for recv. A client that
 * never opened reports 1 immediately with code 1006. */
int cx_ws_wait_closed(cx_ws *self, int timeout_ms, int *close_code);
int cx_ws_is_closed(const cx_ws *self);
/* Close code as known now (0 while open). */
int cx_ws_close_code(const cx_ws *self);

/* The reason text of the server's close frame ("" when none); borrowed, valid until destroyed. */
const char *cx_ws_close_reason(const cx_ws *self);
/* Sends a close frame with code and waits briefly (1 s) for the server's. */
void cx_ws_close(cx_ws *self, int code);
/* NULL-safe, nulls the pointer, closes with 1000 if still open. */
void cx_ws_destroy(cx_ws **self_p);

#ifdef __cplusplus
}
#endif
#endif
