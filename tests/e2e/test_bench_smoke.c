/*
 * chanx-bench against a real stack, briefly: every scenario runs with a few
 * connections for about a second and must print a JSON result whose counts
 * show it really talked to the server. The benchmark figures themselves are
 * not asserted (CI machines vary); what is asserted is that `make bench`
 * would get a parsable, non-empty result from each scenario, and that a bad
 * token is reported as such instead of as a figure.
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static cx_stack *stack;

static void setup(void) { stack = cx_stack_start(&(cx_stack_options) { 0 }); }
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(bench_smoke, .init = setup, .fini = teardown, .timeout = 90);

/* The last diagnostic chanx-bench printed (stderr is read with stdout). */
static char last_diagnostic[512];

/* Runs chanx-bench SCENARIO on the stack's gateway; returns its JSON result
 * (or NULL when it printed none) and its exit status in *status. */
static json_t *bench(const char *scenario, const char *path, const char *token, const char *extra, int *status)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/bench/chanx-bench %s --url ws://127.0.0.1:%d%s --token %s --label smoke %s 2>&1",
             bin, scenario, cx_stack_gateway_port(stack, 0), path, token, extra);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    char line[8192];
    json_t *result = NULL;
    last_diagnostic[0] = 0;
    while (fgets(line, sizeof line, p))
        if (!strncmp(line, "chanx-bench:", 12))
            snprintf(last_diagnostic, sizeof last_diagnostic, "%.500s", line);
        else if (line[0] == '{' && !result) {
            json_error_t err;
            result = json_loads(line, 0, &err);
            cr_assert_not_null(result, "unparsable result line: %s (%s)", line, err.text);
        }
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return result;
}

static json_t *bench_ok(const char *scenario, const char *path, const char *extra)
{
    static int64_t alice;   /* one user per test (each test is its own process and stack) */
    if (!alice)
        alice = cx_db_create_user(stack, "alice", 0);
    int status;
    json_t *r = bench(scenario, path, cx_db_token(stack, alice), extra, &status);
    cr_assert_eq(status, 0, "chanx-bench %s exited with %d: %s", scenario, status, last_diagnostic);
    cr_assert_not_null(r, "chanx-bench %s printed no result", scenario);
    cr_assert_str_eq(json_string_value(json_object_get(r, "scenario")), scenario);
    cr_assert_str_eq(json_string_value(json_object_get(r, "server")), "smoke");
    return r;
}

static double num(const json_t *r, const char *key)
{
    json_t *v = json_object_get(r, key);
    cr_assert(json_is_number(v), "no number %s in the result", key);
    return json_number_value(v);
}

Test(bench_smoke, echo_counts_round_trips_and_latency)
{
    json_t *r = bench_ok("echo", "/ws/echo/", "-n 2 --duration 1");
    cr_assert_eq(num(r, "opened"), 2);
    cr_assert_gt(num(r, "round_trips"), 0);
    cr_assert_gt(num(r, "round_trips_per_s"), 0);
    cr_assert_gt(num(r, "latency_p99_ms"), 0);
    cr_assert_geq(num(r, "latency_p99_ms"), num(r, "latency_p50_ms"));
    cr_assert_eq(num(r, "unexpected_messages"), 0);
    json_decref(r);
}

Test(bench_smoke, echo_with_idle_connections_holds_them_and_reports_echo_busy)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    int status;
    json_t *r = bench("echo", "/ws/echo/", cx_db_token(stack, alice), "-n 2 --idle 5 --duration 1", &status);
    cr_assert_eq(status, 0, "chanx-bench failed: %s", last_diagnostic);
    cr_assert_not_null(r, "no result");
    cr_assert_str_eq(json_string_value(json_object_get(r, "scenario")), "echo_busy");
    cr_assert_eq(num(r, "opened"), 7, "the 5 idle connections were not all opened");
    cr_assert_eq(num(r, "idle_connections"), 5);
    cr_assert_gt(num(r, "round_trips"), 0);
    json_decref(r);
}

Test(bench_smoke, topics_subscribes_ten_each_and_counts_deliveries)
{
    json_t *r = bench_ok("topics", "/ws/hub/", "-n 3 --senders 1 --duration 1 --settle 0");
    cr_assert_eq(num(r, "opened"), 3);
    cr_assert_eq(num(r, "subscribed"), 30, "every connection subscribed to its 10 topics");
    cr_assert_eq(num(r, "refused"), 0);
    cr_assert_gt(num(r, "messages"), 0);
    cr_assert_geq(num(r, "deliveries"), num(r, "messages") - 1, "each say reaches at least its sender");
    cr_assert_eq(num(r, "unexpected_messages"), 0);
    json_decref(r);
}

