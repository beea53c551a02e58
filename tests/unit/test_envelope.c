/* The inter-process envelopes: round trips and hostile input. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "proto/envelope.h"

static cx_encoder *enc;
static cx_decoder *dec;
static void setup(void) { enc = cx_encoder_new(); dec = cx_decoder_new(); }
static void teardown(void) { cx_encoder_destroy(&enc); cx_decoder_destroy(&dec); }
TestSuite(envelope, .init = setup, .fini = teardown);

static void roundtrip(const cx_env *in, cx_env *out, char **copy)
{
    const char *data;
    size_t len;
    cr_assert_eq(cx_encoder_encode(enc, in, &data, &len), 0);
    *copy = malloc(len);
    memcpy(*copy, data, len);
    cr_assert_eq(cx_decoder_decode(dec, *copy, len, out), 0, "%s", cx_decoder_error(dec));
}

Test(envelope, connect_round_trip_keeps_every_field)
{
    cx_env in = { .type = CX_ENV_CONNECT, .conn = 0x1234567800000042ULL, .consumer = cx_slice_of("chat.chat"),
                  .path = cx_slice_of("/ws/chat/lobby/"), .query = cx_slice_of("a=1"), .client = cx_slice_of("127.0.0.1"),
                  .kwargs = cx_slice_of("{\"room_id\":\"lobby\"}"), .headers = cx_slice_of("{}"), .user_id = -7,
                  .flags = CX_USER_AUTHENTICATED | CX_USER_STAFF, .username = cx_slice_of("alice"), .obj = cx_slice_of("") };
    cx_env out;
    char *copy;
    roundtrip(&in, &out, &copy);
    cr_assert_eq(out.type, CX_ENV_CONNECT);
    cr_assert_eq(out.conn, in.conn);
    cr_assert_eq(out.user_id, -7);
    cr_assert_eq(out.flags, in.flags);
    cr_assert(cx_slice_eq(out.consumer, "chat.chat"));
    cr_assert(cx_slice_eq(out.path, "/ws/chat/lobby/"));
    cr_assert(cx_slice_eq(out.kwargs, "{\"room_id\":\"lobby\"}"));
    cr_assert(cx_slice_eq(out.username, "alice"));
    cr_assert_eq(out.obj.len, 0);
    free(copy);
}

Test(envelope, group_send_and_routes_round_trip)
{
    cx_env in = { .type = CX_ENV_GROUP_SEND, .ngroups = 2, .conn = 9, .user_id = 3, .flags = 5,
                  .text = cx_slice_of("{\"action\":\"chat\"}") };
    in.groups[0] = cx_slice_of("a");
    in.groups[1] = cx_slice_of("b");
    cx_env out;
    char *copy;
    roundtrip(&in, &out, &copy);
    cr_assert_eq(out.ngroups, 2);
    cr_assert(cx_slice_eq(out.groups[1], "b"));
    cr_assert_eq(out.flags, 5);
    free(copy);
    cx_env_route rows[2] = { { 0, cx_slice_of("ws/echo/"), cx_slice_of("echo.echo"), cx_slice_of("{}"), 1 },
                             { 1, cx_slice_of("^ws/x/$"), cx_slice_of("x.y"), cx_slice_of("{}"), 0 } };
    cx_env routes = { .type = CX_ENV_ROUTES, .routes = rows, .nroutes = 2 };
    roundtrip(&routes, &out, &copy);
    cr_assert_eq(out.nroutes, 2);
    cr_assert_eq(out.routes[1].kind, 1);
    cr_assert_eq(out.routes[1].available, 0);
    cr_assert(cx_slice_eq(out.routes[0].target, "echo.echo"));
    free(copy);
}

Test(envelope, resume_carries_a_connection_and_its_groups)
{
    cx_env in = { .type = CX_ENV_RESUME, .conn = ((uint64_t) 7 << 32) | 42, .ngroups = 2, .user_id = 31 };
    in.groups[0] = cx_slice_of("chat_room_1");
    in.groups[1] = cx_slice_of("staff");
    cx_env out;
    char *copy;
    roundtrip(&in, &out, &copy);
    cr_assert_eq(out.type, CX_ENV_RESUME);
    cr_assert_eq(out.conn, in.conn);
    cr_assert_eq(out.ngroups, 2);
    cr_assert(cx_slice_eq(out.groups[0], "chat_room_1"));
    cr_assert_eq(out.user_id, 31, "the connection's user, for events to a user after a broker restart");
    cr_assert_str_eq(cx_env_type_name(CX_ENV_RESUME), "RESUME");
    free(copy);
    cx_env end = { .type = CX_ENV_RESUME };   /* conn 0: the end of an introduction */
    roundtrip(&end, &out, &copy);
    cr_assert_eq(out.conn, 0);
    cr_assert_eq(out.ngroups, 0);
    free(copy);
}

