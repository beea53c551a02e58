/*
 * fuzz_envelope — the msgpack envelope decoder (proto/envelope.h), which
 * reads every byte the broker, gateways and workers send each other.
 * Whatever it accepts must encode again and decode to the same envelope.
 * The same bytes are read as a batch too (proto/batch.h): every slice the
 * batch reader hands out lies inside the input, and is decoded on its own.
 */
#include "proto/batch.h"
#include "proto/envelope.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int same_slice(cx_slice a, cx_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cx_decoder *dec, *dec2;
    static cx_encoder *enc;
    if (!dec) {
        dec = cx_decoder_new();
        dec2 = cx_decoder_new();
        enc = cx_encoder_new();
    }
    /* An exact-size copy: the decoder must not read past len. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    cx_env env;
    memset(&env, 0, sizeof env);
    if (cx_decoder_decode(dec, copy, size, &env) == 0) {
        (void) cx_env_type_name(env.type);
        const char *out;
        size_t out_len;
        if (cx_encoder_encode(enc, &env, &out, &out_len) == 0) {
            cx_env again;
            memset(&again, 0, sizeof again);
            if (cx_decoder_decode(dec2, out, out_len, &again) != 0)
                abort();   /* what we encode, we must decode */
            if (again.type != env.type || again.conn != env.conn || !same_slice(again.text, env.text))
                abort();
        }
    } else if (!cx_decoder_error(dec)) {
        abort();   /* a refusal always says why */
    }
    cx_batch_reader r;
    if (cx_batch_open(&r, copy, size)) {
        const void *part;
        size_t part_len;
        while (cx_batch_next(&r, &part, &part_len) == 1) {
            if ((const uint8_t *) part < copy || (const uint8_t *) part + part_len > copy + size)
                abort();
            (void) cx_decoder_decode(dec2, part, part_len, &env);
        }
    }
    free(copy);
    return 0;
}
