/*
 * test_crash.c — a plugin that crashes costs the connection whose callback
 * crashed, not the worker: chanx-worker supervises the process that runs
 * the plugins, restarts it, the broker hears of the death at once
 * (WORKER_EXIT), the crashing client gets 1011 "consumer crashed", the
 * other clients keep their sockets (re-pinned: test_repin.c), and the dying
 * process leaves a crash report in the log.
 *
 * tests/plugins/crash_probe crashes on demand (a NULL dereference, abort(),
 * a stack overflow, in a timer, in receive_event, in build_groups on every
 * connect) beside the chat example on one worker; crash_onload crashes in
 * its constructor. Real processes, real sockets.
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"
#include "tests/kit/raw_ws.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CRASH_CLOSE_MS 2000   /* the promise: the crashing client is closed within 2 s */

static cx_stack *stack;

static const char *const *plugins(const char *extra)
{
    static char paths[3][600];
    static const char *files[4];
    snprintf(paths[0], sizeof paths[0], "%s/plugins/chat.so", cx_test_bin());
    snprintf(paths[1], sizeof paths[1], "%s/test-plugins/crash_probe.so", cx_test_bin());
    files[0] = paths[0];
    files[1] = paths[1];
    files[2] = NULL;
    if (extra) {
        snprintf(paths[2], sizeof paths[2], "%s/test-plugins/%s.so", cx_test_bin(), extra);
        files[2] = paths[2];
    }
    files[3] = NULL;
    return files;
}

static void start(const char *extra_plugin)
{
    static const char *env[] = { "CHANX_LOG_LEVEL=info", NULL };
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = plugins(extra_plugin), .env = env, .metrics = 1,
                                                 .api = 1 });
}

static void setup(void) { start(NULL); }
static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(crash, .init = setup, .fini = teardown, .timeout = 90);

static cx_communicator *client(const char *path, int64_t user)
{
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, user));
    cx_assert_authenticated_status_ok(c);
    return c;
}

/* The crash report the worker process logged for callback: one JSON record (owned). */
static json_t *crash_report(const char *callback)
{
    char needle[80];
    snprintf(needle, sizeof needle, "\"callback\":\"%s\"", callback);
    return cx_stack_log_record(stack, "worker0", needle, 10000);
}

static const char *field(const json_t *record, const char *key)
{
    return json_string_value(json_object_get(record, key));
}

/* What the report says: signal, the plugin's deployed file, consumer, callback, action, user, a backtrace
 * with a frame in the plugin named by that file (what addr2line needs), never the private copy. */
static void assert_report(const json_t *r, const char *signal, const char *callback, const char *action,
                          int64_t user)
{
    char *text = json_dumps(r, JSON_COMPACT);
    cr_assert_str_eq(field(r, "event"), "consumer crashed", "%s", text);
    cr_assert_str_eq(field(r, "signal"), signal, "%s", text);
    cr_assert_str_eq(field(r, "callback"), callback, "%s", text);
    cr_assert_str_eq(field(r, "consumer"), "crash_probe.boom", "%s", text);
    const char *file = field(r, "plugin_file");
    cr_assert(file && strstr(file, "crash_probe.so") && !strstr(file, "/proc/"), "%s", text);
    if (action)
        cr_assert_str_eq(field(r, "action"), action, "%s", text);
    cr_assert_eq(json_integer_value(json_object_get(r, "user_id")), user, "%s", text);
    cr_assert_gt(json_integer_value(json_object_get(r, "conn")), 0, "%s", text);
    json_t *bt = json_object_get(r, "backtrace");
    cr_assert(json_array_size(bt) > 0, "%s", text);
    char where[700];
    snprintf(where, sizeof where, "%s+0x", file);
    int in_plugin = 0;
    size_t i;
    json_t *frame;
    json_array_foreach(bt, i, frame)
        in_plugin |= strstr(json_string_value(frame), where) != NULL;
    cr_assert(in_plugin, "no backtrace frame in %s: %s", file, text);
    free(text);
}

/* The worker process that serves after pid died: another one, under the same, living supervisor. */
static void assert_restarted(int old_child, int supervisor)
{
    cr_assert_eq(kill(supervisor, 0), 0, "chanx-worker (the supervisor) died with its worker process");
    int now = 0;
    for (int waited = 0; waited < 10000 && (now = cx_stack_pid(stack, "worker0")) == old_child; waited += 50)
        usleep(50 * 1000);
    cr_assert(now != old_child && now > 0, "the crashed worker process was not replaced");
    cr_assert_eq(cx_parent_pid(now), supervisor, "the new worker process is not the supervisor's");
}

