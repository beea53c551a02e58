/*
 * The authentication classes end to end: DRF tokens, Django sessions and
 * simplejwt tokens, through a real gateway against real PostgreSQL rows.
 *
 * Session rows are the ones Django 3.2 itself wrote (tests/fixtures/
 * django_vectors.json: zlib-compressed and signed, the pre-3.1 base64
 * format, the sha1 signer fallback, tampered and foreign-key variants) for
 * the fixture's user 1, whose password hash the fixture records, so the
 * _auth_user_hash check runs on Django's own bytes. JWTs are issued by the
 * kit the way simplejwt does, or signed by hand for the claims a real issuer
 * never writes. The probe's "whoami" shows who the worker was told connected.
 */
#include "test_auth.h"

#include <time.h>

TestSuite(auth_classes, .fini = stop_stack, .timeout = 90);

static const char *const *cookie_header(const char *cookies)
{
    static char header[4200];
    static const char *headers[2] = { header, NULL };
    snprintf(header, sizeof header, "Cookie: %.4000s", cookies);
    return headers;
}

static const char *const *session_header(const char *key)
{
    char cookies[256];
    snprintf(cookies, sizeof cookies, "csrftoken=abc; sessionid=%s; theme=dark", key);
    return cookie_header(cookies);
}

static const char *const *bearer(const char *jwt)
{
    static char header[4200];
    static const char *headers[2] = { header, NULL };
    snprintf(header, sizeof header, "Authorization: Bearer %s", jwt);
    return headers;
}

/* ---------------------------------------------------------------- Django's own rows */

static json_t *doc;

/* Alice as the fixture's Django site knows her: user 1, with the password hash its sessions were made for. */
static void fixture_alice(int flags)
{
    doc = fixture();
    cr_assert_eq(cx_db_create_user(stack, "alice", flags), 1);
    const char *hash = json_string_value(json_object_get(json_array_get(json_object_get(doc, "auth_hashes"), 0),
                                                         "password_hash"));
    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE auth_user SET password = '%s' WHERE id = 1", hash);
    cx_db_exec(stack, sql);
}

/* Stores the fixture's session row called name under a fresh key; returns the key (static). */
static const char *django_session(const char *name, long ttl_s)
{
    static char key[40];
    static int n;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "sessions"), i, v) {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) != 0)
            continue;
        snprintf(key, sizeof key, "fixture%025d", ++n);
        cx_db_insert_session(stack, key, json_string_value(json_object_get(v, "data")), ttl_s);
        return key;
    }
    cr_assert_fail("no session vector %s", name);
    return NULL;
}

Test(auth_classes, token_header_and_query_parameter_identify_the_user)
{
    start_stack(NULL);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    assert_connected_as("/ws/auth_probe/token/", cx_db_token_header(stack, alice), "alice");
    char path[128];
    snprintf(path, sizeof path, "/ws/auth_probe/token/?token=%s", cx_db_token(stack, alice));
    assert_connected_as(path, NULL, "alice");
}

Test(auth_classes, bad_token_headers_get_drfs_messages)
{
    start_stack(NULL);
    const char *none[] = { "Authorization: Token", NULL };
    const char *spaces[] = { "Authorization: Token abc def", NULL };
    const char *wrong[] = { "Authorization: Token 0123456789abcdef0123456789abcdef01234567", NULL };
    assert_refused("/ws/auth_probe/token/", none, 401, "Invalid token header. No credentials provided.");
    assert_refused("/ws/auth_probe/token/", spaces, 401, "Invalid token header. Token string should not contain spaces.");
    assert_refused("/ws/auth_probe/token/", wrong, 401, "Invalid token.");
}

Test(auth_classes, session_rows_django_wrote_are_accepted_in_every_format)
{
    start_stack(NULL);
    fixture_alice(0);
    /* signed and zlib-compressed (Django >= 3.1), pre-3.1 base64, and the sha1 signer fallback */
    const char *formats[] = { "login", "legacy", "signed_sha1" };
    for (size_t i = 0; i < 3; i++)
        assert_connected_as("/ws/auth_probe/session/", session_header(django_session(formats[i], 3600)), "alice");
    json_decref(doc);
}

Test(auth_classes, tampered_or_foreign_sessions_are_anonymous)
{
    start_stack(NULL);
    fixture_alice(0);
    /* SessionMiddleware drops what it cannot verify: the client is anonymous, and session first means 403 */
    const char *bad[] = { "tampered_payload", "bad_sig", "signed_other_key", "legacy_other_key" };
    for (size_t i = 0; i < 4; i++)
        assert_refused("/ws/auth_probe/session/", session_header(django_session(bad[i], 3600)), 403, NOT_PROVIDED);
    assert_refused("/ws/auth_probe/session/", session_header("nosuchsessionkey0000000000000000"), 403, NOT_PROVIDED);
    json_decref(doc);
}

Test(auth_classes, expired_session_is_refused)
{
    start_stack(NULL);
    fixture_alice(0);
    assert_refused("/ws/auth_probe/session/", session_header(django_session("login", -60)), 403, NOT_PROVIDED);
    json_decref(doc);
}

