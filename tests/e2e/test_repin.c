/*
 * test_repin.c — a plugin's crash costs its own connection only: every other
 * connection the dead worker process served keeps its socket. Its consumer
 * starts again on a live worker process (the restarted one, or another),
 * says so (chanx_restarted), joins its groups again, and gets the messages
 * its client sent meanwhile once each, in order; its client sees no close and
 * no second authentication message. When no live worker will serve the
 * route (its plugin quarantined, or none back within CHANX_REPIN_TIMEOUT_MS)
 * the connection closes 1011 "worker lost" as before.
 *
 * What the dead process held (messages queued behind a busy consumer, or the
 * one it was handling) is handled once, in order, by the new consumer; the
 * message that crashed boom never runs again. Group messages and events
 * sent while the consumer restarts reach it once.
 *
 * tests/plugins/crash_probe: boom crashes on demand, survivor is the
 * innocent bystander (it reports chanx_restarted in a "started" message),
 * beside the chat example. Real processes, real sockets.
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CRASH_CLOSE_MS 2000   /* the promise: the crashing client is closed within 2 s */
#define DURING_RESTART 20     /* messages a survivor sends while its consumer restarts */

static cx_stack *stack;

/* While this file exists a restarted worker process takes 2 s to load crash_probe (its constructor),
 * so a test that must act inside the restart window (slow_restart) does, however fast the machine. It
 * lives in a private mkdtemp folder: a fixed name in /tmp could be planted by anyone first. */
static char slow_dir[] = "/tmp/chanx-repin-XXXXXX", slow_start[64];

static void start_with(const char *const *env, int api)
{
    static char chat[600], probe[600], slow_env[100];
    snprintf(chat, sizeof chat, "%s/plugins/chat.so", cx_test_bin());
    snprintf(probe, sizeof probe, "%s/test-plugins/crash_probe.so", cx_test_bin());
    cr_assert_not_null(mkdtemp(slow_dir), "cannot make a private folder for the slow-start file");
    snprintf(slow_start, sizeof slow_start, "%s/slow", slow_dir);
    snprintf(slow_env, sizeof slow_env, "CRASH_PROBE_SLOW_START=%s", slow_start);
    static const char *files[3], *all[16];
    files[0] = chat;
    files[1] = probe;
    size_t n = 0;
    for (; env && env[n] && n < 14; n++)
        all[n] = env[n];
    all[n++] = slow_env;
    all[n] = NULL;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .env = all, .api = api });
}

/* The next worker process to start takes 2 s to load crash_probe. */
static void slow_restart(void)
{
    int fd = open(slow_start, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "cannot create %s", slow_start);
    close(fd);
}

static void start(const char *const *env)
{
    start_with(env, 0);
}

static void setup_one(void)
{
    static const char *env[] = { "CHANX_LOG_LEVEL=info", NULL };
    start(env);
}
static void setup_two(void)
{
    static const char *env[] = { "CHANX_WORKER_PROCESSES=2", "CHANX_LOG_LEVEL=info", NULL };
    start(env);
}
static void setup_quarantine_at_once(void)
{
    static const char *env[] = { "CHANX_CRASH_QUARANTINE=1", "CHANX_LOG_LEVEL=info", NULL };
    start(env);
}
static void setup_no_wait(void)
{
    static const char *env[] = { "CHANX_REPIN_TIMEOUT_MS=1", "CHANX_LOG_LEVEL=info", NULL };
    start(env);
}
static void setup_small_hold(void)
{
    static const char *env[] = { "CHANX_REPIN_MAX_MESSAGES=3", "CHANX_LOG_LEVEL=info", NULL };
    start(env);
}

/* Threads to spare: survivors nap on some while boom crashes on another. */
static void setup_threads(void)
{
    static const char *env[] = { "CHANX_WORKER_THREADS=8", "CHANX_LOG_LEVEL=info", NULL };
    start(env);
}
static void setup_api(void)
{
    static const char *env[] = { "CHANX_LOG_LEVEL=info", NULL };
    start_with(env, 1);
}
static void teardown(void)
{
    cx_stack_stop(&stack);
    unlink(slow_start);
    rmdir(slow_dir);
}

