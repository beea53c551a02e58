/*
 * test_isolation.c — CHANX_ISOLATE=plugin: each plugin file runs in worker
 * processes of its own, so a crash in one plugin never touches another
 * plugin's connections, not even for a moment.
 *
 * What a user relies on, through real processes and sockets: each plugin's
 * process loads only its plugin; a crash closes only the crashing client
 * while the chat clients beside it keep their sockets and their process; a
 * plugin file dropped into the folder gets its own process, a removed one's
 * process stops; hot reload stays inside the plugin's own process;
 * quarantine stops only the crashing plugin's processes (the broker's
 * chanx_plugin_quarantined gauge says which), a new version lifts it; a
 * plugin that crashes while loading and a .so that is not a shared object
 * cost the other plugins nothing. The default (shared processes) is what
 * tests/e2e/test_crash.c shows.
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CRASH_CLOSE_MS 2000
#define MAX_CHILDREN 16

static cx_stack *stack;
static char *folder;

static void start_with(const char *const *plugins)
{
    static const char *env[] = { "CHANX_ISOLATE=plugin", "CHANX_LOG_LEVEL=info", NULL };
    folder = cx_plugin_folder_new(plugins);
    stack = cx_stack_start(&(cx_stack_options) { .plugins = folder, .env = env, .metrics = 1 });
}

static void setup(void)
{
    start_with((const char *const[]) { "plugins/chat.so", "test-plugins/crash_probe.so", NULL });
}
static void setup_none(void) {}
static void teardown(void)
{
    cx_stack_stop(&stack);
    cx_plugin_folder_remove(&folder);
}
TestSuite(isolate, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(isolate_bad_input, .init = setup_none, .fini = teardown, .timeout = 120);
TestSuite(isolate_routing, .init = setup_none, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------- helpers */

/* The supervisor: chanx-worker, the parent of its worker processes. */
static int supervisor(void)
{
    int child = cx_stack_pid(stack, "worker0");
    return cx_parent_pid(child);
}

/* The supervisor's living worker processes; returns how many. */
static int children(int *pids)
{
    char path[64];
    int sup = supervisor(), n = 0;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", sup, sup);
    FILE *f = fopen(path, "r");
    while (f && n < MAX_CHILDREN && fscanf(f, "%d", &pids[n]) == 1)
        n++;
    if (f)
        fclose(f);
    return n;
}

/* The plugin file a worker process was told to load alone (--only), into out ("" when none). */
static void only_of(int pid, char *out, size_t len)
{
    char path[64], args[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(args, 1, sizeof args - 1, f) : 0;
    if (f)
        fclose(f);
    args[n] = '\0';
    out[0] = '\0';
    for (const char *a = args; a < args + n; a += strlen(a) + 1)
        if (strcmp(a, "--only") == 0 && a + strlen(a) + 1 < args + n)
            snprintf(out, len, "%s", a + strlen(a) + 1);
}

/* The worker process serving file ("chat.so"), waiting up to 10 s for one; 0 when none came. */
static int process_of(const char *file)
{
    for (int waited = 0; waited < 10000; waited += 50) {
        int pids[MAX_CHILDREN], n = children(pids);
        for (int i = 0; i < n; i++) {
            char only[256];
            only_of(pids[i], only, sizeof only);
            if (strcmp(only, file) == 0)
                return pids[i];
        }
        usleep(50 * 1000);
    }
    return 0;
}

/* Waits up to 10 s for the supervisor to have want worker processes. */
static void assert_children(int want)
{
    int pids[MAX_CHILDREN], n = 0;
    for (int waited = 0; waited < 10000 && (n = children(pids)) != want; waited += 50)
        usleep(50 * 1000);
    cr_assert_eq(n, want, "the supervisor runs %d worker processes, not %d", n, want);
}

/* Whether pid's memory maps a file whose name contains needle (a plugin's private copy keeps its name). */
static int maps_contain(int pid, const char *needle)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}

static cx_communicator *client(const char *path, int64_t user)
{
    cx_communicator *c = cx_communicator_when_live(stack, 0, path, cx_db_token_header(stack, user), 10000);
    cr_assert_not_null(c, "%s was never served", path);
    cx_assert_authenticated_status_ok(c);
    return c;
}

static void assert_answers(cx_communicator *c, int times)
{
    for (int i = 0; i < times; i++)
        json_decref(cx_request(c, "ping", NULL, "pong", 5000));
}

