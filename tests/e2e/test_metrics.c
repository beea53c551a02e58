/*
 * Prometheus metrics, as an operator scrapes them: every process (broker,
 * worker, gateway, and the gateway's own port) answers /metrics with text
 * that Prometheus's own checker (promtool check metrics, from Debian's
 * prometheus package) accepts, and a scripted session moves the counters by
 * exactly what it did: connections, authentications by class and status,
 * messages and bytes, a group send, a refusal, closes by code, per-action
 * counts bounded by the consumer's schema.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cx_stack *stack;

static void setup(void)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    static char chat[600], probe[600], broken[600];
    snprintf(chat, sizeof chat, "%s/plugins/chat.so", bin);
    snprintf(probe, sizeof probe, "%s/test-plugins/cons_probe.so", bin);
    snprintf(broken, sizeof broken, "%s/test-plugins/dep_broken_api.so", bin);
    static const char *files[4];
    files[0] = chat, files[1] = probe, files[2] = broken, files[3] = NULL;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .metrics = 1 });
}

static void teardown(void)
{
    cx_stack_stop(&stack);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 60);

/* A series' value, failing the test when the text does not have it. */
static double value(const char *text, const char *series)
{
    double v = cx_metric_value(text, series);
    cr_assert(!isnan(v), "no series %s in:\n%s", series, text);
    return v;
}

/* promtool's verdict on a scrape: its exit status, its complaints in out. */
static int promtool(const char *text, char *out, size_t outlen)
{
    char path[] = "/tmp/chanx-metrics-XXXXXX", cmd[128];
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
    close(fd);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "cannot run promtool");
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    unlink(path);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 127,
              "promtool not found: scripts/install-deps installs it (Debian's prometheus package)");
    return WEXITSTATUS(status);
}

/* Waits until a process's series reaches want (gauges are set on the process's next tick). */
static char *await_value(const char *process, const char *series, double want)
{
    for (int waited = 0;; waited += 50) {
        char *text = cx_stack_metrics(stack, process);
        double v = cx_metric_value(text, series);
        if (v == want)
            return text;
        cr_assert(waited < 10000, "%s: %s is %g, expected %g", process, series, v, want);
        free(text);
        usleep(50000);
    }
}

Test(metrics, every_process_serves_metrics_that_promtool_accepts)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    json_decref(cx_request(c, "ping", NULL, "pong", 5000));   /* so histograms and per-action series have data */

    const char *processes[] = { "broker", "worker0", "gateway0" };
    const char *families[] = { "# TYPE chanx_broker_envelopes_received_total counter",
                               "# TYPE chanx_worker_callback_duration_seconds histogram",
                               "# TYPE chanx_gateway_db_query_duration_seconds histogram" };
    char verdict[4096];
    for (size_t i = 0; i < 3; i++) {
        char *text = cx_stack_metrics(stack, processes[i]);
        cr_assert(strstr(text, families[i]), "%s: no %s in:\n%s", processes[i], families[i], text);
        cr_assert_eq(promtool(text, verdict, sizeof verdict), 0, "promtool on %s's metrics:\n%s\n%s", processes[i],
                     verdict, text);
        free(text);
    }
    /* The gateway answers on its WebSocket port too, as it answers /healthz. */
    int status = 0;
    char *text = cx_http_get(cx_stack_gateway_port(stack, 0), "/metrics", &status);
    cr_assert(text && status == 200, "gateway port /metrics answered %d", status);
    cr_assert(strstr(text, "chanx_gateway_connections 1\n"), "one client is connected:\n%s", text);
    cr_assert_eq(promtool(text, verdict, sizeof verdict), 0, "promtool on the gateway port:\n%s", verdict);
    free(text);
    /* Anything but /metrics on the metrics port is 404. */
    free(cx_http_get(cx_stack_metrics_port(stack, "broker"), "/nothing", &status));
    cr_assert_eq(status, 404);
}

typedef struct {
    char *gateway, *broker, *worker;
} scrape;

static scrape scrape_all(void)
{
    return (scrape) { cx_stack_metrics(stack, "gateway0"), cx_stack_metrics(stack, "broker"),
                      cx_stack_metrics(stack, "worker0") };
}

static void scrape_free(scrape *s)
{
    free(s->gateway);
    free(s->broker);
    free(s->worker);
}

