/*
 * Connection actors on the worker's thread pool, end to end:
 *
 *   - a consumer blocked in a callback for 2 s holds up only its own
 *     connection: another connection on the same worker keeps its pongs fast;
 *   - each connection's messages are handled in arrival order under a burst
 *     on 8 threads (the guarantee of include/chanx/consumer.h);
 *   - a connection whose consumer cannot keep up is closed with 1013 once
 *     CHANX_MAILBOX_MAX messages wait, with a log record; others carry on;
 *   - a plugin replaced while a callback of its old version is running keeps
 *     its code loaded until that callback and its connection are done.
 *
 * tests/plugins/act_probe blocks with a plain usleep, as a slow library call
 * would. Times are asserted generously (the machine running the tests may be
 * loaded); what is asserted is the behaviour: pongs do not wait for the 2 s.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cx_stack *stack;
static char *folder;

static void teardown(void)
{
    cx_stack_stop(&stack);
    cx_plugin_folder_remove(&folder);
}

TestSuite(actors, .fini = teardown, .timeout = 120);

static void start(const char *threads, const char *mailbox)
{
    static char env_threads[64], env_mailbox[64];
    snprintf(env_threads, sizeof env_threads, "CHANX_WORKER_THREADS=%s", threads);
    snprintf(env_mailbox, sizeof env_mailbox, "CHANX_MAILBOX_MAX=%s", mailbox);
    folder = cx_plugin_folder_new((const char *const[]) { "test-plugins/act_probe.so", NULL });
    stack = cx_stack_start(&(cx_stack_options) {
        .plugins = folder,
        .env = (const char *const[]) { env_threads, env_mailbox, "CHANX_LOG_LEVEL=info", NULL } });
}

static cx_communicator *connect_as(const char *name)
{
    int64_t id = cx_db_create_user(stack, name, 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/act_probe/", cx_db_token_header(stack, id));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec * 1e3 + (double) t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void send_sleep(cx_communicator *c, int ms)
{
    json_t *p = json_pack("{s:i}", "ms", ms);
    cx_send_message(c, "sleep", p);
    json_decref(p);
}

Test(actors, a_consumer_blocked_for_2_s_does_not_delay_another_connections_pong)
{
    start("4", "1000");
    cx_communicator *slow = connect_as("slow"), *other = connect_as("other");
    json_decref(cx_request(slow, "ping", NULL, "pong", 5000));   /* both connections are live */
    json_decref(cx_request(other, "ping", NULL, "pong", 5000));

    double t0 = now_ms();
    send_sleep(slow, 2000);
    cx_send_message(slow, "ping", NULL);   /* queued behind the sleep: its own connection waits */
    enum { N = 40 };
    double rtt[N];
    for (int i = 0; i < N; i++) {
        double t = now_ms();
        json_decref(cx_request(other, "ping", NULL, "pong", 5000));
        rtt[i] = now_ms() - t;
    }
    double pinged = now_ms() - t0;
    qsort(rtt, N, sizeof *rtt, by_value);
    double p99 = rtt[(N * 99 + 99) / 100 - 1], p50 = rtt[N / 2];
    cr_log_info("other connection during the 2 s block: p50 %.1f ms, p99 %.1f ms, %d pongs in %.0f ms",
                p50, p99, N, pinged);
    cr_assert_lt(pinged, 1900.0, "%d pongs took %.0f ms: they waited for the blocked consumer", N, pinged);
    cr_assert_lt(p99, 250.0, "p99 of the other connection's pongs was %.1f ms (p50 %.1f)", p99, p50);

    /* The blocked connection itself answers in order once its callback returns. */
    json_t *slept = cx_receive_json(slow, 5000);
    cr_assert_not_null(slept, "the sleeping consumer never answered");
    cr_assert_str_eq(json_string_value(json_object_get(slept, "action")), "slept");
    cr_assert_geq(now_ms() - t0, 1900.0, "the sleep was not a sleep");
    json_decref(slept);
    json_t *pong = cx_receive_json(slow, 5000);
    cr_assert_str_eq(json_string_value(json_object_get(pong, "action")), "pong");
    json_decref(pong);
}

