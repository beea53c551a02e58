/*
 * test_events_api.c — the publish API's contract, as scripts rely on it:
 * the key (missing, wrong), malformed and oversized bodies, unknown fields
 * and methods, bad group names, a missing target, each answered with the
 * documented status and {"error": {"code", "message"}}; a batch with one bad
 * command sends nothing; an event no consumer could take is 400 with the
 * reason (pydantic's errors for a payload); no key configured turns the API off;
 * a broker endpoint it cannot dial stops it with a line that says so.
 */
#include "test_events.h"

#include <signal.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

static const char *const settings[] = { "CHANX_API_MAX_BODY_BYTES=2048", NULL };
static cx_stack *stack;
static void setup(void) { stack = events_stack_start(1, settings); }
static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(events_api, .init = setup, .fini = teardown, .timeout = 60);

/* POSTs and asserts the status and the error code. */
static void refused(const char *path, const char *key, const char *body, int status, const char *code)
{
    json_t *reply = NULL;
    int got = cx_api_post(stack, path, key, body, &reply);
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    cr_assert_eq(got, status, "POST %s %.200s: expected %d, got %d %s", path, body, status, got, text ? text : "");
    json_t *error = json_object_get(reply, "error");
    cr_assert_str_eq(json_string_value(json_object_get(error, "code")), code, "%s", text ? text : "(no JSON)");
    cr_assert(json_string_length(json_object_get(error, "message")) > 0, "a message says why: %s", text);
    free(text);
    json_decref(reply);
}

static const char EVENT[] = "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"notify\", \"payload\": 1}}";

Test(events_api, refuses_bad_input_with_the_documented_errors_and_delivers_nothing)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);

    refused("/api/broadcast", NULL, EVENT, 401, "unauthorized");
    refused("/api/broadcast", "wrong-key", EVENT, 401, "unauthorized");
    refused("/api/broadcast", CX_TEST_API_KEY "x", EVENT, 401, "unauthorized");
    refused("/api/publish", CX_TEST_API_KEY, EVENT, 404, "not_found");
    refused("/api/broadcast", CX_TEST_API_KEY, "{\"groups\": [\"room_lobby\"], ", 400, "invalid_json");
    refused("/api/broadcast", CX_TEST_API_KEY, "[1]", 400, "invalid_json");
    refused("/api/broadcast", CX_TEST_API_KEY,
            "{\"group\": [\"room_lobby\"], \"event\": {\"action\": \"notify\"}}", 400, "unknown_field");
    refused("/api/broadcast", CX_TEST_API_KEY,
            "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"notify\", \"extra\": 1}}", 400, "unknown_field");
    refused("/api/broadcast", CX_TEST_API_KEY, "{\"groups\": [\"room_lobby\"]}", 400, "missing_field");
    refused("/api/broadcast", CX_TEST_API_KEY, "{\"groups\": [\"room lobby\"], \"event\": {\"action\": \"notify\"}}",
            400, "invalid_group");
    char body[1024];
    snprintf(body, sizeof body, "{\"groups\": [\"%0100d\"], \"event\": {\"action\": \"notify\"}}", 0);
    refused("/api/broadcast", CX_TEST_API_KEY, body, 400, "invalid_group");   /* 100 characters: over Channels' limit */
    refused("/api/send", CX_TEST_API_KEY, "{\"event\": {\"action\": \"notify\"}}", 400, "missing_target");
    refused("/api/send", CX_TEST_API_KEY, "{\"connection\": 12, \"event\": {\"action\": \"notify\"}}", 400, "invalid_field");
    refused("/api/disconnect", CX_TEST_API_KEY, "{\"user_id\": 1, \"code\": 1006}", 400, "invalid_field");
    char *big = malloc(4096);
    snprintf(big, 4096, "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"notify\", \"payload\": \"%03000d\"}}", 0);
    refused("/api/broadcast", CX_TEST_API_KEY, big, 413, "body_too_large");
    free(big);
    /* a batch is checked whole: its third command is bad, so the first two are not sent either */
    refused("/api/batch", CX_TEST_API_KEY,
            "{\"commands\": [{\"method\": \"broadcast\", \"params\": {\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"notify\", \"payload\": 1}}},"
            " {\"method\": \"send\", \"params\": {\"user_id\": 1, \"event\": {\"action\": \"notify\", \"payload\": 2}}},"
            " {\"method\": \"shout\", \"params\": {}}]}", 400, "unknown_method");
    cx_receive_nothing(c, 500);

    /* and the same API still works */
    json_t *reply = cx_api_publish(stack, "/api/broadcast", "%s", EVENT);
    cx_assert_json_eq(reply, "{\"gateways\": 1, \"connections\": 1}");
    json_decref(reply);
    json_t *m = cx_receive_json(c, 5000);
    cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": 1}");
    json_decref(m);
}

