/*
 * fuzz_origin — the Origin check of cookie authentication
 * (gateway/origin.h): the client's Origin and Host headers against the
 * deployment's CHANX_ALLOWED_ORIGINS patterns. Input: origin NUL host NUL
 * patterns. Checks that "*" allows every origin and that an origin is
 * always allowed by a pattern naming exactly it.
 */
#include "gateway/origin.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parts p;
    fuzz_split(data, size, 3, &p);
    cx_origin_allowed(p.part[0], p.part[1], p.part[2]);
    cx_origin_allowed(p.part[0], p.part[1], NULL);
    cx_origin_allowed(NULL, p.part[1], p.part[2]);
    if (!cx_origin_allowed(p.part[0], p.part[1], "*"))
        abort();
    /* a full origin without separators or spaces is allowed by a list naming it */
    if (strstr(p.part[0], "://") && !strpbrk(p.part[0], ", ") && p.part[0][0]
        && !cx_origin_allowed(p.part[0], "", p.part[0]))
        abort();
    fuzz_free(&p, 3);
    return 0;
}
