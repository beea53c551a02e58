/*
 * test_jwt.c — gateway/jwt.c against simplejwt's own verdicts.
 *
 * Every token in tests/fixtures/django_vectors.json was made by simplejwt /
 * PyJWT and judged by simplejwt at the fixture's frozen clock; we must reach
 * the same verdict and message at the same "now". Hand-crafted tokens then
 * cover what the fixture cannot: leeway, other claim names, non-access mode,
 * malformed claims and random input. Tests run from the repository root.
 */
#include "gateway/jwt.h"

#include "common/django_signing.h"

#include "tests/unit/django_vectors.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000
#define SECRET "unit-test-secret"

/* header and payload are JSON texts; signs with HS256 whatever alg says. */
static char *craft(const char *header, const char *payload, const char *secret)
{
    char *h = cx_django_b64url_encode(header, strlen(header));
    char *p = cx_django_b64url_encode(payload, strlen(payload));
    char *input, *token, *sig;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len;
    cr_assert(asprintf(&input, "%s.%s", h, p) > 0);
    HMAC(EVP_sha256(), secret, (int) strlen(secret), (unsigned char *) input, strlen(input), mac, &mac_len);
    sig = cx_django_b64url_encode(mac, mac_len);
    cr_assert(asprintf(&token, "%s.%s", input, sig) > 0);
    free(h);
    free(p);
    free(input);
    free(sig);
    return token;
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static int verify(const cx_jwt_config *cfg, const char *token, char *uid, size_t uid_len, char *err)
{
    memset(err, 0, 96);
    return cx_jwt_verify(cfg, token, NOW, uid, uid_len, err, 96);
}

Test(jwt, simplejwt_vectors)
{
    json_t *doc = vectors(), *v;
    cx_jwt_config cfg = { .secret = str(doc, "secret_key"), .require_access_type = 1 };
    time_t now = (time_t) json_integer_value(json_object_get(doc, "now"));
    size_t i;
    json_array_foreach(json_object_get(doc, "jwts"), i, v) {
        char uid[64], err[96] = "";
        int rc = cx_jwt_verify(&cfg, str(v, "token"), now, uid, sizeof uid, err, sizeof err);
        if (json_is_true(json_object_get(v, "ok"))) {
            cr_expect_eq(rc, 0, "%s: %s", str(v, "name"), err);
            cr_expect_str_eq(uid, str(v, "user_id"), "%s", str(v, "name"));
        } else {
            cr_expect_eq(rc, -1, "%s accepted, simplejwt refuses it", str(v, "name"));
            cr_expect_str_eq(err, str(v, "err"), "%s", str(v, "name"));
            cr_expect_str_eq(uid, "", "%s", str(v, "name"));
        }
    }
    json_decref(doc);
}

Test(jwt, issue_then_verify)
{
    cx_jwt_config cfg = { .secret = SECRET, .require_access_type = 1 };
    char uid[64], err[96];
    char *tok = cx_jwt_issue(&cfg, "42", NOW, 300);
    cr_assert_not_null(tok);
    cr_expect_eq(verify(&cfg, tok, uid, sizeof uid, err), 0, "%s", err);
    cr_expect_str_eq(uid, "42");
    cr_expect_eq(cx_jwt_verify(&cfg, tok, NOW + 299, uid, sizeof uid, err, sizeof err), 0);
    cr_expect_eq(cx_jwt_verify(&cfg, tok, NOW + 300, uid, sizeof uid, err, sizeof err), -1);
    cr_expect_str_eq(err, "Token is invalid or expired");
    cx_jwt_config other = { .secret = "other", .require_access_type = 1 };
    cr_expect_eq(verify(&other, tok, uid, sizeof uid, err), -1);

    /* Claims as simplejwt writes them: integer id, 32-hex jti, header alg first. */
    char *dot = strchr(tok, '.'), *dot2 = strchr(dot + 1, '.');
    size_t n;
    unsigned char *header = cx_django_b64url_decode(tok, (size_t) (dot - tok), &n);
    unsigned char *payload = cx_django_b64url_decode(dot + 1, (size_t) (dot2 - dot - 1), &n);
    cr_expect_str_eq((char *) header, HS256);
    json_t *claims = json_loads((char *) payload, 0, NULL);
    cr_expect(json_is_integer(json_object_get(claims, "user_id")));
    cr_expect_eq(json_integer_value(json_object_get(claims, "exp")), NOW + 300);
    cr_expect_eq(json_integer_value(json_object_get(claims, "iat")), NOW);
    cr_expect_str_eq(str(claims, "token_type"), "access");
    cr_expect_eq(strlen(str(claims, "jti")), 32);
    char *again = cx_jwt_issue(&cfg, "42", NOW, 300);
    cr_expect_str_neq(tok, again, "jti must be random");
    json_decref(claims);
    free(header);
    free(payload);
    free(again);
    free(tok);
}

Test(jwt, string_ids_and_custom_claim)
{
    cx_jwt_config cfg = { .secret = SECRET, .user_id_claim = "uid", .require_access_type = 1 };
    const char *ids[] = { "9b2c-uuid", "007", "-1", "99999999999999999999999" };
    char uid[64], err[96];
    for (size_t i = 0; i < 4; i++) {
        char *tok = cx_jwt_issue(&cfg, ids[i], NOW, 60);
        cr_expect_eq(verify(&cfg, tok, uid, sizeof uid, err), 0, "%s", err);
        cr_expect_str_eq(uid, ids[i]);
        cx_jwt_config plain = { .secret = SECRET, .require_access_type = 1 };
        cr_expect_eq(verify(&plain, tok, uid, sizeof uid, err), -1);
        cr_expect_str_eq(err, "Token contained no recognizable user identification");
        free(tok);
    }
    cr_expect_null(cx_jwt_issue(&cfg, "", NOW, 60));
    cx_jwt_config nokey = { .secret = "" };
    cr_expect_null(cx_jwt_issue(&nokey, "1", NOW, 60));
}

Test(jwt, leeway)
{
    cx_jwt_config cfg = { .secret = SECRET, .leeway_s = 30, .require_access_type = 1 };
    char uid[64], err[96];
    char *expired = craft(HS256, "{\"token_type\":\"access\",\"exp\":1699999990,\"jti\":\"a\",\"user_id\":5}", SECRET);
    char *early = craft(HS256, "{\"token_type\":\"access\",\"exp\":1700000100,\"nbf\":1700000020,\"iat\":1700000020,"
                               "\"jti\":\"a\",\"user_id\":5}", SECRET);
    cr_expect_eq(verify(&cfg, expired, uid, sizeof uid, err), 0, "%s", err);
    cr_expect_eq(verify(&cfg, early, uid, sizeof uid, err), 0, "%s", err);
    cfg.leeway_s = 0;
    cr_expect_eq(verify(&cfg, expired, uid, sizeof uid, err), -1);
    cr_expect_eq(verify(&cfg, early, uid, sizeof uid, err), -1);
    free(expired);
    free(early);
}

Test(jwt, untyped_mode_skips_type_and_jti)
{
    cx_jwt_config access = { .secret = SECRET, .require_access_type = 1 };
    cx_jwt_config untyped = { .secret = SECRET };
    char uid[64], err[96];
    char *refresh = craft(HS256, "{\"token_type\":\"refresh\",\"exp\":1700000100,\"user_id\":\"7\"}", SECRET);
    cr_expect_eq(verify(&untyped, refresh, uid, sizeof uid, err), 0, "%s", err);
    cr_expect_str_eq(uid, "7");
    cr_expect_eq(verify(&access, refresh, uid, sizeof uid, err), -1);
    cr_expect_str_eq(err, "Token has no id");
    free(refresh);
}

Test(jwt, malformed_claims_and_headers)
{
    cx_jwt_config cfg = { .secret = SECRET, .require_access_type = 1 };
    const struct { const char *header, *payload, *err; } cases[] = {
        { "{\"alg\":\"hs256\"}", "{\"token_type\":\"access\",\"exp\":1800000000,\"jti\":\"a\",\"user_id\":1}", NULL },
        { "{\"typ\":\"JWT\"}", "{\"token_type\":\"access\",\"exp\":1800000000,\"jti\":\"a\",\"user_id\":1}", NULL },
        { "{\"alg\":[\"HS256\"]}", "{\"token_type\":\"access\",\"exp\":1800000000,\"jti\":\"a\",\"user_id\":1}", NULL },
        { "[\"HS256\"]", "{\"token_type\":\"access\",\"exp\":1800000000,\"jti\":\"a\",\"user_id\":1}", NULL },
        { HS256, "[1,2]", NULL },
        { HS256, "not json", NULL },
        { HS256, "{\"token_type\":\"access\",\"exp\":\"1800000000\",\"jti\":\"a\",\"user_id\":1}", NULL },
        { HS256, "{\"token_type\":\"access\",\"exp\":1800000000,\"nbf\":null,\"jti\":\"a\",\"user_id\":1}", NULL },
        { HS256, "{\"token_type\":1,\"exp\":1800000000,\"jti\":\"a\",\"user_id\":1}", "Token has wrong type" },
        { HS256, "{\"exp\":1800000000,\"jti\":\"a\",\"user_id\":1}", "Token has no type" },
        { HS256, "{\"token_type\":\"access\",\"exp\":1800000000,\"jti\":\"a\",\"user_id\":1.5}",
          "Token contained no recognizable user identification" },
        { HS256, "{\"token_type\":\"access\",\"exp\":1800000000,\"jti\":\"a\",\"user_id\":\"\"}",
          "Token contained no recognizable user identification" },
        { HS256, "{\"token_type\":\"access\",\"exp\":1800000000,\"jti\":\"a\",\"user_id\":\"" \
                 "0123456789012345678901234567890123456789012345678901234567890123456789\"}",
          "Token contained no recognizable user identification" },
    };
    char uid[64], err[96];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *tok = craft(cases[i].header, cases[i].payload, SECRET);
        cr_expect_eq(verify(&cfg, tok, uid, sizeof uid, err), -1, "case %zu accepted", i);
        cr_expect_str_eq(err, cases[i].err ? cases[i].err : "Token is invalid or expired", "case %zu", i);
        free(tok);
    }
    char *ok = craft(HS256, "{\"token_type\":\"access\",\"exp\":1800000000.9,\"jti\":\"a\",\"user_id\":3}", SECRET);
    cr_expect_eq(verify(&cfg, ok, uid, sizeof uid, err), 0, "float exp is truncated like int(): %s", err);
    free(ok);
}

