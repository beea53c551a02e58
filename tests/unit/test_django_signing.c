/*
 * test_django_signing.c — Django compatibility of common/django_signing.c.
 *
 * The expected values come from Django itself (tests/fixtures/
 * django_vectors.json, made by make_django_vectors.py), not from our
 * reading of its source: sessions written by SessionStore.encode at a frozen
 * clock (so our encoder must produce the same bytes), legacy and foreign-key
 * sessions, password hashes and session auth hashes. The rest feeds hostile
 * input to the decoder, which must fail with a reason and never crash (the
 * ASan/UBSan run is what makes "never crash" meaningful).
 * Tests run from the repository root.
 */
#include "common/django_signing.h"
#include "common/django_auth.h"

#include "tests/unit/django_vectors.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>


/* Signs "payload:ts" as Django would, for inputs Django never writes. */
static char *sign_value(const char *value, const char *secret)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len;
    char *sig, *out;
    cr_assert_eq(cx_django_salted_hmac("sha256", CX_DJANGO_SESSION_SALT "signer", secret, value, strlen(value),
                                       mac, &mac_len), 0);
    sig = cx_django_b64url_encode(mac, mac_len);
    cr_assert(asprintf(&out, "%s:%s", value, sig) > 0);
    free(sig);
    return out;
}

static int decode(const char *data, const char *secret, char *uid, size_t uid_len, char *err)
{
    memset(err, 0, 64);
    return cx_django_session_user_id(data, secret, uid, uid_len, err, 64);
}

Test(django_session, fixture_vectors_with_key)
{
    json_t *doc = vectors(), *v;
    const char *secret = str(doc, "secret_key");
    size_t i;
    json_array_foreach(json_object_get(doc, "sessions"), i, v) {
        char uid[64], err[64];
        int rc = decode(str(v, "data"), secret, uid, sizeof uid, err);
        if (json_is_true(json_object_get(v, "ok"))) {
            cr_expect_eq(rc, 0, "%s: %s", str(v, "name"), err);
            cr_expect_str_eq(uid, str(v, "user_id"), "%s", str(v, "name"));
        } else {
            cr_expect_eq(rc, -1, "%s decoded but Django refuses it", str(v, "name"));
            cr_expect(err[0], "%s: no reason", str(v, "name"));
        }
    }
    json_decref(doc);
}

Test(django_session, fixture_vectors_without_key)
{
    json_t *doc = vectors(), *v;
    size_t i;
    json_array_foreach(json_object_get(doc, "sessions"), i, v) {
        char uid[64], err[64];
        const char *want = str(v, "user_id_without_key");
        int rc = decode(str(v, "data"), NULL, uid, sizeof uid, err);
        cr_expect_eq(rc, want ? 0 : -1, "%s: %s", str(v, "name"), err);
        if (want && rc == 0)
            cr_expect_str_eq(uid, want, "%s", str(v, "name"));
    }
    json_decref(doc);
}

Test(django_session, failure_reasons)
{
    json_t *doc = vectors(), *v;
    const char *secret = str(doc, "secret_key");
    size_t i;
    json_array_foreach(json_object_get(doc, "sessions"), i, v) {
        const char *name = str(v, "name"), *want = NULL;
        char uid[64], err[64];
        if (!strcmp(name, "signed_other_key") || !strcmp(name, "legacy_other_key") || !strcmp(name, "bad_sig"))
            want = "bad signature";
        else if (!strcmp(name, "no_user"))
            want = "no user in session";
        if (want) {
            cr_expect_eq(decode(str(v, "data"), secret, uid, sizeof uid, err), -1);
            cr_expect_str_eq(err, want, "%s", name);
        }
    }
    json_decref(doc);
}

