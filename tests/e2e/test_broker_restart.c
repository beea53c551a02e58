/*
 * A broker restart is invisible to clients (issue #15): the broker is the
 * one process every message crosses, and it keeps its state only in memory,
 * but every fact of that state also lives at the edge. When it is SIGKILLed
 * and started again (or a standby takes over), gateways and workers redial,
 * introduce themselves and re-announce the connections they hold and their
 * groups (broker/rebuild.c); the broker pins them again and rebuilds group
 * membership and routes. These tests hold 100 clients in 10 rooms across 2
 * gateways and 2 workers and check that every client stays connected and
 * keeps chatting, and that nothing sent after the restart is lost: every
 * message of every client reaches every member of its room. A connection
 * whose worker died while the broker was away is closed with 1011.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CLIENTS 100
#define ROOMS 10
#define USERS 10

static cx_stack *stack;
static cx_communicator *clients[CLIENTS];
static int64_t users[USERS];

static void start(int standby)
{
    static const char *env[2];   /* the stack keeps the pointer: restarted processes read it */
    env[0] = getenv("CHANX_TEST_LOG_LEVEL") ? getenv("CHANX_TEST_LOG_LEVEL") : "CHANX_LOG_LEVEL=warning";
    stack = cx_stack_start(&(cx_stack_options) { .gateways = 2, .workers = 2, .env = env, .standby_broker = standby });
}
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(broker_restart, .fini = teardown, .timeout = 120);

/* The stack's plugin list: one test plugin of the build (static: one stack per test process). */
static const char *const *test_plugin(const char *name)
{
    static char path[600];
    static const char *files[2];
    snprintf(path, sizeof path, "%s/test-plugins/%s.so", cx_test_bin(), name);
    files[0] = path;
    return files;
}

static void connect_everyone(void)
{
    char name[32], path[64];
    for (int u = 0; u < USERS; u++) {
        snprintf(name, sizeof name, "user%d", u);
        users[u] = cx_db_create_user(stack, name, 0);
    }
    for (int i = 0; i < CLIENTS; i++) {
        snprintf(path, sizeof path, "/ws/chat/room%d/", i % ROOMS);
        clients[i] = cx_communicator_on(stack, i % 2, path, cx_db_token_header(stack, users[i % USERS]));
        cr_assert(cx_communicator_connected(clients[i]), "client %d not connected", i);
        cx_assert_authenticated_status_ok(clients[i]);
    }
}

/* Every client says "<tag> <i>" in its room; every client must hear the CLIENTS / ROOMS messages of its
 * room with that tag (its own included), and no close. */
static void chat_round(const char *tag)
{
    char text[64];
    for (int i = 0; i < CLIENTS; i++) {
        snprintf(text, sizeof text, "%s %d", tag, i);
        json_t *payload = json_pack("{s:s}", "message", text);
        cx_send_message(clients[i], "chat", payload);
        json_decref(payload);
    }
    for (int i = 0; i < CLIENTS; i++) {
        int heard[CLIENTS] = { 0 }, count = 0;
        while (count < CLIENTS / ROOMS) {
            json_t *m = cx_receive_json(clients[i], 15000);
            cr_assert_not_null(m, "client %d heard %d of the %d '%s' messages of its room", i, count, CLIENTS / ROOMS,
                               tag);
            const char *said = json_string_value(json_object_get(json_object_get(m, "payload"), "message"));
            int from = -1;
            char got[32];
            if (said && sscanf(said, "%31s %d", got, &from) == 2 && strcmp(got, tag) == 0 && from >= 0
                && from < CLIENTS) {
                cr_assert_eq(from % ROOMS, i % ROOMS, "client %d heard client %d of another room", i, from);
                cr_assert_eq(heard[from], 0, "client %d heard client %d twice", i, from);
                heard[from] = 1;
                count++;
            }
            json_decref(m);
        }
    }
}

static void ping_everyone(void)
{
    for (int i = 0; i < CLIENTS; i++)
        json_decref(cx_request(clients[i], "ping", NULL, "pong", 5000));
}

