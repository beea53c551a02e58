/*
 * RFC 6455 §5-§8 through raw sockets, grouped as the Autobahn testsuite
 * groups its cases: framing, ping/pong, reserved bits, opcodes,
 * fragmentation, UTF-8 handling, close handling, limits. Each case writes
 * exact bytes (tests/kit/raw_ws.h) and asserts what the gateway answers:
 * an echo for what is valid; for what a server MUST fail, a close frame
 * with the code the RFC names, then the end of the TCP connection, and the
 * consumer never sees the offending message. docs/conformance.md lists the
 * cases against the RFC's requirements.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/kit/raw_ws.h"

static cx_stack *stack;

static void setup(void)
{
    static char plugin[600];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(plugin, sizeof plugin, "%s/test-plugins/edge_proto.so", bin);
    stack = cx_stack_start(&(cx_stack_options) {
        .plugin_files = (const char *[]) { plugin, NULL },
        .env = (const char *[]) { "CHANX_MAX_MESSAGE_BYTES=65536", "CHANX_HANDSHAKE_TIMEOUT_SECS=2", NULL },
    });
}
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(framing, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(pingpong, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(reserved_bits, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(opcodes, .init = setup, .fini = teardown, .timeout = 90);
TestSuite(fragmentation, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(utf8, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(close_handling, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(wire_limits, .init = setup, .fini = teardown, .timeout = 60);

#define PLAIN "/ws/edge_proto/plain/"

static cx_raw *open_plain(void)
{
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), PLAIN, NULL);
    cr_assert_not_null(c);
    cr_assert_eq(cx_raw_status(c), 101);
    return c;
}

/* {"action":"echo","payload":"<text>"} as bytes. */
static size_t echo_message(char *out, size_t size, const char *text)
{
    return (size_t) snprintf(out, size, "{\"action\":\"echo\",\"payload\":\"%s\"}", text);
}

/* The next text frame's payload (owned); fails the test if something else comes. */
static char *next_text(cx_raw *c)
{
    int opcode = 0;
    char *text = NULL;
    cr_assert_eq(cx_raw_read_frame(c, 10000, &opcode, NULL, &text, NULL), 1, "no frame came");
    cr_assert_eq(opcode, 0x1, "expected a text frame, got opcode %d", opcode);
    return text;
}

static void assert_echo(cx_raw *c, const char *text)
{
    char *reply = next_text(c), want[256];
    snprintf(want, sizeof want, "\"payload\":\"%s\"", text);
    cr_assert(strstr(reply, want), "expected the echo of %s, got %s", text, reply);
    free(reply);
}

static void send_echo(cx_raw *c, const char *text)
{
    char m[256];
    size_t n = echo_message(m, sizeof m, text);
    cr_assert_eq(cx_raw_frame(c, 1, 0, 0x1, 1, m, n), 0);
}

/* The gateway closes with code, delivered nothing before it, and ends the TCP connection. */
static void assert_failed(cx_raw *c, int code, const char *what)
{
    int messages = 0;
    int got = cx_raw_expect_close(c, 10000, &messages);
    cr_assert_eq(got, code, "%s: expected close %d, got %d", what, code, got);
    cr_assert_eq(messages, 0, "%s: the offending message was delivered", what);
    cr_assert(cx_raw_wait_eof(c, 5000), "%s: the TCP connection stayed open after the close frame", what);
}

/* ---------------------------------------------------------------- framing */

Test(framing, a_masked_text_frame_is_served)
{
    cx_raw *c = open_plain();
    send_echo(c, "hello");
    assert_echo(c, "hello");
    cx_raw_destroy(&c);
}

Test(framing, an_unmasked_client_frame_fails_with_1002)
{
    cx_raw *c = open_plain();
    char m[128];
    size_t n = echo_message(m, sizeof m, "unmasked");
    cx_raw_frame(c, 1, 0, 0x1, 0, m, n);
    assert_failed(c, 1002, "unmasked frame");
    cx_raw_destroy(&c);
}

Test(framing, a_64_bit_length_with_its_top_bit_set_fails_with_1002)
{
    cx_raw *c = open_plain();
    const unsigned char frame[] = { 0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4 };
    cx_raw_write(c, frame, sizeof frame);
    assert_failed(c, 1002, "length MSB");
    cx_raw_destroy(&c);
}

