/*
 * permessage-deflate (RFC 7692), opt-in with CHANX_COMPRESSION, through raw
 * sockets that compress and inflate with zlib themselves: the offer is
 * accepted when on and declined (no header) when off; a compressed message
 * is inflated and served; replies come compressed (RSV1) and inflate to the
 * message; an offer the gateway's frames cannot honour is declined; a
 * compression bomb closes with 1009 on the inflated size.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tests/kit/raw_ws.h"

static cx_stack *stack;

static void start(const char *compression)
{
    static char plugin[600], setting[64];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(plugin, sizeof plugin, "%s/test-plugins/edge_proto.so", bin);
    snprintf(setting, sizeof setting, "CHANX_COMPRESSION=%s", compression);
    stack = cx_stack_start(&(cx_stack_options) {
        .plugin_files = (const char *[]) { plugin, NULL },
        .env = (const char *[]) { setting, "CHANX_MAX_MESSAGE_BYTES=65536", NULL },
    });
}
static void stop(void) { cx_stack_stop(&stack); }

TestSuite(compression, .fini = stop, .timeout = 60);

#define PLAIN "/ws/edge_proto/plain/"
#define OFFER "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"

/* Raw deflate of text, without the 00 00 ff ff tail (RFC 7692 §7.2.1); owned. */
static unsigned char *compress_message(const char *text, size_t len, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 16;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *) text;
    z.avail_in = (uInt) len;
    z.next_out = out;
    z.avail_out = (uInt) cap;
    cr_assert_eq(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    *outlen = cap - z.avail_out - 4;
    deflateEnd(&z);
    return out;
}

static char *inflate_message(const char *data, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(inflateInit2(&z, -15), Z_OK);
    unsigned char *in = malloc(len + 4);
    memcpy(in, data, len);
    memcpy(in + len, "\x00\x00\xff\xff", 4);
    char *out = calloc(1, 1 << 20);
    z.next_in = in;
    z.avail_in = (uInt) len + 4;
    z.next_out = (unsigned char *) out;
    z.avail_out = (1 << 20) - 1;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    cr_assert(rc == Z_OK || rc == Z_STREAM_END, "the server's frame does not inflate (%d)", rc);
    inflateEnd(&z);
    free(in);
    return out;
}

/* A message long and repetitive enough to be worth compressing. */
static char *echo_message(size_t n)
{
    char *m = malloc(n + 64);
    int k = sprintf(m, "{\"action\":\"echo\",\"payload\":\"");
    for (size_t i = 0; i < n; i++)
        m[k + i] = "chanx "[i % 6];
    strcpy(m + k + n, "\"}");
    return m;
}

Test(compression, an_offer_is_accepted_and_both_directions_are_compressed)
{
    start("on");
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), PLAIN, OFFER);
    cr_assert_eq(cx_raw_status(c), 101);
    const char *ext = cx_raw_header(c, "sec-websocket-extensions");
    cr_assert(ext && strstr(ext, "permessage-deflate"), "negotiated: %s", ext ? ext : "(none)");
    char *m = echo_message(2000);
    size_t zlen;
    unsigned char *z = compress_message(m, strlen(m), &zlen);
    cr_assert_eq(cx_raw_frame(c, 1, 4, 0x1, 1, z, zlen), 0);   /* RSV1: compressed */
    int opcode = 0;
    char *payload = NULL;
    size_t len = 0;
    cr_assert_eq(cx_raw_read_frame(c, 10000, &opcode, NULL, &payload, &len), 1);
    cr_assert_eq(opcode, 0x1);
    cr_assert_eq(cx_raw_last_rsv(c), 4, "the reply is compressed");
    cr_assert_lt(len, 400, "2000 repetitive bytes compress well (got %zu)", len);
    char *reply = inflate_message(payload, len);
    cr_assert(strstr(reply, "\"action\":\"echo\"") && strstr(reply, "chanx chanx chanx"), "inflated: %.80s", reply);
    cr_assert_eq(strlen(reply), strlen(m), "the whole message came back");
    free(reply);
    free(payload);
    free(z);
    free(m);
    cx_raw_destroy(&c);
}

Test(compression, small_messages_go_uncompressed_and_uncompressed_ones_are_served)
{
    start("on");
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), PLAIN, OFFER);
    cr_assert_eq(cx_raw_status(c), 101);
    const char m[] = "{\"action\":\"echo\",\"payload\":\"x\"}";
    cr_assert_eq(cx_raw_frame(c, 1, 0, 0x1, 1, m, sizeof m - 1), 0);   /* a client may send plain messages too */
    char *payload = NULL;
    cr_assert_eq(cx_raw_read_frame(c, 10000, NULL, NULL, &payload, NULL), 1);
    cr_assert_eq(cx_raw_last_rsv(c), 0);
    cr_assert(strstr(payload, "\"payload\":\"x\""));
    free(payload);
    cx_raw_destroy(&c);
}

Test(compression, off_the_offer_is_declined_and_rsv1_fails_the_connection)
{
    start("off");
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), PLAIN, OFFER);
    cr_assert_eq(cx_raw_status(c), 101);
    cr_assert_null(cx_raw_header(c, "sec-websocket-extensions"));
    char *m = echo_message(200);
    size_t zlen;
    unsigned char *z = compress_message(m, strlen(m), &zlen);
    cx_raw_frame(c, 1, 4, 0x1, 1, z, zlen);
    cr_assert_eq(cx_raw_expect_close(c, 10000, NULL), 1002, "RSV1 without the extension");
    free(z);
    free(m);
    cx_raw_destroy(&c);
}

Test(compression, an_offer_with_server_max_window_bits_is_declined)
{
    start("on");
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), PLAIN,
                               "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n");
    cr_assert_eq(cx_raw_status(c), 101, "declining an extension never refuses the connection");
    cr_assert_null(cx_raw_header(c, "sec-websocket-extensions"));
    cx_raw_destroy(&c);
}

Test(compression, a_compression_bomb_closes_with_1009_on_the_inflated_size)
{
    start("on");
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), PLAIN, OFFER);
    cr_assert_eq(cx_raw_status(c), 101);
    size_t n = 8u << 20;   /* 8 MiB of one byte: a few KiB compressed, far over the 64 KiB limit */
    char *m = malloc(n);
    memset(m, 'a', n);
    size_t zlen;
    unsigned char *z = compress_message(m, n, &zlen);
    cr_assert_lt(zlen, 65536, "the bomb is small on the wire (%zu)", zlen);
    cx_raw_frame(c, 1, 4, 0x1, 1, z, zlen);
    cr_assert_eq(cx_raw_expect_close(c, 10000, NULL), 1009);
    free(z);
    free(m);
    cx_raw_destroy(&c);
}

Test(compression, invalid_utf8_inside_a_compressed_message_fails_with_1007)
{
    start("on");
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), PLAIN, OFFER);
    cr_assert_eq(cx_raw_status(c), 101);
    const char bad[] = "{\"action\":\"echo\",\"payload\":\"\xc0\xaf\"}";   /* checked by lws once inflated */
    size_t zlen;
    unsigned char *z = compress_message(bad, sizeof bad - 1, &zlen);
    cx_raw_frame(c, 1, 4, 0x1, 1, z, zlen);
    int messages = 0;
    cr_assert_eq(cx_raw_expect_close(c, 10000, &messages), 1007);
    cr_assert_eq(messages, 0);
    free(z);
    cx_raw_destroy(&c);
}