/* Whether the client, connected, answers ping with pong (not failing the test when it was closed). */
static int pongs(cx_communicator *c)
{
    cx_send_message(c, "ping", NULL);
    for (json_t *m; (m = cx_receive_json(c, 5000));) {
        int pong = json_string_value(json_object_get(m, "action")) && strcmp(field(m, "action"), "pong") == 0;
        json_decref(m);
        if (pong)
            return 1;
    }
    return 0;
}

/* path is served again: retried while the process restarts (503, or refused by the broker in the moment
 * before its gateway hears that the process died: "no worker serves this route"). */
static void assert_served_again(const char *path, int64_t user)
{
    for (int tries = 0;; tries++) {
        cx_communicator *c = cx_communicator_when_live(stack, 0, path, cx_db_token_header(stack, user), 10000);
        cr_assert_not_null(c, "%s was not served again after the crash", path);
        if (pongs(c))
            return;
        cr_assert_lt(tries, 20, "%s: not served again (%s)", path, cx_communicator_close_reason(c));
        usleep(50 * 1000);
    }
}

/* The crash on demand; returns the crashing client after asserting its close. */
static void crash_with(const char *action, const char *signal, const char *callback)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *chat = client("/ws/chat/lobby/", alice);
    cx_communicator *boom = client("/ws/crash_probe/boom/", alice);
    int child = cx_stack_pid(stack, "worker0"), supervisor = cx_parent_pid(child);
    cr_assert_neq(supervisor, child);
    if (strcmp(action, "timer") == 0)
        json_decref(cx_request(boom, "timer", NULL, "armed", 5000));
    else
        cx_send_message(boom, action, NULL);
    cx_assert_closed(boom, 1011, CRASH_CLOSE_MS);
    cr_assert_str_eq(cx_communicator_close_reason(boom), "consumer crashed");
    /* The chat client's consumer died with the process, but the client did nothing wrong: it keeps its
     * socket, its consumer starts again on the restarted process (test_repin.c has the details). */
    assert_restarted(child, supervisor);
    cr_assert(pongs(chat), "the chat client beside the crash lost its consumer (%s)", cx_communicator_close_reason(chat));
    assert_served_again("/ws/chat/lobby/", alice);
    assert_served_again("/ws/crash_probe/boom/", alice);
    json_t *r = crash_report(callback);
    assert_report(r, signal, callback, strcmp(action, "timer") ? action : NULL, alice);
    json_decref(r);
    char *log = cx_stack_log(stack, "broker", "worker process killed by a signal", 5000);
    cr_assert_not_null(log, "the broker did not hear of the death from the supervisor");
    cr_assert_null(strstr(log, "heartbeat timeout"), "the broker waited for the heartbeat timeout:\n%s", log);
    free(log);
}

Test(crash, a_null_dereference_in_receive_message_closes_its_client_with_1011_and_the_worker_comes_back)
{
    crash_with("segv", "SIGSEGV", "receive_message");
    char *metrics = cx_stack_metrics(stack, "broker");
    double crashes = cx_metric_value(metrics, "chanx_worker_crashes_total{plugin=\"crash_probe\",consumer=\"boom\"}");
    cr_assert_eq(crashes, 1, "chanx_worker_crashes_total: %f\n%s", crashes, metrics);
    free(metrics);
}

Test(crash, abort_in_receive_message)
{
    crash_with("abort", "SIGABRT", "receive_message");
}

Test(crash, a_stack_overflow_is_reported_too)
{
    crash_with("overflow", "SIGSEGV", "receive_message");
}

Test(crash, a_crash_in_a_timer_callback)
{
    crash_with("timer", "SIGSEGV", "timer");
}

Test(crash, a_crash_in_receive_event)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *chat = client("/ws/chat/lobby/", alice);
    cx_communicator *boom = client("/ws/crash_probe/boom/", alice);
    int child = cx_stack_pid(stack, "worker0"), supervisor = cx_parent_pid(child);
    json_decref(cx_api_publish(stack, "/api/broadcast", "{\"groups\": [\"boom\"], \"event\": {\"action\": \"crash\"}}"));
    cx_assert_closed(boom, 1011, CRASH_CLOSE_MS);
    cr_assert_str_eq(cx_communicator_close_reason(boom), "consumer crashed");
    assert_restarted(child, supervisor);
    cr_assert(pongs(chat), "the chat client beside the crash lost its consumer (%s)", cx_communicator_close_reason(chat));
    assert_served_again("/ws/chat/lobby/", alice);
    assert_served_again("/ws/crash_probe/boom/", alice);
    json_t *r = crash_report("receive_event");
    assert_report(r, "SIGSEGV", "receive_event", "crash", alice);
    json_decref(r);
}

/* A plugin that crashes every connection's build_groups: each connecting client gets 1011, the worker
 * process is restarted each time, later restarts wait longer (no hot loop), and at the third crash the
 * plugin is quarantined: its routes answer 503 naming the quarantine, /healthz lists them, and chat
 * stays served by the next process. */
