/*
 * test_crash_quarantine.c — what lifts a quarantine, and what follows a
 * lift, as an operator sees it: logs, /healthz, the broker's gauge and the
 * routes agree at every step.
 *
 * A version of a plugin is its bytes: the same crashing file renamed into
 * place again keeps the quarantine (and a log record says why); a new
 * version lifts it when it is deployed, not at the next crash; the new
 * version's crashes are counted from zero, so CHANX_CRASH_QUARANTINE (3) of
 * them quarantine it again, and its first crash is not reported as a
 * quarantine. A plugin that crashes while loading has no routes, yet its
 * quarantine shows on the gauge. Each in shared mode (one worker process
 * for all plugins) and under CHANX_ISOLATE=plugin.
 *
 * tests/plugins/crash_probe crashes on demand ("segv" at ws/crash_probe/
 * boom/); a new version is the same code with bytes appended
 * (cx_plugin_folder_drop_version), as a rebuild with a fix would differ.
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"
#include "tests/kit/raw_ws.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CRASH_CLOSE_MS 2000
#define BOOM "/ws/crash_probe/boom/"

static cx_stack *stack;
static char *folder;
static int64_t alice;
static int isolated;   /* CHANX_ISOLATE=plugin */

static void start(const char *isolate, const char *const *plugins)
{
    static const char *shared[] = { "CHANX_LOG_LEVEL=info", NULL };
    static const char *isolating[] = { "CHANX_ISOLATE=plugin", "CHANX_LOG_LEVEL=info", NULL };
    isolated = isolate != NULL;
    folder = cx_plugin_folder_new(plugins);
    stack = cx_stack_start(&(cx_stack_options) { .plugins = folder, .env = isolate ? isolating : shared,
                                                 .metrics = 1 });
    alice = cx_db_create_user(stack, "alice", 0);
}

static const char *const probe_and_chat[] = { "plugins/chat.so", "test-plugins/crash_probe.so", NULL };
static void setup_shared(void) { start(NULL, probe_and_chat); }
static void setup_isolated(void) { start("plugin", probe_and_chat); }
static void setup_none(void) {}
static void teardown(void)
{
    cx_stack_stop(&stack);
    cx_plugin_folder_remove(&folder);
}
TestSuite(crash_quarantine, .init = setup_shared, .fini = teardown, .timeout = 150);
TestSuite(isolate_quarantine, .init = setup_isolated, .fini = teardown, .timeout = 150);
TestSuite(crash_quarantine_load, .init = setup_none, .fini = teardown, .timeout = 150);

/* ------------------------------------------------------------- helpers */

/* One crash of crash_probe: a client of BOOM (retried while the route comes back) sends "segv" and is
 * closed 1011 "consumer crashed". */
static void crash_once(void)
{
    for (int tries = 0;; tries++) {
        cr_assert_lt(tries, 40, "crash_probe was not served again to be crashed");
        cx_communicator *c = cx_communicator_when_live(stack, 0, BOOM, cx_db_token_header(stack, alice), 40000);
        cr_assert_not_null(c, "crash_probe was never served again");
        cx_send_message(c, "segv", NULL);
        for (json_t *m; (m = cx_receive_json(c, CRASH_CLOSE_MS));)
            json_decref(m);
        if (strcmp(cx_communicator_close_reason(c), "consumer crashed") == 0)
            return;
        usleep(100 * 1000);   /* refused in the moment the process restarts: try again */
    }
}

/* Waits up to 10 s for the process's log to hold needle count times. */
static void await_log_count(const char *process, const char *needle, int count)
{
    int n = 0;
    for (int waited = 0; waited < 10000 && (n = cx_stack_log_count(stack, process, needle)) < count; waited += 100)
        usleep(100 * 1000);
    cr_assert_eq(n, count, "%s logged \"%s\" %d times, not %d", process, needle, n, count);
}

