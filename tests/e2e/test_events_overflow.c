/*
 * test_events_overflow.c — events meet a full mailbox. Nothing is dropped in
 * silence: a connection whose consumer is busy (evt_probe's "nap") and whose
 * mailbox holds CHANX_MAILBOX_MAX (2 here) mails is closed with 1013 by the
 * first event its mailbox refuses, as for a client message; it gets nothing
 * after what its consumer had taken (a prefix, no hole), each lost event is
 * counted in chanx_worker_events_dropped_total{reason="mailbox_full"}, and one
 * record names that connection with its own count when it ends. Unknown and
 * invalid events count under their own reasons and close nothing. A group
 * event is posted only to the group's members (workers/memberships.h), so a
 * busy connection outside the group loses nothing and counts nothing. A burst
 * of 2,000 events to a slow handler (default mailbox): every event arrives in
 * order, or the client is closed with 1013 after a gap-free prefix. With
 * CHANX_EVENT_OVERFLOW=notify the connection stays and its client is told, in
 * order, how many events were dropped.
 */
#include "test_events.h"
#include "tests/kit/raw_ws.h"

#include <sys/wait.h>

static const char *const settings[] = { "CHANX_MAILBOX_MAX=2", NULL };
static cx_stack *stack;

static void setup(void)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    static char path[600];
    static const char *files[2];
    snprintf(path, sizeof path, "%s/test-plugins/evt_probe.so", bin);
    files[0] = path;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .env = settings, .api = 1, .metrics = 1 });
}
static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(events_overflow, .init = setup, .fini = teardown, .timeout = 90);

static double dropped(const char *reason)
{
    char *text = cx_stack_metrics(stack, "worker0"), series[128];
    snprintf(series, sizeof series, "chanx_worker_events_dropped_total{reason=\"%s\"}", reason);
    double v = cx_metric_value(text, series);
    free(text);
    return v;
}

/* Waits (up to 15 s) until dropped(reason) reads at least want: the event left the mailbox. */
static double dropped_reaches(const char *reason, double want)
{
    double v = 0;
    for (int waited = 0; (v = dropped(reason)) < want && waited < 15000; waited += 20)
        usleep(20000);
    return v;
}

/* The kit's libwebsockets 4.1 client reads a 1013 close as 1002, so the connections whose close code
 * matters here are raw (tests/kit/raw_ws.h): upgraded with user's token, past the authentication
 * message (the ready point: build_groups' room is joined). */
static cx_raw *raw_client(cx_stack *on, const char *path, int64_t user)
{
    char header[160];
    snprintf(header, sizeof header, "Authorization: Token %s\r\n", cx_db_token(on, user));
    cx_raw *raw = cx_raw_upgrade(cx_stack_gateway_port(on, 0), path, header);
    cr_assert(raw && cx_raw_status(raw) == 101, "upgrade refused");
    char *auth = NULL;
    cr_assert_eq(cx_raw_read_frame(raw, 5000, NULL, NULL, &auth, NULL), 1, "no authentication message");
    cr_assert(strstr(auth, "\"status_code\":200"), "%s", auth);
    free(auth);
    return raw;
}

/* The next text message as JSON (owned), NULL when the connection ended or nothing came in time. */
static json_t *raw_next(cx_raw *raw, int timeout_ms)
{
    int opcode = 0;
    char *text = NULL;
    while (cx_raw_read_frame(raw, timeout_ms, &opcode, NULL, &text, NULL) == 1) {
        if (opcode == 1) {
            json_t *m = json_loads(text, 0, NULL);
            free(text);
            return m;
        }
        free(text);   /* a ping: the next one */
        text = NULL;
        if (opcode == 8)
            return NULL;
    }
    return NULL;
}

/* Sends the connection a "nap" of ms and waits until its consumer is in it (its mailbox is empty). */
static void nap(cx_raw *c, const char *id, int ms)
{
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"connection\": \"%s\", \"event\": {\"action\": \"nap\", \"payload\": {\"ms\": %d}}}",
                               id, ms));
    json_t *m = raw_next(c, 5000);
    cr_assert_not_null(m, "the consumer never started its nap");
    cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "napping");
    json_decref(m);
}

