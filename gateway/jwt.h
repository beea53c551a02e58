/*
 * jwt.h — HS256 JWT verification with djangorestframework-simplejwt's rules.
 *
 * The gateway accepts the access tokens a Django site issues with simplejwt,
 * so acceptance follows simplejwt + PyJWT exactly (checked against vectors
 * simplejwt produced, tests/fixtures/django_vectors.json) rather than the
 * JWT RFCs' looser defaults: HS256 only, exp required, jti and token_type
 * "access" required in simplejwt mode. Only HS256 because a shared Django
 * SECRET_KEY is the deployment this serves; asymmetric keys are out of scope.
 */
#ifndef CX_GATEWAY_JWT_H
#define CX_GATEWAY_JWT_H

#include <stddef.h>
#include <time.h>

/* Where an exp claim is clamped before it becomes a deadline: the year 33658, past any real token. */
#define CX_JWT_FAR_FUTURE_S 1000000000000LL

typedef struct {
    const char *secret;        /* SIMPLE_JWT["SIGNING_KEY"], by default Django's SECRET_KEY */
    const char *user_id_claim; /* NULL: "user_id", simplejwt's USER_ID_CLAIM */
    long leeway_s;             /* SIMPLE_JWT["LEEWAY"] */
    int require_access_type;   /* AccessToken's checks: token_type == "access" and a jti present */
} cx_jwt_config;

/* Verifies an HS256 compact JWT: alg must be HS256 (reject "none" and
 * everything else), signature checked in constant time, exp required and
 * after now - leeway, nbf and iat if present not after now + leeway. Copies
 * the user id claim (integer or string) into user_id. Returns 0, or -1 with
 * simplejwt's reason in err: "Token is invalid or expired", "Token has no
 * 'exp' claim", "Token has no id", "Token has no type", "Token has wrong
 * type", "Token contained no recognizable user identification". */
int cx_jwt_verify(const cx_jwt_config *cfg, const char *token, time_t now, char *user_id, size_t user_id_len,
                  char *err, size_t errlen);

/* cx_jwt_verify that also gives the token's exp claim (seconds since the epoch) in *exp (may be
 * NULL): the connection it authenticates ends then (gateway/expiry.h). */
int cx_jwt_verify_exp(const cx_jwt_config *cfg, const char *token, time_t now, char *user_id, size_t user_id_len,
                      long long *exp, char *err, size_t errlen);

/* The deployment's simplejwt settings: CHANX_JWT_SECRET (else CHANX_DJANGO_SECRET_KEY, else ""),
 * CHANX_JWT_USER_ID_CLAIM, CHANX_JWT_LEEWAY; access tokens only. Strings are the environment's. */
void cx_jwt_settings(cx_jwt_config *cfg);

/* Issues an access token as simplejwt's AccessToken.for_user: claims
 * {"token_type":"access","exp":now+ttl,"iat":now,"jti":<32 hex>,"<claim>":id};
 * a user id made only of digits is written as a JSON integer, as Django's
 * integer primary keys are. Returns a malloc'd token, NULL on error. */
char *cx_jwt_issue(const cx_jwt_config *cfg, const char *user_id, time_t now, long ttl_s);

#endif
