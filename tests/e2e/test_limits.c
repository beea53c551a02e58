/*
 * Big and unexpected frames: a large message arrives whole however the
 * gateway's reads cut it up; one over CHANX_MAX_MESSAGE_BYTES closes only
 * its own connection with 1009 (message too big); a binary frame, which
 * no JSON consumer can read, closes with 1003. Neighbours carry on.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kit/ws_client.h"

static cx_stack *stack;

static void setup(void)
{
    static char plugin[600];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(plugin, sizeof plugin, "%s/test-plugins/lim_echo.so", bin);
    stack = cx_stack_start(&(cx_stack_options) {
        .plugin_files = (const char *[]) { plugin, NULL },
        .env = (const char *[]) { "CHANX_MAX_MESSAGE_BYTES=262144", NULL },
    });
}
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 60);

static cx_communicator *connect_user(const char *name)
{
    int64_t id = cx_db_create_user(stack, name, 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/lim_echo/", cx_db_token_header(stack, id));
    cx_assert_authenticated_status_ok(c);
    return c;
}

/* {"action":"echo","payload":{"text":"xxxx..."}} with a text of n bytes. */
static json_t *echo_message(size_t n, char fill)
{
    char *text = malloc(n + 1);
    memset(text, fill, n);
    text[n] = '\0';
    json_t *m = json_pack("{s:s, s:{s:s}}", "action", "echo", "payload", "text", text);
    free(text);
    return m;
}

static void assert_echoed(cx_communicator *c, size_t n, char fill)
{
    json_t *reply = cx_receive_until_action(c, "echo", 10000);
    const char *text = json_string_value(json_object_get(json_object_get(reply, "payload"), "text"));
    cr_assert_not_null(text);
    cr_assert_eq(strlen(text), n, "echoed %zu bytes of %zu", strlen(text), n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(text[i], fill, "byte %zu changed", i);
    json_decref(reply);
}

Test(limits, a_200_kib_message_arrives_whole_and_comes_back_byte_for_byte)
{
    cx_communicator *c = connect_user("alice");
    json_t *m = echo_message(200 * 1024, 'a');
    cx_send_json(c, m);
    json_decref(m);
    assert_echoed(c, 200 * 1024, 'a');
    /* and the connection still serves small ones after it */
    m = echo_message(3, 'b');
    cx_send_json(c, m);
    json_decref(m);
    assert_echoed(c, 3, 'b');
}

Test(limits, a_message_over_the_limit_closes_only_its_connection_with_1009)
{
    cx_communicator *big = connect_user("alice"), *neighbour = connect_user("bob");
    json_t *m = echo_message(300 * 1024, 'x');
    cx_send_json(big, m);
    json_decref(m);
    cx_assert_closed(big, 1009, 5000);
    m = echo_message(10, 'n');
    cx_send_json(neighbour, m);
    json_decref(m);
    assert_echoed(neighbour, 10, 'n');
}

Test(limits, a_binary_frame_closes_with_1003_unsupported_data)
{
    int64_t id = cx_db_create_user(stack, "carol", 0);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws/lim_echo/", cx_stack_gateway_port(stack, 0));
    cx_ws *ws = cx_ws_connect(url, cx_db_token_header(stack, id), 5000);
    cr_assert(ws && cx_ws_is_open(ws), "not connected");
    free(cx_ws_recv_text(ws, 5000, NULL));   /* the authentication message */
    cr_assert_eq(cx_ws_send_binary(ws, "\x01\x02\x03", 3), 0);
    int code = 0;
    cr_assert(cx_ws_wait_closed(ws, 5000, &code), "still open after a binary frame");
    cr_assert_eq(code, 1003, "closed with %d", code);
    cx_ws_destroy(&ws);
}
