/*
 * utf8.h — checking UTF-8 (RFC 3629) a piece at a time.
 */
#ifndef CX_COMMON_UTF8_H
#define CX_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Streaming UTF-8 check: *state starts at 0; returns -1 on an invalid sequence (an overlong form, a
 * surrogate, past U+10FFFF, a stray continuation byte), else 0. A text is valid when the last call
 * returned 0 and *state is 0 again (no sequence cut short). */
int cx_utf8_feed(uint32_t *state, const unsigned char *s, size_t len);

#endif
