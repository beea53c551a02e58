/*
 * The plugin ABI (include/chanx/consumer.h, "Compatibility"), through real
 * clients against the current worker:
 *
 *   - abi_v2, built against API 2's header (tests/abi/v2, before topics),
 *     serves with every API 2 field read right (subprotocol, receive_event,
 *     passthrough), and its frames with a topic find none (its descriptor
 *     has no .topics, which the worker reads as NULL);
 *   - plugins of the previous release, built against its header
 *     (tests/abi/v1: examples/chat as it shipped, and abi_v1, which sets
 *     every API 1 descriptor field), load and behave as they did: routes,
 *     authentication, queryset, object and plugin permissions, state,
 *     groups, completion, camelize, logging flags and ignored actions;
 *   - a plugin built for a newer level than the worker speaks is refused
 *     with "built for plugin API N+1, this worker speaks OLDEST..N" while
 *     the worker serves every other plugin of the folder;
 *   - the worker exports the chanx_* API and nothing else: a plugin that
 *     links a framework internal (cx_env_str) is refused at load saying so,
 *     and dlsym from inside a plugin finds chanx_* but no cx_* function.
 */
#include "tests/kit/deploy_helpers.h"

#include <chanx/consumer.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cx_stack *stack;

static void setup(void)
{
    static char files[7][600];
    const char *bin = cx_test_bin();
    snprintf(files[0], sizeof files[0], "%s/abi-plugins/v1/plugins/chat.so", bin);
    snprintf(files[1], sizeof files[1], "%s/abi-plugins/v1/plugins/abi_v1.so", bin);
    snprintf(files[2], sizeof files[2], "%s/test-plugins/dep_broken_api.so", bin);
    snprintf(files[3], sizeof files[3], "%s/test-plugins/abi_internal.so", bin);
    snprintf(files[4], sizeof files[4], "%s/test-plugins/abi_symbols.so", bin);
    snprintf(files[5], sizeof files[5], "%s/plugins/echo.so", bin);
    snprintf(files[6], sizeof files[6], "%s/abi-plugins/v2/plugins/abi_v2.so", bin);
    const char *plugin_files[] = { files[0], files[1], files[2], files[3], files[4], files[5], files[6], NULL };
    stack = cx_stack_start(&(cx_stack_options) {
        .plugin_files = plugin_files, .api = 1,
        .env = (const char *const[]) { "CHANX_LOG_LEVEL=info", "CHANX_SEND_COMPLETION=on", NULL } });
}

static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(abi, .init = setup, .fini = teardown, .timeout = 60);

/* The worker's refusal line for a plugin (owned), after waiting for it. */
static char *refusal_of(const char *plugin)
{
    char needle[128];
    snprintf(needle, sizeof needle, "refused plugin %s: ", plugin);
    char *log = cx_stack_log(stack, "worker0", needle, 10000);
    cr_assert_not_null(log, "the worker never refused %s", plugin);
    char *line = strstr(log, needle);
    char *eol = strchr(line, '\n');
    if (eol)
        *eol = '\0';
    char *out = strdup(line);
    free(log);
    return out;
}

Test(abi, previous_release_chat_example_serves_as_before)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_communicator *b = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, bob));
    cx_assert_authenticated_status_ok(a);
    cx_assert_authenticated_status_ok(b);

    cx_send_message(a, "ping", NULL);
    json_t *replies = cx_receive_all_json(a, 5000, 0);
    cx_assert_json_eq(replies, "[{\"action\": \"pong\", \"payload\": null}]");
    json_decref(replies);

    json_t *payload = json_pack("{s:s}", "message", "hello room");
    cx_send_message(a, "chat", payload);
    json_decref(payload);
    json_t *mine = cx_receive_until_action(a, "chat", 5000);
    json_t *theirs = cx_receive_until_action(b, "chat", 5000);
    cx_assert_json_eq(mine, "{\"action\": \"chat\", \"payload\": {\"message\": \"hello room\"},"
                            " \"is_mine\": true, \"is_current\": true}");
    cx_assert_json_eq(theirs, "{\"action\": \"chat\", \"payload\": {\"message\": \"hello room\"},"
                              " \"is_mine\": false, \"is_current\": false}");
    json_decref(mine);
    json_decref(theirs);

    cx_send_message(a, "chat", NULL);   /* the schema still validates */
    json_t *error = cx_receive_until_action(a, "error", 5000);
    cx_assert_json_eq(error, "{\"action\": \"error\", \"payload\": [{\"type\": \"dict_type\", \"loc\": [\"payload\"],"
                             " \"msg\": \"Input should be a valid dictionary\", \"input\": null}]}");
    json_decref(error);

    cx_communicator *anonymous = cx_communicator_new(stack, "/ws/chat/lobby/", NULL);
    cx_assert_closed(anonymous, 4401, 5000);
}

