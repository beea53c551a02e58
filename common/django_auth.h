/*
 * django_auth.h — what Django derives from a user: password hashes, the
 * session auth hash and simplejwt access tokens (see django_signing.h for
 * the formats they are built on).
 */
#ifndef CX_COMMON_DJANGO_AUTH_H
#define CX_COMMON_DJANGO_AUTH_H

#include <stddef.h>
#include <time.h>

#define CX_DJANGO_PBKDF2_ITERATIONS 260000 /* Django 3.2's default */

/* "pbkdf2_sha256$260000$<22-char salt>$<base64 hash>", malloc'd (NULL on
 * RNG failure). NULL password gives an unusable "!<40 random chars>" as
 * make_password(None) does. */
char *cx_django_make_password(const char *password);
/* 1 match, 0 not. Accepts pbkdf2_sha256 and pbkdf2_sha1 with any iteration
 * count; unusable ("!...") and unknown hashers never match. */
int cx_django_check_password(const char *password, const char *encoded);

/* The _auth_user_hash value: salted_hmac("django.contrib.auth.models.
 * AbstractBaseUser.get_session_auth_hash", password_hash, secret, sha256)
 * as 64 hex chars. outlen must be >= 65. Returns 0, or -1. */
int cx_django_session_auth_hash(const char *password_hash, const char *secret_key, char *out, size_t outlen);

/* Whether a session's _auth_user_hash still matches the user's password
 * hash, as django.contrib.auth.get_user checks on every request: the
 * sha256 hash, or the sha1 one Django 3.1/3.2 still accept
 * (_legacy_get_session_auth_hash). Constant time. 1 match, 0 not (also on
 * NULL or empty input: a session without the hash is not trusted). */
int cx_django_session_auth_hash_ok(const char *session_hash, const char *password_hash, const char *secret_key);

/* A simplejwt access token, as AccessToken.for_user builds it:
 * {"token_type":"access","exp":now+ttl,"iat":now,"jti":<uuid4 hex>,"<claim>":id}
 * signed HS256; an all-digit id is written as a JSON integer, as Django's
 * integer primary keys are. Lives here, not in gateway/, because chanx-admin
 * issues tokens too. Returns a malloc'd token, NULL on error. */
char *cx_django_jwt_issue(const char *secret, const char *claim, const char *user_id, time_t now, long ttl_s);

#endif
