/*
 * test_events_django.c — Django code publishes to our clients unchanged.
 *
 * The Django Channels peer (../shared/peers/django-channels, or
 * CHANX_DJANGO_PEER) runs `manage.py shell` with its channel layer swapped
 * for clients/python's ChanxChannelLayer, and does what a view or a task
 * does: async_to_sync(channel_layer.group_send)("chat_room_lobby", {"type":
 * "notify", ...}). The room's members are a kit communicator and a
 * python3-websockets client on the chat example. The same script uses the
 * Python client's Chanx names (send_event_sync, disconnect_user_sync) and
 * checks its errors. Skipped when the peer or Django is not installed.
 */
#include "test_events.h"

#include <limits.h>
#include <unistd.h>

static cx_stack *stack;

static void setup(void)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    static char chat[600];
    static const char *files[2];
    snprintf(chat, sizeof chat, "%s/plugins/chat.so", bin);
    files[0] = chat;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .gateways = 2, .api = 1 });
}

static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(events_django, .init = setup, .fini = teardown, .timeout = 120);

/* Runs a manage.py shell command in the peer with our layer; returns its output (owned). */
static char *django_shell(const char *code)
{
    const char *peer = getenv("CHANX_DJANGO_PEER") ? getenv("CHANX_DJANGO_PEER") : "../shared/peers/django-channels";
    char manage[PATH_MAX + 16], clients[PATH_MAX], config[256], cmd[PATH_MAX + 128];
    snprintf(manage, sizeof manage, "%s/manage.py", peer);
    if (access(manage, R_OK) != 0 || system("/usr/bin/python3 -c 'import channels, django, rest_framework' 2>/dev/null") != 0)
        cr_skip_test("no Django Channels peer at %s, or Django/Channels not installed (scripts/install-deps)", peer);
    cr_assert(realpath("clients/python", clients), "clients/python not found from %s", getcwd(cmd, sizeof cmd));
    snprintf(config, sizeof config, "{\"url\": \"http://127.0.0.1:%d\", \"api_key\": \"%s\"}", cx_stack_api_port(stack),
             CX_TEST_API_KEY);
    setenv("PYTHONPATH", clients, 1);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1);   /* the peer's folder is read-only */
    setenv("PEER_CHANNEL_LAYER_BACKEND", "chanx_client.layers.ChanxChannelLayer", 1);
    setenv("PEER_CHANNEL_LAYER_CONFIG", config, 1);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", cx_stack_api_port(stack));
    setenv("CHANX_API_URL", url, 1);
    setenv("CHANX_API_KEY", CX_TEST_API_KEY, 1);
    setenv("CX_DJANGO_CODE", code, 1);
    snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/python3 manage.py shell -c \"$CX_DJANGO_CODE\" 2>&1", peer);
    int status;
    char *out = cx_shell_output(cmd, &status);
    cr_assert_eq(status, 0, "manage.py shell failed:\n%s", out);
    return out;
}

static const char GROUP_SEND[] =
    "from asgiref.sync import async_to_sync\n"
    "from channels.layers import get_channel_layer\n"
    "layer = get_channel_layer()\n"
    "print(type(layer).__name__)\n"
    "print(async_to_sync(layer.group_send)('chat_room_lobby', {'type': 'notify', 'payload': {'n': 1}}))\n"
    "try:\n"
    "    async_to_sync(layer.send)('specific.abc', {'type': 'notify'})\n"
    "except NotImplementedError as e:\n"
    "    print('send:', e)\n";

Test(events_django, group_send_from_django_reaches_our_clients)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a = cx_communicator_on(stack, 0, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(a);
    json_decref(cx_request(a, "ping", NULL, "pong", 5000));   /* its groups are known everywhere now */
    FILE *py = cx_python_client(stack, 1, "/ws/chat/lobby/", cx_db_token(stack, bob),
                                "import asyncio, sys, json, websockets\n"
                                "async def main():\n"
                                "    async with websockets.connect(sys.argv[1]) as ws:\n"
                                "        print(json.loads(await ws.recv())['action'], flush=True)\n"
                                "        await ws.send(json.dumps({'action': 'ping'}))\n"
                                "        print(json.loads(await ws.recv())['action'], flush=True)\n"
                                "        print(await asyncio.wait_for(ws.recv(), 20), flush=True)\n"
                                "asyncio.run(main())\n");
    char line[512];
    cx_python_line(py, line, sizeof line, "authentication");
    cr_assert_str_eq(line, "authentication");
    cx_python_line(py, line, sizeof line, "pong");
    cr_assert_str_eq(line, "pong");

    char *out = django_shell(GROUP_SEND);
    cr_assert(strstr(out, "ChanxChannelLayer"), "the peer did not load our layer:\n%s", out);
    cr_assert(strstr(out, "'gateways': 2, 'connections': 2"), "group_send's result:\n%s", out);
    cr_assert(strstr(out, "send: ChanxChannelLayer only publishes"), "send() must say it is unsupported:\n%s", out);
    free(out);

    json_t *m = cx_receive_json(a, 5000);
    cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": {\"n\": 1}}");
    json_decref(m);
    cx_python_line(py, line, sizeof line, "notify");
    json_t *got = json_loads(line, 0, NULL);
    cx_assert_json_eq(got, "{\"action\": \"notify\", \"payload\": {\"n\": 1}}");
    json_decref(got);
    pclose(py);
}

Test(events_django, the_python_client_sends_to_a_user_disconnects_and_reports_errors)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *a = cx_communicator_on(stack, 1, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(a);
    char code[1024];
    snprintf(code, sizeof code,
             "import chanx_client as cx\n"
             "print(cx.send_event_sync({'action': 'notify', 'payload': 'for you'}, user_id=%lld))\n"
             "try:\n"
             "    cx.ChanxClient(api_key='wrong').broadcast_event_sync({'action': 'notify'}, 'chat_room_lobby')\n"
             "except cx.ChanxAPIError as e:\n"
             "    print('error', e.status, e.code)\n"
             "try:\n"
             "    cx.broadcast_event_sync({'action': 'notify'}, 'room with spaces')\n"
             "except cx.ChanxAPIError as e:\n"
             "    print('error', e.status, e.code)\n"
             "print(cx.disconnect_user_sync(%lld, code=4001))\n",
             (long long) alice, (long long) alice);
    char *out = django_shell(code);
    cr_assert(strstr(out, "{'gateways': 1, 'connections': 1}"), "%s", out);
    cr_assert(strstr(out, "error 401 unauthorized"), "%s", out);
    cr_assert(strstr(out, "error 400 invalid_group"), "%s", out);
    free(out);
    json_t *m = cx_receive_json(a, 5000);
    cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": \"for you\"}");
    json_decref(m);
    cx_assert_closed(a, 4001, 5000);
}