Test(actors, each_connections_messages_are_handled_in_arrival_order_under_a_burst_on_8_threads)
{
    start("8", "100000");
    enum { CONNS = 8, MSGS = 300 };
    cx_communicator *c[CONNS];
    char name[16];
    for (int i = 0; i < CONNS; i++) {
        snprintf(name, sizeof name, "user%d", i);
        c[i] = connect_as(name);
    }
    for (int n = 0; n < MSGS; n++)   /* interleaved across connections, none waits for a reply */
        for (int i = 0; i < CONNS; i++) {
            json_t *p = json_pack("{s:i}", "n", n);
            cx_send_message(c[i], "seq", p);
            json_decref(p);
        }
    for (int i = 0; i < CONNS; i++)
        for (int n = 0; n < MSGS; n++) {
            json_t *m = cx_receive_json(c[i], 20000);
            cr_assert_not_null(m, "connection %d: reply %d never came", i, n);
            json_int_t got = json_integer_value(json_object_get(json_object_get(m, "payload"), "n"));
            cr_assert_eq(got, n, "connection %d: reply %d carries n=%lld: out of order", i, n, (long long) got);
            json_decref(m);
        }
}

/* python3-websockets reports the close code as sent (the kit's libwebsockets 4.1 client reads 1013
 * as 1002). It sends a 1.5 s sleep and 30 pings behind it, then waits for the close. */
static const char FLOOD_CLIENT[] =
    "import asyncio, json, sys\n"
    "import websockets\n"
    "async def main():\n"
    "    async with websockets.connect(sys.argv[1]) as ws:\n"
    "        await ws.recv()\n"
    "        await ws.send(json.dumps({'action': 'sleep', 'payload': {'ms': 1500}}))\n"
    "        for i in range(30):\n"
    "            await ws.send(json.dumps({'action': 'ping'}))\n"
    "        try:\n"
    "            while True:\n"
    "                await asyncio.wait_for(ws.recv(), 10)\n"
    "        except websockets.ConnectionClosed as e:\n"
    "            print(e.rcvd.code if e.rcvd else 1006, flush=True)\n"
    "asyncio.run(main())\n";

Test(actors, a_full_mailbox_closes_its_connection_with_1013_and_others_carry_on)
{
    start("2", "4");
    int64_t flooder = cx_db_create_user(stack, "flooded", 0);
    cx_communicator *other = connect_as("other");
    FILE *py = cx_python_client(stack, 0, "/ws/act_probe/", cx_db_token(stack, flooder), FLOOD_CLIENT);
    char line[64];
    cx_python_line(py, line, sizeof line, "close code");
    cr_assert_str_eq(line, "1013", "the flooding client was closed with %s", line);
    pclose(py);
    json_decref(cx_request(other, "ping", NULL, "pong", 5000));
    char *log = cx_stack_log(stack, "worker0", "Mailbox full", 5000);
    cr_assert_not_null(log, "the worker did not log the overflow");
    cr_assert_not_null(strstr(strstr(log, "Mailbox full"), "\"mailbox_max\":4"), "the record lacks mailbox_max:\n%s", log);
    free(log);
}

Test(actors, a_plugin_replaced_while_its_callback_runs_stays_loaded_until_that_connection_ends)
{
    start("2", "1000");
    cx_communicator *old = connect_as("old");
    send_sleep(old, 1500);
    cx_plugin_folder_drop(folder, "test-plugins/act_probe.so", "act_probe.so");
    for (int waited = 0; waited < 10000 && cx_stack_log_count(stack, "worker0", "loaded plugin act_probe") < 2; waited += 50)
        usleep(50 * 1000);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "loaded plugin act_probe"), 2, "the new version never loaded");
    /* The old version's callback finishes on old code, and the connection goes on with it. */
    json_t *slept = cx_receive_until_action(old, "slept", 5000);
    json_decref(slept);
    json_decref(cx_request(old, "ping", NULL, "pong", 5000));
    cx_communicator *fresh = connect_as("fresh");
    json_decref(cx_request(fresh, "ping", NULL, "pong", 5000));
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "unloaded replaced plugin act_probe"), 0);
    cx_communicator_disconnect(old);
    char *log = cx_stack_log(stack, "worker0", "unloaded replaced plugin act_probe", 10000);
    cr_assert_not_null(log, "the replaced plugin was never unloaded after its last connection");
    free(log);
    json_decref(cx_request(fresh, "ping", NULL, "pong", 5000));
}
