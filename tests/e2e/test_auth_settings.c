/*
 * Django, DRF and simplejwt settings the gateway honours the way the site
 * does: SECRET_KEY_FALLBACKS (sessions signed, and _auth_user_hash made,
 * with a rotated-out key keep working), simplejwt's AUTH_HEADER_TYPES, and
 * DRF's DEFAULT_AUTHENTICATION_CLASSES / DEFAULT_PERMISSION_CLASSES for
 * consumers that name none (pasted as the settings file spells them).
 */
#include "test_auth.h"

TestSuite(auth_settings, .fini = stop_stack, .timeout = 90);

static const char *const *session_cookie(const char *key)
{
    static char header[256];
    static const char *headers[2] = { header, NULL };
    snprintf(header, sizeof header, "Cookie: sessionid=%s", key);
    return headers;
}

static const char *const *authorization(const char *scheme, const char *credential)
{
    static char header[4200];
    static const char *headers[2] = { header, NULL };
    snprintf(header, sizeof header, "Authorization: %s %s", scheme, credential);
    return headers;
}

Test(auth_settings, sessions_of_a_rotated_out_key_keep_working_while_it_is_a_fallback)
{
    /* The site rotated its key: SECRET is now the old one. */
    const char *env[] = { "CHANX_DJANGO_SECRET_KEY=the-new-key-0123456789", "CHANX_DJANGO_SECRET_KEY_FALLBACKS=" SECRET, NULL };
    start_stack(env);
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    cx_db_set_password(stack, bob, "a password");
    char *old = cx_db_session_cookie(stack, bob, SECRET, 3600), *fresh = cx_db_session_cookie(stack, bob, "the-new-key-0123456789", 3600);
    assert_connected_as("/ws/auth_probe/session/", session_cookie(old), "bob");
    assert_connected_as("/ws/auth_probe/session/", session_cookie(fresh), "bob");
    /* A password change still logs every session out, whichever key signed it. */
    cx_db_set_password(stack, bob, "another password");
    assert_refused("/ws/auth_probe/session/", session_cookie(old), 403, NOT_PROVIDED);
    free(old);
    free(fresh);
}

Test(auth_settings, without_the_fallback_a_rotated_out_key_is_anonymous)
{
    const char *env[] = { "CHANX_DJANGO_SECRET_KEY=the-new-key-0123456789", NULL };
    start_stack(env);
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    cx_db_set_password(stack, bob, "a password");
    char *old = cx_db_session_cookie(stack, bob, SECRET, 3600);
    assert_refused("/ws/auth_probe/session/", session_cookie(old), 403, NOT_PROVIDED);
    free(old);
}

Test(auth_settings, jwt_auth_header_types)
{
    const char *env[] = { "CHANX_JWT_AUTH_HEADER_TYPES=Bearer,JWT", NULL };
    start_stack(env);
    int64_t carol = cx_db_create_user(stack, "carol", 0);
    char *jwt = cx_jwt_for(carol, SECRET, 300);
    assert_connected_as("/ws/auth_probe/jwt/", authorization("JWT", jwt), "carol");
    assert_connected_as("/ws/auth_probe/jwt/", authorization("Bearer", jwt), "carol");
    assert_refused("/ws/auth_probe/jwt/", authorization("Token", jwt), 401, NOT_PROVIDED);
    free(jwt);
}

Test(auth_settings, jwt_header_type_defaults_to_bearer_only)
{
    start_stack(NULL);
    int64_t carol = cx_db_create_user(stack, "carol", 0);
    char *jwt = cx_jwt_for(carol, SECRET, 300);
    assert_refused("/ws/auth_probe/jwt/", authorization("JWT", jwt), 401, NOT_PROVIDED);
    free(jwt);
}

