/*
 * Plugins dropped into running workers, the way deploy tools publish files
 * (write elsewhere, rename into the folder):
 *
 *   - a new .so goes live on every gateway without a restart;
 *   - a replaced .so serves new connections with the new code while
 *     existing connections keep the old, which is unloaded after its last
 *     connection ends;
 *   - a broken .so (undefined symbol, no consumer, wrong API version, a
 *     descriptor larger than the worker's for its API version, bad
 *     schema, consumers whose routes clash, not even ELF) is refused with a
 *     log line saying why, and the worker keeps serving everything else, a
 *     good version it replaces included, and keeps taking new plugins; one
 *     already in the folder when the worker starts does not stop it.
 *
 * dep_probe and dep_probe_v2 are one source built with two replies (its
 * whoami says "version": 1 or 2); both are published as dep_probe.so.
 */
#include "tests/kit/deploy_helpers.h"

#include <chanx/consumer.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cx_stack *stack;
static char *folder;
static int64_t alice;

static void setup(void)
{
    folder = cx_plugin_folder_new((const char *const[]) { "plugins/echo.so", NULL });
    stack = cx_stack_start(&(cx_stack_options) {
        .plugins = folder, .gateways = 2, .env = (const char *const[]) { "CHANX_LOG_LEVEL=info", NULL } });
    alice = cx_db_create_user(stack, "alice", 0);
}

static void teardown(void)
{
    cx_stack_stop(&stack);
    cx_plugin_folder_remove(&folder);
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 60);

static cx_communicator *probe_on(int gateway)
{
    cx_communicator *c = cx_communicator_when_live(stack, gateway, "/ws/dep_probe/", cx_db_token_header(stack, alice),
                                                   10000);
    cr_assert_not_null(c, "/ws/dep_probe/ never went live on gateway %d", gateway);
    cx_assert_authenticated_status_ok(c);
    return c;
}

static json_int_t version_of(cx_communicator *c)
{
    json_t *p = cx_request(c, "whoami", NULL, "whoami", 5000);
    json_int_t v = json_integer_value(json_object_get(p, "version"));
    json_decref(p);
    return v;
}

static void assert_echo_still_serves(void)
{
    cx_communicator *c = cx_communicator_new(stack, "/ws/echo/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    json_decref(cx_request(c, "ping", NULL, "pong", 5000));   /* the worker still serves echo */
}

/* Waits for the worker's log line for a plugin file; returns the log (owned). */
static char *worker_log_says(const char *needle)
{
    char *log = cx_stack_log(stack, "worker0", needle, 10000);
    cr_assert_not_null(log, "the worker never logged \"%s\"", needle);
    return log;
}

Test(reload, new_plugin_goes_live_on_every_gateway_without_a_restart)
{
    cx_communicator *before = cx_communicator_new(stack, "/ws/dep_probe/", cx_db_token_header(stack, alice));
    cr_assert_eq(cx_communicator_http_status(before), 404);
    cx_plugin_folder_drop(folder, "test-plugins/dep_probe.so", "dep_probe.so");
    cr_assert_eq(version_of(probe_on(0)), 1);
    cr_assert_eq(version_of(probe_on(1)), 1);
    assert_echo_still_serves();
}

Test(reload, replaced_plugin_serves_new_connections_while_old_ones_finish_on_the_old_code)
{
    cx_plugin_folder_drop(folder, "test-plugins/dep_probe.so", "dep_probe.so");
    cx_communicator *old = probe_on(0);
    cr_assert_eq(version_of(old), 1);

    cx_plugin_folder_drop(folder, "test-plugins/dep_probe_v2.so", "dep_probe.so");
    free(worker_log_says("loaded plugin dep_probe (1 consumers)"));
    for (int waited = 0; cx_stack_log_count(stack, "worker0", "loaded plugin dep_probe ") < 2; waited += 50) {
        cr_assert_lt(waited, 10000, "the replaced plugin was never loaded");
        usleep(50000);
    }
    cx_communicator *fresh = probe_on(1);
    cr_assert_eq(version_of(fresh), 2, "a new connection must get the new code");
    cr_assert_eq(version_of(old), 1, "an existing connection must keep the code it started with");
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "unloaded replaced plugin dep_probe"), 0,
                 "unloaded while a connection still used it");

    cx_communicator_disconnect(old);
    free(worker_log_says("unloaded replaced plugin dep_probe: its last connection ended"));
    cr_assert_eq(version_of(fresh), 2);
}

