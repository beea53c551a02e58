/*
 * wire.c — the gateway's recv(): client bytes checked before libwebsockets
 * parses them (see wire.h).
 *
 * Per registered socket, a small state: while the request head comes in,
 * its size, the request line's size and a %00 are watched (lws fails those
 * requests without a word: its header buffer overflows, its URL decoder
 * refuses NUL), and the answer (414, 431, 400) is written here, straight to
 * the socket, as nothing else has been written on it yet; lws then reads the
 * end of the stream and closes. The complete head also goes past
 * http_head.c's rules, answered the same way. After a head with an Upgrade header, every
 * byte goes through the frame auditor. A verdict stops the flow to lws at
 * the offending frame; the socket is then drained and discarded (unread
 * bytes would make the kernel answer our close with a reset, and the client
 * would never read its close code) until the loop closes the session.
 *
 * Only recv() calls on the gateway's loop thread are looked at: that is
 * where lws reads its clients, and every client socket passes accept
 * (cx_wire_accept resets its entry) before lws reads it, so an entry left
 * from a closed socket is never trusted. Other threads (libpq's, ZeroMQ's)
 * go straight to libc without touching the table. The table is indexed by
 * fd and sized once to the descriptor limit.
 */
#include "gateway/wire.h"
#include "gateway/frame_audit.h"
#include "gateway/http_head.h"

#include <ctype.h>
#include <stddef.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

typedef enum { PHASE_HEAD, PHASE_FRAMES, PHASE_DONE } phase_t;

typedef struct {
    int live;                 /* a client socket lws reads */
    phase_t phase;
    size_t head_bytes, line_bytes;
    int line_no;
    char line_start[9];       /* a header line's first 8 bytes, lowercased */
    size_t line_start_len;
    int upgrade;              /* the head has an Upgrade header */
    int pct;                  /* 1 after '%', 2 after "%0" */
    int rl_state;             /* request line: 0 method, 1 target, 2 version, 3 done */
    size_t rl_count;          /* bytes of the current part */
    char method[8];
    int http10;               /* the request is HTTP/1.0 */
    cx_http_head http;        /* the message rules (http_head.h) */
    cx_frame_audit audit;
    uint64_t conn;            /* the session, once established */
    int pending;              /* a verdict for cx_wire_collect */
    int code, is_close;
    const char *reason;
} wire;

static wire **wires;          /* by fd */
static size_t nwires;
static __thread int loop_thread;   /* set on the thread that called cx_wire_init */
static int *pending_fds;
static size_t npending, pending_cap;

typedef ssize_t (*recv_fn)(int, void *, size_t, int);

static recv_fn real_recv(void)
{
    static recv_fn fn;
    recv_fn f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (recv_fn) dlsym(RTLD_NEXT, "recv");
        __atomic_store_n(&fn, f, __ATOMIC_RELEASE);
    }
    return f;
}

int cx_wire_init(void)
{
    struct rlimit rl;
    size_t n = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (size_t) rl.rlim_cur : 65536;
    if (n > (1u << 20))
        n = 1u << 20;
    wires = calloc(n, sizeof *wires);   /* untouched pages cost nothing */
    nwires = wires ? n : 0;
    loop_thread = 1;
    return real_recv() && wires ? 0 : -1;
}

void cx_wire_accept(int fd)
{
    if (fd < 0 || (size_t) fd >= nwires)
        return;
    if (!wires[fd] && !(wires[fd] = malloc(sizeof *wires[fd])))
        return;
    memset(wires[fd], 0, sizeof *wires[fd]);
    wires[fd]->live = 1;
}

static wire *lookup(int fd)
{
    if (!loop_thread || fd < 0 || (size_t) fd >= nwires)
        return NULL;
    wire *w = wires[fd];
    return w && w->live ? w : NULL;
}

void cx_wire_established(int fd, uint64_t conn, int rsv1_allowed)
{
    wire *w = lookup(fd);
    if (!w)
        return;
    w->conn = conn;
    w->audit.rsv1_allowed = rsv1_allowed;
}

static void push_pending(int fd)
{
    if (npending == pending_cap) {
        size_t cap = pending_cap ? pending_cap * 2 : 16;
        int *grown = realloc(pending_fds, cap * sizeof *grown);
        if (!grown)
            return;
        pending_fds = grown;
        pending_cap = cap;
    }
    pending_fds[npending++] = fd;
}

