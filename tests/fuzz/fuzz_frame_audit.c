/*
 * fuzz_frame_audit — the RFC 6455 framing rules the gateway applies to a
 * client's raw bytes before libwebsockets parses them (gateway/frame_audit.h).
 *
 * Input: a flags byte (bit 0: permessage-deflate negotiated, so RSV1 is
 * allowed; bit 1: generated mode), four bytes seeding where the stream is
 * split into recv()-sized chunks, then the rest.
 *
 * Raw mode: the rest is the client's byte stream, fed once whole and once
 * split at the seeded points. Both must reach the same verdict, code and
 * reason at the same byte; a refusal names 1002 or 1007 and says why; a
 * close is echoed with no code or a code a peer may send; after a verdict
 * nothing more passes.
 *
 * Generated mode: the rest drives a generator of valid frames: text (valid
 * UTF-8 cut across fragments anywhere, even inside a character) and binary
 * messages, fragmented or not, masked with keys from the input, with
 * minimal 7/16/64-bit lengths, RSV1 on a message's first frame when allowed,
 * pings and pongs between fragments, and an optional valid close frame at
 * the end. Fed at arbitrary splits, every byte before the close passes
 * (libwebsockets gets the stream, so the payloads, unchanged) and the close
 * comes back with its own code. When the input asks for it, one frame of
 * the stream breaks one rule instead; the stream must then pass whole up to
 * that frame and be refused there with the rule's code (1002, or 1007 for
 * bad UTF-8).
 */
#include "gateway/frame_audit.h"
#include "tests/fuzz/fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t n;
} src;

static unsigned next(src *s)   /* a byte of input, 0 once it ran out */
{
    if (!s->n)
        return 0;
    s->n--;
    return *s->p++;
}

typedef struct {
    cx_audit_verdict verdict;
    int code;
    const char *reason;
    size_t at;       /* absolute offset the verdict's call passed up to */
    size_t chunk;    /* offset of the chunk that got the verdict */
} outcome;

static uint32_t xorshift(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Feeds s[0..n) in chunks (one chunk when seed is 0), checking what holds for any feed. */
static outcome feed(const unsigned char *s, size_t n, int rsv1, uint32_t seed)
{
    cx_frame_audit a;
    memset(&a, 0, sizeof a);
    a.rsv1_allowed = rsv1;
    outcome o = { CX_AUDIT_OK, 0, "", n, n };
    size_t pos = 0;
    while (pos < n) {
        size_t k = n - pos;
        if (seed) {
            uint32_t r = xorshift(&seed);
            k = r & 1 ? 1 + r % 7 : 1 + r % 200;   /* many tiny chunks, some larger */
            if (k > n - pos)
                k = n - pos;
        }
        cx_audit_verdict v;
        int code;
        const char *reason;
        size_t passed = cx_frame_audit_feed(&a, s + pos, k, &v, &code, &reason);
        if (!reason)
            abort();
        if (v == CX_AUDIT_OK) {
            if (passed != k)
                abort();   /* no verdict, yet bytes held back */
            pos += k;
            continue;
        }
        if (passed > k)
            abort();
        if (v == CX_AUDIT_FAIL && ((code != 1002 && code != 1007) || !reason[0]))
            abort();   /* a refusal names its RFC 6455 code and says why */
        if (v == CX_AUDIT_CLOSE && code != 0 && !cx_close_code_valid(code))
            abort();   /* we would echo a code no peer may send */
        o = (outcome) { v, code, reason, pos + passed, pos };
        /* once decided, nothing more passes */
        if (cx_frame_audit_feed(&a, s, n, &v, &code, &reason) != 0 || v != CX_AUDIT_OK)
            abort();
        break;
    }
    return o;
}

/* ---- generated streams ---- */

/* Appends one masked frame with a minimal length; returns its offset. */
static size_t frame(fuzz_buf *o, src *in, int b0, const unsigned char *payload, size_t n, int masked, int len_at_least)
{
    size_t at = o->len;
    unsigned char h[14];
    size_t k = 0;
    h[k++] = (unsigned char) b0;
    size_t shown = n > (size_t) len_at_least ? n : (size_t) len_at_least;   /* a length that lies (> payload) */
    unsigned char m = masked ? 0x80 : 0;
    if (shown < 126)
        h[k++] = m | (unsigned char) shown;
    else if (shown < 65536) {
        h[k++] = m | 126;
        h[k++] = (unsigned char) (shown >> 8);
        h[k++] = (unsigned char) shown;
    } else {
        h[k++] = m | 127;
        for (int i = 7; i >= 0; i--)
            h[k++] = (unsigned char) ((uint64_t) shown >> (8 * i));
    }
    unsigned char key[4] = { (unsigned char) next(in), (unsigned char) next(in), (unsigned char) next(in),
                             (unsigned char) next(in) };
    if (masked) {
        memcpy(h + k, key, 4);
        k += 4;
    }
    fuzz_put(o, h, k);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = payload[i] ^ (masked ? key[i & 3] : 0);
        fuzz_put(o, &c, 1);
    }
    return at;
}