Test(events_api, a_batch_is_applied_in_order_and_answers_each_command)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    json_t *reply = cx_api_publish(stack, "/api/batch",
        "{\"commands\": [{\"method\": \"broadcast\", \"params\": {\"groups\": [\"room_lobby\", \"room_nowhere\"], \"event\": {\"action\": \"notify\", \"payload\": 1}}},"
        " {\"method\": \"send\", \"params\": {\"user_id\": %lld, \"event\": {\"action\": \"notify\", \"payload\": 2}}},"
        " {\"method\": \"disconnect\", \"params\": {\"user_id\": %lld, \"code\": 4001}}]}", (long long) alice, (long long) alice);
    cx_assert_json_eq(reply, "{\"results\": [{\"gateways\": 1, \"connections\": 1}, {\"gateways\": 1, \"connections\": 1},"
                             " {\"gateways\": 1, \"connections\": 1}]}");
    json_decref(reply);
    json_t *m = cx_receive_json(c, 5000);
    cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": 1}");
    json_decref(m);
    m = cx_receive_json(c, 5000);
    cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": 2}");
    json_decref(m);
    cx_assert_closed(c, 4001, 5000);
}

/* POSTs a body that must be refused as undeliverable; returns the error object (owned). */
static json_t *undeliverable(const char *path, const char *body)
{
    json_t *reply = NULL;
    int got = cx_api_post(stack, path, CX_TEST_API_KEY, body, &reply);
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    cr_assert_eq(got, 400, "POST %s %s: %d %s", path, body, got, text ? text : "");
    free(text);
    json_t *error = json_incref(json_object_get(reply, "error"));
    json_decref(reply);
    cr_assert_str_eq(json_string_value(json_object_get(error, "code")), "undeliverable_event");
    return error;
}

Test(events_api, an_event_no_consumer_can_take_is_400_with_the_reason)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    /* an action no consumer declares, in .events or .passthrough_events */
    json_t *error = undeliverable("/api/broadcast", "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"mystery\"}}");
    const char *message = json_string_value(json_object_get(error, "message"));
    cr_assert(strstr(message, "'mystery'") && strstr(message, "'announce'"), "names it and what is taken: %s", message);
    /* feed and loose both take announce: it is named once */
    cr_assert_null(strstr(strstr(message, "'announce'") + 1, "'announce'"), "an action named twice: %s", message);
    cr_assert_null(json_object_get(error, "errors"));
    json_decref(error);
    /* a payload every declaring consumer's .events refuses (feed: an object with an integer n; loose: an
     * object): pydantic's errors */
    error = undeliverable("/api/send", "{\"user_id\": 1, \"event\": {\"action\": \"announce\", \"payload\": \"x\"}}");
    json_t *first = json_array_get(json_object_get(error, "errors"), 0);
    cx_assert_json_eq(first, "{\"type\": \"dict_type\", \"loc\": [\"payload\"], \"msg\": \"Input should be a valid dictionary\","
                             " \"input\": \"x\"}");
    json_decref(error);
    error = undeliverable("/api/broadcast", "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"tally\", \"payload\": 3}}");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(error, "errors"), 0), "type")),
                     "none_required", "tally takes no payload");
    json_decref(error);
    /* in a batch: named by its index, and nothing of the batch is sent */
    error = undeliverable("/api/batch",
        "{\"commands\": [{\"method\": \"broadcast\", \"params\": {\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"notify\"}}},"
        " {\"method\": \"broadcast\", \"params\": {\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"mystery\"}}}]}");
    cr_assert(strstr(json_string_value(json_object_get(error, "message")), "commands[1]"));
    json_decref(error);
    cx_receive_nothing(c, 500);
    /* what some consumer can take passes: a passthrough action with any payload, a valid payload, one that
     * only loose accepts ({"n": "x"} is an object), which feed then drops */
    json_decref(cx_api_publish(stack, "/api/broadcast",
                               "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"notify\", \"payload\": [1]}}"));
    json_decref(cx_api_publish(stack, "/api/broadcast",
                               "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"announce\", \"payload\": {\"n\": \"x\"}}}"));
    json_decref(cx_api_publish(stack, "/api/broadcast",
                               "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"announce\", \"payload\": {\"n\": 4}}}"));
    json_t *m = cx_receive_json(c, 5000);
    cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": [1]}");
    json_decref(m);
    m = cx_receive_until_action(c, "announced", 5000);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "payload"), "n")), 4);
    json_decref(m);
}

