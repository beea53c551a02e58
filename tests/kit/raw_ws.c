/*
 * raw_ws.c — byte-exact WebSocket client for conformance tests (see raw_ws.h).
 *
 * Reads go through one buffer: the HTTP head and the frames after it may
 * arrive in one segment, so what follows the blank line stays buffered for
 * cx_raw_read_frame. Every read waits with poll() against a deadline.
 */
#include "tests/kit/raw_ws.h"
#include "tests/kit/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct cx_raw {
    int fd;
    int status;
    char head[16384];
    char body[4096];
    char header_value[1024];
    unsigned char buf[1 << 17];
    size_t len;               /* bytes buffered in buf */
    int eof;
    int last_rsv;             /* RSV bits of the last frame read */
};

/* rcvbuf: the socket's receive buffer, set before connecting (the window it announces follows), or 0. */
static cx_raw *open_with(int port, int rcvbuf)
{
    cx_raw *self = calloc(1, sizeof *self);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1;
    if (!self)
        return NULL;
    self->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf && self->fd >= 0)
        setsockopt(self->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (self->fd < 0 || connect(self->fd, (struct sockaddr *) &addr, sizeof addr) != 0) {
        cx_raw_destroy(&self);
        return NULL;
    }
    setsockopt(self->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return self;
}

cx_raw *cx_raw_open(int port)
{
    return open_with(port, 0);
}

void cx_raw_destroy(cx_raw **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->fd >= 0)
        close((*self_p)->fd);
    free(*self_p);
    *self_p = NULL;
}

