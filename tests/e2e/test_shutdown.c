/*
 * Graceful shutdown, as an orchestrator does it (SIGTERM, then SIGKILL after
 * a grace period):
 *
 *   - a gateway closes its clients with 1001 (going away) and exits within
 *     its drain time (CHANX_DRAIN_MS; the kit sets 1000 ms), even when
 *     clients do not answer the close; the other gateway is untouched;
 *   - a worker closes its connections with 1012 (service restart), exits
 *     promptly, and clients that reconnect at once land on a live worker;
 *   - the compose healthchecks' probes (chanx-worker --check, chanx-broker
 *     --check) pass while the process serves and fail, saying why, when not.
 *
 * The kit's libwebsockets client reports a received 1012 as 1002 (lws 4.1's
 * client parser treats codes above 1011 as protocol errors), so the 1012 is
 * read by Python's websockets, a client independent of ours, run as a child.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cx_stack *stack;
static char *folder;
static int64_t alice;

#define DRAIN_MS 1000
/* The kit escalates to SIGKILL after 3 s; a clean exit must come well before. */
#define EXIT_BOUND_MS (DRAIN_MS + 1000)

static char health[128];

static void setup(void)
{
    folder = cx_plugin_folder_new((const char *const[]) { "plugins/echo.so", "test-plugins/dep_probe.so", NULL });
    snprintf(health, sizeof health, "CHANX_HEALTH_FILE=%s/alive", folder);
    putenv(health);   /* for the --check this process runs, too */
    stack = cx_stack_start(&(cx_stack_options) {
        .plugins = folder, .gateways = 2, .workers = 2,
        .env = (const char *const[]) { "CHANX_DRAIN_MS=1000", "CHANX_LOG_LEVEL=info", health, NULL } });
    alice = cx_db_create_user(stack, "alice", 0);
}

static void teardown(void)
{
    cx_stack_stop(&stack);
    cx_plugin_folder_remove(&folder);
}

