/*
 * Logging and plugin refusal, read from the logs the stack's processes
 * write: "Received websocket json" / "Sent websocket json" records carry the
 * connection id, message id, action and user id, follow the consumer's log
 * flags and ignored actions (and the deployment's, from CHANX_*), and no
 * process ever logs a token or a cookie value. A plugin whose schema is
 * wrong is refused with an error naming it and the place in the schema,
 * while the worker serves the other plugins.
 *
 * Consumers: tests/plugins/cons_probe ("logged" ignores ping/pong, "quiet"
 * logs nothing) and tests/plugins/cons_badschema.
 */
#include "test_consumer.h"

#include <unistd.h>

static cx_stack *stack;
static const char *const PLUGINS[] = { "cons_probe", "cons_badschema", NULL };

static void setup(void)
{
    stack = cons_stack_start(PLUGINS, (const char *[]) { "CHANX_LOG_LEVEL=info", NULL });
}

static void setup_deployment_settings(void)
{
    stack = cons_stack_start(PLUGINS, (const char *[]) { "CHANX_LOG_LEVEL=info", "CHANX_SEND_COMPLETION=1",
                                                         "CHANX_LOG_IGNORED_ACTIONS=hello, hi", NULL });
}

static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(consumer_logs, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(consumer_settings, .init = setup_deployment_settings, .fini = teardown, .timeout = 60);

/* The worker's JSON log records, once a line containing needle was written. */
static json_t *worker_records(const char *needle)
{
    char *text = cx_stack_log(stack, "worker0", needle, 5000);
    cr_assert_not_null(text, "the worker never logged %s", needle);
    json_t *records = json_array();
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *r = json_loads(line, 0, NULL);
        if (json_is_object(r))
            json_array_append(records, r);
        json_decref(r);
    }
    free(text);
    return records;
}

/* The first record of that event and action (action NULL: any), or NULL. */
static const json_t *find_record(const json_t *records, const char *event, const char *consumer, const char *action)
{
    size_t i;
    const json_t *r;
    json_array_foreach(records, i, r) {
        if (strcmp(str_of(r, "event"), event) == 0 && (!consumer || (str_of(r, "consumer")
            && strcmp(str_of(r, "consumer"), consumer) == 0)) && (!action || (str_of(r, "action")
            && strcmp(str_of(r, "action"), action) == 0)))
            return r;
    }
    return NULL;
}

static size_t count_records(const json_t *records, const char *event, const char *action)
{
    size_t i, n = 0;
    const json_t *r;
    json_array_foreach(records, i, r)
        n += strcmp(str_of(r, "event"), event) == 0 && str_of(r, "action") && strcmp(str_of(r, "action"), action) == 0;
    return n;
}

static void say_hello(cx_communicator *c, const char *text)
{
    json_t *payload = json_string(text);
    cx_send_message(c, "hello", payload);
    json_decref(payload);
    json_t *hi = cx_receive_until_action(c, "hi", 5000);
    cr_assert_not_null(hi, "no reply to hello");
    json_decref(hi);
}

static void assert_not_in_any_log(const char *secret, const char *what)
{
    const char *processes[] = { "worker0", "gateway0", "broker" };
    for (size_t i = 0; i < 3; i++) {
        char *text = cx_stack_log(stack, processes[i], NULL, 0);
        cr_assert_not_null(text);
        cr_assert_null(strstr(text, secret), "the %s log holds the %s", processes[i], what);
        free(text);
    }
}

Test(consumer_logs, received_and_sent_records_carry_ids_and_never_a_token_or_cookie)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    const char *token = cx_db_token(stack, alice);
    char path[160];
    snprintf(path, sizeof path, "/ws/cons_probe/logged/?token=%s", token);
    const char *headers[] = { "Cookie: flavor=cookie-secret-9f2; sessionid=session-secret-77a", NULL };
    cx_communicator *c = cx_communicator_new(stack, path, headers);
    cx_assert_authenticated_status_ok(c);
    say_hello(c, "first");

    json_t *records = worker_records("\"action\":\"hi\"");
    const json_t *in = find_record(records, "Received websocket json", "cons_probe.logged", "hello");
    const json_t *out = find_record(records, "Sent websocket json", "cons_probe.logged", "hi");
    cr_assert(in && out, "no Received/Sent records for hello/hi");
    cr_assert_eq(json_integer_value(json_object_get(in, "user_id")), alice);
    cr_assert_gt(json_integer_value(json_object_get(in, "conn")), 0);
    cr_assert(json_equal(json_object_get(in, "conn"), json_object_get(out, "conn")));
    cr_assert(str_of(in, "message_id") && *str_of(in, "message_id"), "no message id");
    cr_assert_str_eq(str_of(out, "message_id"), str_of(in, "message_id"), "the reply is not tied to its message");
    cr_assert_str_eq(str_of(in, "path"), "/ws/cons_probe/logged/");
    cr_assert_str_eq(str_of(in, "client"), "127.0.0.1");
    json_decref(records);

    assert_not_in_any_log(token, "token");
    assert_not_in_any_log("cookie-secret-9f2", "cookie value");
    assert_not_in_any_log("session-secret-77a", "session cookie");
}