Test(framing, frames_split_byte_by_byte_are_served)
{
    cx_raw *c = open_plain();
    char m[128];
    size_t n = echo_message(m, sizeof m, "slow");
    /* One byte per write: the header and payload reach the gateway in many reads. */
    unsigned char frame[256];
    frame[0] = 0x81;
    frame[1] = (unsigned char) (0x80 | n);
    memset(frame + 2, 0, 4);   /* a zero mask key: the payload goes as is */
    memcpy(frame + 6, m, n);
    for (size_t i = 0; i < n + 6; i++) {
        cx_raw_write(c, frame + i, 1);
        usleep(2000);
    }
    assert_echo(c, "slow");
    cx_raw_destroy(&c);
}

/* -------------------------------------------------------------- ping/pong */

Test(pingpong, a_ping_is_answered_with_a_pong_of_the_same_payload)
{
    cx_raw *c = open_plain();
    char payload[125];
    memset(payload, 'p', sizeof payload);
    cx_raw_frame(c, 1, 0, 0x9, 1, payload, sizeof payload);
    int opcode = 0;
    char *got = NULL;
    size_t len = 0;
    cr_assert_eq(cx_raw_read_frame(c, 10000, &opcode, NULL, &got, &len), 1);
    cr_assert_eq(opcode, 0xA);
    cr_assert_eq(len, sizeof payload);
    cr_assert_eq(memcmp(got, payload, len), 0);
    free(got);
    cx_raw_destroy(&c);
}

Test(pingpong, a_ping_over_125_bytes_fails_with_1002)
{
    cx_raw *c = open_plain();
    char payload[126];
    memset(payload, 'p', sizeof payload);
    cx_raw_frame(c, 1, 0, 0x9, 1, payload, sizeof payload);
    assert_failed(c, 1002, "126-byte ping");
    cx_raw_destroy(&c);
}

Test(pingpong, an_unsolicited_pong_is_ignored)
{
    cx_raw *c = open_plain();
    cx_raw_frame(c, 1, 0, 0xA, 1, "hi", 2);
    send_echo(c, "after-pong");
    assert_echo(c, "after-pong");
    cx_raw_destroy(&c);
}

Test(pingpong, a_fragmented_ping_fails_with_1002)
{
    cx_raw *c = open_plain();
    cx_raw_frame(c, 0, 0, 0x9, 1, "a", 1);
    assert_failed(c, 1002, "fragmented ping");
    cx_raw_destroy(&c);
}

/* ---------------------------------------------------------- reserved bits */

Test(reserved_bits, rsv1_rsv2_rsv3_without_an_extension_fail_with_1002)
{
    const struct { int rsv, opcode; } cases[] = { { 4, 0x1 }, { 2, 0x1 }, { 1, 0x1 }, { 7, 0x1 }, { 4, 0x9 }, { 2, 0x2 } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cx_raw *c = open_plain();
        char m[128];
        size_t n = echo_message(m, sizeof m, "rsv");
        cx_raw_frame(c, 1, cases[i].rsv, cases[i].opcode, 1, m, n);
        char what[64];
        snprintf(what, sizeof what, "rsv %d opcode %d", cases[i].rsv, cases[i].opcode);
        assert_failed(c, 1002, what);
        cx_raw_destroy(&c);
    }
}

/* ---------------------------------------------------------------- opcodes */

Test(opcodes, reserved_opcodes_fail_with_1002)
{
    const int reserved[] = { 3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        cx_raw *c = open_plain();
        cx_raw_frame(c, 1, 0, reserved[i], 1, "x", 1);
        char what[32];
        snprintf(what, sizeof what, "opcode %d", reserved[i]);
        assert_failed(c, 1002, what);
        cx_raw_destroy(&c);
    }
}

Test(opcodes, a_binary_frame_closes_with_1003_as_before)
{
    cx_raw *c = open_plain();
    cx_raw_frame(c, 1, 0, 0x2, 1, "\x01\x02", 2);
    cr_assert_eq(cx_raw_expect_close(c, 10000, NULL), 1003);
    cx_raw_destroy(&c);
}

/* ---------------------------------------------------------- fragmentation */