Test(crash, a_consumer_that_crashes_on_every_connect_backs_off_and_is_quarantined)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    for (int crashes = 0, tries = 0; crashes < 3; tries++) {
        cr_assert_lt(tries, 50, "only %d crashes on connect", crashes);
        cx_communicator *c = cx_communicator_when_live(stack, 0, "/ws/crash_probe/connect/",
                                                       cx_db_token_header(stack, alice), 10000);
        cr_assert_not_null(c, "the route never came back after %d crashes", crashes);
        for (json_t *m; (m = cx_receive_json(c, CRASH_CLOSE_MS));)
            json_decref(m);   /* whatever came before the crash */
        const char *reason = cx_communicator_close_reason(c);
        /* Connecting while the process restarts, before the gateway learnt it: refused, try again. */
        if (strcmp(reason, "no worker serves this route") == 0)
            continue;
        cr_assert_str_eq(reason, "consumer crashed");
        crashes++;
    }
    char *log = cx_stack_log(stack, "worker0", "plugin quarantined", 5000);
    cr_assert_not_null(log, "three crashes within a minute did not quarantine the plugin");
    cr_assert(strstr(log, "restart delayed"), "a worker process that keeps crashing was restarted without delay");
    cr_assert(strstr(log, "\"callback\":\"build_groups\""), "no crash report for build_groups:\n%s", log);
    free(log);
    cx_raw *upgrade = NULL;
    for (int tries = 0; tries < 50; tries++) {   /* the gateway hears of the quarantine a moment later */
        cx_raw_destroy(&upgrade);
        upgrade = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), "/ws/crash_probe/boom/", NULL);
        if (upgrade && cx_raw_status(upgrade) == 503 && strstr(cx_raw_body(upgrade), "quarantined"))
            break;
        usleep(100 * 1000);
    }
    cr_assert(upgrade && cx_raw_status(upgrade) == 503, "the quarantined route answered %d",
              upgrade ? cx_raw_status(upgrade) : 0);
    cr_assert(strstr(cx_raw_body(upgrade), "Consumer crash_probe.boom is quarantined"), "%s", cx_raw_body(upgrade));
    cx_raw_destroy(&upgrade);
    int status = 0;
    char *health = cx_http_get(cx_stack_gateway_port(stack, 0), "/healthz", &status);
    cr_assert(status == 200 && health && strstr(health, "\"status\":\"degraded\"")
              && strstr(health, "\"quarantined\":[") && strstr(health, "\"crash_probe.connect\""), "%d %s", status,
              health);
    free(health);
    /* The broker's gauge says which plugin is quarantined, and that the other is not. */
    char *metrics = cx_stack_metrics(stack, "broker");
    cr_assert_eq(cx_metric_value(metrics, "chanx_plugin_quarantined{plugin=\"crash_probe\"}"), 1, "%s", metrics);
    cr_assert_eq(cx_metric_value(metrics, "chanx_plugin_quarantined{plugin=\"chat\"}"), 0, "%s", metrics);
    free(metrics);
    assert_served_again("/ws/chat/lobby/", alice);
}

/* /healthz names the consumers no live worker serves, while it lasts: a stalled worker process (SIGSTOP:
 * the broker gives up on it after the heartbeat timeout) and back to ok when it resumes. */
Test(crash, healthz_names_the_routes_without_a_live_worker)
{
    int port = cx_stack_gateway_port(stack, 0), status = 0;
    char *body = cx_http_get(port, "/healthz", &status);
    cr_assert(status == 200 && body && strstr(body, "\"status\":\"ok\""), "%d %s", status, body);
    free(body);
    int child = cx_stack_pid(stack, "worker0");
    kill(child, SIGSTOP);
    char *degraded = NULL;
    for (int waited = 0; waited < 10000; waited += 100) {
        body = cx_http_get(port, "/healthz", &status);
        if (body && strstr(body, "\"status\":\"degraded\"")) {
            degraded = body;
            break;
        }
        free(body);
        usleep(100 * 1000);
    }
    kill(child, SIGCONT);
    cr_assert_not_null(degraded, "/healthz never said degraded while the only worker process was stopped");
    cr_assert_eq(status, 200, "the gateway itself is healthy: %s", degraded);
    cr_assert(strstr(degraded, "\"crash_probe.boom\"") && strstr(degraded, "\"chat.chat\""), "%s", degraded);
    free(degraded);
}

/* ----------------------------------------------------------- bad input */

static void setup_bad(void) {}
TestSuite(crash_bad_input, .init = setup_bad, .fini = teardown, .timeout = 90);

/* A constructor that crashes while the worker process loads the plugin: reported as the plugin's "load",
 * restarts back off instead of looping hot, and after CHANX_CRASH_QUARANTINE (3) crashes the plugin is
 * quarantined: the next worker process loads the others and serves them. Deploying a new version of the
 * file lifts the quarantine: the running worker process loads it. */
