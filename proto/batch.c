/*
 * batch.c — building and reading batches of envelopes (see batch.h).
 *
 * The builder writes fixed-width headers (array32, bin32) so an envelope is
 * appended without moving what is there: five bytes of framing each. The
 * reader accepts every msgpack width for the array and the bins, and checks
 * each length against the bytes present before handing a slice out.
 */
#include "proto/batch.h"
#include "proto/envelope.h"

#include <stdlib.h>
#include <string.h>

#define HEADER 7   /* array32 (5 bytes), version, type */

struct cx_batch {
    unsigned char *buf;
    size_t len, cap;
    size_t count;
    const unsigned char *first;   /* the first envelope's bytes in buf */
    size_t first_len;
};

cx_batch *cx_batch_new(void)
{
    cx_batch *self = calloc(1, sizeof *self);
    if (self)
        self->len = HEADER;
    return self;
}

void cx_batch_destroy(cx_batch **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}

int cx_batch_add(cx_batch *self, const void *env, size_t len)
{
    if (len > CX_PROTO_MAX_ENVELOPE)
        return -1;
    size_t need = self->len + CX_BATCH_FRAMING + len;
    if (need > self->cap) {
        size_t cap = self->cap ? self->cap : 4096;
        while (cap < need)
            cap *= 2;
        unsigned char *grown = realloc(self->buf, cap);
        if (!grown)
            return -1;
        self->buf = grown;
        self->cap = cap;
    }
    unsigned char *p = self->buf + self->len;
    p[0] = 0xc6;   /* bin32 */
    put_be32(p + 1, (uint32_t) len);
    memcpy(p + 5, env, len);
    self->len = need;
    if (self->count++ == 0)
        self->first_len = len;
    return 0;
}

size_t cx_batch_count(const cx_batch *self)
{
    return self->count;
}

size_t cx_batch_bytes(const cx_batch *self)
{
    return self->count ? self->len : 0;
}

void cx_batch_message(cx_batch *self, const void **data, size_t *len)
{
    if (self->count == 1) {
        *data = self->buf + HEADER + 5;
        *len = self->first_len;
        return;
    }
    self->buf[0] = 0xdd;   /* array32 */
    put_be32(self->buf + 1, (uint32_t) (self->count + 2));
    self->buf[5] = CX_PROTO_VERSION;
    self->buf[6] = CX_PROTO_BATCH;
    *data = self->buf;
    *len = self->len;
}

void cx_batch_clear(cx_batch *self)
{
    self->len = HEADER;
    self->count = 0;
}

/* ------------------------------------------------------------- reading */

static uint64_t read_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* A msgpack header of the given family at pos: its count or length, and its width; -1 if none fits. */
static int read_header(const unsigned char *p, size_t left, int bin, uint64_t *n, size_t *width)
{
    if (left < 1)
        return -1;
    unsigned char b = p[0];
    int w;
    if (!bin && b >= 0x90 && b <= 0x9f) {
        *n = b & 0x0f;
        *width = 1;
        return 0;
    }
    if (bin)
        w = b == 0xc4 ? 1 : b == 0xc5 ? 2 : b == 0xc6 ? 4 : 0;
    else
        w = b == 0xdc ? 2 : b == 0xdd ? 4 : 0;
    if (w == 0 || left < (size_t) w + 1)
        return -1;
    *n = read_be(p + 1, w);
    *width = (size_t) w + 1;
    return 0;
}

int cx_batch_open(cx_batch_reader *reader, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t n;
    size_t width;
    memset(reader, 0, sizeof *reader);
    if (read_header(p, len, 0, &n, &width) != 0 || n < 2 || len < width + 2
        || p[width] != CX_PROTO_VERSION || p[width + 1] != CX_PROTO_BATCH)
        return 0;
    reader->pos = p + width + 2;
    reader->left = len - width - 2;
    reader->remaining = n - 2 > UINT32_MAX ? UINT32_MAX : (uint32_t) (n - 2);
    return 1;
}

int cx_batch_next(cx_batch_reader *reader, const void **env, size_t *len)
{
    if (reader->remaining == 0) {
        if (reader->left == 0)
            return 0;
        reader->left = 0;   /* bytes past the announced envelopes: broken framing, said once */
        return -1;
    }
    uint64_t n;
    size_t width;
    if (read_header(reader->pos, reader->left, 1, &n, &width) != 0 || n > reader->left - width) {
        reader->remaining = 0;
        reader->left = 0;
        return -1;
    }
    *env = reader->pos + width;
    *len = (size_t) n;
    reader->pos += width + n;
    reader->left -= width + n;
    reader->remaining--;
    return 1;
}
