/*
 * The deployment's documentation and the tools built on it, end to end: the
 * AsyncAPI 3.0 document a gateway serves (validated against the official JSON
 * Schema, tests/docs/validate_asyncapi.py), `chanx-admin asyncapi`, the
 * playground in headless Chromium (tests/browser/), the JavaScript client
 * (clients/js/test/) and clients/python's WebSocket client (clients/python/tests/),
 * each against a live stack started here by the kit (with examples/hub, whose
 * topics the clients' handles speak to, and chanx-api).
 *
 * The browser and client tests are node programs (node's test runner, Debian's
 * node-ws and chromium) and a python3 unittest file; this file starts the stack, creates the users, and
 * passes the gateway's address and tokens in the environment.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static cx_stack *stack;

static void start(int playground)
{
    static char chat[600], echo[600], probe[600], notifications[600], hub[600];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(chat, sizeof chat, "%s/plugins/chat.so", bin);
    snprintf(echo, sizeof echo, "%s/plugins/echo.so", bin);
    snprintf(probe, sizeof probe, "%s/test-plugins/auth_probe.so", bin);
    snprintf(notifications, sizeof notifications, "%s/plugins/notifications.so", bin);
    snprintf(hub, sizeof hub, "%s/plugins/hub.so", bin);
    static const char *files[6];
    files[0] = chat, files[1] = echo, files[2] = probe, files[3] = notifications, files[4] = hub, files[5] = NULL;
    static const char *const on[] = { "CHANX_PLAYGROUND=on", "CHANX_SEND_COMPLETION=on", NULL };
    static const char *const off[] = { "CHANX_SEND_COMPLETION=on", NULL };
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .env = playground ? on : off, .api = 1 });
}

static void stop(void) { cx_stack_stop(&stack); }

TestSuite(docs, .fini = stop, .timeout = 120);

/* GET path from the stack's gateway: the status, and the body in *body (caller frees; "" when none). */
static int http_get(const char *path, char **body)
{
    int status = 0;
    *body = cx_http_get(cx_stack_gateway_port(stack, 0), path, &status);
    if (!*body)
        *body = strdup("");
    return status;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static int run(const char *cmd)
{
    fprintf(stderr, "docs: running %s\n", cmd);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

Test(docs, asyncapi_document_is_valid_and_describes_every_route)
{
    start(0);
    char *body = NULL;
    cr_assert_eq(http_get("/asyncapi.json", &body), 200, "%s", body);
    char file[512];
    snprintf(file, sizeof file, "%s/asyncapi.json", cx_stack_log_dir(stack));
    write_file(file, body);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/docs/validate_asyncapi.py %s", file);
    cr_assert_eq(run(cmd), 0, "the document is valid AsyncAPI 3.0 (messages above)");

    json_t *doc = json_loads(body, 0, NULL);
    cr_assert_not_null(doc);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", cx_stack_gateway_port(stack, 0));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(doc, "servers"), "gateway"),
                                                       "host")), host);
    /* chat: its path parameter, the incoming schema as is, the outgoing actions, completion */
    json_t *chat = json_object_get(json_object_get(doc, "channels"), "ws_chat_room_id");
    cr_assert_not_null(chat, "a channel per route");
    cr_assert_str_eq(json_string_value(json_object_get(chat, "address")), "/ws/chat/{room_id}/");
    cr_assert_not_null(json_object_get(json_object_get(chat, "parameters"), "room_id"));
    json_t *ops = json_object_get(doc, "operations");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ops, "ws_chat_room_id.receive.chat"), "action")),
                     "receive");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ops, "ws_chat_room_id.send.pong"), "action")),
                     "send", "outgoing actions are send operations");
    cr_assert_not_null(json_object_get(ops, "ws_chat_room_id.send.complete"), "CHANX_SEND_COMPLETION=on shows");
    json_t *messages = json_object_get(json_object_get(doc, "components"), "messages");
    json_t *chat_in = json_object_get(messages, "chat.chat.client.chat");
    json_t *message = json_object_get(json_object_get(json_object_get(json_object_get(chat_in, "payload"),
                                                                      "properties"), "payload"), "properties");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(message, "message"), "maxLength")), 4096);
    /* security: the probe's session route names the session cookie scheme */
    json_t *session = json_object_get(ops, "ws_auth_probe_session.receive.whoami");
    cr_assert_not_null(session, "auth_probe's session route");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(session, "security"), 0), "$ref")),
                     "#/components/securitySchemes/session");
    /* a JWT route documents the authenticate action the gateway answers (gateway/refresh.h); others do not */
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ops, "ws_auth_probe_jwt.receive.authenticate"),
                                                       "action")), "receive");
    cr_assert_null(json_object_get(ops, "ws_auth_probe_token.receive.authenticate"));

    /* notifications: its server-side events are what its clients get (send operations), the handled
     * one with its .events schema, the passthrough one with any payload; apart from its messages */
    json_t *handled = json_object_get(ops, "ws_notifications.event.notification");
    cr_assert_not_null(handled, "an .events action is a send operation");
    cr_assert_str_eq(json_string_value(json_object_get(handled, "action")), "send");
    json_t *event = json_object_get(messages, "notifications.notifications.event.notification");
    cr_assert_not_null(event, "its message is in components");
    cr_assert_str_eq(json_string_value(json_object_get(event, "x-chanx-event")), "receive_event");
    json_t *title = json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(event, "payload"),
                                                                                    "properties"), "payload"),
                                                    "properties"), "title");
    cr_assert_eq(json_integer_value(json_object_get(title, "minLength")), 1, "the .events schema as declared");
    json_t *passthrough = json_object_get(messages, "notifications.notifications.event.announcement");
    cr_assert_not_null(passthrough, "a passthrough event is a message too");
    cr_assert_str_eq(json_string_value(json_object_get(passthrough, "x-chanx-event")), "passthrough");
    cr_assert_not_null(json_object_get(ops, "ws_notifications.event.announcement"));
    cr_assert_not_null(json_object_get(json_object_get(json_object_get(json_object_get(doc, "channels"),
                                                                       "ws_notifications"), "messages"),
                                       "event.notification"));
    cr_assert_null(json_object_get(ops, "ws_chat_room_id.event.notification"), "events stay with their consumer");

    /* chanx-admin asyncapi writes the same document */
    char out[512];
    snprintf(out, sizeof out, "%s/admin-asyncapi.json", cx_stack_log_dir(stack));
    snprintf(cmd, sizeof cmd, "%s/chanx-admin asyncapi --gateway %s --output %s",
             getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build", host, out);
    cr_assert_eq(run(cmd), 0);
    json_t *written = json_load_file(out, 0, NULL);
    cr_assert(json_equal(written, doc), "chanx-admin asyncapi wrote what the gateway serves");
    json_decref(written);
    json_decref(doc);
    free(body);

    /* the playground is off by default */
    cr_assert_eq(http_get("/playground/", &body), 404);
    free(body);
}