/* The connection id the feed consumer reports for a raw client (owned). */
static char *raw_connection_id(cx_raw *c)
{
    const char whoami[] = "{\"action\":\"whoami\"}";
    cr_assert_eq(cx_raw_frame(c, 1, 0, 1, 1, whoami, sizeof whoami - 1), 0);
    json_t *m = raw_next(c, 5000);
    cr_assert_not_null(m, "no whoami answer");
    char *id = strdup(json_string_value(json_object_get(json_object_get(m, "payload"), "connection")));
    json_decref(m);
    return id;
}

/* A log record of the worker's with "key":value, written with or without a space after the colon. */
static int record_has(const char *log, const char *key, const char *value)
{
    char tight[160], spaced[160];
    snprintf(tight, sizeof tight, "\"%s\":%s", key, value);
    snprintf(spaced, sizeof spaced, "\"%s\": %s", key, value);
    return strstr(log, tight) || strstr(log, spaced);
}

/* The line of text that holds needle (owned). */
static char *line_with(const char *text, const char *needle)
{
    const char *at = strstr(text, needle), *start = at, *end = at;
    while (start > text && start[-1] != '\n')
        start--;
    while (*end && *end != '\n')
        end++;
    return strndup(start, (size_t) (end - start));
}

Test(events_overflow, an_event_a_full_mailbox_refuses_closes_with_1013_and_is_counted_and_logged_for_its_connection)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_raw *c = raw_client(stack, "/ws/evt_probe/feed/lobby/", alice);
    cx_communicator *neighbour = events_client(stack, 0, "/ws/evt_probe/feed/kitchen/", bob);
    char *id = raw_connection_id(c), *other = events_connection_id(neighbour);
    cr_assert_eq(dropped("mailbox_full"), 0);
    nap(c, id, 8000);   /* long enough for the five publishes below on a loaded machine */
    for (int n = 1; n <= 5; n++) {   /* two fit in the mailbox, the third is refused: 1013 */
        json_t *reply = cx_api_publish(stack, "/api/send",
                                       "{\"connection\": \"%s\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": %d}}}",
                                       id, n);
        cx_assert_json_eq(reply, "{\"gateways\": 1, \"connections\": 1}");   /* the broker did route it */
        json_decref(reply);
    }
    /* told at once, without waiting for the nap: nothing the consumer answers after the refusal */
    int messages = 0;
    cr_assert_eq(cx_raw_expect_close(c, 5000, &messages), 1013);
    cr_assert_eq(messages, 0, "%d messages came before the close", messages);
    cx_raw_destroy(&c);
    char *log = cx_stack_log(stack, "worker0", "Mailbox full: closing the connection (1013)", 5000);
    cr_assert_not_null(log, "the worker did not log the close");
    cr_assert(record_has(log, "refused", "\"event\""), "%s", log);
    free(log);
    /* when the connection ends (after the nap), one record with its own count: the third, fourth and
     * fifth event, all for it; never the neighbour's id */
    log = cx_stack_log(stack, "worker0", "Dropped events: mailbox full", 20000);
    cr_assert_not_null(log, "the worker did not log the dropped events");
    char *record = line_with(log, "Dropped events: mailbox full");
    cr_assert(record_has(record, "conn", id), "%s", record);
    cr_assert(!record_has(record, "conn", other), "%s", record);
    cr_assert(record_has(record, "dropped", "3"), "%s", record);
    cr_assert(record_has(record, "mailbox_max", "2"), "%s", record);
    free(record);
    free(log);
    cr_assert_eq(dropped("mailbox_full"), 3);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "Dropped events: mailbox full"), 1);
    /* the neighbour was served all along */
    json_decref(cx_request(neighbour, "count", NULL, "count", 5000));
    free(id);
    free(other);
}