/* The broker's chanx_plugin_quarantined{plugin} once it reads want (up to 10 s); NAN: no series. */
static void assert_gauge(const char *plugin, double want)
{
    char series[200];
    snprintf(series, sizeof series, "chanx_plugin_quarantined{plugin=\"%s\"}", plugin);
    double got = NAN;
    for (int waited = 0; waited < 10000; waited += 100) {
        char *metrics = cx_stack_metrics(stack, "broker");
        got = cx_metric_value(metrics, series);
        free(metrics);
        if (got == want)
            return;
        usleep(100 * 1000);
    }
    cr_assert_fail("%s is %f, not %f", series, got, want);
}

/* BOOM's upgrade status and whether its body names the quarantine, once it is want (up to 10 s). */
static void assert_boom_answers(int want_quarantined)
{
    char auth[200];
    snprintf(auth, sizeof auth, "Authorization: Token %s\r\n", cx_db_token(stack, alice));
    int got = -1;
    for (int waited = 0; waited < 10000; waited += 100) {
        cx_raw *up = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), BOOM, auth);
        got = up && cx_raw_status(up) == 503 && strstr(cx_raw_body(up), "quarantined") ? 1
              : up && cx_raw_status(up) == 101                                          ? 0
                                                                                         : -1;
        cx_raw_destroy(&up);
        if (got == want_quarantined)
            return;
        usleep(100 * 1000);
    }
    cr_assert_fail("%s: %s", BOOM, want_quarantined ? "not answered 503 quarantined" : "not served");
}

/* /healthz now: whether it lists crash_probe.boom as quarantined. */
static int healthz_quarantined(void)
{
    int status = 0;
    char *health = cx_http_get(cx_stack_gateway_port(stack, 0), "/healthz", &status);
    cr_assert(status == 200 && health, "/healthz: %d", status);
    const char *q = strstr(health, "\"quarantined\":[");
    int listed = q && strstr(q, "\"crash_probe.boom\"");
    free(health);
    return listed;
}

/* Three crashes: quarantined, as the supervisor, the broker, the gauge, the route and /healthz say. In
 * shared mode, once the worker process started after the last crash runs without the plugin (the
 * restart is delayed: a new version deployed before it would be loaded by that start). */
static void quarantine_probe(void)
{
    for (int i = 0; i < 3; i++)
        crash_once();
    await_log_count("worker0", "\"plugin quarantined: worker processes will not load it\"", 1);
    await_log_count("broker", "\"plugin quarantined: its routes answer 503", 1);
    if (!isolated)
        await_log_count("worker0", "quarantined: it crashed its worker processes", 1);
    assert_gauge("crash_probe", 1);
    assert_boom_answers(1);
    cr_assert(healthz_quarantined(), "/healthz does not list the quarantined route");
}

/* ------------------------------------------------------------ behaviour */

/* The same bytes renamed into place keep the quarantine, and the supervisor says why; a new version
 * lifts it when it is deployed: logged then, without waiting for another crash, and the route, the
 * gauge and /healthz follow. */
static void redeploy_then_new_version(void)
{
    quarantine_probe();
    cx_plugin_folder_drop(folder, "test-plugins/crash_probe.so", "crash_probe.so");   /* the same bytes */
    await_log_count("worker0", "\"plugin redeployed unchanged: it stays quarantined\"", 1);
    sleep(1);   /* what a wrong lift would take: the worker's reload, the routes reaching the gateway */
    assert_boom_answers(1);
    assert_gauge("crash_probe", 1);
    cr_assert(healthz_quarantined(), "an identical redeploy took the route out of quarantine on /healthz");
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "quarantine lifted"), 0, "the same bytes lifted it");

    cx_plugin_folder_drop_version(folder, "test-plugins/crash_probe.so", "crash_probe.so", "fix 1");
    await_log_count("worker0", "\"plugin quarantine lifted: a new version was deployed\"", 1);
    assert_boom_answers(0);
    assert_gauge("crash_probe", 0);
    cr_assert(!healthz_quarantined(), "/healthz still lists the lifted route as quarantined");
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "crashed in a consumer callback"), 3, "lifted by a crash");
}

