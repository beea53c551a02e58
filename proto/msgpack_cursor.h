/*
 * msgpack_cursor.h — reading msgpack in place, for the envelope decoder.
 *
 * cx_mp_well_formed walks a message once without building anything and
 * checks that it is exactly one msgpack value whose every length and
 * element count fits in the bytes present. After it said yes, a cursor
 * reads the value's parts in order with the readers below, which therefore
 * check types but not bounds: a reader that meets a value of another type
 * returns -1 and leaves the cursor where it was, and the caller gives up on
 * the message. Nothing is copied: strings point into the message.
 *
 * The types each reader accepts are msgpack-c's (what msgpack_unpack turned
 * into a POSITIVE_INTEGER, NEGATIVE_INTEGER, STR or BIN object): an
 * unsigned read takes any integer encoding of a value >= 0, the signed
 * encodings included; a string read takes str and bin. Floats, nil,
 * booleans, maps and exts are no integer and no string.
 */
#ifndef CX_PROTO_MSGPACK_CURSOR_H
#define CX_PROTO_MSGPACK_CURSOR_H

#include <stddef.h>
#include <stdint.h>

/* 1 when buf[0..len) is one well-formed msgpack value and nothing else, 0 otherwise. */
int cx_mp_well_formed(const void *buf, size_t len);

/* A position in a message cx_mp_well_formed accepted. */
typedef struct {
    const unsigned char *p;
} cx_mp_cursor;

static inline uint64_t cx_mp_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* An integer: 0 with *negative and *bits (a negative value's two's complement), -1 when it is none. */
static inline int cx_mp_integer(cx_mp_cursor *c, int *negative, uint64_t *bits)
{
    static const int WIDTH[] = { 1, 2, 4, 8 };
    unsigned char b = *c->p;
    *negative = 0;
    if (b <= 0x7f) {   /* positive fixint */
        *bits = b;
        c->p += 1;
    } else if (b >= 0xe0) {   /* negative fixint */
        *negative = 1;
        *bits = (uint64_t) (int64_t) (int8_t) b;
        c->p += 1;
    } else if (b >= 0xcc && b <= 0xcf) {   /* uint 8..64 */
        int w = WIDTH[b - 0xcc];
        *bits = cx_mp_be(c->p + 1, w);
        c->p += 1 + w;
    } else if (b >= 0xd0 && b <= 0xd3) {   /* int 8..64, sign-extended from its width */
        int w = WIDTH[b - 0xd0], shift = 64 - 8 * w;
        uint64_t raw = cx_mp_be(c->p + 1, w);
        int64_t v = shift ? (int64_t) (raw << shift) >> shift : (int64_t) raw;
        *negative = v < 0;
        *bits = (uint64_t) v;
        c->p += 1 + w;
    } else {
        return -1;
    }
    return 0;
}

/* An integer from 0 to max. */
static inline int cx_mp_uint(cx_mp_cursor *c, uint64_t max, uint64_t *out)
{
    cx_mp_cursor at = *c;
    int negative;
    uint64_t bits;
    if (cx_mp_integer(&at, &negative, &bits) || negative || bits > max)
        return -1;
    *c = at;
    *out = bits;
    return 0;
}

/* An integer that fits int64_t. */
static inline int cx_mp_int(cx_mp_cursor *c, int64_t *out)
{
    cx_mp_cursor at = *c;
    int negative;
    uint64_t bits;
    if (cx_mp_integer(&at, &negative, &bits) || (!negative && bits > INT64_MAX))
        return -1;
    *c = at;
    *out = (int64_t) bits;
    return 0;
}

/* A str or a bin: its bytes (in the message) and their count. */
static inline int cx_mp_str(cx_mp_cursor *c, const char **ptr, size_t *len)
{
    unsigned char b = *c->p;
    size_t header;
    if (b >= 0xa0 && b <= 0xbf)
        header = 1, *len = b & 0x1f;
    else if (b == 0xd9 || b == 0xc4)
        header = 2, *len = c->p[1];
    else if (b == 0xda || b == 0xc5)
        header = 3, *len = (size_t) cx_mp_be(c->p + 1, 2);
    else if (b == 0xdb || b == 0xc6)
        header = 5, *len = (size_t) cx_mp_be(c->p + 1, 4);
    else
        return -1;
    *ptr = (const char *) c->p + header;
    c->p += header + *len;
    return 0;
}

/* An array's header: its element count, which the next reads then take in order. */
static inline int cx_mp_array(cx_mp_cursor *c, uint32_t *count)
{
    unsigned char b = *c->p;
    if (b >= 0x90 && b <= 0x9f)
        *count = b & 0x0f, c->p += 1;
    else if (b == 0xdc)
        *count = (uint32_t) cx_mp_be(c->p + 1, 2), c->p += 3;
    else if (b == 0xdd)
        *count = (uint32_t) cx_mp_be(c->p + 1, 4), c->p += 5;
    else
        return -1;
    return 0;
}

#endif