/* SessionStore.encode at the fixture's frozen clock: same bytes. */
Test(django_session, encode_matches_django_byte_for_byte)
{
    json_t *doc = vectors(), *v;
    const char *secret = str(doc, "secret_key");
    time_t now = (time_t) json_integer_value(json_object_get(doc, "now"));
    size_t i, n = 0;
    json_array_foreach(json_object_get(doc, "sessions"), i, v) {
        if (!json_is_true(json_object_get(v, "encode_exact")))
            continue;
        char *mine = cx_django_session_encode_at(str(v, "dict_json"), secret, now);
        cr_assert_not_null(mine, "%s", str(v, "name"));
        cr_expect_str_eq(mine, str(v, "data"), "%s", str(v, "name"));
        free(mine);
        n++;
    }
    cr_expect_geq(n, 5);
    json_decref(doc);
}

Test(django_session, encode_round_trips)
{
    const char *dicts[] = {
        ("{\"_auth_user_id\":\"1\",\"_auth_user_backend\":\"django.contrib.auth.backends.ModelBackend\","
         "\"_auth_user_hash\":\"aeaf59017e2c96d5dd6f9da60bb14650e8ef36bf01b1d069048c671cebb805f5\"}"),
        "{\"_auth_user_id\": 99}",
        "{\"x\": [1.5, 0.1, 1e300, -0.0, \"t\\tab\"], \"_auth_user_id\": \"\\u00e9t\\u00e9\"}",
    };
    const char *want[] = { "1", "99", "\xc3\xa9t\xc3\xa9" };
    for (size_t i = 0; i < 3; i++) {
        char *data = cx_django_session_encode(dicts[i], "k");
        char uid[32], err[64];
        cr_assert_not_null(data);
        cr_expect_eq(decode(data, "k", uid, sizeof uid, err), 0, "%s", err);
        cr_expect_str_eq(uid, want[i]);
        cr_expect_eq(decode(data, "other", uid, sizeof uid, err), -1);
        free(data);
    }
    cr_expect_null(cx_django_session_encode("[1,2]", "k"));
    cr_expect_null(cx_django_session_encode("{not json", "k"));
    cr_expect_null(cx_django_session_encode("{}", NULL));
}

Test(django_session, other_fields_and_small_buffers)
{
    json_t *doc = vectors();
    json_t *login = json_array_get(json_object_get(doc, "sessions"), 0);
    const char *secret = str(doc, "secret_key");
    char out[80], tiny[1], err[64];
    cr_assert_eq(cx_django_session_field(str(login, "data"), secret, "_auth_user_hash", out, sizeof out, err,
                                         sizeof err), 0);
    cr_expect_str_eq(out, str(json_array_get(json_object_get(doc, "auth_hashes"), 0), "hash"));
    cr_expect_eq(cx_django_session_field(str(login, "data"), secret, "nope", out, sizeof out, err, sizeof err), -1);
    cr_expect_str_eq(err, "no nope in session");
    cr_expect_eq(decode(str(login, "data"), secret, tiny, sizeof tiny, err), -1);
    cr_expect_str_eq(err, "user id too long");
    json_decref(doc);
}

Test(django_session, garbage_fails_cleanly)
{
    const char *bad[] = { "", "no colons at all", ":", "::", "a:b", "!!!:1r31eq:sig", ".!!!:1r31eq:sig",
                          "eyJfYXV0aF91c2VyX2lkIjoiNyJ9:1r31eq", "eyJfYXV0aF91c2VyX2lkIjoiNyJ9::sig",
                          "eyJfYXV0aF91c2VyX2lkIjoiNyJ9:1r-31eq:sig", "W10:1r31eq:sig" /* [] */,
                          ".:1r31eq:sig", "====", "Zm9v", "YWJjOg==" /* "abc:" */, "%%%%" };
    char uid[32], err[64];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_expect_eq(decode(bad[i], NULL, uid, sizeof uid, err), -1, "accepted '%s'", bad[i]);
        cr_expect(err[0], "no reason for '%s'", bad[i]);
        cr_expect_eq(decode(bad[i], "k", uid, sizeof uid, err), -1, "accepted '%s' with key", bad[i]);
    }
    cr_expect_eq(cx_django_session_user_id(NULL, "k", uid, sizeof uid, err, sizeof err), -1);
    cr_expect_eq(cx_django_session_user_id("x:y:z", "k", uid, sizeof uid, NULL, 0), -1);
}