/* path is served again, retried while its process restarts. */
static void assert_served_again(const char *path, int64_t user)
{
    for (int tries = 0;; tries++) {
        cx_communicator *c = cx_communicator_when_live(stack, 0, path, cx_db_token_header(stack, user), 10000);
        cr_assert_not_null(c, "%s was not served again", path);
        cx_send_message(c, "ping", NULL);
        int pong = 0;
        for (json_t *m; !pong && (m = cx_receive_json(c, 5000)); json_decref(m))
            pong = json_string_value(json_object_get(m, "action"))
                   && strcmp(json_string_value(json_object_get(m, "action")), "pong") == 0;
        if (pong)
            return;
        cr_assert_lt(tries, 20, "%s: not served again (%s)", path, cx_communicator_close_reason(c));
        usleep(50 * 1000);
    }
}

/* The broker's gauge for plugin, waiting up to 5 s for it to read want. */
static void assert_quarantine_gauge(const char *plugin, double want)
{
    char series[200];
    snprintf(series, sizeof series, "chanx_plugin_quarantined{plugin=\"%s\"}", plugin);
    double got = -1;
    for (int waited = 0; waited < 5000; waited += 100) {
        char *metrics = cx_stack_metrics(stack, "broker");
        got = cx_metric_value(metrics, series);
        free(metrics);
        if (got == want)
            return;
        usleep(100 * 1000);
    }
    cr_assert_fail("%s is %f, not %f", series, got, want);
}

/* Connects to crash_probe's connect route until it has crashed `crashes` times (each a 1011). */
static void crash_on_connect(int64_t user, int crashes)
{
    for (int done = 0, tries = 0; done < crashes; tries++) {
        cr_assert_lt(tries, 60, "only %d crashes on connect", done);
        cx_communicator *c = cx_communicator_when_live(stack, 0, "/ws/crash_probe/connect/",
                                                       cx_db_token_header(stack, user), 40000);
        cr_assert_not_null(c, "the route never came back after %d crashes", done);
        for (json_t *m; (m = cx_receive_json(c, CRASH_CLOSE_MS));)
            json_decref(m);
        if (strcmp(cx_communicator_close_reason(c), "consumer crashed") == 0)
            done++;
    }
}

/* ------------------------------------------------------------ behaviour */

/* Each plugin file gets its own worker process, which loads that plugin and no other. */
Test(isolate, each_plugin_runs_in_a_worker_process_of_its_own)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);   /* served: both processes have loaded */
    assert_answers(client("/ws/chat/lobby/", alice), 1);
    assert_answers(client("/ws/crash_probe/boom/", alice), 1);
    assert_children(2);
    int chat = process_of("chat.so"), crash = process_of("crash_probe.so");
    cr_assert(chat > 0 && crash > 0 && chat != crash, "chat %d, crash_probe %d", chat, crash);
    cr_assert(maps_contain(chat, "chat") && !maps_contain(chat, "crash_probe"),
              "the chat process maps crash_probe's code");
    cr_assert(maps_contain(crash, "crash_probe") && !maps_contain(crash, "chat"),
              "the crash_probe process maps chat's code");
    /* Each registered only its own routes: two registrations, neither with every route. */
    char *log = cx_stack_log(stack, "broker", "\"worker registered\"", 5000);
    cr_assert_not_null(log);
    free(log);
    cr_assert_eq(cx_stack_log_count(stack, "broker", "\"worker registered\""), 2);
}

/* A crash in one plugin closes only its own client: the chat clients keep their sockets and their
 * process, and are answered throughout; the crashed plugin is served again by a new process. */
Test(isolate, a_crash_never_touches_another_plugins_connections)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *chat = client("/ws/chat/lobby/", alice), *other = client("/ws/chat/lobby/", bob);
    cx_communicator *boom = client("/ws/crash_probe/boom/", alice);
    int chat_pid = process_of("chat.so"), crash_pid = process_of("crash_probe.so");
    cx_send_message(boom, "segv", NULL);
    cx_assert_closed(boom, 1011, CRASH_CLOSE_MS);
    cr_assert_str_eq(cx_communicator_close_reason(boom), "consumer crashed");
    /* A room message reaches the other member: both sockets open, the group intact. */
    json_t *said = json_pack("{s:s}", "message", "still here");
    cx_send_message(chat, "chat", said);
    json_decref(said);
    json_decref(cx_receive_until_action(other, "chat", 5000));
    assert_answers(chat, 3);
    assert_answers(other, 3);
    cr_assert_eq(process_of("chat.so"), chat_pid, "the chat process was replaced by a crash in another plugin");
    int now = 0;
    for (int waited = 0; waited < 10000 && ((now = process_of("crash_probe.so")) == crash_pid || !now); waited += 50)
        usleep(50 * 1000);
    cr_assert(now > 0 && now != crash_pid, "the crashed plugin's process was not restarted");
    assert_served_again("/ws/crash_probe/boom/", alice);
    assert_answers(chat, 1);
    cr_assert(cx_communicator_connected(chat) && cx_communicator_connected(other));
    cr_assert_eq(cx_stack_log_count(stack, "broker", "\"worker process died\""), 1);
}

