/*
 * wire.h — what the gateway checks on a client's bytes before libwebsockets
 * sees them: the request head's limits (414, 431, a %00 is 400), its HTTP/1.1
 * message rules (http_head.h: bodies, Host, obs-fold, CONNECT, OPTIONS, dot
 * segments) and, once upgraded, the framing rules (frame_audit.h).
 *
 * lws reads client sockets with recv() and offers no hook in between, so
 * the gateway defines recv() itself (the dynamic linker resolves lws's calls
 * to the executable's definition first) and hands every other caller
 * straight to libc's. Only sockets the gateway registered with
 * cx_wire_accept are looked at, and only on the gateway's loop thread, so
 * other threads' sockets (libpq, ZeroMQ) pass untouched.
 *
 * Verdicts are acted on from the loop (cx_wire_collect, before each poll):
 * a refused head was answered and its connection ended inside recv (lws sees
 * the end of the stream); a frame verdict closes the session with its code.
 * Gateway loop thread only, except recv itself, which any thread calls.
 */
#ifndef CX_GATEWAY_WIRE_H
#define CX_GATEWAY_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Limits of a request head, in bytes as received (documented in the README). */
#define CX_WIRE_MAX_REQUEST_LINE 4096
#define CX_WIRE_MAX_HEAD 8192

/* Once, before any client connects. */
int cx_wire_init(void);
/* A client socket was accepted (LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED), or its upgrade was
 * refused (what follows is HTTP again, not frames). */
void cx_wire_accept(int fd);
/* The WebSocket on fd became session conn; rsv1_allowed when permessage-deflate was negotiated. */
void cx_wire_established(int fd, uint64_t conn, int rsv1_allowed);

/* Calls act(conn, code, reason, is_close, arg) for each connection whose frames got a verdict since
 * the last call: is_close for the client's valid close frame (code 0: it carried none), else a
 * rule broken (code 1002 or 1007). */
void cx_wire_collect(void (*act)(uint64_t conn, int code, const char *reason, int is_close, void *arg), void *arg);

#endif
