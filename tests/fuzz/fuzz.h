/*
 * fuzz.h — what the libFuzzer harnesses of tests/fuzz/ share: cutting one
 * fuzzer input into several NUL-terminated strings, since most parsers here
 * take C strings and several take more than one.
 *
 * Header-only: each harness is its own program (one LLVMFuzzerTestOneInput).
 */
#ifndef CX_TESTS_FUZZ_H
#define CX_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_PARTS 4

/* Splits data at NUL bytes into at most n strings (the last takes the rest,
 * NULs and all cut at its first NUL). Missing parts are "". Free with fuzz_free. */
typedef struct {
    char *part[FUZZ_MAX_PARTS];
    size_t len[FUZZ_MAX_PARTS];
} fuzz_parts;

static inline void fuzz_split(const uint8_t *data, size_t size, int n, fuzz_parts *out)
{
    size_t at = 0;
    for (int i = 0; i < n && i < FUZZ_MAX_PARTS; i++) {
        const uint8_t *nul = at < size ? memchr(data + at, 0, size - at) : NULL;
        size_t len = nul ? (size_t) (nul - (data + at)) : size - at;
        out->part[i] = malloc(len + 1);   /* exact size: ASan sees any read past the end */
        memcpy(out->part[i], data + at, len);
        out->part[i][len] = '\0';
        out->len[i] = len;
        at += len + (nul ? 1 : 0);
        if (at > size)
            at = size;
    }
}

static inline void fuzz_free(fuzz_parts *p, int n)
{
    for (int i = 0; i < n && i < FUZZ_MAX_PARTS; i++)
        free(p->part[i]);
}

/* A growable byte buffer for harnesses that build their own input streams (generated frames,
 * request heads). Aborts when memory runs out: a harness has nothing better to do. */
typedef struct {
    unsigned char *b;
    size_t len, cap;
} fuzz_buf;

static inline void fuzz_put(fuzz_buf *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 64;
        o->b = realloc(o->b, o->cap);
        if (!o->b)
            abort();
    }
    memcpy(o->b + o->len, p, n);
    o->len += n;
}

#endif
