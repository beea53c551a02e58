/*
 * loop.c — many non-blocking WebSocket client connections in one epoll loop.
 *
 * Design: the loop owns an array of connections and drives each through
 * connect -> upgrade -> authentication -> open -> closed, calling the
 * scenario's callbacks at the transitions that matter to it. Handshakes are
 * started at most opts->concurrency at a time (a connect storm that SYNs
 * 10,000 sockets at once measures the kernel's accept queue, not the
 * server), topped up at every loop iteration.
 *
 * The hot path allocates nothing: reads land in one loop-wide buffer and are
 * parsed in place; only the tail of a frame split across reads is copied
 * into the connection's own rx buffer. Sends append a masked frame to the
 * connection's tx buffer and write it at once; EPOLLOUT is only asked for
 * while the socket refused part of it. Level-triggered epoll keeps that
 * simple: a read that filled the buffer is simply reported again.
 *
 * Connections are torn down abortively (SO_LINGER 0, an RST): a benchmark
 * that opens tens of thousands of connections per run must not leave them
 * in TIME_WAIT on the client side holding ephemeral ports.
 */
#include "bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define RXBUF (256 * 1024)


struct loop {
    const bench_opts *opts;
    int epfd;
    conn_t *conns;
    int n;
    loop_handlers h;
    void *arg;
    int opening;        /* loop_open_all was called */
    int next;           /* next connection to start */
    int in_flight;      /* handshakes in progress */
    int settled;
    int stop;
    loop_stats stats;
    unsigned char rxbuf[RXBUF];
};

static int grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    unsigned char *p = realloc(*buf, n);
    if (!p)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static uint32_t next_mask(conn_t *c)
{
    /* xorshift32: masks only need to be unpredictable to proxies, not secure */
    uint32_t x = c->mask_seed;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return c->mask_seed = x;
}

static void watch(loop_t *self, conn_t *c, int op, int want_write)
{
    struct epoll_event ev = { .events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(self->epfd, op, c->fd, &ev);
    c->want_write = want_write;
}

static void release(conn_t *c)
{
    if (c->fd >= 0) {
        struct linger lg = { 1, 0 };
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c->fd);   /* also leaves the epoll set */
        c->fd = -1;
    }
    free(c->rx);
    free(c->msg);
    free(c->tx);
    c->rx = c->msg = c->tx = NULL;
    c->rx_len = c->rx_cap = c->msg_len = c->msg_cap = c->tx_len = c->tx_cap = 0;
}

static void settle_one(loop_t *self)
{
    self->in_flight--;
    self->settled++;
}

/* The connection ended; before it opened that is a failure. */
static void conn_end(loop_t *self, conn_t *c, int code)
{
    if (c->state == CONN_CLOSED)
        return;
    int was_open = c->state == CONN_OPEN;
    if (!c->close_code)
        c->close_code = code;
    release(c);
    if (was_open) {
        self->stats.closed_after_open++;
    } else {
        self->stats.failed++;
        settle_one(self);
    }
    c->state = CONN_CLOSED;
    if (self->h.on_close)
        self->h.on_close(self, c, self->arg);
}

static void became_open(loop_t *self, conn_t *c)
{
    c->state = CONN_OPEN;
    self->stats.opened++;
    settle_one(self);
    if (self->h.on_open)
        self->h.on_open(self, c, self->arg);
}

static int flush(loop_t *self, conn_t *c)
{
    size_t off = 0;
    while (off < c->tx_len) {
        ssize_t n = write(c->fd, c->tx + off, c->tx_len - off);
        if (n > 0) {
            off += (size_t) n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            conn_end(self, c, 1006);
            return -1;
        }
    }
    if (off && off < c->tx_len)
        memmove(c->tx, c->tx + off, c->tx_len - off);
    c->tx_len -= off;
    if ((c->tx_len > 0) != c->want_write)
        watch(self, c, EPOLL_CTL_MOD, c->tx_len > 0);
    return 0;
}

static int send_frame(loop_t *self, conn_t *c, int opcode, const void *data, size_t len)
{
    if (c->fd < 0)
        return -1;
    if (grow(&c->tx, &c->tx_cap, c->tx_len + len + 14))
        return -1;
    c->tx_len += ws_write_frame(c->tx + c->tx_len, opcode, data, len, next_mask(c));
    return c->want_write ? 0 : flush(self, c);
}

int conn_send_text(loop_t *self, conn_t *c, const char *text, size_t len)
{
    return c->state == CONN_OPEN ? send_frame(self, c, 0x1, text, len) : -1;
}

