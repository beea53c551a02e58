/*
 * django_signing.h — Django's session, password and signing formats in C.
 *
 * The gateway authenticates against an existing Django database, so the rows
 * it reads were written by Django and the rows chanx-admin writes must be
 * read by Django. Rather than invent a format, this module re-implements the
 * few pieces of django.core.signing, contrib.sessions and contrib.auth.hashers
 * that touch those rows, byte for byte (tests/fixtures/django_vectors.json is
 * produced by Django itself and checked by tests/unit/test_django_signing.c).
 *
 * Secrets are only ever used as HMAC keys: no function copies one into an
 * error message. Every decoder treats its input as hostile and reports a
 * short reason instead of crashing.
 */
#ifndef CX_COMMON_DJANGO_SIGNING_H
#define CX_COMMON_DJANGO_SIGNING_H

#include <stddef.h>
#include <time.h>

/* The salt of every Django session backend's SessionStore (key_salt). */
#define CX_DJANGO_SESSION_SALT "django.contrib.sessions.SessionStore"
#define CX_DJANGO_PBKDF2_ITERATIONS 260000 /* Django 3.2's default */

/* Django's session_data decoding. Supports the signed format Django >= 3.1
 * writes ("payload:timestamp:signature", sha256 or the sha1 fallback Django
 * 3.1/3.2 also accept; payload zlib-compressed when it starts with '.') and
 * the legacy base64("sha1hex:json") format older Django wrote.
 * secret_key non-NULL: the signature is verified in constant time and a bad
 * one fails. NULL: not checked (the row is already trusted DB state).
 * On success returns 0 and copies "_auth_user_id" (string, or integer in
 * JSON) into user_id. On failure -1 and a short reason in err ("bad
 * signature", "not a session", "no user in session", "user id too long"). */
int cx_django_session_user_id(const char *session_data, const char *secret_key,
                              char *user_id, size_t user_id_len, char *err, size_t errlen);

/* The same for any top-level string or integer field, e.g. "_auth_user_hash"
 * to detect sessions invalidated by a password change, as Django's get_user
 * does. A missing field gives -1 and "no <field> in session". */
int cx_django_session_field(const char *session_data, const char *secret_key, const char *field,
                            char *out, size_t outlen, char *err, size_t errlen);

/* Encodes a session dict (JSON object text; key order kept) exactly as
 * Django's SessionStore.encode does: Python's compact JSON, zlib when it is
 * shorter, signed with a base62 timestamp. Returns a malloc'd string, NULL on
 * invalid JSON or missing key. _at takes the timestamp (for byte-exact tests). */
char *cx_django_session_encode(const char *session_json, const char *secret_key);
char *cx_django_session_encode_at(const char *session_json, const char *secret_key, time_t now);

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

/* Django's salted_hmac: HMAC(H(key_salt + secret), value). md is "sha1" or
 * "sha256"; out gets the raw digest, *out_len its length. Returns 0 or -1. */
int cx_django_salted_hmac(const char *md, const char *key_salt, const char *secret, const void *value,
                          size_t value_len, unsigned char *out, unsigned int *out_len);

/* URL-safe base64 without padding (JWT, django.core.signing). encode returns
 * a malloc'd string; decode accepts missing padding, returns a malloc'd
 * buffer with a NUL after the *out_len bytes, or NULL on bad input. */
char *cx_django_b64url_encode(const void *data, size_t len);
unsigned char *cx_django_b64url_decode(const char *text, size_t len, size_t *out_len);

/* A simplejwt access token, as AccessToken.for_user builds it:
 * {"token_type":"access","exp":now+ttl,"iat":now,"jti":<uuid4 hex>,"<claim>":id}
 * signed HS256; an all-digit id is written as a JSON integer, as Django's
 * integer primary keys are. Lives here, not in gateway/, because chanx-admin
 * issues tokens too. Returns a malloc'd token, NULL on error. */
char *cx_django_jwt_issue(const char *secret, const char *claim, const char *user_id, time_t now, long ttl_s);

/* n random characters of alphabet (rejection sampling from RAND_bytes, so
 * unbiased) into out[n+1]. Returns 0, or -1 if the RNG fails. Used for salts
 * and session keys as Django's get_random_string. */
int cx_django_random_string(char *out, size_t n, const char *alphabet);

#endif