void cx_wire_collect(void (*act)(uint64_t, int, const char *, int, void *), void *arg)
{
    size_t kept = 0;
    for (size_t i = 0; i < npending; i++) {
        int fd = pending_fds[i];
        wire *w = lookup(fd);
        if (!w || !w->pending)
            continue;
        if (!w->conn) {   /* still in the handshake: acted on once it is established */
            pending_fds[kept++] = fd;
            continue;
        }
        w->pending = 0;
        act(w->conn, w->code, w->reason, w->is_close, arg);
    }
    npending = kept;
}

/* Reads and drops what the socket holds; 1 when the peer has closed. */
static int drain(int fd)
{
    char sink[4096];
    for (;;) {
        ssize_t n = real_recv()(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0)
            return 1;
        if (n < 0)
            return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    }
}

/* Answers a head (a refusal; extra header lines, no body without a detail) and ends the stream for
 * lws (returns 0, "peer closed"). What the client sent after it, a body too, is drained unread. */
static ssize_t answer_head(wire *w, int fd, int status, const char *text, const char *detail, const char *headers)
{
    char answer[512];
    int n = detail ? snprintf(answer, sizeof answer,
                              "HTTP/1.1 %d %s\r\n%scontent-type: application/json\r\ncontent-length: %zu\r\n"
                              "connection: close\r\n\r\n{\"detail\":\"%s\"}", status, text, headers,
                              strlen(detail) + 13, detail)
                   : snprintf(answer, sizeof answer, "HTTP/1.1 %d %s\r\n%scontent-length: 0\r\nconnection: close\r\n\r\n",
                              status, text, headers);
    w->phase = PHASE_DONE;
    drain(fd);
    if (n > 0 && send(fd, answer, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        (void) 0;   /* the client is gone: nothing to tell it */
    shutdown(fd, SHUT_WR);
    return 0;
}

static ssize_t refuse_head(wire *w, int fd, int status, const char *text, const char *detail)
{
    return answer_head(w, fd, status, text, detail, "");
}

/* One byte of the request line, RFC 7230 §3.1.1: method SP request-target SP HTTP-version. Returns 0,
 * or the status of a refusal (400; 501 for a method lws does not know) with *detail. */
static int request_line_byte(wire *w, unsigned char c, const char **detail)
{
    static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT" };
    static const char version[] = "HTTP/1.";
    *detail = "Malformed request line.";
    switch (w->rl_state) {
    case 0:
        if (c >= 'A' && c <= 'Z' && w->rl_count < sizeof w->method - 1) {
            w->method[w->rl_count++] = (char) c;
            return 0;
        }
        if (c != ' ' || !w->rl_count)
            return 400;
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            if (strcmp(w->method, methods[i]) == 0) {
                w->rl_state = 1, w->rl_count = 0;
                return 0;
            }
        return *detail = "Method not implemented.", 501;
    case 1:
        if (c == ' ' && w->rl_count) {
            w->rl_state = 2, w->rl_count = 0;
            return 0;
        }
        if (c <= ' ' || c == 0x7f)
            return 400;
        w->rl_count++;
        cx_http_head_target_byte(&w->http, c);
        return 0;
    case 2:
        if (w->rl_count < sizeof version - 1) {
            return c == (unsigned char) version[w->rl_count++] ? 0 : 400;
        }
        if (c != '0' && c != '1')
            return 400;
        w->http10 = c == '0';
        w->rl_state = 3;
        return 0;
    default:
        return 400;   /* anything after the version */
    }
}

/* Scans head bytes; returns how many belong to the head (the rest are frames), or -1 with the
 * request refused. */
static ssize_t scan_head(wire *w, int fd, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (++w->head_bytes > CX_WIRE_MAX_HEAD)
            return refuse_head(w, fd, 431, "Request Header Fields Too Large",
                               "The request head is larger than 8192 bytes."), -1;
        if (c == 0)
            return refuse_head(w, fd, 400, "Bad Request", "The request contains a NUL byte."), -1;
        if (c == '\n') {
            if (w->line_bytes == 0 && w->line_no > 0) {   /* the blank line: the head is complete */
                if (w->upgrade && w->http10)
                    return refuse_head(w, fd, 400, "Bad Request", "A WebSocket upgrade needs HTTP/1.1."), -1;
                cx_http_answer a;
                if (cx_http_head_verdict(&w->http, w->method, &a))
                    return answer_head(w, fd, a.status, a.text, a.detail, a.headers), -1;
                int upgrade = w->upgrade;
                memset(&w->head_bytes, 0, sizeof *w - offsetof(wire, head_bytes));
                w->phase = upgrade ? PHASE_FRAMES : PHASE_HEAD;
                return (ssize_t) i + 1;
            }
            if (w->line_no == 0 && w->line_bytes == 0)
                continue;   /* an empty line before the request line is ignored (RFC 7230 §3.5) */
            if (w->line_no == 0 && w->rl_state != 3)
                return refuse_head(w, fd, 400, "Bad Request", "Malformed request line."), -1;
            if (w->line_no > 0)
                cx_http_head_line_end(&w->http);
            w->line_no++;
            w->line_bytes = w->line_start_len = 0;
            continue;
        }
        if (c == '\r')
            continue;
        w->line_bytes++;
        if (w->line_no == 0) {
            if (w->line_bytes > CX_WIRE_MAX_REQUEST_LINE)
                return refuse_head(w, fd, 414, "URI Too Long", "The request line is longer than 4096 bytes."), -1;
            if (w->pct == 2 && c == '0')   /* lws would decode it to a NUL and hang up */
                return refuse_head(w, fd, 400, "Bad Request", "The request path contains %00."), -1;
            w->pct = c == '%' ? 1 : (w->pct == 1 && c == '0') ? 2 : 0;
            const char *detail;
            int status = request_line_byte(w, c, &detail);
            if (status)
                return refuse_head(w, fd, status, status == 501 ? "Not Implemented" : "Bad Request", detail), -1;
        } else {
            cx_http_head_field_byte(&w->http, c, w->line_bytes == 1);
            if (w->line_start_len < 8) {
                w->line_start[w->line_start_len++] = (char) tolower(c);
                if (w->line_start_len == 8 && memcmp(w->line_start, "upgrade:", 8) == 0)
                    w->upgrade = 1;
            }
        }
    }
    return (ssize_t) n;
}

static ssize_t filter(wire *w, int fd, unsigned char *buf, size_t n)
{
    size_t head = 0;
    if (w->phase == PHASE_HEAD && w->head_bytes == 0) {
        /* Empty lines before a request line are ignored (RFC 7230 §3.5); lws would take them for
         * a malformed request, so they are taken out here. */
        size_t skip = 0;
        while (skip < n && (buf[skip] == '\r' || buf[skip] == '\n'))
            skip++;
        memmove(buf, buf + skip, n - skip);
        n -= skip;
        if (n == 0) {
            errno = EAGAIN;
            return -1;
        }
    }
    while (w->phase == PHASE_HEAD) {
        ssize_t k = scan_head(w, fd, buf + head, n - head);
        if (k < 0)
            return 0;
        head += (size_t) k;
        if (w->phase == PHASE_HEAD && head < n) {
            /* A request without Upgrade ended inside this segment and the client's next one
             * follows (pipelining): its head is checked as well, or a head past the limits,
             * and the frames after an upgrade in it, would reach lws unchecked. Empty lines
             * before it are taken out, as at a segment's start. */
            size_t skip = 0;
            while (head + skip < n && (buf[head + skip] == '\r' || buf[head + skip] == '\n'))
                skip++;
            memmove(buf + head, buf + head + skip, n - head - skip);
            n -= skip;
            continue;
        }
        if (w->phase == PHASE_HEAD || head == n)
            return (ssize_t) n;
    }
    cx_audit_verdict verdict;
    int code;
    const char *reason;
    size_t pass = cx_frame_audit_feed(&w->audit, buf + head, n - head, &verdict, &code, &reason);
    if (verdict == CX_AUDIT_OK)
        return (ssize_t) n;
    w->phase = PHASE_DONE;
    w->pending = 1;
    w->code = code;
    w->reason = reason;
    w->is_close = verdict == CX_AUDIT_CLOSE;
    push_pending(fd);
    drain(fd);
    if (head + pass > 0)
        return (ssize_t) (head + pass);
    errno = EAGAIN;
    return -1;
}

/* The gateway's recv: see the top of this file. */
ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    wire *w = lookup(fd);
    if (!w || flags)
        return real_recv()(fd, buf, len, flags);
    if (w->phase == PHASE_DONE) {
        if (drain(fd))
            return 0;
        errno = EAGAIN;
        return -1;
    }
    ssize_t n = real_recv()(fd, buf, len, flags);
    return n > 0 ? filter(w, fd, buf, (size_t) n) : n;
}