Test(fragmentation, a_message_in_three_fragments_with_a_ping_between_is_one_message)
{
    cx_raw *c = open_plain();
    char m[128];
    size_t n = echo_message(m, sizeof m, "fragmented");
    cx_raw_frame(c, 0, 0, 0x1, 1, m, 5);
    cx_raw_frame(c, 0, 0, 0x0, 1, m + 5, 10);
    cx_raw_frame(c, 1, 0, 0x9, 1, "mid", 3);
    cx_raw_frame(c, 1, 0, 0x0, 1, m + 15, n - 15);
    int opcode = 0;
    char *pong = NULL;
    cr_assert_eq(cx_raw_read_frame(c, 10000, &opcode, NULL, &pong, NULL), 1);
    cr_assert_eq(opcode, 0xA, "the ping inside the message is answered first");
    free(pong);
    assert_echo(c, "fragmented");
    cx_raw_destroy(&c);
}

Test(fragmentation, a_continuation_without_a_message_fails_with_1002)
{
    cx_raw *c = open_plain();
    cx_raw_frame(c, 1, 0, 0x0, 1, "x", 1);
    assert_failed(c, 1002, "lone continuation");
    cx_raw_destroy(&c);
}

Test(fragmentation, a_new_message_inside_a_fragmented_one_fails_with_1002)
{
    cx_raw *c = open_plain();
    char m[128];
    size_t n = echo_message(m, sizeof m, "x");
    cx_raw_frame(c, 0, 0, 0x1, 1, m, 4);
    cx_raw_frame(c, 1, 0, 0x1, 1, m, n);
    assert_failed(c, 1002, "text inside a fragmented text");
    cx_raw_destroy(&c);
}

/* ------------------------------------------------------------------ UTF-8 */

Test(utf8, invalid_utf8_fails_with_1007)
{
    cx_raw *c = open_plain();
    const char bad[] = "{\"action\":\"echo\",\"payload\":\"\xc0\xaf\"}";   /* an overlong '/' */
    cx_raw_frame(c, 1, 0, 0x1, 1, bad, sizeof bad - 1);
    assert_failed(c, 1007, "overlong");
    cx_raw_destroy(&c);
}

Test(utf8, a_character_split_across_fragments_is_valid)
{
    cx_raw *c = open_plain();
    const char m[] = "{\"action\":\"echo\",\"payload\":\"\xf0\x9f\x98\x80\"}";   /* U+1F600 */
    const char *split = strchr(m, '\xf0') + 2;
    cx_raw_frame(c, 0, 0, 0x1, 1, m, (size_t) (split - m));
    cx_raw_frame(c, 1, 0, 0x0, 1, split, strlen(split));
    assert_echo(c, "\xf0\x9f\x98\x80");
    cx_raw_destroy(&c);
}

Test(utf8, invalid_utf8_in_a_later_fragment_fails_with_1007)
{
    cx_raw *c = open_plain();
    cx_raw_frame(c, 0, 0, 0x1, 1, "{\"action\":\"echo\",\"payload\":\"\xce", 29);
    cx_raw_frame(c, 1, 0, 0x0, 1, "\xff\"}", 3);
    assert_failed(c, 1007, "bad continuation byte in the next fragment");
    cx_raw_destroy(&c);
}

Test(utf8, a_message_ending_inside_a_character_fails_with_1007)
{
    cx_raw *c = open_plain();
    cx_raw_frame(c, 1, 0, 0x1, 1, "\"\xe2\x82", 3);
    assert_failed(c, 1007, "truncated sequence");
    cx_raw_destroy(&c);
}

Test(utf8, surrogates_fail_with_1007)
{
    cx_raw *c = open_plain();
    cx_raw_frame(c, 1, 0, 0x1, 1, "\xed\xa0\x80", 3);
    assert_failed(c, 1007, "U+D800");
    cx_raw_destroy(&c);
}

/* ---------------------------------------------------------- close handling */

Test(close_handling, valid_codes_are_echoed_and_the_connection_ends)
{
    const int valid[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        cx_raw *c = open_plain();
        cx_raw_close_frame(c, valid[i], "bye", 3);
        char what[32];
        snprintf(what, sizeof what, "close %d", valid[i]);
        assert_failed(c, valid[i], what);
        cx_raw_destroy(&c);
    }
}

Test(close_handling, invalid_codes_answer_1002)
{
    const int invalid[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535 };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        cx_raw *c = open_plain();
        if (invalid[i] == 0)
            cx_raw_frame(c, 1, 0, 0x8, 1, "\0\0", 2);   /* code 0 itself, not an empty close */
        else
            cx_raw_close_frame(c, invalid[i], NULL, 0);
        char what[32];
        snprintf(what, sizeof what, "close %d", invalid[i]);
        assert_failed(c, 1002, what);
        cx_raw_destroy(&c);
    }
}