Test(auth_classes, session_without_the_auth_hash_is_refused_when_the_key_is_known)
{
    start_stack(NULL);
    doc = fixture();
    for (int i = 1; i <= 7; i++) {   /* the "tiny" vector names user 7 and carries no _auth_user_hash */
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        cx_db_create_user(stack, name, 0);
    }
    assert_refused("/ws/auth_probe/session/", session_header(django_session("tiny", 3600)), 403, NOT_PROVIDED);
    json_decref(doc);
}

Test(auth_classes, without_a_secret_key_the_stored_row_is_trusted_as_is)
{
    const char *env[] = { "CHANX_DJANGO_SECRET_KEY=", NULL };
    start_stack(env);
    doc = fixture();
    for (int i = 1; i <= 7; i++) {
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        cx_db_create_user(stack, name, 0);
    }
    /* uncompressed signed format, signature and hash not checkable without the key */
    assert_connected_as("/ws/auth_probe/session/", session_header(django_session("tiny", 3600)), "user7");
    json_decref(doc);
}

Test(auth_classes, a_password_change_logs_other_sessions_out)
{
    start_stack(NULL);
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    cx_db_set_password(stack, bob, "first password");
    char *key = cx_db_session_cookie(stack, bob, SECRET, 3600);
    assert_connected_as("/ws/auth_probe/session/", session_header(key), "bob");
    cx_db_set_password(stack, bob, "second password");
    assert_refused("/ws/auth_probe/session/", session_header(key), 403, NOT_PROVIDED);
    free(key);
}

Test(auth_classes, session_cookie_name_is_configurable)
{
    const char *env[] = { "CHANX_SESSION_COOKIE_NAME=chanx_sid", NULL };
    start_stack(env);
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    char *key = cx_db_session_cookie(stack, bob, SECRET, 3600), cookies[128];
    assert_refused("/ws/auth_probe/session/", session_header(key), 403, NOT_PROVIDED);
    snprintf(cookies, sizeof cookies, "sessionid=nothing; chanx_sid=%s", key);
    assert_connected_as("/ws/auth_probe/session/", cookie_header(cookies), "bob");
    free(key);
}

Test(auth_classes, of_two_session_cookies_the_last_wins_as_in_django)
{
    start_stack(NULL);
    int64_t bob = cx_db_create_user(stack, "bob", 0), carol = cx_db_create_user(stack, "carol", 0);
    char *bobs = cx_db_session_cookie(stack, bob, SECRET, 3600), *carols = cx_db_session_cookie(stack, carol, SECRET, 3600);
    char cookies[256];
    /* Django's request.COOKIES (SimpleCookie) keeps the last of a repeated name */
    snprintf(cookies, sizeof cookies, "sessionid=%s; theme=dark; sessionid=%s", bobs, carols);
    assert_connected_as("/ws/auth_probe/session/", cookie_header(cookies), "carol");
    snprintf(cookies, sizeof cookies, "sessionid=%s; sessionid=nosuchsession", bobs);
    assert_refused("/ws/auth_probe/session/", cookie_header(cookies), 403, NOT_PROVIDED);
    free(bobs);
    free(carols);
}

/* ------------------------------------------------------------------------ JWT */

static char *signed_claims(const char *header, const char *claims_fmt, long long a, long long b)
{
    char claims[512];
    snprintf(claims, sizeof claims, claims_fmt, a, b);
    return cx_jwt_sign(SECRET, header, claims);
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define ACCESS "{\"token_type\":\"access\",\"exp\":%lld,\"iat\":1700000000,\"jti\":\"0123abcd\",\"user_id\":%lld}"
#define NOT_VALID "Given token not valid for any token type"

Test(auth_classes, jwt_by_bearer_header_query_parameter_and_cookie)
{
    const char *env[] = { "CHANX_JWT_QUERY_PARAM=jwt", "CHANX_JWT_COOKIE=access", NULL };
    start_stack(env);
    int64_t carol = cx_db_create_user(stack, "carol", 0);
    char *jwt = cx_jwt_for(carol, SECRET, 300), path[1024], cookies[1024];
    assert_connected_as("/ws/auth_probe/jwt/", bearer(jwt), "carol");
    snprintf(path, sizeof path, "/ws/auth_probe/jwt/?jwt=%s", jwt);
    assert_connected_as(path, NULL, "carol");
    snprintf(cookies, sizeof cookies, "access=%s", jwt);
    assert_connected_as("/ws/auth_probe/jwt/", cookie_header(cookies), "carol");
    free(jwt);
}

Test(auth_classes, jwt_that_is_expired_early_forged_or_of_another_alg_is_refused)
{
    start_stack(NULL);
    long long carol = cx_db_create_user(stack, "carol", 0), now = time(NULL);
    char *tokens[] = {
        signed_claims(HS256, ACCESS, now - 10, carol),   /* exp past */
        signed_claims(HS256, "{\"token_type\":\"access\",\"exp\":%lld,\"nbf\":%lld,\"jti\":\"x\",\"user_id\":1}",
                      now + 600, now + 300),             /* nbf in the future */
        signed_claims("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", ACCESS, now + 300, carol),   /* alg not HS256 */
        signed_claims("{\"alg\":\"none\"}", ACCESS, now + 300, carol),
        signed_claims(HS256, "{\"token_type\":\"refresh\",\"exp\":%lld,\"jti\":\"x\",\"user_id\":%lld}", now + 300,
                      carol),
        cx_jwt_for(carol, "another-site-secret-key-9876543210", 300),   /* bad signature */
    };
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        assert_refused("/ws/auth_probe/jwt/", bearer(tokens[i]), 401, NOT_VALID);
        free(tokens[i]);
    }
    /* a good token with one payload byte changed */
    char *good = cx_jwt_for(carol, SECRET, 300);
    char *dot = strchr(good, '.') + 3;
    *dot = *dot == 'A' ? 'B' : 'A';
    assert_refused("/ws/auth_probe/jwt/", bearer(good), 401, NOT_VALID);
    free(good);
}

