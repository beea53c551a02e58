/*
 * chanx-admin end to end: the users and credentials it writes, the way
 * manage.py would, are accepted by a running gateway — a DRF token, a
 * logged-in session signed with the site's secret, a simplejwt access
 * token — and an inactive user's credentials are refused like any other.
 * The admin runs as a real process against the stack's database.
 */
#include "test_auth.h"

TestSuite(auth_admin, .fini = stop_stack, .timeout = 90);

/* Runs chanx-admin with args (the secret in its environment, never on the command line); returns its
 * first output line (static). */
static const char *admin(const char *args)
{
    static char line[4200];
    char cmd[1200];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(cmd, sizeof cmd, "CHANX_DJANGO_SECRET_KEY='%s' %s/chanx-admin --database '%s' %s", SECRET, bin,
             cx_stack_database(stack), args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    line[0] = '\0';
    if (!fgets(line, sizeof line, p))
        line[0] = '\0';
    int rc = pclose(p);
    cr_assert_eq(rc, 0, "chanx-admin %s failed (%d)", args, rc);
    line[strcspn(line, "\n")] = '\0';
    return line;
}

static const char *const *header(const char *fmt, const char *value)
{
    static char line[4300];
    static const char *headers[2] = { line, NULL };
    snprintf(line, sizeof line, fmt, value);
    return headers;
}

Test(auth_admin, token_session_and_jwt_from_chanx_admin_are_accepted)
{
    start_stack(NULL);
    admin("createuser frank --password 'correct horse' --email frank@example.com");
    assert_connected_as("/ws/auth_probe/token/", header("Authorization: Token %s", admin("token frank")), "frank");
    assert_connected_as("/ws/auth_probe/session/", header("Cookie: sessionid=%s", admin("session frank")), "frank");
    assert_connected_as("/ws/auth_probe/jwt/", header("Authorization: Bearer %s", admin("jwt frank")), "frank");
}

Test(auth_admin, staff_flags_reach_the_permission_classes)
{
    start_stack(NULL);
    admin("createuser root --superuser");
    assert_connected_as("/ws/auth_probe/and/", header("Authorization: Token %s", admin("token root")), "root");
}

Test(auth_admin, an_inactive_users_credentials_are_refused)
{
    start_stack(NULL);
    admin("createuser grace --inactive");
    assert_refused("/ws/auth_probe/token/", header("Authorization: Token %s", admin("token grace")), 401,
                   "User inactive or deleted.");
    assert_refused("/ws/auth_probe/session/", header("Cookie: sessionid=%s", admin("session grace")), 403,
                   NOT_PROVIDED);
    assert_refused("/ws/auth_probe/jwt/", header("Authorization: Bearer %s", admin("jwt grace")), 401,
                   "User is inactive");
}
