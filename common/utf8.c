/*
 * utf8.c — RFC 3629 UTF-8, checked as bytes stream in (see utf8.h): the
 * gateway's text frames (RFC 6455 §8.1), which arrive in pieces, and the
 * strings of a client's JSON (common/json_parse.c), which arrive whole.
 */
#include "common/utf8.h"

/* State: bits 0-7 continuation bytes still needed, 8-15 and 16-23 the range the next one must be in
 * (RFC 3629's table: it excludes overlong forms, surrogates and code points above U+10FFFF). */
int cx_utf8_feed(uint32_t *state, const unsigned char *s, size_t len)
{
    uint32_t need = *state & 0xff, lo = (*state >> 8) & 0xff, hi = (*state >> 16) & 0xff;
    for (size_t i = 0; i < len; i++) {
        unsigned c = s[i];
        if (need) {
            if (c < lo || c > hi)
                return -1;
            need--;
            lo = 0x80;
            hi = 0xbf;
            continue;
        }
        if (c < 0x80)
            continue;
        lo = 0x80;
        hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c == 0xe0)
            need = 2, lo = 0xa0;
        else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
            need = 2;
        else if (c == 0xed)
            need = 2, hi = 0x9f;
        else if (c == 0xf0)
            need = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3)
            need = 3;
        else if (c == 0xf4)
            need = 3, hi = 0x8f;
        else
            return -1;
    }
    *state = need ? need | lo << 8 | hi << 16 : 0;
    return 0;
}
