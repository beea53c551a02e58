/*
 * auth_probe — consumers that make the gateway's authentication decisions
 * visible to end-to-end tests (tests/e2e/test_auth_*.c).
 *
 * Every consumer answers "whoami" with what the framework established for
 * the connection (the user, the queryset row as chanx_obj, the URL kwargs),
 * so a test sees not only that a client got in but as whom and with which
 * object. The consumers differ only in their edge spec: one per
 * authentication class and order, one per permission class or composition,
 * an object-level pair, a has_permission hook and the two auth_methods.
 * Mounted at ws/auth_probe/<route>. The object SQL reads the tests' own
 * tables, authtest_room and authtest_member (created by the tests).
 */
#include <chanx/consumer.h>

#include <string.h>

static json_t *user_json(const chanx_user *u)
{
    return json_pack("{s:I, s:s?, s:b, s:b, s:b}", "id", (json_int_t) u->id, "username", u->username,
                     "is_authenticated", u->is_authenticated, "is_staff", u->is_staff, "is_superuser",
                     u->is_superuser);
}

static int whoami(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (!chanx_msg_is(msg, "whoami"))
        return CHANX_OK;
    const json_t *obj = chanx_obj(ctx), *kwargs = chanx_url_kwargs(ctx);
    json_t *payload = json_pack("{s:o, s:O, s:O}", "user", user_json(chanx_user_of(ctx)), "obj",
                                obj ? obj : json_null(), "kwargs", kwargs ? kwargs : json_null());
    /* how the user came in, and everything a credential could hide in (it must not be there) */
    const char *auth_class = chanx_auth_class(ctx), *cookie = chanx_header(ctx, "cookie");
    json_object_set_new(payload, "auth_class", auth_class ? json_string(auth_class) : json_null());
    json_object_set_new(payload, "cookie_header", cookie ? json_string(cookie) : json_null());
    json_object_set_new(payload, "query", json_deep_copy(chanx_query_params(ctx)));
    json_object_set_new(payload, "headers_with_authorization", json_boolean(chanx_header(ctx, "authorization") != NULL));
    int rc = chanx_send_message(ctx, "whoami", payload);
    json_decref(payload);
    return rc;
}

#define PROBE .incoming = "{\"whoami\": null}", .receive_message = whoami

/* ---------------------------------------------------- authentication classes */

CHANX_CONSUMER(token) { .routes = CHANX_ROUTES("token/"), PROBE };
CHANX_CONSUMER(session) {
    .routes = CHANX_ROUTES("session/"), .authentication = CHANX_AUTHENTICATION(CHANX_SESSION_AUTH), PROBE
};
CHANX_CONSUMER(jwt) { .routes = CHANX_ROUTES("jwt/"), .authentication = CHANX_AUTHENTICATION(CHANX_JWT_AUTH), PROBE };
/* DRF answers 401 when the first class can challenge (token, jwt), 403 when it cannot (session). */
CHANX_CONSUMER(token_first) {
    .routes = CHANX_ROUTES("token_first/"),
    .authentication = CHANX_AUTHENTICATION(CHANX_TOKEN_AUTH, CHANX_SESSION_AUTH, CHANX_JWT_AUTH), PROBE
};
CHANX_CONSUMER(session_first) {
    .routes = CHANX_ROUTES("session_first/"),
    .authentication = CHANX_AUTHENTICATION(CHANX_SESSION_AUTH, CHANX_TOKEN_AUTH, CHANX_JWT_AUTH), PROBE
};
CHANX_CONSUMER(anyone) {
    .routes = CHANX_ROUTES("anyone/"),
    .authentication = CHANX_AUTHENTICATION(CHANX_TOKEN_AUTH, CHANX_SESSION_AUTH, CHANX_JWT_AUTH),
    .permissions = CHANX_PERMISSIONS(CHANX_ALLOW_ANY), PROBE
};

/* ------------------------------------------------------- permission classes */

