/*
 * django_signing.h — Django's session and signing formats in C.
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

/* Django's salted_hmac: HMAC(H(key_salt + secret), value). md is "sha1" or
 * "sha256"; out gets the raw digest, *out_len its length. Returns 0 or -1. */
int cx_django_salted_hmac(const char *md, const char *key_salt, const char *secret, const void *value,
                          size_t value_len, unsigned char *out, unsigned int *out_len);

/* URL-safe base64 without padding (JWT, django.core.signing). encode returns
 * a malloc'd string; decode accepts missing padding, returns a malloc'd
 * buffer with a NUL after the *out_len bytes, or NULL on bad input. */
char *cx_django_b64url_encode(const void *data, size_t len);
unsigned char *cx_django_b64url_decode(const char *text, size_t len, size_t *out_len);

/* Standard base64 with padding (password hashes). malloc'd. */
char *cx_django_b64_encode(const void *data, size_t len);
/* len bytes as 2*len lowercase hex digits and a NUL into out. */
void cx_django_hex(const unsigned char *in, size_t len, char *out);
/* Whether b (NUL-terminated, may be NULL) equals the a_len bytes of a, in constant time. */
int cx_django_equal_ct(const char *a, size_t a_len, const char *b);

/* n random characters of alphabet (rejection sampling from RAND_bytes, so
 * unbiased) into out[n+1]. Returns 0, or -1 if the RNG fails. Used for salts
 * and session keys as Django's get_random_string. */
int cx_django_random_string(char *out, size_t n, const char *alphabet);

#endif