Test(crash_bad_input, a_plugin_that_crashes_while_loading_is_quarantined_and_a_new_version_lifts_it)
{
    char *folder = cx_plugin_folder_new((const char *const[]) { "plugins/chat.so", "test-plugins/crash_onload.so", NULL });
    static const char *env[] = { "CHANX_LOG_LEVEL=info", NULL };
    stack = cx_stack_start(&(cx_stack_options) { .plugins = folder, .env = env });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *chat = cx_communicator_when_live(stack, 0, "/ws/chat/lobby/", cx_db_token_header(stack, alice), 20000);
    cr_assert_not_null(chat, "the other plugin was never served");
    json_decref(cx_request(chat, "ping", NULL, "pong", 5000));
    char *log = cx_stack_log(stack, "worker0", "plugin quarantined", 5000);
    cr_assert_not_null(log, "the plugin that crashes while loading was not quarantined");
    cr_assert(strstr(log, "\"callback\":\"load\"") && strstr(log, "crash_onload.so\""),
              "the crash report does not name the plugin being loaded:\n%s", log);
    cr_assert(strstr(log, "restart delayed"), "the restarts did not back off:\n%s", log);
    cr_assert(strstr(log, "quarantined: it crashed"), "the worker process did not say why it skipped it:\n%s", log);
    free(log);
    int starts = cx_stack_log_count(stack, "worker0", "\"worker process started\"");
    cr_assert_eq(starts, 4, "3 crashes, then one worker process that stays up: %d started", starts);
    sleep(1);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "\"worker process started\""), starts, "restarts went on");

    cx_plugin_folder_drop(folder, "plugins/echo.so", "crash_onload.so");   /* a new version, which works */
    cx_communicator *fixed = cx_communicator_when_live(stack, 0, "/ws/crash_onload/", cx_db_token_header(stack, alice),
                                                       10000);
    cr_assert_not_null(fixed, "the new version of the quarantined plugin never went live");
    json_decref(cx_request(fixed, "ping", NULL, "pong", 5000));
    cx_plugin_folder_remove(&folder);
}

/* A .so that is not a shared object: refused with a log line naming it; the others are served, and
 * nothing crashes or restarts. */
Test(crash_bad_input, a_file_that_is_not_a_shared_object_is_refused_and_the_rest_served)
{
    char *folder = cx_plugin_folder_new((const char *const[]) { "plugins/chat.so", NULL });
    char junk[700];
    snprintf(junk, sizeof junk, "%s", cx_plugin_folder_write(folder, "junk.so", "this is not an ELF file\n"));
    static const char *env[] = { "CHANX_LOG_LEVEL=info", NULL };
    stack = cx_stack_start(&(cx_stack_options) { .plugins = folder, .env = env });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *chat = client("/ws/chat/lobby/", alice);
    json_decref(cx_request(chat, "ping", NULL, "pong", 5000));
    json_t *record = cx_stack_log_record(stack, "worker0", "refused plugin junk: ", 5000);   /* naming the file */
    cr_assert_str_eq(json_string_value(json_object_get(record, "plugin_file")), junk);
    json_decref(record);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "\"worker process started\""), 1);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "crashed"), 0);
    cx_plugin_folder_remove(&folder);
}

/* ------------------------------------------------- several worker processes */

static void setup_two(void)
{
    static const char *env[] = { "CHANX_WORKER_PROCESSES=2", "CHANX_LOG_LEVEL=info", NULL };
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = plugins(NULL), .env = env });
}
TestSuite(crash_two_processes, .init = setup_two, .fini = teardown, .timeout = 90);

/* With CHANX_WORKER_PROCESSES=2, a crash costs only the connections of the process that crashed: the
 * client served by the other process is never closed and keeps being answered. */
Test(crash_two_processes, a_crash_leaves_the_other_worker_processs_connections_alone)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    for (int waited = 0; cx_stack_log_count(stack, "broker", "\"worker registered\"") < 2; waited += 50) {
        cr_assert_lt(waited, 10000, "the second worker process never registered");
        usleep(50 * 1000);
    }
    /* Least loaded first: two clients land on the two processes. */
    cx_communicator *one = client("/ws/crash_probe/boom/", alice), *two = client("/ws/crash_probe/boom/", alice);
    cx_send_message(one, "segv", NULL);
    cx_assert_closed(one, 1011, CRASH_CLOSE_MS);
    cr_assert_str_eq(cx_communicator_close_reason(one), "consumer crashed");
    for (int i = 0; i < 5; i++)
        json_decref(cx_request(two, "ping", NULL, "pong", 5000));
    cr_assert_eq(cx_stack_log_count(stack, "broker", "worker process died"), 1);
}