static void assert_camelized_auth_ok(cx_communicator *c)
{
    json_t *auth = cx_wait_for_auth(c, 5000);
    cr_assert_not_null(auth, "no authentication message");
    cx_assert_json_eq(auth, "{\"statusCode\": 200, \"statusText\": \"OK\", \"data\": {\"detail\": \"OK\"}}");
    json_decref(auth);
}

Test(abi, previous_release_descriptor_is_read_field_by_field_to_the_last)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a = cx_communicator_new(stack, "/ws/abi_v1/5/", cx_db_token_header(stack, alice));
    cx_communicator *b = cx_communicator_new(stack, "/ws/abi_v1/5/", cx_db_token_header(stack, bob));
    assert_camelized_auth_ok(a);   /* send_authentication_message and camelize */
    assert_camelized_auth_ok(b);

    /* state_size, queryset (chanx_obj), camelize (keys out), send_completion */
    cx_send_message(a, "count_up", NULL);
    json_t *replies = cx_receive_all_json(a, 5000, 0);
    char expected[256];
    snprintf(expected, sizeof expected, "[{\"action\": \"count\", \"payload\": {\"messageCount\": 1,"
             " \"roomRow\": {\"roomNumber\": 5, \"userId\": %lld}}}]", (long long) alice);
    cx_assert_json_eq(replies, expected);
    json_decref(replies);
    json_decref(cx_request(a, "ping", NULL, "pong", 5000));
    json_t *count = cx_request(a, "count_up", NULL, "count", 5000);
    cr_assert_eq(json_integer_value(json_object_get(count, "messageCount")), 3, "per-connection state was lost");
    json_decref(count);

    /* camelize (keys in), build_groups, group messages */
    json_t *shout = json_pack("{s:s}", "loudText", "hi room");
    cx_send_message(a, "shout", shout);
    json_decref(shout);
    json_t *heard = cx_receive_until_action(b, "shout", 5000);
    cx_assert_json_eq(heard, "{\"action\": \"shout\", \"payload\": {\"loudText\": \"hi room\"},"
                             " \"isMine\": false, \"isCurrent\": false}");
    json_decref(heard);

    /* log_ignored_actions, the last field of API 1: ping is never logged, count_up is */
    char *log = cx_stack_log(stack, "worker0", "\"count_up\"", 5000);
    cr_assert_not_null(log, "count_up was never logged");
    cr_assert_null(strstr(log, "\"action\":\"ping\""), "ping was logged though the consumer ignores it");
    free(log);

    /* object_permission (applied after has_permission, DRF's order), camelized as Chanx does */
    cx_communicator *closed = cx_communicator_new(stack, "/ws/abi_v1/7/", cx_db_token_header(stack, alice));
    json_t *auth = cx_wait_for_auth(closed, 5000);
    cx_assert_json_eq(auth, "{\"statusCode\": 403, \"statusText\": \"Forbidden\","
                            " \"data\": {\"detail\": \"You do not have permission to perform this action.\"}}");
    json_decref(auth);
    /* no credentials: the gateway's 401, camelized */
    cx_communicator *nobody = cx_communicator_new(stack, "/ws/abi_v1/5/", NULL);
    auth = cx_wait_for_auth(nobody, 5000);
    cx_assert_json_eq(auth, "{\"statusCode\": 401, \"statusText\": \"Unauthorized\","
                            " \"data\": {\"detail\": \"Authentication credentials were not provided.\"}}");
    json_decref(auth);
    cx_assert_closed(nobody, 4401, 5000);
    /* has_permission, with its status and detail */
    cx_communicator *denied = cx_communicator_new(stack, "/ws/abi_v1/13/", cx_db_token_header(stack, alice));
    auth = cx_wait_for_auth(denied, 5000);
    cr_assert_not_null(auth, "no authentication message for room 13");
    cr_assert_eq(json_integer_value(json_object_get(auth, "statusCode")), 403, "has_permission's status is lost");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(auth, "data"), "detail")), "room 13 is closed");
    json_decref(auth);
}