Test(bench_smoke, broadcast_reaches_every_member)
{
    json_t *r = bench_ok("broadcast", "/ws/chat/smoke/", "-n 3 --senders 1 --duration 1");
    cr_assert_eq(num(r, "opened"), 3);
    cr_assert_gt(num(r, "messages"), 0);
    cr_assert_gt(num(r, "complete"), 0, "no message reached all 3 members");
    /* every message sent reaches all 3 members (in flight at the end: at most one) */
    cr_assert_geq(num(r, "deliveries"), 3 * (num(r, "messages") - 1));
    cr_assert_eq(num(r, "lost"), 0);
    cr_assert_gt(num(r, "all_members_p99_ms"), 0);
    json_decref(r);
}

/* The repin scenario against the benchmark's own work plugin (its crash action): every innocent
 * connection is answered again after the crash, none is lost. */
static void setup_work(void)
{
    static char work[600];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(work, sizeof work, "%s/bench/plugins/work.so", bin);
    static const char *files[2];
    files[0] = work;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files });
}
TestSuite(bench_smoke_repin, .init = setup_work, .fini = teardown, .timeout = 90);

Test(bench_smoke_repin, repin_answers_every_innocent_connection_again_after_the_crash)
{
    json_t *r = bench_ok("repin", "/ws/work/", "-n 5");
    cr_assert_eq(num(r, "opened"), 6);
    cr_assert_eq(num(r, "innocent_connections"), 5);
    cr_assert_eq(num(r, "answered"), 5);
    cr_assert_eq(num(r, "lost"), 0);
    cr_assert_gt(num(r, "all_repinned_ms"), 0);
    cr_assert_geq(num(r, "all_repinned_ms"), num(r, "repin_p50_ms"));
    json_decref(r);
}

Test(bench_smoke, connect_opens_every_connection)
{
    json_t *r = bench_ok("connect", "/ws/echo/", "-n 20 --duration 20 --concurrency 5");
    cr_assert_eq(num(r, "opened"), 20);
    cr_assert_eq(num(r, "failed"), 0);
    cr_assert_eq(num(r, "capped"), 0);
    cr_assert_gt(num(r, "connections_per_s"), 0);
    json_decref(r);
}

/* The stack's processes are this test process's children. */
static int stack_pids(char *out, size_t cap)
{
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    struct dirent *e;
    int n = 0;
    size_t used = 0;
    out[0] = 0;
    while ((e = readdir(d))) {
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "PPid:", 5) && atoi(line + 5) == getpid() && used + 16 < cap) {
                used += (size_t) snprintf(out + used, cap - used, "%s%s", n++ ? "," : "", e->d_name);
                break;
            }
        fclose(f);
    }
    closedir(d);
    return n;
}

Test(bench_smoke, idle_reads_the_memory_of_each_process)
{
    char pids[256], extra[400];
    cr_assert_geq(stack_pids(pids, sizeof pids), 3, "gateway, broker and worker not found");
    snprintf(extra, sizeof extra, "-n 10 --settle 0.2 --pids %s", pids);
    json_t *r = bench_ok("idle", "/ws/echo/", extra);
    cr_assert_eq(num(r, "opened"), 10);
    const char *key;
    json_t *v;
    int after = 0;
    json_object_foreach(r, key, v)
        if (!strncmp(key, "rss_after_kib_", 14)) {
            cr_assert_gt(json_integer_value(v), 0, "%s", key);
            after++;
        }
    cr_assert_geq(after, 3);
    num(r, "kib_per_connection");
    json_decref(r);
}

Test(bench_smoke, a_wrong_token_is_a_failure_not_a_figure)
{
    int status;
    json_t *r = bench("echo", "/ws/echo/", "0000000000000000000000000000000000000000", "-n 2 --duration 1", &status);
    cr_assert_neq(status, 0);
    cr_assert_null(r, "a result was printed for connections that never opened");
    cr_assert(strstr(last_diagnostic, "2 auth failed"), "the refusal is not explained: '%s'", last_diagnostic);
}

/* The publish scenario needs the publish API: a stack of its own. */
static void setup_api(void) { stack = cx_stack_start(&(cx_stack_options) { .api = 1 }); }
TestSuite(bench_smoke_publish, .init = setup_api, .fini = teardown, .timeout = 90);

