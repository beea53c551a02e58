/*
 * raw_ws — a WebSocket client that writes exactly the bytes a test asks for.
 *
 * Why: ws_client (libwebsockets) and every real client only send valid
 * frames. RFC 6455 conformance tests need the invalid ones too (unmasked
 * frames, reserved bits, oversized control frames, bad close codes, broken
 * UTF-8 split across fragments) and malformed upgrade requests, and they
 * need to see exactly what the server answers: the status line, the
 * headers, each frame, and whether the TCP connection ended. Blocking calls
 * with timeouts, one plain socket, nothing hidden.
 */
#ifndef CX_RAW_WS_H
#define CX_RAW_WS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cx_raw cx_raw;

/* Opens a TCP connection to 127.0.0.1:port; NULL when it cannot. */
cx_raw *cx_raw_open(int port);
/* Sends a valid version-13 upgrade for path with extra header lines ("Name: value\r\n"..., or NULL)
 * and reads the answer's head: returns the connection with cx_raw_status() 101 when upgraded. */
cx_raw *cx_raw_upgrade(int port, const char *path, const char *extra_headers);
/* The same with a receive buffer of a few KiB, set before connecting: a client that then stops
 * reading makes what the server sends it pile up at the server, not in this machine's kernel. */
cx_raw *cx_raw_upgrade_small_buffer(int port, const char *path, const char *extra_headers);
void cx_raw_destroy(cx_raw **self_p);

/* Writes bytes as they are; 0, or -1 when the socket refused them. */
int cx_raw_write(cx_raw *self, const void *data, size_t len);
/* Reads an HTTP answer's head (up to the blank line) within timeout_ms: its status, 0 if none
 * came (the connection closed or timed out). The head is kept for cx_raw_header; the body of a
 * refusal (up to content-length) is read too, see cx_raw_body. */
int cx_raw_read_head(cx_raw *self, int timeout_ms);
int cx_raw_status(const cx_raw *self);
/* A header of the last head, case-insensitive name; borrowed, NULL when absent. */
const char *cx_raw_header(cx_raw *self, const char *name);
const char *cx_raw_body(const cx_raw *self);

/* Writes one frame: fin, rsv (0-7, the RSV1..3 bits), opcode, masked with a random key or not. */
int cx_raw_frame(cx_raw *self, int fin, int rsv, int opcode, int masked, const void *payload, size_t len);
/* A close frame from the client: code (0: no payload; -1: a 1-byte payload) and reason bytes. */
int cx_raw_close_frame(cx_raw *self, int code, const void *reason, size_t reason_len);

/* Reads one frame from the server within timeout_ms. Returns 1 with its opcode, fin and payload
 * (malloc'd, NUL-terminated; NULL-safe out parameters), 0 when the connection ended, -1 on timeout
 * or a frame that is not valid from a server. */
int cx_raw_read_frame(cx_raw *self, int timeout_ms, int *opcode, int *fin, char **payload, size_t *len);
/* The RSV bits (0-7; 4 is RSV1, a permessage-deflate message) of the frame read last. */
int cx_raw_last_rsv(const cx_raw *self);
/* Reads frames until the server's close frame: returns its code (1005 for an empty one), 1006 when
 * the connection ended without one, 0 on timeout. Text frames met on the way are counted in
 * *messages (may be NULL). */
int cx_raw_expect_close(cx_raw *self, int timeout_ms, int *messages);
/* After the close frame: 1 once the server ends the TCP connection within timeout_ms. */
int cx_raw_wait_eof(cx_raw *self, int timeout_ms);

#endif
