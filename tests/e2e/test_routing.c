/*
 * Routing end to end: a deployment routing file (tests/fixtures/routing/e2e/,
 * the README's example) mounts the chat example and a notifications plugin
 * with a re_path() route under ws/, nests one include more for a probe of
 * every path() converter, and mounts chat a second time under a tenant.
 * The routes travel worker → broker → gateway; what is checked is what a
 * client sees: which consumer answers, with which kwargs, and the HTTP
 * status of refused upgrades (404 no route, 503 no live worker).
 *
 * A routing file with an error must stop the worker at start with a
 * message naming file and line; those tests run chanx-worker directly.
 */
#include "tests/kit/clock.h"
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define ROUTES "tests/fixtures/routing/"

static cx_stack *stack;
static char chat_so[600], notifications_so[600], probe_so[600];

static const char *bin(void)
{
    const char *b = getenv("CHANX_TEST_BIN");
    return b && *b ? b : "build";
}

static void setup(void)
{
    snprintf(chat_so, sizeof chat_so, "chat=%s/plugins/chat.so", bin());
    snprintf(notifications_so, sizeof notifications_so, "notifications=%s/test-plugins/route_notifications.so", bin());
    snprintf(probe_so, sizeof probe_so, "route_probe=%s/test-plugins/route_probe.so", bin());
    const char *plugins[] = { chat_so, notifications_so, probe_so, NULL };
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = plugins, .routing = ROUTES "e2e/deployment.routes" });
}

static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(routing, .init = setup, .fini = teardown, .timeout = 60);

/* Connects as a fresh user and asserts authentication succeeded. */
static cx_communicator *connect_ok(const char *path)
{
    static int n;
    char name[32];
    snprintf(name, sizeof name, "user%d", ++n);
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, cx_db_create_user(stack, name, 0)));
    cx_assert_authenticated_status_ok(c);
    return c;
}

/* The probes' answer to "where": {"consumer", "path", "kwargs"[, "id_text"]}. Owned. */
static json_t *where(const char *path)
{
    cx_communicator *c = connect_ok(path);
    cx_send_message(c, "where", NULL);
    json_t *m = cx_receive_until_action(c, "where", 3000);
    json_t *payload = json_incref(json_object_get(m, "payload"));
    json_decref(m);
    cx_communicator_disconnect(c);
    return payload;
}

static int status_of(const char *path)
{
    cx_communicator *c = cx_communicator_new(stack, path, NULL);
    int connected = cx_communicator_connected(c), status = cx_communicator_http_status(c);
    cx_communicator_disconnect(c);
    return connected ? 101 : status;
}

static void assert_kwargs(const char *path, const char *expected_json)
{
    json_t *w = where(path), *expected = json_loads(expected_json, 0, NULL);
    cr_assert_not_null(expected, "bad expectation %s", expected_json);
    char *got = json_dumps(json_object_get(w, "kwargs"), JSON_COMPACT | JSON_SORT_KEYS);
    int same = json_equal(json_object_get(w, "kwargs"), expected);
    json_decref(w);
    json_decref(expected);
    char shown[500];
    snprintf(shown, sizeof shown, "%s", got);
    free(got);
    cr_assert(same, "%s: kwargs %s, expected %s", path, shown, expected_json);
}

Test(routing, two_plugins_mounted_by_the_routing_file)
{
    cx_communicator *a = connect_ok("/ws/chat/lobby/");
    json_t *payload = json_pack("{s:s}", "message", "hi");
    cx_send_message(a, "chat", payload);
    json_decref(payload);
    json_t *echo = cx_receive_until_action(a, "chat", 3000);
    json_decref(echo);

    json_t *w = where("/ws/notifications/alice/");
    cr_assert_str_eq(json_string_value(json_object_get(w, "consumer")), "notifications.notifications");
    cr_assert_str_eq(json_string_value(json_object_get(w, "path")), "/ws/notifications/alice/");
    json_decref(w);
    assert_kwargs("/ws/notifications/alice_2/", "{\"user_id\": \"alice_2\"}");
}

Test(routing, regex_route_must_consume_the_whole_path)
{
    cr_assert_eq(status_of("/ws/notifications/alice/extra/"), 404);
    cr_assert_eq(status_of("/ws/notifications/al-ice/"), 404, "\\w does not match '-'");
    cr_assert_eq(status_of("/ws/notifications/alice"), 404, "no trailing-slash redirect for WebSockets");
}

