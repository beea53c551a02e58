/*
 * The broker is the one process every message crosses, so its restart must
 * heal by itself: gateways and workers reconnect (ZeroMQ redials), the new
 * broker asks the unknown peers to introduce themselves, workers register
 * their routes again, and new clients are served. What the old broker knew
 * (which worker serves which connection, who is in which group) died with
 * it, so its clients are closed with 1012 (service restart) and reconnect,
 * rather than left open talking into a void.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static cx_stack *stack;

static void setup(void) { stack = cx_stack_start(&(cx_stack_options) { 0 }); }
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(broker_restart, .init = setup, .fini = teardown, .timeout = 60);

/* A client nobody here wrote (python3-websockets; the kit's libwebsockets 4.1 client reads 1012 as
 * 1002): says "open" once it has a pong, then prints the close code it receives. */
static const char PY_CLIENT[] =
    "import asyncio, json, sys\n"
    "import websockets\n"
    "async def main():\n"
    "    async with websockets.connect(sys.argv[1]) as ws:\n"
    "        await ws.recv()\n"
    "        await ws.send(json.dumps({'action': 'ping'}))\n"
    "        await ws.recv()\n"
    "        print('open', flush=True)\n"
    "        try:\n"
    "            await asyncio.wait_for(ws.recv(), 10)\n"
    "        except websockets.ConnectionClosed as e:\n"
    "            print(e.rcvd.code if e.rcvd else 1006, flush=True)\n"
    "asyncio.run(main())\n";

/* What a client does after a broker restart: connect until one is accepted (the first attempts may
 * meet 503 while workers register again, or a 1012/1013 close). NULL after timeout_ms. */
static cx_communicator *reconnect(int64_t user, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 200) {
        cx_communicator *c = cx_communicator_when_live(stack, 0, "/ws/echo/", cx_db_token_header(stack, user), 5000);
        json_t *auth = c ? cx_receive_json(c, 3000) : NULL;
        int ok = auth && json_integer_value(json_object_get(json_object_get(auth, "payload"), "status_code")) == 200;
        json_decref(auth);
        if (ok)
            return c;
        if (c)
            cx_communicator_disconnect(c);
        usleep(200 * 1000);
    }
    return NULL;
}

Test(broker_restart, a_restarted_broker_serves_new_clients_and_old_ones_are_told_to_reconnect)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    char line[64];
    FILE *old = cx_python_client(stack, 0, "/ws/echo/", cx_db_token(stack, alice), PY_CLIENT);
    cx_python_line(old, line, sizeof line, "open");
    cr_assert_str_eq(line, "open");

    cx_stack_kill_broker(stack, SIGKILL);
    cx_stack_start_broker(stack);

    /* The old client hears first: its consumer is gone, it must reconnect. */
    cx_python_line(old, line, sizeof line, "close code");
    cr_assert_str_eq(line, "1012", "the old client was closed with %s", line);
    pclose(old);
    cx_communicator *fresh = reconnect(alice, 15000);
    cr_assert_not_null(fresh, "no client was accepted after the broker restarted");
    json_decref(cx_request(fresh, "ping", NULL, "pong", 3000));
}