Test(bench_smoke_publish, publish_counts_deliveries_for_passthrough_and_receive_event)
{
    char extra[512];
    snprintf(extra, sizeof extra, "-n 3 --duration 1 --senders 2 --group announcements --api http://127.0.0.1:%d "
             "--api-key %s --action announcement", cx_stack_api_port(stack), CX_TEST_API_KEY);
    json_t *r = bench_ok("publish", "/ws/notifications/", extra);
    cr_assert_eq(num(r, "members"), 3);
    cr_assert_gt(num(r, "complete"), 0, "no event reached every member");
    cr_assert_geq(num(r, "deliveries"), 3 * num(r, "complete"));
    cr_assert_eq(num(r, "publish_failures"), 0);
    cr_assert_geq(num(r, "all_members_p99_ms"), num(r, "all_members_p50_ms"));
    json_decref(r);
    snprintf(extra, sizeof extra, "-n 3 --duration 1 --group announcements --api http://127.0.0.1:%d --api-key %s "
             "--action notification --scenario-name publish_receive_event", cx_stack_api_port(stack), CX_TEST_API_KEY);
    r = bench_ok("publish_receive_event", "/ws/notifications/", extra);
    cr_assert_gt(num(r, "complete"), 0, "no handled event reached every member");
    json_decref(r);
}

/* ------------------------------------------------ chanx-bench idle_scale */
/* Idle connections past one process's descriptor limit: several load processes, several gateways. */

static void setup_scale(void) { stack = cx_stack_start(&(cx_stack_options) { .gateways = 2, .metrics = 1 }); }
TestSuite(bench_smoke_scale, .init = setup_scale, .fini = teardown, .timeout = 90);

static double authenticated(const char *gateway)
{
    char *text = cx_stack_metrics(stack, gateway);
    double v = cx_metric_value(text, "chanx_gateway_authentications_total{class=\"token\",status=\"200\"}");
    free(text);
    return isnan(v) ? 0 : v;
}

Test(bench_smoke_scale, idle_scale_spreads_the_connections_and_reads_every_process_and_the_kernel)
{
    char pids[256], extra[600];
    cr_assert_geq(stack_pids(pids, sizeof pids), 4, "gateways, broker and worker not found");
    snprintf(extra, sizeof extra, "-n 12 --load-processes 3 --gateway-ports %d,%d --settle 0.2 --pids %s",
             cx_stack_gateway_port(stack, 0), cx_stack_gateway_port(stack, 1), pids);
    double g0 = authenticated("gateway0"), g1 = authenticated("gateway1");
    json_t *r = bench_ok("idle_scale", "/ws/echo/", extra);
    cr_assert_eq(num(r, "opened"), 12);
    cr_assert_eq(num(r, "gateways"), 2);
    cr_assert_eq(num(r, "load_processes"), 3);
    /* load j to gateway j mod 2, 4 connections each: loads 0 and 2 to gateway0, load 1 to gateway1 */
    cr_assert_eq(authenticated("gateway0") - g0, 8);
    cr_assert_eq(authenticated("gateway1") - g1, 4);
    const char *key;
    json_t *v;
    int processes = 0;
    json_object_foreach(r, key, v)
        processes += !strncmp(key, "pss_delta_kib_", 14);
    cr_assert_geq(processes, 4, "not every --pids process was read");
    num(r, "kib_per_connection");
    num(r, "load_kib_per_connection");
    /* the server's half of both loopback ends (printed with 3 decimals) */
    cr_assert(fabs(num(r, "kernel_kib_per_connection") * 2 - num(r, "kernel_kib_per_connection_both_ends")) < 0.002);
    num(r, "kernel_socket_caches_delta_kib");
    num(r, "total_kib_per_connection");
    json_decref(r);
}

Test(bench_smoke_scale, a_share_over_the_descriptor_limit_or_a_bad_port_is_refused_before_connecting)
{
    struct rlimit rl = { 512, 512 };   /* inherited by chanx-bench: its loads may hold 512 descriptors */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    const char *token = cx_db_token(stack, cx_db_create_user(stack, "alice", 0));
    double before = authenticated("gateway0");
    int status;
    json_t *r = bench("idle_scale", "/ws/echo/", token, "-n 1000 --load-processes 1", &status);
    cr_assert_neq(status, 0);
    cr_assert_null(r, "a result was printed for a run that could not hold its connections");
    cr_assert(strstr(last_diagnostic, "use more --load-processes"), "not explained: '%s'", last_diagnostic);
    r = bench("idle_scale", "/ws/echo/", token, "-n 4 --gateway-ports 80x", &status);
    cr_assert_neq(status, 0);
    cr_assert_null(r);
    cr_assert(strstr(last_diagnostic, "bad --gateway-ports 80x"), "not explained: '%s'", last_diagnostic);
    cr_assert_eq(authenticated("gateway0"), before, "a refused run still connected");
}