Test(routing, plugin_mounted_twice_serves_one_room_from_both_mounts)
{
    cx_communicator *plain = connect_ok("/ws/chat/lobby/");
    cx_communicator *tenant = connect_ok("/ws/acme/chat/lobby/");
    json_t *payload = json_pack("{s:s}", "message", "from the tenant mount");
    cx_send_message(tenant, "chat", payload);
    json_decref(payload);
    json_t *m = cx_receive_until_action(plain, "chat", 3000);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "payload"), "message")),
                     "from the tenant mount");
    json_decref(m);
}

Test(routing, nested_include_delivers_int_kwargs_as_integers)
{
    json_t *w = where("/ws/v2/probe/42/");
    cr_assert_str_eq(json_string_value(json_object_get(w, "consumer")), "route_probe.probe");
    json_t *kwargs = json_object_get(w, "kwargs");
    cr_assert(json_is_integer(json_object_get(kwargs, "version")), "version is not an integer");
    cr_assert(json_is_integer(json_object_get(kwargs, "id")), "id is not an integer");
    cr_assert_eq(json_integer_value(json_object_get(kwargs, "version")), 2);
    cr_assert_eq(json_integer_value(json_object_get(kwargs, "id")), 42);
    cr_assert_str_eq(json_string_value(json_object_get(w, "id_text")), "42", "chanx_url_kwarg gives ints as text");
    json_decref(w);
    cr_assert_eq(status_of("/ws/v2/probe/4a/"), 404);
    cr_assert_eq(status_of("/ws/vx/probe/1/"), 404);
}

Test(routing, every_converter_reaches_the_consumer)
{
    assert_kwargs("/ws/v1/probe/slug/a-b_9/", "{\"version\": 1, \"value\": \"a-b_9\"}");
    assert_kwargs("/ws/v1/probe/u/12345678-1234-5678-1234-567812345678/",
                  "{\"version\": 1, \"value\": \"12345678-1234-5678-1234-567812345678\"}");
    assert_kwargs("/ws/v1/probe/p/a/b/c", "{\"version\": 1, \"rest\": \"a/b/c\"}");
    cr_assert_eq(status_of("/ws/v1/probe/slug/a.b/"), 404);
    cr_assert_eq(status_of("/ws/v1/probe/u/12345678-1234-5678-1234-56781234567Z/"), 404);
}

Test(routing, percent_encoded_kwargs_are_decoded_exactly_once)
{
    assert_kwargs("/ws/v1/probe/s/caf%C3%A9%2541/", "{\"version\": 1, \"value\": \"caf\\u00e9%41\"}");
    assert_kwargs("/ws/v1/probe/s/a%20b/", "{\"version\": 1, \"value\": \"a b\"}");
    /* %2F decodes to '/', which <str:> does not cross but <path:> does, as in Django */
    cr_assert_eq(status_of("/ws/v1/probe/s/a%2Fb/"), 404);
    assert_kwargs("/ws/v1/probe/p/a%2Fb", "{\"version\": 1, \"rest\": \"a/b\"}");
}

Test(routing, unknown_path_is_refused_with_404)
{
    cr_assert_eq(status_of("/ws/nowhere/"), 404);
    cr_assert_eq(status_of("/ws/chat/lobby"), 404);
    cr_assert_eq(status_of("/chat/lobby/"), 404, "mounted under ws/ only");
}

/* "/ws/v1/probe/s/aaaa.../" with n a's; static buffer. */
static const char *long_path(size_t n)
{
    static char path[40000];
    cr_assert_lt(n, sizeof path - 32);
    strcpy(path, "/ws/v1/probe/s/");
    memset(path + strlen(path), 'a', n);
    strcpy(path + 15 + n, "/");
    return path;
}

Test(routing, long_path_within_limits_is_routed)
{
    json_t *w = where(long_path(2000));
    cr_assert_eq(strlen(json_string_value(json_object_get(json_object_get(w, "kwargs"), "value"))), 2000);
    json_decref(w);
}