CHANX_CONSUMER(admin) { .routes = CHANX_ROUTES("admin/"), .permissions = CHANX_PERMISSIONS(CHANX_IS_ADMIN_USER), PROBE };
CHANX_CONSUMER(superuser) {
    .routes = CHANX_ROUTES("superuser/"), .permissions = CHANX_PERMISSIONS(CHANX_IS_SUPERUSER), PROBE
};
CHANX_CONSUMER(staff_and_super) {
    .routes = CHANX_ROUTES("and/"), .permissions = CHANX_PERMISSIONS("IsAdminUser & IsSuperUser"), PROBE
};
CHANX_CONSUMER(staff_or_super) {
    .routes = CHANX_ROUTES("or/"), .permissions = CHANX_PERMISSIONS("IsAdminUser | IsSuperUser"), PROBE
};
CHANX_CONSUMER(not_staff) {
    .routes = CHANX_ROUTES("not/"), .permissions = CHANX_PERMISSIONS("IsAuthenticated & ~IsAdminUser"), PROBE
};
/* A list, as DRF's permission_classes: every entry must allow. */
CHANX_CONSUMER(listed) {
    .routes = CHANX_ROUTES("list/"), .permissions = CHANX_PERMISSIONS(CHANX_IS_AUTHENTICATED, CHANX_IS_SUPERUSER), PROBE
};
CHANX_CONSUMER(nested) {
    .routes = CHANX_ROUTES("nested/"),
    .permissions = CHANX_PERMISSIONS("IsAuthenticated & (IsSuperUser | ~(IsAdminUser | IsSuperUser))"), PROBE
};

/* ------------------------------------------------------------ auth_method */

CHANX_CONSUMER(read) {
    .routes = CHANX_ROUTES("read/"), .permissions = CHANX_PERMISSIONS("IsAuthenticatedOrReadOnly"), PROBE
};
CHANX_CONSUMER(write) {
    .routes = CHANX_ROUTES("write/"), .permissions = CHANX_PERMISSIONS("IsAuthenticatedOrReadOnly"),
    .auth_method = "POST", PROBE
};

/* ------------------------------------------------------- object permissions */

/* The chat example's real question: does the room exist, and is the user in it? */
CHANX_CONSUMER(room) {
    .routes = CHANX_ROUTES("room/<int:room_id>/"),
    .queryset = "SELECT id, name, topic FROM authtest_room WHERE id = $room_id",
    .object_permission = "SELECT 1 FROM authtest_member WHERE room_id = $room_id AND user_id = $user_id",
    PROBE
};
/* A str kwarg, so tests can put SQL metacharacters and percent-encoded quotes in the path. */
CHANX_CONSUMER(named) {
    .routes = CHANX_ROUTES("named/<str:name>/"),
    .queryset = "SELECT id, name, topic FROM authtest_room WHERE name = $name", PROBE
};
/* A queryset slower than the gateway's statement timeout. */
CHANX_CONSUMER(slow) {
    .routes = CHANX_ROUTES("slow/"), .queryset = "SELECT 1 AS id FROM pg_sleep(30)", PROBE
};

/* ------------------------------------------------------------ worker hook */

/* What SQL cannot say: ws/auth_probe/hook/<verdict>/ is refused for "closed" (403 with its own
 * detail) and "busy" (429), allowed otherwise. */
static int hook_permission(chanx_ctx *ctx, chanx_denial *denial)
{
    const char *verdict = chanx_url_kwarg(ctx, "verdict");
    if (verdict && strcmp(verdict, "closed") == 0) {
        denial->detail = "This room is closed.";
        return CHANX_ERROR;
    }
    if (verdict && strcmp(verdict, "busy") == 0) {
        *denial = (chanx_denial) { 429, "Too many connections, try again later." };
        return CHANX_ERROR;
    }
    return CHANX_OK;
}

CHANX_CONSUMER(hook) { .routes = CHANX_ROUTES("hook/<str:verdict>/"), .has_permission = hook_permission, PROBE };

/* A member-only room as Chanx writes it: has_permission (here: the even room ids are "joined")
 * refuses outsiders with its own detail, whether or not the room exists, because DRF checks
 * permissions before it looks the object up. Then the queryset (404) and object_permission (403). */
static int member_permission(chanx_ctx *ctx, chanx_denial *denial)
{
    const json_t *room = json_object_get(chanx_url_kwargs(ctx), "room_id");
    if (json_integer_value(room) % 2 == 0)
        return CHANX_OK;
    denial->detail = "You are not a member of this room.";
    return CHANX_ERROR;
}

CHANX_CONSUMER(member) {
    .routes = CHANX_ROUTES("member/<int:room_id>/"),
    .queryset = "SELECT id, name, topic FROM authtest_room WHERE id = $room_id",
    .object_permission = "SELECT 1 FROM authtest_room WHERE id = $room_id AND topic IS NOT NULL",
    .has_permission = member_permission, PROBE
};
