/*
 * tcp_peer.h — what the kernel knows of a client's TCP connection that
 * libwebsockets does not tell: how much of what we sent it still holds, and
 * whether the client is making progress (acknowledging our bytes, sending
 * its own), whatever frames those bytes carry.
 *
 * Why the kernel's count: Linux grows a socket's send buffer up to
 * tcp_wmem's maximum (4 MiB by default), so a client that reads slowly
 * drains the gateway's own queue into the kernel, where a bound on the
 * gateway's queue alone never sees it (issue 30). SIOCOUTQ gives the bytes
 * sent and not yet acknowledged: exactly what the client has not received.
 * The alternatives were weighed: TCP_NOTSENT_LOWAT only changes when the
 * socket polls writable, and the outbox writes without waiting for that, so
 * it bounds nothing here; a capped SO_SNDBUF would bound the kernel's share
 * but also the throughput of every fast client on a long-RTT link.
 *
 * Why progress: lws answers a client's ping itself and swallows an empty
 * pong without a callback, so those frames never reach the gateway's code,
 * and a client reading a backlog slowly sends nothing at all while it
 * reads. TCP_INFO's byte counters see both.
 *
 * Both are one system call each; the gateway calls them per connection
 * rarely (outbox.c: once per CHANX_MAX_BUFFERED_BYTES written; keepalive.c:
 * once per quiet interval), never per message.
 */
#ifndef CX_GATEWAY_TCP_PEER_H
#define CX_GATEWAY_TCP_PEER_H

#include <stddef.h>
#include <stdint.h>

/* Bytes written to fd that the peer has not acknowledged yet (SIOCOUTQ); 0 when unknown. */
size_t cx_tcp_unacked(int fd);

typedef struct {
    uint64_t acked;      /* bytes of ours the peer acknowledged, since the connection began */
    uint64_t received;   /* bytes the peer sent us, since the connection began */
    uint32_t notsent;    /* bytes waiting for the peer's window: it is behind on reading */
} cx_tcp_progress;

/* Reads fd's counters (TCP_INFO); -1 when the kernel cannot tell (not TCP, closed). */
int cx_tcp_progress_read(int fd, cx_tcp_progress *out);

/* Whether fd's connection is over in the kernel (reset, or closed both ways: TCP_INFO's state is
 * TCP_CLOSE), so that nothing, a close frame included, can reach the peer any more; 1 when the kernel
 * cannot tell. A peer that only sent its FIN (CLOSE_WAIT) still reads what we write. */
int cx_tcp_gone(int fd);

#endif