Test(close_handling, a_one_byte_close_payload_answers_1002)
{
    cx_raw *c = open_plain();
    cx_raw_close_frame(c, -1, NULL, 0);
    assert_failed(c, 1002, "1-byte close");
    cx_raw_destroy(&c);
}

Test(close_handling, an_empty_close_is_answered_with_1000)
{
    cx_raw *c = open_plain();
    cx_raw_close_frame(c, 0, NULL, 0);
    assert_failed(c, 1000, "empty close");
    cx_raw_destroy(&c);
}

Test(close_handling, a_reason_that_is_not_utf8_answers_1007)
{
    cx_raw *c = open_plain();
    cx_raw_close_frame(c, 1000, "\xff\xfe", 2);
    assert_failed(c, 1007, "bad reason");
    cx_raw_destroy(&c);
}

Test(close_handling, nothing_after_the_close_frame_is_read_or_delivered)
{
    cx_raw *c = open_plain();
    cx_raw_close_frame(c, 1000, NULL, 0);
    send_echo(c, "too-late");
    assert_failed(c, 1000, "a message after close");
    cx_raw_destroy(&c);
}

Test(close_handling, a_close_answering_the_gateways_own_ends_the_connection_at_once)
{
    cx_raw *c = open_plain();
    cx_raw_frame(c, 1, 0, 0x2, 1, "\x01", 1);   /* binary: the gateway closes with 1003 */
    cr_assert_eq(cx_raw_expect_close(c, 10000, NULL), 1003);
    cx_raw_close_frame(c, 1003, NULL, 0);
    cr_assert(cx_raw_wait_eof(c, 2500), "the gateway ends the TCP connection once the client answered");
    cx_raw_destroy(&c);
}

/* ------------------------------------------------------------------ limits */

Test(wire_limits, a_request_line_over_4096_bytes_is_414)
{
    cx_raw *c = cx_raw_open(cx_stack_gateway_port(stack, 0));
    size_t n = 20000;
    char *req = malloc(n + 256);
    int k = sprintf(req, "GET /ws/edge_proto/plain/?q=");
    memset(req + k, 'a', n);
    strcpy(req + k + n, " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    cx_raw_write(c, req, strlen(req));
    free(req);
    cr_assert_eq(cx_raw_read_head(c, 10000), 414);
    cx_raw_destroy(&c);
}

Test(wire_limits, a_head_over_8192_bytes_is_431)
{
    cx_raw *c = cx_raw_open(cx_stack_gateway_port(stack, 0));
    char req[12000];
    int k = sprintf(req, "GET /ws/edge_proto/plain/ HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 100; i++)
        k += sprintf(req + k, "X-Filler-%03d: %080d\r\n", i, i);
    k += sprintf(req + k, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    cx_raw_write(c, req, (size_t) k);
    cr_assert_eq(cx_raw_read_head(c, 10000), 431);
    cx_raw_destroy(&c);
}

Test(wire_limits, a_nul_in_the_path_is_400)
{
    cx_raw *c = cx_raw_open(cx_stack_gateway_port(stack, 0));
    const char req[] = "GET /ws/edge_proto/pl%00ain/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    cx_raw_write(c, req, sizeof req - 1);
    cr_assert_eq(cx_raw_read_head(c, 10000), 400);
    cx_raw_destroy(&c);
}

Test(wire_limits, a_head_that_trickles_in_is_cut_after_the_handshake_timeout)
{
    cx_raw *c = cx_raw_open(cx_stack_gateway_port(stack, 0));
    const char req[] = "GET /ws/edge_proto/plain/ HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    cx_raw_write(c, req, sizeof req - 1);
    int cut = 0;
    for (int i = 0; i < 40 && !cut; i++) {   /* a byte every 250 ms, for up to 10 s; the timeout is 2 s */
        if (cx_raw_write(c, "a", 1) != 0)
            cut = 1;
        else
            cut = cx_raw_wait_eof(c, 250);
    }
    cr_assert(cut, "a client trickling its head was never cut");
    cx_raw_destroy(&c);
}

Test(wire_limits, a_message_over_the_limit_closes_with_1009)
{
    cx_raw *c = open_plain();
    size_t n = 70000;
    char *big = malloc(n);
    memset(big, 'a', n);
    cx_raw_frame(c, 1, 0, 0x1, 1, big, n);
    free(big);
    cr_assert_eq(cx_raw_expect_close(c, 10000, NULL), 1009);
    cx_raw_destroy(&c);
}