TestSuite(repin, .init = setup_one, .fini = teardown, .timeout = 90);
TestSuite(repin_two_processes, .init = setup_two, .fini = teardown, .timeout = 90);
TestSuite(repin_quarantined, .init = setup_quarantine_at_once, .fini = teardown, .timeout = 90);
TestSuite(repin_timeout, .init = setup_no_wait, .fini = teardown, .timeout = 90);
TestSuite(repin_bound, .init = setup_small_hold, .fini = teardown, .timeout = 90);
TestSuite(repin_inflight, .init = setup_threads, .fini = teardown, .timeout = 90);
TestSuite(repin_window, .init = setup_api, .fini = teardown, .timeout = 90);

static const char *action_of(const json_t *m)
{
    return json_string_value(json_object_get(m, "action"));
}

/* The next message: it must be action (else the test fails, showing it); returns its payload (owned). */
static json_t *expect(cx_communicator *c, const char *action)
{
    json_t *m = cx_receive_json(c, 10000);
    cr_assert_not_null(m, "no %s arrived (closed: %s)", action, cx_communicator_close_reason(c));
    char *text = json_dumps(m, JSON_COMPACT);
    cr_assert(action_of(m) && strcmp(action_of(m), action) == 0, "expected %s, got %s", action, text);
    free(text);
    json_t *payload = json_incref(json_object_get(m, "payload"));
    json_decref(m);
    return payload;
}

/* A survivor connected and started, as a fresh connection: chanx_restarted says 0. */
static cx_communicator *survivor(int64_t user)
{
    cx_communicator *c = cx_communicator_new(stack, "/ws/crash_probe/survivor/", cx_db_token_header(stack, user));
    cx_assert_authenticated_status_ok(c);
    json_t *started = expect(c, "started");
    cr_assert(json_is_false(json_object_get(started, "restarted")), "a fresh consumer says it was restarted");
    json_decref(started);
    return c;
}

static cx_communicator *client(const char *path, int64_t user)
{
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, user));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static void send_numbered(cx_communicator *c, const char *action, int n)
{
    json_t *payload = json_pack("{s:i}", "n", n);
    cx_send_message(c, action, payload);
    json_decref(payload);
}

static void expect_numbered(cx_communicator *c, const char *action, int n)
{
    json_t *payload = expect(c, action);
    cr_assert_eq(json_integer_value(json_object_get(payload, "n")), n, "%s %d arrived out of order", action, n);
    json_decref(payload);
}

/* boom's consumer crashes its worker process: its own client is closed 1011 "consumer crashed" within 2 s. */
static void crash(int64_t user)
{
    cx_communicator *boom = client("/ws/crash_probe/boom/", user);
    cx_send_message(boom, "segv", NULL);
    cx_assert_closed(boom, 1011, CRASH_CLOSE_MS);
    cr_assert_str_eq(cx_communicator_close_reason(boom), "consumer crashed");
}

/* What a survivor gets after the crash, having sent echoes meanwhile: when its consumer was on the dead
 * process, "started" with restarted true first (post_authentication, no second authentication message),
 * then its echoes, each once and in order; otherwise just its echoes. Returns whether it was re-pinned. */
static int expect_after_crash(cx_communicator *c, int echoes)
{
    json_t *m = cx_receive_json(c, 10000);
    cr_assert_not_null(m, "nothing arrived after the crash (closed: %s)", cx_communicator_close_reason(c));
    int restarted = action_of(m) && strcmp(action_of(m), "started") == 0;
    if (restarted)
        cr_assert(json_is_true(json_object_get(json_object_get(m, "payload"), "restarted")),
                  "the new consumer cannot tell it was restarted");
    else
        cr_assert(echoes > 0 && json_integer_value(json_object_get(json_object_get(m, "payload"), "n")) == 1,
                  "a survivor got %s first", action_of(m));
    json_decref(m);
    for (int i = restarted ? 1 : 2; i <= echoes; i++)
        expect_numbered(c, "echoed", i);
    return restarted;
}

#define SURVIVORS 4

/* Survivors of two users, a chat client, then boom's crash: returns how many survivors were re-pinned
 * (their process died), having checked what each saw. */