/* RESUME gained user_id after its first release, then history, username and connected_ms: a peer
 * built before any of them (no user field) still decodes, as user 0, and so does one built before
 * the later ones; more fields than the layout has, or fewer than required, are refused as before. */
Test(envelope, resume_without_the_appended_user_decodes_and_other_counts_do_not)
{
    cx_env out;
    static const unsigned char old[] = { 0x94, 0x01, 0x0d, 0x07, 0x92, 0xa1, 'a', 0xa1, 'b' };
    cr_assert_eq(cx_decoder_decode(dec, old, sizeof old, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert_eq(out.conn, 7);
    cr_assert_eq(out.ngroups, 2);
    cr_assert_eq(out.user_id, 0);
    static const unsigned char now[] = { 0x95, 0x01, 0x0d, 0x07, 0x92, 0xa1, 'a', 0xa1, 'b', 0x2a };
    cr_assert_eq(cx_decoder_decode(dec, now, sizeof now, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert_eq(out.user_id, 42);
    static const unsigned char partial[] = { 0x96, 0x01, 0x0d, 0x07, 0x92, 0xa1, 'a', 0xa1, 'b', 0x2a, 0x05 };
    cr_assert_eq(cx_decoder_decode(dec, partial, sizeof partial, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert_eq(out.history_size, 5);
    static const unsigned char too_many[] = { 0x9b, 0x01, 0x0d, 0x07, 0x92, 0xa1, 'a', 0xa1, 'b', 0x2a, 0x00,
                                              0x00, 0xa0, 0x00, 0x00, 0x00 };
    cr_assert_neq(cx_decoder_decode(dec, too_many, sizeof too_many, &out), 0);
    cr_assert_str_eq(cx_decoder_error(dec), "RESUME: wrong number of fields");
    static const unsigned char too_few[] = { 0x93, 0x01, 0x0d, 0x07 };
    cr_assert_neq(cx_decoder_decode(dec, too_few, sizeof too_few, &out), 0);
    static const unsigned char user_as_str[] = { 0x95, 0x01, 0x0d, 0x07, 0x90, 0xa1, 'x' };
    cr_assert_neq(cx_decoder_decode(dec, user_as_str, sizeof user_as_str, &out), 0);
}

/* HELLO gained flags (the worker supervisor's) after its first release: an older peer's HELLO still
 * decodes, with flags 0, so it is an ordinary peer. */
Test(envelope, hello_without_the_appended_flags_decodes_as_an_ordinary_peer)
{
    cx_env out;
    static const unsigned char old[] = { 0x95, 0x01, 0x01, 0x02, 0x07, 0xa1, 'w' };
    cr_assert_eq(cx_decoder_decode(dec, old, sizeof old, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert_eq(out.role, 2);
    cr_assert_eq(out.pid, 7);
    cr_assert_eq(out.flags, 0);
    cx_env in = { .type = CX_ENV_HELLO, .role = 2, .pid = 7, .node = cx_slice_of("w"), .flags = CX_HELLO_SUPERVISOR };
    char *copy;
    roundtrip(&in, &out, &copy);
    cr_assert_eq(out.flags, CX_HELLO_SUPERVISOR);
    free(copy);
}

/* WORKER_EXIT: which worker process died, of what, and in whose callback. */
Test(envelope, worker_exit_round_trip_keeps_every_field)
{
    cx_env in = { .type = CX_ENV_WORKER_EXIT, .node = cx_slice_of("worker-h-10-11"), .pid = 11, .code = 11,
                  .conn = ((uint64_t) 3 << 32) | 5, .consumer = cx_slice_of("crash_probe.boom"),
                  .text = cx_slice_of("receive_message") };
    cx_env out;
    char *copy;
    roundtrip(&in, &out, &copy);
    cr_assert_eq(out.type, CX_ENV_WORKER_EXIT);
    cr_assert(cx_slice_eq(out.node, "worker-h-10-11"));
    cr_assert_eq(out.pid, 11);
    cr_assert_eq(out.code, 11);
    cr_assert_eq(out.conn, in.conn);
    cr_assert(cx_slice_eq(out.consumer, "crash_probe.boom"));
    cr_assert(cx_slice_eq(out.text, "receive_message"));
    cr_assert_str_eq(cx_env_type_name(CX_ENV_WORKER_EXIT), "WORKER_EXIT");
    free(copy);
}

/* REPIN: the broker asks a gateway for a connection's CONNECT again; CONNECT's restarted flag and
 * HELLO's repins flag travel as they are; a REPIN with more or fewer fields is refused. */
Test(envelope, repin_round_trip_and_refusals)
{
    cx_env in = { .type = CX_ENV_REPIN, .conn = ((uint64_t) 3 << 32) | 5 }, out;
    char *copy;
    roundtrip(&in, &out, &copy);
    cr_assert_eq(out.type, CX_ENV_REPIN);
    cr_assert_eq(out.conn, in.conn);
    cr_assert_str_eq(cx_env_type_name(CX_ENV_REPIN), "REPIN");
    free(copy);
    static const unsigned char none[] = { 0x92, 0x01, 0x16 }, two[] = { 0x94, 0x01, 0x16, 0x05, 0x05 },
                               text[] = { 0x93, 0x01, 0x16, 0xa1, 'x' };
    cr_assert_neq(cx_decoder_decode(dec, none, sizeof none, &out), 0);
    cr_assert_neq(cx_decoder_decode(dec, two, sizeof two, &out), 0);
    cr_assert_neq(cx_decoder_decode(dec, text, sizeof text, &out), 0);
    cx_env connect = { .type = CX_ENV_CONNECT, .conn = 9, .consumer = cx_slice_of("a.b"),
                       .flags = CX_USER_AUTHENTICATED | CX_USER_RESTARTED };
    roundtrip(&connect, &out, &copy);
    cr_assert_eq(out.flags, CX_USER_AUTHENTICATED | CX_USER_RESTARTED);
    free(copy);
    cx_env hello = { .type = CX_ENV_HELLO, .role = 1, .pid = 7, .node = cx_slice_of("g"), .flags = CX_HELLO_REPINS };
    roundtrip(&hello, &out, &copy);
    cr_assert_eq(out.flags, CX_HELLO_REPINS);
    free(copy);
}

/* ACK: a worker's (conn, handled) pairs travel in order; an odd count, a non-integer or more than
 * CX_PROTO_MAX_ACKS pairs are refused, and the type can be told without decoding (cx_env_peek_type). */
Test(envelope, ack_round_trip_and_refusals)
{
    uint64_t pairs[] = { ((uint64_t) 3 << 32) | 5, 7, 11, 0, ((uint64_t) 3 << 32) | 5, 9 };
    cx_env in = { .type = CX_ENV_ACK, .nacks = 3, .acks = pairs }, out;
    char *copy;
    roundtrip(&in, &out, &copy);
    cr_assert_eq(out.type, CX_ENV_ACK);
    cr_assert_eq(out.nacks, 3);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(out.acks[i], pairs[i]);
    cr_assert_str_eq(cx_env_type_name(CX_ENV_ACK), "ACK");
    free(copy);
    const char *data;
    size_t len;
    cr_assert_eq(cx_encoder_encode(enc, &in, &data, &len), 0);
    cr_assert_eq(cx_env_peek_type(data, len), CX_ENV_ACK);
    cr_assert_eq(cx_env_peek_type(data, 2), -1);
    static const unsigned char odd[] = { 0x93, 0x01, 0x18, 0x93, 0x01, 0x02, 0x03 },
                               text[] = { 0x93, 0x01, 0x18, 0x92, 0x01, 0xa1, 'x' };
    cr_assert_neq(cx_decoder_decode(dec, odd, sizeof odd, &out), 0);
    cr_assert_neq(cx_decoder_decode(dec, text, sizeof text, &out), 0);
    in.nacks = CX_PROTO_MAX_ACKS + 1;
    cr_assert_neq(cx_encoder_encode(enc, &in, &data, &len), 0);
    cx_env hello = { .type = CX_ENV_HELLO, .role = 2, .pid = 7, .node = cx_slice_of("w"), .flags = CX_HELLO_ACKS };
    roundtrip(&hello, &out, &copy);
    cr_assert_eq(out.flags, CX_HELLO_ACKS);
    free(copy);
}

/* A route row's available says quarantined (2) too; anything past it is refused. */
Test(envelope, a_route_row_can_be_quarantined_and_nothing_past_it)
{
    cx_env_route row = { .pattern = cx_slice_of("ws/x/"), .target = cx_slice_of("x.x"), .spec = cx_slice_of("{}"),
                         .available = CX_ROUTE_QUARANTINED };
    cx_env in = { .type = CX_ENV_ROUTES, .nroutes = 1, .routes = &row }, out;
    char *copy;
    roundtrip(&in, &out, &copy);
    cr_assert_eq(out.routes[0].available, CX_ROUTE_QUARANTINED);
    free(copy);
    row.available = 3;
    const char *data;
    size_t len;
    cr_assert_eq(cx_encoder_encode(enc, &in, &data, &len), 0);
    cr_assert_neq(cx_decoder_decode(dec, data, len, &out), 0);
}

Test(envelope, every_truncation_is_an_error_not_a_crash)
{
    cx_env in = { .type = CX_ENV_SEND, .conn = 77, .text = cx_slice_of("{\"action\":\"pong\",\"payload\":null}") };
    const char *data;
    size_t len;
    cr_assert_eq(cx_encoder_encode(enc, &in, &data, &len), 0);
    char *copy = malloc(len);
    memcpy(copy, data, len);
    cx_env out;
    for (size_t n = 0; n < len; n++)
        cr_assert_neq(cx_decoder_decode(dec, copy, n, &out), 0, "a %zu-byte prefix decoded", n);
    cr_assert_eq(cx_decoder_decode(dec, copy, len, &out), 0);
    free(copy);
}

Test(envelope, garbage_wrong_version_and_wrong_types_are_refused_with_a_reason)
{
    cx_env out;
    const char garbage[] = "\xc1\xc1\xc1 not msgpack";
    cr_assert_neq(cx_decoder_decode(dec, garbage, sizeof garbage - 1, &out), 0);
    cr_assert(strstr(cx_decoder_error(dec), "garbage") != NULL, "%s", cx_decoder_error(dec));
    const unsigned char v2[] = { 0x92, 0x02, 0x02 };   /* [2, HEARTBEAT] */
    cr_assert_neq(cx_decoder_decode(dec, v2, sizeof v2, &out), 0);
    cr_assert(strstr(cx_decoder_error(dec), "version") != NULL);
    const unsigned char bad_type[] = { 0x92, 0x01, 0x63 };   /* [1, 99] */
    cr_assert_neq(cx_decoder_decode(dec, bad_type, sizeof bad_type, &out), 0);
    const unsigned char conn_as_str[] = { 0x94, 0x01, 0x06, 0xa1, 'x', 0xa1, 'y' };   /* RECEIVE with a str conn */
    cr_assert_neq(cx_decoder_decode(dec, conn_as_str, sizeof conn_as_str, &out), 0);
    const unsigned char too_few[] = { 0x93, 0x01, 0x06, 0x01 };   /* RECEIVE without text */
    cr_assert_neq(cx_decoder_decode(dec, too_few, sizeof too_few, &out), 0);
    const unsigned char trailing[] = { 0x92, 0x01, 0x02, 0x00 };
    cr_assert_neq(cx_decoder_decode(dec, trailing, sizeof trailing, &out), 0);
    const unsigned char not_array[] = { 0xa3, 'a', 'b', 'c' };
    cr_assert_neq(cx_decoder_decode(dec, not_array, sizeof not_array, &out), 0);
}

Test(envelope, random_bytes_never_crash_the_decoder)
{
    unsigned char buf[256];
    cx_env out;
    srand(42);
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t) (rand() % (int) sizeof buf);
        for (size_t j = 0; j < n; j++)
            buf[j] = (unsigned char) rand();
        if (n > 2 && i % 2) {   /* half of them start like a real envelope */
            buf[0] = 0x94;
            buf[1] = 0x01;
        }
        cx_decoder_decode(dec, buf, n, &out);
    }
}

Test(envelope, oversized_and_too_many_groups_are_refused)
{
    cx_env out;
    cr_assert_neq(cx_decoder_decode(dec, "x", CX_PROTO_MAX_ENVELOPE + 1, &out), 0);
    cx_env in = { .type = CX_ENV_GROUP_SEND, .ngroups = CX_PROTO_MAX_GROUPS + 1 };
    const char *data;
    size_t len;
    cr_assert_neq(cx_encoder_encode(enc, &in, &data, &len), 0);
}

Test(envelope, claimed_sizes_larger_than_the_message_are_refused_without_allocating)
{
    cx_env out;
    const unsigned char huge_array[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 };
    cr_assert_neq(cx_decoder_decode(dec, huge_array, sizeof huge_array, &out), 0);
    const unsigned char huge_str[] = { 0x93, 0x01, 0x07, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x' };
    cr_assert_neq(cx_decoder_decode(dec, huge_str, sizeof huge_str, &out), 0);
    const unsigned char huge_map[] = { 0x92, 0x01, 0xdf, 0x10, 0x00, 0x00, 0x00 };
    cr_assert_neq(cx_decoder_decode(dec, huge_map, sizeof huge_map, &out), 0);
}

/* History and presence (issue 25): the new types keep every field, and a GROUP_ADD or GROUP_SEND from a
 * peer built before their appended fields still decodes, with no history asked or stamped. */
/* The gateway's own answer, carried to the worker and back (proto/README.md): a frame, or a close. */
Test(envelope, answer_round_trip_and_refusals)
{
    cx_env in = { .type = CX_ENV_ANSWER, .conn = 12, .code = 1008, .text = cx_slice_of("Request was throttled.") };
    cx_env out;
    char *copy;
    roundtrip(&in, &out, &copy);
    cr_assert(out.type == CX_ENV_ANSWER && out.conn == 12 && out.code == 1008);
    cr_assert(cx_slice_eq(out.text, "Request was throttled."));
    free(copy);
    static const unsigned char two_fields[] = { 0x94, 0x01, 0x17, 0x0c, 0x00 };   /* [1, ANSWER, 12, 0]: no text */
    cr_assert_neq(cx_decoder_decode(dec, two_fields, sizeof two_fields, &out), 0);
    static const unsigned char code_as_str[] = { 0x95, 0x01, 0x17, 0x0c, 0xa1, 'x', 0xa0 };
    cr_assert_neq(cx_decoder_decode(dec, code_as_str, sizeof code_as_str, &out), 0);
}

Test(envelope, history_and_presence_envelopes_round_trip)
{
    cx_env in = { .type = CX_ENV_HISTORY, .conn = 9, .group = cx_slice_of("room_lobby"), .seq = UINT64_MAX - 1,
                  .epoch = cx_slice_of("9f2c61d0a4b3e857"), .user_id = 3, .flags = CX_GROUP_CAMELIZE,
                  .text = cx_slice_of("{\"a\":1}"), .history_size = 100, .history_ttl_ms = 600000 };
    cx_env out;
    char *copy;
    roundtrip(&in, &out, &copy);
    cr_assert_eq(out.seq, UINT64_MAX - 1);
    cr_assert(cx_slice_eq(out.epoch, "9f2c61d0a4b3e857") && cx_slice_eq(out.group, "room_lobby"));
    cr_assert(out.user_id == 3 && out.flags == CX_GROUP_CAMELIZE && out.history_size == 100
              && out.history_ttl_ms == 600000 && out.conn == 9);
    free(copy);
    cx_env rec = { .type = CX_ENV_RECOVERY, .conn = 9, .group = cx_slice_of("g"), .seq = 5, .epoch = cx_slice_of("e"),
                   .flags = CX_RECOVERY_RECOVERED | CX_RECOVERY_ASKED };
    roundtrip(&rec, &out, &copy);
    cr_assert(out.seq == 5 && out.flags == 3 && cx_slice_eq(out.epoch, "e"));
    free(copy);
    cx_env pres = { .type = CX_ENV_PRESENCE, .request = 77, .target = CX_PRESENCE_STATS, .group = cx_slice_of("g") };
    roundtrip(&pres, &out, &copy);
    cr_assert(out.request == 77 && out.target == CX_PRESENCE_STATS && cx_slice_eq(out.group, "g"));
    free(copy);
    cx_env add = { .type = CX_ENV_GROUP_ADD, .conn = 1, .group = cx_slice_of("g"), .history_size = CX_HISTORY_DEFAULT,
                   .history_ttl_ms = 1000, .since = cx_slice_of("e:4,f:5") };
    roundtrip(&add, &out, &copy);
    cr_assert(out.history_size == CX_HISTORY_DEFAULT && out.history_ttl_ms == 1000 && cx_slice_eq(out.since, "e:4,f:5"));
    free(copy);

    static const unsigned char old_add[] = { 0x94, 0x01, 0x0a, 0x07, 0xa1, 'g' };   /* [1, GROUP_ADD, 7, "g"] */
    cr_assert_eq(cx_decoder_decode(dec, old_add, sizeof old_add, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert(out.history_size == 0 && out.since.len == 0);
    static const unsigned char old_send[] = { 0x97, 0x01, 0x0c, 0x91, 0xa1, 'g', 0x07, 0x03, 0x00, 0xa2, '{', '}' };
    cr_assert_eq(cx_decoder_decode(dec, old_send, sizeof old_send, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert(out.seq == 0 && out.epoch.len == 0);
    static const unsigned char seq_as_str[] = { 0x99, 0x01, 0x0c, 0x91, 0xa1, 'g', 0x07, 0x03, 0x00, 0xa2, '{', '}',
                                                0xa1, 'x', 0xa0 };
    cr_assert_neq(cx_decoder_decode(dec, seq_as_str, sizeof seq_as_str, &out), 0);
    static const unsigned char standby_hello[] = { 0x95, 0x01, 0x01, 0x04, 0x01, 0xa1, 's' };
    cr_assert_eq(cx_decoder_decode(dec, standby_hello, sizeof standby_hello, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert_eq(out.role, CX_ROLE_STANDBY);
    static const unsigned char role_5[] = { 0x95, 0x01, 0x01, 0x05, 0x01, 0xa1, 's' };
    cr_assert_neq(cx_decoder_decode(dec, role_5, sizeof role_5, &out), 0);
}

/* RECEIVE [1, 6, conn, text] from hand-made bytes: conn's and text's encodings as given. */
static int decode_receive(const unsigned char *conn, size_t conn_len, const unsigned char *text, size_t text_len,
                          cx_env *out)
{
    static unsigned char buf[600] = { 0x94, 0x01, CX_ENV_RECEIVE };   /* static: out points into it */
    size_t n = 3;
    memcpy(buf + n, conn, conn_len), n += conn_len;
    memcpy(buf + n, text, text_len), n += text_len;
    return cx_decoder_decode(dec, buf, n, out);
}

/* Peers built with any msgpack library interoperate: every integer encoding of a value is that value
 * (a positive value sent in a signed encoding included, as msgpack-c reads it), every str and bin width is
 * a string, and a negative number, a float, nil or a boolean in an unsigned field is refused. */
Test(envelope, every_msgpack_encoding_of_a_value_reads_as_that_value)
{
    static const unsigned char text[] = { 0xa2, 'h', 'i' };
    static const struct { unsigned char bytes[9]; size_t len; uint64_t value; } conns[] = {
        { { 0x05 }, 1, 5 },                                                    /* positive fixint */
        { { 0xcc, 0xfa }, 2, 250 },                                            /* uint 8 */
        { { 0xcd, 0x12, 0x34 }, 3, 0x1234 },                                   /* uint 16 */
        { { 0xce, 0x12, 0x34, 0x56, 0x78 }, 5, 0x12345678 },                   /* uint 32 */
        { { 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9, UINT64_MAX },   /* uint 64 */
        { { 0xd0, 0x7f }, 2, 127 },                                            /* int 8, positive */
        { { 0xd1, 0x01, 0x00 }, 3, 256 },                                      /* int 16, positive */
        { { 0xd2, 0x00, 0x01, 0x00, 0x00 }, 5, 65536 },                        /* int 32, positive */
        { { 0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9, INT64_MAX },   /* int 64, positive */
    };
    cx_env out;
    for (size_t i = 0; i < sizeof conns / sizeof conns[0]; i++) {
        cr_assert_eq(decode_receive(conns[i].bytes, conns[i].len, text, sizeof text, &out), 0, "conn %zu: %s", i,
                     cx_decoder_error(dec));
        cr_assert_eq(out.conn, conns[i].value, "conn encoding %zu", i);
        cr_assert_eq(out.text.len, 2);
        cr_assert_eq(memcmp(out.text.ptr, "hi", 2), 0);
    }
    static const struct { unsigned char bytes[9]; size_t len; } refused[] = {
        { { 0xff }, 1 },                                     /* negative fixint -1 */
        { { 0xd0, 0x80 }, 2 },                               /* int 8 -128 */
        { { 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe }, 9 },   /* int 64 -2 */
        { { 0xca, 0x3f, 0x80, 0x00, 0x00 }, 5 },             /* float 32 1.0 */
        { { 0xc0 }, 1 },                                     /* nil */
        { { 0xc3 }, 1 },                                     /* true */
        { { 0x90 }, 1 },                                     /* an empty array */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_assert_neq(decode_receive(refused[i].bytes, refused[i].len, text, sizeof text, &out), 0,
                      "conn encoding %zu was accepted", i);
    /* text as str 8/16/32 and bin 8/16/32 */
    static const unsigned char one = 0x01;
    static const unsigned char heads[][5] = { { 0xd9, 2 }, { 0xda, 0, 2 }, { 0xdb, 0, 0, 0, 2 },
                                               { 0xc4, 2 }, { 0xc5, 0, 2 }, { 0xc6, 0, 0, 0, 2 } };
    static const size_t head_len[] = { 2, 3, 5, 2, 3, 5 };
    for (size_t i = 0; i < 6; i++) {
        unsigned char t[8];
        memcpy(t, heads[i], head_len[i]);
        memcpy(t + head_len[i], "ok", 2);
        cr_assert_eq(decode_receive(&one, 1, t, head_len[i] + 2, &out), 0, "text encoding %zu: %s", i,
                     cx_decoder_error(dec));
        cr_assert_eq(out.text.len, 2);
        cr_assert_eq(memcmp(out.text.ptr, "ok", 2), 0, "text encoding %zu", i);
    }
    static const unsigned char ext[] = { 0xd4, 0x01, 0x00 };   /* fixext 1: no string */
    cr_assert_neq(decode_receive(&one, 1, ext, sizeof ext, &out), 0);
}

/* A signed field (a user id) reads negative values in every width. */
Test(envelope, a_signed_field_reads_negative_values_in_every_width)
{
    cx_env in = { .type = CX_ENV_GROUP_SEND, .conn = 1, .user_id = -5, .text = cx_slice_of("{}") }, out;
    char *copy;
    static const int64_t values[] = { -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, (int64_t) INT32_MIN - 1,
                                      INT64_MIN };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        in.user_id = values[i];
        roundtrip(&in, &out, &copy);
        cr_assert_eq(out.user_id, values[i], "user_id %lld", (long long) values[i]);
        free(copy);
    }
}
