/*
 * msgpack_cursor.c — checking that a message is one well-formed msgpack
 * value before a cursor reads it in place (see msgpack_cursor.h).
 */
#include "proto/msgpack_cursor.h"

/*
 * Walks the msgpack bytes without building anything and checks that every
 * length and element count fits in the bytes actually present, so that the
 * cursor's readers need no bounds checks, and a 6-byte message claiming
 * 2^32 elements is refused before anything sizes an allocation by it.
 */
int cx_mp_well_formed(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    static const signed char FIXED[] = {   /* 0xc0..0xdf: payload bytes after the type byte, -1 special */
        0, -1, 0, 0, -1, -1, -1, -1, -1, -1, 4, 8, 1, 2, 4, 8,
        1, 2, 4, 8, 2, 3, 5, 9, 17, -1, -1, -1, -1, -1, -1, -1,
    };
    size_t pos = 0, pending = 1;
    while (pending > 0) {
        pending--;
        if (pos >= len)
            return 0;
        unsigned char b = p[pos++];
        uint64_t items = 0, bytes = 0;
        if (b <= 0x7f || b >= 0xe0)
            continue;
        if (b <= 0x8f)
            items = 2u * (b & 0x0f);
        else if (b <= 0x9f)
            items = b & 0x0f;
        else if (b <= 0xbf)
            bytes = b & 0x1f;
        else if (FIXED[b - 0xc0] >= 0)
            bytes = (uint64_t) FIXED[b - 0xc0];
        else if (b == 0xc1)
            return 0;
        else {
            static const struct { unsigned char type; int width, extra, per_item; } SIZED[] = {
                { 0xc4, 1, 0, 0 }, { 0xc5, 2, 0, 0 }, { 0xc6, 4, 0, 0 }, { 0xc7, 1, 1, 0 }, { 0xc8, 2, 1, 0 },
                { 0xc9, 4, 1, 0 }, { 0xd9, 1, 0, 0 }, { 0xda, 2, 0, 0 }, { 0xdb, 4, 0, 0 }, { 0xdc, 2, 0, 1 },
                { 0xdd, 4, 0, 1 }, { 0xde, 2, 0, 2 }, { 0xdf, 4, 0, 2 },
            };
            size_t i = 0;
            while (i < sizeof SIZED / sizeof SIZED[0] && SIZED[i].type != b)
                i++;
            if (i == sizeof SIZED / sizeof SIZED[0] || pos + (size_t) SIZED[i].width > len)
                return 0;
            uint64_t n = cx_mp_be(p + pos, SIZED[i].width);
            pos += (size_t) SIZED[i].width;
            if (SIZED[i].per_item)
                items = n * (uint64_t) SIZED[i].per_item;
            else
                bytes = n + (uint64_t) SIZED[i].extra;
        }
        if (bytes > len - pos || items > len - pos)
            return 0;
        pos += (size_t) bytes;
        pending += (size_t) items;
    }
    return pos == len;
}
