/*
 * fuzz_session — decoding Django's session_data (common/django_signing.h)
 * from the django_session table: signed, compressed and legacy formats.
 * Input: session_data NUL field-name. Decoded with the deployment's key
 * (signature checked) and without (trusted row), and with base64 alone.
 */
#include "common/django_signing.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>

#define KEY "chanx-test-secret-key-not-for-production-0123456789"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parts p;
    fuzz_split(data, size, 2, &p);
    char user[32], err[128], field[256];
    cx_django_session_user_id(p.part[0], KEY, user, sizeof user, err, sizeof err);
    cx_django_session_user_id(p.part[0], NULL, user, sizeof user, err, sizeof err);
    cx_django_session_field(p.part[0], NULL, p.part[1][0] ? p.part[1] : "_auth_user_hash", field, sizeof field, err,
                            sizeof err);
    size_t out_len = 0;
    unsigned char *raw = cx_django_b64url_decode(p.part[0], p.len[0], &out_len);
    free(raw);
    /* what we encode as Django would, we verify: never "bad signature" on our own output */
    char *encoded = cx_django_session_encode(p.part[1], KEY);
    if (encoded) {
        err[0] = '\0';
        if (cx_django_session_user_id(encoded, KEY, user, sizeof user, err, sizeof err) != 0
            && strcmp(err, "bad signature") == 0)
            abort();
        free(encoded);
    }
    fuzz_free(&p, 2);
    return 0;
}
