/*
 * fuzz_wire — the gateway's recv() (gateway/wire.h): the request head's
 * checks (414, 431, %00 and NUL are 400, unknown methods 501, an HTTP/1.0
 * upgrade 400), its message rules (gateway/http_head.h: 405 for a method no
 * resource takes, 200 with Allow for OPTIONS, 404 for a dot segment, 400 or
 * 501 for a body, a second Host, a folded line) and, after an upgrade, the
 * frame audit, on a real socket.
 *
 * Each input is written into one end of a socketpair and read back through
 * wire.c's recv() from the other, registered as a client socket, as
 * libwebsockets would: once whole and once cut into chunks at seeded points
 * (what a client's segments look like). What recv returns is what lws would
 * parse; what lands on the client's end is the gateway's answer.
 *
 * Input: a flags byte (bit 1: generated mode), four bytes seeding the
 * split, then the rest. RSV1 (permessage-deflate) is fuzz_frame_audit's.
 *
 * Raw mode: the rest is the client's bytes, with a run of one byte inserted
 * (two bytes of count, two of position, the byte) so that heads past the
 * 4096/8192-byte limits are in reach of a mutating fuzzer. Any split gives
 * the same answer and the same frame verdict; unless the head is refused,
 * the same bytes reach lws. An answer is a complete HTTP response with a
 * status of the set above and a JSON body of its Content-Length (OPTIONS'
 * 200: none), and the stream ends for lws there.
 *
 * Generated mode: a head built to be valid (empty lines first, a known
 * method, a target, HTTP/1.1, header lines, Upgrade) padded to any size,
 * then a masked text frame and a close, with at most one rule broken on
 * request. The harness knows the answer each must get: none (and every byte
 * reaches lws, the close is collected with its code), 414 past 4096 bytes of
 * request line, 431 past 8192 bytes of head, 400 or 501 for the broken rule,
 * then 200 for OPTIONS, 405 for another method than GET or HEAD, 404 for a
 * target with a dot segment (worked out here on the target as written).
 */
#include "gateway/wire.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void puts_(fuzz_buf *o, const char *s)
{
    fuzz_put(o, s, strlen(s));
}

typedef struct {
    int status;        /* of the answer, 0: none */
    fuzz_buf to_lws;   /* what recv returned */
    int frame_code, frame_close, verdicts;
} outcome;

static void on_verdict(uint64_t conn, int code, const char *reason, int is_close, void *arg)
{
    outcome *o = arg;
    if (conn != 1 || !reason)
        abort();
    if (!is_close && ((code != 1002 && code != 1007) || !reason[0]))
        abort();   /* a frame refusal names its RFC 6455 code and says why */
    o->frame_code = code;
    o->frame_close = is_close;
    o->verdicts++;
}

static uint32_t xorshift(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Reads what the gateway answered; checks it is one whole response and returns its status. */
static int answer(int peer)
{
    static char a[2048];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof a - 1 && (k = read(peer, a + n, sizeof a - 1 - n)) > 0)
        n += (size_t) k;
    a[n] = '\0';
    if (n == 0)
        return 0;
    int status = 0, off = 0;
    size_t clen = 0;
    if (sscanf(a, "HTTP/1.1 %d %*[^\r]\r\n%n", &status, &off) < 1 || off == 0)
        abort();   /* not a response a client can read */
    const char *p = a + off;
    static const char allow[] = "allow: GET, HEAD, OPTIONS\r\n", json[] = "content-type: application/json\r\n";
    int allows = strncmp(p, allow, sizeof allow - 1) == 0;
    p += allows ? sizeof allow - 1 : 0;
    int is_json = strncmp(p, json, sizeof json - 1) == 0;
    p += is_json ? sizeof json - 1 : 0;
    off = 0;
    if (sscanf(p, "content-length: %zu\r\nconnection: close\r\n\r\n%n", &clen, &off) < 1 || off == 0)
        abort();
    p += off;
    if (status != 200 && status != 400 && status != 404 && status != 405 && status != 414 && status != 431
        && status != 501)
        abort();
    if (allows != (status == 200 || status == 405) || is_json == (status == 200))
        abort();   /* 405 and OPTIONS name the methods; only OPTIONS' answer has no body */
    if (n - (size_t) (p - a) != clen || (is_json && (strncmp(p, "{\"detail\":\"", 11) != 0 || a[n - 1] != '}')))
        abort();   /* the body is not the JSON its Content-Length announces */
    return status;
}