/* A plugin file dropped into the folder gets a process of its own and is served; removing it stops
 * that process (its clients are closed, as at a drain) and nothing else. */
Test(isolate, a_new_plugin_file_gets_its_own_process_and_a_removed_ones_stops)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *chat = client("/ws/chat/lobby/", alice);
    int chat_pid = process_of("chat.so");
    cx_plugin_folder_drop(folder, "plugins/echo.so", "echo.so");
    cx_communicator *echo = client("/ws/echo/", alice);
    assert_answers(echo, 1);
    int echo_pid = process_of("echo.so");
    cr_assert(echo_pid > 0 && echo_pid != chat_pid);
    assert_children(3);
    char path[700];
    snprintf(path, sizeof path, "%s/echo.so", folder);
    cr_assert_eq(unlink(path), 0);
    for (int waited = 0; waited < 10000 && cx_communicator_connected(echo); waited += 100)
        json_decref(cx_receive_json(echo, 100));
    cr_assert(!cx_communicator_connected(echo), "the removed plugin's client was never closed");
    assert_children(2);
    cr_assert_eq(kill(echo_pid, 0), -1, "the removed plugin's process still runs");
    char *log = cx_stack_log(stack, "worker0", "its plugin file was removed", 5000);
    cr_assert_not_null(log, "the supervisor did not say why it stopped the process");
    free(log);
    assert_answers(chat, 2);
    cr_assert_eq(process_of("chat.so"), chat_pid);
}

/* A new version of one plugin is loaded by that plugin's own process, in place: no process is started,
 * the old connection goes on, a new one is served, the other plugin's process is untouched. */
Test(isolate, hot_reload_stays_inside_the_plugins_own_process)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *before = client("/ws/chat/lobby/", alice), *boom = client("/ws/crash_probe/boom/", alice);
    int chat_pid = process_of("chat.so"), crash_pid = process_of("crash_probe.so");
    int loads = cx_stack_log_count(stack, "worker0", "loaded plugin chat ");
    cx_plugin_folder_drop(folder, "plugins/chat.so", "chat.so");
    for (int waited = 0; cx_stack_log_count(stack, "worker0", "loaded plugin chat ") == loads; waited += 50) {
        cr_assert_lt(waited, 10000, "the new version was never loaded");
        usleep(50 * 1000);
    }
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "loaded plugin chat "), loads + 1,
                 "more than one process loaded the new version");
    assert_answers(before, 1);
    assert_answers(client("/ws/chat/lobby/", alice), 1);
    assert_answers(boom, 1);
    cr_assert_eq(process_of("chat.so"), chat_pid);
    cr_assert_eq(process_of("crash_probe.so"), crash_pid);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "\"worker process started\""), 2);
}

/* Quarantine stops only the crashing plugin's processes: chat's client stays connected and answered
 * through all the crashes; the broker's gauge names the quarantined plugin; a new version lifts it. */
Test(isolate, quarantine_stops_only_the_crashing_plugins_processes_and_a_new_version_lifts_it)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *chat = client("/ws/chat/lobby/", alice);
    int chat_pid = process_of("chat.so");
    assert_quarantine_gauge("chat", 0);
    assert_quarantine_gauge("crash_probe", 0);
    crash_on_connect(alice, 3);
    char *log = cx_stack_log(stack, "worker0", "plugin quarantined", 5000);
    cr_assert_not_null(log, "three crashes within a minute did not quarantine the plugin");
    free(log);
    assert_children(1);   /* no process for a quarantined plugin file */
    cr_assert_eq(process_of("chat.so"), chat_pid);
    assert_answers(chat, 2);
    assert_quarantine_gauge("crash_probe", 1);
    assert_quarantine_gauge("chat", 0);
    int status = 0;
    char *health = cx_http_get(cx_stack_gateway_port(stack, 0), "/healthz", &status);
    cr_assert(health && strstr(health, "\"status\":\"degraded\"") && strstr(health, "\"crash_probe.boom\""),
              "%d %s", status, health);
    free(health);

    cx_plugin_folder_drop_version(folder, "test-plugins/crash_probe.so", "crash_probe.so", "fix");   /* a new version */
    assert_served_again("/ws/crash_probe/boom/", alice);
    assert_children(2);
    assert_quarantine_gauge("crash_probe", 0);
    assert_answers(chat, 1);
    cr_assert(cx_communicator_connected(chat));
}

