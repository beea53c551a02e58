/*
 * The edge's protocol pieces alone. The frame auditor (gateway/frame_audit.h) on byte streams: the same
 * verdict at the same byte however TCP cuts the stream, the UTF-8 table
 * of RFC 3629, and the close codes a peer may send. Subprotocol choice
 * (common/subprotocol.h): the worker and the gateway must agree. Per-message
 * compression (gateway/deflate.h): every message inflates alone, a repeat is
 * reused, offers the frames cannot honour are declined.
 */
#include "common/subprotocol.h"
#include "gateway/frame_audit.h"

#include <criterion/criterion.h>
#include <string.h>

/* Appends a masked client frame (zero mask key: payload as is). */
static size_t frame(unsigned char *out, int b0, const char *payload, size_t len)
{
    size_t h = 0;
    out[h++] = (unsigned char) b0;
    if (len < 126) {
        out[h++] = (unsigned char) (0x80 | len);
    } else {
        out[h++] = 0x80 | 126;
        out[h++] = (unsigned char) (len >> 8);
        out[h++] = (unsigned char) len;
    }
    memset(out + h, 0, 4);
    memcpy(out + h + 4, payload, len);
    return h + 4 + len;
}

typedef struct {
    size_t passed, most;   /* most: the largest count passed over all splits */
    cx_audit_verdict verdict;
    int code;
} outcome;

/* Feeds the stream cut at every position into two reads, and byte by byte; all must agree. */
static outcome audit_all_splits(const unsigned char *s, size_t n)
{
    outcome first = { 0 };
    for (size_t cut = 0; cut <= n + 1; cut++) {
        cx_frame_audit a;
        memset(&a, 0, sizeof a);
        outcome o = { 0 };
        const char *reason;
        size_t pos = 0;
        while (pos < n && o.verdict == CX_AUDIT_OK) {
            size_t k = cut == n + 1 ? 1 : (pos < cut ? cut - pos : n - pos);
            if (k == 0)
                k = n - pos;
            size_t p = cx_frame_audit_feed(&a, s + pos, k, &o.verdict, &o.code, &reason);
            o.passed += p;
            pos += k;
        }
        if (cut == 0)
            first = o, first.most = o.passed;
        else {
            cr_assert_eq(o.verdict, first.verdict, "cut at %zu changed the verdict", cut);
            cr_assert_eq(o.code, first.code, "cut at %zu changed the code", cut);
            /* With a verdict, every frame before the offending one passes; of that one, at most the
             * bytes of earlier reads (lws then holds a partial frame it never completes). */
            if (o.verdict == CX_AUDIT_OK)
                cr_assert_eq(o.passed, n);
            else
                cr_assert_geq(o.passed, first.passed, "cut at %zu held back a valid frame", cut);
            if (o.passed > first.most)
                first.most = o.passed;
        }
    }
    return first;
}

Test(frame_audit, valid_frames_pass_whole)
{
    unsigned char s[1024];
    size_t n = frame(s, 0x81, "hello", 5);
    n += frame(s + n, 0x01, "he", 2);
    n += frame(s + n, 0x89, "ping", 4);
    n += frame(s + n, 0x00, "llo \xf0\x9f", 6);
    n += frame(s + n, 0x80, "\x98\x80", 2);
    char big[300];
    memset(big, 'b', sizeof big);
    n += frame(s + n, 0x82, big, sizeof big);
    outcome o = audit_all_splits(s, n);
    cr_assert_eq(o.verdict, CX_AUDIT_OK);
    cr_assert_eq(o.passed, n);
}

Test(frame_audit, the_offending_frame_never_passes)
{
    unsigned char s[256];
    size_t good = frame(s, 0x81, "ok", 2);
    size_t n = good + frame(s + good, 0x81, "\xc0\xaf", 2);
    outcome o = audit_all_splits(s, n);
    cr_assert_eq(o.verdict, CX_AUDIT_FAIL);
    cr_assert_eq(o.code, 1007);
    cr_assert_eq(o.passed, good, "the valid frame before it passes, none of the bad one");
    cr_assert_lt(o.most, n, "the bad frame is never complete at lws");
}