static outcome run(const unsigned char *s, size_t n, uint32_t seed)
{
    outcome o = { 0 };
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    int fd = sv[0], peer = sv[1];
    int big = 1 << 20;
    setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fcntl(peer, F_SETFL, O_NONBLOCK);
    cx_wire_accept(fd);
    static unsigned char in[1 << 17];
    size_t pos = 0;
    int eof = 0;
    while (!eof) {
        size_t k = n - pos;
        if (seed && k) {
            uint32_t r = xorshift(&seed);
            k = r & 1 ? 1 + r % 7 : 1 + r % 3000;
            if (k > n - pos)
                k = n - pos;
        }
        if (k) {
            ssize_t w = write(peer, s + pos, k);
            if (w <= 0) {
                if (errno == EPIPE || errno == ECONNRESET || errno == EAGAIN)
                    break;   /* the gateway ended the stream, or stopped reading */
                abort();
            }
            pos += (size_t) w;
        }
        for (;;) {   /* lws reads until the socket is empty */
            ssize_t r = recv(fd, in, sizeof in, 0);
            if (r > 0) {
                fuzz_put(&o.to_lws, in, (size_t) r);
                /* lws parsed the head: the session is established (wire.c forgets it at each head's end) */
                cx_wire_established(fd, 1, 0);
                continue;
            }
            if (r == 0)
                eof = 1;
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                abort();
            break;
        }
        if (!eof && pos == n)
            break;
    }
    if (eof && recv(fd, in, sizeof in, 0) > 0)
        abort();   /* bytes for lws after the end of the stream */
    o.status = answer(peer);
    if (o.status && !eof)
        abort();   /* answered, yet lws would go on reading the request */
    cx_wire_collect(on_verdict, &o);
    if (o.verdicts > 1)
        abort();
    close(fd);
    close(peer);
    return o;
}

/* Whether the split run (b) ended as the whole one (a) did. */
static int same(const outcome *a, const outcome *b)
{
    if (a->status != b->status || a->verdicts != b->verdicts || a->frame_code != b->frame_code
        || a->frame_close != b->frame_close)
        return 0;
    /* Unless refused, lws gets the same bytes. When a head is refused or a frame breaks a rule,
     * lws may have got the first bytes of that head or frame already, in segments before the one
     * that decided: the split run passes at least what the whole one passed (up to the offending
     * head or frame), never other bytes. */
    if (!a->status && !a->verdicts && b->to_lws.len != a->to_lws.len)
        return 0;
    return a->to_lws.len <= b->to_lws.len && (!a->to_lws.len || memcmp(a->to_lws.b, b->to_lws.b, a->to_lws.len) == 0);
}

typedef struct {
    const uint8_t *p;
    size_t n;
} src;

static unsigned next(src *s)
{
    if (!s->n)
        return 0;
    s->n--;
    return *s->p++;
}

/* Whether the path of target (up to '?' or '#'; "%2e" a dot, "%2f" a slash) has a "." or ".." segment. */
static int has_dot_segment(const char *t, size_t n)
{
    size_t dots = 0;
    int other = 0;
    for (size_t i = 0; i <= n; i++) {
        int stop = i == n || t[i] == '?' || t[i] == '#';
        int escape = i + 2 < n && t[i] == '%' && t[i + 1] == '2';
        int slash = escape && (t[i + 2] == 'f' || t[i + 2] == 'F');
        if (stop || slash || t[i] == '/') {
            if (!other && (dots == 1 || dots == 2))
                return 1;
            if (stop)
                return 0;
            dots = 0, other = 0;
            i += slash ? 2 : 0;
        } else if (t[i] == '.' || (escape && (t[i + 2] == 'e' || t[i + 2] == 'E'))) {
            dots++;
            i += t[i] == '.' ? 0 : 2;
        } else {
            other = 1;
        }
    }
    return 0;
}

enum { BREAK_NONE, BREAK_METHOD, BREAK_PCT00, BREAK_NUL, BREAK_HTTP10, BREAK_VERSION, BREAK_KINDS };