int cx_raw_write(cx_raw *self, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(self->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/* Reads more into buf before the deadline: 1 read, 0 end of stream, -1 timeout. */
static int fill(cx_raw *self, long long deadline)
{
    if (self->eof)
        return 0;
    if (self->len == sizeof self->buf)
        return -1;
    for (;;) {
        long long left = deadline - cx_kit_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = { .fd = self->fd, .events = POLLIN };
        int r = poll(&p, 1, (int) left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = recv(self->fd, self->buf + self->len, sizeof self->buf - self->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            self->eof = 1;   /* FIN or reset: either way nothing more comes */
            return 0;
        }
        self->len += (size_t) n;
        return 1;
    }
}

static void consume(cx_raw *self, size_t n)
{
    memmove(self->buf, self->buf + n, self->len - n);
    self->len -= n;
}

int cx_raw_read_head(cx_raw *self, int timeout_ms)
{
    long long deadline = cx_kit_now_ms() + timeout_ms;
    self->status = 0;
    self->head[0] = self->body[0] = '\0';
    char *end;
    while (!(end = memmem(self->buf, self->len, "\r\n\r\n", 4)))
        if (fill(self, deadline) <= 0)
            return 0;
    size_t hlen = (size_t) (end - (char *) self->buf) + 4;
    snprintf(self->head, sizeof self->head, "%.*s", (int) hlen, (char *) self->buf);
    consume(self, hlen);
    if (strncmp(self->head, "HTTP/1.", 7) != 0 || sscanf(self->head + 8, " %d", &self->status) != 1)
        self->status = 0;
    const char *cl = cx_raw_header(self, "content-length");
    size_t blen = cl ? (size_t) atol(cl) : 0;
    if (self->status != 101 && blen > 0 && blen < sizeof self->body) {
        while (self->len < blen && fill(self, deadline) > 0)
            ;
        size_t n = self->len < blen ? self->len : blen;
        memcpy(self->body, self->buf, n);
        self->body[n] = '\0';
        consume(self, n);
    }
    return self->status;
}

int cx_raw_status(const cx_raw *self) { return self->status; }
int cx_raw_last_rsv(const cx_raw *self) { return self->last_rsv; }
const char *cx_raw_body(const cx_raw *self) { return self->body; }

const char *cx_raw_header(cx_raw *self, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = strstr(self->head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *p = line + 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            p += n + 1;
            p += strspn(p, " \t");
            size_t len = strcspn(p, "\r");
            snprintf(self->header_value, sizeof self->header_value, "%.*s", (int) len, p);
            return self->header_value;
        }
    }
    return NULL;
}

static cx_raw *upgrade_with(int port, int rcvbuf, const char *path, const char *extra_headers)
{
    cx_raw *self = open_with(port, rcvbuf);
    if (!self)
        return NULL;
    char req[16384];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     path, port, extra_headers ? extra_headers : "");
    if (n < 0 || (size_t) n >= sizeof req || cx_raw_write(self, req, (size_t) n) != 0) {
        cx_raw_destroy(&self);
        return NULL;
    }
    cx_raw_read_head(self, 10000);
    return self;
}

cx_raw *cx_raw_upgrade(int port, const char *path, const char *extra_headers)
{
    return upgrade_with(port, 0, path, extra_headers);
}

cx_raw *cx_raw_upgrade_small_buffer(int port, const char *path, const char *extra_headers)
{
    return upgrade_with(port, 8 * 1024, path, extra_headers);
}

int cx_raw_frame(cx_raw *self, int fin, int rsv, int opcode, int masked, const void *payload, size_t len)
{
    unsigned char *frame = malloc(len + 14), key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t h = 0;
    if (!frame)
        return -1;
    frame[h++] = (unsigned char) ((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf));
    unsigned char mask_bit = masked ? 0x80 : 0;
    if (len < 126) {
        frame[h++] = (unsigned char) (mask_bit | len);
    } else if (len < 65536) {
        frame[h++] = mask_bit | 126;
        frame[h++] = (unsigned char) (len >> 8);
        frame[h++] = (unsigned char) len;
    } else {
        frame[h++] = mask_bit | 127;
        for (int i = 7; i >= 0; i--)
            frame[h++] = (unsigned char) ((uint64_t) len >> (8 * i));
    }
    if (masked) {
        if (getrandom(key, sizeof key, 0) != sizeof key)
            key[0] ^= 0x5a;
        memcpy(frame + h, key, 4);
        h += 4;
    }
    for (size_t i = 0; i < len; i++)
        frame[h + i] = (unsigned char) (((const unsigned char *) payload)[i] ^ (masked ? key[i & 3] : 0));
    int rc = cx_raw_write(self, frame, h + len);
    free(frame);
    return rc;
}

int cx_raw_close_frame(cx_raw *self, int code, const void *reason, size_t reason_len)
{
    unsigned char payload[256];
    size_t n = 0;
    if (code == -1) {
        payload[n++] = 0x03;
    } else if (code > 0) {
        payload[n++] = (unsigned char) (code >> 8);
        payload[n++] = (unsigned char) code;
        if (reason_len > sizeof payload - 2)
            reason_len = sizeof payload - 2;
        if (reason_len)
            memcpy(payload + n, reason, reason_len);
        n += reason_len;
    }
    return cx_raw_frame(self, 1, 0, 0x8, 1, payload, n);
}

int cx_raw_read_frame(cx_raw *self, int timeout_ms, int *opcode, int *fin, char **payload, size_t *len)
{
    long long deadline = cx_kit_now_ms() + timeout_ms;
    for (;;) {
        if (self->len >= 2) {
            unsigned char *b = self->buf;
            if (b[1] & 0x80)
                return -1;   /* a server never masks */
            size_t h = 2, plen = b[1] & 0x7f;
            if (plen == 126)
                h = 4;
            else if (plen == 127)
                h = 10;
            if (self->len >= h) {
                if (plen == 126)
                    plen = (size_t) b[2] << 8 | b[3];
                else if (plen == 127)
                    for (int i = 0, k = 2; i < 8; i++, k++)
                        plen = (i ? plen << 8 : 0) | b[k];
                if (plen > sizeof self->buf - h)
                    return -1;
                if (self->len >= h + plen) {
                    self->last_rsv = (b[0] >> 4) & 7;
                    if (opcode)
                        *opcode = b[0] & 0xf;
                    if (fin)
                        *fin = (b[0] & 0x80) != 0;
                    if (payload) {
                        *payload = malloc(plen + 1);
                        memcpy(*payload, b + h, plen);
                        (*payload)[plen] = '\0';
                    }
                    if (len)
                        *len = plen;
                    consume(self, h + plen);
                    return 1;
                }
            }
        }
        int r = fill(self, deadline);
        if (r <= 0)
            return r == 0 ? 0 : -1;
    }
}

int cx_raw_expect_close(cx_raw *self, int timeout_ms, int *messages)
{
    long long deadline = cx_kit_now_ms() + timeout_ms;
    for (;;) {
        int opcode = 0;
        char *payload = NULL;
        size_t len = 0;
        long long left = deadline - cx_kit_now_ms();
        int r = left > 0 ? cx_raw_read_frame(self, (int) left, &opcode, NULL, &payload, &len) : -1;
        if (r == 0)
            return 1006;
        if (r < 0)
            return 0;
        int code = 0;
        if (opcode == 0x8)
            code = len >= 2 ? ((unsigned char) payload[0] << 8 | (unsigned char) payload[1]) : 1005;
        else if (opcode == 0x1 && messages)
            (*messages)++;
        free(payload);
        if (code)
            return code;
    }
}

int cx_raw_wait_eof(cx_raw *self, int timeout_ms)
{
    long long deadline = cx_kit_now_ms() + timeout_ms;
    for (;;) {
        self->len = 0;   /* whatever still comes is not looked at */
        int r = fill(self, deadline);
        if (r == 0)
            return 1;
        if (r < 0)
            return 0;
    }
}
