/*
 * fuzz_jwt — verifying a simplejwt access token (gateway/jwt.h), which any
 * client can present. Input: a mode byte, then either a compact token as is
 * (mode even: the parser and signature check), or header-JSON NUL
 * claims-JSON (mode odd) that the harness signs with the deployment's key,
 * so the claim checks behind the signature are reached too.
 */
#include "common/django_signing.h"
#include "gateway/jwt.h"
#include "tests/fuzz/fuzz.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>

#define SECRET "fuzz-jwt-secret"

static char *signed_token(const char *header, size_t hlen, const char *claims, size_t clen)
{
    char *h = cx_django_b64url_encode(header, hlen), *c = cx_django_b64url_encode(claims, clen), *token = NULL;
    if (h && c) {
        size_t n = strlen(h) + 1 + strlen(c);
        char *input = malloc(n + 1);
        snprintf(input, n + 1, "%s.%s", h, c);
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mlen = 0;
        HMAC(EVP_sha256(), SECRET, (int) strlen(SECRET), (unsigned char *) input, n, mac, &mlen);
        char *s = cx_django_b64url_encode(mac, mlen);
        if (s && asprintf(&token, "%s.%s", input, s) < 0)
            token = NULL;
        free(s);
        free(input);
    }
    free(h);
    free(c);
    return token;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    cx_jwt_config cfg = { .secret = SECRET, .user_id_claim = data[0] & 2 ? "sub" : NULL, .leeway_s = data[0] & 4 ? 30 : 0,
                          .require_access_type = !(data[0] & 8) };
    fuzz_parts p;
    fuzz_split(data + 1, size - 1, 2, &p);
    char *token = data[0] & 1 ? signed_token(p.part[0], p.len[0], p.part[1], p.len[1]) : strdup(p.part[0]);
    char user[64], err[160] = "";
    if (token) {
        if (cx_jwt_verify(&cfg, token, 1700000000, user, sizeof user, err, sizeof err) != 0 && !err[0])
            abort();   /* a refusal always says why */
        free(token);
    }
    /* a token we issue verifies */
    char *issued = cx_jwt_issue(&cfg, "42", 1700000000, 300);
    if (!issued || cx_jwt_verify(&cfg, issued, 1700000000, user, sizeof user, err, sizeof err) != 0
        || strcmp(user, "42") != 0)
        abort();
    free(issued);
    fuzz_free(&p, 2);
    return 0;
}