static void generated(src *in, uint32_t seed)
{
    static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT" };
    static const char tchar[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%";
    unsigned plan = next(in);
    int broken = plan & 1 ? (int) (next(in) % (BREAK_KINDS - 1)) + 1 : BREAK_NONE;
    size_t pad_line = (plan & 2) ? (size_t) next(in) << 5 : 0;   /* up to 8160 more bytes of target */
    size_t pad_head = (plan & 4) ? (size_t) next(in) << 6 : 0;   /* up to 16320 more bytes of headers */
    fuzz_buf o = { 0 };
    for (unsigned i = next(in) % 3; i; i--)
        puts_(&o, next(in) & 1 ? "\r\n" : "\n");
    size_t start = o.len;
    const char *method = broken == BREAK_METHOD ? "FOO" : methods[next(in) % 8];
    puts_(&o, method);
    puts_(&o, " /");
    size_t target = o.len;
    for (unsigned i = next(in) % 40; i; i--) {
        char c = tchar[next(in) % (sizeof tchar - 1)];
        fuzz_put(&o, &c, 1);
        if (c == '%')
            puts_(&o, "2F");   /* never %0 followed by 0 */
    }
    for (size_t i = 0; i < pad_line; i++)
        fuzz_put(&o, "a", 1);
    int dot_segment = has_dot_segment((const char *) o.b + target - 1, o.len - target + 1);
    size_t pct_at = 0;   /* the line byte (from 1) that completes %00 */
    if (broken == BREAK_PCT00) {
        size_t at = target + next(in) % (o.len - target + 1);
        fuzz_buf t = { 0 };
        fuzz_put(&t, o.b, at);
        puts_(&t, "%00");
        pct_at = at + 3 - start;
        fuzz_put(&t, o.b + at, o.len - at);
        free(o.b);
        o = t;
    }
    puts_(&o, broken == BREAK_HTTP10 ? " HTTP/1.0" : broken == BREAK_VERSION ? " HTTP/2.0" : " HTTP/1.1");
    size_t line = o.len - start;
    puts_(&o, "\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
    for (unsigned i = next(in) % 4; i; i--) {
        char h[64];
        snprintf(h, sizeof h, "X-H%u: v%u\r\n", next(in), next(in));
        puts_(&o, h);
    }
    if (pad_head) {
        puts_(&o, "X-Pad: ");
        for (size_t i = 0; i < pad_head; i++)
            fuzz_put(&o, "b", 1);
        puts_(&o, "\r\n");
    }
    if (broken == BREAK_NUL)
        o.b[start + line + 2 + next(in) % 20] = '\0';   /* in the Host header */
    puts_(&o, "\r\n");
    size_t head = o.len - start;
    /* then a masked text frame and a close 1000 */
    static const unsigned char frames[] = { 0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2,
                                            0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8 };
    fuzz_put(&o, frames, sizeof frames);

    /* The answer of the first rule broken, in the order the bytes arrive: the method ends at byte
     * 4, a %00 or a wrong version where they are, the line's limit at its byte 4097, the NUL just
     * after the line, the head's limit at its byte 8193, the version of an upgrade at its end. */
    size_t max_line = CX_WIRE_MAX_REQUEST_LINE;
    int want = 0;
    if (broken == BREAK_METHOD)
        want = 501;
    else if (broken == BREAK_PCT00 && pct_at <= max_line)
        want = 400;
    else if (broken == BREAK_VERSION && line - 2 <= max_line)
        want = 400;
    else if (line > max_line)
        want = 414;
    else if (broken == BREAK_NUL)
        want = 400;
    else if (head > CX_WIRE_MAX_HEAD)
        want = 431;
    else if (broken == BREAK_HTTP10)
        want = 400;
    else if (strcmp(method, "OPTIONS") == 0)
        want = 200;
    else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        want = 405;
    else if (dot_segment)
        want = 404;
    outcome r = run(o.b, o.len, seed);
    if (r.status != want)
        abort();   /* the head got another answer than its limits and rules call for */
    if (!want) {
        /* Close frames never reach lws, the gateway answers them (wire.h), but the segments before
         * the one that completes it may have passed the first bytes of its header. */
        if (r.to_lws.len < o.len - start - 8 || r.to_lws.len >= o.len - start
            || memcmp(r.to_lws.b, o.b + start, r.to_lws.len) != 0)
            abort();   /* lws did not get the request and its frames as sent */
        if (r.verdicts != 1 || !r.frame_close || r.frame_code != 1000)
            abort();   /* the client's close was not seen with its code */
    } else if (r.verdicts) {
        abort();   /* frames audited after a refused head */
    }
    free(r.to_lws.b);
    free(o.b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    if (cx_wire_init() != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    uint32_t seed = ((uint32_t) data[1] << 24 | (uint32_t) data[2] << 16 | (uint32_t) data[3] << 8 | data[4]) | 1;
    src in = { data + 5, size - 5 };
    if (data[0] & 2) {
        generated(&in, seed);
        return 0;
    }
    /* a run of one byte, so that limits of 4096 and 8192 bytes are in reach */
    size_t count = next(&in) << 8;
    count |= next(&in);
    size_t at = next(&in) << 8;
    at |= next(&in);
    unsigned char c = (unsigned char) next(&in);
    count %= 12000;
    at = in.n ? at % (in.n + 1) : 0;
    unsigned char *s = malloc(in.n + count + 1);
    memcpy(s, in.p, at);
    memset(s + at, c, count);
    memcpy(s + at + count, in.p + at, in.n - at);
    size_t n = in.n + count;
    outcome whole = run(s, n, 0), split = run(s, n, seed);
    if (!same(&whole, &split))
        abort();   /* the verdict depends on how the client's bytes were cut */
    free(whole.to_lws.b);
    free(split.to_lws.b);
    free(s);
    return 0;
}