/* With a routing file, each process mounts its own plugin where the file says and accepts the other
 * plugin's mount as the other process's: both are served at their mounts, and a crash in one still
 * leaves the other's client alone. */
Test(isolate_routing, a_routing_file_mounts_each_plugin_from_its_own_process)
{
    static const char *env[] = { "CHANX_ISOLATE=plugin", "CHANX_LOG_LEVEL=info", NULL };
    folder = cx_plugin_folder_new((const char *const[]) { "plugins/chat.so", "test-plugins/crash_probe.so", NULL });
    stack = cx_stack_start(&(cx_stack_options) { .plugins = folder, .env = env,
                                                 .routing = "tests/fixtures/routing/e2e/isolated.routes" });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *chat = client("/ws/rooms/lobby/", alice), *boom = client("/ws/probe/boom/", alice);
    assert_answers(chat, 1);
    int chat_pid = process_of("chat.so");
    cx_send_message(boom, "segv", NULL);
    cx_assert_closed(boom, 1011, CRASH_CLOSE_MS);
    assert_answers(chat, 2);
    cr_assert_eq(process_of("chat.so"), chat_pid);
    assert_served_again("/ws/probe/boom/", alice);
}

/* ----------------------------------------------------------- bad input */

/* A plugin that crashes in its constructor crashes only its own process: restarts back off, it is
 * quarantined at the third crash and gets no process after; chat, loaded beside it, is served by one
 * process that never restarts. */
Test(isolate_bad_input, a_plugin_that_crashes_while_loading_costs_the_others_nothing)
{
    start_with((const char *const[]) { "plugins/chat.so", "test-plugins/crash_onload.so", NULL });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *chat = client("/ws/chat/lobby/", alice);
    int chat_pid = process_of("chat.so");
    char *log = cx_stack_log(stack, "worker0", "plugin quarantined", 10000);
    cr_assert_not_null(log, "the plugin that crashes while loading was not quarantined");
    cr_assert(strstr(log, "\"callback\":\"load\"") && strstr(log, "restart delayed"), "%s", log);
    free(log);
    assert_children(1);
    sleep(1);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "\"plugin_file\":\"crash_onload.so\""), 3,
                 "the quarantined plugin's process kept being started");
    cr_assert_eq(process_of("chat.so"), chat_pid);
    assert_answers(chat, 2);
}

/* A .so that is not a shared object: its process says so in one JSON record naming the file, stays up
 * serving nothing (no restart loop), and the other plugin is served. */
Test(isolate_bad_input, a_file_that_is_not_a_shared_object_is_refused_in_its_own_process)
{
    folder = cx_plugin_folder_new((const char *const[]) { "plugins/chat.so", NULL });
    cx_plugin_folder_write(folder, "junk.so", "this is not an ELF file\n");
    static const char *env[] = { "CHANX_ISOLATE=plugin", "CHANX_LOG_LEVEL=info", NULL };
    stack = cx_stack_start(&(cx_stack_options) { .plugins = folder, .env = env });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    assert_answers(client("/ws/chat/lobby/", alice), 1);
    json_t *record = cx_stack_log_record(stack, "worker0", "refused plugin junk: ", 5000);
    const char *file = json_string_value(json_object_get(record, "plugin_file"));
    cr_assert(file && strlen(file) > 8 && strcmp(file + strlen(file) - 8, "/junk.so") == 0,
              "the record does not name the deployed file: %s", file);
    json_decref(record);
    sleep(1);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "\"worker process started\""), 2);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "died"), 0);
}

/* A value CHANX_ISOLATE does not take is refused at start, naming the values it takes. */
Test(isolate_bad_input, an_unknown_isolation_value_is_refused_at_start)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "CHANX_ISOLATE=plugins %s/chanx-worker --plugins /nonexistent 2>&1", cx_test_bin());
    int status = 0;
    char *out = cx_shell_output(cmd, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "exit status %d: %s", status, out);
    cr_assert(strstr(out, "CHANX_ISOLATE=plugins: expected off or plugin"), "%s", out);
    free(out);
}