/* How much a counter moved between two scrapes (absent before: 0). */
static double moved(const char *before, const char *after, const char *series)
{
    double was = cx_metric_value(before, series);
    return value(after, series) - (isnan(was) ? 0 : was);
}

#define assert_moved(before, after, series, by)                                                            \
    cr_assert_eq(moved(before, after, series), by, "%s moved by %g, expected %d", series,                \
                 moved(before, after, series), by)

Test(metrics, a_scripted_session_moves_the_counters_by_what_it_did)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    scrape before = scrape_all();

    /* Two members of a room, three pings, one chat to the room (a group send reaching both), one
     * message the schema refuses, a client with a wrong token (refused: 4401), and bob leaves (1000). */
    cx_communicator *a = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_communicator *b = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, bob));
    cx_assert_authenticated_status_ok(a);
    cx_assert_authenticated_status_ok(b);
    for (int i = 0; i < 3; i++)
        json_decref(cx_request(a, "ping", NULL, "pong", 5000));
    json_t *payload = json_pack("{s:s}", "message", "hello room");
    cx_send_message(a, "chat", payload);
    json_decref(payload);
    json_decref(cx_receive_until_action(a, "chat", 5000));
    json_decref(cx_receive_until_action(b, "chat", 5000));
    cx_send_text(a, "{\"action\": \"chat\", \"payload\": {}}");
    json_decref(cx_receive_until_action(a, "error", 5000));
    const char *wrong[] = { "Authorization: Token 0123456789abcdef0123456789abcdef01234567", NULL };
    cx_communicator *c = cx_communicator_new(stack, "/ws/chat/lobby/", wrong);
    cx_assert_closed(c, 4401, 5000);
    cx_communicator_disconnect(b);

    /* Gauges follow on each process's next tick: wait for the end state, then read everything. */
    free(await_value("gateway0", "chanx_gateway_connections", 1));
    free(await_value("broker", "chanx_broker_connections", 1));
    free(await_value("worker0", "chanx_worker_consumer_instances{consumer=\"chat.chat\"}", 1));
    scrape after = scrape_all();
    const char *g0 = before.gateway, *g1 = after.gateway;
    assert_moved(g0, g1, "chanx_gateway_upgrades_total{status=\"101\"}", 3);
    assert_moved(g0, g1, "chanx_gateway_authentications_total{class=\"token\",status=\"200\"}", 2);
    assert_moved(g0, g1, "chanx_gateway_authentications_total{class=\"token\",status=\"401\"}", 1);
    assert_moved(g0, g1, "chanx_gateway_messages_received_total", 5);
    /* a: authentication, 3 pongs, its chat, the error; b: authentication, the chat; c: the refusal */
    assert_moved(g0, g1, "chanx_gateway_messages_sent_total", 9);
    assert_moved(g0, g1, "chanx_gateway_group_deliveries_total", 2);
    assert_moved(g0, g1, "chanx_gateway_closes_total{code=\"4401\"}", 1);
    assert_moved(g0, g1, "chanx_gateway_closes_total{code=\"1000\"}", 1);
    assert_moved(g0, g1, "chanx_gateway_slow_client_closes_total", 0);
    assert_moved(g0, g1, "chanx_gateway_db_query_duration_seconds_count", 3);
    assert_moved(g0, g1, "chanx_gateway_db_pool_wait_seconds_count", 3);
    cr_assert_eq(value(g1, "chanx_gateway_broker_link_up"), 1);
    cr_assert_gt(moved(g0, g1, "chanx_gateway_received_bytes_total"), 5 * 10);

    const char *b0 = before.broker, *b1 = after.broker;
    assert_moved(b0, b1, "chanx_broker_envelopes_received_total{type=\"CONNECT\"}", 2);
    assert_moved(b0, b1, "chanx_broker_envelopes_received_total{type=\"RECEIVE\"}", 5);
    assert_moved(b0, b1, "chanx_broker_envelopes_received_total{type=\"GROUP_SEND\"}", 1);
    assert_moved(b0, b1, "chanx_broker_envelopes_received_total{type=\"GROUP_ADD\"}", 2);
    assert_moved(b0, b1, "chanx_broker_envelopes_received_total{type=\"DISCONNECT\"}", 1);
    assert_moved(b0, b1, "chanx_broker_malformed_envelopes_total", 0);
    cr_assert_eq(value(b1, "chanx_broker_peers{role=\"gateway\"}"), 1);
    cr_assert_eq(value(b1, "chanx_broker_peers{role=\"worker\"}"), 1);
    cr_assert_eq(value(b1, "chanx_broker_groups"), 1);
    cr_assert_eq(value(b1, "chanx_broker_group_members"), 1);
    cr_assert_geq(value(b1, "chanx_broker_routes"), 2);

    const char *w0 = before.worker, *w1 = after.worker;
    assert_moved(w0, w1, "chanx_worker_messages_total{consumer=\"chat.chat\",action=\"ping\"}", 3);
    assert_moved(w0, w1, "chanx_worker_messages_total{consumer=\"chat.chat\",action=\"chat\"}", 1);
    assert_moved(w0, w1, "chanx_worker_message_errors_total{consumer=\"chat.chat\",action=\"chat\"}", 0);
    assert_moved(w0, w1, "chanx_worker_invalid_messages_total{consumer=\"chat.chat\"}", 1);
    assert_moved(w0, w1,
                 "chanx_worker_callback_duration_seconds_count{consumer=\"chat.chat\",callback=\"receive_message\"}", 4);
    assert_moved(w0, w1,
                 "chanx_worker_callback_duration_seconds_count{consumer=\"chat.chat\",callback=\"connect\"}", 2);
    assert_moved(w0, w1,
                 "chanx_worker_callback_duration_seconds_count{consumer=\"chat.chat\",callback=\"disconnect\"}", 1);
    /* chat.so and cons_probe.so loaded; dep_broken_api.so (wrong API version) refused */
    cr_assert_eq(value(w1, "chanx_worker_plugin_loads_total"), 2);
    cr_assert_eq(value(w1, "chanx_worker_plugin_refusals_total"), 1);
    scrape_free(&before);
    scrape_free(&after);
}