static int innocent_connections_keep_their_socket(void)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *s[SURVIVORS];
    for (int i = 0; i < SURVIVORS; i++)
        s[i] = survivor(i % 2 ? bob : alice);
    cx_communicator *chat = client("/ws/chat/lobby/", alice);
    crash(alice);
    for (int n = 1; n <= DURING_RESTART; n++)   /* while the worker process restarts */
        for (int i = 0; i < SURVIVORS; i++)
            send_numbered(s[i], "echo", n);
    int repinned = 0;
    for (int i = 0; i < SURVIVORS; i++)
        repinned += expect_after_crash(s[i], DURING_RESTART);
    /* They joined "survivors" again (build_groups): a group message after the re-pin reaches them all. */
    send_numbered(s[0], "say", 42);
    for (int i = 0; i < SURVIVORS; i++)
        expect_numbered(s[i], "said", 42);
    json_decref(cx_request(chat, "ping", NULL, "pong", 5000));
    for (int i = 0; i < SURVIVORS; i++) {
        cx_receive_nothing(s[i], 100);   /* nothing twice */
        cr_assert(cx_communicator_connected(s[i]), "survivor %d was closed", i);
    }
    cr_assert(cx_communicator_connected(chat));
    survivor(alice);   /* a fresh connection now: restarted false (survivor asserts it) */
    return repinned;
}

Test(repin, innocent_connections_keep_their_socket_and_their_messages_while_the_worker_process_restarts)
{
    cr_assert_eq(innocent_connections_keep_their_socket(), SURVIVORS, "one process: every survivor was on it");
    char *log = cx_stack_log(stack, "broker", "connection re-pinned", 5000);
    cr_assert_not_null(log, "the broker did not log the re-pin");
    free(log);
}

Test(repin_two_processes, innocent_connections_move_to_a_live_worker_process)
{
    for (int waited = 0; cx_stack_log_count(stack, "broker", "\"worker registered\"") < 2; waited += 50) {
        cr_assert_lt(waited, 10000, "the second worker process never registered");
        usleep(50 * 1000);
    }
    /* Least loaded: the survivors alternate between the two processes, so boom's had some of them, which
     * move to the live one at once. */
    cr_assert_gt(innocent_connections_keep_their_socket(), 0, "no survivor was on the crashed process");
}

/* The crash quarantines the plugin at once (CHANX_CRASH_QUARANTINE=1): no worker will serve the survivor's
 * route, so it closes 1011 "worker lost" as before; the chat client, of another plugin, stays. */
Test(repin_quarantined, a_connection_whose_route_has_no_live_worker_closes_1011_worker_lost)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *bystander = survivor(alice);
    cx_communicator *chat = client("/ws/chat/lobby/", alice);
    crash(alice);
    cx_assert_closed(bystander, 1011, 5000);
    cr_assert_str_eq(cx_communicator_close_reason(bystander), "worker lost");
    cx_receive_nothing(chat, 200);
    json_decref(cx_request(chat, "ping", NULL, "pong", 10000));
}

/* No worker serves the route within CHANX_REPIN_TIMEOUT_MS (1 ms, and the restarted process takes 2 s to
 * load: slow_restart): closed 1011 "worker lost", never left waiting. */
Test(repin_timeout, a_connection_not_served_again_in_time_closes_1011_worker_lost)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *bystander = survivor(alice);
    /* The restarted process may say REGISTER before the broker hears of the crash, and the gateway's
     * CONNECT come back within the millisecond: without a slow start that is a re-pin in time. */
    slow_restart();
    crash(alice);
    cx_assert_closed(bystander, 1011, 5000);
    cr_assert_str_eq(cx_communicator_close_reason(bystander), "worker lost");
}

/* More messages than CHANX_REPIN_MAX_MESSAGES (3) while the consumer restarts: the client is closed 1013
 * (try again later) rather than held without bound; its first messages are not delivered out of order. */
Test(repin_bound, a_client_that_sends_past_the_bound_while_its_consumer_restarts_is_closed_1013)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *flood = survivor(alice), *calm = survivor(alice);
    slow_restart();   /* the sends land in the hold, however fast the machine */
    crash(alice);
    for (int i = 1; i <= 4; i++)   /* one past the bound: the close can only follow the last send */
        send_numbered(flood, "echo", i);
    /* 1013 on the wire; the kit's libwebsockets 4.1 client reads 1013 as 1002 (see test_actors.c): the
     * reason tells it apart. */
    cx_assert_closed(flood, 1002, 10000);
    cr_assert_str_eq(cx_communicator_close_reason(flood), "consumer restarting");
    send_numbered(calm, "echo", 1);
    cr_assert(expect_after_crash(calm, 1));
}

#define NAPPERS 3
#define QUEUED 5   /* echoes each napper's client sends while its consumer naps: queued in the process */