Test(broker_restart, a_sigkilled_and_restarted_broker_is_invisible_to_100_clients_in_rooms)
{
    start(0);
    connect_everyone();
    chat_round("before");

    cx_stack_kill_broker(stack, SIGKILL);
    cx_stack_start_broker(stack);
    char *log = cx_stack_log(stack, "broker", "state rebuilt", 20000);
    cr_assert_not_null(log, "the restarted broker did not rebuild its state");
    cr_assert(strstr(log, "\"connections\":100"), "not every connection was rebuilt:\n%s", log);
    free(log);

    chat_round("after");
    chat_round("again");
    ping_everyone();
    /* and a client that arrives now is served as before */
    cx_communicator *late = cx_communicator_when_live(stack, 1, "/ws/chat/room0/", cx_db_token_header(stack, users[0]), 10000);
    cr_assert_not_null(late);
    json_decref(cx_request(late, "ping", NULL, "pong", 5000));
}

/* A client of the cons_probe consumer, which counts its messages in its state: counted twice. */
static cx_communicator *counted_twice(void)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/cons_probe/strict/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    json_decref(cx_request(c, "count", NULL, "count", 5000));
    json_decref(cx_request(c, "count", NULL, "count", 5000));
    return c;
}

/* Starts the broker again once the old one is gone; the client's third count (owned) must say 3. */
static json_t *third_count_after_restart(cx_communicator *c)
{
    cx_stack_start_broker(stack);
    free(cx_stack_log(stack, "broker", "state rebuilt", 20000));
    json_t *third = cx_request(c, "count", NULL, "count", 10000);
    cr_assert_eq(json_integer_value(json_object_get(third, "count")), 3, "the consumer's state was lost");
    return third;
}

/* With plain links too (loopback, no keys): the one stack of the suite that runs without CURVE. */
Test(broker_restart, a_consumers_state_survives_a_broker_restart)
{
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = test_plugin("cons_probe"), .plain_links = 1 });
    cr_assert_null(cx_stack_keys_dir(stack));
    cx_communicator *c = counted_twice();
    cx_stack_kill_broker(stack, SIGKILL);
    json_t *third = third_count_after_restart(c);
    cr_assert_str_eq(json_string_value(json_object_get(third, "history")), "abc");
    json_decref(third);
}

/* A broker stopped on purpose (SIGTERM: a redeploy) while its clients are mid-conversation, with RECEIVEs
 * kept for a worker crash, exits on its own and frees what those live connections held (the sanitizer
 * build fails on a leak at exit); the next broker takes over as after a crash. */
Test(broker_restart, a_broker_stopped_with_clients_mid_conversation_exits_cleanly_and_is_replaced)
{
    static const char *env[] = { "CHANX_LOG_LEVEL=info", NULL };   /* for "broker stopped" */
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = test_plugin("cons_probe"), .env = env });
    cx_communicator *c = counted_twice();
    cx_stack_kill_broker(stack, SIGTERM);
    char *stopped = cx_stack_log(stack, "broker", "broker stopped", 5000);
    cr_assert_not_null(stopped, "the broker did not stop on SIGTERM with a client connected");
    free(stopped);
    json_decref(third_count_after_restart(c));
}

Test(broker_restart, messages_sent_while_the_broker_is_down_arrive_once_it_is_back)
{
    start(0);
    connect_everyone();
    cx_stack_kill_broker(stack, SIGKILL);
    usleep(300 * 1000);
    char text[32];
    for (int i = 0; i < ROOMS; i++) {   /* one speaker per room, into the void */
        snprintf(text, sizeof text, "gap %d", i);
        json_t *payload = json_pack("{s:s}", "message", text);
        cx_send_message(clients[i], "chat", payload);
        json_decref(payload);
    }
    cx_stack_start_broker(stack);
    for (int i = 0; i < CLIENTS; i++) {
        json_t *m = cx_receive_until_action(clients[i], "chat", 20000);
        cr_assert_not_null(m, "client %d never got its room's message sent during the gap", i);
        json_decref(m);
    }
    chat_round("after");
}

/* A stack whose two workers serve dep_probe, which tells a client its worker's pid, and one client on
 * each worker (least connections spreads them, but only once both workers have registered). */
