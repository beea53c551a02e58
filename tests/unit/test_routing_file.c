/*
 * test_routing_file.c — the deployment routing file (workers/routing_file.c).
 *
 * Fixtures live in tests/fixtures/routing/ and are named from the repository
 * root, where the test binary runs; error messages are compared whole because
 * "file:line: what" is the contract with the person fixing the file.
 */
#include "workers/routing_file.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define FIX "tests/fixtures/routing/"

static const cx_plugin_route chat_routes[] = {
    {"lobby", CX_ROUTE_PATH, "lobby/"},
    {"room", CX_ROUTE_PATH, "<str:room_id>/"},
    {"history", CX_ROUTE_PATH, "<str:room_id>/history/<int:page>/"},
};
static const cx_plugin_route notification_routes[] = {{"feed", CX_ROUTE_PATH, ""}};
static const cx_plugin_route echo_routes[] = {
    {"echo", CX_ROUTE_PATH, ""},
    {"raw", CX_ROUTE_REGEX, "^raw/(?P<n>[0-9]+)/$"},
};
static const cx_plugin_routes plugins[] = {
    {"chat", chat_routes, 3, 0},
    {"notifications", notification_routes, 1, 0},
    {"echo", echo_routes, 2, 0},
};

static char err[1024];

static cx_router *load(const char *file)
{
    err[0] = '\0';
    return cx_routing_file_load(file, plugins, 3, err, sizeof err);
}

static void expect_load_error(const char *file, const char *want)
{
    cx_router *rt = load(file);
    cr_assert_null(rt, "%s should not load", file);
    cr_assert_str_eq(err, want);
}

