/*
 * Scale-out, end to end: several gateways and workers behind one broker.
 *
 * A chat message crosses gateways with is_mine/is_current intact; a gateway
 * killed mid-run takes only its own clients, and the broker forgets them
 * (no group keeps a dead member, nothing is sent for them); a gateway that
 * joins later gets the route table and serves. Connections spread across
 * workers by least connections and stay pinned; a killed worker takes only
 * its connections (1011). The dep_probe test plugin reports the pid of the
 * worker serving a connection, which is how pinning is seen from outside.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static cx_stack *stack;
static char *folder;

static void start(const char *log_level)
{
    folder = cx_plugin_folder_new((const char *const[]) { "plugins/chat.so", "test-plugins/dep_probe.so", NULL });
    char level[64];
    snprintf(level, sizeof level, "CHANX_LOG_LEVEL=%s", log_level);
    stack = cx_stack_start(&(cx_stack_options) {
        .plugins = folder, .gateways = 2, .workers = 2, .env = (const char *const[]) { level, NULL } });
}

static void setup(void) { start("info"); }
static void setup_debug(void) { start("debug"); }
static void teardown(void)
{
    cx_stack_stop(&stack);
    cx_plugin_folder_remove(&folder);
}

TestSuite(scale, .init = setup, .fini = teardown, .timeout = 60);
/* The broker logs every failed send at debug level: how "nothing is sent for the dead" is seen. */
TestSuite(scale_gateway_death, .init = setup_debug, .fini = teardown, .timeout = 60);

static int flag(const json_t *m, const char *key) { return json_is_true(json_object_get(m, key)); }

static cx_communicator *join(int gateway, const char *path, int64_t user)
{
    cx_communicator *c = cx_communicator_on(stack, gateway, path, cx_db_token_header(stack, user));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static void say(cx_communicator *c, const char *text)
{
    json_t *payload = json_pack("{s:s}", "message", text);
    cx_send_message(c, "chat", payload);
    json_decref(payload);
}

/* The next chat message c receives: asserts its text, returns it for the flags. */
static json_t *heard(cx_communicator *c, const char *text)
{
    json_t *m = cx_receive_until_action(c, "chat", 5000);
    cr_assert_not_null(m, "no chat message arrived (expected \"%s\")", text);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "payload"), "message")), text);
    return m;
}

static void assert_heard(cx_communicator *c, const char *text, int is_mine, int is_current)
{
    json_t *m = heard(c, text);
    cr_assert_eq(flag(m, "is_mine"), is_mine, "is_mine should be %d", is_mine);
    cr_assert_eq(flag(m, "is_current"), is_current, "is_current should be %d", is_current);
    json_decref(m);
}

/* The pid of the worker serving c, from the probe. */
static json_int_t whoami(cx_communicator *c)
{
    json_t *p = cx_request(c, "whoami", NULL, "whoami", 5000);
    json_int_t pid = json_integer_value(json_object_get(p, "pid"));
    json_decref(p);
    cr_assert_gt(pid, 0);
    return pid;
}

Test(scale, chat_crosses_gateways_with_is_mine_and_is_current)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *alice_a = join(0, "/ws/chat/lobby/", alice);
    cx_communicator *alice_b = join(1, "/ws/chat/lobby/", alice);   /* her second tab, other gateway */
    cx_communicator *bob_b = join(1, "/ws/chat/lobby/", bob);
    cx_communicator *elsewhere = join(1, "/ws/chat/kitchen/", bob);

    say(alice_a, "hello from A");
    assert_heard(alice_a, "hello from A", 1, 1);
    assert_heard(alice_b, "hello from A", 1, 0);
    assert_heard(bob_b, "hello from A", 0, 0);

    say(bob_b, "hello from B");
    assert_heard(alice_a, "hello from B", 0, 0);
    assert_heard(bob_b, "hello from B", 1, 1);
    cx_receive_nothing(elsewhere, 300);
}