/* ------------------------------------------------ chanx-bench broker */
/* The broker alone, loaded by fake gateways and workers on real links with the stack's CURVE keys
 * (bench/broker/): the counts of each result must add up, whatever the speed. */

TestSuite(bench_smoke_broker, .init = setup, .fini = teardown, .timeout = 120);

/* Runs chanx-bench broker against the stack's broker with env_prefix ("env ..."); the results, one
 * JSON object per line, into out (at most max); returns how many, the exit status in *status. */
static size_t bench_broker(const char *env_prefix, const char *extra, json_t **out, size_t max, int *status)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    char cmd[2048];
    /* the stack's heartbeat settings (tests/kit/stack.c): a peer the broker hears from less often is dropped */
    snprintf(cmd, sizeof cmd, "%s CHANX_HEARTBEAT_MS=100 CHANX_HEARTBEAT_TIMEOUT_MS=800 %s/bench/chanx-bench broker --broker %s --pid %d --label smoke %s 2>&1",
             env_prefix, bin, cx_stack_broker_endpoint(stack), cx_stack_pid(stack, "broker"), extra);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    char line[8192];
    size_t n = 0;
    last_diagnostic[0] = 0;
    while (fgets(line, sizeof line, p))
        if (!strncmp(line, "chanx-bench", 11))
            snprintf(last_diagnostic, sizeof last_diagnostic, "%.500s", line);
        else if (line[0] == '{' && n < max) {   /* a result, or a log record of the links (stderr) */
            json_error_t err;
            json_t *r = json_loads(line, 0, &err);
            cr_assert_not_null(r, "unparsable line: %s (%s)", line, err.text);
            if (json_object_get(r, "scenario"))
                out[n++] = r;
            else
                json_decref(r);
        }
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return n;
}

/* The result of scenario (and, for broker_fanout, of that group size). */
static json_t *result_of(json_t **all, size_t n, const char *scenario, long long group_size)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(json_string_value(json_object_get(all[i], "scenario")), scenario)
            && (group_size < 0 || json_integer_value(json_object_get(all[i], "group_size")) == group_size))
            return all[i];
    cr_assert_fail("no %s result (group size %lld)", scenario, group_size);
    return NULL;
}