Test(django_session, huge_input)
{
    size_t n = 16u << 20;
    char *big = malloc(n + 1), uid[32], err[64];
    memset(big, 'A', n);
    big[n] = '\0';
    cr_expect_eq(decode(big, NULL, uid, sizeof uid, err), -1); /* legacy path: base64 of junk */
    big[n / 2] = ':';
    big[n / 2 + 10] = ':';
    cr_expect_eq(decode(big, "k", uid, sizeof uid, err), -1);
    cr_expect_str_eq(err, "bad signature");
    cr_expect_eq(decode(big, NULL, uid, sizeof uid, err), -1);
    free(big);
}

/* Correctly signed but truncated zlib, and a zip bomb: must not inflate forever. */
Test(django_session, truncated_zlib_and_bomb)
{
    size_t n = 64u << 20;
    uLongf zlen = compressBound(n);
    unsigned char *zeros = calloc(1, n), *z = malloc(zlen);
    cr_assert_eq(compress2(z, &zlen, zeros, n, 9), Z_OK);
    free(zeros);
    char *b64 = cx_django_b64url_encode(z, zlen), *value, uid[32], err[64];
    free(z);
    cr_assert(asprintf(&value, ".%s:1r31eq", b64) > 0);
    char *bomb = sign_value(value, "k");
    cr_expect_eq(decode(bomb, "k", uid, sizeof uid, err), -1);
    cr_expect_str_eq(err, "not a session");
    /* Cut the compressed stream in half. */
    strcpy(value + 1 + strlen(b64) / 2, ":1r31eq");
    char *cut = sign_value(value, "k");
    cr_expect_eq(decode(cut, "k", uid, sizeof uid, err), -1);
    cr_expect_str_eq(err, "not a session");
    free(bomb);
    free(cut);
    free(value);
    free(b64);
}