Test(frame_audit, close_frames_give_their_code_and_stop_the_stream)
{
    unsigned char s[256];
    size_t n = frame(s, 0x88, "\x03\xe8" "bye", 5);
    n += frame(s + n, 0x81, "late", 4);
    outcome o = audit_all_splits(s, n);
    cr_assert_eq(o.verdict, CX_AUDIT_CLOSE);
    cr_assert_eq(o.code, 1000);
    cr_assert_eq(o.passed, 0, "close frames are the gateway's to answer");
    cr_assert_lt(o.most, 11, "lws never has a whole close frame");
}

Test(frame_audit, unmasked_and_reserved_fail_with_1002)
{
    const unsigned char unmasked[] = { 0x81, 0x02, 'h', 'i' };
    cr_assert_eq(audit_all_splits(unmasked, sizeof unmasked).code, 1002);
    unsigned char s[64];
    cr_assert_eq(audit_all_splits(s, frame(s, 0xC1, "x", 1)).code, 1002, "RSV1 without deflate");
    cr_assert_eq(audit_all_splits(s, frame(s, 0x83, "x", 1)).code, 1002, "opcode 3");
    cr_assert_eq(audit_all_splits(s, frame(s, 0x09, "x", 1)).code, 1002, "fragmented ping");
    cr_assert_eq(audit_all_splits(s, frame(s, 0x80, "x", 1)).code, 1002, "lone continuation");
    char ping[126];
    memset(ping, 'p', sizeof ping);
    unsigned char big[200];
    cr_assert_eq(audit_all_splits(big, frame(big, 0x89, ping, sizeof ping)).code, 1002, "126-byte ping");
}

Test(frame_audit, rsv1_passes_when_deflate_was_negotiated)
{
    unsigned char s[64];
    size_t n = frame(s, 0xC1, "\xff\xfe", 2);   /* compressed bytes: not UTF-8-checked here */
    cx_frame_audit a;
    memset(&a, 0, sizeof a);
    a.rsv1_allowed = 1;
    cx_audit_verdict v;
    int code;
    const char *reason;
    cr_assert_eq(cx_frame_audit_feed(&a, s, n, &v, &code, &reason), n);
    cr_assert_eq(v, CX_AUDIT_OK);
}

Test(frame_audit, close_codes)
{
    const int valid[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999 };
    const int invalid[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535 };
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
        cr_assert(cx_close_code_valid(valid[i]), "%d", valid[i]);
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
        cr_assert_not(cx_close_code_valid(invalid[i]), "%d", invalid[i]);
}

Test(frame_audit, utf8_table)
{
    const char *valid[] = { "abc", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                            "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" };
    const char *invalid[] = { "\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xf0\x8f\xbf\xbf",
                              "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xfe", "\xff", "\xce\xff" };
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
        uint32_t st = 0;
        cr_assert(cx_utf8_feed(&st, (const unsigned char *) valid[i], strlen(valid[i])) == 0 && st == 0, "valid %zu", i);
    }
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        uint32_t st = 0;
        cr_assert(cx_utf8_feed(&st, (const unsigned char *) invalid[i], strlen(invalid[i])) != 0, "invalid %zu", i);
    }
    uint32_t st = 0;
    cr_assert_eq(cx_utf8_feed(&st, (const unsigned char *) "\xe2\x82", 2), 0);
    cr_assert_neq(st, 0, "an incomplete character leaves state");
    cr_assert_eq(cx_utf8_feed(&st, (const unsigned char *) "\xac", 1), 0);
    cr_assert_eq(st, 0, "completed across calls");
}

