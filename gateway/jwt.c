/*
 * jwt.c — simplejwt-compatible HS256 access tokens.
 *
 * Design: a JWT library would accept what the RFC allows; the gateway must
 * accept exactly what simplejwt accepts, so this replays the order of checks
 * of PyJWT's decode (header, algorithm allow-list, signature, iat/nbf/exp)
 * followed by simplejwt's AccessToken.verify (exp present, jti, token_type)
 * and JWTAuthentication.get_user (user id claim), with their messages. The
 * algorithm is pinned to HS256 before the signature is looked at, so "none"
 * or algorithm-confusion tokens never reach the HMAC. Everything a client
 * sends is decoded with bounds and the error text never contains the token
 * or the key.
 */
#include "gateway/jwt.h"

#include "common/django_signing.h"
#include "common/django_auth.h"
#include "common/env.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVALID "Token is invalid or expired"
#define NO_USER "Token contained no recognizable user identification"
#define MAX_TOKEN_LEN 8192 /* far above any access token; bounds the work per attempt */

static const char *user_claim(const cx_jwt_config *cfg)
{
    return cfg->user_id_claim && *cfg->user_id_claim ? cfg->user_id_claim : "user_id";
}

static json_t *segment_object(const char *seg, size_t len)
{
    size_t raw_len;
    unsigned char *raw = cx_django_b64url_decode(seg, len, &raw_len);
    json_t *obj = raw ? json_loadb((const char *) raw, raw_len, 0, NULL) : NULL;
    free(raw);
    if (obj && !json_is_object(obj)) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

static int signature_ok(const char *secret, const char *signing_input, size_t input_len, const char *sig,
                        size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t got_len = 0;
    unsigned char *got = cx_django_b64url_decode(sig, sig_len, &got_len);
    int ok = got && HMAC(EVP_sha256(), secret, (int) strlen(secret), (const unsigned char *) signing_input,
                         input_len, mac, &mac_len)
             && got_len == mac_len && CRYPTO_memcmp(got, mac, mac_len) == 0;
    free(got);
    return ok;
}

/* Splits header.payload.signature, pins the algorithm, checks the HMAC and
 * returns the claims object (NULL: "Token is invalid or expired"). */
static json_t *verified_claims(const char *secret, const char *token)
{
    size_t len = strnlen(token, MAX_TOKEN_LEN + 1);
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token)) : NULL;
    if (len > MAX_TOKEN_LEN || !dot2 || memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)))
        return NULL;
    json_t *header = segment_object(token, (size_t) (dot1 - token));
    const char *alg = json_string_value(json_object_get(header, "alg"));
    int alg_ok = alg && strcmp(alg, "HS256") == 0;
    json_decref(header);
    if (!alg_ok || !signature_ok(secret, token, (size_t) (dot2 - token), dot2 + 1, len - (size_t) (dot2 + 1 - token)))
        return NULL;
    return segment_object(dot1 + 1, (size_t) (dot2 - dot1 - 1));
}

/* PyJWT's int(claim): numbers only (truncated), absent is fine. */
static int time_claim(json_t *claims, const char *name, long long *value, int *present)
{
    json_t *v = json_object_get(claims, name);
    *present = v != NULL;
    if (!v)
        return 0;
    if (!json_is_number(v))
        return -1;
    if (json_is_integer(v)) {
        *value = (long long) json_integer_value(v);
        return 0;
    }
    /* Python's int() has no range; a C cast of 1e103 is undefined (found by tests/fuzz/fuzz_jwt).
     * Saturating keeps every comparison Python would make: far future, far past. */
    double r = json_real_value(v);
    *value = r >= 9.2e18 ? LLONG_MAX : r <= -9.2e18 ? LLONG_MIN : (long long) r;
    return 0;
}

/* PyJWT's _validate_claims: iat and nbf not in the future, exp not past. */
static const char *check_times(json_t *claims, time_t now, long leeway)
{
    long long iat = 0, nbf = 0, exp = 0;
    int has_iat, has_nbf, has_exp;
    if (time_claim(claims, "iat", &iat, &has_iat) || time_claim(claims, "nbf", &nbf, &has_nbf)
        || time_claim(claims, "exp", &exp, &has_exp))
        return INVALID;
    if ((has_iat && iat > (long long) now + leeway) || (has_nbf && nbf > (long long) now + leeway)
        || (has_exp && exp <= (long long) now - leeway))
        return INVALID;
    return has_exp ? NULL : "Token has no 'exp' claim"; /* simplejwt's check_exp */
}

/* AccessToken.verify's jti and token_type checks. */
static const char *check_access(json_t *claims)
{
    if (!json_object_get(claims, "jti"))
        return "Token has no id";
    json_t *type = json_object_get(claims, "token_type");
    if (!type)
        return "Token has no type";
    return json_is_string(type) && strcmp(json_string_value(type), "access") == 0 ? NULL : "Token has wrong type";
}

static const char *copy_user(json_t *claims, const char *claim, char *user_id, size_t user_id_len)
{
    json_t *v = json_object_get(claims, claim);
    int n = -1;
    if (json_is_integer(v))
        n = snprintf(user_id, user_id_len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_string(v) && json_string_length(v) && strlen(json_string_value(v)) == json_string_length(v))
        n = snprintf(user_id, user_id_len, "%s", json_string_value(v));
    return n >= 0 && (size_t) n < user_id_len ? NULL : NO_USER;
}

int cx_jwt_verify(const cx_jwt_config *cfg, const char *token, time_t now, char *user_id, size_t user_id_len,
                  char *err, size_t errlen)
{
    return cx_jwt_verify_exp(cfg, token, now, user_id, user_id_len, NULL, err, errlen);
}

int cx_jwt_verify_exp(const cx_jwt_config *cfg, const char *token, time_t now, char *user_id, size_t user_id_len,
                      long long *exp, char *err, size_t errlen)
{
    const char *reason = INVALID;
    json_t *claims = NULL;
    if (user_id && user_id_len)
        user_id[0] = '\0';
    /* An empty key would let anyone mint tokens: refuse rather than verify. */
    if (cfg && cfg->secret && *cfg->secret && token && user_id && user_id_len)
        claims = verified_claims(cfg->secret, token);
    if (claims) {
        reason = check_times(claims, now, cfg->leeway_s);
        if (!reason && cfg->require_access_type)
            reason = check_access(claims);
        if (!reason)
            reason = copy_user(claims, user_claim(cfg), user_id, user_id_len);
        int has_exp;
        if (!reason && exp)
            time_claim(claims, "exp", exp, &has_exp);   /* present and numeric: check_times passed */
        json_decref(claims);
    }
    if (reason) {
        if (user_id && user_id_len)
            user_id[0] = '\0';
        if (err && errlen)
            snprintf(err, errlen, "%s", reason);
        return -1;
    }
    return 0;
}

void cx_jwt_settings(cx_jwt_config *cfg)
{
    *cfg = (cx_jwt_config) {
        .secret = cx_env_str("CHANX_JWT_SECRET", cx_env_str("CHANX_DJANGO_SECRET_KEY", "")),
        .user_id_claim = cx_env_str("CHANX_JWT_USER_ID_CLAIM", "user_id"),
        .leeway_s = cx_env_long("CHANX_JWT_LEEWAY", 0, 0, 86400),
        .require_access_type = 1,
    };
}

char *cx_jwt_issue(const cx_jwt_config *cfg, const char *user_id, time_t now, long ttl_s)
{
    return cfg ? cx_django_jwt_issue(cfg->secret, user_claim(cfg), user_id, now, ttl_s) : NULL;
}