/* Valid UTF-8 text of about want bytes: code points from the input, surrogates and > U+10FFFF excluded. */
static size_t utf8_text(src *in, unsigned char *out, size_t want)
{
    size_t n = 0;
    while (n + 4 <= want) {
        unsigned k = next(in), v = next(in) << 8 | next(in);
        uint32_t cp = k & 3 ? (k & 3) == 1 ? v % 0x80 : (k & 3) == 2 ? 0x80 + v % 0x780 : 0x800 + v % 0xf800
                            : 0x10000 + (v << 4 | (k >> 4)) % 0x100000;
        if (cp >= 0xd800 && cp <= 0xdfff)
            cp = 'x';
        if (cp < 0x80)
            out[n++] = (unsigned char) cp;
        else if (cp < 0x800)
            out[n++] = (unsigned char) (0xc0 | cp >> 6), out[n++] = (unsigned char) (0x80 | (cp & 0x3f));
        else if (cp < 0x10000)
            out[n++] = (unsigned char) (0xe0 | cp >> 12), out[n++] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f)),
            out[n++] = (unsigned char) (0x80 | (cp & 0x3f));
        else
            out[n++] = (unsigned char) (0xf0 | cp >> 18), out[n++] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f)),
            out[n++] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f)), out[n++] = (unsigned char) (0x80 | (cp & 0x3f));
        if (!(k & 0x0c))
            break;   /* the input decides where the text ends */
    }
    return n;
}

enum { BREAK_NONE, BREAK_UNMASKED, BREAK_OPCODE, BREAK_RSV, BREAK_LONG_CONTROL, BREAK_FRAGMENTED_CONTROL,
       BREAK_CONTINUATION, BREAK_NEW_MESSAGE, BREAK_CLOSE_CODE, BREAK_CLOSE_1BYTE, BREAK_UTF8, BREAK_CLOSE_REASON,
       BREAK_KINDS };