static void start_two_workers(cx_communicator *on[2])
{
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = test_plugin("dep_probe"), .workers = 2 });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    on[0] = on[1] = NULL;
    for (int tries = 0; tries < 40 && !(on[0] && on[1]); tries++) {
        cx_communicator *c = cx_communicator_new(stack, "/ws/dep_probe/", cx_db_token_header(stack, alice));
        cx_assert_authenticated_status_ok(c);
        json_t *me = cx_request(c, "whoami", NULL, "whoami", 5000);
        int pid = (int) json_integer_value(json_object_get(me, "pid"));
        json_decref(me);
        int w = pid == cx_stack_pid(stack, "worker0") ? 0 : pid == cx_stack_pid(stack, "worker1") ? 1 : -1;
        cr_assert(w >= 0, "served by pid %d, no worker of the stack", pid);
        if (!on[w])
            on[w] = c;
        else
            usleep(50 * 1000);   /* the other worker has not registered yet */
    }
    cr_assert(on[0] && on[1], "no client landed on each worker");
}

static int served(cx_communicator *c)
{
    json_t *me = cx_request(c, "whoami", NULL, "whoami", 5000);
    int ok = me != NULL;
    json_decref(me);
    return ok;
}

Test(broker_restart, a_connection_whose_worker_died_meanwhile_is_closed_with_1011)
{
    cx_communicator *on[2];
    start_two_workers(on);
    cx_stack_kill_broker(stack, SIGKILL);
    cx_stack_kill_worker(stack, 0, SIGKILL);
    cx_stack_start_broker(stack);
    free(cx_stack_log(stack, "broker", "state rebuilt", 20000));
    cx_assert_closed(on[0], 1011, 5000);   /* its consumer died with the worker: the client can reconnect */
    cr_assert(served(on[1]), "the other worker's client was not served after the restart");
}

/* One speaker per room says "<tag> <room>"; every client must hear its room's. */
static void speak_in_every_room(const char *tag)
{
    char text[32];
    for (int i = 0; i < ROOMS; i++) {
        snprintf(text, sizeof text, "%s %d", tag, i);
        json_t *payload = json_pack("{s:s}", "message", text);
        cx_send_message(clients[i], "chat", payload);
        json_decref(payload);
    }
}

static void everyone_hears_their_room(const char *tag)
{
    for (int i = 0; i < CLIENTS; i++) {
        json_t *m = cx_receive_until_action(clients[i], "chat", 20000);
        cr_assert_not_null(m, "client %d never got its room's '%s' message", i, tag);
        char expected[32];
        snprintf(expected, sizeof expected, "%s %d", tag, i % ROOMS);
        const char *said = json_string_value(json_object_get(json_object_get(m, "payload"), "message"));
        cr_assert(said && strcmp(said, expected) == 0, "client %d heard '%s', expected '%s'", i, said, expected);
        json_decref(m);
    }
}

Test(broker_restart, a_standby_broker_takes_over_invisibly_when_the_primary_dies)
{
    start(1);
    connect_everyone();
    chat_round("before");
    cx_stack_kill_broker(stack, SIGKILL);   /* for good: the standby must take over */
    usleep(100 * 1000);
    speak_in_every_room("gap");             /* while nobody routes: kept by the links, delivered by the standby */
    char *log = cx_stack_log(stack, "standby", "state rebuilt", 20000);
    cr_assert_not_null(log, "the standby did not take over");
    cr_assert(strstr(log, "\"connections\":100"), "not every connection was rebuilt:\n%s", log);
    free(log);
    everyone_hears_their_room("gap");
    chat_round("after");
    ping_everyone();
}

Test(broker_restart, a_worker_declared_dead_that_comes_back_does_not_pause_everyone)
{
    cx_communicator *on[2];
    start_two_workers(on);
    pid_t worker = cx_stack_pid(stack, "worker0");
    kill(worker, SIGSTOP);   /* silent past the heartbeat timeout: the broker declares it dead */
    char *log = cx_stack_log(stack, "broker", "heartbeat timeout", 10000);
    cr_assert_not_null(log, "the stalled worker was not declared dead");
    free(log);
    kill(worker, SIGCONT);   /* it comes back and re-announces connections the broker already ended */
    usleep(1500 * 1000);
    log = cx_stack_log(stack, "broker", NULL, 0);
    cr_assert_null(strstr(log, "rebuilding state"), "a returning worker paused traffic for a rebuild:\n%s", log);
    free(log);
    cx_assert_closed(on[0], 1011, 5000);   /* closed when its worker was declared dead */
    cr_assert(served(on[1]), "the other worker's client is not served");
}