Test(subprotocol, the_first_offer_the_consumer_supports_in_the_clients_order)
{
    const char *const supported[] = { "chanx.v2", "chanx.v1", NULL };
    cr_assert_str_eq(cx_subprotocol_choose("a, chanx.v1 ,chanx.v2", supported), "chanx.v1");
    cr_assert_str_eq(cx_subprotocol_choose("\tchanx.v2", supported), "chanx.v2");
    cr_assert_null(cx_subprotocol_choose("chanx.V1, chanx", supported), "names are case-sensitive");
    cr_assert_null(cx_subprotocol_choose("chanx.v1", NULL));
    cr_assert_null(cx_subprotocol_choose(NULL, supported));
    cr_assert(cx_subprotocol_is_token("token.abc-1_2", 13));
    cr_assert_not(cx_subprotocol_is_token("a b", 3));
    cr_assert_not(cx_subprotocol_is_token("a/b", 3));
    cr_assert_not(cx_subprotocol_is_token("", 0));
}

/* ------------------------------------------------------------ deflate.h */

#include "gateway/deflate.h"
#include <stdlib.h>
#include <zlib.h>

static char *inflate_raw(const unsigned char *data, size_t len, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    inflateInit2(&z, -15);
    unsigned char *in = malloc(len + 4);
    memcpy(in, data, len);
    memcpy(in + len, "\x00\x00\xff\xff", 4);
    char *out = calloc(1, cap + 1);
    z.next_in = in;
    z.avail_in = (uInt) len + 4;
    z.next_out = (unsigned char *) out;
    z.avail_out = (uInt) cap;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    inflateEnd(&z);
    free(in);
    cr_assert(rc == Z_OK || rc == Z_STREAM_END);
    return out;
}

Test(deflate, each_message_inflates_alone_and_a_repeat_is_not_compressed_again)
{
    cx_deflate *d = cx_deflate_new(6);
    const char body[] = "{\"action\":\"chat\",\"payload\":{\"message\":\"hello hello hello hello hello\"}";
    size_t n1, n2, n3;
    const unsigned char *z1 = cx_deflate_message(d, body, sizeof body - 1, ",\"is_mine\":false}", 17, &n1);
    cr_assert_not_null(z1);
    char *plain = inflate_raw(z1, n1, 4096);
    cr_assert_str_eq(plain, "{\"action\":\"chat\",\"payload\":{\"message\":\"hello hello hello hello hello\"},\"is_mine\":false}");
    free(plain);
    const unsigned char *z2 = cx_deflate_message(d, body, sizeof body - 1, ",\"is_mine\":true}", 16, &n2);
    const unsigned char *z3 = cx_deflate_message(d, body, sizeof body - 1, ",\"is_mine\":false}", 17, &n3);
    cr_assert_neq(z2, z1, "another variant compresses on its own");
    cr_assert_eq(z3, z1, "the same bytes for another member reuse the compressed frame");
    cr_assert_eq(n3, n1);
    plain = inflate_raw(z2, n2, 4096);   /* from an empty window: no context from z1 */
    cr_assert(strstr(plain, "\"is_mine\":true}"));
    free(plain);
    cx_deflate_destroy(&d);
    cr_assert_null(d);
}

Test(deflate, offers)
{
    cr_assert(cx_deflate_offer_ok("permessage-deflate"));
    cr_assert(cx_deflate_offer_ok("permessage-deflate; client_max_window_bits"));
    cr_assert(cx_deflate_offer_ok("x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover; client_no_context_takeover"));
    cr_assert_not(cx_deflate_offer_ok("permessage-deflate; server_max_window_bits=15"), "lws would not echo it");
    cr_assert_not(cx_deflate_offer_ok("permessage-deflate; server_max_window_bits=10"));
    cr_assert_not(cx_deflate_offer_ok("permessage-deflate; x_unknown"));
    cr_assert_not(cx_deflate_offer_ok("x-webkit-deflate-frame"));
    cr_assert_not(cx_deflate_offer_ok(NULL));
}