Test(events_overflow, unknown_and_invalid_events_are_counted_under_their_reasons_and_close_nothing)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    char *id = events_connection_id(c);
    /* an action the consumer does not know, an event its .events schema refuses (both taken by
     * evt_probe's loose consumer, so the publish API lets them through) */
    /* One at a time: the mailbox holds 2, and two events with the request behind them would fill it
     * under a slow build (TSan), which is the overflow the other tests are about, not this one. */
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"connection\": \"%s\", \"event\": {\"action\": \"tally\"}}", id));
    cr_assert_eq(dropped_reaches("unhandled", 1), 1);
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"connection\": \"%s\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": \"x\"}}}",
                               id));
    cr_assert_eq(dropped_reaches("invalid", 1), 1);
    json_decref(cx_request(c, "count", NULL, "count", 15000));   /* the connection still answers */
    cr_assert_eq(dropped("unhandled"), 1);
    cr_assert_eq(dropped("invalid"), 1);
    cr_assert_eq(dropped("mailbox_full"), 0);
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"connection\": \"%s\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": 6}}}", id));
    json_t *m = cx_receive_until_action(c, "announced", 15000);
    cr_assert_not_null(m);
    cr_assert_eq(events_int(json_object_get(m, "payload"), "n"), 6);
    json_decref(m);
    free(id);
}

Test(events_overflow, a_group_event_leaves_a_busy_connection_outside_the_group_alone)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_raw *busy = raw_client(stack, "/ws/evt_probe/feed/kitchen/", alice);
    cx_communicator *member = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", bob);
    char *id = raw_connection_id(busy);
    nap(busy, id, 6000);
    for (int n = 1; n <= 5; n++) {   /* one at a time: the member's own mailbox holds only 2 */
        json_decref(cx_api_publish(stack, "/api/broadcast",
                                   "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"announce\", \"payload\": {\"n\": %d}}}",
                                   n));
        json_t *m = cx_receive_until_action(member, "announced", 15000);
        cr_assert_not_null(m, "the member missed event %d", n);
        cr_assert_eq(events_int(json_object_get(m, "payload"), "n"), n);
        json_decref(m);
    }
    cr_assert_eq(dropped("mailbox_full"), 0, "events for another group filled the busy connection's mailbox");
    json_t *none = raw_next(busy, 1000);   /* it naps, and was never a recipient */
    cr_assert_null(none, "the busy connection got %s", none ? json_string_value(json_object_get(none, "action")) : "");
    cx_raw_destroy(&busy);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "Dropped events: mailbox full"), 0);
    free(id);
}

/* ------------------------------------------------------------ CHANX_EVENT_OVERFLOW=notify */

static const char *const notify_settings[] = { "CHANX_MAILBOX_MAX=2", "CHANX_EVENT_OVERFLOW=notify", NULL };
static void notify_setup(void)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    static char path[600];
    snprintf(path, sizeof path, "%s/test-plugins/evt_probe.so", bin);
    stack = cx_stack_start(&(cx_stack_options) {
        .plugin_files = (const char *[]) { path, NULL }, .env = notify_settings, .api = 1, .metrics = 1 });
}
TestSuite(events_overflow_notify, .init = notify_setup, .fini = teardown, .timeout = 90);

Test(events_overflow_notify, the_connection_stays_and_its_client_is_told_how_many_events_were_dropped_in_order)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_raw *c = raw_client(stack, "/ws/evt_probe/feed/lobby/", alice);
    char *id = raw_connection_id(c);
    nap(c, id, 6000);
    for (int n = 1; n <= 5; n++)   /* two fit, three are refused */
        json_decref(cx_api_publish(stack, "/api/send",
                                   "{\"connection\": \"%s\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": %d}}}",
                                   id, n));
    /* after the nap: the two it took, in order, then the error naming the three it lost */
    for (int n = 1; n <= 2; n++) {
        json_t *m = raw_next(c, 20000);
        cr_assert_not_null(m, "event %d of those the mailbox took never came", n);
        cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "announced");
        cr_assert_eq(events_int(json_object_get(m, "payload"), "n"), n);
        json_decref(m);
    }
    json_t *told = raw_next(c, 5000);
    cr_assert_not_null(told, "the client was not told");
    cr_assert_str_eq(json_string_value(json_object_get(told, "action")), "error");
    cr_assert_eq(events_int(json_object_get(told, "payload"), "dropped"), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(told, "payload"), "detail")),
                     "3 events were dropped: the connection's mailbox was full");
    json_decref(told);
    cr_assert_eq(dropped("mailbox_full"), 3);
    /* the connection stays and takes events again */
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"connection\": \"%s\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": 6}}}", id));
    json_t *m = raw_next(c, 15000);
    cr_assert_not_null(m);
    cr_assert_eq(events_int(json_object_get(m, "payload"), "n"), 6);
    json_decref(m);
    cx_raw_destroy(&c);
    free(id);
}

