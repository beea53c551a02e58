/*
 * End to end through real processes: a WebSocket client reaches the echo
 * consumer through gateway, broker and worker, token-authenticated against
 * PostgreSQL; refusals carry DRF's messages; a dead worker's clients are
 * closed with 1011 and a restarted worker serves again.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

static cx_stack *stack;

static void setup(void)
{
    stack = cx_stack_start(&(cx_stack_options) { 0 });
}

static void teardown(void)
{
    cx_stack_stop(&stack);
}

TestSuite(skeleton, .init = setup, .fini = teardown, .timeout = 60);

static void assert_auth(cx_communicator *c, int status, const char *detail)
{
    json_t *payload = cx_wait_for_auth(c, 5000);
    cr_assert_not_null(payload, "no authentication message");
    cr_assert_eq(json_integer_value(json_object_get(payload, "status_code")), status);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(payload, "data"), "detail")), detail);
    json_decref(payload);
}

Test(skeleton, token_header_gets_200_then_pong)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/echo/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    cx_send_message(c, "ping", NULL);
    json_t *pong = cx_receive_json(c, 3000);
    cr_assert_not_null(pong, "no pong");
    cr_assert_str_eq(json_string_value(json_object_get(pong, "action")), "pong");
    cr_assert(json_is_null(json_object_get(pong, "payload")));
    json_decref(pong);
}

Test(skeleton, token_query_parameter_is_accepted)
{
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    char path[128];
    snprintf(path, sizeof path, "/ws/echo/?token=%s", cx_db_token(stack, bob));
    cx_communicator *c = cx_communicator_new(stack, path, NULL);
    cx_assert_authenticated_status_ok(c);
}

Test(skeleton, missing_token_gets_401_and_close)
{
    cx_communicator *c = cx_communicator_new(stack, "/ws/echo/", NULL);
    assert_auth(c, 401, "Authentication credentials were not provided.");
    cx_assert_closed(c, 4401, 3000);
}

Test(skeleton, wrong_token_gets_401_and_close)
{
    const char *headers[] = { "Authorization: Token 0000000000000000000000000000000000000000", NULL };
    cx_communicator *c = cx_communicator_new(stack, "/ws/echo/", headers);
    assert_auth(c, 401, "Invalid token.");
    cx_assert_closed(c, 4401, 3000);
}

Test(skeleton, inactive_user_is_refused)
{
    int64_t carol = cx_db_create_user(stack, "carol", CX_USER_INACTIVE_FLAG);
    cx_communicator *c = cx_communicator_new(stack, "/ws/echo/", cx_db_token_header(stack, carol));
    assert_auth(c, 401, "User inactive or deleted.");
    cx_assert_closed(c, 4401, 3000);
}

Test(skeleton, sql_metacharacters_in_token_are_just_a_wrong_token)
{
    cx_communicator *c = cx_communicator_new(stack, "/ws/echo/?token=x%27%20OR%20%271%27%3D%271", NULL);
    assert_auth(c, 401, "Invalid token.");
}

Test(skeleton, unknown_path_is_refused_with_404)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/nowhere/", cx_db_token_header(stack, alice));
    cr_assert_not(cx_communicator_connected(c));
    cr_assert_eq(cx_communicator_http_status(c), 404);
}

Test(skeleton, malformed_json_gets_an_error_and_the_connection_stays)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/echo/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    cx_send_text(c, "{not json");
    json_t *err = cx_receive_json(c, 3000);
    cr_assert_not_null(err);
    cr_assert_str_eq(json_string_value(json_object_get(err, "action")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(err, "payload"), 0), "type")),
                     "json_invalid");
    json_decref(err);
    cx_send_message(c, "ping", NULL);
    json_t *pong = cx_receive_until_action(c, "pong", 3000);
    cr_assert_not_null(pong, "connection did not survive malformed input");
    json_decref(pong);
}

Test(skeleton, messages_sent_before_authentication_finishes_are_not_lost)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/echo/", cx_db_token_header(stack, alice));
    for (int i = 0; i < 20; i++)
        cx_send_message(c, "ping", NULL);
    cx_assert_authenticated_status_ok(c);
    for (int i = 0; i < 20; i++) {
        json_t *pong = cx_receive_json(c, 3000);
        cr_assert_not_null(pong, "pong %d missing", i);
        cr_assert_str_eq(json_string_value(json_object_get(pong, "action")), "pong");
        json_decref(pong);
    }
}

Test(skeleton, dead_worker_closes_clients_with_1011_and_a_new_worker_serves)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/echo/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    cx_stack_kill_worker(stack, 0, SIGKILL);
    cx_assert_closed(c, 1011, 5000);
    /* with no worker the route answers 503 */
    cx_communicator *refused = cx_communicator_new(stack, "/ws/echo/", cx_db_token_header(stack, alice));
    cr_assert_eq(cx_communicator_http_status(refused), 503);
    cx_stack_restart_worker(stack, 0);
    cr_assert(cx_stack_wait_ready(stack, 0, 5000), "gateway did not see the new worker");
    cx_communicator *again = cx_communicator_new(stack, "/ws/echo/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(again);
    cx_send_message(again, "ping", NULL);
    json_t *pong = cx_receive_until_action(again, "pong", 3000);
    cr_assert_not_null(pong);
    json_decref(pong);
}

Test(skeleton, a_gateway_whose_port_is_taken_says_so_and_exits)
{
    /* The stack's own gateway holds its port: a second one there must not start half-way. */
    char cmd[1024], out[4096] = "";
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(cmd, sizeof cmd, "CHANX_LOG_LEVEL=info %s/chanx-gateway --listen 127.0.0.1:%d --broker tcp://127.0.0.1:1 2>&1",
             bin, cx_stack_gateway_port(stack, 0));
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit status %d; output: %s", status, out);
    cr_assert_not_null(strstr(out, "cannot listen on 127.0.0.1"), "no clear error: %s", out);
}