Test(auth_settings, default_classes_apply_to_consumers_that_name_none)
{
    const char *env[] = {
        "CHANX_DEFAULT_AUTHENTICATION_CLASSES=rest_framework_simplejwt.authentication.JWTAuthentication, session",
        "CHANX_DEFAULT_PERMISSION_CLASSES=rest_framework.permissions.IsAdminUser",
        NULL,
    };
    start_stack(env);
    int64_t staff = cx_db_create_user(stack, "staff", CX_USER_STAFF_FLAG), carol = cx_db_create_user(stack, "carol", 0);
    char *staff_jwt = cx_jwt_for(staff, SECRET, 300), *carol_jwt = cx_jwt_for(carol, SECRET, 300);
    /* The "token" consumer declares no classes: it now takes JWTs and admits staff only. */
    assert_connected_as("/ws/auth_probe/token/", authorization("Bearer", staff_jwt), "staff");
    assert_refused("/ws/auth_probe/token/", authorization("Bearer", carol_jwt), 403, DENIED);
    assert_refused("/ws/auth_probe/token/", cx_db_token_header(stack, staff), 401, NOT_PROVIDED);
    /* A consumer that names its classes keeps them. */
    assert_connected_as("/ws/auth_probe/anyone/", cx_db_token_header(stack, carol), "carol");
    free(staff_jwt);
    free(carol_jwt);
}

/* A site's own class (auth_kit's JWTCookieAuthentication: simplejwt reading its cookie), pasted into
 * the default list and mapped to ours with the cookie and header type it uses. */
Test(auth_settings, a_sites_own_class_path_is_mapped_with_its_cookie_and_header_type)
{
    const char *env[] = {
        "CHANX_DEFAULT_AUTHENTICATION_CLASSES=auth_kit.authentication.JWTCookieAuthentication, "
        "rest_framework.authentication.TokenAuthentication",
        "CHANX_AUTHENTICATION_CLASS_MAP=auth_kit.authentication.JWTCookieAuthentication=jwt cookie=auth-jwt header_types=JWT",
        NULL,
    };
    start_stack(env);
    int64_t carol = cx_db_create_user(stack, "carol", 0), dave = cx_db_create_user(stack, "dave", 0);
    char *jwt = cx_jwt_for(carol, SECRET, 300);
    static char cookie[4200];
    snprintf(cookie, sizeof cookie, "Cookie: theme=dark; auth-jwt=%s", jwt);
    const char *with_cookie[] = { cookie, NULL };
    /* the "token" consumer names no classes: the mapped cookie identifies carol ... */
    cx_communicator *c = cx_communicator_new(stack, "/ws/auth_probe/token/", with_cookie);
    assert_auth(c, 200, "OK");
    json_t *who = whoami(c);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(who, "user"), "username")), "carol");
    cr_assert_str_eq(json_string_value(json_object_get(who, "cookie_header")), "theme=dark",
                     "the mapped credential cookie never reaches the worker");
    json_decref(who);
    /* ... its header type is the mapped one, not the deployment's Bearer ... */
    assert_connected_as("/ws/auth_probe/token/", authorization("JWT", jwt), "carol");
    assert_refused("/ws/auth_probe/token/", authorization("Bearer", jwt), 401, NOT_PROVIDED);
    /* ... and DRF's token class, named by its path, follows it */
    assert_connected_as("/ws/auth_probe/token/", cx_db_token_header(stack, dave), "dave");
    free(jwt);
}

/* An operator who forgot Django's SECRET_KEY sees it in the gateway's first lines: sessions still
 * authenticate (rows trusted as stored), so nothing else would tell. */
Test(auth_settings, a_gateway_without_the_secret_key_says_what_is_off)
{
    start_stack((const char *const[]) { "CHANX_DJANGO_SECRET_KEY=", NULL });   /* empty is unset */
    char *log = cx_stack_log(stack, "gateway0", "CHANX_DJANGO_SECRET_KEY is not set", 5000);
    cr_assert_not_null(log, "no warning about the missing secret key in the gateway's log");
    cr_assert(strstr(log, "JWTs are refused"), "%s", log);
    free(log);
}

Test(auth_settings, a_gateway_with_the_secret_key_does_not_warn)
{
    start_stack(NULL);
    char *log = cx_stack_log(stack, "gateway0", NULL, 0);
    cr_assert_null(strstr(log, "CHANX_DJANGO_SECRET_KEY is not set"), "%s", log);
    free(log);
}
