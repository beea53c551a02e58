/*
 * Permissions end to end: DRF's permission classes and their &, |, ~
 * compositions, auth_method, object-level checks (queryset → 404, object
 * permission → 403, the row reaching the worker as chanx_obj), URL kwargs
 * full of SQL metacharacters, and the worker's has_permission hook.
 *
 * The probe plugin's room consumer reads authtest_room / authtest_member,
 * which each test creates and fills; everyone authenticates by token so
 * only the permission under test decides.
 */
#include "test_auth.h"

static int64_t plain, staff, super, both;

static void setup(void)
{
    start_stack(NULL);
    cx_db_exec(stack, "CREATE TABLE IF NOT EXISTS authtest_room (id integer PRIMARY KEY, name text NOT NULL, topic text);"
                      "CREATE TABLE IF NOT EXISTS authtest_member (room_id integer NOT NULL, user_id integer NOT NULL);"
                      "TRUNCATE authtest_room, authtest_member;"
                      "INSERT INTO authtest_room VALUES (1, 'lobby', 'hello'), (2, 'staff', NULL);");
    plain = cx_db_create_user(stack, "plain", 0);
    staff = cx_db_create_user(stack, "staff", CX_USER_STAFF_FLAG);
    super = cx_db_create_user(stack, "super", CX_USER_SUPERUSER_FLAG);
    both = cx_db_create_user(stack, "both", CX_USER_STAFF_FLAG | CX_USER_SUPERUSER_FLAG);
}

TestSuite(auth_permissions, .init = setup, .fini = stop_stack, .timeout = 90);

/* Whether user may connect to the probe's route: 1 allowed, 0 refused with DRF's 403. */
static int allowed(const char *route, int64_t user)
{
    char path[256];
    snprintf(path, sizeof path, "/ws/auth_probe/%s", route);
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, user));
    json_t *payload = cx_wait_for_auth(c, 8000);
    cr_assert_not_null(payload, "no authentication message on %s", route);
    int status = (int) json_integer_value(json_object_get(payload, "status_code"));
    json_decref(payload);
    cr_assert(status == 200 || status == 403, "%s: status %d", route, status);
    if (status == 403)
        cx_assert_closed(c, 4403, 5000);
    return status == 200;
}

static void expect_allowed(const char *route, int plain_ok, int staff_ok, int super_ok, int both_ok)
{
    cr_expect_eq(allowed(route, plain), plain_ok, "%s for a plain user", route);
    cr_expect_eq(allowed(route, staff), staff_ok, "%s for staff", route);
    cr_expect_eq(allowed(route, super), super_ok, "%s for a superuser", route);
    cr_expect_eq(allowed(route, both), both_ok, "%s for staff superuser", route);
}

Test(auth_permissions, is_admin_user_and_is_superuser)
{
    expect_allowed("admin/", 0, 1, 0, 1);
    expect_allowed("superuser/", 0, 0, 1, 1);
}

Test(auth_permissions, and_or_not_compose_as_in_drf)
{
    expect_allowed("and/", 0, 0, 0, 1);
    expect_allowed("or/", 0, 1, 1, 1);
    expect_allowed("not/", 1, 0, 1, 0);
    expect_allowed("nested/", 1, 0, 1, 1);   /* IsAuthenticated & (IsSuperUser | ~(IsAdminUser | IsSuperUser)) */
    expect_allowed("list/", 0, 0, 1, 1);     /* [IsAuthenticated, IsSuperUser]: every entry must allow */
}

Test(auth_permissions, refusals_carry_drfs_status_and_detail)
{
    assert_refused("/ws/auth_probe/admin/", cx_db_token_header(stack, plain), 403, DENIED);
    assert_refused("/ws/auth_probe/admin/", NULL, 401, NOT_PROVIDED);   /* anonymous: not authenticated, token challenges */
}

Test(auth_permissions, auth_method_is_what_read_only_permissions_see)
{
    cx_communicator *reader = cx_communicator_new(stack, "/ws/auth_probe/read/", NULL);
    assert_auth(reader, 200, "OK");
    assert_refused("/ws/auth_probe/write/", NULL, 401, NOT_PROVIDED);
    assert_connected_as("/ws/auth_probe/write/", cx_db_token_header(stack, plain), "plain");
}

/* ------------------------------------------------------------------ objects */

Test(auth_permissions, a_member_gets_the_room_row_as_the_consumers_obj)
{
    cx_db_exec(stack, "INSERT INTO authtest_member VALUES (1, 1)");   /* plain is user 1 */
    cx_communicator *c = cx_communicator_new(stack, "/ws/auth_probe/room/1/", cx_db_token_header(stack, plain));
    assert_auth(c, 200, "OK");
    json_t *who = whoami(c), *obj = json_object_get(who, "obj");
    cr_assert(json_is_object(obj), "no obj reached the worker");
    cr_assert_eq(json_integer_value(json_object_get(obj, "id")), 1);   /* integer column, integer JSON */
    cr_assert_str_eq(json_string_value(json_object_get(obj, "name")), "lobby");
    cr_assert_str_eq(json_string_value(json_object_get(obj, "topic")), "hello");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(who, "kwargs"), "room_id")), 1);
    json_decref(who);
}