Test(metrics, action_labels_come_from_the_schema_never_from_clients)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    /* "free" has no schema: whatever action a client makes up counts as "other". */
    cx_communicator *f = cx_communicator_new(stack, "/ws/cons_probe/free/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(f);
    json_decref(cx_request(f, "made_up_by_a_client", NULL, "echo", 5000));
    json_decref(cx_request(f, "another_invention", NULL, "echo", 5000));
    /* "strict" declares its actions: a failing one is counted under its own name, as an error. */
    cx_communicator *s = cx_communicator_new(stack, "/ws/cons_probe/strict/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(s);
    cx_send_message(s, "fail", NULL);
    json_decref(cx_receive_until_action(s, "error", 5000));

    char *text = cx_stack_metrics(stack, "worker0");
    cr_assert_null(strstr(text, "made_up_by_a_client"), "a client's action became a label:\n%s", text);
    cr_assert_null(strstr(text, "another_invention"), "a client's action became a label:\n%s", text);
    cr_assert_eq(value(text, "chanx_worker_messages_total{consumer=\"cons_probe.free\",action=\"other\"}"), 2);
    cr_assert_eq(value(text, "chanx_worker_messages_total{consumer=\"cons_probe.strict\",action=\"fail\"}"), 1);
    cr_assert_eq(value(text, "chanx_worker_message_errors_total{consumer=\"cons_probe.strict\",action=\"fail\"}"), 1);
    /* declared actions are there from the start, at 0 */
    cr_assert_eq(value(text, "chanx_worker_messages_total{consumer=\"cons_probe.strict\",action=\"typed\"}"), 0);
    free(text);
}

Test(metrics, a_metrics_address_that_cannot_be_used_stops_the_process_with_a_clear_error)
{
    /* the broker's metrics port is taken: a second broker (on a port ZeroMQ picks) asked to use it
     * must say so and exit 1 */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "CHANX_METRICS_LISTEN=127.0.0.1:%d CHANX_BROKER='tcp://127.0.0.1:*' %s/chanx-broker 2>&1",
             cx_stack_metrics_port(stack, "broker"), getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build");
    FILE *p = popen(cmd, "r");
    char out[2048];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit status %d, output:\n%s", status, out);
    cr_assert(strstr(out, "CHANX_METRICS_LISTEN: cannot serve metrics on 127.0.0.1:"), "output:\n%s", out);

    snprintf(cmd, sizeof cmd, "CHANX_METRICS_LISTEN=nonsense CHANX_BROKER='tcp://127.0.0.1:*' %s/chanx-broker 2>&1",
             getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build");
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit status %d, output:\n%s", status, out);
    cr_assert(strstr(out, "'nonsense' is not HOST:PORT"), "output:\n%s", out);
}