Test(scale_gateway_death, killed_gateway_loses_only_its_clients_and_the_broker_forgets_them)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0),
            carol = cx_db_create_user(stack, "carol", 0);
    cx_communicator *doomed = join(0, "/ws/chat/lobby/", alice);
    cx_communicator *b = join(1, "/ws/chat/lobby/", bob);
    cx_communicator *c = join(1, "/ws/chat/lobby/", carol);
    say(b, "before");
    json_decref(heard(doomed, "before"));
    json_decref(heard(b, "before"));
    json_decref(heard(c, "before"));

    cx_stack_kill_gateway(stack, 0, SIGKILL);
    char *removed = cx_stack_log(stack, "broker", "\"role\":\"gateway\",\"why\":\"heartbeat timeout\"", 5000);
    cr_assert_not_null(removed, "the broker did not notice the dead gateway");
    cr_assert(strstr(removed, "\"connections\":1"), "the broker should forget exactly alice's connection");
    free(removed);
    (void) doomed;

    int failed_sends = cx_stack_log_count(stack, "broker", "cannot send to gateway");
    say(b, "after");
    assert_heard(b, "after", 1, 1);
    assert_heard(c, "after", 0, 0);
    say(c, "still here");
    assert_heard(b, "still here", 0, 0);
    assert_heard(c, "still here", 1, 1);
    cr_assert_eq(cx_stack_log_count(stack, "broker", "cannot send to gateway"), failed_sends,
                 "the broker still sends to the dead gateway");

    /* the surviving gateway keeps admitting clients */
    cx_communicator *late = join(1, "/ws/chat/lobby/", alice);
    say(late, "back");
    assert_heard(c, "back", 0, 0);
}

Test(scale, gateway_started_later_gets_the_route_table_and_serves)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a = join(0, "/ws/chat/lobby/", alice);
    cx_stack_start_gateway(stack, 2);
    cr_assert(cx_stack_wait_ready(stack, 2, 10000), "the new gateway never got a route table");
    cx_communicator *b = join(2, "/ws/chat/lobby/", bob);
    say(b, "new gateway here");
    assert_heard(a, "new gateway here", 0, 0);
    assert_heard(b, "new gateway here", 1, 1);
    cx_communicator_disconnect(b);
    cx_stack_kill_gateway(stack, 2, SIGTERM);   /* the stack stops only the gateways it started */
}

#define SPREAD 4

/* A stack is ready once one worker serves; spreading needs both to have registered. */
static void wait_for_workers(int n)
{
    for (int waited = 0; cx_stack_log_count(stack, "broker", "\"worker registered\"") < n; waited += 50) {
        cr_assert_lt(waited, 10000, "only %d of %d workers registered",
                     cx_stack_log_count(stack, "broker", "\"worker registered\""), n);
        usleep(50000);
    }
}

static void open_spread(cx_communicator **c, json_int_t *pid, int64_t user)
{
    wait_for_workers(2);
    for (int i = 0; i < SPREAD; i++) {
        c[i] = join(i % 2, "/ws/dep_probe/", user);
        pid[i] = whoami(c[i]);
    }
}

Test(scale, connections_spread_across_workers_and_stay_pinned)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c[SPREAD];
    json_int_t pid[SPREAD];
    open_spread(c, pid, alice);
    int on_first = 0;
    for (int i = 0; i < SPREAD; i++)
        on_first += pid[i] == pid[0];
    cr_assert_eq(on_first, SPREAD / 2, "least connections should put half the connections on each worker");
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < SPREAD; i++)
            cr_assert_eq(whoami(c[i]), pid[i], "connection %d moved to another worker", i);
}

Test(scale, killed_worker_closes_only_its_connections_with_1011)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c[SPREAD];
    json_int_t pid[SPREAD];
    open_spread(c, pid, alice);
    json_int_t doomed = cx_stack_pid(stack, "worker0");
    cx_stack_kill_worker(stack, 0, SIGKILL);
    int lost = 0;
    for (int i = 0; i < SPREAD; i++) {
        if (pid[i] == doomed) {
            cx_assert_closed(c[i], 1011, 5000);
            lost++;
        } else {
            cr_assert_eq(whoami(c[i]), pid[i], "a connection of the surviving worker was disturbed");
        }
    }
    cr_assert_eq(lost, SPREAD / 2);
    /* new connections go to the survivor */
    cx_communicator *again = join(0, "/ws/dep_probe/", alice);
    cr_assert_neq(whoami(again), doomed);
}