Test(bench_smoke_broker, counts_of_every_phase_add_up_over_curve_links)
{
    cr_assert_not_null(cx_stack_keys_dir(stack), "the stack runs plain links: CURVE is not exercised");
    char env[700];
    snprintf(env, sizeof env, "env CHANX_CURVE_DIR=%s", cx_stack_keys_dir(stack));
    json_t *r[16];
    int status;
    size_t n = bench_broker(env, "-n 40 --groups-per-connection 3 --room-size 5 --gateways 2 --workers 2 "
                            "--duration 0.5 --steps 2 --fanout 1,10", r, 16, &status);
    cr_assert_eq(status, 0, "chanx-bench broker exited with %d: %s", status, last_diagnostic);
    /* held after step 1, connect, join, route, fan-out 1 and 10, gateway lost, disconnect */
    cr_assert_eq(n, 8, "%zu results", n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(json_string_value(json_object_get(r[i], "server")), "smoke");
        cr_assert_str_eq(json_string_value(json_object_get(r[i], "links")), "curve");
    }
    json_t *c = result_of(r, n, "broker_connect", -1);
    cr_assert_eq(num(c, "envelopes_in"), 40, "every CONNECT reached a worker");
    cr_assert_gt(num(c, "bytes_per_connection"), -1e9);   /* present: the broker's memory was read */
    json_t *j = result_of(r, n, "broker_join", -1);
    cr_assert_eq(num(j, "envelopes_in"), 40 * 3, "every GROUP_ADD reached its gateway");
    json_t *h = result_of(r, n, "broker_held", -1);
    cr_assert_eq(num(h, "connections"), 20, "step 1 of 2 holds half the connections");
    cr_assert_eq(num(h, "memberships"), 20 * 3);
    json_t *rt = result_of(r, n, "broker_route", -1);
    cr_assert_eq(num(rt, "connections"), 40);
    cr_assert_eq(num(rt, "memberships"), 40 * 3 + 1 + 10, "rooms plus the fan-out groups' members");
    cr_assert_gt(num(rt, "round_trips"), 0);
    cr_assert_eq(num(rt, "envelopes_in"), 2 * num(rt, "round_trips"), "a round trip is a RECEIVE and a SEND");
    cr_assert_gt(num(rt, "broker_cpu_us_per_envelope"), 0, "the broker's CPU was not read");
    cr_assert_geq(num(rt, "latency_p99_ms"), num(rt, "latency_p50_ms"));
    json_t *f1 = result_of(r, n, "broker_fanout", 1);
    cr_assert_eq(num(f1, "gateways_holding"), 1);
    cr_assert_eq(num(f1, "deliveries"), num(f1, "group_sends"));
    cr_assert_eq(num(f1, "complete"), num(f1, "group_sends"));
    json_t *f10 = result_of(r, n, "broker_fanout", 10);
    cr_assert_gt(num(f10, "group_sends"), 0);
    cr_assert_eq(num(f10, "gateways_holding"), 2, "10 members spread over both gateways");
    cr_assert_eq(num(f10, "gateway_envelopes"), 2 * num(f10, "group_sends"), "one envelope per gateway, not per member");
    cr_assert_eq(num(f10, "deliveries"), 10 * num(f10, "group_sends"));
    cr_assert_eq(num(f10, "complete"), num(f10, "group_sends"));
    /* the second gateway's link cut: the broker tells the workers of each of its 20 connections */
    json_t *lost = result_of(r, n, "broker_gateway_lost", -1);
    cr_assert_eq(num(lost, "connections_lost"), 20);
    cr_assert_eq(num(lost, "connections"), 20, "the other gateway's connections are still held");
    cr_assert_gt(num(lost, "broker_cpu_ms"), 0);
    json_t *d = result_of(r, n, "broker_disconnect", -1);
    cr_assert_eq(num(d, "envelopes_in"), 20, "the remaining connections end, each with one DISCONNECT");
    cr_assert_eq(num(d, "connections"), 0);
    for (size_t i = 0; i < n; i++)
        json_decref(r[i]);
}

Test(bench_smoke_broker, a_load_without_the_keys_is_refused_not_measured)
{
    json_t *r[4];
    int status;
    size_t n = bench_broker("env -u CHANX_CURVE_DIR", "-n 4 --duration 0.2 --steps 1 --fanout 1", r, 4, &status);
    cr_assert_neq(status, 0, "a load the broker never admitted exited 0");
    cr_assert_eq(n, 0, "a result was printed for a broker that admitted no peer");
    cr_assert(strstr(last_diagnostic, "no route from the broker"), "the refusal is not explained: '%s'",
              last_diagnostic);
}

/* recover: a consumer that crashes on demand (bench's crash.so), beside the examples, with quarantine
 * off as scripts/bench runs it: each crash closes its client with 1011 and the time until the route is
 * served again is reported. */
static void setup_recover(void)
{
    static char crash[600];
    snprintf(crash, sizeof crash, "%s/bench/plugins/crash.so", cx_test_bin());
    static const char *files[] = { crash, NULL };
    static const char *env[] = { "CHANX_CRASH_QUARANTINE=0", NULL };
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .env = env });
}
TestSuite(bench_smoke_recover, .init = setup_recover, .fini = teardown, .timeout = 90);

Test(bench_smoke_recover, recover_times_a_crash_until_the_route_is_served_again)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    int status;
    json_t *r = bench("recover", "/ws/crash/", cx_db_token(stack, alice), "-n 2 --settle 0", &status);
    cr_assert_eq(status, 0, "chanx-bench recover failed: %s", last_diagnostic);
    cr_assert_not_null(r, "no result");
    cr_assert_str_eq(json_string_value(json_object_get(r, "scenario")), "recover");
    cr_assert_eq(num(r, "crashes"), 2);
    cr_assert_gt(num(r, "served_again_p50_ms"), 0);
    cr_assert_geq(num(r, "served_again_p99_ms"), num(r, "served_again_p50_ms"));
    cr_assert_gt(num(r, "crash_closed_p50_ms"), 0);
    json_decref(r);
}