/* Several survivors' consumers are busy (a nap) with echoes queued behind them in their mailboxes when
 * boom crashes the process: each new consumer handles the nap and every echo once, in order, after its
 * start; boom's segv is not delivered again (the new process does not die). */
Test(repin_inflight, messages_inside_the_dead_process_are_handled_once_in_order_by_the_new_consumer)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *s[NAPPERS];
    for (int i = 0; i < NAPPERS; i++) {
        s[i] = survivor(alice);
        json_t *nap = json_pack("{s:i, s:i}", "ms", 1500, "n", 100 + i);
        cx_send_message(s[i], "nap", nap);
        json_decref(nap);
        json_decref(expect(s[i], "napping"));   /* its consumer sleeps: what follows queues in the process */
        for (int n = 1; n <= QUEUED; n++)
            send_numbered(s[i], "echo", n);
    }
    usleep(300 * 1000);   /* the echoes reach the process (the broker forwards at once) */
    crash(alice);
    for (int i = 0; i < NAPPERS; i++) {
        json_t *started = expect(s[i], "started");
        cr_assert(json_is_true(json_object_get(started, "restarted")));
        json_decref(started);
        json_t *p = expect(s[i], "napping");   /* the message the dead consumer was handling: once more */
        cr_assert_eq(json_integer_value(json_object_get(p, "n")), 100 + i);
        json_decref(p);
        json_decref(expect(s[i], "napped"));
        for (int n = 1; n <= QUEUED; n++)
            expect_numbered(s[i], "echoed", n);
    }
    for (int i = 0; i < NAPPERS; i++) {
        cx_receive_nothing(s[i], 100);   /* nothing twice */
        cr_assert(cx_communicator_connected(s[i]), "survivor %d was closed", i);
    }
    cr_assert_eq(cx_stack_log_count(stack, "broker", "\"worker process died\""), 1,
                 "the crashing message was delivered again and crashed the new process");
}

/* While its consumer restarts, a group message (a passthrough event to its group, which the gateway
 * delivers), a group event for receive_event, and an /api/send event to its user reach the re-pinned
 * connection, each once; the events after its start, in the order they were published. */
Test(repin_window, group_messages_and_events_during_the_restart_reach_the_connection_once)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *moving = survivor(bob);
    slow_restart();   /* the publishes land inside the restart window, however fast the machine */
    crash(alice);
    json_decref(cx_api_publish(stack, "/api/broadcast",
                               "{\"groups\": [\"survivors\"], \"event\": {\"action\": \"notice\", \"payload\": {\"n\": 1}}}"));
    json_decref(cx_api_publish(stack, "/api/broadcast",
                               "{\"groups\": [\"survivors\"], \"event\": {\"action\": \"poke\", \"payload\": {\"n\": 2}}}"));
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"user_id\": %lld, \"event\": {\"action\": \"poke\", \"payload\": {\"n\": 3}}}",
                               (long long) bob));
    /* The three were published inside the window (the new process takes 2 s to load): otherwise this
     * test would not show what it claims. */
    cr_assert_eq(cx_stack_log_count(stack, "broker", "connection re-pinned"), 0, "the re-pin came before the events");
    /* notice whenever (the gateway delivers it), started, then the two pokes in order: four, once each */
    int notices = 0, started = 0, pokes = 0;
    for (int i = 0; i < 4; i++) {
        json_t *m = cx_receive_json(moving, 10000);
        cr_assert_not_null(m, "only %d of 4 arrived (closed: %s)", i, cx_communicator_close_reason(moving));
        const char *action = action_of(m) ? action_of(m) : "";
        json_int_t n = json_integer_value(json_object_get(json_object_get(m, "payload"), "n"));
        if (strcmp(action, "notice") == 0) {
            notices++;
        } else if (strcmp(action, "started") == 0) {
            started++;
        } else {
            cr_assert_str_eq(action, "poked");
            cr_assert(started, "an event reached the consumer before its start");
            cr_assert_eq(n, 2 + pokes, "event %d arrived out of order", (int) n);
            pokes++;
        }
        json_decref(m);
    }
    cr_assert_eq(notices, 1, "the group message arrived %d times", notices);
    cr_assert_eq(started, 1);
    cr_assert_eq(pokes, 2);
    cx_receive_nothing(moving, 300);   /* nothing twice */
    cr_assert(cx_communicator_connected(moving));
}