static void on_text(loop_t *self, conn_t *c, const char *text, size_t len)
{
    if (c->state == CONN_OPEN) {
        self->h.on_message(self, c, text, len, self->arg);
    } else if (c->state == CONN_AUTHENTICATING && !json_action_is(text, len, "authentication")) {
        if (self->h.on_early_message)   /* before the ready point: a join's recovery and replay */
            self->h.on_early_message(self, c, text, len, self->arg);
    } else if (c->state == CONN_AUTHENTICATING) {
        if (json_int(text, len, "status_code", 0) == 200) {
            became_open(self, c);
        } else {
            self->stats.auth_failed++;
            conn_end(self, c, 0);
        }
    }
}

static void on_close_frame(loop_t *self, conn_t *c, const ws_frame *f)
{
    int code = f->len >= 2 ? (f->payload[0] << 8) | f->payload[1] : 1005;
    unsigned char echo[2] = { f->len >= 2 ? f->payload[0] : 0x03, f->len >= 2 ? f->payload[1] : 0xe8 };
    c->close_code = code;
    send_frame(self, c, 0x8, echo, 2);
    conn_end(self, c, code);
}

/* One complete frame; returns -1 once the connection has ended. */
static int on_frame(loop_t *self, conn_t *c, const ws_frame *f)
{
    switch (f->opcode) {
    case 0x8:
        on_close_frame(self, c, f);
        return -1;
    case 0x9:
        return send_frame(self, c, 0xA, f->payload, f->len) < 0 && c->state == CONN_CLOSED ? -1 : 0;
    case 0xA:
        return 0;
    case 0x0:
    case 0x1:
    case 0x2:
        break;
    default:
        conn_end(self, c, 1002);
        return -1;
    }
    if (f->opcode != 0)
        c->msg_opcode = f->opcode;
    if (f->fin && !c->msg_len) {            /* the common case: one frame, no copy */
        if (c->msg_opcode == 0x1)
            on_text(self, c, (const char *) f->payload, f->len);
    } else {
        if (grow(&c->msg, &c->msg_cap, c->msg_len + f->len)) {
            conn_end(self, c, 1009);
            return -1;
        }
        memcpy(c->msg + c->msg_len, f->payload, f->len);
        c->msg_len += f->len;
        if (f->fin) {
            if (c->msg_opcode == 0x1)
                on_text(self, c, (const char *) c->msg, c->msg_len);
            c->msg_len = 0;
        }
    }
    return c->state == CONN_CLOSED ? -1 : 0;
}

/* Parses what it can of buf; returns bytes consumed or -1 once ended. */
static long parse(loop_t *self, conn_t *c, unsigned char *buf, size_t len)
{
    size_t off = 0;
    if (c->state == CONN_UPGRADING) {
        int status = 0;
        long head = ws_response(buf, len, &status);
        if (head == 0)
            return 0;
        c->http_status = head < 0 ? 0 : status;
        if (head < 0 || status != 101) {
            self->stats.refused++;
            conn_end(self, c, 1006);
            return -1;
        }
        off = (size_t) head;
        c->state = CONN_AUTHENTICATING;
        if (self->opts->no_auth_message)
            became_open(self, c);
        if (c->state == CONN_CLOSED)
            return -1;
    }
    while (off < len) {
        ws_frame f;
        int rc = ws_parse_frame(buf + off, len - off, &f);
        if (rc == 0)
            break;
        if (rc < 0) {
            conn_end(self, c, 1002);
            return -1;
        }
        off += f.frame_len;
        if (on_frame(self, c, &f) < 0)
            return -1;
    }
    return (long) off;
}

static void on_readable(loop_t *self, conn_t *c)
{
    ssize_t n = read(c->fd, self->rxbuf, sizeof self->rxbuf);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_end(self, c, 1006);
        return;
    }
    unsigned char *buf = self->rxbuf;
    size_t len = (size_t) n;
    if (c->rx_len) {    /* a frame was split across reads: continue it */
        if (grow(&c->rx, &c->rx_cap, c->rx_len + len)) {
            conn_end(self, c, 1009);
            return;
        }
        memcpy(c->rx + c->rx_len, buf, len);
        buf = c->rx;
        len = c->rx_len + len;
    }
    long used = parse(self, c, buf, len);
    if (used < 0)
        return;
    size_t rest = len - (size_t) used;
    if (buf == c->rx) {
        memmove(c->rx, c->rx + used, rest);
    } else if (rest) {
        if (grow(&c->rx, &c->rx_cap, rest)) {
            conn_end(self, c, 1009);
            return;
        }
        memcpy(c->rx, buf + used, rest);
    }
    c->rx_len = rest;
}