Test(reload, broken_plugins_are_refused_with_a_clear_log_line_and_the_worker_keeps_serving)
{
    char future[128], past[128];
    snprintf(future, sizeof future, "built for plugin API %d, this worker speaks %d..%d", CHANX_API_VERSION + 1,
             CHANX_API_OLDEST, CHANX_API_VERSION);
    snprintf(past, sizeof past, "built for plugin API %d, this worker speaks %d..%d", CHANX_API_OLDEST - 1,
             CHANX_API_OLDEST, CHANX_API_VERSION);
    const char *const cases[][2] = {
        { "dep_broken_undefined", "undefined symbol chanx_send_telepathy: not in the plugin API (a typo?); this worker speaks plugin API" },
        { "dep_broken_typo", "undefined symbol chanx_send_mesage: not in the plugin API (a typo?) Did you mean chanx_send_message?" },
        { "dep_broken_empty", "no CHANX_CONSUMER" },
        { "dep_broken_api", future },
        { "dep_broken_api_old", past },
        { "dep_broken_size", "declares a descriptor of " },
        { "dep_broken_schema", "incoming schema" },
        { "dep_broken_rate", "consumer 'fast': bad throttle rate '20/fortnight'" },
        { "dep_broken_routes", "route 'ws/dep_broken_routes/' is hidden by 'ws/dep_broken_routes/'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char source[128], name[128], needle[256];
        snprintf(source, sizeof source, "test-plugins/%s.so", cases[i][0]);
        snprintf(name, sizeof name, "%s.so", cases[i][0]);
        cx_plugin_folder_drop(folder, source, name);
        snprintf(needle, sizeof needle, "refused plugin %s: ", cases[i][0]);
        char *log = worker_log_says(needle);
        const char *line = strstr(log, needle);
        const char *eol = strchr(line, '\n');
        cr_assert(strstr(line, cases[i][1]) && (!eol || strstr(line, cases[i][1]) < eol),
                  "the refusal of %s should say \"%s\"", cases[i][0], cases[i][1]);
        free(log);
    }
    /* not a shared object at all */
    char junk[512], partial[512];
    snprintf(partial, sizeof partial, "%s/.junk.partial", folder);
    snprintf(junk, sizeof junk, "%s/junk.so", folder);
    FILE *f = fopen(partial, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/sh\necho not a plugin\n", f);
    fclose(f);
    cr_assert_eq(rename(partial, junk), 0);
    free(worker_log_says("refused plugin junk: "));

    assert_echo_still_serves();
    cx_communicator *refused = cx_communicator_new(stack, "/ws/dep_broken_schema/", cx_db_token_header(stack, alice));
    cr_assert_eq(cx_communicator_http_status(refused), 404);
    /* and a good plugin dropped afterwards still loads */
    cx_plugin_folder_drop(folder, "test-plugins/dep_probe.so", "dep_probe.so");
    cr_assert_eq(version_of(probe_on(0)), 1);
}

Test(reload, a_broken_replacement_keeps_the_good_version_serving)
{
    cx_plugin_folder_drop(folder, "test-plugins/dep_probe.so", "dep_probe.so");
    cx_communicator *existing = probe_on(0);
    cx_plugin_folder_drop(folder, "test-plugins/dep_broken_undefined.so", "dep_probe.so");
    free(worker_log_says("refused plugin dep_probe: "));
    cr_assert_eq(version_of(existing), 1);
    cr_assert_eq(version_of(probe_on(1)), 1, "new connections must still get the good version");
}

/* Two route-less consumers share their plugin's mount: before, the plugin was taken in, every later
 * change of the folder's routes was refused ("routes unchanged", a new plugin 404 for ever), and the
 * next start of the worker stopped it whole. */
Test(reload, a_plugin_whose_routes_clash_is_refused_and_later_plugins_still_go_live)
{
    cx_plugin_folder_drop(folder, "test-plugins/dep_broken_routes.so", "dep_broken_routes.so");
    free(worker_log_says("refused plugin dep_broken_routes: "));
    cx_plugin_folder_drop(folder, "test-plugins/dep_probe.so", "dep_probe.so");
    cr_assert_eq(version_of(probe_on(0)), 1, "a plugin dropped after the refused one must go live");
    assert_echo_still_serves();
}

Test(reload_start, a_worker_started_with_a_plugin_whose_routes_clash_serves_the_others)
{
    char *start_folder = cx_plugin_folder_new((const char *const[]) { "plugins/echo.so", "test-plugins/dep_broken_routes.so", NULL });
    cx_stack *s = cx_stack_start(&(cx_stack_options) { .plugins = start_folder });
    int64_t bob = cx_db_create_user(s, "bob", 0);
    cx_communicator *c = cx_communicator_new(s, "/ws/echo/", cx_db_token_header(s, bob));
    cx_assert_authenticated_status_ok(c);
    json_decref(cx_request(c, "ping", NULL, "pong", 5000));
    cx_communicator *refused = cx_communicator_new(s, "/ws/dep_broken_routes/", cx_db_token_header(s, bob));
    cr_assert_eq(cx_communicator_http_status(refused), 404);
    cx_stack_stop(&s);
    cx_plugin_folder_remove(&start_folder);
}