/* Found by the soak: a client that connected in the moments around a broker restart (its gateway still
 * had its route table) was refused with 1013 "no worker serves this route" when its CONNECT reached the
 * new broker before any worker had re-announced its routes. Now it waits for the rebuild window like
 * the rest. The worker is held stopped (SIGSTOP) across the restart so that its re-announcement is
 * surely late; the new client connects right after the kill, before its gateway notices (the kit's
 * heartbeat timeout), so its CONNECT waits in the gateway's link for the new broker. */
Test(broker_restart, a_client_connecting_before_the_workers_re_announce_waits_instead_of_1013)
{
    static const char *env[] = { "CHANX_LOG_LEVEL=warning", NULL };
    stack = cx_stack_start(&(cx_stack_options) { .env = env });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cr_assert(cx_stack_wait_ready(stack, 0, 10000), "the stack never became ready");
    cx_communicator *old = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(old);   /* the gateway has a connection to re-announce */
    int worker = cx_stack_pid(stack, "worker0");
    cr_assert(worker > 0);
    kill(worker, SIGSTOP);
    cx_stack_kill_broker(stack, SIGKILL);
    cx_communicator *fresh = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cr_assert(cx_communicator_connected(fresh), "the gateway refused the upgrade before noticing the broker was gone");
    cx_stack_start_broker(stack);
    char *line = cx_stack_log(stack, "gateway0", "re-announced", 10000);
    cr_assert_not_null(line, "the gateway never re-announced its connections to the new broker");
    free(line);
    usleep(300 * 1000);
    kill(worker, SIGCONT);
    cx_assert_authenticated_status_ok(fresh);
    json_t *payload = json_pack("{s:s}", "message", "made it");
    cx_send_message(fresh, "chat", payload);
    json_decref(payload);
    json_t *m = cx_receive_until_action(old, "chat", 10000);
    cr_assert_not_null(m, "the earlier client never heard the new one");
    json_decref(m);
}

/* A GROUP_ADD the broker had read but not forwarded when it died: the gateway never mirrored the
 * membership, so its RESUME lacks it, and only the worker (where the consumer joined) knows. Made
 * deterministic with signals: the worker is stopped while the broker hands it "join", the broker is
 * stopped before the worker answers, so the worker's GROUP_ADD lands in the stopped broker's socket
 * buffer and dies with it. The restarted broker must still learn the membership (the worker's RESUME
 * carries its groups) and the client must get the group's messages. */
Test(broker_restart, a_group_join_the_dead_broker_never_forwarded_is_not_lost)
{
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = test_plugin("cons_groups"), .workers = 1 });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *joiner = cx_communicator_new(stack, "/ws/cons_groups/a/", cx_db_token_header(stack, alice));
    cx_communicator *speaker = cx_communicator_new(stack, "/ws/cons_groups/b/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(joiner);
    cx_assert_authenticated_status_ok(speaker);
    pid_t worker = cx_stack_pid(stack, "worker0"), broker = cx_stack_pid(stack, "broker");
    kill(worker, SIGSTOP);   /* under the heartbeat timeout (800 ms): nobody is declared dead */
    json_t *join = json_pack("{s:s}", "group", "late");
    cx_send_message(joiner, "join", join);
    json_decref(join);
    usleep(300 * 1000);      /* the broker forwards RECEIVE "join" to the stopped worker */
    kill(broker, SIGSTOP);
    kill(worker, SIGCONT);   /* the consumer joins "late": GROUP_ADD goes into the stopped broker's buffer */
    usleep(300 * 1000);
    cx_stack_kill_broker(stack, SIGKILL);   /* and is lost with it */
    cx_stack_start_broker(stack);
    char *log = cx_stack_log(stack, "broker", "state rebuilt", 20000);
    cr_assert_not_null(log, "the broker did not rebuild its state");
    free(log);
    json_t *hello = json_pack("{s:s, s:s}", "group", "late", "text", "hello late");
    cx_send_message(speaker, "to", hello);
    json_decref(hello);
    json_t *m = cx_receive_until_action(joiner, "to", 10000);
    cr_assert_not_null(m, "the membership joined while the broker died was lost");
    json_decref(m);
}