static void on_connected(loop_t *self, conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
        conn_end(self, c, 1006);
        return;
    }
    const bench_opts *o = self->opts;
    const char *token = o->ntokens ? o->tokens[c->index % o->ntokens] : NULL;
    char req[2048];
    size_t n = ws_request(o, token, req, sizeof req);
    if (!n || grow(&c->tx, &c->tx_cap, c->tx_len + n)) {
        conn_end(self, c, 1006);
        return;
    }
    memcpy(c->tx + c->tx_len, req, n);
    c->tx_len += n;
    c->state = CONN_UPGRADING;
    flush(self, c);
}

static int bind_source(const bench_opts *o, int fd, uint32_t index)
{
    if (o->source_ips <= 1 || o->addr.ss_family != AF_INET)
        return 0;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = { .sin_family = AF_INET };
    src.sin_addr.s_addr = htonl(0x7f000001u + index % (uint32_t) o->source_ips);
    return bind(fd, (struct sockaddr *) &src, sizeof src);
}

static void conn_start(loop_t *self, conn_t *c)
{
    const bench_opts *o = self->opts;
    self->in_flight++;
    c->t_start = now_ns();
    c->state = CONN_CONNECTING;
    c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || bind_source(o, c->fd, c->index)) {
        conn_end(self, c, 1006);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(c->fd, (const struct sockaddr *) &o->addr, o->addrlen);
    if (rc < 0 && errno != EINPROGRESS) {
        conn_end(self, c, 1006);
        return;
    }
    watch(self, c, EPOLL_CTL_ADD, 1);   /* writable = connected */
}

static void open_more(loop_t *self)
{
    while (self->opening && self->next < self->n && self->in_flight < self->opts->concurrency)
        conn_start(self, &self->conns[self->next++]);
}

loop_t *loop_new(const bench_opts *opts, int n, const loop_handlers *handlers, void *arg)
{
    loop_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->conns = calloc((size_t) n, sizeof *self->conns);
    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!self->conns || self->epfd < 0) {
        loop_destroy(&self);
        return NULL;
    }
    self->opts = opts;
    self->n = n;
    self->h = *handlers;
    self->arg = arg;
    for (int i = 0; i < n; i++) {
        self->conns[i].fd = -1;
        self->conns[i].index = (uint32_t) i;
        self->conns[i].mask_seed = 0x9e3779b9u ^ ((uint32_t) i * 2654435761u) ^ 1u;
    }
    return self;
}

void loop_destroy(loop_t **self_p)
{
    loop_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; self->conns && i < self->n; i++)
        release(&self->conns[i]);
    if (self->epfd >= 0)
        close(self->epfd);
    free(self->conns);
    free(self);
    *self_p = NULL;
}

conn_t *loop_conn(loop_t *self, int i) { return &self->conns[i]; }
const loop_stats *loop_stats_of(const loop_t *self) { return &self->stats; }
int loop_settled(const loop_t *self) { return self->settled; }
void loop_stop(loop_t *self) { self->stop = 1; }

void loop_open_all(loop_t *self)
{
    self->opening = 1;
    open_more(self);
}

static void dispatch(loop_t *self, conn_t *c, uint32_t events)
{
    if (c->state == CONN_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(self, c);
        return;
    }
    if (c->state != CONN_CLOSED && (events & EPOLLOUT))
        flush(self, c);
    if (c->state != CONN_CLOSED && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        on_readable(self, c);
}

void loop_run(loop_t *self, uint64_t deadline, int until_settled)
{
    struct epoll_event events[MAX_EVENTS];
    self->stop = 0;
    for (;;) {
        open_more(self);
        if (self->stop || bench_interrupted())
            return;
        if (until_settled && self->settled >= self->n)
            return;
        uint64_t now = now_ns();
        if (now >= deadline)
            return;
        uint64_t left_ms = (deadline - now + 999999) / 1000000;
        int timeout = left_ms > 100 ? 100 : (int) left_ms;
        int k = epoll_wait(self->epfd, events, MAX_EVENTS, timeout);
        for (int i = 0; i < k; i++)
            dispatch(self, events[i].data.ptr, events[i].events);
    }
}

void loop_run_senders(loop_t *self, uint64_t deadline, uint32_t senders, uint64_t stall_ns, uint64_t *stalls,
                      void (*resend)(loop_t *loop, conn_t *c, uint64_t now, void *arg), void *arg)
{
    for (uint64_t now = now_ns(); now < deadline; now = now_ns()) {
        uint64_t slice = now + 200000000ull;
        loop_run(self, slice < deadline ? slice : deadline, 0);
        now = now_ns();
        for (uint32_t i = 0; i < senders; i++) {
            conn_t *c = loop_conn(self, (int) i);
            if (c->state == CONN_OPEN && now - c->t_sent > stall_ns) {
                (*stalls)++;
                resend(self, c, now, arg);
            }
        }
    }
}