Test(auth_permissions, has_permission_comes_before_the_object_lookup_as_in_drf)
{
    /* room 99 does not exist and the user is no member: the consumer's own 403, not a 404 that
     * would tell an outsider which rooms exist */
    assert_refused("/ws/auth_probe/member/99/", cx_db_token_header(stack, plain), 403,
                   "You are not a member of this room.");
    assert_refused("/ws/auth_probe/member/1/", cx_db_token_header(stack, plain), 403,
                   "You are not a member of this room.");
    /* has_permission allows: then the lookup decides, 404, and the object permission, 403 */
    assert_refused("/ws/auth_probe/member/98/", cx_db_token_header(stack, plain), 404, "Not found.");
    assert_refused("/ws/auth_probe/member/2/", cx_db_token_header(stack, plain), 403, DENIED);
    cx_db_exec(stack, "INSERT INTO authtest_room VALUES (4, 'four', 'open')");
    cx_communicator *c = cx_communicator_new(stack, "/ws/auth_probe/member/4/", cx_db_token_header(stack, plain));
    assert_auth(c, 200, "OK");
    json_t *who = whoami(c);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(who, "obj"), "name")), "four");
    json_decref(who);
}

Test(auth_permissions, missing_object_is_404_and_non_member_is_403)
{
    assert_refused("/ws/auth_probe/room/99/", cx_db_token_header(stack, plain), 404, "Not found.");
    assert_refused("/ws/auth_probe/room/2/", cx_db_token_header(stack, plain), 403, DENIED);
    cx_db_exec(stack, "INSERT INTO authtest_member VALUES (2, 1)");
    cx_communicator *c = cx_communicator_new(stack, "/ws/auth_probe/room/2/", cx_db_token_header(stack, plain));
    assert_auth(c, 200, "OK");
    json_t *who = whoami(c);
    cr_assert(json_is_null(json_object_get(json_object_get(who, "obj"), "topic")), "SQL NULL becomes JSON null");
    json_decref(who);
}

Test(auth_permissions, sql_metacharacters_in_url_kwargs_are_only_ever_values)
{
    const char *token = *cx_db_token_header(stack, plain);
    const char *headers[] = { token, NULL };
    /* spliced into the SQL text, each of these would match a row (or fail the statement) */
    const char *hostile[] = {
        "/ws/auth_probe/named/x%27%20OR%20%271%27%3D%271/",          /* x' OR '1'='1 */
        "/ws/auth_probe/named/%27%20OR%201%3D1%20--/",                /* ' OR 1=1 -- */
        "/ws/auth_probe/named/lobby%27%3B%20DROP%20TABLE%20authtest_room%3B%20--/",
        "/ws/auth_probe/named/%24name/",                              /* $name */
        "/ws/auth_probe/named/%241/",                                 /* $1 */
        "/ws/auth_probe/named/lobby%5C/",                             /* lobby\ */
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        assert_refused(hostile[i], headers, 404, "Not found.");
    /* a row whose name is itself hostile is found by exactly that name, percent-decoded once */
    cx_db_exec(stack, "INSERT INTO authtest_room VALUES (3, 'o''brien\"; DROP TABLE authtest_room; --', 'quoted')");
    cx_communicator *c = cx_communicator_new(
        stack, "/ws/auth_probe/named/o%27brien%22%3B%20DROP%20TABLE%20authtest_room%3B%20--/", headers);
    assert_auth(c, 200, "OK");
    json_t *who = whoami(c);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(who, "obj"), "name")),
                     "o'brien\"; DROP TABLE authtest_room; --");
    json_decref(who);
    assert_connected_as("/ws/auth_probe/named/lobby/", headers, "plain");   /* the table is still there */
}

/* --------------------------------------------------------------- worker hook */

Test(auth_permissions, has_permission_hook_denies_with_its_own_status_and_detail)
{
    const char *const *token = cx_db_token_header(stack, plain);
    assert_refused("/ws/auth_probe/hook/closed/", token, 403, "This room is closed.");
    assert_refused("/ws/auth_probe/hook/busy/", token, 429, "Too many connections, try again later.");
    assert_connected_as("/ws/auth_probe/hook/open/", token, "plain");
}

Test(auth_permissions, the_hook_runs_only_after_the_edge_allowed)
{
    /* an anonymous client never reaches the worker, so its hook cannot answer instead of the gateway */
    assert_refused("/ws/auth_probe/hook/closed/", NULL, 401, NOT_PROVIDED);
}