/* No CHANX_API_KEY: the API says so at start and answers 503 to everything. */
static const char *const no_key[] = { "CHANX_API_KEY=", "CHANX_LOG_LEVEL=info", NULL };

Test(events_api_off, without_a_key_the_api_is_off_and_says_so)
{
    cx_stack *off = events_stack_start(1, no_key);
    json_t *reply = NULL;
    cr_assert_eq(cx_api_post(off, "/api/broadcast", CX_TEST_API_KEY, EVENT, &reply), 503);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "api_disabled");
    json_decref(reply);
    char *log = cx_stack_log(off, "api", "the publish API is off", 5000);
    cr_assert_not_null(log, "chanx-api did not say at start that it is off");
    free(log);
    cx_stack_stop(&off);
}

/* The broker gone: the API answers 503 instead of hanging or claiming delivery; once a broker is
 * back, the API introduces itself again and publishing works without restarting it. */
Test(events_api, without_a_broker_503_and_after_its_restart_it_publishes_again)
{
    cx_stack_kill_broker(stack, SIGKILL);
    json_t *reply = NULL;
    cr_assert_eq(cx_api_post(stack, "/api/broadcast", CX_TEST_API_KEY, EVENT, &reply), 503);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "broker_unavailable");
    json_decref(reply);
    cx_stack_start_broker(stack);
    int status = 0;
    for (int i = 0; i < 150 && status != 200; i++) {   /* ZeroMQ redials within a second or so */
        status = cx_api_post(stack, "/api/broadcast", CX_TEST_API_KEY, EVENT, &reply);
        json_decref(reply);
        if (status != 200)
            usleep(100000);
    }
    cr_assert_eq(status, 200, "the API did not publish through the restarted broker");
}

/* GET /healthz (the compose healthcheck) and a GET where POST is expected, over a raw socket. */
static char *raw_get(const char *path, const char *key)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) cx_stack_api_port(stack)),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(connect(fd, (struct sockaddr *) &addr, sizeof addr), 0);
    char req[512], *buf = calloc(1, 8192);
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s\r\n", path,
                     key ? "Authorization: apikey " : "", key ? key : "", key ? "\r\n" : "");
    cr_assert_eq(write(fd, req, (size_t) n), n);
    size_t len = 0;
    for (ssize_t got; len < 8191 && (got = read(fd, buf + len, 8191 - len)) > 0;)
        len += (size_t) got;
    close(fd);
    return buf;
}

Test(events_api, healthz_says_the_broker_is_heard_and_get_is_not_a_publish)
{
    char *r = raw_get("/healthz", NULL);
    cr_assert(strstr(r, " 200 ") && strstr(r, "\"broker\":true"), "%s", r);
    free(r);
    r = raw_get("/api/broadcast", CX_TEST_API_KEY);
    cr_assert(strstr(r, " 405 ") && strstr(r, "method_not_allowed") && strstr(r, "Allow: POST"), "%s", r);
    free(r);
}

/* CHANX_BROKER without its scheme (ZeroMQ: "Invalid argument"): chanx-api used to add "cannot serve the
 * publish API on <listen> (address in use?)", sending its reader after a port nobody held. */
Test(events_api_start, a_broker_endpoint_it_cannot_dial_is_named_not_a_taken_port)
{
    char cmd[600];
    int status;
    snprintf(cmd, sizeof cmd, "CHANX_BROKER=127.0.0.1:1 CHANX_CURVE_DIR= CHANX_API_KEY=x CHANX_API_LISTEN=127.0.0.1:1 "
             "timeout 10 %s/chanx-api 2>&1", cx_test_bin());
    char *out = cx_shell_output(cmd, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 124,
              "chanx-api with an endpoint it cannot dial did not exit with an error: %s", out);
    cr_assert(strstr(out, "no link to the broker at 127.0.0.1:1"), "the reason is not the broker: %s", out);
    cr_assert(strstr(out, "tcp://HOST:PORT"), "ZeroMQ's 'Invalid argument' is not explained: %s", out);
    cr_assert_null(strstr(out, "address in use"), "a port is blamed: %s", out);
    free(out);
}
