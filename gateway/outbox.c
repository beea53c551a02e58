/*
 * outbox.c — frames on their way to clients.
 *
 * Everything the gateway sends a client goes through cx_gw_queue into the
 * session's bounded queue, and the session is marked dirty. Once per loop
 * turn, right before the loop waits for I/O, cx_gw_flush_dirty writes each
 * dirty session's queue with ONE send(): its frames are framed here (RFC
 * 6455: FIN + text opcode, the length, the unmasked payload) into one buffer
 * and handed to lws raw. A turn that fans three group messages out to a
 * thousand members thus costs a thousand sends, not three thousand, and a
 * turn with one reply per client costs what writing each at once would.
 *
 * Nothing waits for a writable callback unless the socket is full: asking
 * lws for one costs two epoll_ctl calls (POLLOUT on, then off) and a loop
 * turn. When a send is cut short, lws keeps the rest and asks for writable
 * itself; the queue waits behind it (lws_partial_buffered), so order holds.
 *
 * A client that does not read meets CHANX_MAX_BUFFERED_BYTES, counted over
 * our queue AND what the kernel holds for it (over_bound: Linux lets a send
 * buffer grow to 4 MiB, where our queue alone never sees a slow reader), and
 * is closed with 1013: what it got is a gap-free prefix and nothing follows
 * the decision but the close frame. That frame is written when the socket
 * has room, so it lands in the kernel's queue, which keeps delivering it
 * after CLOSE_ACK_SECS end the connection: a slow reader still reads its code.
 * All clients' queues together meet CHANX_GATEWAY_MAX_BUFFERED_TOTAL (shed.h).
 *
 * Close frames are written here too, raw: Debian's lws 4.1 is a debug build
 * whose libuv close path ("uv repeat test") shuts the socket before
 * lws_close_reason's frame goes out, and clients saw 1006 instead of our code.
 * After it, the gateway waits for the client's close frame (send_close).
 * Client close frames never reach lws (wire.h): their verdicts come here
 * (cx_gw_on_wire_verdict), and the TCP connection ends as soon as our
 * close frame is out (close_now), RFC 6455 §7.1.1's order for a server.
 */
#include "gateway/gateway_internal.h"
#include "common/log.h"
#include "gateway/deflate.h"
#include "gateway/metrics.h"
#include "gateway/shed.h"
#include "gateway/tcp_peer.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SEND (64 * 1024)   /* what one flush writes; more waits for the next writable turn */
#define CLOSE_ACK_SECS 3       /* how long a client gets to answer our close frame */

static int mark_dirty(cx_gateway *gw, cx_session *s)
{
    if (s->dirty)
        return 0;
    if (gw->ndirty == gw->dirty_cap) {
        size_t cap = gw->dirty_cap ? gw->dirty_cap * 2 : 256;
        uint64_t *grown = realloc(gw->dirty, cap * sizeof *grown);
        if (!grown)
            return -1;
        gw->dirty = grown;
        gw->dirty_cap = cap;
    }
    gw->dirty[gw->ndirty++] = s->id;   /* ids, not pointers: a session may close before the flush */
    s->dirty = 1;
    return 0;
}

/* Would more bytes put the client's backlog past CHANX_MAX_BUFFERED_BYTES? The backlog is our queue
 * plus what the kernel (and lws, for a partial write) still hold for the client. The kernel's share
 * is kept as an upper bound without a system call (every write adds to it) and read again from the
 * kernel (SIOCOUTQ, tcp_peer.h) only when that bound says the limit is near: a client that keeps up
 * costs one ioctl per max_buffered bytes written, a slow one is judged on the kernel's own count. */
static int over_bound(cx_gateway *gw, cx_session *s, size_t more)
{
    size_t max = gw->config->max_buffered, ours = s->out.bytes + more;
    if (ours + s->unacked <= max)
        return 0;
    s->unacked = cx_tcp_unacked(lws_get_socket_fd(s->wsi)) + (lws_partial_buffered(s->wsi) ? s->last_write : 0);
    return ours + s->unacked > max;
}

void cx_gw_queue(cx_gateway *gw, cx_session *s, const char *a, size_t alen, const char *b, size_t blen)
{
    if (s->state == SESSION_CLOSING && s->close_code)
        return;   /* nothing after a close decision */
    if (over_bound(gw, s, alen + blen)) {
        cx_warn("closing connection %llu: client is not reading (%zu bytes queued, %zu in the kernel)",
                (unsigned long long) s->id, s->out.bytes, s->unacked);
        cx_gw_count_slow_client();
        /* What it has is a prefix of what was sent, whole frames; what we still hold is dropped with
         * this message, so the close frame follows the kernel's share and reaches a slow reader sooner. */
        cx_frame_queue_clear(&s->out);
        cx_session_close(s, 1013, "client too slow");
        return;
    }
    size_t zlen = 0;
    const unsigned char *z = s->deflate && alen + blen >= CX_DEFLATE_MIN_BYTES && gw->deflate
                                 ? cx_deflate_message(gw->deflate, a, alen, b, blen, &zlen) : NULL;
    if (z ? cx_frame_queue_push(&s->out, z, zlen) != 0 : cx_frame_queue_push2(&s->out, a, alen, b, blen) != 0) {
        cx_session_close(s, 1011, "out of memory");
        return;
    }
    s->out.tail->rsv1 = z != NULL;
    if (mark_dirty(gw, s) != 0)
        cx_session_close(s, 1011, "out of memory");
    else
        cx_gw_count_sent(alen + blen);
    /* Per frame, not once per flush turn: a turn queues what one read of the broker link brought, and
     * a slow turn (a busy or sanitized process) would pass the gateway-wide bound by that much. */
    cx_gw_shed_if_over(gw);
}

