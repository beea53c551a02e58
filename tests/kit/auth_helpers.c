/*
 * auth_helpers.c — credentials for end-to-end tests, written the way Django
 * writes them: session rows signed with the site's secret and carrying the
 * _auth_user_hash of the user's password (django.contrib.auth.login), and
 * simplejwt access tokens, plus arbitrary signed JWTs for the tokens a
 * well-behaved issuer never makes (expired, not yet valid, wrong alg).
 *
 * Everything goes through common/django_signing.c, whose output is checked
 * byte for byte against Django's in the unit tests, so a test that passes
 * here passes against rows a real Django site wrote. Database writes use
 * their own connection with parameters (the stack's connection is private to
 * stack.c), and abort the test on failure like the rest of the kit.
 */
#include "chanx/testing.h"
#include "common/django_signing.h"
#include "common/django_auth.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SESSION_KEY_CHARS "abcdefghijklmnopqrstuvwxyz0123456789"
#define MODEL_BACKEND "django.contrib.auth.backends.ModelBackend"

/* Runs one parameterized statement on a short-lived connection; returns the result (caller clears). */
static PGresult *exec_params(cx_stack *stack, const char *sql, int n, const char *const *params)
{
    PGconn *db = PQconnectdb(cx_stack_database(stack));
    if (PQstatus(db) != CONNECTION_OK) {
        char err[256];
        snprintf(err, sizeof err, "%s", PQerrorMessage(db));
        PQfinish(db);
        cr_assert_fail("test database: %s", err);
    }
    PGresult *res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char err[512];
        snprintf(err, sizeof err, "%s", PQresultErrorMessage(res));
        PQclear(res);
        PQfinish(db);
        cr_assert_fail("SQL failed: %s\n%s", err, sql);
    }
    PQfinish(db);
    return res;
}

static void id_text(int64_t id, char out[32])
{
    snprintf(out, 32, "%lld", (long long) id);
}

void cx_db_set_password(cx_stack *stack, int64_t user_id, const char *password)
{
    char id[32], *hash = cx_django_make_password(password);
    cr_assert_not_null(hash);
    id_text(user_id, id);
    const char *params[] = { hash, id };
    PQclear(exec_params(stack, "UPDATE auth_user SET password = $1 WHERE id = $2::integer", 2, params));
    free(hash);
}

void cx_db_insert_session(cx_stack *stack, const char *session_key, const char *session_data, long ttl_s)
{
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%ld", ttl_s);
    const char *params[] = { session_key, session_data, ttl };
    PQclear(exec_params(stack, "INSERT INTO django_session (session_key, session_data, expire_date) "
                               "VALUES ($1, $2, now() + $3::bigint * interval '1 second')", 3, params));
}

/* What login() stores: the user id as a string, the backend, and the password's auth hash. */
static char *login_session_data(cx_stack *stack, int64_t user_id, const char *secret_key)
{
    char id[32], auth_hash[65];
    id_text(user_id, id);
    const char *params[] = { id };
    PGresult *res = exec_params(stack, "SELECT password FROM auth_user WHERE id = $1::integer", 1, params);
    cr_assert_eq(PQntuples(res), 1, "no user %s", id);
    int hashed = cx_django_session_auth_hash(PQgetvalue(res, 0, 0), secret_key, auth_hash, sizeof auth_hash);
    PQclear(res);
    cr_assert_eq(hashed, 0);
    json_t *dict = json_pack("{s:s, s:s, s:s}", "_auth_user_id", id, "_auth_user_backend", MODEL_BACKEND,
                             "_auth_user_hash", auth_hash);
    char *text = json_dumps(dict, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *data = cx_django_session_encode(text, secret_key);
    free(text);
    json_decref(dict);
    cr_assert_not_null(data);
    return data;
}

char *cx_db_session_cookie(cx_stack *stack, int64_t user_id, const char *secret_key, long ttl_s)
{
    char key[33];
    cr_assert_eq(cx_django_random_string(key, 32, SESSION_KEY_CHARS), 0);
    char *data = login_session_data(stack, user_id, secret_key);
    cx_db_insert_session(stack, key, data, ttl_s);
    free(data);
    return strdup(key);
}

char *cx_jwt_for(int64_t user_id, const char *secret, long ttl_s)
{
    char id[32];
    id_text(user_id, id);
    char *token = cx_django_jwt_issue(secret, "user_id", id, time(NULL), ttl_s);
    cr_assert_not_null(token);
    return token;
}

char *cx_jwt_sign(const char *secret, const char *header_json, const char *claims_json)
{
    char *h = cx_django_b64url_encode(header_json, strlen(header_json));
    char *c = cx_django_b64url_encode(claims_json, strlen(claims_json));
    cr_assert(h && c);
    size_t input_len = strlen(h) + 1 + strlen(c);
    char *input = malloc(input_len + 1);
    cr_assert_not_null(input);
    snprintf(input, input_len + 1, "%s.%s", h, c);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    cr_assert_not_null(HMAC(EVP_sha256(), secret, (int) strlen(secret), (const unsigned char *) input, input_len, mac,
                            &mac_len));
    char *sig = cx_django_b64url_encode(mac, mac_len);
    cr_assert_not_null(sig);
    size_t len = input_len + 1 + strlen(sig) + 1;
    char *token = malloc(len);
    cr_assert_not_null(token);
    snprintf(token, len, "%s.%s", input, sig);
    free(h);
    free(c);
    free(input);
    free(sig);
    return token;
}