Test(django_session, random_input_never_crashes)
{
    static const char alphabet[] = "AZaz09-_:.=+/!";
    char buf[200], uid[32], err[64];
    srand(1234);
    for (int round = 0; round < 5000; round++) {
        size_t len = (size_t) rand() % (sizeof buf - 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = round % 3 ? alphabet[rand() % (int) (sizeof alphabet - 1)] : (char) (rand() % 255 + 1);
        buf[len] = '\0';
        decode(buf, round % 2 ? "k" : NULL, uid, sizeof uid, err);
    }
}

Test(django_password, fixture_vectors)
{
    json_t *doc = vectors(), *v;
    size_t i;
    json_array_foreach(json_object_get(doc, "passwords"), i, v) {
        int want = json_is_true(json_object_get(v, "ok"));
        cr_expect_eq(cx_django_check_password(str(v, "password"), str(v, "encoded")), want, "%s",
                     str(v, "encoded"));
    }
    json_decref(doc);
}

Test(django_password, make_then_check)
{
    char *enc = cx_django_make_password("hunter2 \xe2\x98\x83");
    cr_assert_not_null(enc);
    cr_expect_eq(strncmp(enc, "pbkdf2_sha256$260000$", 21), 0, "%s", enc);
    cr_expect_eq(strchr(enc + 21, '$') - (enc + 21), 22, "salt of 22 chars: %s", enc);
    cr_expect_eq(cx_django_check_password("hunter2 \xe2\x98\x83", enc), 1);
    cr_expect_eq(cx_django_check_password("hunter2", enc), 0);
    char *other = cx_django_make_password("hunter2 \xe2\x98\x83");
    cr_expect_str_neq(enc, other, "salts must differ");
    free(other);
    free(enc);
    char *unusable = cx_django_make_password(NULL);
    cr_assert_not_null(unusable);
    cr_expect_eq(unusable[0], '!');
    cr_expect_eq(strlen(unusable), 41);
    cr_expect_eq(cx_django_check_password("", unusable), 0);
    free(unusable);
}

Test(django_password, malformed_hashes)
{
    const char *bad[] = { "", "!", "pbkdf2_sha256", "pbkdf2_sha256$", "pbkdf2_sha256$$salt$hash",
                          "pbkdf2_sha256$0$salt$hash", "pbkdf2_sha256$-5$salt$hash", "pbkdf2_sha256$1x$salt$hash",
                          "pbkdf2_sha256$99999999999999999999$s$h", "pbkdf2_sha256$1$$hash", "md5$1$salt$hash",
                          "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA", "pbkdf2_sha256$1$salt$" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(cx_django_check_password("pw", bad[i]), 0, "%s", bad[i]);
    cr_expect_eq(cx_django_check_password(NULL, "pbkdf2_sha256$1$s$h"), 0);
    cr_expect_eq(cx_django_check_password("pw", NULL), 0);
}

Test(django_auth_hash, fixture_vectors)
{
    json_t *doc = vectors(), *v;
    const char *secret = str(doc, "secret_key");
    size_t i;
    json_array_foreach(json_object_get(doc, "auth_hashes"), i, v) {
        char out[65];
        cr_assert_eq(cx_django_session_auth_hash(str(v, "password_hash"), secret, out, sizeof out), 0);
        cr_expect_str_eq(out, str(v, "hash"));
    }
    char small[64];
    cr_expect_eq(cx_django_session_auth_hash("x", secret, small, sizeof small), -1);
    json_decref(doc);
}

/* get_user's check: the current hash or Django 3.1/3.2's legacy sha1 one, nothing else. */
Test(django_auth_hash, verifies_current_and_legacy_hashes_only)
{
    json_t *doc = vectors(), *v;
    const char *secret = str(doc, "secret_key"), *other = str(doc, "other_key");
    size_t i;
    json_array_foreach(json_object_get(doc, "auth_hashes"), i, v) {
        const char *pw = str(v, "password_hash");
        cr_expect(cx_django_session_auth_hash_ok(str(v, "hash"), pw, secret));
        cr_expect(cx_django_session_auth_hash_ok(str(v, "legacy_hash"), pw, secret));
        cr_expect_not(cx_django_session_auth_hash_ok(str(v, "hash"), pw, other), "hash under another key");
        cr_expect_not(cx_django_session_auth_hash_ok(str(v, "hash"), "pbkdf2_sha256$1$changed$x", secret),
                      "hash of another password");
    }
    const char *pw = str(json_array_get(json_object_get(doc, "auth_hashes"), 0), "password_hash");
    cr_expect_not(cx_django_session_auth_hash_ok("", pw, secret));
    cr_expect_not(cx_django_session_auth_hash_ok(NULL, pw, secret));
    cr_expect_not(cx_django_session_auth_hash_ok("aeaf", pw, secret), "a prefix is not the hash");
    json_decref(doc);
}

Test(django_b64url, round_trip_and_rejects)
{
    unsigned char data[16];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char) (0xf0 + i);
    for (size_t len = 0; len <= sizeof data; len++) {
        char *enc = cx_django_b64url_encode(data, len);
        size_t out_len;
        cr_expect_null(strpbrk(enc, "=+/"));
        unsigned char *dec = cx_django_b64url_decode(enc, strlen(enc), &out_len);
        cr_assert_not_null(dec);
        cr_expect_eq(out_len, len);
        cr_expect_eq(memcmp(dec, data, len), 0);
        free(enc);
        free(dec);
    }
    size_t n;
    unsigned char *padded = cx_django_b64url_decode("Zm8=", 4, &n);
    cr_expect(padded && n == 2 && !memcmp(padded, "fo", 2));
    free(padded);
    cr_expect_null(cx_django_b64url_decode("Zm8+", 4, &n));
    cr_expect_null(cx_django_b64url_decode("Z", 1, &n));
    cr_expect_null(cx_django_b64url_decode("Zm\0x", 4, &n));
}

Test(django_random, alphabet_and_length)
{
    char key[33];
    cr_assert_eq(cx_django_random_string(key, 32, "abcdefghijklmnopqrstuvwxyz0123456789"), 0);
    cr_expect_eq(strlen(key), 32);
    cr_expect_eq(strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789"), 32);
    cr_expect_eq(cx_django_random_string(key, 4, ""), -1);
}