static int reserve(cx_gateway *gw, size_t need)
{
    if (need <= gw->scratch_size)
        return 0;
    unsigned char *grown = realloc(gw->scratch, need);
    if (!grown)
        return -1;
    gw->scratch = grown;
    gw->scratch_size = need;
    return 0;
}

/* A server frame's header (unmasked) into out; returns its length. */
static size_t frame_header(unsigned char *out, unsigned char opcode, size_t len)
{
    out[0] = (unsigned char) (0x80 | opcode);
    if (len < 126) {
        out[1] = (unsigned char) len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char) (len >> 8);
        out[3] = (unsigned char) len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char) ((uint64_t) len >> (56 - 8 * i));
    return 10;
}

/* Writes queued frames with one send; -1 when the connection failed. */
static int flush(cx_gateway *gw, cx_session *s)
{
    if (!s->out.head)
        return 0;
    if (lws_partial_buffered(s->wsi)) {
        lws_callback_on_writable(s->wsi);   /* lws first writes what it holds */
        return 0;
    }
    size_t used = 0;
    while (s->out.head && (used == 0 || used + 10 + s->out.head->len <= MAX_SEND)) {
        cx_frame *f = s->out.head;
        if (reserve(gw, LWS_PRE + used + 10 + f->len) != 0)
            return -1;
        unsigned char *p = gw->scratch + LWS_PRE + used;
        size_t h = frame_header(p, f->rsv1 ? 0x41 : 0x1, f->len);   /* 0x40: RSV1, compressed */
        memcpy(p + h, f->data + LWS_PRE, f->len);
        used += h + f->len;
        free(cx_frame_queue_pop(&s->out));
    }
    if (lws_write(s->wsi, gw->scratch + LWS_PRE, used, LWS_WRITE_RAW) < 0)
        return -1;
    s->unacked += used;
    s->last_write = used;
    if (s->out.head)
        lws_callback_on_writable(s->wsi);
    return 0;
}

/* A write failed. When the client reset its connection or vanished, no close frame can reach it: it
 * ends as a link that dropped (1006, at the consumer and in the close-code metric), not as our 1011.
 * A write that failed on a connection the kernel still holds open is ours to explain: 1011, logged. */
static void write_failed(cx_session *s)
{
    if (!cx_tcp_gone(lws_get_socket_fd(s->wsi))) {
        cx_warn("closing connection %llu: a write failed on a live connection", (unsigned long long) s->id);
        cx_session_close(s, 1011, "write failed");
        return;
    }
    s->state = SESSION_CLOSING;
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void cx_gw_flush_dirty(cx_gateway *gw)
{
    for (size_t i = 0; i < gw->ndirty; i++) {
        cx_session *s = cx_idmap_get(gw->sessions, gw->dirty[i]);
        if (!s)
            continue;
        s->dirty = 0;
        if (flush(gw, s) != 0)
            write_failed(s);
    }
    gw->ndirty = 0;
}

/* The close frame, then the client's answer is awaited (RFC 6455 7.1.1: the server closes the TCP
 * connection after the client's close frame): closing at once would reset a connection the client
 * is still writing to, and it would see 1006 instead of our code. lws answers the client's close
 * and ends the connection; one that never answers is dropped after CLOSE_ACK_SECS. */
static void send_close(cx_session *s)
{
    unsigned char frame[LWS_PRE + 4 + sizeof s->close_reason];
    size_t len = strlen(s->close_reason);   /* < 64: control frames carry at most 125 bytes */
    unsigned char *p = frame + LWS_PRE;
    size_t h = frame_header(p, 0x8, 2 + len);
    p[h] = (unsigned char) (s->close_code >> 8);
    p[h + 1] = (unsigned char) (s->close_code & 0xff);
    memcpy(p + h + 2, s->close_reason, len);
    lws_write(s->wsi, p, h + 2 + len, LWS_WRITE_RAW);
    s->close_sent = 1;
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_ACK_SECS);
}

int cx_gw_on_writeable(cx_gateway *gw, cx_session *s)
{
    if (s->close_sent)   /* only the client's close frame is awaited now, unless it came (close_now) */
        return s->close_now && !lws_partial_buffered(s->wsi) ? -1 : 0;
    if (flush(gw, s) != 0)
        return -1;
    if (s->out.head || !s->close_code)
        return 0;
    if (lws_partial_buffered(s->wsi))
        lws_callback_on_writable(s->wsi);   /* the close frame goes after what lws still holds */
    else
        send_close(s);
    if (s->close_sent && s->close_now)
        lws_callback_on_writable(s->wsi);   /* once the close frame is out, the connection ends */
    return 0;
}

/* A frame verdict (wire.h): the client's close frame is answered with its code, a broken rule
 * fails the connection with 1002/1007; either way the TCP connection ends after our close frame. */
void cx_gw_on_wire_verdict(uint64_t conn, int code, const char *reason, int is_close, void *arg)
{
    cx_session *s = cx_idmap_get(((cx_gateway *) arg)->sessions, conn);
    if (!s)
        return;
    s->peer_close_code = is_close && !code ? 1005 : code;
    s->close_now = 1;
    cx_session_close(s, is_close && !code ? 1000 : code, is_close ? "" : reason);
    lws_callback_on_writable(s->wsi);
}
