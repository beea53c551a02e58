/*
 * fuzz_deflate — permessage-deflate on the gateway's side (gateway/deflate.h):
 * the client's Sec-WebSocket-Extensions offer, and the compression of
 * outgoing messages. (Inflating what clients send is libwebsockets'; the
 * gateway caps the inflated message, 1009: tests/e2e.)
 *
 * Input: a byte whose top bit picks the part. Offer: the rest is the
 * header's value; an offer accepted names permessage-deflate, and never
 * one whose first offer asks for server_max_window_bits (which lws would
 * not echo). Compression: the byte's low bits are zlib's level, two bytes
 * cut the rest into the two pieces a message is sent as (prefix and body),
 * a third says how many other messages go through the cache first. The
 * payload, with RFC 7692's 00 00 ff ff put back, inflates from an empty
 * window to exactly the message, no more (the client's inflater is given
 * the message's size as its limit); asking again gives the same bytes.
 */
#include "gateway/deflate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

static cx_deflate *compressors[10];

/* Inflates payload + 00 00 ff ff into out[limit]; the size, or -1 when it is not a valid stream or
 * would be larger than limit. */
static long inflate_limited(const unsigned char *payload, size_t n, unsigned char *out, size_t limit)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK)
        abort();
    unsigned char *in = malloc(n + 4);
    memcpy(in, payload, n);
    memcpy(in + n, "\x00\x00\xff\xff", 4);
    z.next_in = in;
    z.avail_in = (uInt) (n + 4);
    unsigned char spare;
    z.next_out = limit ? out : &spare;
    z.avail_out = (uInt) limit;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    long got = (long) (limit - z.avail_out);
    if ((rc != Z_OK && rc != Z_BUF_ERROR) || z.avail_in != 0)
        got = -1;   /* left input: the message inflates to more than its size */
    inflateEnd(&z);
    free(in);
    return got;
}

static void offer(const uint8_t *data, size_t size)
{
    char *ext = malloc(size + 1);
    memcpy(ext, data, size);
    ext[size] = '\0';
    int ok = cx_deflate_offer_ok(ext);
    if (ok && !strstr(ext, "permessage-deflate"))
        abort();   /* accepted an offer the client did not make */
    /* The first permessage-deflate offer (lws takes it, up to the next comma): a parameter
     * server_max_window_bits in it must have declined the offer. */
    for (const char *p = ext; ok && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ","), name = strcspn(p, ";,");
        while (name && (p[name - 1] == ' ' || p[name - 1] == '\t'))
            name--;
        if (name == 18 && strncmp(p, "permessage-deflate", 18) == 0) {
            for (const char *q = p + strcspn(p, ";,"); *q == ';';) {
                q++;
                q += strspn(q, " \t");
                size_t k = strcspn(q, "=;, \t");
                if (k == 22 && strncasecmp(q, "server_max_window_bits", 22) == 0 && strchr("=;, \t", q[k]))
                    abort();   /* accepted a parameter lws would not echo (RFC 7692 §7.1.2.1) */
                q += strcspn(q, ";,");
            }
            break;
        }
        p += n;
    }
    free(ext);
}

static void compress_one(const uint8_t *data, size_t size)
{
    if (size < 4)
        return;
    int level = 1 + data[0] % 9;
    size_t cut = ((size_t) data[1] << 8 | data[2]) % (size - 3 + 1), others = data[3] % 6;
    const char *msg = (const char *) data + 4;
    size_t len = size - 4;
    if (cut > len)
        cut = len;
    if (!compressors[level] && !(compressors[level] = cx_deflate_new(level)))
        abort();
    cx_deflate *d = compressors[level];
    for (size_t i = 0; i < others; i++) {   /* other messages, so the cache is full or rotated */
        size_t on;
        char other[8] = { 'o', (char) i, (char) level };
        if (!cx_deflate_message(d, other, sizeof other, NULL, 0, &on))
            abort();
    }
    size_t n;
    const unsigned char *out = cx_deflate_message(d, msg, cut, len > cut ? msg + cut : NULL, len - cut, &n);
    if (!out)
        abort();
    unsigned char *copy = malloc(n + 1);
    memcpy(copy, out, n);
    unsigned char *plain = malloc(len + 1);
    long got = inflate_limited(copy, n, plain, len);
    if (got != (long) len || (len && memcmp(plain, msg, len) != 0))
        abort();   /* the client would read another message than we sent */
    size_t n2;
    const unsigned char *again = cx_deflate_message(d, msg, len, NULL, 0, &n2);   /* the same message, in one piece */
    if (!again || n2 != n || memcmp(again, copy, n) != 0)
        abort();   /* a repeat must be the same frame (group members share it) */
    free(plain);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 0x80)
        offer(data + 1, size - 1);
    else
        compress_one(data, size);
    return 0;
}