/* After a lift the new version's crashes count from zero: its first is not a quarantine (no such log,
 * the route stays served), its third is. */
static void requarantine_after_three_crashes(void)
{
    quarantine_probe();
    cx_plugin_folder_drop_version(folder, "test-plugins/crash_probe.so", "crash_probe.so", "fix 1");
    assert_boom_answers(0);
    await_log_count("worker0", "\"plugin quarantine lifted: a new version was deployed\"", 1);   /* before a crash */
    crash_once();
    assert_boom_answers(0);
    sleep(1);   /* a wrong quarantine's publication would have reached the gateway */
    cr_assert_eq(cx_stack_log_count(stack, "broker", "\"plugin quarantined: its routes answer 503"), 1,
                 "the first crash of the new version was logged as a quarantine");
    cr_assert(!healthz_quarantined(), "the first crash of the new version quarantined it");
    assert_gauge("crash_probe", 0);
    crash_once();
    crash_once();
    await_log_count("worker0", "\"plugin quarantined: worker processes will not load it\"", 2);
    await_log_count("broker", "\"plugin quarantined: its routes answer 503", 2);
    assert_boom_answers(1);
    assert_gauge("crash_probe", 1);
    cr_assert(healthz_quarantined(), "/healthz does not list the quarantined route");
    /* Quarantined at the third crash of the new version, not the fourth. */
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "crashed in a consumer callback"), 6);
}

Test(crash_quarantine, the_same_bytes_keep_the_quarantine_and_a_new_version_lifts_it_when_deployed)
{
    redeploy_then_new_version();
}

Test(isolate_quarantine, the_same_bytes_keep_the_quarantine_and_a_new_version_lifts_it_when_deployed)
{
    redeploy_then_new_version();
}

Test(crash_quarantine, a_new_version_is_quarantined_again_at_its_third_crash_not_its_first_or_fourth)
{
    requarantine_after_three_crashes();
}

Test(isolate_quarantine, a_new_version_is_quarantined_again_at_its_third_crash_not_its_first_or_fourth)
{
    requarantine_after_three_crashes();
}

/* A plugin that crashes while loading registers no routes, yet its quarantine is on the broker's gauge
 * and in its log, naming the plugin (the supervisor's record names the file); a working new version
 * takes the gauge back to 0. */
static void quarantined_while_loading(const char *isolate)
{
    start(isolate, (const char *const[]) { "plugins/chat.so", "test-plugins/crash_onload.so", NULL });
    json_t *r = cx_stack_log_record(stack, "worker0", "plugin quarantined: worker processes", 20000);
    cr_assert_not_null(r, "the plugin that crashes while loading was not quarantined");
    cr_assert(strstr(json_string_value(json_object_get(r, "plugin_file")), "/crash_onload.so"));
    json_decref(r);
    assert_gauge("crash_onload", 1);
    r = cx_stack_log_record(stack, "broker", "plugin quarantined while loading", 5000);
    cr_assert_not_null(r, "the broker did not say the plugin is quarantined");
    cr_assert_str_eq(json_string_value(json_object_get(r, "plugin")), "crash_onload");
    json_decref(r);
    assert_gauge("chat", 0);
    cx_plugin_folder_drop(folder, "plugins/echo.so", "crash_onload.so");   /* a new version, which works */
    cx_communicator *fixed = cx_communicator_when_live(stack, 0, "/ws/crash_onload/", cx_db_token_header(stack, alice),
                                                       10000);
    cr_assert_not_null(fixed, "the new version of the quarantined plugin never went live");
    assert_gauge("crash_onload", 0);
}

Test(crash_quarantine_load, a_plugin_quarantined_while_loading_is_on_the_gauge)
{
    quarantined_while_loading(NULL);
}

Test(crash_quarantine_load, a_plugin_quarantined_while_loading_is_on_the_gauge_under_isolation)
{
    quarantined_while_loading("plugin");
}
