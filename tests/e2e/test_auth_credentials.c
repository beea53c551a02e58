/*
 * Credentials stay at the edge (issue #17): whatever a client authenticated
 * with, the token and JWT query parameters, the session and JWT cookies and
 * the Authorization header, the gateway keeps; the worker (and so every
 * plugin, its log lines and its crash dumps) sees the other cookies and
 * parameters, and the name of the class that identified the user
 * (chanx_auth_class), never the secret. The probe's "whoami" shows what
 * reached the worker.
 */
#include "test_auth.h"

TestSuite(auth_credentials, .fini = stop_stack, .timeout = 60);

static json_t *whoami_at(const char *path, const char *const *headers)
{
    cx_communicator *c = cx_communicator_new(stack, path, headers);
    assert_auth(c, 200, "OK");
    json_t *who = whoami(c);
    cx_communicator_disconnect(c);
    return who;
}

static void assert_query(const json_t *who, const char *expected)
{
    json_t *want = json_loads(expected, 0, NULL);
    char *got = json_dumps(json_object_get(who, "query"), JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert(json_equal(json_object_get(who, "query"), want), "query the worker saw: %s, expected %s", got, expected);
    free(got);
    json_decref(want);
}

static const char *str(const json_t *who, const char *key)
{
    const char *v = json_string_value(json_object_get(who, key));
    return v ? v : "(null)";
}

Test(auth_credentials, a_token_in_the_query_string_never_reaches_the_worker)
{
    start_stack(NULL);
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    char path[256];
    snprintf(path, sizeof path, "/ws/auth_probe/token/?room=7&token=%s&lang=fr", cx_db_token(stack, bob));
    const char *headers[] = { "Cookie: theme=dark", NULL };
    json_t *who = whoami_at(path, headers);
    assert_query(who, "{\"room\": [\"7\"], \"lang\": [\"fr\"]}");
    cr_assert_str_eq(str(who, "auth_class"), "token");
    cr_assert_str_eq(str(who, "cookie_header"), "theme=dark");
    json_decref(who);
}

/* Cookies packed without spaces are re-joined with "; " (each kept pair may grow by a byte), and
 * arguments that need encoding reach the worker decoded exactly once. */
Test(auth_credentials, packed_cookies_and_encoded_arguments_reach_the_worker_intact)
{
    start_stack(NULL);
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    char path[300];
    snprintf(path, sizeof path, "/ws/auth_probe/token/?name=J%%C3%%B6rg%%20%%26co&token=%s&e=&x=%%3D%%25", cx_db_token(stack, bob));
    const char *headers[] = { "Cookie: a=1;b=2;c=3;d=4;e=5;f=6", NULL };
    json_t *who = whoami_at(path, headers);
    assert_query(who, "{\"name\": [\"J\u00f6rg &co\"], \"e\": [\"\"], \"x\": [\"=%\"]}");
    cr_assert_str_eq(str(who, "cookie_header"), "a=1; b=2; c=3; d=4; e=5; f=6");
    json_decref(who);
}

Test(auth_credentials, the_session_cookie_never_reaches_the_worker_other_cookies_do)
{
    start_stack(NULL);
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    char *key = cx_db_session_cookie(stack, bob, SECRET, 3600), header[300];
    snprintf(header, sizeof header, "Cookie: csrftoken=abc; sessionid=%s; theme=dark", key);
    const char *headers[] = { header, NULL };
    json_t *who = whoami_at("/ws/auth_probe/session/?q=1", headers);
    cr_assert_str_eq(str(who, "auth_class"), "session");
    cr_assert_str_eq(str(who, "cookie_header"), "csrftoken=abc; theme=dark");
    cr_assert(!strstr(str(who, "cookie_header"), key));
    assert_query(who, "{\"q\": [\"1\"]}");
    json_decref(who);
    free(key);
}

/* Issue 28 (5): lws glued two Cookie headers into "a=1  sessionid=<key>", so neither authentication
 * nor the stripping saw the session cookie, and the consumer read it. Every Cookie header is read
 * now, as Django reads the one its server joins them into: the last sessionid wins. */
Test(auth_credentials, credentials_in_a_second_cookie_header_are_used_and_stripped_as_well)
{
    const char *env[] = { "CHANX_JWT_COOKIE=jwt", "CHANX_ALLOWED_ORIGINS=*", NULL };
    start_stack(env);
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    char *key = cx_db_session_cookie(stack, bob, SECRET, 3600), second[300];
    snprintf(second, sizeof second, "Cookie: sessionid=%s; jwt=stale", key);
    const char *headers[] = { "Cookie: theme=dark; sessionid=overridden", second, "Cookie: lang=fr", NULL };
    json_t *who = whoami_at("/ws/auth_probe/session/", headers);
    cr_assert_str_eq(str(who, "auth_class"), "session", "the session cookie of the second header authenticates");
    cr_assert_str_eq(str(who, "cookie_header"), "theme=dark; lang=fr");
    cr_assert(!strstr(str(who, "cookie_header"), key));
    json_decref(who);
    free(key);
}

Test(auth_credentials, jwt_parameter_cookie_and_header_never_reach_the_worker)
{
    const char *env[] = { "CHANX_JWT_QUERY_PARAM=access", "CHANX_JWT_COOKIE=jwt", "CHANX_ALLOWED_ORIGINS=*", NULL };
    start_stack(env);
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    char *jwt = cx_jwt_for(bob, SECRET, 300), path[1200], cookie[1200], bearer[1200];
    snprintf(path, sizeof path, "/ws/auth_probe/jwt/?access=%s&page=2", jwt);
    json_t *who = whoami_at(path, NULL);
    cr_assert_str_eq(str(who, "auth_class"), "jwt");
    assert_query(who, "{\"page\": [\"2\"]}");
    json_decref(who);

    snprintf(cookie, sizeof cookie, "Cookie: jwt=%s; theme=dark", jwt);
    const char *with_cookie[] = { cookie, NULL };
    who = whoami_at("/ws/auth_probe/jwt/", with_cookie);
    cr_assert_str_eq(str(who, "auth_class"), "jwt");
    cr_assert_str_eq(str(who, "cookie_header"), "theme=dark");
    json_decref(who);

    snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", jwt);
    const char *with_header[] = { bearer, "Cookie: sessionid=stale; jwt=old", NULL };
    who = whoami_at("/ws/auth_probe/jwt/", with_header);
    cr_assert_str_eq(str(who, "auth_class"), "jwt");
    cr_assert(json_is_false(json_object_get(who, "headers_with_authorization")));
    cr_assert(json_is_null(json_object_get(who, "cookie_header")), "only credential cookies: no cookie header at all");
    json_decref(who);
    free(jwt);
}

Test(auth_credentials, an_anonymous_connection_has_no_auth_class)
{
    start_stack(NULL);
    json_t *who = whoami_at("/ws/auth_probe/anyone/?page=1", NULL);
    cr_assert(json_is_null(json_object_get(who, "auth_class")));
    assert_query(who, "{\"page\": [\"1\"]}");
    json_decref(who);
}