static void generated(src *in, int rsv1, uint32_t seed)
{
    unsigned plan = next(in);
    int broken = plan & 1 ? (int) (next(in) % (BREAK_KINDS - 1)) + 1 : BREAK_NONE;
    unsigned break_at = next(in) % 8;   /* the message whose frame breaks the rule */
    fuzz_buf o = { 0 };
    static unsigned char payload[70000], text[70000];
    size_t bad_at = SIZE_MAX;           /* where the broken frame starts */
    int bad_code = 0;
    unsigned nmsg = 1 + next(in) % 8;
    for (unsigned m = 0; m < nmsg && o.len < 200000; m++) {
        unsigned kind = next(in);
        int is_text = kind & 1, compressed = rsv1 && (kind & 2);
        int parts = 1 + (int) (next(in) % 4);
        size_t total = next(in);
        if (kind & 4)
            total = total << 8 | next(in);     /* 16-bit lengths */
        if ((kind & 0x38) == 0x38)
            total = 65536 + next(in) * 16;     /* 64-bit lengths, rarely */
        if (total > sizeof payload)
            total = sizeof payload;
        if (is_text && !compressed)
            total = utf8_text(in, text, total);
        else
            for (size_t i = 0; i < total; i++)
                text[i] = (unsigned char) (i * 31 + next(in));
        int here = broken && m == break_at;
        size_t done = 0;
        for (int f = 0; f < parts; f++) {
            size_t n = f == parts - 1 ? total - done : (total - done) * next(in) / 256;
            int first = f == 0, fin = f == parts - 1;
            int b0 = (fin ? 0x80 : 0) | (first ? (is_text ? 1 : 2) : 0) | (first && compressed ? 0x40 : 0);
            memcpy(payload, text + done, n);
            int masked = 1;
            int breaks_here = here && f == parts - 1;   /* the message's last frame breaks the rule */
            if (breaks_here) {
                switch (broken) {
                case BREAK_UNMASKED: masked = 0; bad_code = 1002; break;
                case BREAK_OPCODE: b0 = (b0 & 0xf0) | (int[]) { 3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf }[next(in) % 10];
                    bad_code = 1002; break;
                case BREAK_RSV: b0 |= next(in) & 1 ? 0x20 : 0x10; bad_code = 1002; break;
                case BREAK_CONTINUATION:
                    if (first) { b0 &= ~0x0f; bad_code = 1002; } else breaks_here = 0;
                    break;
                case BREAK_NEW_MESSAGE:
                    if (!first) { b0 = (b0 & 0xf0) | (is_text ? 1 : 2); bad_code = 1002; } else breaks_here = 0;
                    break;
                case BREAK_UTF8:
                    if (is_text && !compressed) {
                        if (!n) { payload[0] = 0; n = 1; }
                        payload[next(in) % n] = 0xff;   /* never valid in UTF-8 */
                        bad_code = 1007;
                    } else breaks_here = 0;
                    break;
                default: breaks_here = 0;   /* control-frame rules: below */
                }
            }
            size_t at = frame(&o, in, b0, payload, n, masked, 0);
            if (breaks_here) {
                bad_at = at;
                goto fed;
            }
            done += n;
            if (!fin && (next(in) & 3) == 0) {   /* a ping or pong between fragments */
                size_t cn = next(in) % 126;
                for (size_t i = 0; i < cn; i++)
                    payload[i] = (unsigned char) next(in);
                int cb0 = next(in) & 1 ? 0x89 : 0x8a;
                int lie = 0;
                if (here && broken == BREAK_LONG_CONTROL)
                    lie = 126 + (int) next(in), bad_code = 1002;
                else if (here && broken == BREAK_FRAGMENTED_CONTROL)
                    cb0 &= 0x7f, bad_code = 1002;
                at = frame(&o, in, cb0, payload, cn, 1, lie);
                if (bad_code) {
                    bad_at = at;
                    goto fed;
                }
            }
        }
    }
    /* the end: a close frame, valid or, when asked, not */
    if ((next(in) & 1) || broken == BREAK_CLOSE_CODE || broken == BREAK_CLOSE_1BYTE || broken == BREAK_CLOSE_REASON) {
        static const int valid[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999 };
        static const int invalid[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535 };
        int code = valid[next(in) % (sizeof valid / sizeof valid[0])];
        size_t n = 0;
        if (broken == BREAK_CLOSE_CODE)
            code = invalid[next(in) % (sizeof invalid / sizeof invalid[0])], bad_code = 1002;
        if (broken == BREAK_CLOSE_1BYTE) {
            payload[n++] = (unsigned char) next(in);
            bad_code = 1002;
        } else if (broken == BREAK_CLOSE_CODE || broken == BREAK_CLOSE_REASON || (next(in) & 1)) {
            payload[n++] = (unsigned char) (code >> 8);
            payload[n++] = (unsigned char) code;
            n += utf8_text(in, payload + n, 123);
            if (broken == BREAK_CLOSE_REASON) {
                payload[n < 125 ? n++ : 124] = 0xff;
                bad_code = 1007;
            }
        } else
            code = 0;   /* an empty close: no code to echo */
        size_t at = frame(&o, in, 0x88, payload, n, 1, 0);
        if (bad_code)
            bad_at = at;
        else {
            outcome r = feed(o.b, o.len, rsv1, seed);
            if (r.verdict != CX_AUDIT_CLOSE || r.code != code || r.at != (at >= r.chunk ? at : r.chunk))
                abort();   /* a valid stream's close must come back at the close frame, with its code */
            free(o.b);
            return;
        }
    }
fed:;
    outcome r = feed(o.b, o.len, rsv1, seed);
    if (bad_at == SIZE_MAX) {
        if (r.verdict != CX_AUDIT_OK)
            abort();   /* a stream of valid frames was refused */
    } else if (r.verdict != CX_AUDIT_FAIL || r.code != bad_code || r.at != (bad_at >= r.chunk ? bad_at : r.chunk)) {
        abort();   /* the broken frame was not refused where it starts, with its rule's code */
    }
    free(o.b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    int rsv1 = data[0] & 1;
    uint32_t seed = (uint32_t) data[1] << 24 | (uint32_t) data[2] << 16 | (uint32_t) data[3] << 8 | data[4];
    seed |= 1;   /* xorshift needs a state other than 0 */
    if (data[0] & 2) {
        src in = { data + 5, size - 5 };
        generated(&in, rsv1, seed);
        return 0;
    }
    outcome whole = feed(data + 5, size - 5, rsv1, 0), split = feed(data + 5, size - 5, rsv1, seed);
    if (whole.verdict != split.verdict || whole.code != split.code || strcmp(whole.reason, split.reason) != 0)
        abort();   /* the verdict depends on how the bytes were cut */
    if (whole.verdict != CX_AUDIT_OK && split.at != (whole.at >= split.chunk ? whole.at : split.chunk))
        abort();   /* ... or falls at another byte */
    return 0;
}
