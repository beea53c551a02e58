/*
 * ws.c — the WebSocket protocol (RFC 6455) as the benchmark client needs
 * it, as pure functions over buffers: the loop (loop.c) owns the sockets.
 *
 * Only what a load generator needs: the upgrade request with its extra
 * Authorization header, the status of the answer (we do not check
 * Sec-WebSocket-Accept: that would need SHA-1 for no benefit to a load
 * generator pointed at servers we start ourselves), masked client frames
 * and unmasked server frames of any length. Message scanning is a few
 * memmem calls rather than a JSON parser because every message on the hot
 * path goes through it, and the fields scanned are plain (numbers, ASCII).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

size_t ws_request(const bench_opts *opts, const char *token, char *buf, size_t cap)
{
    char auth[512] = "";
    if (token)
        snprintf(auth, sizeof auth, "Authorization: Token %s\r\n", token);
    int n = snprintf(buf, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s:%s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s\r\n",
                     opts->path, opts->host, opts->port, auth);
    return n < 0 || (size_t) n >= cap ? 0 : (size_t) n;
}

long ws_response(const unsigned char *buf, size_t len, int *status)
{
    if (len >= 5 && memcmp(buf, "HTTP/", 5))
        return -1;
    const unsigned char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return len > 16384 ? -1 : 0;
    const unsigned char *sp = memchr(buf, ' ', (size_t) (end - buf));
    *status = sp ? atoi((const char *) sp + 1) : 0;
    return (long) (end - buf) + 4;
}

int ws_parse_frame(unsigned char *buf, size_t len, ws_frame *f)
{
    if (len < 2)
        return 0;
    f->fin = buf[0] >> 7;
    f->opcode = buf[0] & 0x0f;
    int masked = buf[1] >> 7;
    uint64_t plen = buf[1] & 0x7f;
    size_t head = 2;
    if (plen == 126) {
        if (len < 4)
            return 0;
        plen = ((uint64_t) buf[2] << 8) | buf[3];
        head = 4;
    } else if (plen == 127) {
        if (len < 10)
            return 0;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = (plen << 8) | buf[2 + i];
        head = 10;
        if (plen > ((uint64_t) 1 << 40))
            return -1;
    }
    if (masked)
        head += 4;   /* servers must not mask, but be liberal in what we accept */
    if (len < head + plen)
        return 0;
    if (masked) {
        const unsigned char *key = buf + head - 4;
        for (uint64_t i = 0; i < plen; i++)
            buf[head + i] ^= key[i & 3];
    }
    f->payload = buf + head;
    f->len = (size_t) plen;
    f->frame_len = head + (size_t) plen;
    return 1;
}

size_t ws_write_frame(unsigned char *out, int opcode, const void *payload, size_t len, uint32_t mask)
{
    size_t n = 0;
    out[n++] = (unsigned char) (0x80 | opcode);
    if (len < 126) {
        out[n++] = (unsigned char) (0x80 | len);
    } else if (len < 65536) {
        out[n++] = 0x80 | 126;
        out[n++] = (unsigned char) (len >> 8);
        out[n++] = (unsigned char) len;
    } else {
        out[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char) ((uint64_t) len >> (8 * i));
    }
    unsigned char key[4] = { (unsigned char) (mask >> 24), (unsigned char) (mask >> 16),
                             (unsigned char) (mask >> 8), (unsigned char) mask };
    memcpy(out + n, key, 4);
    n += 4;
    const unsigned char *p = payload;
    for (size_t i = 0; i < len; i++)
        out[n + i] = p[i] ^ key[i & 3];
    return n + len;
}

/* Position just after "key" and the colon that follows it, or NULL. */
static const char *value_of(const char *text, size_t len, const char *key)
{
    char quoted[64];
    int qn = snprintf(quoted, sizeof quoted, "\"%s\"", key);
    if (qn < 0 || (size_t) qn >= sizeof quoted)
        return NULL;
    const char *end = text + len;
    const char *k = memmem(text, len, quoted, (size_t) qn);
    if (!k)
        return NULL;
    k += qn;
    while (k < end && (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r'))
        k++;
    if (k >= end || *k != ':')
        return NULL;
    k++;
    while (k < end && (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r'))
        k++;
    return k < end ? k : NULL;
}

const char *json_str(const char *text, size_t len, const char *key, size_t *vlen)
{
    const char *v = value_of(text, len, key);
    if (!v || *v != '"')
        return NULL;
    v++;
    const char *q = memchr(v, '"', (size_t) (text + len - v));
    if (!q)
        return NULL;
    *vlen = (size_t) (q - v);
    return v;
}

long json_int(const char *text, size_t len, const char *key, long def)
{
    const char *v = value_of(text, len, key);
    if (!v || !((*v >= '0' && *v <= '9') || *v == '-'))
        return def;
    const char *end = text + len;
    int neg = *v == '-';
    long n = 0;
    for (v += neg; v < end && *v >= '0' && *v <= '9'; v++)
        n = n * 10 + (*v - '0');
    return neg ? -n : n;
}

int json_action_is(const char *text, size_t len, const char *action)
{
    size_t n;
    const char *v = json_str(text, len, "action", &n);
    return v && n == strlen(action) && !memcmp(v, action, n);
}