TestSuite(shutdown, .init = setup, .fini = teardown, .timeout = 60);

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static cx_communicator *connect_to(int gateway, const char *path)
{
    cx_communicator *c = cx_communicator_on(stack, gateway, path, cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static void assert_pong(cx_communicator *c)
{
    json_decref(cx_request(c, "ping", NULL, "pong", 5000));
}

/* A python3-websockets client on one gateway: prints its worker's pid once connected, then the
 * close code it receives. */
static const char PY_CLIENT[] =
    "import asyncio, json, sys\n"
    "import websockets\n"
    "async def main():\n"
    "    async with websockets.connect(sys.argv[1]) as ws:\n"
    "        await ws.recv()\n"
    "        await ws.send(json.dumps({'action': 'whoami'}))\n"
    "        print(json.loads(await ws.recv())['payload']['pid'], flush=True)\n"
    "        try:\n"
    "            await asyncio.wait_for(ws.recv(), 10)\n"
    "        except websockets.ConnectionClosed as e:\n"
    "            print(e.rcvd.code if e.rcvd else 1006, flush=True)\n"
    "asyncio.run(main())\n";

static long read_number(FILE *p, const char *what)
{
    char line[64];
    cx_python_line(p, line, sizeof line, what);
    return atol(line);
}

static json_int_t worker_pid_of(cx_communicator *c)
{
    cx_send_message(c, "whoami", NULL);
    json_t *m = cx_receive_until_action(c, "whoami", 5000);
    cr_assert_not_null(m, "no whoami answer");
    json_int_t pid = json_integer_value(json_object_get(json_object_get(m, "payload"), "pid"));
    json_decref(m);
    return pid;
}

Test(shutdown, sigterm_on_a_gateway_closes_its_clients_with_1001_within_the_drain_time)
{
    cx_communicator *leaving[3], *staying = connect_to(1, "/ws/echo/");
    for (int i = 0; i < 3; i++)
        leaving[i] = connect_to(0, "/ws/echo/");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* The clients read nothing until the gateway is gone: it must not wait for their close replies
     * beyond its drain time. */
    cx_stack_kill_gateway(stack, 0, SIGTERM);
    long took = elapsed_ms(&t0);
    cr_assert_lt(took, EXIT_BOUND_MS, "the gateway took %ld ms to exit (drain time %d ms)", took, DRAIN_MS);
    for (int i = 0; i < 3; i++)
        cx_assert_closed(leaving[i], 1001, 2000);
    assert_pong(staying);
}

Test(shutdown, sigterm_on_a_worker_closes_its_connections_with_1012_and_clients_reconnect_elsewhere)
{
    for (int waited = 0; cx_stack_log_count(stack, "broker", "\"worker registered\"") < 2; waited += 50) {
        cr_assert_lt(waited, 10000, "the second worker never registered");
        usleep(50000);
    }
    cx_communicator *probe = connect_to(0, "/ws/dep_probe/");
    FILE *py = cx_python_client(stack, 1, "/ws/dep_probe/", cx_db_token(stack, alice), PY_CLIENT);
    json_int_t py_pid = read_number(py, "worker pid"), other = worker_pid_of(probe);
    cr_assert_neq(py_pid, other, "the two connections should be on different workers");
    int doomed = py_pid == cx_stack_pid(stack, "worker0") ? 0 : 1;
    cr_assert_eq(py_pid, cx_stack_pid(stack, doomed ? "worker1" : "worker0"));
    json_int_t survivor = other;

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cx_stack_kill_worker(stack, doomed, SIGTERM);
    long took = elapsed_ms(&t0);
    cr_assert_lt(took, EXIT_BOUND_MS, "the worker took %ld ms to exit", took);
    cr_assert_eq(read_number(py, "close code"), 1012, "the worker's client should be closed with 1012");
    pclose(py);
    cr_assert_eq(worker_pid_of(probe), survivor, "the other worker's connection was disturbed");

    /* A client reconnecting at once must not be pinned to the worker that just left. */
    for (int i = 0; i < 3; i++) {
        cx_communicator *again = connect_to(i % 2, "/ws/dep_probe/");
        cr_assert_eq(worker_pid_of(again), survivor, "reconnection %d was sent to the stopped worker", i);
    }
}

/* chanx-worker --check, the compose healthcheck: alive while a worker loops with a broker link. */
static int worker_check(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s/chanx-worker --check", cx_test_bin());
    return system(cmd);
}

Test(shutdown, worker_check_passes_while_a_worker_runs_and_fails_after_it_stops)
{
    int rc = -1;
    for (int waited = 0; (rc = worker_check()) != 0 && waited < 5000; waited += 100)
        usleep(100000);
    cr_assert_eq(rc, 0, "chanx-worker --check fails although workers run");
    cx_stack_kill_worker(stack, 0, SIGKILL);
    cx_stack_kill_worker(stack, 1, SIGKILL);
    for (int waited = 0; (rc = worker_check()) == 0 && waited < 10000; waited += 100)
        usleep(100000);
    cr_assert_neq(rc, 0, "chanx-worker --check still passes with no worker running");
}

/* chanx-broker --check, the compose broker healthcheck: 0 with the broker's keys; without them (plain
 * ZeroMQ, which a CURVE broker never answers) 1 and a line naming the endpoint and the missing keys,
 * where it used to fail without a word. */
Test(shutdown, broker_check_passes_with_the_keys_and_says_why_without_them)
{
    char cmd[1200];
    int status;
    if (!cx_stack_keys_dir(stack))
        cr_skip_test("plain broker links (CHANX_TEST_PLAIN_LINKS): a plain probe is answered");
    snprintf(cmd, sizeof cmd, "CHANX_CURVE_DIR=%s %s/chanx-broker --check %s", cx_stack_keys_dir(stack), cx_test_bin(),
             cx_stack_broker_endpoint(stack));
    cr_assert_eq(system(cmd), 0, "chanx-broker --check fails against a live broker: %s", cmd);
    snprintf(cmd, sizeof cmd, "CHANX_CURVE_DIR= %s/chanx-broker --check %s 2>&1", cx_test_bin(),
             cx_stack_broker_endpoint(stack));
    char *out = cx_shell_output(cmd, &status);
    cr_assert_neq(status, 0, "a plain probe of a CURVE broker passed");
    cr_assert(strstr(out, cx_stack_broker_endpoint(stack)) && strstr(out, "CHANX_CURVE_DIR"),
              "the failed check does not say why: \"%s\"", out);
    free(out);
}