Test(consumer_logs, ignored_actions_and_log_flags_silence_records)
{
    cx_communicator *logged = cons_connect(stack, "/ws/cons_probe/logged/", "alice");
    cx_communicator *quiet = cons_connect(stack, "/ws/cons_probe/quiet/", "bob");
    cx_send_message(logged, "ping", NULL);
    json_t *pong = cx_receive_until_action(logged, "pong", 5000);
    cr_assert_not_null(pong);
    json_decref(pong);
    say_hello(quiet, "unlogged");
    say_hello(logged, "marker");   /* records are written in order: when this one is there, all are */

    json_t *records = worker_records("\"action\":\"hi\"");
    cr_assert_not_null(find_record(records, "Received websocket json", "cons_probe.logged", "hello"));
    cr_assert_null(find_record(records, "Received websocket json", NULL, "ping"), "ignored action logged");
    cr_assert_null(find_record(records, "Sent websocket json", NULL, "pong"), "ignored action logged");
    cr_assert_null(find_record(records, "Received websocket json", "cons_probe.quiet", NULL),
                   "log_received_message off, yet logged");
    cr_assert_null(find_record(records, "Sent websocket json", "cons_probe.quiet", NULL),
                   "log_sent_message off, yet logged");
    json_decref(records);
}

Test(consumer_logs, a_group_message_is_logged_once_with_its_groups)
{
    cx_communicator *c = cons_connect(stack, "/ws/cons_probe/camel/", "alice");
    cx_send_text(c, "{\"action\":\"shout\",\"payload\":{\"textBody\":\"hey\"}}");
    json_decref(cx_receive_all_json(c, 5000, 0));
    json_t *records = worker_records("\"groups\"");
    const json_t *sent = find_record(records, "Sent websocket json", "cons_probe.camel", "shout");
    cr_assert_not_null(sent, "the group message was not logged");
    json_t *want = json_pack("[s]", "camel_room");
    cr_assert(json_equal(json_object_get(sent, "groups"), want));
    json_decref(want);
    cr_assert_eq(count_records(records, "Sent websocket json", "shout"), 1);
    json_decref(records);
}

Test(consumer_logs, a_plugin_with_a_bad_schema_is_refused_and_the_others_serve)
{
    char *text = cx_stack_log(stack, "worker0", "cons_badschema", 5000);
    cr_assert_not_null(text, "the refusal was not logged");
    const char *line = strstr(text, "cons_badschema");
    cr_assert(strstr(line, "chat.properties.message.maxLength"), "the error does not name the place: %.300s", line);
    cr_assert(strstr(line, "broken"), "the error does not name the consumer: %.300s", line);
    free(text);

    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *refused = cx_communicator_new(stack, "/ws/cons_badschema/", cx_db_token_header(stack, alice));
    cr_assert_eq(cx_communicator_http_status(refused), 404, "a refused plugin got a route");
    cx_communicator *c = cx_communicator_new(stack, "/ws/cons_probe/strict/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    json_t *got = cons_exchange(c, "{\"action\":\"ping\"}");
    cr_assert_str_eq(action_of(json_array_get(got, 0)), "pong");
    json_decref(got);
}

Test(consumer_settings, deployment_defaults_come_from_the_environment)
{
    cx_communicator *c = cons_connect(stack, "/ws/cons_probe/logged/", "alice");
    cx_send_message(c, "ping", NULL);
    json_t *all = cx_receive_all_json(c, 5000, 0);   /* CHANX_SEND_COMPLETION=1: complete follows */
    cr_assert_str_eq(action_of(json_array_get(all, 0)), "pong");
    json_decref(all);
    say_hello(c, "ignored by the deployment");
    all = cx_receive_all_json(c, 5000, 0);
    json_decref(all);

    /* the complete after hello is logged, hello and hi are not (CHANX_LOG_IGNORED_ACTIONS) */
    json_t *records = worker_records("\"action\":\"complete\"");
    for (int waited = 0; count_records(records, "Sent websocket json", "complete") < 2; waited += 20) {
        cr_assert_lt(waited, 5000, "the second complete was never logged");
        usleep(20000);
        json_decref(records);
        records = worker_records("\"action\":\"complete\"");
    }
    cr_assert_null(find_record(records, "Received websocket json", NULL, "hello"));
    cr_assert_null(find_record(records, "Sent websocket json", NULL, "hi"));
    json_decref(records);
}