Test(abi, plugin_for_a_newer_api_is_refused_and_the_others_serve)
{
    char *line = refusal_of("dep_broken_api");
    char expected[160];
    snprintf(expected, sizeof expected, "refused plugin dep_broken_api: built for plugin API %d, this worker speaks %d..%d",
             CHANX_API_VERSION + 1, CHANX_API_OLDEST, CHANX_API_VERSION);
    cr_assert(strstr(line, expected), "expected \"%s\" in: %s", expected, line);
    free(line);

    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *refused = cx_communicator_new(stack, "/ws/dep_broken_api/", cx_db_token_header(stack, alice));
    cr_assert_eq(cx_communicator_http_status(refused), 404);
    cx_communicator *echo = cx_communicator_new(stack, "/ws/echo/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(echo);
    json_decref(cx_request(echo, "ping", NULL, "pong", 5000));
    cx_communicator *v1 = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(v1);
}

Test(abi, plugin_linking_a_framework_internal_is_refused_at_load)
{
    char *line = refusal_of("abi_internal");
    cr_assert(strstr(line, "it calls cx_env_str, which is neither in the plugin API"), "unclear refusal: %s", line);
    free(line);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *refused = cx_communicator_new(stack, "/ws/abi_internal/", cx_db_token_header(stack, alice));
    cr_assert_eq(cx_communicator_http_status(refused), 404);
}

Test(abi, only_the_plugin_api_is_resolvable_from_a_plugin)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/abi_symbols/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    json_t *names = json_pack("{s:[sssssss]}", "names", "chanx_send_message", "chanx_register_consumer",
                              "chanx_register_consumer_sized", "cx_env_str", "cx_plugin_load", "cx_log",
                              "cx_worker_new");
    json_t *found = cx_request(c, "lookup", names, "found", 5000);
    json_decref(names);
    cx_assert_json_eq(found, "{\"chanx_send_message\": true, \"chanx_register_consumer\": true,"
                             " \"chanx_register_consumer_sized\": true, \"cx_env_str\": false,"
                             " \"cx_plugin_load\": false, \"cx_log\": false, \"cx_worker_new\": false}");
    json_decref(found);
}

Test(abi, api2_plugin_serves_every_field_and_has_no_topics)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    const char *headers[] = { cx_db_token_header(stack, alice)[0], "Sec-WebSocket-Protocol: other, v2.chanx", NULL };
    cx_communicator *c = cx_communicator_new(stack, "/ws/abi_v2/feed/lobby/", headers);
    cx_assert_authenticated_status_ok(c);
    cr_assert_str_eq(cx_communicator_subprotocol(c), "v2.chanx");
    json_t *pong = cx_request(c, "ping", NULL, "pong", 5000);
    cx_assert_json_eq(pong, "{\"subprotocol\": \"v2.chanx\"}");
    json_decref(pong);
    json_decref(cx_receive_all_json(c, 5000, 0));   /* the completion of the ping */

    json_decref(cx_api_publish(stack, "/api/broadcast", "{\"groups\": [\"v2_lobby\"], \"event\": "
                               "{\"action\": \"tick\", \"payload\": {\"n\": 3}}}"));
    json_t *m = cx_receive_until_action(c, "tock", 5000);
    cx_assert_json_eq(m, "{\"action\": \"tock\", \"payload\": {\"n\": 3}}");
    json_decref(m);
    json_decref(cx_api_publish(stack, "/api/broadcast", "{\"groups\": [\"v2_lobby\"], \"event\": "
                               "{\"action\": \"notice\", \"payload\": \"hi\"}}"));
    m = cx_receive_until_action(c, "notice", 5000);
    cx_assert_json_eq(m, "{\"action\": \"notice\", \"payload\": \"hi\"}");
    json_decref(m);

    cx_send_text(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"1\", \"action\": \"subscribe\"}");
    m = cx_receive_until_action(c, "error", 5000);
    cx_assert_json_eq(m, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"1\", \"action\": \"error\","
                         " \"payload\": {\"reason\": \"unknown_topic\", \"detail\": \"Unknown topic 'room:lobby'\"}}");
    json_decref(m);
}