static void export_stack(void)
{
    char value[128];
    snprintf(value, sizeof value, "http://127.0.0.1:%d", cx_stack_gateway_port(stack, 0));
    setenv("CHANX_TEST_HTTP", value, 1);
    snprintf(value, sizeof value, "ws://127.0.0.1:%d", cx_stack_gateway_port(stack, 0));
    setenv("CHANX_TEST_WS", value, 1);
    setenv("CHANX_TEST_TOKEN", cx_db_token(stack, cx_db_create_user(stack, "alice", 0)), 1);
    setenv("CHANX_TEST_TOKEN2", cx_db_token(stack, cx_db_create_user(stack, "bob", 0)), 1);
    /* carol's connections are the ones the tests close from the server side (/api/disconnect) */
    int64_t carol = cx_db_create_user(stack, "carol", 0);
    setenv("CHANX_TEST_TOKEN3", cx_db_token(stack, carol), 1);
    snprintf(value, sizeof value, "%lld", (long long) carol);
    setenv("CHANX_TEST_USER3", value, 1);
    setenv("CHANX_TEST_STAFF_TOKEN", cx_db_token(stack, cx_db_create_user(stack, "root", CX_USER_STAFF_FLAG)), 1);
    snprintf(value, sizeof value, "http://127.0.0.1:%d", cx_stack_api_port(stack));
    setenv("CHANX_API_URL", value, 1);
    setenv("CHANX_API_KEY", CX_TEST_API_KEY, 1);
    setenv("NODE_PATH", "/usr/share/nodejs", 1);   /* Debian's node-ws */
}

Test(docs, playground_works_in_chromium)
{
    start(1);
    export_stack();
    cr_assert_eq(run("timeout 100 node --test --test-timeout=60000 --test-reporter=spec tests/browser/test_playground.mjs"), 0,
                 "the playground's browser test passes (its output above)");
}

Test(docs, javascript_client_against_a_live_stack)
{
    start(1);
    export_stack();
    cr_assert_eq(run("timeout 100 node --test --test-timeout=30000 --test-reporter=spec clients/js/test/"), 0,
                 "the JavaScript client's tests pass (their output above)");
}

Test(docs, python_websocket_client_against_a_live_stack)
{
    start(0);
    export_stack();
    cr_assert_eq(run("timeout 100 /usr/bin/python3 -m unittest -v clients/python/tests/test_websocket.py"), 0,
                 "clients/python's WebSocket client tests pass (their output above)");
}