Test(jwt, bad_config_and_arguments)
{
    cx_jwt_config empty = { .secret = "" }, none = { 0 }, cfg = { .secret = SECRET };
    char uid[64], err[96];
    char *tok = cx_jwt_issue(&cfg, "1", NOW, 60);
    /* An empty key verifies nothing, even a token signed with an empty key. */
    char *empty_signed = craft(HS256, "{\"token_type\":\"access\",\"exp\":1800000000,\"jti\":\"a\",\"user_id\":1}", "");
    cr_expect_eq(verify(&empty, empty_signed, uid, sizeof uid, err), -1);
    cr_expect_eq(verify(&none, tok, uid, sizeof uid, err), -1);
    cr_expect_eq(verify(NULL, tok, uid, sizeof uid, err), -1);
    cr_expect_eq(verify(&cfg, NULL, uid, sizeof uid, err), -1);
    cr_expect_eq(cx_jwt_verify(&cfg, tok, NOW, NULL, 0, err, sizeof err), -1);
    cr_expect_eq(cx_jwt_verify(&cfg, tok, NOW, uid, sizeof uid, NULL, 0), 0);
    free(tok);
    free(empty_signed);
}

Test(jwt, hostile_input_never_crashes)
{
    cx_jwt_config cfg = { .secret = SECRET, .require_access_type = 1 };
    static const char alphabet[] = "eyJhbGciOiJIUzI1NiJ9.-_=+/";
    char buf[300], uid[64], err[96];
    srand(99);
    for (int round = 0; round < 5000; round++) {
        size_t len = (size_t) rand() % (sizeof buf - 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = round % 2 ? alphabet[rand() % (int) (sizeof alphabet - 1)] : (char) (rand() % 255 + 1);
        buf[len] = '\0';
        cr_expect_eq(verify(&cfg, buf, uid, sizeof uid, err), -1);
    }
    size_t n = 1u << 20;
    char *huge = malloc(n + 1);
    memset(huge, 'A', n);
    huge[n] = '\0';
    huge[10] = huge[n - 50] = '.';
    cr_expect_eq(verify(&cfg, huge, uid, sizeof uid, err), -1);
    cr_expect_str_eq(err, "Token is invalid or expired");
    free(huge);
}

/* Found by tests/fuzz/fuzz_jwt: a time claim beyond long long (1e103) was cast with undefined
 * behaviour. PyJWT compares Python ints: an exp that far is the future, an iat that far too. */
Test(jwt, time_claims_beyond_64_bits_compare_as_python_does)
{
    cx_jwt_config cfg = { .secret = "k", .require_access_type = 0 };
    char uid[32], err[96];
    char *far_exp = craft(HS256, "{\"user_id\":5,\"exp\":1e103}", "k");
    cr_assert_eq(verify(&cfg, far_exp, uid, sizeof uid, err), 0, "%s", err);
    cr_assert_str_eq(uid, "5");
    char *far_iat = craft(HS256, "{\"user_id\":5,\"exp\":1e103,\"iat\":1e103}", "k");
    cr_assert_eq(verify(&cfg, far_iat, uid, sizeof uid, err), -1, "an iat in the far future was accepted");
    char *past_exp = craft(HS256, "{\"user_id\":5,\"exp\":-1e103}", "k");
    cr_assert_eq(verify(&cfg, past_exp, uid, sizeof uid, err), -1, "an exp in the far past was accepted");
    free(far_exp);
    free(far_iat);
    free(past_exp);
}