Test(events_overflow_notify, an_unknown_overflow_mode_stops_the_worker_with_the_value_named)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "CHANX_EVENT_OVERFLOW=silent CHANX_BROKER=tcp://127.0.0.1:1 timeout 20 %s/chanx-worker "
             "--plugins %s/test-plugins 2>&1", cx_test_bin(), cx_test_bin());
    int status = 0;
    char *out = cx_shell_output(cmd, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit status %d: %s", status, out);
    cr_assert(strstr(out, "CHANX_EVENT_OVERFLOW is 'silent': it must be close (the default) or notify"), "said: %s", out);
    free(out);
}

/* ------------------------------------------------------------ a burst, default mailbox */

static cx_stack *burst_stack;
static void burst_setup(void) { burst_stack = events_stack_start(1, NULL); }
static void burst_teardown(void) { cx_stack_stop(&burst_stack); }
TestSuite(events_burst, .init = burst_setup, .fini = burst_teardown, .timeout = 120);

#define BURST 2000
#define BATCH 1000   /* the publish API's most commands in one request */

Test(events_burst, a_burst_of_2000_events_to_a_slow_handler_all_arrive_or_the_client_is_closed_with_1013)
{
    int64_t alice = cx_db_create_user(burst_stack, "alice", 0);
    cx_raw *raw = raw_client(burst_stack, "/ws/evt_probe/feed/burst/", alice);
    size_t cap = (size_t) BATCH * 128 + 64;
    char *body = malloc(cap);
    for (int first = 1; first <= BURST; first += BATCH) {
        size_t len = (size_t) snprintf(body, cap, "{\"commands\": [");
        for (int n = first; n < first + BATCH; n++)
            len += (size_t) snprintf(body + len, cap - len,
                                     "%s{\"method\": \"broadcast\", \"params\": {\"groups\": [\"room_burst\"],"
                                     " \"event\": {\"action\": \"tick\", \"payload\": {\"n\": %d, \"ms\": 2}}}}",
                                     n == first ? "" : ", ", n);
        snprintf(body + len, cap - len, "]}");
        json_t *reply = NULL;
        cr_assert_eq(cx_api_post(burst_stack, "/api/batch", CX_TEST_API_KEY, body, &reply), 200);
        json_decref(reply);
    }
    free(body);
    /* what arrives is 1, 2, 3... with no hole: all of them, or a prefix and then 1013 */
    int next = 1, opcode = 0;
    char *text = NULL;
    size_t len = 0;
    while (next <= BURST && cx_raw_read_frame(raw, 20000, &opcode, NULL, &text, &len) == 1 && opcode != 8) {
        if (opcode == 1) {
            json_t *m = json_loads(text, 0, NULL);
            cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "ticked", "%s", text);
            int n = (int) events_int(json_object_get(m, "payload"), "n");
            cr_assert_eq(n, next, "event %d arrived where %d was due: a hole the client cannot see", n, next);
            next++;
            json_decref(m);
        }
        free(text);
        text = NULL;
    }
    if (next <= BURST) {
        cr_assert_eq(opcode, 8, "%d of %d events arrived and the connection stays open", next - 1, BURST);
        int code = text && len >= 2 ? ((unsigned char) text[0]) << 8 | (unsigned char) text[1] : 0;
        cr_assert_eq(code, 1013, "closed with %d after %d of %d events", code, next - 1, BURST);
    }
    free(text);
    cr_log_info("%d of %d events arrived%s", next - 1, BURST, next <= BURST ? ", then 1013" : "");
    cx_raw_destroy(&raw);
}
