/* Batches of envelopes (proto/batch.h): order, and a bad envelope dropped alone. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "proto/batch.h"
#include "proto/envelope.h"

static cx_encoder *enc;
static cx_decoder *dec;
static cx_batch *batch;
static void setup(void) { enc = cx_encoder_new(); dec = cx_decoder_new(); batch = cx_batch_new(); }
static void teardown(void) { cx_encoder_destroy(&enc); cx_decoder_destroy(&dec); cx_batch_destroy(&batch); }
TestSuite(batch, .init = setup, .fini = teardown);

static void add_send(uint64_t conn, const char *text)
{
    cx_env env = { .type = CX_ENV_SEND, .conn = conn, .text = cx_slice_of(text) };
    const char *data;
    size_t len;
    cr_assert_eq(cx_encoder_encode(enc, &env, &data, &len), 0);
    cr_assert_eq(cx_batch_add(batch, data, len), 0);
}

/* The batch's message in a buffer of its exact size (a read past it is caught under ASan). */
static unsigned char *message(size_t *len)
{
    const void *data;
    cx_batch_message(batch, &data, len);
    unsigned char *copy = malloc(*len);
    memcpy(copy, data, *len);
    return copy;
}

Test(batch, envelopes_come_out_in_order_and_a_malformed_one_drops_alone)
{
    add_send(1, "{\"action\":\"one\"}");
    cr_assert_eq(cx_batch_add(batch, "\x93\x01\x07\xc1", 4), 0);   /* garbage in a well-framed slot */
    add_send(2, "{\"action\":\"two\"}");
    cr_assert_eq(cx_batch_count(batch), 3);
    size_t len;
    unsigned char *msg = message(&len);
    cx_batch_reader r;
    cr_assert_eq(cx_batch_open(&r, msg, len), 1);
    const void *env;
    size_t env_len;
    cx_env out;
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), 1);
    cr_assert_eq(cx_decoder_decode(dec, env, env_len, &out), 0);
    cr_assert(out.conn == 1 && cx_slice_eq(out.text, "{\"action\":\"one\"}"));
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), 1);
    cr_assert_neq(cx_decoder_decode(dec, env, env_len, &out), 0, "garbage decoded");
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), 1);
    cr_assert_eq(cx_decoder_decode(dec, env, env_len, &out), 0);
    cr_assert(out.conn == 2 && cx_slice_eq(out.text, "{\"action\":\"two\"}"));
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), 0);
    free(msg);
}

Test(batch, one_envelope_leaves_as_itself_and_an_envelope_is_not_a_batch)
{
    add_send(7, "{}");
    size_t len;
    unsigned char *msg = message(&len);
    cx_batch_reader r;
    cr_assert_eq(cx_batch_open(&r, msg, len), 0);
    cx_env out;
    cr_assert_eq(cx_decoder_decode(dec, msg, len, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert_eq(out.conn, 7);
    free(msg);
}

Test(batch, cleared_batch_starts_again_empty)
{
    add_send(1, "{}");
    add_send(2, "{}");
    cx_batch_clear(batch);
    cr_assert_eq(cx_batch_count(batch), 0);
    cr_assert_eq(cx_batch_bytes(batch), 0);
    add_send(3, "{}");
    size_t len;
    unsigned char *msg = message(&len);
    cx_env out;
    cr_assert_eq(cx_decoder_decode(dec, msg, len, &out), 0);
    cr_assert_eq(out.conn, 3);
    free(msg);
}

Test(batch, broken_framing_keeps_what_came_before_and_never_reads_past_the_end)
{
    add_send(1, "{\"action\":\"one\"}");
    add_send(2, "{\"action\":\"two\"}");
    size_t len;
    unsigned char *msg = message(&len);
    cx_batch_reader r;
    cr_assert_eq(cx_batch_open(&r, msg, len - 3), 1);   /* the second envelope cut short */
    const void *env;
    size_t env_len;
    cx_env out;
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), 1);
    cr_assert_eq(cx_decoder_decode(dec, env, env_len, &out), 0);
    cr_assert_eq(out.conn, 1);
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), -1);
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), 0);
    free(msg);
}

Test(batch, bytes_past_the_announced_envelopes_are_broken_framing)
{
    add_send(1, "{}");
    add_send(2, "{}");
    size_t len;
    unsigned char *msg = message(&len);
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, msg, len);
    longer[len] = 0xc0;
    cx_batch_reader r;
    cr_assert_eq(cx_batch_open(&r, longer, len + 1), 1);
    const void *env;
    size_t env_len;
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), 1);
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), 1);
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), -1);
    free(longer);
    free(msg);
}

Test(batch, a_batch_is_never_decoded_as_an_envelope_nor_nested)
{
    add_send(1, "{}");
    add_send(2, "{}");
    size_t len;
    unsigned char *inner = message(&len);
    cx_env out;
    cr_assert_neq(cx_decoder_decode(dec, inner, len, &out), 0, "a batch decoded as one envelope");
    cx_batch_clear(batch);
    cr_assert_eq(cx_batch_add(batch, inner, len), 0);   /* a batch inside a batch */
    add_send(3, "{}");
    size_t outer_len;
    unsigned char *outer = message(&outer_len);
    cx_batch_reader r;
    cr_assert_eq(cx_batch_open(&r, outer, outer_len), 1);
    const void *env;
    size_t env_len;
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), 1);
    cr_assert_neq(cx_decoder_decode(dec, env, env_len, &out), 0, "a nested batch was taken");
    cr_assert_eq(cx_batch_next(&r, &env, &env_len), 1);
    cr_assert_eq(cx_decoder_decode(dec, env, env_len, &out), 0);
    cr_assert_eq(out.conn, 3);
    free(inner);
    free(outer);
}

Test(batch, hello_says_whether_the_peer_reads_batches_and_an_older_hello_still_decodes)
{
    cx_env hello = { .type = CX_ENV_HELLO, .role = CX_ROLE_GATEWAY, .pid = 9, .node = cx_slice_of("gw"),
                     .flags = CX_HELLO_READS_BATCH };
    const char *data;
    size_t len;
    cr_assert_eq(cx_encoder_encode(enc, &hello, &data, &len), 0);
    cx_env out;
    cr_assert_eq(cx_decoder_decode(dec, data, len, &out), 0);
    cr_assert_eq(out.flags, CX_HELLO_READS_BATCH);
    /* [1, HELLO, role 1, pid 9, "gw"]: a peer built before batches */
    static const unsigned char old[] = { 0x95, 0x01, 0x01, 0x01, 0x09, 0xa2, 'g', 'w' };
    cr_assert_eq(cx_decoder_decode(dec, old, sizeof old, &out), 0, "%s", cx_decoder_error(dec));
    cr_assert_eq(out.flags, 0);
    cr_assert(cx_slice_eq(out.node, "gw"));
}