Test(auth_classes, jwt_for_an_unknown_or_inactive_user_is_refused)
{
    start_stack(NULL);
    int64_t dave = cx_db_create_user(stack, "dave", CX_USER_INACTIVE_FLAG);
    char *unknown = cx_jwt_for(dave + 100, SECRET, 300), *inactive = cx_jwt_for(dave, SECRET, 300);
    assert_refused("/ws/auth_probe/jwt/", bearer(unknown), 401, "User not found");
    assert_refused("/ws/auth_probe/jwt/", bearer(inactive), 401, "User is inactive");
    free(unknown);
    free(inactive);
}

/* --------------------------------------------------------------- class order */

Test(auth_classes, inactive_users_fail_every_class)
{
    start_stack(NULL);
    int64_t eve = cx_db_create_user(stack, "eve", CX_USER_INACTIVE_FLAG);
    char *key = cx_db_session_cookie(stack, eve, SECRET, 3600), *jwt = cx_jwt_for(eve, SECRET, 300);
    assert_refused("/ws/auth_probe/token/", cx_db_token_header(stack, eve), 401, "User inactive or deleted.");
    assert_refused("/ws/auth_probe/session/", session_header(key), 403, NOT_PROVIDED);
    assert_refused("/ws/auth_probe/jwt/", bearer(jwt), 401, "User is inactive");
    free(key);
    free(jwt);
}

Test(auth_classes, no_credentials_is_401_when_the_first_class_can_challenge_else_403)
{
    start_stack(NULL);
    assert_refused("/ws/auth_probe/token_first/", NULL, 401, NOT_PROVIDED);
    assert_refused("/ws/auth_probe/jwt/", NULL, 401, NOT_PROVIDED);
    assert_refused("/ws/auth_probe/session_first/", NULL, 403, NOT_PROVIDED);
    assert_refused("/ws/auth_probe/session/", NULL, 403, NOT_PROVIDED);
}

Test(auth_classes, the_first_class_that_identifies_wins)
{
    start_stack(NULL);
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    char *bob_session = cx_db_session_cookie(stack, bob, SECRET, 3600), headers_buf[2][512];
    snprintf(headers_buf[0], sizeof headers_buf[0], "Authorization: Token %s", cx_db_token(stack, alice));
    snprintf(headers_buf[1], sizeof headers_buf[1], "Cookie: sessionid=%s", bob_session);
    const char *both[] = { headers_buf[0], headers_buf[1], NULL };
    assert_connected_as("/ws/auth_probe/token_first/", both, "alice");
    assert_connected_as("/ws/auth_probe/session_first/", both, "bob");
    /* a class that finds bad credentials stops the walk: the later valid session does not rescue it */
    const char *bad_token[] = { "Authorization: Token 0000000000000000000000000000000000000000", headers_buf[1], NULL };
    assert_refused("/ws/auth_probe/token_first/", bad_token, 401, "Invalid token.");
    assert_connected_as("/ws/auth_probe/session_first/", bad_token, "bob");
    /* a failing class answers 401 only when the first class can challenge, as DRF's handle_exception */
    const char *only_bad_token[] = { bad_token[0], NULL };
    assert_refused("/ws/auth_probe/session_first/", only_bad_token, 403, "Invalid token.");
    assert_refused("/ws/auth_probe/token_first/", only_bad_token, 401, "Invalid token.");
    free(bob_session);
}

Test(auth_classes, allow_any_admits_anonymous_clients_as_anonymous)
{
    start_stack(NULL);
    cx_communicator *c = cx_communicator_new(stack, "/ws/auth_probe/anyone/", NULL);
    assert_auth(c, 200, "OK");
    json_t *who = whoami(c), *user = json_object_get(who, "user");
    cr_assert_eq(json_integer_value(json_object_get(user, "id")), 0);
    cr_assert(json_is_false(json_object_get(user, "is_authenticated")));
    json_decref(who);
}
