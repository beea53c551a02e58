/*
 * django_auth.c — what Django derives from a user: password hashes
 * (contrib.auth.hashers' PBKDF2), the session auth hash that ties a session
 * to the password it was opened with, and simplejwt access tokens.
 *
 * chanx-admin creates users, sessions and tokens with these; the gateway
 * checks sessions' _auth_user_hash with them. Both must agree with Django
 * byte for byte (tests/unit/test_django_signing.c runs Django's vectors).
 * Issuing JWTs lives here rather than in gateway/jwt.c because chanx-admin
 * issues them too and only common/ is linked into both.
 */
#include "common/django_auth.h"
#include "common/django_signing.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_HASH_SALT "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"

static const char ALNUM[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* ------------------------------------------------------------- passwords */

/* PBKDF2PasswordHasher.encode: "<algorithm>$<iterations>$<salt>$<b64 hash>". */
static char *pbkdf2_encode(const char *algorithm, const char *password, const char *salt, long iterations)
{
    const EVP_MD *md = strcmp(algorithm, "pbkdf2_sha1") ? EVP_sha256() : EVP_sha1();
    unsigned char dk[EVP_MAX_MD_SIZE];
    int dk_len = EVP_MD_size(md);
    char *out = NULL;
    if (!PKCS5_PBKDF2_HMAC(password, (int) strlen(password), (const unsigned char *) salt, (int) strlen(salt),
                           (int) iterations, md, dk_len, dk))
        return NULL;
    char *b64 = cx_django_b64_encode(dk, (size_t) dk_len);
    if (b64 && asprintf(&out, "%s$%ld$%s$%s", algorithm, iterations, salt, b64) < 0)
        out = NULL;
    free(b64);
    OPENSSL_cleanse(dk, sizeof dk);
    return out;
}

char *cx_django_make_password(const char *password)
{
    char salt[23], *out = NULL;
    if (!password) { /* make_password(None): "!" + get_random_string(40) */
        char rnd[41];
        if (cx_django_random_string(rnd, 40, ALNUM) == 0 && asprintf(&out, "!%s", rnd) < 0)
            out = NULL;
        return out;
    }
    /* 22 chars: ceil(128 bits of salt_entropy / log2(62)), as Django 3.2. */
    if (cx_django_random_string(salt, 22, ALNUM) != 0)
        return NULL;
    return pbkdf2_encode("pbkdf2_sha256", password, salt, CX_DJANGO_PBKDF2_ITERATIONS);
}

int cx_django_check_password(const char *password, const char *encoded)
{
    char algorithm[16], salt[256], *end;
    if (!password || !encoded)
        return 0;
    const char *d1 = strchr(encoded, '$');
    const char *d2 = d1 ? strchr(d1 + 1, '$') : NULL;
    const char *d3 = d2 ? strchr(d2 + 1, '$') : NULL;
    if (!d3 || (size_t) (d1 - encoded) >= sizeof algorithm || (size_t) (d3 - d2 - 1) >= sizeof salt
        || d3 == d2 + 1 || !isdigit((unsigned char) d1[1]))
        return 0;
    snprintf(algorithm, sizeof algorithm, "%.*s", (int) (d1 - encoded), encoded);
    snprintf(salt, sizeof salt, "%.*s", (int) (d3 - d2 - 1), d2 + 1);
    errno = 0;
    long iterations = strtol(d1 + 1, &end, 10);
    if (end != d2 || errno || iterations < 1 || iterations > INT_MAX
        || (strcmp(algorithm, "pbkdf2_sha256") && strcmp(algorithm, "pbkdf2_sha1")))
        return 0;
    char *mine = pbkdf2_encode(algorithm, password, salt, iterations);
    int ok = cx_django_equal_ct(encoded, strlen(encoded), mine);
    free(mine);
    return ok;
}

int cx_django_session_auth_hash(const char *password_hash, const char *secret_key, char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!password_hash || !secret_key || !out
        || cx_django_salted_hmac("sha256", AUTH_HASH_SALT, secret_key, password_hash, strlen(password_hash), mac,
                                 &mac_len) != 0
        || outlen < 2 * (size_t) mac_len + 1)
        return -1;
    cx_django_hex(mac, mac_len, out);
    return 0;
}

int cx_django_session_auth_hash_ok(const char *session_hash, const char *password_hash, const char *secret_key)
{
    char sha256[65], sha1[41];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!session_hash || !*session_hash || cx_django_session_auth_hash(password_hash, secret_key, sha256, sizeof sha256))
        return 0;
    size_t len = strlen(session_hash);
    if (cx_django_equal_ct(session_hash, len, sha256))
        return 1;
    if (cx_django_salted_hmac("sha1", AUTH_HASH_SALT, secret_key, password_hash, strlen(password_hash), mac, &mac_len)
        || mac_len * 2 >= sizeof sha1)
        return 0;
    cx_django_hex(mac, mac_len, sha1);
    return cx_django_equal_ct(session_hash, len, sha1);
}

/* ------------------------------------------------- simplejwt access tokens */

/* uuid4().hex, as simplejwt's set_jti. */
static int random_jti(char out[33])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
    cx_django_hex(b, sizeof b, out);
    return 0;
}

/* Django's integer primary keys travel as JSON integers. */
static json_t *user_value(const char *user_id)
{
    char *end;
    errno = 0;
    long long n = strtoll(user_id, &end, 10);
    if (*user_id >= '0' && *user_id <= '9' && !*end && !errno && (user_id[0] != '0' || !user_id[1]))
        return json_integer(n);
    return json_string(user_id);
}

/* JWS compact serialisation: b64(header).b64(payload).b64(HMAC-SHA256). */
static char *sign_compact(const char *secret, const char *header, const char *payload)
{
    char *h = cx_django_b64url_encode(header, strlen(header));
    char *p = cx_django_b64url_encode(payload, strlen(payload)), *signing_input = NULL, *sig = NULL, *token = NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (h && p && asprintf(&signing_input, "%s.%s", h, p) > 0
        && HMAC(EVP_sha256(), secret, (int) strlen(secret), (unsigned char *) signing_input, strlen(signing_input),
                mac, &mac_len)
        && (sig = cx_django_b64url_encode(mac, mac_len)) && asprintf(&token, "%s.%s", signing_input, sig) < 0)
        token = NULL;
    free(h);
    free(p);
    free(signing_input);
    free(sig);
    return token;
}

char *cx_django_jwt_issue(const char *secret, const char *claim, const char *user_id, time_t now, long ttl_s)
{
    char jti[33];
    if (!secret || !*secret || !claim || !user_id || !*user_id || random_jti(jti) != 0)
        return NULL;
    json_t *claims = json_pack("{s:s, s:I, s:I, s:s}", "token_type", "access", "exp",
                               (json_int_t) now + ttl_s, "iat", (json_int_t) now, "jti", jti);
    json_t *uid = user_value(user_id);
    char *payload = NULL, *token = NULL;
    if (claims && uid && json_object_set_new(claims, claim, json_incref(uid)) == 0)
        payload = json_dumps(claims, JSON_COMPACT);
    json_decref(uid);
    json_decref(claims);
    if (payload)
        token = sign_compact(secret, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload);
    free(payload);
    return token;
}