Test(routing, hostile_and_very_long_paths_are_refused_cleanly)
{
    /* Refused either by the gateway's router (404) or already by libwebsockets'
     * request parser (403 for a bad escape; a request over its header buffer or
     * holding %00 is dropped without an answer, status 0). What matters: no
     * upgrade, no hang, and the gateway keeps serving. */
    const char *hostile[] = {
        "/ws/v1/probe/s/%zz/", "/ws/v1/probe/s/%4/", "/ws/v1/probe/s/a%00b/", "/ws/v1/probe/s/%ff%fe/",
        "/ws/v1/probe/s/%C0%AF/", "/ws/v1/probe/s/%ED%A0%80/", "/ws/notifications/%5C%5C%5C%5C/",
        "/ws/notifications/%F0%9F%98%80/", long_path(5000), long_path(30000),
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        long long start = cx_kit_now_ms();
        int status = status_of(hostile[i]);
        long long took = cx_kit_now_ms() - start;
        cr_assert(status == 0 || (status >= 400 && status < 500), "%.60s: HTTP %d, expected a refusal", hostile[i],
                  status);
        cr_assert_lt(took, 4000, "%.60s: took %lld ms to be refused", hostile[i], took);
    }
    assert_kwargs("/ws/v1/probe/7/", "{\"version\": 1, \"id\": 7}");
}

/* Polls the status of path until it is `want` (routes move through the broker asynchronously). */
static int status_becomes(const char *path, int want, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if (status_of(path) == want)
            return 1;
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return 0;
}

Test(routing, route_without_a_live_worker_is_503_until_one_returns)
{
    cx_stack_kill_worker(stack, 0, SIGTERM);
    cr_assert(status_becomes("/ws/chat/lobby/", 503, 5000), "chat still not 503 after its only worker stopped: %d",
              status_of("/ws/chat/lobby/"));
    cr_assert_eq(status_of("/ws/v1/probe/7/"), 503);
    cr_assert_eq(status_of("/ws/nowhere/"), 404, "an unknown path stays 404");
    cx_stack_restart_worker(stack, 0);
    cr_assert(cx_stack_wait_ready(stack, 0, 5000), "gateway did not see the worker return");
    cx_communicator *c = connect_ok("/ws/chat/lobby/");
    cx_send_message(c, "ping", NULL);
    json_t *pong = cx_receive_until_action(c, "pong", 3000);
    json_decref(pong);
}

/* ------------------------------------------------ routing file errors */

/* Runs a worker on a bad routing file; asserts it exits 1 at start saying expected. */
static void assert_worker_refuses(const char *routes, const char *expected)
{
    char cmd[1500], out[4096] = "";
    snprintf(cmd, sizeof cmd, "timeout 10 %s/chanx-worker --plugins %s/plugins --routing %s "
             "--broker tcp://127.0.0.1:1 2>&1", bin(), bin(), routes);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "worker on %s: exit status %d, expected 1; output:\n%s",
              routes, WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
    cr_assert(strstr(out, expected), "worker on %s did not say \"%s\"; output:\n%s", routes, expected, out);
}

Test(routing_file_errors, unknown_plugin_stops_the_worker_naming_file_and_line)
{
    assert_worker_refuses(ROUTES "unknown_plugin.routes", ROUTES "unknown_plugin.routes:3: unknown plugin 'chta'");
}

Test(routing_file_errors, bad_converter_stops_the_worker_naming_file_and_line)
{
    assert_worker_refuses(ROUTES "bad_converter.routes", ROUTES "bad_converter.routes:2: bad converter 'itn'");
}

Test(routing_file_errors, bad_regex_stops_the_worker_naming_file_and_line)
{
    assert_worker_refuses(ROUTES "bad_regex.routes", ROUTES "bad_regex.routes:2: bad regex");
}

Test(routing_file_errors, hidden_route_stops_the_worker_naming_both_lines)
{
    assert_worker_refuses(ROUTES "e2e/hidden.routes",
                          ROUTES "e2e/hidden.routes:3: route 'ws/chat/<str:room_id>/' is hidden by "
                                 "'ws/chat/<path:rest>' (" ROUTES "e2e/hidden.routes:2)");
}

Test(routing_file_errors, error_in_a_nested_file_names_the_nested_file)
{
    assert_worker_refuses(ROUTES "nested_error.routes", "sub/bad_inner.routes:");
}