static void expect_route(const cx_router *rt, const char *raw, const char *target, const char *kwargs)
{
    json_t *kw = NULL;
    const char *got = cx_router_match(rt, raw, strlen(raw), &kw);
    if (!target) {
        cr_assert_null(got, "'%s' should not match (got %s)", raw, got);
        return;
    }
    cr_assert(got && strcmp(got, target) == 0, "'%s': want %s, got %s", raw, target, got ? got : "nothing");
    char *text = json_dumps(kw, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(text, kwargs, "'%s' kwargs", raw);
    free(text);
    json_decref(kw);
}

Test(routing_file, composes_the_full_route_list_in_order)
{
    static const char *const want[][3] = {
        {"p", "ws/chat/lobby/", "chat.lobby"},
        {"p", "ws/chat/<str:room_id>/", "chat.room"},
        {"p", "ws/chat/<str:room_id>/history/<int:page>/", "chat.history"},
        {"p", "ws/notifications/", "notifications.feed"},
        {"r", "^(?:(?:ws/v(?P<version>[0-9]+)/)chat/)lobby/", "chat.lobby"},
        {"r", "^(?:(?:ws/v(?P<version>[0-9]+)/)chat/)(?P<room_id>[^/]+)/", "chat.room"},
        {"r", "^(?:(?:ws/v(?P<version>[0-9]+)/)chat/)(?P<room_id>[^/]+)/history/(?P<page>(?#int)[0-9]+)/",
         "chat.history"},
        {"r", "^(?:ws/v(?P<version>[0-9]+)/)(?P<shard>(?#int)[0-9]+)/echo/", "echo.echo"},
        {"r", "^(?:(?:ws/v(?P<version>[0-9]+)/)(?:raw#/))", "echo.echo"},
        {"r", "^(?:(?:ws/v(?P<version>[0-9]+)/)(?:raw#/))(?:raw/(?P<n>[0-9]+)/$)", "echo.raw"},
        {"r", "^(?:(?:ws/v(?P<version>[0-9]+)/))leaf/", "notifications.feed"},
        {"p", "ws/<str:tenant>/chat/lobby/", "chat.lobby"},
        {"p", "ws/<str:tenant>/chat/<str:room_id>/", "chat.room"},
        {"p", "ws/<str:tenant>/chat/<str:room_id>/history/<int:page>/", "chat.history"},
        {"p", "ws/legacy/echo/", "echo.echo"},
        {"p", "ws/echo/", "echo.echo"},
        {"r", "^ws/echo/(?:raw/(?P<n>[0-9]+)/$)", "echo.raw"},
    };
    size_t n = sizeof want / sizeof want[0];
    cx_router *rt = load(FIX "main.routes");
    cr_assert_not_null(rt, "%s", err);
    cr_assert_eq(cx_router_size(rt), n);
    for (size_t i = 0; i < n; i++) {
        const cx_route *r = cx_router_route(rt, i);
        cr_assert_str_eq(cx_route_pattern(r), want[i][1], "route %zu", i);
        cr_assert_eq(cx_route_kind_of(r), want[i][0][0] == 'r' ? CX_ROUTE_REGEX : CX_ROUTE_PATH, "route %zu", i);
        cr_assert_str_eq(cx_router_target(rt, i), want[i][2], "route %zu", i);
    }
    cx_router_destroy(&rt);
}

static void expect_main_routes(const cx_router *rt)
{
    expect_route(rt, "/ws/chat/lobby/", "chat.lobby", "{}");
    expect_route(rt, "/ws/chat/r1/history/4/", "chat.history", "{\"page\":4,\"room_id\":\"r1\"}");
    expect_route(rt, "/ws/notifications/", "notifications.feed", "{}");
    /* The same plugin mounted twice: prefix kwargs merged with the plugin's. */
    expect_route(rt, "/ws/acme/chat/r2/", "chat.room", "{\"room_id\":\"r2\",\"tenant\":\"acme\"}");
    expect_route(rt, "/ws/acme/chat/lobby/", "chat.lobby", "{\"tenant\":\"acme\"}");
    /* A regex mount with a nested file of path routes: ints stay ints. */
    expect_route(rt, "/ws/v2/chat/r3/history/12/", "chat.history",
                 "{\"page\":12,\"room_id\":\"r3\",\"version\":\"2\"}");
    expect_route(rt, "/ws/v2/7/echo/", "echo.echo", "{\"shard\":7,\"version\":\"2\"}");
    expect_route(rt, "/ws/v2/raw%23/", "echo.echo", "{\"version\":\"2\"}");
    expect_route(rt, "/ws/v2/raw%23/raw/5/", "echo.raw", "{\"n\":\"5\",\"version\":\"2\"}");
    expect_route(rt, "/ws/v10/leaf/", "notifications.feed", "{\"version\":\"10\"}");
    expect_route(rt, "/ws/legacy/echo/", "echo.echo", "{}");
    expect_route(rt, "/ws/echo/raw/9/", "echo.raw", "{\"n\":\"9\"}");
    /* First match wins across mounts: the regex mount comes before the tenant one. */
    expect_route(rt, "/ws/vx/chat/lobby/", "chat.lobby", "{\"tenant\":\"vx\"}");
    expect_route(rt, "/ws/v2/chat/lobby", NULL, NULL);
    expect_route(rt, "/ws/chat/", NULL, NULL);
}

Test(routing_file, matches_through_every_kind_of_mount)
{
    cx_router *rt = load(FIX "main.routes");
    cr_assert_not_null(rt, "%s", err);
    expect_main_routes(rt);
    cx_router_destroy(&rt);
}

Test(routing_file, gateway_rebuilds_the_same_router_from_triples)
{
    cx_router *rt = load(FIX "main.routes");
    cr_assert_not_null(rt, "%s", err);
    cx_router *copy = cx_router_new();
    for (size_t i = 0; i < cx_router_size(rt); i++) {
        const cx_route *r = cx_router_route(rt, i);
        cr_assert_eq(cx_router_add_pattern(copy, cx_route_kind_of(r), cx_route_pattern(r), cx_router_target(rt, i),
                                           err, sizeof err), 0, "%s", err);
    }
    expect_main_routes(copy);
    cx_router_destroy(&copy);
    cx_router_destroy(&rt);
}

Test(routing_file, empty_file_mounts_nothing)
{
    cx_router *rt = load(FIX "empty.routes");
    cr_assert_not_null(rt, "%s", err);
    cr_assert_eq(cx_router_size(rt), 0);
    expect_route(rt, "/ws/echo/", NULL, NULL);
    cx_router_destroy(&rt);
}

/* CHANX_ISOLATE=plugin: a worker process that serves chat alone reads the same file; the mounts of the
 * plugins other processes serve (elsewhere) are accepted and left out, a typo is still an error. */
Test(routing_file, mounts_of_plugins_served_elsewhere_are_left_to_them)
{
    const cx_plugin_routes chat_here[] = {
        {"chat", chat_routes, 3, 0}, {"notifications", NULL, 0, 1}, {"echo", NULL, 0, 1} };
    cx_router *rt = cx_routing_file_load(FIX "main.routes", chat_here, 3, err, sizeof err);
    cr_assert_not_null(rt, "%s", err);
    for (size_t i = 0; i < cx_router_size(rt); i++)
        cr_assert(strncmp(cx_router_target(rt, i), "chat.", 5) == 0, "%s", cx_router_target(rt, i));
    expect_route(rt, "/ws/chat/lobby/", "chat.lobby", "{}");
    expect_route(rt, "/ws/legacy/echo/", NULL, NULL);
    cx_router_destroy(&rt);
    cr_assert_null(cx_routing_file_load(FIX "unknown_plugin.routes", chat_here, 3, err, sizeof err));
    cr_assert_str_eq(err, FIX "unknown_plugin.routes:3: unknown plugin 'chta'");
}

Test(routing_file, errors_name_file_and_line)
{
    expect_load_error(FIX "unknown_plugin.routes", FIX "unknown_plugin.routes:3: unknown plugin 'chta'");
    expect_load_error(FIX "bad_converter.routes", FIX "bad_converter.routes:2: bad converter 'itn' in 'ws/<itn:x>/'");
    expect_load_error(FIX "bad_regex.routes",
                      FIX "bad_regex.routes:2: bad regex '^ws/v(?P<v>[0-9]+/' at offset 18: missing closing parenthesis");
    expect_load_error(FIX "unknown_consumer.routes", FIX "unknown_consumer.routes:1: unknown consumer 'echo.ehco'");
    expect_load_error(FIX "no_dot_consumer.routes",
                      FIX "no_dot_consumer.routes:1: expected <plugin>.<consumer>, got 'echo'");
    const char *syntax = ": expected '<prefix> include <plugin>', '<prefix> include file:<path>'"
                         " or '<pattern> consumer <plugin>.<consumer>'";
    char want[512];
    snprintf(want, sizeof want, FIX "syntax.routes:2%s", syntax);
    expect_load_error(FIX "syntax.routes", want);
    snprintf(want, sizeof want, FIX "bad_verb.routes:1%s", syntax);
    expect_load_error(FIX "bad_verb.routes", want);
    snprintf(want, sizeof want, FIX "extra_field.routes:1%s", syntax);
    expect_load_error(FIX "extra_field.routes", want);
}

Test(routing_file, hidden_route_is_reported_where_written)
{
    expect_load_error(FIX "hidden.routes", FIX "hidden.routes:4: route 'ws/chat/lobby/' is hidden by "
                                           "'ws/chat/<path:rest>' (" FIX "hidden.routes:2)");
}

Test(routing_file, nested_files)
{
    expect_load_error(FIX "cycle_a.routes", FIX "cycle_b.routes:3: include cycle through " FIX "cycle_a.routes");
    expect_load_error(FIX "self.routes", FIX "self.routes:1: include cycle through " FIX "self.routes");
    expect_load_error(FIX "missing_nested.routes",
                      FIX "missing_nested.routes:2: cannot open 'nope.routes': No such file or directory");
    expect_load_error(FIX "nested_error.routes", FIX "sub/bad_inner.routes:2: unknown plugin 'nope'");
    expect_load_error(FIX "nothing_here.routes",
                      "cannot open routing file '" FIX "nothing_here.routes': No such file or directory");
}

Test(routing_default, every_plugin_at_ws_name)
{
    cx_router *rt = cx_routing_default(plugins, 3, err, sizeof err);
    cr_assert_not_null(rt, "%s", err);
    cr_assert_eq(cx_router_size(rt), 6);
    cr_assert_str_eq(cx_route_pattern(cx_router_route(rt, 2)), "ws/chat/<str:room_id>/history/<int:page>/");
    expect_route(rt, "/ws/chat/lobby/", "chat.lobby", "{}");
    expect_route(rt, "/ws/chat/x/history/2/", "chat.history", "{\"page\":2,\"room_id\":\"x\"}");
    expect_route(rt, "/ws/notifications/", "notifications.feed", "{}");
    expect_route(rt, "/ws/echo/", "echo.echo", "{}");
    expect_route(rt, "/ws/echo/raw/3/", "echo.raw", "{\"n\":\"3\"}");
    expect_route(rt, "/ws/echo/raw/3", NULL, NULL);
    cx_router_destroy(&rt);
    cr_assert_null(rt);
}

Test(routing_default, same_checks_as_a_file)
{
    static const cx_plugin_route bad[] = {{"c", CX_ROUTE_PATH, "<itn:x>/"}};
    static const cx_plugin_route shadow[] = {{"any", CX_ROUTE_PATH, "<str:x>/"}, {"lobby", CX_ROUTE_PATH, "lobby/"}};
    const cx_plugin_routes with_bad[] = {{"echo", echo_routes, 2, 0}, {"bad", bad, 1, 0}};
    const cx_plugin_routes with_shadow[] = {{"echo", echo_routes, 2, 0}, {"a", shadow, 2, 0}};
    cr_assert_null(cx_routing_default(with_bad, 2, err, sizeof err));
    cr_assert_str_eq(err, "plugin 'bad' consumer 'c': bad converter 'itn' in '<itn:x>/'");
    cr_assert_null(cx_routing_default(with_shadow, 2, err, sizeof err));
    cr_assert_str_eq(err, "plugin 'a' consumer 'lobby': route 'ws/a/lobby/' is hidden by 'ws/a/<str:x>/' "
                          "(plugin 'a' consumer 'any')");
    /* A plugin's bad relative route is also reported at the mount line. */
    cr_assert_null(cx_routing_file_load(FIX "bad_plugin.routes", with_bad, 2, err, sizeof err));
    cr_assert_str_eq(err, FIX "bad_plugin.routes:2: plugin 'bad' consumer 'c': bad converter 'itn' in '<itn:x>/'");
}
